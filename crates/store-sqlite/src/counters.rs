//! Attempt counters (lockout keys, IP blocks): read-only loads and atomic transitions.
//!
//! Invariants:
//! - a counter changes only in [`SqliteStore::update_counter_impl`], in one transaction opened
//!   with `BEGIN IMMEDIATE`: the database write lock is held from the read to the commit, so
//!   concurrent transitions on any counter serialize exactly (no lost update);
//! - the state is stored as JSON keyed by (`org_id`, `key`), beside its due time (`due_at`,
//!   indexed for the sweep); a row exists only while the state differs from
//!   `CounterState::default()` (a transition back to the default deletes it);
//! - the transition's events are inserted in the same transaction as the state;
//! - a transition that changes nothing, answers no event and leaves the due time writes nothing;
//! - on SQLite busy/locked the whole transaction is retried (up to [`MAX_ATTEMPTS`] times), so the
//!   closure may run more than once — always on freshly loaded state.

use portcullis_engine::counter::CounterState;
use portcullis_model::Timestamp;
use portcullis_store::sql::{opt_ts_to_db, ts_from_db, ts_to_db};
use portcullis_store::{CounterUpdate, DueCounter};
use sqlx::{Row, SqliteConnection};

use crate::SqliteStore;
use crate::error::{DbError, DbResult};
use crate::events::insert_events;

/// Tries of one counter transition before a busy database is reported as unavailable (each try
/// already waits up to the connection's busy timeout).
const MAX_ATTEMPTS: u32 = 4;

/// A stored counter: its state and due time.
struct Stored {
    state: CounterState,
    due_at: Option<i64>,
}

/// The stored counter, or `None` if no row exists.
async fn load(conn: &mut SqliteConnection, org_id: &str, key: &str) -> DbResult<Option<Stored>> {
    let row = sqlx::query("SELECT state, due_at FROM counters WHERE org_id = ?1 AND key = ?2")
        .bind(org_id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let text = row.try_get::<String, _>("state")?;
            Ok(Some(Stored {
                state: serde_json::from_str(&text).map_err(DbError::corrupt)?,
                due_at: row.try_get("due_at")?,
            }))
        }
    }
}

impl SqliteStore {
    /// `Store::get_counter`.
    pub(crate) async fn get_counter_impl(&self, org_id: &str, key: &str) -> DbResult<CounterState> {
        let mut conn = self.pool.acquire().await?;
        Ok(load(&mut conn, org_id, key)
            .await?
            .map(|stored| stored.state)
            .unwrap_or_default())
    }

    /// `Store::due_counters`: a range of the `counters_by_due` index.
    pub(crate) async fn due_counters_impl(
        &self,
        org_id: &str,
        now: Timestamp,
        after: Option<&DueCounter>,
    ) -> DbResult<Vec<DueCounter>> {
        let (after_due, after_key) = match after {
            Some(a) => (Some(ts_to_db(a.due_at)?), Some(a.key.as_str())),
            None => (None, None),
        };
        let found = sqlx::query(
            "SELECT due_at, key FROM counters WHERE org_id = ?1 AND due_at IS NOT NULL \
             AND due_at <= ?2 AND (?3 IS NULL OR due_at > ?3 OR (due_at = ?3 AND key > ?4)) \
             ORDER BY due_at, key LIMIT ?5",
        )
        .bind(org_id)
        .bind(ts_to_db(now)?)
        .bind(after_due)
        .bind(after_key)
        .bind(i64::from(portcullis_store::MAX_PAGE))
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

    /// `Store::counter_keys`: a range scan of the primary key (`prefix` ≤ key < `prefix` + U+10FFFF).
    pub(crate) async fn counter_keys_impl(
        &self,
        org_id: &str,
        prefix: &str,
        after: Option<&str>,
    ) -> DbResult<Vec<String>> {
        let found = sqlx::query(
            "SELECT key FROM counters WHERE org_id = ?1 AND key >= ?2 AND key < ?3 \
             AND (?5 IS NULL OR key > ?5) ORDER BY key LIMIT ?4",
        )
        .bind(org_id)
        .bind(prefix)
        .bind(format!("{prefix}\u{10FFFF}"))
        .bind(i64::from(portcullis_store::MAX_PAGE))
        .bind(after)
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
                Err(err) if err.is_busy() && attempt < MAX_ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        org_id,
                        "counter transition met a busy database; retrying"
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
        let stored = load(&mut tx, org_id, key).await?;
        let before = stored.as_ref().map(|s| s.state.clone()).unwrap_or_default();
        let mut state = before.clone();
        let change = update(&mut state);
        let due_at = opt_ts_to_db(change.due_at)?;
        let same_due = stored.as_ref().is_none_or(|s| s.due_at == due_at);
        if state == before && change.events.is_empty() && same_due {
            tx.rollback().await?;
            return Ok(state);
        }
        if state == CounterState::default() {
            if stored.is_some() {
                sqlx::query("DELETE FROM counters WHERE org_id = ?1 AND key = ?2")
                    .bind(org_id)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
        } else if state != before || !same_due {
            sqlx::query(
                "INSERT INTO counters (org_id, key, state, due_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (org_id, key) DO UPDATE SET state = excluded.state, \
                 due_at = excluded.due_at",
            )
            .bind(org_id)
            .bind(key)
            .bind(serde_json::to_string(&state)?)
            .bind(due_at)
            .execute(&mut *tx)
            .await?;
        }
        insert_events(&mut tx, change.events).await?;
        tx.commit().await?;
        Ok(state)
    }
}
