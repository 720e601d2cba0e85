//! The OAuth client-credentials exchange: an API key's id and secret buy a short-lived access
//! token, for clients configured with a client id and secret instead of a token.
//!
//! Invariants: the token is a new bearer key that carries at most the parent key's current
//! roles, belongs to the same organization and user, names its parent and works only while the
//! parent does (deleting the parent revokes its tokens), and expires at the earliest of the
//! organization's `tokens.access_token` lifetime, `api_keys.max_expiration` and the parent's own
//! expiry; an unknown id, a wrong secret, an access key, an instance key or a key issued from
//! another (a token, a console session) are all `Unauthenticated`, alike.

use portcullis_engine::time_math::plus;
use portcullis_store::ApiKey;
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, TokenIssued};
use crate::secrets::{API_KEY_PREFIX, new_id, new_token, secrets_equal, token_hash};
use crate::service::{Context, Service};

/// An issued access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    /// The bearer token.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

impl Service {
    /// The key a token may be issued from: the one whose secret is `secret`, a bearer key (not
    /// an access key) and not itself issued from another (only the direct parent is checked at
    /// each use, so an issued key's successor would outlive it).
    pub(crate) async fn issuing_key(&self, secret: &str) -> ServiceResult<Option<ApiKey>> {
        let hash = token_hash(secret);
        Ok(self
            .store
            .find_api_key(&hash)
            .await?
            .filter(|k| secrets_equal(&k.token_hash, &hash))
            .filter(|k| k.sealed_secret.is_none())
            .filter(|k| k.parent_id.is_none()))
    }

    /// Issues a bearer key named `name` from `parent`, with `roles` (at most the parent's), for
    /// at most `lifetime` seconds, the organization's `api_keys.max_expiration` and the parent's
    /// own expiry; writes `oauth.token_issued` with it.
    pub(crate) async fn issue_from(
        &self,
        ctx: &Context,
        parent: &ApiKey,
        roles: Vec<portcullis_store::Role>,
        lifetime: u64,
        name: String,
    ) -> ServiceResult<IssuedToken> {
        let now = self.now();
        let mut expires_at = plus(now, lifetime);
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
        let token = ApiKey {
            id: new_id("key"),
            token_hash: token_hash(&secret),
            org_id: parent.org_id.clone(),
            user_id: parent.user_id.clone(),
            name,
            roles,
            created_at: now,
            expires_at: Some(expires_at),
            sealed_secret: None,
            parent_id: Some(parent.id.clone()),
        };
        let event = DomainEvent::TokenIssued(TokenIssued {
            key_id: token.id.clone(),
            client_id: parent.id.clone(),
            expires_at: expires_at.unix_timestamp(),
        })
        .draft(ctx, parent.org_id.as_ref(), now);
        self.store.create_api_key(&token, event).await?;
        Ok(IssuedToken {
            access_token: secret,
            expires_in: u64::try_from((expires_at - now).whole_seconds()).unwrap_or(0),
        })
    }

    /// Exchanges an API key's id (`client_id`) and secret (`client_secret`) for an access token.
    pub async fn exchange_client_credentials(
        &self,
        ctx: &Context,
        client_id: &str,
        client_secret: &str,
    ) -> ServiceResult<IssuedToken> {
        let parent = self
            .issuing_key(client_secret)
            .await?
            .filter(|k| bool::from(k.id.as_bytes().ct_eq(client_id.as_bytes())))
            // Organization keys only: an instance key's tokens could not be listed or revoked.
            .filter(|k| k.org_id.is_some())
            .ok_or(ServiceError::Unauthenticated)?;
        let caller = self.key_caller(parent.clone()).await?;
        let org_id = parent.org_id.clone().ok_or(ServiceError::Unauthenticated)?;
        let lifetime = self
            .effective_policy(&org_id)
            .await?
            .tokens
            .value
            .access_token;
        let name = format!("access token of {}", parent.id);
        self.issue_from(ctx, &parent, caller.roles, lifetime, name)
            .await
    }
}
