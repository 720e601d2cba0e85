-- Enforcement state an administrator can list and act on (locks, blocked addresses).
--
-- Each counter keeps, beside its state, what listing it needs without decoding every state:
-- - `locked_until`: NULL when the state holds no lock, the lock's end (unix nanoseconds) when it
--   ends by itself, 9223372036854775807 when only an unlock ends it. It is an index, never a
--   decision: a lock whose end has passed stays listed here until its counter is settled, and
--   readers check the state itself;
-- - `login_key`: the normalized login name of a lockout counter (`password|…`, `otp|…`), NULL
--   for an address counter, so a user's locks are found by its login key;
-- - `label`: the login name as typed by the attempt that last changed the counter.
-- Rows holding a lock before this migration are marked locked until unlocked and made due at
-- once: the first sweep settles them and writes their real end. Their login key is read back
-- from the key (the login part, between the first and the last `|`, unescaped).
ALTER TABLE counters ADD COLUMN locked_until INTEGER;
ALTER TABLE counters ADD COLUMN login_key TEXT;
ALTER TABLE counters ADD COLUMN label TEXT;
UPDATE counters SET locked_until = 9223372036854775807, due_at = 0
WHERE state LIKE '%"lock":{%';
UPDATE counters
SET login_key = replace(replace(
      substr(key, instr(key, '|') + 1,
             length(rtrim(key, replace(key, '|', ''))) - instr(key, '|') - 1),
      '%7C', '|'), '%25', '%')
WHERE substr(key, 1, 9) = 'password|' OR substr(key, 1, 4) = 'otp|';
CREATE INDEX counters_locked ON counters (org_id, key) WHERE locked_until IS NOT NULL;
CREATE INDEX counters_locked_logins ON counters (org_id, login_key)
WHERE locked_until IS NOT NULL;

-- Addresses and networks an administrator blocked (a denylist), beside the counted blocks.
-- `network` is the entry's text (`192.0.2.7`, `10.0.0.0/8`, `2001:db8::/48`); `low` and `high`
-- are its first and last address as 32 lower-case hex digits of the IPv6 form (IPv4 mapped to
-- `::ffff:a.b.c.d`), so a containment test is two text comparisons. `until` NULL = permanent.
CREATE TABLE ip_denials (
    org_id     TEXT    NOT NULL,
    network    TEXT    NOT NULL,
    low        TEXT    NOT NULL,
    high       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    until      INTEGER,
    actor      TEXT    NOT NULL,
    PRIMARY KEY (org_id, network)
) STRICT, WITHOUT ROWID;

CREATE INDEX ip_denials_by_low ON ip_denials (org_id, low);

-- The attack summary reads one organization's events of a time window.
CREATE INDEX events_by_org_at ON events (org_id, at);
