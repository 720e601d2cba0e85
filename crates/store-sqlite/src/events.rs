//! The event log: writing events inside a caller's transaction, appending bare events, listing.
//!
//! Invariants: events are only ever inserted through [`insert_events`], on the connection of the
//! transaction that carries the change they describe; `events.sequence` is an
//! `INTEGER PRIMARY KEY AUTOINCREMENT`, so sequences are instance-wide, strictly increasing and
//! never reused (writers are serialized by `BEGIN IMMEDIATE`, so commit order = sequence order).

use portcullis_model::Timestamp;
use portcullis_store::{Event, EventDraft, MAX_PAGE, MailDraft, MailOutcome, OutboxMail, Page};
use sqlx::SqliteConnection;

use crate::SqliteStore;
use crate::error::DbResult;
use crate::rows::{self, event_columns, outbox_columns};

/// Inserts `drafts` in order on `conn` (inside the caller's transaction); answers the sequence of
/// the last one, `None` when there were none.
pub(crate) async fn insert_events(
    conn: &mut SqliteConnection,
    drafts: Vec<EventDraft>,
) -> DbResult<Option<u64>> {
    let mut last = None;
    for mut draft in drafts {
        let mail = draft.mail.take();
        let at = draft.at;
        let org_id = draft.org_id.clone();
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
        let sequence = rows::seq_from_db(done.last_insert_rowid())?;
        if let Some(mail) = mail {
            insert_mail(conn, org_id.as_deref(), sequence, at, &mail).await?;
        }
        last = Some(sequence);
    }
    Ok(last)
}

/// Queues `mail`, caused by the event `sequence`, on `conn` (inside the event's transaction).
async fn insert_mail(
    conn: &mut SqliteConnection,
    org_id: Option<&str>,
    sequence: u64,
    at: Timestamp,
    mail: &MailDraft,
) -> DbResult<()> {
    let at = rows::ts_to_db(at)?;
    sqlx::query(
        "INSERT INTO outbox (org_id, event_sequence, kind, recipient, subject, body, \
         token_claims, dedupe_key, created_at, next_attempt_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )
    .bind(org_id)
    .bind(rows::seq_to_db(sequence))
    .bind(&mail.kind)
    .bind(&mail.recipient)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(
        mail.token_claims
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    )
    .bind(mail.dedupe_key.as_deref())
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts one event; answers its sequence.
pub(crate) async fn insert_event(conn: &mut SqliteConnection, draft: EventDraft) -> DbResult<u64> {
    let sequence = insert_events(conn, vec![draft]).await?;
    sequence.ok_or_else(|| crate::error::DbError::corrupt("an inserted event has no sequence"))
}

impl SqliteStore {
    /// `Store::delete_events_before`: one statement, the oldest first (index `events_by_at`).
    pub(crate) async fn delete_events_before_impl(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> DbResult<u64> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "DELETE FROM events WHERE sequence IN \
             (SELECT sequence FROM events WHERE at < ?1 ORDER BY at, sequence LIMIT ?2)",
        )
        .bind(rows::ts_to_db(before)?)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

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

    /// `Store::queue_mail_once`.
    pub(crate) async fn queue_mail_once_impl(&self, draft: EventDraft) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        if let Some(key) = draft.mail.as_ref().and_then(|m| m.dedupe_key.as_deref()) {
            let taken = sqlx::query("SELECT 1 FROM outbox WHERE org_id IS ?1 AND dedupe_key = ?2")
                .bind(draft.org_id.as_deref())
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Ok(false);
            }
        }
        insert_events(&mut tx, vec![draft]).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `Store::append_event_mail_once`: one transaction that reads the dedupe key and writes
    /// the event, with its mail unless the key is taken.
    pub(crate) async fn append_event_mail_once_impl(
        &self,
        mut draft: EventDraft,
        dedupe_key: &str,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        // The key is read in every case, mail or not: the same statements either way.
        let taken = sqlx::query("SELECT 1 FROM outbox WHERE org_id IS ?1 AND dedupe_key = ?2")
            .bind(draft.org_id.as_deref())
            .bind(dedupe_key)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            draft.mail = None;
        }
        if let Some(mail) = draft.mail.as_mut() {
            mail.dedupe_key = Some(dedupe_key.to_owned());
        }
        let queued = draft.mail.is_some();
        insert_events(&mut tx, vec![draft]).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// `Store::list_outbox`.
    pub(crate) async fn list_outbox_impl(
        &self,
        org_id: &str,
        page: &Page,
    ) -> DbResult<Vec<OutboxMail>> {
        let after = rows::seq_to_db(page.after_number().unwrap_or(u64::MAX));
        let found = sqlx::query(concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE org_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ))
        .bind(org_id)
        .bind(after)
        .bind(i64::from(page.limit.min(MAX_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&found, rows::outbox_mail)
    }

    /// `Store::claim_mail`.
    pub(crate) async fn claim_mail_impl(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> DbResult<Vec<OutboxMail>> {
        let _turn = self.write_turn().await;
        let found = sqlx::query(concat!(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id IN \
             (SELECT id FROM outbox WHERE sent_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= ?1 \
              ORDER BY next_attempt_at, id LIMIT ?3) RETURNING ",
            outbox_columns!()
        ))
        .bind(rows::ts_to_db(now)?)
        .bind(rows::ts_to_db(until)?)
        .bind(i64::from(limit.min(MAX_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = rows::all(&found, rows::outbox_mail)?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    /// `Store::finish_mail`. A failure or a giving-up is one statement: it moves the next
    /// attempt or marks the mail given up, for the claim that made the attempt only.
    pub(crate) async fn finish_mail_impl(
        &self,
        id: u64,
        attempt: u32,
        outcome: &MailOutcome,
    ) -> DbResult<()> {
        let _turn = self.write_turn().await;
        let (retry_at, given_up_at, error) = match outcome {
            MailOutcome::Sent(at) => {
                sqlx::query(
                    "UPDATE outbox SET sent_at = ?2, last_error = NULL \
                     WHERE id = ?1 AND sent_at IS NULL",
                )
                .bind(rows::seq_to_db(id))
                .bind(rows::ts_to_db(*at)?)
                .execute(&self.pool)
                .await?;
                return Ok(());
            }
            MailOutcome::Failed { retry_at, error } => (Some(*retry_at), None, error),
            MailOutcome::GaveUp { at, error } => (None, Some(*at), error),
        };
        sqlx::query(
            "UPDATE outbox SET next_attempt_at = COALESCE(?2, next_attempt_at), \
             given_up_at = ?3, last_error = ?4 \
             WHERE id = ?1 AND attempts = ?5 AND sent_at IS NULL AND given_up_at IS NULL",
        )
        .bind(rows::seq_to_db(id))
        .bind(rows::opt_ts_to_db(retry_at)?)
        .bind(rows::opt_ts_to_db(given_up_at)?)
        .bind(error.as_str())
        .bind(i64::from(attempt))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
