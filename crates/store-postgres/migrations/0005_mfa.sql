-- TOTP second factors: one per user, the secret sealed with the instance master key, the last
-- step accepted (replays are refused), and the hashes of unused recovery codes.
CREATE TABLE mfa_factors (
    org_id         TEXT   NOT NULL,
    user_id        TEXT   NOT NULL,
    secret_sealed  TEXT   NOT NULL,
    confirmed_at   BIGINT,
    last_step      BIGINT NOT NULL DEFAULT 0,
    recovery_codes TEXT   NOT NULL DEFAULT '[]',
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

-- How far a login got: `full`, `mfa_challenge` (a pending second factor) or `mfa_enroll_only`.
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
