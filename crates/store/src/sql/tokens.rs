//! Sessions and API keys: the two kinds of bearer credentials, both found by token hash.
//!
//! Invariants: token hashes are unique per table (`UNIQUE` columns → `Conflict`); a session's
//! `last_used_at` only moves forward (the comparison is in the `UPDATE` itself, so concurrent
//! touches cannot move it back: under READ COMMITTED a waiting `UPDATE` re-checks its `WHERE` on
//! the newest row version); deleting answers whether a row went, and the event is written only
//! then, in the same transaction. A login session opens only through a conditional `UPDATE` of
//! the user row (hash still current, not disabled), which also locks that row until commit.
//! The last instance key is never deleted (the instance rows are locked before counting). A
//! deleted API key bumps the policy version in its transaction (processes cache keys by token
//! hash until the version moves; an expired key needs none: its end is checked at every use).
//! Row writes come first, events last (see `events.rs`).

use crate::{ApiKey, EventDraft, InstanceKeyDeletion, LoginCompletion, LoginRecord, Page, Session};
use portcullis_model::Timestamp;

use super::counters::MAX_ATTEMPTS;
use super::error::DbResult;
use super::orgs::bump_policy_version;
use super::rows::{self, api_key_columns, session_columns};
use super::{SqlStore, WriteTx};

/// Ends a transaction that opened no session: commits what the counter transition wrote, or
/// rolls back when it wrote nothing.
async fn finish(tx: WriteTx, counted: bool) -> DbResult<()> {
    if counted {
        tx.commit().await
    } else {
        tx.rollback().await
    }
}

/// Inserts `session` inside `tx`.
async fn insert_session(tx: &mut WriteTx, session: &Session) -> DbResult<()> {
    sqlx::query(concat!(
        "INSERT INTO sessions (",
        session_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&session.id)
    .bind(&session.token_hash)
    .bind(session.org_id.as_str())
    .bind(&session.user_id)
    .bind(rows::ts_to_db(session.created_at)?)
    .bind(rows::ts_to_db(session.last_used_at)?)
    .bind(session.password_change_only)
    .bind(session.stage.as_str())
    .bind(session.client_ip.as_deref())
    .bind(session.user_agent.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes every session of one user of an organization inside `tx`; answers how many.
pub(crate) async fn delete_user_sessions(
    tx: &mut WriteTx,
    org_id: &str,
    user_id: &str,
) -> DbResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

impl SqlStore {
    // --- sessions

    /// `Store::create_session`.
    pub(crate) async fn create_session_impl(
        &self,
        session: &Session,
        events: Vec<EventDraft>,
    ) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        insert_session(&mut tx, session).await?;
        self.insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::open_login_session` and, with a reservation's completion, `Store::complete_login`:
    /// the completion runs first on its counter (under the row lock) and its change is kept
    /// whatever follows; the user row is updated only if the completion allows it, the verified
    /// hash is still current and the user not disabled; the session is inserted in the same
    /// transaction. A retryable failure runs the whole transaction again, like a counter
    /// transition.
    pub(crate) async fn open_login_session_impl(
        &self,
        mut completion: Option<(&str, LoginCompletion<'_>)>,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> DbResult<bool> {
        let mut attempt = 1;
        loop {
            match self
                .try_open_login_session(&mut completion, session, login, events.clone())
                .await
            {
                Err(err) if self.is_retryable(&err) && attempt < MAX_ATTEMPTS => attempt += 1,
                done => return done,
            }
        }
    }

    /// One attempt of [`SqlStore::open_login_session_impl`].
    async fn try_open_login_session(
        &self,
        completion: &mut Option<(&str, LoginCompletion<'_>)>,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let mut counted = false;
        if let Some((key, update)) = completion.as_mut() {
            let mut open = false;
            let (_, wrote) = self
                .transition(&mut tx, session.org_id.as_str(), key, &mut |state| {
                    let (change, may_open) = update(state);
                    open = may_open;
                    change
                })
                .await?;
            counted = wrote;
            if !open {
                return finish(tx, counted).await.map(|()| false);
            }
        }
        let done = sqlx::query(
            "UPDATE users SET last_login_at = $3, last_login_ip = $4, \
             password_hash = COALESCE($5, password_hash) \
             WHERE org_id = $1 AND id = $2 AND NOT disabled AND password_hash = $6 \
             AND ($7 OR password_expired_at IS NULL)",
        )
        .bind(session.org_id.as_str())
        .bind(&session.user_id)
        .bind(rows::ts_to_db(session.created_at)?)
        .bind(&login.ip)
        .bind(login.rehash.as_deref())
        .bind(&login.verified_hash)
        // A full session opens only while no administrator expired the password meanwhile.
        .bind(session.password_change_only)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return finish(tx, counted).await.map(|()| false);
        }
        insert_session(&mut tx, session).await?;
        self.insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `Store::find_session`.
    pub(crate) async fn find_session_impl(&self, token_hash: &str) -> DbResult<Option<Session>> {
        self.find(
            concat!(
                "SELECT ",
                session_columns!(),
                " FROM sessions WHERE token_hash = $1"
            ),
            &[token_hash],
            rows::session,
        )
        .await
    }

    /// `Store::touch_session`: one statement; a missing session is not an error.
    pub(crate) async fn touch_session_impl(&self, id: &str, at: Timestamp) -> DbResult<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE id = $1 AND last_used_at < $2")
            .bind(id)
            .bind(rows::ts_to_db(at)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `Store::delete_session`.
    pub(crate) async fn delete_session_impl(&self, id: &str, event: EventDraft) -> DbResult<bool> {
        self.delete_with_event("DELETE FROM sessions WHERE id = $1", &[id], event)
            .await
    }

    /// `Store::delete_user_session`.
    pub(crate) async fn delete_user_session_impl(
        &self,
        org_id: &str,
        user_id: &str,
        id: &str,
        event: EventDraft,
    ) -> DbResult<bool> {
        self.delete_with_event(
            "DELETE FROM sessions WHERE id = $1 AND org_id = $2 AND user_id = $3",
            &[id, org_id, user_id],
            event,
        )
        .await
    }

    /// `Store::end_user_sessions`.
    pub(crate) async fn end_user_sessions_impl(
        &self,
        org_id: &str,
        user_id: &str,
        except: Option<&str>,
        event: EventDraft,
    ) -> DbResult<u64> {
        // Session ids are never empty: "" keeps none.
        let delete =
            sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND user_id = $2 AND id <> $3")
                .bind(org_id)
                .bind(user_id)
                .bind(except.unwrap_or(""));
        self.write_counted(delete, event, "sessions").await
    }

    /// `Store::end_org_sessions`.
    pub(crate) async fn end_org_sessions_impl(
        &self,
        org_id: &str,
        except: Option<&str>,
        event: EventDraft,
    ) -> DbResult<u64> {
        let delete = sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND id <> $2")
            .bind(org_id)
            .bind(except.unwrap_or(""));
        self.write_counted(delete, event, "sessions").await
    }

    /// `Store::list_user_sessions`.
    pub(crate) async fn list_user_sessions_impl(
        &self,
        org_id: &str,
        user_id: &str,
        page: &Page,
    ) -> DbResult<Vec<Session>> {
        let select = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 AND org_id = $2 AND id > $3 ORDER BY id LIMIT $4"
        );
        self.page(select, &[user_id, org_id], page, rows::session)
            .await
    }

    // --- API keys

    /// `Store::create_api_key`.
    pub(crate) async fn create_api_key_impl(
        &self,
        key: &ApiKey,
        event: EventDraft,
    ) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!(
            "INSERT INTO api_keys (",
            api_key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&key.id)
        .bind(&key.token_hash)
        .bind(key.org_id.as_deref())
        .bind(key.user_id.as_deref())
        .bind(&key.name)
        .bind(rows::roles_to_db(&key.roles)?)
        .bind(rows::ts_to_db(key.created_at)?)
        .bind(rows::opt_ts_to_db(key.expires_at)?)
        .bind(key.sealed_secret.as_deref())
        .bind(key.parent_id.as_deref())
        .execute(&mut *tx)
        .await?;
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::find_api_key`.
    pub(crate) async fn find_api_key_impl(&self, token_hash: &str) -> DbResult<Option<ApiKey>> {
        self.find(
            concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE token_hash = $1"
            ),
            &[token_hash],
            rows::api_key,
        )
        .await
    }

    /// `Store::list_api_keys`.
    pub(crate) async fn list_api_keys_impl(
        &self,
        org_id: Option<&str>,
        page: &Page,
    ) -> DbResult<Vec<ApiKey>> {
        // Two statements rather than `org_id IS NOT DISTINCT FROM $1`, so that both lists use
        // the `api_keys_by_org` index.
        match org_id {
            Some(org_id) => {
                let select = concat!(
                    "SELECT ",
                    api_key_columns!(),
                    " FROM api_keys WHERE org_id = $1 AND id > $2 \
                     ORDER BY id LIMIT $3"
                );
                self.page(select, &[org_id], page, rows::api_key).await
            }
            None => {
                let select = concat!(
                    "SELECT ",
                    api_key_columns!(),
                    " FROM api_keys WHERE org_id IS NULL AND id > $1 \
                     ORDER BY id LIMIT $2"
                );
                self.page(select, &[], page, rows::api_key).await
            }
        }
    }

    /// `Store::list_user_api_keys`.
    pub(crate) async fn list_user_api_keys_impl(
        &self,
        org_id: &str,
        user_id: &str,
        page: &Page,
    ) -> DbResult<Vec<ApiKey>> {
        let select = concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE org_id = $1 AND user_id = $2 AND id > $3 \
             ORDER BY id LIMIT $4"
        );
        self.page(select, &[org_id, user_id], page, rows::api_key)
            .await
    }

    /// `Store::get_api_key`.
    pub(crate) async fn get_api_key_impl(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<ApiKey>> {
        self.find(
            concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE org_id = $1 AND id = $2"
            ),
            &[org_id, id],
            rows::api_key,
        )
        .await
    }

    /// `Store::get_instance_key`.
    pub(crate) async fn get_instance_key_impl(&self, id: &str) -> DbResult<Option<ApiKey>> {
        self.find(
            concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE org_id IS NULL AND id = $1"
            ),
            &[id],
            rows::api_key,
        )
        .await
    }

    /// `Store::delete_api_key`: only a key of that organization (never an instance key).
    pub(crate) async fn delete_api_key_impl(
        &self,
        org_id: &str,
        id: &str,
        event: EventDraft,
    ) -> DbResult<bool> {
        self.delete_with_event_bumping(
            "DELETE FROM api_keys WHERE org_id = $1 AND id = $2",
            &[org_id, id],
            event,
            true,
        )
        .await
    }

    /// `Store::has_instance_key`.
    pub(crate) async fn has_instance_key_impl(&self) -> DbResult<bool> {
        let row =
            sqlx::query("SELECT EXISTS (SELECT 1 FROM api_keys WHERE org_id IS NULL) AS present")
                .fetch_one(&self.pool)
                .await?;
        rows::flag(&row, "present")
    }

    /// `Store::delete_instance_key`: every instance key row is locked first (in id order, so
    /// concurrent deletions queue instead of deadlocking), then the remaining ones are counted
    /// in a fresh statement, which sees what a deletion committed meanwhile.
    pub(crate) async fn delete_instance_key_impl(
        &self,
        id: &str,
        event: EventDraft,
    ) -> DbResult<InstanceKeyDeletion> {
        let mut tx = self.write_tx().await?;
        sqlx::query(&self.locking("SELECT id FROM api_keys WHERE org_id IS NULL ORDER BY id"))
            .fetch_all(&mut *tx)
            .await?;
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM api_keys WHERE org_id IS NULL AND id = $1) AS present, \
             EXISTS (SELECT 1 FROM api_keys WHERE org_id IS NULL AND id <> $1 \
             AND parent_id IS NULL) AS others",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let outcome = if !rows::flag(&row, "present")? {
            InstanceKeyDeletion::NotFound
        } else if !rows::flag(&row, "others")? {
            InstanceKeyDeletion::LastKey
        } else {
            sqlx::query("DELETE FROM api_keys WHERE org_id IS NULL AND id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            bump_policy_version(&mut tx).await?;
            self.insert_event(&mut tx, event).await?;
            tx.commit().await?;
            return Ok(InstanceKeyDeletion::Deleted);
        };
        tx.rollback().await?;
        Ok(outcome)
    }
}

impl SqlStore {
    /// `Store::delete_expired_sessions`: one statement.
    pub(crate) async fn delete_expired_sessions_impl(
        &self,
        org_id: &str,
        created_before: Timestamp,
        idle_before: Option<Timestamp>,
    ) -> DbResult<u64> {
        let _turn = self.write_turn().await;
        let idle = idle_before.map(rows::ts_to_db).transpose()?;

        let done = sqlx::query(
            "DELETE FROM sessions WHERE org_id = $1 AND (created_at <= $2 \
             OR ($3 IS NOT NULL AND last_used_at <= $3))",
        )
        .bind(org_id)
        .bind(rows::ts_to_db(created_before)?)
        .bind(idle)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// `Store::delete_expired_api_keys`.
    pub(crate) async fn delete_expired_api_keys_impl(
        &self,
        org_id: &str,
        expired_by: Timestamp,
    ) -> DbResult<u64> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "DELETE FROM api_keys WHERE org_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2",
        )
        .bind(org_id)
        .bind(rows::ts_to_db(expired_by)?)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// `Store::delete_expired_issued_instance_keys`.
    pub(crate) async fn delete_expired_issued_instance_keys_impl(
        &self,
        expired_by: Timestamp,
    ) -> DbResult<u64> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "DELETE FROM api_keys WHERE org_id IS NULL AND parent_id IS NOT NULL \
             AND expires_at IS NOT NULL AND expires_at <= $1",
        )
        .bind(rows::ts_to_db(expired_by)?)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// `Store::try_lease`: one upsert that only takes a free, ended or own lease.
    pub(crate) async fn try_lease_impl(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> DbResult<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE leases.until <= $3 OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(rows::ts_to_db(now)?)
        .bind(rows::ts_to_db(until)?)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
