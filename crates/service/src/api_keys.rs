//! API keys: created with a secret shown once and stored hashed, limited by
//! `api_keys.max_expiration`, carrying at most their creator's roles.
//!
//! A key has one of two shapes, chosen at creation: the native one (`key_…` id, `pck_…` secret
//! with 256 random bits) or Scaleway's (`SCW…` id, a random version-4 UUID secret with 122),
//! which Scaleway's clients accept as they are. Both are stored, checked and limited alike
//! (docs/decisions/0015-scaleway-shaped-keys.md).

use portcullis_engine::api_key::new_key_expiry;
use portcullis_model::{Timestamp, Violation, Violations, codes};
use portcullis_store::{ApiKey, Page, Role};
use serde::{Deserialize, Serialize};

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, KeyRef, OrgKeyCreated};
use crate::secrets::{
    API_KEY_PREFIX, new_id, new_scaleway_key_id, new_token, new_uuid_secret, token_hash,
};
use crate::service::{Context, Service};

/// A request for a new key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// Name (1–128 characters).
    pub name: String,
    /// Roles (default: the creator's organization roles); at most the creator's.
    pub roles: Option<Vec<Role>>,
    /// Expiry (RFC 3339); required when the policy sets a maximum.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<Timestamp>,
    /// The shape of the key's id and secret.
    #[serde(default)]
    pub format: KeyFormat,
}

/// The shape of a new key's id and secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// Id `key_<32 hex>`, secret `pck_<64 hex>` (256 random bits).
    #[default]
    Native,
    /// Id `SCW` and 17 upper-case base32 characters, secret a random version-4 UUID (122 random
    /// bits): the shapes Scaleway's clients check before they send anything.
    Scaleway,
}

/// A key as listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKeyView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Organization.
    pub org_id: Option<String>,
    /// Owner user, if any.
    pub user_id: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Creation.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<Timestamp>,
    /// `bearer` (sent as `Authorization: Bearer`) or `access` (an access key that signs requests).
    pub kind: KeyKind,
}

/// What a key is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// A bearer key: its secret authenticates requests.
    Bearer,
    /// An access key: its id names it and its secret signs requests (never sent).
    Access,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> ApiKeyView {
        ApiKeyView {
            kind: if k.sealed_secret.is_some() {
                KeyKind::Access
            } else {
                KeyKind::Bearer
            },
            id: k.id,
            name: k.name,
            org_id: k.org_id.map(|org| org.to_string()),
            user_id: k.user_id,
            roles: k.roles,
            created_at: k.created_at,
            expires_at: k.expires_at,
        }
    }
}

/// A new key with its secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CreatedApiKey {
    /// The key as listed.
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// The secret (`Authorization: Bearer <key>`). Not retrievable later.
    pub key: String,
}

/// Expiries from this instant on are refused (far beyond any policy, and past what every store
/// can represent).
fn latest_expiry() -> Timestamp {
    time::macros::datetime!(2200-01-01 0:00 UTC)
}

/// Stable code: a role the creator does not hold.
pub const ROLE_NOT_HELD: &str = "role.not_held";

impl Service {
    /// Creates a key in an organization, owned by the calling user (or a service account key
    /// when the caller is a key or an instance administrator).
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        request: NewApiKey,
    ) -> ServiceResult<CreatedApiKey> {
        let (id, secret) = match request.format {
            KeyFormat::Native => (new_id("key"), new_token(API_KEY_PREFIX)),
            KeyFormat::Scaleway => (new_scaleway_key_id(), new_uuid_secret()),
        };
        let key = self
            .new_key(caller, org_id, &request, id, token_hash(&secret))
            .await?;
        self.store_new_key(caller, ctx, org_id, &key).await?;
        Ok(CreatedApiKey {
            view: key.into(),
            key: secret,
        })
    }

    /// Checks a key request (name, roles at most the creator's, expiry within the policy) and
    /// builds the record.
    pub(crate) async fn new_key(
        &self,
        caller: &Caller,
        org_id: &str,
        request: &NewApiKey,
        id: String,
        token_hash: String,
    ) -> ServiceResult<ApiKey> {
        let grant = caller.allow(org_id, Action::SelfService)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let mut found = Vec::new();
        if request.name.trim().is_empty() {
            found.push(Violation::new("name", codes::REQUIRED, "must not be empty"));
        }
        crate::text::check_text(&mut found, "name", Some(&request.name), 128);
        let held: Vec<Role> = if caller.is_instance_admin() {
            vec![Role::OrgAdmin, Role::OrgAuditor, Role::Member]
        } else {
            caller
                .roles
                .iter()
                .copied()
                .filter(|r| *r != Role::InstanceAdmin)
                .collect()
        };
        let roles = request.roles.clone().unwrap_or_else(|| held.clone());
        for role in &roles {
            if !held.contains(role) {
                found.push(
                    Violation::new(
                        "roles",
                        ROLE_NOT_HELD,
                        format!("the creator does not hold `{role}`"),
                    )
                    .with("role", role.as_str()),
                );
            }
        }
        let policy = self.effective_policy(org_id).await?;
        let now = self.now();
        if request.expires_at.is_some_and(|at| at >= latest_expiry()) {
            found.push(
                Violation::new(
                    "expires_at",
                    codes::OUT_OF_RANGE,
                    "must be before 2200-01-01T00:00:00Z",
                )
                .with("max", "2200-01-01T00:00:00Z"),
            );
        }
        let expires_at = match new_key_expiry(&policy.api_keys.value, request.expires_at, now) {
            Ok(at) => at,
            Err(v) => {
                found.push(v);
                None
            }
        };
        if let Some(v) = Violations::from_vec(found) {
            return Err(ServiceError::Invalid(v));
        }
        Ok(ApiKey {
            id,
            token_hash,
            org_id: Some(org_id.to_owned()),
            user_id: caller.user_id.clone(),
            name: request.name.trim().to_owned(),
            roles,
            created_at: now,
            expires_at,
            sealed_secret: None,
            parent_id: None,
        })
    }

    /// Stores a new key with its event.
    pub(crate) async fn store_new_key(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        key: &ApiKey,
    ) -> ServiceResult<()> {
        let grant = caller.allow(org_id, Action::SelfService)?;
        let (org_id, manage) = (&grant.org_id, grant.manage);
        let created = OrgKeyCreated {
            key_id: key.id.clone(),
            name: key.name.clone(),
            roles: key.roles.clone(),
            user_id: key.user_id.clone(),
            manage,
        };
        let event = if key.sealed_secret.is_some() {
            DomainEvent::AccessKeyCreated(created)
        } else {
            DomainEvent::ApiKeyCreated(created)
        }
        .draft(ctx, Some(org_id), key.created_at);
        self.store.create_api_key(key, event).await?;
        Ok(())
    }

    /// Keys of an organization: all for a manager, the caller's own otherwise.
    pub async fn list_api_keys(
        &self,
        caller: &Caller,
        org_id: &str,
        page: &Page,
    ) -> ServiceResult<Vec<ApiKeyView>> {
        let grant = caller.allow(org_id, Action::SelfService)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let keys = match (&caller.user_id, grant.manage) {
            (_, true) => self.store.list_api_keys(Some(org_id), page).await?,
            (Some(user_id), false) => self.store.list_user_api_keys(org_id, user_id, page).await?,
            (None, false) => Vec::new(),
        };
        Ok(keys.into_iter().map(ApiKeyView::from).collect())
    }

    /// Deletes a key: any of the organization's for a manager, one's own otherwise.
    pub async fn delete_api_key(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        id: &str,
    ) -> ServiceResult<()> {
        let grant = caller.allow(org_id, Action::SelfService)?;
        let org_id = &grant.org_id;
        if !grant.manage {
            let own = self
                .store
                .get_api_key(org_id, id)
                .await?
                .is_some_and(|k| k.user_id.is_some() && k.user_id == caller.user_id);
            if !own {
                return Err(ServiceError::NotFound);
            }
        }
        let event = DomainEvent::ApiKeyDeleted(KeyRef {
            key_id: id.to_owned(),
        })
        .draft(ctx, Some(org_id), self.now());
        if self.store.delete_api_key(org_id, id, event).await? {
            self.keys.invalidate();
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }
}
