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

use portcullis_store::InstanceKeyDeletion;

use crate::caller::Caller;
use crate::client_credentials::IssuedToken;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, KeyRef};
use crate::secrets::SESSION_PREFIX;
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
        let parent = self
            .issuing_key(token)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let caller = self.key_caller(parent.clone()).await?;
        // The event is the typed key's doing, not an anonymous one.
        let ctx = &Context::new(format!("key:{}", parent.id), ctx.request_id.clone());
        let name = format!("{CONSOLE_KEY_NAME} {}", parent.id);
        self.issue_from(ctx, &parent, caller.roles, CONSOLE_SESSION_SECONDS, name)
            .await
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
