//! Instance keys: the API keys of the instance administrator (no organization, the role
//! `instance_admin`, no expiry of their own), created, listed and revoked through the API, and
//! created offline by the recovery command (docs/decisions/0010-instance-keys.md).
//!
//! Invariants:
//! - an instance key answers to no policy: the instance's `api_keys` section is the default of
//!   organizations' keys and never ends an instance key (see `key_caller`), so no policy change
//!   can lock the instance administrator out;
//! - instance keys never expire by themselves; rotation is explicit (create, then revoke);
//! - once an instance key exists, one always does: the last one is never revoked through the
//!   API (`LastInstanceKey`), the store checking and deleting atomically;
//! - a secret is shown once, in the creation answer (or on the recovery command's standard
//!   output), stored only as its SHA-256 digest, and never put in an event or a log;
//! - every creation and revocation is an instance event written with the change.

use portcullis_model::{Violation, Violations, codes};
use portcullis_store::{ApiKey, InstanceKeyDeletion, Page, Role};
use serde::Deserialize;

use crate::api_keys::{ApiKeyView, CreatedApiKey};
use crate::caller::Caller;
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, InstanceKeyCreated, KeyRef};
use crate::secrets::{API_KEY_PREFIX, new_id, new_token, token_hash};
use crate::service::{Context, Service};

/// A request for a new instance key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInstanceKey {
    /// Name (1–128 characters).
    pub name: String,
}

/// The actor of the events the recovery command writes.
pub const RECOVERY_ACTOR: &str = "recovery";

impl Service {
    /// Creates an instance administrator key; the secret is in the answer only.
    pub async fn create_instance_key(
        &self,
        caller: &Caller,
        ctx: &Context,
        request: NewInstanceKey,
    ) -> ServiceResult<CreatedApiKey> {
        caller.allow_instance()?;
        let mut found = Vec::new();
        if request.name.trim().is_empty() {
            found.push(Violation::new("name", codes::REQUIRED, "must not be empty"));
        }
        crate::text::check_text(&mut found, "name", Some(&request.name), 128);
        if let Some(v) = Violations::from_vec(found) {
            return Err(ServiceError::Invalid(v));
        }
        self.store_instance_key(ctx, request.name.trim(), false)
            .await
    }

    /// Creates an instance administrator key without a caller: for the offline recovery
    /// command, which has the database itself as its credential. The event's actor is
    /// [`RECOVERY_ACTOR`].
    pub async fn recover_instance_access(&self) -> ServiceResult<CreatedApiKey> {
        let ctx = Context::new(RECOVERY_ACTOR, None);
        self.store_instance_key(&ctx, "recovered instance administrator", true)
            .await
    }

    async fn store_instance_key(
        &self,
        ctx: &Context,
        name: &str,
        recovery: bool,
    ) -> ServiceResult<CreatedApiKey> {
        let secret = new_token(API_KEY_PREFIX);
        let now = self.now();
        let key = ApiKey {
            id: new_id("key"),
            token_hash: token_hash(&secret),
            org_id: None,
            user_id: None,
            name: name.to_owned(),
            roles: vec![Role::InstanceAdmin],
            created_at: now,
            expires_at: None,
            sealed_secret: None,
            parent_id: None,
        };
        let event = DomainEvent::InstanceKeyCreated(InstanceKeyCreated {
            key_id: key.id.clone(),
            name: key.name.clone(),
            roles: key.roles.clone(),
            recovery,
        })
        .draft(ctx, None, now);
        self.store.create_api_key(&key, event).await?;
        Ok(CreatedApiKey {
            view: key.into(),
            key: secret,
        })
    }

    /// The instance keys, ordered by id (never their secrets).
    pub async fn list_instance_keys(
        &self,
        caller: &Caller,
        page: &Page,
    ) -> ServiceResult<Vec<ApiKeyView>> {
        caller.allow_instance()?;
        let keys = self.store.list_api_keys(None, page).await?;
        Ok(keys.into_iter().map(ApiKeyView::from).collect())
    }

    /// Revokes an instance key (the caller's own too), unless it is the last one.
    pub async fn delete_instance_key(
        &self,
        caller: &Caller,
        ctx: &Context,
        id: &str,
    ) -> ServiceResult<()> {
        caller.allow_instance()?;
        let event = DomainEvent::ApiKeyDeleted(KeyRef {
            key_id: id.to_owned(),
        })
        .draft(ctx, None, self.now());
        match self.store.delete_instance_key(id, event).await? {
            InstanceKeyDeletion::Deleted => {
                self.keys.invalidate();
                Ok(())
            }
            InstanceKeyDeletion::NotFound => Err(ServiceError::NotFound),
            InstanceKeyDeletion::LastKey => Err(ServiceError::LastInstanceKey),
        }
    }
}
