-- portcullis: initial schema (SQLite).
--
-- Conventions (the adapter's `rows.rs` decodes exactly these):
-- - timestamps are INTEGER unix nanoseconds, UTC;
-- - booleans are INTEGER 0/1;
-- - role lists, password history, section values, event payloads and counter states are JSON text;
-- - `org_id` NULL means "instance" (events, API keys); sections use `owner` = '' for the instance
--   defaults, because organization ids are never empty and a primary key cannot hold NULL;
-- - no foreign keys between tables: the store does not impose an order of creation beyond what
--   the trait documents (deleting a user deletes its sessions and keys explicitly).

CREATE TABLE orgs (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- The instance-wide event log. AUTOINCREMENT: a sequence is never reused.
CREATE TABLE events (
    sequence   INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     TEXT,
    kind       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    request_id TEXT,
    at         INTEGER NOT NULL,
    payload    TEXT    NOT NULL
) STRICT;

CREATE INDEX events_by_org ON events (org_id, sequence);

-- Policy sections: instance defaults (owner = '') and organizations' custom copies.
CREATE TABLE sections (
    owner      TEXT    NOT NULL,
    section    TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    sequence   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (owner, section)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
    id                    TEXT    NOT NULL PRIMARY KEY,
    org_id                TEXT    NOT NULL,
    login                 TEXT    NOT NULL,
    login_key             TEXT    NOT NULL,
    email                 TEXT,
    display_name          TEXT,
    source                TEXT,
    roles                 TEXT    NOT NULL,
    disabled              INTEGER NOT NULL,
    password_hash         TEXT,
    password_history      TEXT    NOT NULL,
    password_changed_at   INTEGER,
    password_set_by_admin INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    last_login_at         INTEGER,
    last_login_ip         TEXT
) STRICT;

CREATE UNIQUE INDEX users_by_login ON users (org_id, login_key);
CREATE INDEX users_by_org ON users (org_id, id);

-- Attempt counters (lockout keys, IP blocks); a row exists only while its state is not the
-- default one.
CREATE TABLE counters (
    org_id TEXT NOT NULL,
    key    TEXT NOT NULL,
    state  TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    id                   TEXT    NOT NULL PRIMARY KEY,
    token_hash           TEXT    NOT NULL UNIQUE,
    org_id               TEXT    NOT NULL,
    user_id              TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    last_used_at         INTEGER NOT NULL,
    password_change_only INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_by_user ON sessions (user_id, id);

CREATE TABLE api_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    org_id     TEXT,
    user_id    TEXT,
    name       TEXT    NOT NULL,
    roles      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
) STRICT;

CREATE INDEX api_keys_by_org ON api_keys (org_id, id);
CREATE INDEX api_keys_by_user ON api_keys (user_id);
