//! Response bodies that are the HTTP layer's own (lists, organizations, login answers).

use portcullis_store::{Org, Role};
use serde::Serialize;

use crate::schemas::RoleSchema;
use crate::service_views::{ApiKeyView, EventView, LastLogin, OutboxView, UserView};

pub(crate) use portcullis_model::rfc3339;

/// An organization.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Creation (RFC 3339).
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<Org> for OrgView {
    fn from(o: Org) -> OrgView {
        OrgView {
            id: o.id.to_string(),
            name: o.name,
            created_at: rfc3339(o.created_at),
        }
    }
}

macro_rules! list_type {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// The page.
            pub items: Vec<$item>,
            /// Cursor of the next page (pass as `after`); absent on the last page.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub next_after: Option<String>,
        }
    };
}

pub(crate) use list_type;

list_type!(OrgList, OrgView, "A page of organizations.");
list_type!(UserList, UserView, "A page of users.");
list_type!(ApiKeyList, ApiKeyView, "A page of API keys.");
list_type!(EventList, EventView, "A page of events.");
list_type!(OutboxList, OutboxView, "A page of queued and sent mails.");

/// The cursor after a page: the last item's, when the page is full.
pub(crate) fn next_after<T>(
    items: &[T],
    limit: u32,
    cursor: impl Fn(&T) -> String,
) -> Option<String> {
    (items.len() == limit as usize)
        .then(|| items.last().map(cursor))
        .flatten()
}

/// A session handed out by a login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionToken {
    /// Bearer token, shown once.
    pub token: String,
    /// Absolute end (RFC 3339).
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// End if unused (RFC 3339), absent without an idle timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub idle_expires_at: Option<String>,
}

/// A successful login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// The session (absent while a second factor is required: see `challenge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionToken>,
    /// With `mfa_required`: the challenge to send with a code to `POST /v1/orgs/{org}/login/mfa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// When the challenge ends (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub challenge_expires_at: Option<String>,
    /// The user id.
    pub user_id: String,
    /// The session may only change the password (`POST /v1/self/password`).
    pub password_change_required: bool,
    /// A second factor must be passed before the session is usable.
    pub mfa_required: bool,
    /// MFA is required and not enrolled: enroll before this time (RFC 3339); until then the
    /// session may only enroll a second factor (`/v1/self/mfa/totp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub mfa_enroll_by: Option<String>,
    /// When the password expires (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub password_expires_at: Option<String>,
    /// The previous login, with `show_recent_login_info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login: Option<LastLogin>,
    /// The login banner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
}

/// The answer of an unlock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnlockResponse {
    /// Whether a lock was in force and is now lifted.
    pub unlocked: bool,
}

/// The caller.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SelfView {
    /// The actor (`user:<id>`, `key:<id>`).
    pub actor: String,
    /// Organization, absent for instance keys.
    pub org_id: Option<String>,
    /// Roles.
    #[schema(value_type = Vec<RoleSchema>)]
    pub roles: Vec<Role>,
    /// The session may only change the password.
    pub password_change_only: bool,
    /// The user, for sessions and user keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
}
