//! Second factors: a user's TOTP factor and the completion of a login's challenge.
//!
//! Invariants: a step is recorded as used by one conditional `UPDATE` (`last_step < step`), so
//! two requests with the same code cannot both pass; a recovery code is removed in a transaction
//! that holds the factor's row, so it is used once; a challenge becomes a session through one
//! conditional `UPDATE` of its stage, so it completes once; events are written with the change.

use crate::{EventDraft, FactorCondition, MfaFactor, SessionStage, StoreError};
use portcullis_model::Timestamp;
use sqlx::Row;

use super::SqlStore;
use super::error::DbResult;
use super::rows::{self, mfa_factor_columns};

impl SqlStore {
    /// `Store::get_mfa_factor`.
    pub(crate) async fn get_mfa_factor_impl(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> DbResult<Option<MfaFactor>> {
        self.find(
            concat!(
                "SELECT ",
                mfa_factor_columns!(),
                " FROM mfa_factors WHERE org_id = $1 AND user_id = $2"
            ),
            &[org_id, user_id],
            rows::mfa_factor,
        )
        .await
    }

    /// `Store::put_mfa_factor`.
    pub(crate) async fn put_mfa_factor_impl(
        &self,
        factor: &MfaFactor,
        condition: FactorCondition,
        event: EventDraft,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let user = sqlx::query(&self.locking("SELECT 1 FROM users WHERE org_id = $1 AND id = $2"))
            .bind(factor.org_id.as_str())
            .bind(&factor.user_id)
            .fetch_optional(&mut *tx)
            .await?;
        if user.is_none() {
            tx.rollback().await?;
            return Err(StoreError::NotFound.into());
        }
        // The user's row is held (the write transaction, or the backend's row lock), so
        // the factor read here is the one the write replaces.
        let current = sqlx::query(concat!(
            "SELECT ",
            mfa_factor_columns!(),
            " FROM mfa_factors WHERE org_id = $1 AND user_id = $2"
        ))
        .bind(factor.org_id.as_str())
        .bind(&factor.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let current = current.as_ref().map(rows::mfa_factor).transpose()?;
        if !condition.holds(current.as_ref()) {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(concat!(
            "INSERT INTO mfa_factors (",
            mfa_factor_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, \
             confirmed_at = excluded.confirmed_at, last_step = excluded.last_step, \
             recovery_codes = excluded.recovery_codes, created_at = excluded.created_at"
        ))
        .bind(factor.org_id.as_str())
        .bind(&factor.user_id)
        .bind(&factor.secret_sealed)
        .bind(rows::opt_ts_to_db(factor.confirmed_at)?)
        .bind(rows::seq_to_db(factor.last_step))
        .bind(rows::strings_to_db(&factor.recovery_codes)?)
        .bind(rows::ts_to_db(factor.created_at)?)
        .execute(&mut *tx)
        .await?;
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `Store::use_mfa_step`.
    pub(crate) async fn use_mfa_step_impl(
        &self,
        org_id: &str,
        user_id: &str,
        step: u64,
    ) -> DbResult<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE mfa_factors SET last_step = $3 \
             WHERE org_id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $3",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(rows::seq_to_db(step))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `Store::use_recovery_code`.
    pub(crate) async fn use_recovery_code_impl(
        &self,
        org_id: &str,
        user_id: &str,
        code_hash: &str,
        event: EventDraft,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(&self.locking(
            "SELECT recovery_codes FROM mfa_factors \
             WHERE org_id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL",
        ))
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(false);
        };
        let mut codes = rows::strings_from_db(&row.try_get::<String, _>("recovery_codes")?)?;
        let Some(at) = codes.iter().position(|c| c == code_hash) else {
            tx.rollback().await?;
            return Ok(false);
        };
        codes.remove(at);
        sqlx::query(
            "UPDATE mfa_factors SET recovery_codes = $3 WHERE org_id = $1 AND user_id = $2",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(rows::strings_to_db(&codes)?)
        .execute(&mut *tx)
        .await?;
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `Store::complete_mfa_challenge`.
    pub(crate) async fn complete_mfa_challenge_impl(
        &self,
        session_id: &str,
        token_hash: &str,
        now: Timestamp,
        events: Vec<EventDraft>,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE sessions SET token_hash = $2, stage = $4, created_at = $3, last_used_at = $3 \
             WHERE id = $1 AND stage = $5",
        )
        .bind(session_id)
        .bind(token_hash)
        .bind(rows::ts_to_db(now)?)
        .bind(SessionStage::Full.as_str())
        .bind(SessionStage::MfaChallenge.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        self.insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }
}
