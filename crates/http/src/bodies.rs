//! The request bodies of the native API, with their schemas. Each turns into the service's
//! request by a `From` that names every field, so the body, its schema and the service's
//! request cannot drift apart.
//!
//! Invariant: every body refuses unknown fields; instants are RFC 3339 text.

use portcullis_model::Timestamp;
use portcullis_service as service;
use portcullis_store::Role;
use serde::Deserialize;

use crate::schemas::OrgRoleSchema;

/// A request to create an organization.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    /// Caller-chosen id (`[A-Za-z0-9._-]{1,64}`); generated when absent.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub id: Option<String>,
    /// Display name (1–200 characters); defaults to the id.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
}

impl From<NewOrg> for service::NewOrg {
    fn from(b: NewOrg) -> service::NewOrg {
        let NewOrg { id, name } = b;
        service::NewOrg { id, name }
    }
}

/// A request to create a user.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name (1–256 characters, unique in the organization regardless of case).
    #[schema(min_length = 1, max_length = 256)]
    pub login: String,
    /// Initial password; must satisfy the policy.
    pub password: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Source (selects the password policy).
    pub source: Option<String>,
    /// Roles (default `member`).
    #[schema(value_type = Option<Vec<OrgRoleSchema>>)]
    pub roles: Option<Vec<Role>>,
}

impl From<NewUser> for service::NewUser {
    fn from(b: NewUser) -> service::NewUser {
        let NewUser {
            login,
            password,
            email,
            display_name,
            source,
            roles,
        } = b;
        service::NewUser {
            login,
            password,
            email,
            display_name,
            source,
            roles,
        }
    }
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A change of a user's profile; absent fields stay, `null` clears an optional one.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Email.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Display name.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// Source.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Option<String>>,
    /// Roles.
    #[schema(value_type = Option<Vec<OrgRoleSchema>>)]
    pub roles: Option<Vec<Role>>,
    /// Disabled.
    pub disabled: Option<bool>,
}

impl From<UserPatch> for service::UserPatch {
    fn from(b: UserPatch) -> service::UserPatch {
        let UserPatch {
            email,
            display_name,
            source,
            roles,
            disabled,
        } = b;
        service::UserPatch {
            email,
            display_name,
            source,
            roles,
            disabled,
        }
    }
}

/// A self-registration.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Login name (unique in the organization regardless of case).
    pub login: String,
    /// Password; must satisfy the organization's policy.
    pub password: String,
    /// Email address (required when the organization forces email verification).
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
}

impl From<Registration> for service::Registration {
    fn from(b: Registration) -> service::Registration {
        let Registration {
            login,
            password,
            email,
            display_name,
        } = b;
        service::Registration {
            login,
            password,
            email,
            display_name,
        }
    }
}

/// A request for a new key.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// Name (1–128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// Roles (default: the creator's organization roles); at most the creator's.
    #[schema(value_type = Option<Vec<OrgRoleSchema>>)]
    pub roles: Option<Vec<Role>>,
    /// Expiry (RFC 3339); required when the policy sets a maximum.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// The shape of the key's id and secret (default `native`). `scaleway`: an id `SCW` and 17
    /// upper-case base32 characters and a random UUID secret (122 random bits instead of 256),
    /// which Scaleway's clients accept as `accessKey` and `secretKey`.
    pub format: Option<KeyFormat>,
}

/// The shape of a new key's id and secret.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// Id `key_<32 hex>`, secret `pck_<64 hex>` (256 random bits).
    Native,
    /// Id `SCW` + 17 characters of `A–Z2–7`, secret a random version-4 UUID (122 random bits).
    Scaleway,
}

impl From<KeyFormat> for service::KeyFormat {
    fn from(f: KeyFormat) -> service::KeyFormat {
        match f {
            KeyFormat::Native => service::KeyFormat::Native,
            KeyFormat::Scaleway => service::KeyFormat::Scaleway,
        }
    }
}

impl From<NewApiKey> for service::NewApiKey {
    fn from(b: NewApiKey) -> service::NewApiKey {
        let NewApiKey {
            name,
            roles,
            expires_at,
            format,
        } = b;
        service::NewApiKey {
            name,
            roles,
            expires_at,
            format: format.map(Into::into).unwrap_or_default(),
        }
    }
}

/// A request for a new access key (for signed requests).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccessKey {
    /// Name (1–128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// Roles (default: the creator's organization roles); at most the creator's.
    #[schema(value_type = Option<Vec<OrgRoleSchema>>)]
    pub roles: Option<Vec<Role>>,
    /// Expiry (RFC 3339); required when the policy sets a maximum.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

impl From<NewAccessKey> for service::NewApiKey {
    fn from(b: NewAccessKey) -> service::NewApiKey {
        let NewAccessKey {
            name,
            roles,
            expires_at,
        } = b;
        service::NewApiKey {
            name,
            roles,
            expires_at,
            format: service::KeyFormat::Native,
        }
    }
}

/// A request for a new instance key.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstanceKey {
    /// Name (1–128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
}

impl From<NewInstanceKey> for service::NewInstanceKey {
    fn from(b: NewInstanceKey) -> service::NewInstanceKey {
        let NewInstanceKey { name } = b;
        service::NewInstanceKey { name }
    }
}

/// A dry-run password check.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordCheckRequest {
    /// The candidate password.
    pub password: String,
    /// Login name of the account, for the attribute checks.
    pub login: Option<String>,
    /// Email of the account.
    pub email: Option<String>,
    /// Display name of the account.
    pub display_name: Option<String>,
    /// User source (selects the password policy).
    pub source: Option<String>,
}

impl From<PasswordCheckRequest> for service::PasswordCheckRequest {
    fn from(b: PasswordCheckRequest) -> service::PasswordCheckRequest {
        let PasswordCheckRequest {
            password,
            login,
            email,
            display_name,
            source,
        } = b;
        service::PasswordCheckRequest {
            password,
            login,
            email,
            display_name,
            source,
        }
    }
}
