//! Attempt counters (lockout keys, IP blocks): read-only loads and atomic transitions.
//!
//! Invariants:
//! - a counter changes only in [`SqlStore::update_counter_impl`], in one write transaction that,
//!   on a backend with row locks, first locks the counter's row, inserting it with the default
//!   state when missing (`INSERT … ON CONFLICT … DO UPDATE … WHERE FALSE`, see [`lock`]; a
//!   concurrent inserter makes it wait for that transaction's outcome), then reads it with the
//!   backend's row lock (SQLite: the database write lock covers it, and the row is only read):
//!   the lock is held from the read to the commit, so concurrent
//!   transitions of one counter serialize exactly (no lost update), across processes and
//!   replicas, while on PostgreSQL transitions of different counters run in parallel;
//! - the state is stored as JSON keyed by (`org_id`, `key`), beside its due time (`due_at`,
//!   indexed for the sweep) and what lists it (`locked_until`, `login_key`, `label`; see
//!   `enforcement.rs`), all written by the same statement; a committed row exists only while the state differs from
//!   `CounterState::default()` (a transition back to the default — or one that leaves a fresh
//!   counter at the default — deletes the row);
//! - the transition's events are inserted in the same transaction as the state, after it (see
//!   `events.rs`);
//! - a transition that changes nothing, answers no event and leaves the due time writes nothing
//!   (its transaction, and the placeholder row it may have inserted, are rolled back);
//! - when the backend calls an error retryable (busy database, serialization failure,
//!   deadlock) the whole transaction is run again (up to [`MAX_ATTEMPTS`] times), so the
//!   closure may run more than once — always on freshly loaded state.

use super::encoding::{opt_ts_to_db, ts_from_db, ts_to_db};
use crate::{AttemptGate, CounterUpdate, DueCounter};
use portcullis_engine::counter::CounterState;
use portcullis_model::Timestamp;
use sqlx::{AnyConnection, Row};
use std::net::IpAddr;

use super::enforcement::{address_hex, locked_until};
use super::error::{DbError, DbResult};
use super::{SqlStore, WriteTx};

/// A denial lasting until lifted, as [`SqlStore::attempt_gate_impl`] orders and reads it.
const UNTIL_LIFTED: i64 = i64::MAX;

/// Tries of one counter transition before a retryable failure is reported as unavailable.
pub(crate) const MAX_ATTEMPTS: u32 = 4;

/// Decodes a stored state.
fn decode(text: &str) -> DbResult<CounterState> {
    serde_json::from_str(text).map_err(DbError::corrupt)
}

/// A stored counter: its state and due time.
struct Stored {
    state: CounterState,
    due_at: Option<i64>,
}

/// The stored counter, or `None` if no row exists; `lock` is the backend's row-lock suffix (the
/// row then stays locked until the end of the transaction `conn` is in) or `""`.
async fn load(
    conn: &mut AnyConnection,
    org_id: &str,
    key: &str,
    lock: &str,
) -> DbResult<Option<Stored>> {
    let statement =
        format!("SELECT state, due_at FROM counters WHERE org_id = $1 AND key = $2{lock}");
    let row = sqlx::query(&statement)
        .bind(org_id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| {
        Ok(Stored {
            state: decode(&row.try_get::<String, _>("state")?)?,
            due_at: row.try_get("due_at")?,
        })
    })
    .transpose()
}

/// Locks the row of (`org_id`, `key`) for the rest of the transaction `conn` is in — inserting
/// a placeholder with the default state when there is none (a transition that leaves the default
/// deletes it again or rolls back, so it is never committed as such) — and answers the state.
///
/// The insert's `ON CONFLICT DO UPDATE … WHERE FALSE` updates nothing but locks the conflicting
/// row (PostgreSQL locks every conflicting row of a `DO UPDATE`, whatever its `WHERE`; SQLite
/// holds the whole database already), and PostgreSQL guarantees that such an insert either
/// inserts or locks, even when a concurrent transaction deletes the row meanwhile. (`ON CONFLICT
/// DO NOTHING` then `SELECT … FOR UPDATE` leaves a gap between the two statements in which
/// another transition can delete the row, so under churn a transition could find no row again
/// and again.) Only a backend with row locks needs this; see `SqlStore::try_update_counter`.
async fn lock(
    conn: &mut AnyConnection,
    org_id: &str,
    key: &str,
    lock_rows: &str,
) -> DbResult<Stored> {
    sqlx::query(
        "INSERT INTO counters (org_id, key, state) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id, key) DO UPDATE SET state = EXCLUDED.state WHERE FALSE",
    )
    .bind(org_id)
    .bind(key)
    .bind(serde_json::to_string(&CounterState::default())?)
    .execute(&mut *conn)
    .await?;
    load(conn, org_id, key, lock_rows)
        .await?
        .ok_or_else(|| DbError::corrupt("a locked counter row vanished"))
}

impl SqlStore {
    /// `Store::get_counter`.
    pub(crate) async fn get_counter_impl(&self, org_id: &str, key: &str) -> DbResult<CounterState> {
        let mut conn = self.pool.acquire().await?;
        Ok(load(&mut conn, org_id, key, "")
            .await?
            .map(|stored| stored.state)
            .unwrap_or_default())
    }

    /// `Store::attempt_gate`: three scalar subqueries in one statement, each a lookup by key
    /// (the denials by their organization and address range, the latest-ending first; one
    /// lasting until lifted is encoded as the greatest end).
    pub(crate) async fn attempt_gate_impl(
        &self,
        org_id: &str,
        denial_of: Option<IpAddr>,
        now: Timestamp,
        keys: [Option<&str>; 2],
    ) -> DbResult<AttemptGate> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(until, $6) FROM ip_denials WHERE org_id = $1 \
             AND low <= $2 AND high >= $2 AND (until IS NULL OR until > $3) \
             ORDER BY COALESCE(until, $6) DESC LIMIT 1) AS denial, \
             (SELECT state FROM counters WHERE org_id = $1 AND key = $4) AS first, \
             (SELECT state FROM counters WHERE org_id = $1 AND key = $5) AS second",
        )
        .bind(org_id)
        .bind(denial_of.map(address_hex))
        .bind(ts_to_db(now)?)
        .bind(keys[0])
        .bind(keys[1])
        .bind(UNTIL_LIFTED)
        .fetch_one(&self.pool)
        .await?;
        let denial = match row.try_get::<Option<i64>, _>("denial")? {
            None => None,
            Some(UNTIL_LIFTED) => Some(None),
            Some(end) => Some(Some(ts_from_db(end)?)),
        };
        let state = |column: &str| -> DbResult<CounterState> {
            row.try_get::<Option<String>, _>(column)?
                .map(|text| decode(&text))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        Ok(AttemptGate {
            denial,
            counters: [state("first")?, state("second")?],
        })
    }

    /// `Store::due_counters`: a range of the `counters_by_due` index.
    pub(crate) async fn due_counters_impl(
        &self,
        org_id: &str,
        now: Timestamp,
        after: Option<&DueCounter>,
    ) -> DbResult<Vec<DueCounter>> {
        // The cursor is always bound (the first page starts after the least row value), so it
        // is where the index seek starts on every page.
        let (after_due, after_key) = match after {
            Some(a) => (ts_to_db(a.due_at)?, a.key.as_str()),
            None => (i64::MIN, ""),
        };
        let found = sqlx::query(
            "SELECT due_at, key FROM counters WHERE org_id = $1 AND due_at IS NOT NULL \
             AND due_at <= $2 AND (due_at, key) > ($3, $4) \
             ORDER BY due_at, key LIMIT $5",
        )
        .bind(org_id)
        .bind(ts_to_db(now)?)
        .bind(after_due)
        .bind(after_key)
        .bind(i64::from(crate::MAX_PAGE))
        .fetch_all(&self.pool)
        .await?;
        found
            .iter()
            .map(|row| {
                Ok(DueCounter {
                    due_at: ts_from_db(row.try_get("due_at")?)?,
                    key: row.try_get("key")?,
                })
            })
            .collect()
    }

    /// `Store::counter_keys`: a range scan of the primary key (`prefix` ≤ key < `prefix` +
    /// U+10FFFF, in the byte order of the `"C"` collation; no `LIKE`, so `%` and `_` in a prefix
    /// are plain characters).
    pub(crate) async fn counter_keys_impl(
        &self,
        org_id: &str,
        prefix: &str,
        after: Option<&str>,
    ) -> DbResult<Vec<String>> {
        let found = sqlx::query(
            "SELECT key FROM counters WHERE org_id = $1 AND key >= $2 AND key < $3 \
             AND key > $5 ORDER BY key LIMIT $4",
        )
        .bind(org_id)
        .bind(prefix)
        .bind(format!("{prefix}\u{10FFFF}"))
        .bind(i64::from(crate::MAX_PAGE))
        .bind(super::first_page_cursor(after))
        .fetch_all(&self.pool)
        .await?;
        found
            .iter()
            .map(|row| Ok(row.try_get::<String, _>("key")?))
            .collect()
    }

    /// `Store::update_counter`.
    pub(crate) async fn update_counter_impl(
        &self,
        org_id: &str,
        key: &str,
        update: CounterUpdate<'_>,
    ) -> DbResult<CounterState> {
        let mut attempt = 1;
        loop {
            match self.try_update_counter(org_id, key, &mut *update).await {
                Err(err) if self.is_retryable(&err) && attempt < MAX_ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        org_id,
                        "counter transition met a retryable database failure; retrying"
                    );
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    /// One attempt of a counter transition.
    async fn try_update_counter(
        &self,
        org_id: &str,
        key: &str,
        update: CounterUpdate<'_>,
    ) -> DbResult<CounterState> {
        let mut tx = self.write_tx().await?;
        let (state, wrote) = self.transition(&mut tx, org_id, key, update).await?;
        if wrote {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(state)
    }

    /// Runs `update` on the counter (`org_id`, `key`) inside the write transaction `tx` (the
    /// row locked first where the backend has row locks) and writes the new state and its
    /// events; answers the new state and whether anything was written (a transition that
    /// changes nothing, answers no event and leaves the due time writes nothing).
    pub(crate) async fn transition(
        &self,
        tx: &mut WriteTx,
        org_id: &str,
        key: &str,
        update: CounterUpdate<'_>,
    ) -> DbResult<(CounterState, bool)> {
        let lock_rows = self.backend().lock_rows();
        let stored = if lock_rows.is_empty() {
            // The write transaction holds the whole database: the row needs no lock of its own,
            // so a missing one is not inserted as a placeholder first.
            load(tx, org_id, key, "").await?.unwrap_or(Stored {
                state: CounterState::default(),
                due_at: None,
            })
        } else {
            lock(tx, org_id, key, lock_rows).await?
        };
        let before = stored.state;
        let mut state = before.clone();
        let change = update(&mut state);
        let due_at = opt_ts_to_db(change.due_at)?;
        let same_due = stored.due_at == due_at || before == CounterState::default();
        if state == before && change.events.is_empty() && same_due {
            if !lock_rows.is_empty() && before == CounterState::default() {
                // The placeholder row `lock` inserted must not outlive the transaction.
                sqlx::query("DELETE FROM counters WHERE org_id = $1 AND key = $2")
                    .bind(org_id)
                    .bind(key)
                    .execute(&mut **tx)
                    .await?;
            }
            return Ok((state, false));
        }
        if state == CounterState::default() {
            // Back to the default, or a placeholder that stays at the default: no row (deleting
            // a row that was never written deletes nothing).
            sqlx::query("DELETE FROM counters WHERE org_id = $1 AND key = $2")
                .bind(org_id)
                .bind(key)
                .execute(&mut **tx)
                .await?;
        } else if state != before || !same_due {
            // An upsert: the row may be new when the backend took no placeholder.
            sqlx::query(
                "INSERT INTO counters (org_id, key, state, due_at, locked_until, login_key, \
                 label) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (org_id, key) DO UPDATE SET state = EXCLUDED.state, \
                 due_at = EXCLUDED.due_at, locked_until = EXCLUDED.locked_until, \
                 login_key = COALESCE(EXCLUDED.login_key, counters.login_key), \
                 label = COALESCE(EXCLUDED.label, counters.label)",
            )
            .bind(org_id)
            .bind(key)
            .bind(serde_json::to_string(&state)?)
            .bind(due_at)
            .bind(locked_until(&state)?)
            .bind(change.login_key.as_deref())
            .bind(change.label.as_deref())
            .execute(&mut **tx)
            .await?;
        }
        self.insert_events(tx, change.events).await?;
        Ok((state, true))
    }
}
