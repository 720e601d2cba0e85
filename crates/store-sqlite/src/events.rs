//! The event log: writing events inside a caller's transaction, appending bare events, listing.
//!
//! Invariants: events are only ever inserted through [`insert_events`], on the connection of the
//! transaction that carries the change they describe; `events.sequence` is an
//! `INTEGER PRIMARY KEY AUTOINCREMENT`, so sequences are instance-wide, strictly increasing and
//! never reused (writers are serialized by `BEGIN IMMEDIATE`, so commit order = sequence order).

use portcullis_store::{Event, EventDraft, MAX_PAGE};
use sqlx::SqliteConnection;

use crate::SqliteStore;
use crate::error::DbResult;
use crate::rows::{self, event_columns};

/// Inserts `drafts` in order on `conn` (inside the caller's transaction); answers the sequence of
/// the last one, `None` when there were none.
pub(crate) async fn insert_events(
    conn: &mut SqliteConnection,
    drafts: Vec<EventDraft>,
) -> DbResult<Option<u64>> {
    let mut last = None;
    for draft in drafts {
        let done = sqlx::query(
            "INSERT INTO events (org_id, kind, actor, request_id, at, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(draft.org_id)
        .bind(draft.kind)
        .bind(draft.actor)
        .bind(draft.request_id)
        .bind(rows::ts_to_db(draft.at)?)
        .bind(serde_json::to_string(&draft.payload)?)
        .execute(&mut *conn)
        .await?;
        last = Some(rows::seq_from_db(done.last_insert_rowid())?);
    }
    Ok(last)
}

/// Inserts one event; answers its sequence.
pub(crate) async fn insert_event(conn: &mut SqliteConnection, draft: EventDraft) -> DbResult<u64> {
    let sequence = insert_events(conn, vec![draft]).await?;
    sequence.ok_or_else(|| crate::error::DbError::corrupt("an inserted event has no sequence"))
}

impl SqliteStore {
    /// `Store::append_events`.
    pub(crate) async fn append_events_impl(&self, drafts: Vec<EventDraft>) -> DbResult<()> {
        if drafts.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        insert_events(&mut tx, drafts).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::list_events`.
    pub(crate) async fn list_events_impl(
        &self,
        org_id: Option<&str>,
        after: u64,
        limit: u32,
    ) -> DbResult<Vec<Event>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE org_id IS ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3"
        ))
        .bind(org_id)
        .bind(rows::seq_to_db(after))
        .bind(i64::from(limit.min(MAX_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&found, rows::event)
    }
}
