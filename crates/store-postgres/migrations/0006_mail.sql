-- Self-registered users that have not yet proved their email address.
ALTER TABLE users ADD COLUMN verification_pending BOOLEAN NOT NULL DEFAULT FALSE;

-- The mail outbox: each mail is written in the transaction of the event that causes it
-- (`event_sequence`), holds no secret (one-time links keep only their claims), and is claimed by
-- a sender that pushes `next_attempt_at` forward before it tries, so replicas never send one mail
-- at the same time and a mail whose sender died is tried again. A mail that can never be sent (a
-- permanent refusal, an expired link) is given up (`given_up_at`), never deleted.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          TEXT,
    event_sequence  BIGINT  NOT NULL,
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    token_claims    TEXT,
    dedupe_key      TEXT,
    created_at      BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    sent_at         BIGINT,
    given_up_at     BIGINT,
    last_error      TEXT
);

CREATE INDEX outbox_by_org ON outbox (org_id, id);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE sent_at IS NULL AND given_up_at IS NULL;
CREATE UNIQUE INDEX outbox_dedupe ON outbox (org_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
