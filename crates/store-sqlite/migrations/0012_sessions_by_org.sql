-- The sweep ends an organization's sessions past its policy's lifetimes with
-- `DELETE FROM sessions WHERE org_id = $1 AND (created_at <= $2 OR last_used_at <= $3)`, once per
-- organization and sweep. Without an index on `org_id` that statement read every session of
-- every organization, each time; with this one it reads the organization's own sessions, and
-- those created before the cut-off first.
CREATE INDEX sessions_by_org ON sessions (org_id, created_at);
