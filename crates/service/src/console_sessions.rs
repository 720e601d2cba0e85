//! Console sessions opened with an API key: the administrator types a key once, and the console
//! keeps a new short-lived key issued from it instead (docs/console.md).
//!
//! Invariants: the issued key names its parent and works only while the parent does (deleting
//! the parent ends every console session opened with it); it carries at most the parent's
//! current roles, belongs to the same organization and user (or to the instance), and expires at
//! the earliest of [`CONSOLE_SESSION_SECONDS`], the parent's own expiry and, for an
//! organization's key, `api_keys.max_expiration`; an unknown key, an access key, a key issued
//! from another and a session token are all `Unauthenticated`, alike (so no issued key ever has
//! a parent that is itself issued, and deleting a typed key ends everything issued from it); signing out deletes the issued key, never a key the
//! administrator typed.

use portcullis_engine::time_math::plus;
use portcullis_store::{ApiKey, InstanceKeyDeletion};

use crate::caller::Caller;
use crate::client_credentials::IssuedToken;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, KeyRef, TokenIssued};
use crate::secrets::{
    API_KEY_PREFIX, SESSION_PREFIX, new_id, new_token, secrets_equal, token_hash,
};
use crate::service::{Context, Service};

/// The longest a console session opened with a key lasts: a working day.
pub const CONSOLE_SESSION_SECONDS: u64 = 8 * 3600;

/// The name every issued console key carries, before its parent's id.
pub const CONSOLE_KEY_NAME: &str = "console session of";

impl Service {
    /// Issues a console session key from the API key `token`.
    pub async fn open_console_session(
        &self,
        ctx: &Context,
        token: &str,
    ) -> ServiceResult<IssuedToken> {
        if token.starts_with(SESSION_PREFIX) {
            return Err(ServiceError::Unauthenticated);
        }
        let hash = token_hash(token);
        let parent = self
            .store
            .find_api_key(&hash)
            .await?
            .filter(|k| secrets_equal(&k.token_hash, &hash))
            .filter(|k| k.sealed_secret.is_none())
            // A key issued from another (a console session, a client-credentials token) buys
            // nothing: its successor would outlive it, since only the parent is checked.
            .filter(|k| k.parent_id.is_none())
            .ok_or(ServiceError::Unauthenticated)?;
        let caller = self.key_caller(parent.clone()).await?;
        // The event is the typed key's doing, not an anonymous one.
        let ctx = &Context::new(format!("key:{}", parent.id), ctx.request_id.clone());
        let now = self.now();
        let mut expires_at = plus(now, CONSOLE_SESSION_SECONDS);
        if let Some(org_id) = &parent.org_id {
            let max_expiration = self
                .effective_policy(org_id)
                .await?
                .api_keys
                .value
                .max_expiration;
            if max_expiration > 0 {
                expires_at = expires_at.min(plus(now, max_expiration));
            }
        }
        if let Some(parent_expiry) = parent.expires_at {
            expires_at = expires_at.min(parent_expiry);
        }
        let secret = new_token(API_KEY_PREFIX);
        let issued = ApiKey {
            id: new_id("key"),
            token_hash: token_hash(&secret),
            org_id: parent.org_id.clone(),
            user_id: parent.user_id.clone(),
            name: format!("{CONSOLE_KEY_NAME} {}", parent.id),
            roles: caller.roles,
            created_at: now,
            expires_at: Some(expires_at),
            sealed_secret: None,
            parent_id: Some(parent.id.clone()),
        };
        let event = DomainEvent::TokenIssued(TokenIssued {
            key_id: issued.id.clone(),
            client_id: parent.id.clone(),
            expires_at: expires_at.unix_timestamp(),
        })
        .draft(ctx, parent.org_id.as_ref(), now);
        self.store.create_api_key(&issued, event).await?;
        Ok(IssuedToken {
            access_token: secret,
            expires_in: u64::try_from((expires_at - now).whole_seconds()).unwrap_or(0),
        })
    }

    /// Ends the caller's console session: deletes its issued key. A session of a user is ended
    /// as `POST /v1/logout` ends it; a key that was not issued from another is left alone.
    pub async fn close_console_session(&self, caller: &Caller, ctx: &Context) -> ServiceResult<()> {
        if caller.session_id.is_some() {
            return self.logout(caller, ctx).await;
        }
        let Some(key_id) = &caller.key_id else {
            return Ok(());
        };
        let key = match &caller.org_id {
            Some(org) => self.store.get_api_key(org, key_id).await?,
            None => self.store.get_instance_key(key_id).await?,
        };
        let Some(key) = key.filter(|k| k.parent_id.is_some()) else {
            return Ok(());
        };
        let event = DomainEvent::ApiKeyDeleted(KeyRef {
            key_id: key.id.clone(),
        })
        .draft(ctx, key.org_id.as_ref(), self.now());
        match &key.org_id {
            Some(org) => {
                self.store.delete_api_key(org, &key.id, event).await?;
            }
            None => {
                // An issued key never counts as the last one, so this cannot be refused.
                let outcome = self.store.delete_instance_key(&key.id, event).await?;
                debug_assert_ne!(outcome, InstanceKeyDeletion::LastKey);
            }
        }
        self.keys.invalidate();
        Ok(())
    }
}
