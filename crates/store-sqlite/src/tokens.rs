//! Sessions and API keys: the two kinds of bearer credentials, both found by token hash.
//!
//! Invariants: token hashes are unique per table (`UNIQUE` columns → `Conflict`); a session's
//! `last_used_at` only moves forward (the comparison is in the `UPDATE` itself, so concurrent
//! touches cannot move it back); deleting answers whether a row went, and the event is written
//! only then, in the same transaction; the last instance key is never deleted.

use portcullis_model::Timestamp;
use portcullis_store::{
    ApiKey, EventDraft, InstanceKeyDeletion, LoginRecord, MAX_PAGE, Page, Session,
};
use sqlx::Row;

use crate::SqliteStore;
use crate::error::DbResult;
use crate::events::{insert_event, insert_events};
use crate::rows::{self, api_key_columns, session_columns};

impl SqliteStore {
    // --- sessions

    /// `Store::create_session`.
    pub(crate) async fn create_session_impl(
        &self,
        session: &Session,
        events: Vec<EventDraft>,
    ) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))
        .bind(&session.id)
        .bind(&session.token_hash)
        .bind(&session.org_id)
        .bind(&session.user_id)
        .bind(rows::ts_to_db(session.created_at)?)
        .bind(rows::ts_to_db(session.last_used_at)?)
        .bind(session.password_change_only)
        .bind(session.stage.as_str())
        .execute(&mut *tx)
        .await?;
        insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::open_login_session`: the user row is updated only if the verified hash is still
    /// current and the user not disabled; the session is inserted in the same transaction.
    pub(crate) async fn open_login_session_impl(
        &self,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE users SET last_login_at = ?3, last_login_ip = ?4, \
             password_hash = COALESCE(?5, password_hash) \
             WHERE org_id = ?1 AND id = ?2 AND disabled = 0 AND password_hash = ?6",
        )
        .bind(&session.org_id)
        .bind(&session.user_id)
        .bind(rows::ts_to_db(session.created_at)?)
        .bind(&login.ip)
        .bind(login.rehash.as_deref())
        .bind(&login.verified_hash)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))
        .bind(&session.id)
        .bind(&session.token_hash)
        .bind(&session.org_id)
        .bind(&session.user_id)
        .bind(rows::ts_to_db(session.created_at)?)
        .bind(rows::ts_to_db(session.last_used_at)?)
        .bind(session.password_change_only)
        .bind(session.stage.as_str())
        .execute(&mut *tx)
        .await?;
        insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `Store::find_session`.
    pub(crate) async fn find_session_impl(&self, token_hash: &str) -> DbResult<Option<Session>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE token_hash = ?1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        found.as_ref().map(rows::session).transpose()
    }

    /// `Store::touch_session`: one statement; a missing session is not an error.
    pub(crate) async fn touch_session_impl(&self, id: &str, at: Timestamp) -> DbResult<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE sessions SET last_used_at = ?2 WHERE id = ?1 AND last_used_at < ?2")
            .bind(id)
            .bind(rows::ts_to_db(at)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `Store::delete_session`.
    pub(crate) async fn delete_session_impl(&self, id: &str, event: EventDraft) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `Store::end_user_sessions`.
    pub(crate) async fn end_user_sessions_impl(
        &self,
        org_id: &str,
        user_id: &str,
        event: EventDraft,
    ) -> DbResult<u64> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE org_id = ?1 AND user_id = ?2")
            .bind(org_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let ended = done.rows_affected();
        if ended == 0 {
            tx.rollback().await?;
            return Ok(0);
        }
        let mut event = event;
        if let serde_json::Value::Object(fields) = &mut event.payload {
            fields.insert("sessions".into(), ended.into());
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// `Store::list_user_sessions`.
    pub(crate) async fn list_user_sessions_impl(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Vec<Session>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = ?1 AND org_id = ?2 ORDER BY id"
        ))
        .bind(user_id)
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(&found, rows::session)
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
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
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
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::find_api_key`.
    pub(crate) async fn find_api_key_impl(&self, token_hash: &str) -> DbResult<Option<ApiKey>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE token_hash = ?1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        found.as_ref().map(rows::api_key).transpose()
    }

    /// `Store::list_api_keys`.
    pub(crate) async fn list_api_keys_impl(
        &self,
        org_id: Option<&str>,
        page: &Page,
    ) -> DbResult<Vec<ApiKey>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE org_id IS ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
        ))
        .bind(org_id)
        .bind(page.after.as_deref())
        .bind(i64::from(page.limit.min(MAX_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&found, rows::api_key)
    }

    /// `Store::list_user_api_keys`.
    pub(crate) async fn list_user_api_keys_impl(
        &self,
        org_id: &str,
        user_id: &str,
        page: &Page,
    ) -> DbResult<Vec<ApiKey>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE org_id = ?1 AND user_id = ?2 AND (?3 IS NULL OR id > ?3) \
             ORDER BY id LIMIT ?4"
        ))
        .bind(org_id)
        .bind(user_id)
        .bind(page.after.as_deref())
        .bind(i64::from(page.limit.min(MAX_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        rows::all(&found, rows::api_key)
    }

    /// `Store::get_api_key`.
    pub(crate) async fn get_api_key_impl(
        &self,
        org_id: &str,
        id: &str,
    ) -> DbResult<Option<ApiKey>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE org_id = ?1 AND id = ?2"
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        found.as_ref().map(rows::api_key).transpose()
    }

    /// `Store::delete_api_key`: only a key of that organization (never an instance key).
    pub(crate) async fn delete_api_key_impl(
        &self,
        org_id: &str,
        id: &str,
        event: EventDraft,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM api_keys WHERE org_id = ?1 AND id = ?2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `Store::has_instance_key`.
    pub(crate) async fn has_instance_key_impl(&self) -> DbResult<bool> {
        let row =
            sqlx::query("SELECT EXISTS (SELECT 1 FROM api_keys WHERE org_id IS NULL) AS present")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get::<i64, _>("present")? != 0)
    }

    /// `Store::delete_instance_key`: the check and the deletion run under the database write
    /// lock (`BEGIN IMMEDIATE`), so two deletions cannot both see the other's key remaining.
    pub(crate) async fn delete_instance_key_impl(
        &self,
        id: &str,
        event: EventDraft,
    ) -> DbResult<InstanceKeyDeletion> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM api_keys WHERE org_id IS NULL AND id = ?1) AS present, \
             EXISTS (SELECT 1 FROM api_keys WHERE org_id IS NULL AND id <> ?1) AS others",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if row.try_get::<i64, _>("present")? == 0 {
            return Ok(InstanceKeyDeletion::NotFound);
        }
        if row.try_get::<i64, _>("others")? == 0 {
            return Ok(InstanceKeyDeletion::LastKey);
        }
        sqlx::query("DELETE FROM api_keys WHERE org_id IS NULL AND id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(InstanceKeyDeletion::Deleted)
    }
}

impl SqliteStore {
    /// `Store::delete_expired_sessions`: one statement.
    pub(crate) async fn delete_expired_sessions_impl(
        &self,
        org_id: &str,
        created_before: Timestamp,
        idle_before: Option<Timestamp>,
    ) -> DbResult<u64> {
        let idle = idle_before.map(rows::ts_to_db).transpose()?;
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "DELETE FROM sessions WHERE org_id = ?1 AND (created_at <= ?2 \
             OR (?3 IS NOT NULL AND last_used_at <= ?3))",
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
            "DELETE FROM api_keys WHERE org_id = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
        )
        .bind(org_id)
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
            "INSERT INTO leases (name, holder, until) VALUES (?1, ?2, ?4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE leases.until <= ?3 OR leases.holder = excluded.holder",
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
