-- One row counting policy writes (section written or reset), bumped in the same transaction as
-- the write. Replicas poll it to drop their cached policies when another one changed them.
-- (Mirrors crates/store-sqlite/migrations/0002_policy_version.sql.)
CREATE TABLE policy_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);

INSERT INTO policy_version (id, version) VALUES (1, 0);
