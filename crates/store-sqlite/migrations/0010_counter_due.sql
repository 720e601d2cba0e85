-- Each counter keeps the instant at which time alone next changes it (a reservation expires, a
-- lock ends, the window rolls over, the quiet count is forgotten); NULL = never. A sweep reads
-- only the counters due, through the index, instead of every counter. Rows stored before this
-- migration are due at once: the first sweep visits them and writes their real due time.
ALTER TABLE counters ADD COLUMN due_at INTEGER;
UPDATE counters SET due_at = 0;
CREATE INDEX counters_by_due ON counters (org_id, due_at, key) WHERE due_at IS NOT NULL;
