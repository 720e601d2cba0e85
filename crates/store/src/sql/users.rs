//! Users: creation, lookups, profile and password changes, login records, deletion.
//!
//! Invariants: every lookup is keyed by organization (`org_id = $1 AND id = $2`); `(org_id,
//! login_key)` is unique (index `users_by_login` → `Conflict("login")`); a password change locks
//! the user row (`FOR UPDATE`) before reading the current hash and history, pushes the old hash
//! to the front of the history and cuts it, in the same transaction as the session purge and its
//! events (two concurrent changes serialize; neither loses the other's hash); deleting a user
//! deletes its sessions and API keys in the same transaction. Row writes come first, events
//! last (see `events.rs`).

use crate::{
    EmailConfirmation, EventDraft, ExpiryTarget, Page, PasswordUpdate, StoreError, User,
    UserProfile, email_key,
};
use portcullis_model::Timestamp;
use sqlx::Row;

use super::SqlStore;
use super::error::DbResult;
use super::rows::{self, user_columns};
use super::tokens::delete_user_sessions;

impl SqlStore {
    /// `Store::create_user`.
    pub(crate) async fn create_user_impl(&self, user: &User, event: EventDraft) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(concat!(
            "INSERT INTO users (",
            user_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ))
        .bind(&user.id)
        .bind(user.org_id.as_str())
        .bind(&user.login)
        .bind(&user.login_key)
        .bind(user.email.as_deref())
        .bind(user.display_name.as_deref())
        .bind(user.source.as_deref())
        .bind(rows::roles_to_db(&user.roles)?)
        .bind(user.disabled)
        .bind(user.password_hash.as_deref())
        .bind(rows::strings_to_db(&user.password_history)?)
        .bind(rows::opt_ts_to_db(user.password_changed_at)?)
        .bind(user.password_set_by_admin)
        .bind(rows::ts_to_db(user.created_at)?)
        .bind(rows::ts_to_db(user.updated_at)?)
        .bind(rows::opt_ts_to_db(user.last_login_at)?)
        .bind(user.last_login_ip.as_deref())
        .bind(user.verification_pending)
        .bind(rows::opt_ts_to_db(user.password_expired_at)?)
        .execute(&mut *tx)
        .await?;
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::get_user`.
    pub(crate) async fn get_user_impl(&self, org_id: &str, id: &str) -> DbResult<Option<User>> {
        self.find(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE org_id = $1 AND id = $2"
            ),
            &[org_id, id],
            rows::user,
        )
        .await
    }

    /// `Store::find_user_by_login`.
    pub(crate) async fn find_user_by_login_impl(
        &self,
        org_id: &str,
        login_key: &str,
    ) -> DbResult<Option<User>> {
        self.find(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE org_id = $1 AND login_key = $2"
            ),
            &[org_id, login_key],
            rows::user,
        )
        .await
    }

    /// `Store::list_users`.
    pub(crate) async fn list_users_impl(&self, org_id: &str, page: &Page) -> DbResult<Vec<User>> {
        let select = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        self.page(select, &[org_id], page, rows::user).await
    }

    /// `Store::list_locked_users`: users with a locked counter of their login key (the partial
    /// index of locked counters by login key).
    pub(crate) async fn list_locked_users_impl(
        &self,
        org_id: &str,
        now: Timestamp,
        page: &Page,
    ) -> DbResult<Vec<User>> {
        let found = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE org_id = $1 AND id > $2 AND EXISTS (\
             SELECT 1 FROM counters c WHERE c.org_id = users.org_id \
             AND c.login_key = users.login_key AND c.locked_until IS NOT NULL \
             AND c.locked_until > $4) ORDER BY id LIMIT $3"
        ))
        .bind(org_id)
        .bind(super::first_page_cursor(page.after.as_deref()))
        .bind(i64::from(page.limit.min(crate::MAX_PAGE)))
        .bind(super::encoding::ts_to_db(now)?)
        .fetch_all(&self.pool)
        .await?;
        rows::all(&found, rows::user)
    }

    /// `Store::update_user_profile`.
    pub(crate) async fn update_user_profile_impl(
        &self,
        org_id: &str,
        id: &str,
        profile: &UserProfile,
        at: Timestamp,
        event: EventDraft,
    ) -> DbResult<User> {
        let mut tx = self.write_tx().await?;
        let updated = sqlx::query(concat!(
            "UPDATE users SET email = $3, display_name = $4, source = $5, roles = $6, ",
            "disabled = $7, updated_at = $8, ",
            // A changed address is not verified (the comparison reads the old `email`).
            "verified_email = CASE WHEN email = $3 THEN verified_email ELSE NULL END ",
            "WHERE org_id = $1 AND id = $2 RETURNING ",
            user_columns!()
        ))
        .bind(org_id)
        .bind(id)
        .bind(profile.email.as_deref())
        .bind(profile.display_name.as_deref())
        .bind(profile.source.as_deref())
        .bind(rows::roles_to_db(&profile.roles)?)
        .bind(profile.disabled)
        .bind(rows::ts_to_db(at)?)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(updated) = updated else {
            tx.rollback().await?;
            return Err(StoreError::NotFound.into());
        };
        let user = rows::user(&updated)?;
        if profile.disabled {
            // A disabled user keeps no session (challenges and enroll-only sessions included).
            delete_user_sessions(&mut tx, org_id, id).await?;
        }
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// `Store::set_password`.
    pub(crate) async fn set_password_impl(
        &self,
        org_id: &str,
        id: &str,
        update: &PasswordUpdate,
        end_sessions: bool,
        keep_session: Option<&str>,
        events: Vec<EventDraft>,
    ) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        let current = sqlx::query(&self.locking(
            "SELECT password_hash, password_history FROM users WHERE org_id = $1 AND id = $2",
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            tx.rollback().await?;
            return Err(StoreError::NotFound.into());
        };
        let mut history =
            rows::strings_from_db(&current.try_get::<String, _>("password_history")?)?;
        let old = current.try_get::<Option<String>, _>("password_hash")?;
        if update.expected_hash.as_ref().is_some_and(|e| *e != old) {
            tx.rollback().await?;
            return Err(StoreError::VersionMismatch.into());
        }
        if let Some(old) = old {
            history.insert(0, old);
        }
        history.truncate(update.keep_history);
        let changed_at = rows::ts_to_db(update.changed_at)?;
        sqlx::query(
            "UPDATE users SET password_hash = $3, password_history = $4, \
             password_changed_at = $5, password_set_by_admin = $6, updated_at = $5, \
             password_expired_at = NULL \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id)
        .bind(id)
        .bind(&update.hash)
        .bind(rows::strings_to_db(&history)?)
        .bind(changed_at)
        .bind(update.set_by_admin)
        .execute(&mut *tx)
        .await?;
        if end_sessions {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR id <> $2)")
                .bind(id)
                .bind(keep_session)
                .execute(&mut *tx)
                .await?;
        }
        self.insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `Store::expire_passwords`: one statement.
    pub(crate) async fn expire_passwords_impl(
        &self,
        org_id: &str,
        target: &ExpiryTarget,
        at: Timestamp,
        event: EventDraft,
    ) -> DbResult<u64> {
        let at = rows::ts_to_db(at)?;
        let write = match target {
            ExpiryTarget::User(id) => sqlx::query(
                "UPDATE users SET password_expired_at = $2, updated_at = $2 \
                 WHERE org_id = $1 AND id = $3 \
                 AND password_hash IS NOT NULL AND password_expired_at IS NULL",
            )
            .bind(org_id)
            .bind(at)
            .bind(id.as_str()),
            ExpiryTarget::All => sqlx::query(
                "UPDATE users SET password_expired_at = $2, updated_at = $2 \
                 WHERE org_id = $1 AND password_hash IS NOT NULL AND password_expired_at IS NULL",
            )
            .bind(org_id)
            .bind(at),
            ExpiryTarget::ChangedBefore(before) => sqlx::query(
                "UPDATE users SET password_expired_at = $2, updated_at = $2 \
                 WHERE org_id = $1 AND password_hash IS NOT NULL AND password_expired_at IS NULL \
                 AND COALESCE(password_changed_at, created_at) < $3",
            )
            .bind(org_id)
            .bind(at)
            .bind(rows::ts_to_db(*before)?),
        };
        self.write_counted(write, event, "users").await
    }

    /// `Store::confirm_email`.
    pub(crate) async fn confirm_email_impl(
        &self,
        org_id: &str,
        id: &str,
        email: &str,
        at: Timestamp,
        event: EventDraft,
    ) -> DbResult<EmailConfirmation> {
        let mut tx = self.write_tx().await?;
        // The unique index on (org_id, verified_email) refuses an address another user of the
        // organization verified, atomically.
        let done = sqlx::query(
            "UPDATE users SET verification_pending = FALSE, updated_at = $4, verified_email = $5 \
             WHERE org_id = $1 AND id = $2 AND email = $3 AND verification_pending",
        )
        .bind(org_id)
        .bind(id)
        .bind(email)
        .bind(rows::ts_to_db(at)?)
        .bind(email_key(email))
        .execute(&mut *tx)
        .await;
        let done = match done {
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                tx.rollback().await?;
                return Ok(EmailConfirmation::Taken);
            }
            other => other?,
        };
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(EmailConfirmation::NotPending);
        }
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(EmailConfirmation::Confirmed)
    }

    /// `Store::verified_email_taken`.
    pub(crate) async fn verified_email_taken_impl(
        &self,
        org_id: &str,
        email: &str,
    ) -> DbResult<bool> {
        let found = sqlx::query("SELECT 1 FROM users WHERE org_id = $1 AND verified_email = $2")
            .bind(org_id)
            .bind(email_key(email))
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// `Store::delete_user`.
    pub(crate) async fn delete_user_impl(
        &self,
        org_id: &str,
        id: &str,
        event: EventDraft,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM users WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let keys = sqlx::query("DELETE FROM api_keys WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if keys.rows_affected() > 0 {
            super::orgs::bump_policy_version(&mut tx).await?;
        }
        sqlx::query("DELETE FROM mfa_factors WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}
