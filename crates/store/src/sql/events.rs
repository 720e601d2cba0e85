//! The event log and the mail outbox: writing events inside a caller's transaction, appending
//! bare events, listing, and the outbox's claims.
//!
//! Invariants:
//! - events are only ever inserted through [`SqlStore::insert_events`], inside the transaction
//!   that carries the change they describe (the parameter is a [`WriteTx`], not a bare
//!   connection), with the mail they carry;
//! - sequences are instance-wide, strictly increasing, never reused (an identity or an
//!   `AUTOINCREMENT` key) **and drawn in commit order**: before inserting, the transaction runs
//!   the backend's `order_events` statement (PostgreSQL: a transaction-level advisory lock,
//!   released only once the commit is visible), or its writers are serialized anyway (SQLite).
//!   So a transaction that draws a smaller sequence has committed (or rolled back) before any
//!   other draws a larger one, and a reader paging with `after = <last seen>` never misses an
//!   event that commits later with a smaller sequence;
//! - to hold that instance-wide lock briefly and never deadlock on it, a transaction does all its
//!   other writes (and takes all its row locks) first and inserts its events last, just before
//!   committing: a holder of the events lock never waits for any other lock (the one exception,
//!   the section row of `write_sections`, is already locked by its own transaction);
//! - a rolled-back transaction may leave a gap in the sequences; gaps are allowed — the contract
//!   is "strictly increasing", not "dense";
//! - a mail is claimed by one statement that moves its next attempt, skipping mails another
//!   replica's claim holds, so two replicas never send one mail at once.

use portcullis_model::Timestamp;
use sqlx::Row;

use super::encoding::ts_to_db;
use super::error::{DbError, DbResult};
use super::rows::{self, event_columns, outbox_columns};
use super::{SqlStore, WriteTx};
use crate::{Event, EventDraft, MAX_PAGE, MailDraft, MailOutcome, OutboxMail, Page};

impl SqlStore {
    /// Orders the sequences (see the module's invariants), then inserts `drafts` in order, each
    /// with its mail; answers the sequence of the last one, `None` when there were none (then no
    /// lock is taken).
    pub(crate) async fn insert_events(
        &self,
        tx: &mut WriteTx,
        drafts: Vec<EventDraft>,
    ) -> DbResult<Option<u64>> {
        if drafts.is_empty() {
            return Ok(None);
        }
        if let Some(order) = self.backend().order_events() {
            sqlx::query(order).execute(&mut **tx).await?;
        }
        let mut last = None;
        for mut draft in drafts {
            let mail = draft.mail.take();
            let at = draft.at;
            let org_id = draft.org_id.clone();
            let row = sqlx::query(
                "INSERT INTO events (org_id, kind, actor, request_id, at, payload) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING sequence",
            )
            .bind(draft.org_id.as_deref())
            .bind(draft.kind)
            .bind(draft.actor)
            .bind(draft.request_id)
            .bind(rows::ts_to_db(draft.at)?)
            .bind(serde_json::to_string(&draft.payload)?)
            .fetch_one(&mut **tx)
            .await?;
            let sequence = rows::seq_from_db(row.try_get::<i64, _>("sequence")?)?;
            if let Some(mail) = mail {
                insert_mail(tx, org_id.as_deref(), sequence, at, &mail).await?;
            }
            last = Some(sequence);
        }
        Ok(last)
    }

    /// Inserts one event (see [`SqlStore::insert_events`]); answers its sequence.
    pub(crate) async fn insert_event(&self, tx: &mut WriteTx, draft: EventDraft) -> DbResult<u64> {
        let sequence = self.insert_events(tx, vec![draft]).await?;
        sequence.ok_or_else(|| DbError::corrupt("an inserted event has no sequence"))
    }
}

/// Whether a mail of `org_id` (`None`: the instance) already holds `key`. Two statements rather
/// than `org_id IS NOT DISTINCT FROM $1`, which PostgreSQL cannot seek in an index: it read the
/// whole `outbox_dedupe` index for the key.
async fn dedupe_key_taken(tx: &mut WriteTx, org_id: Option<&str>, key: &str) -> DbResult<bool> {
    let found = match org_id {
        Some(org_id) => {
            sqlx::query("SELECT 1 FROM outbox WHERE org_id = $1 AND dedupe_key = $2")
                .bind(org_id)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?
        }
        None => {
            sqlx::query("SELECT 1 FROM outbox WHERE org_id IS NULL AND dedupe_key = $1")
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?
        }
    };
    Ok(found.is_some())
}

/// Queues `mail`, caused by the event `sequence`, inside the event's transaction.
async fn insert_mail(
    tx: &mut WriteTx,
    org_id: Option<&str>,
    sequence: u64,
    at: Timestamp,
    mail: &MailDraft,
) -> DbResult<()> {
    let at = rows::ts_to_db(at)?;
    sqlx::query(
        "INSERT INTO outbox (org_id, event_sequence, kind, recipient, subject, body, \
         token_claims, dedupe_key, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
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
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqlStore {
    /// `Store::delete_events_before`: the oldest first, through the index `events_by_at`. The
    /// batch's last event is found first (the `limit`-th oldest, when there are more), then the
    /// events up to it go in one range delete; both statements read only the batch.
    /// (`DELETE … WHERE sequence IN (SELECT … LIMIT $2)` let PostgreSQL's generic plan join
    /// the batch against every event.)
    pub(crate) async fn delete_events_before_impl(
        &self,
        before: Timestamp,
        limit: u32,
    ) -> DbResult<u64> {
        if limit == 0 {
            return Ok(0);
        }
        let before = rows::ts_to_db(before)?;
        let mut tx = self.write_tx().await?;
        let last = sqlx::query(
            "SELECT at, sequence FROM events WHERE at < $1 ORDER BY at, sequence \
             LIMIT 1 OFFSET $2",
        )
        .bind(before)
        .bind(i64::from(limit) - 1)
        .fetch_optional(&mut *tx)
        .await?;
        let done = match last {
            Some(last) => {
                let (at, sequence): (i64, i64) = (last.try_get("at")?, last.try_get("sequence")?);
                sqlx::query("DELETE FROM events WHERE at <= $1 AND (at < $1 OR sequence <= $2)")
                    .bind(at)
                    .bind(sequence)
                    .execute(&mut *tx)
                    .await?
            }
            // Fewer than `limit` left: all of them.
            None => {
                sqlx::query("DELETE FROM events WHERE at < $1")
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
            }
        };
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// `Store::append_events`.
    pub(crate) async fn append_events_impl(&self, drafts: Vec<EventDraft>) -> DbResult<()> {
        if drafts.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        self.insert_events(&mut tx, drafts).await?;
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
            // Ordered by the whole index, `org_id` first: PostgreSQL does not take `org_id IS
            // NULL` as a constant, and sorted every instance event after the cursor instead.
            None => sqlx::query(concat!(
                "SELECT ",
                event_columns!(),
                " FROM events WHERE org_id IS NULL AND sequence > $1 \
                 ORDER BY org_id, sequence LIMIT $2"
            )),
        };
        let found = query
            .bind(rows::seq_to_db(after))
            .bind(i64::from(limit.min(MAX_PAGE)))
            .fetch_all(&self.pool)
            .await?;
        rows::all(&found, rows::event)
    }

    /// `Store::list_events_since`: a range of the index of an organization's events by time.
    pub(crate) async fn list_events_since_impl(
        &self,
        org_id: &str,
        kinds: &[&str],
        since: Timestamp,
        after: Option<(Timestamp, u64)>,
        limit: u32,
    ) -> DbResult<Vec<Event>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        // The cursor is always bound, and is where the seek starts: (at, sequence) after
        // (`from`, `after_seq`) is `at >= from AND (at > from OR sequence > after_seq)`, and the
        // first page starts after (`since`, 0), sequences being positive. A row value behind
        // `$n IS NULL OR` kept the cursor out of the seek, so every page read the window from
        // `since` again.
        let (from, after_seq) = match after {
            Some((at, sequence)) if at >= since => (at, rows::seq_to_db(sequence)),
            _ => (since, 0),
        };
        let list: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 5)).collect();
        let select = format!(
            "SELECT {} FROM events WHERE org_id = $1 AND at >= $2 \
             AND (at > $2 OR sequence > $3) AND kind IN ({}) \
             ORDER BY at, sequence LIMIT $4",
            event_columns!(),
            list.join(", ")
        );
        let mut query = sqlx::query(&select)
            .bind(org_id)
            .bind(ts_to_db(from)?)
            .bind(after_seq)
            .bind(i64::from(limit.min(MAX_PAGE)));
        for kind in kinds {
            query = query.bind(*kind);
        }
        let found = query.fetch_all(&self.pool).await?;
        rows::all(&found, rows::event)
    }

    /// `Store::outbox_backlog`: the mails the sender still has to deliver (the partial index of
    /// due mails holds exactly them).
    pub(crate) async fn outbox_backlog_impl(&self) -> DbResult<(u64, Option<Timestamp>)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest FROM outbox \
             WHERE sent_at IS NULL AND given_up_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        let waiting: i64 = row.try_get("waiting")?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok((
            u64::try_from(waiting).unwrap_or(0),
            oldest.map(super::encoding::ts_from_db).transpose()?,
        ))
    }

    /// `Store::queue_mail_once`. The unique index on `(org_id, dedupe_key)` settles a race: the
    /// second writer fails, and answers `false`.
    pub(crate) async fn queue_mail_once_impl(&self, draft: EventDraft) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        if let Some(key) = draft.mail.as_ref().and_then(|m| m.dedupe_key.as_deref())
            && dedupe_key_taken(&mut tx, draft.org_id.as_deref(), key).await?
        {
            tx.rollback().await?;
            return Ok(false);
        }
        match self.insert_events(&mut tx, vec![draft]).await {
            Ok(_) => {}
            Err(e) if e.is_dedupe_conflict() => {
                tx.rollback().await?;
                return Ok(false);
            }
            // A failed statement: dropping the transaction rolls it back.
            Err(e) => return Err(e),
        }
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
        if dedupe_key_taken(&mut tx, draft.org_id.as_deref(), dedupe_key).await? {
            draft.mail = None;
        }
        if let Some(mail) = draft.mail.as_mut() {
            mail.dedupe_key = Some(dedupe_key.to_owned());
        }
        let queued = draft.mail.is_some();
        let outcome = self.insert_events(&mut tx, vec![draft.clone()]).await;
        match outcome {
            Ok(_) => {
                tx.commit().await?;
                Ok(queued)
            }
            // A concurrent writer queued the same mail first: write the event alone.
            Err(e) if queued && e.is_dedupe_conflict() => {
                tx.rollback().await?;
                draft.mail = None;
                let mut tx = self.write_tx().await?;
                self.insert_events(&mut tx, vec![draft]).await?;
                tx.commit().await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
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
            " FROM outbox WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(org_id)
        .bind(after)
        .bind(i64::from(page.limit.min(MAX_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&found, rows::outbox_mail)
    }

    /// `Store::claim_mail`: the backend's `skip_locked`, so replicas claiming at once take
    /// different mails.
    pub(crate) async fn claim_mail_impl(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> DbResult<Vec<OutboxMail>> {
        let _turn = self.write_turn().await;
        let statement = format!(
            concat!(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2 WHERE id IN \
                 (SELECT id FROM outbox WHERE sent_at IS NULL AND given_up_at IS NULL \
                 AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $3{}) RETURNING ",
                outbox_columns!()
            ),
            self.backend().skip_locked()
        );
        let found = sqlx::query(&statement)
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
                    "UPDATE outbox SET sent_at = $2, last_error = NULL \
                     WHERE id = $1 AND sent_at IS NULL",
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
            "UPDATE outbox SET next_attempt_at = COALESCE($2, next_attempt_at), \
             given_up_at = $3, last_error = $4 \
             WHERE id = $1 AND attempts = $5 AND sent_at IS NULL AND given_up_at IS NULL",
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
