//! Access keys: an id and a secret for signed requests (HMAC), as some vendors' clients use.
//!
//! Invariants: the secret is shown once, at creation, and stored only sealed with the instance
//! master key (verifying an HMAC needs it back); an access key never works as a bearer token
//! (its stored digest is of a random value nobody holds); it is limited like an API key (roles
//! at most its creator's, expiry within `api_keys.max_expiration`, its user enabled).

use portcullis_model::{OrgId, Violation, Violations, codes};
use serde::Serialize;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::api_keys::{ApiKeyView, KeyFormat, NewApiKey};
use crate::caller::Caller;
use crate::error::{ServiceError, ServiceResult};
use crate::secrets::{random_hex, token_hash};
use crate::service::{Context, Service};

/// A new access key with its secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CreatedAccessKey {
    /// The key as listed (its `id` is the access key id).
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// The secret that signs requests. Not retrievable later.
    pub secret: String,
}

/// Prefix of access key ids (20 upper-case characters in all, as signing clients expect).
pub const ACCESS_KEY_PREFIX: &str = "PCAK";

impl Service {
    /// Creates an access key in an organization (same rules as [`Service::create_api_key`]).
    /// Without a master key, access keys cannot be stored: `Conflict` says how to configure one.
    pub async fn create_access_key(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        request: NewApiKey,
    ) -> ServiceResult<CreatedAccessKey> {
        if request.format != KeyFormat::Native {
            return Err(ServiceError::Invalid(Violations::one(Violation::new(
                "format",
                codes::INVALID_JSON,
                "access keys have one shape: leave format out",
            ))));
        }
        let master = self.master_key()?;
        let id = format!("{ACCESS_KEY_PREFIX}{}", random_hex(8).to_uppercase());
        let secret = random_hex(20);
        // A digest of a value nobody holds: the key can never authenticate as a bearer token.
        let unusable = token_hash(&random_hex(32));
        let mut key = self.new_key(caller, org_id, &request, id, unusable).await?;
        key.sealed_secret = Some(
            master
                .seal(&key.id, &secret)
                .ok_or_else(|| ServiceError::Internal("sealing the secret failed".into()))?,
        );
        self.store_new_key(caller, ctx, org_id, &key).await?;
        Ok(CreatedAccessKey {
            view: key.into(),
            secret,
        })
    }

    /// The caller behind access key `key_id` of organization `org_id`, once `signed_by` accepts
    /// the key's secret (it recomputes the request's signature). Any failure, including an
    /// unknown key, another organization's key or a wrong signature, is `Unauthenticated`.
    pub async fn authenticate_access_key(
        &self,
        org_id: &str,
        key_id: &str,
        signed_by: impl FnOnce(&[u8]) -> bool,
    ) -> ServiceResult<Caller> {
        let master = self
            .master_key
            .as_ref()
            .ok_or(ServiceError::Unauthenticated)?;
        // An id no organization can have finds no key, like an unknown one.
        let org_id = OrgId::parse(org_id, "org").map_err(|_| ServiceError::Unauthenticated)?;
        let key = self
            .store
            .get_api_key(&org_id, key_id)
            .await?
            .filter(|k| k.id.as_bytes().ct_eq(key_id.as_bytes()).into())
            .ok_or(ServiceError::Unauthenticated)?;
        let secret: Zeroizing<String> = key
            .sealed_secret
            .as_deref()
            .and_then(|sealed| master.open(&key.id, sealed))
            .ok_or(ServiceError::Unauthenticated)?;
        if !signed_by(secret.as_bytes()) {
            return Err(ServiceError::Unauthenticated);
        }
        self.key_caller(key).await
    }
}
