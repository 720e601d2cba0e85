//! The event log: writing events inside a caller's transaction, appending bare events, listing.
//!
//! Invariants:
//! - events are only ever inserted through [`insert_events`], inside the transaction that carries
//!   the change they describe (the parameter is a [`PgTx`], not a bare connection);
//! - sequences are instance-wide, strictly increasing, never reused (`GENERATED ALWAYS AS
//!   IDENTITY`) **and allocated in commit order**: before inserting, [`insert_events`] takes the
//!   transaction-level advisory lock [`EVENT_LOCK`], which PostgreSQL releases only after the
//!   commit is visible to other sessions. Sequences are drawn only under that lock, so a
//!   transaction that draws a smaller sequence has committed (or rolled back) before any other
//!   draws a larger one, and a reader paging with `after = <last seen>` never misses an event
//!   that commits later with a smaller sequence;
//! - to hold that instance-wide lock briefly and never deadlock on it, a transaction does all its
//!   other writes (and takes all its row locks) first and inserts its events last, just before
//!   committing: a holder of [`EVENT_LOCK`] never waits for any other lock, so the lock only
//!   orders commits (the one exception, the section row of `write_section`, is already locked by
//!   its own transaction);
//! - a rolled-back transaction may leave a gap in the sequences (an identity is not
//!   transactional); gaps are allowed — the contract is "strictly increasing", not "dense".

use portcullis_store::{Event, EventDraft, MAX_PAGE};
use sqlx::Row;

use crate::error::DbResult;
use crate::rows::{self, event_columns};
use crate::{PgTx, PostgresStore};

/// The key of the transaction-level advisory lock under which event sequences are drawn
/// (`pg_advisory_xact_lock`; the bytes spell "portcEVT"). Advisory locks are per database, so
/// this only orders writers of the same portcullis database.
pub(crate) const EVENT_LOCK: i64 = 0x706f_7274_6345_5654;

/// Takes [`EVENT_LOCK`] (held until the transaction ends), then inserts `drafts` in order;
/// answers the sequence of the last one, `None` when there were none (then no lock is taken).
pub(crate) async fn insert_events(tx: &mut PgTx, drafts: Vec<EventDraft>) -> DbResult<Option<u64>> {
    if drafts.is_empty() {
        return Ok(None);
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(EVENT_LOCK)
        .execute(&mut **tx)
        .await?;
    let mut last = None;
    for draft in drafts {
        let row = sqlx::query(
            "INSERT INTO events (org_id, kind, actor, request_id, at, payload) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING sequence",
        )
        .bind(draft.org_id)
        .bind(draft.kind)
        .bind(draft.actor)
        .bind(draft.request_id)
        .bind(rows::ts_to_db(draft.at)?)
        .bind(serde_json::to_string(&draft.payload)?)
        .fetch_one(&mut **tx)
        .await?;
        last = Some(rows::seq_from_db(row.try_get::<i64, _>("sequence")?)?);
    }
    Ok(last)
}

/// Inserts one event (see [`insert_events`]); answers its sequence.
pub(crate) async fn insert_event(tx: &mut PgTx, draft: EventDraft) -> DbResult<u64> {
    let sequence = insert_events(tx, vec![draft]).await?;
    sequence.ok_or_else(|| crate::error::DbError::corrupt("an inserted event has no sequence"))
}

impl PostgresStore {
    /// `Store::append_events`.
    pub(crate) async fn append_events_impl(&self, drafts: Vec<EventDraft>) -> DbResult<()> {
        if drafts.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        insert_events(&mut tx, drafts).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::list_events`. Two statements rather than `org_id IS NOT DISTINCT FROM $1`, so that
    /// both streams use the `events_by_org` index.
    pub(crate) async fn list_events_impl(
        &self,
        org_id: Option<&str>,
        after: u64,
        limit: u32,
    ) -> DbResult<Vec<Event>> {
        let query = match org_id {
            Some(org_id) => sqlx::query(concat!(
                "SELECT ",
                event_columns!(),
                " FROM events WHERE org_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3"
            ))
            .bind(org_id),
            None => sqlx::query(concat!(
                "SELECT ",
                event_columns!(),
                " FROM events WHERE org_id IS NULL AND sequence > $1 ORDER BY sequence LIMIT $2"
            )),
        };
        let found = query
            .bind(rows::seq_to_db(after))
            .bind(i64::from(limit.min(MAX_PAGE)))
            .fetch_all(&self.pool)
            .await?;
        rows::all(&found, rows::event)
    }
}
