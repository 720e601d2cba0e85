//! Attempt counters (lockout keys, IP blocks): read-only loads and atomic transitions.
//!
//! Invariants:
//! - a counter changes only in [`SqliteStore::update_counter_impl`], in one transaction opened
//!   with `BEGIN IMMEDIATE`: the database write lock is held from the read to the commit, so
//!   concurrent transitions on any counter serialize exactly (no lost update);
//! - the state is stored as JSON keyed by (`org_id`, `key`); a row exists only while the state
//!   differs from `CounterState::default()` (a transition back to the default deletes it);
//! - the transition's events are inserted in the same transaction as the state;
//! - a transition that changes nothing and answers no event writes nothing;
//! - on SQLite busy/locked the whole transaction is retried (up to [`MAX_ATTEMPTS`] times), so the
//!   closure may run more than once — always on freshly loaded state.

use portcullis_engine::counter::CounterState;
use portcullis_store::CounterUpdate;
use sqlx::{Row, SqliteConnection};

use crate::SqliteStore;
use crate::error::{DbError, DbResult};
use crate::events::insert_events;

/// Tries of one counter transition before a busy database is reported as unavailable (each try
/// already waits up to the connection's busy timeout).
const MAX_ATTEMPTS: u32 = 4;

/// The stored state of a counter, or `None` if no row exists.
async fn load(
    conn: &mut SqliteConnection,
    org_id: &str,
    key: &str,
) -> DbResult<Option<CounterState>> {
    let row = sqlx::query("SELECT state FROM counters WHERE org_id = ?1 AND key = ?2")
        .bind(org_id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let text = row.try_get::<String, _>("state")?;
            serde_json::from_str(&text)
                .map(Some)
                .map_err(DbError::corrupt)
        }
    }
}

impl SqliteStore {
    /// `Store::get_counter`.
    pub(crate) async fn get_counter_impl(&self, org_id: &str, key: &str) -> DbResult<CounterState> {
        let mut conn = self.pool.acquire().await?;
        Ok(load(&mut conn, org_id, key).await?.unwrap_or_default())
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
        let before = load(&mut tx, org_id, key).await?.unwrap_or_default();
        let mut state = before.clone();
        let events = update(&mut state);
        if state == before && events.is_empty() {
            tx.rollback().await?;
            return Ok(state);
        }
        if state != before {
            if state == CounterState::default() {
                sqlx::query("DELETE FROM counters WHERE org_id = ?1 AND key = ?2")
                    .bind(org_id)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(
                    "INSERT INTO counters (org_id, key, state) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (org_id, key) DO UPDATE SET state = excluded.state",
                )
                .bind(org_id)
                .bind(key)
                .bind(serde_json::to_string(&state)?)
                .execute(&mut *tx)
                .await?;
            }
        }
        insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(state)
    }
}
