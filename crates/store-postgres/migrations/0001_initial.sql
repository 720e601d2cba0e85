-- portcullis: initial schema (PostgreSQL). Same tables and columns as the SQLite schema
-- (crates/store-sqlite/migrations/0001_initial.sql), with PostgreSQL types.
--
-- Conventions (the adapter's `rows.rs` decodes exactly these):
-- - timestamps are BIGINT unix nanoseconds, UTC (TIMESTAMPTZ keeps only microseconds, and the
--   store must read back exactly what it was given);
-- - booleans are BOOLEAN;
-- - role lists, password history, section values, event payloads and counter states are JSON
--   text (TEXT, not JSONB: the text written is the text read back, and JSON strings may hold
--   "\u0000", which JSONB refuses);
-- - keys (ids, organization ids, login keys, token hashes, counter keys, section names) are
--   `COLLATE "C"`: byte order, which for UTF-8 is code point order, like SQLite's BINARY
--   collation and Rust's `str` ordering, whatever the database's default collation — paging
--   cursors (`id > $after ORDER BY id`) and the counter key prefix range depend on it;
-- - `org_id` NULL means "instance" (events, API keys); sections use `owner` = '' for the instance
--   defaults, because organization ids are never empty and a primary key cannot hold NULL;
-- - no foreign keys between tables: the store does not impose an order of creation beyond what
--   the trait documents (deleting a user deletes its sessions and keys explicitly);
-- - unique constraints keep PostgreSQL's default names (`<table>_pkey`, `<table>_<column>_key`)
--   or the index names below: `error.rs` names the conflicting key from them.

CREATE TABLE orgs (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT             NOT NULL,
    created_at BIGINT           NOT NULL
);

-- The instance-wide event log. An identity never hands out a value twice; the adapter inserts
-- events only under a transaction-level advisory lock held until commit, so sequences also grow
-- in commit order (see `events.rs`).
CREATE TABLE events (
    sequence   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     TEXT COLLATE "C",
    kind       TEXT   NOT NULL,
    actor      TEXT   NOT NULL,
    request_id TEXT,
    at         BIGINT NOT NULL,
    payload    TEXT   NOT NULL
);

CREATE INDEX events_by_org ON events (org_id, sequence);

-- Policy sections: instance defaults (owner = '') and organizations' custom copies.
CREATE TABLE sections (
    owner      TEXT COLLATE "C" NOT NULL,
    section    TEXT COLLATE "C" NOT NULL,
    value      TEXT             NOT NULL,
    sequence   BIGINT           NOT NULL,
    created_at BIGINT           NOT NULL,
    changed_at BIGINT           NOT NULL,
    PRIMARY KEY (owner, section)
);

CREATE TABLE users (
    id                    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id                TEXT COLLATE "C" NOT NULL,
    login                 TEXT             NOT NULL,
    login_key             TEXT COLLATE "C" NOT NULL,
    email                 TEXT,
    display_name          TEXT,
    source                TEXT,
    roles                 TEXT             NOT NULL,
    disabled              BOOLEAN          NOT NULL,
    password_hash         TEXT,
    password_history      TEXT             NOT NULL,
    password_changed_at   BIGINT,
    password_set_by_admin BOOLEAN          NOT NULL,
    created_at            BIGINT           NOT NULL,
    updated_at            BIGINT           NOT NULL,
    last_login_at         BIGINT,
    last_login_ip         TEXT
);

CREATE UNIQUE INDEX users_by_login ON users (org_id, login_key);
CREATE INDEX users_by_org ON users (org_id, id);

-- Attempt counters (lockout keys, IP blocks); a committed row exists only while its state is not
-- the default one.
CREATE TABLE counters (
    org_id TEXT COLLATE "C" NOT NULL,
    key    TEXT COLLATE "C" NOT NULL,
    state  TEXT             NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE TABLE sessions (
    id                   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    token_hash           TEXT COLLATE "C" NOT NULL UNIQUE,
    org_id               TEXT COLLATE "C" NOT NULL,
    user_id              TEXT COLLATE "C" NOT NULL,
    created_at           BIGINT           NOT NULL,
    last_used_at         BIGINT           NOT NULL,
    password_change_only BOOLEAN          NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id, id);

CREATE TABLE api_keys (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    org_id     TEXT COLLATE "C",
    user_id    TEXT COLLATE "C",
    name       TEXT             NOT NULL,
    roles      TEXT             NOT NULL,
    created_at BIGINT           NOT NULL,
    expires_at BIGINT
);

CREATE INDEX api_keys_by_org ON api_keys (org_id, id);
CREATE INDEX api_keys_by_user ON api_keys (user_id);
