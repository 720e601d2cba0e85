//! The documented form of the service's and the store's answers: one view per answer type,
//! built by a `From` that names every field of its source, so a field added to or dropped from
//! the service's type fails to compile here until the view (and so `/openapi.json`) follows.
//!
//! Invariant: each view serializes exactly as its source did (same names, RFC 3339 instants).

use portcullis_model::{SectionDetails, SectionKind, SectionValue, Timestamp, Violation};
use portcullis_service as service;
use portcullis_store::Role;
use serde::Serialize;
use serde_json::Value;

use crate::schemas::{RoleSchema, SectionSchema};

/// A user as the API shows it: never the hash or the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Id.
    pub id: String,
    /// Organization.
    pub org_id: String,
    /// Login name.
    pub login: String,
    /// Email.
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Roles.
    #[schema(value_type = Vec<RoleSchema>)]
    pub roles: Vec<Role>,
    /// Disabled.
    pub disabled: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// When the password was set.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub password_changed_at: Option<Timestamp>,
    /// The next login must change the password (set by an administrator, or expired by one).
    pub password_change_required: bool,
    /// When an administrator expired the password; cleared by a new password.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub password_expired_at: Option<Timestamp>,
    /// Creation.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Last successful login.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<Timestamp>,
    /// IP of the last successful login.
    pub last_login_ip: Option<String>,
    /// Registered itself and has not verified its email address yet.
    pub email_verification_pending: bool,
    /// Its lock state, in reads (`GET` of a user and the user list); absent in the answers of
    /// writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<UserLock>,
}

/// Whether a user is locked now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserLock {
    /// A password or one-time-code lock of its login name is in force.
    pub locked: bool,
    /// When the longest of them ends; `null` while locked: until unlocked.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
}

impl From<service::UserLock> for UserLock {
    fn from(l: service::UserLock) -> UserLock {
        let service::UserLock { locked, until } = l;
        UserLock { locked, until }
    }
}

impl From<service::UserView> for UserView {
    fn from(u: service::UserView) -> UserView {
        let service::UserView {
            id,
            org_id,
            login,
            email,
            display_name,
            source,
            roles,
            disabled,
            has_password,
            password_changed_at,
            password_change_required,
            password_expired_at,
            created_at,
            updated_at,
            last_login_at,
            last_login_ip,
            email_verification_pending,
            lock,
        } = u;
        UserView {
            id,
            org_id,
            login,
            email,
            display_name,
            source,
            roles,
            disabled,
            has_password,
            password_changed_at,
            password_change_required,
            password_expired_at,
            created_at,
            updated_at,
            last_login_at,
            last_login_ip,
            email_verification_pending,
            lock: lock.map(Into::into),
        }
    }
}

/// A user's lock state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LockView {
    /// Locked now.
    pub locked: bool,
    /// Since when.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_since: Option<Timestamp>,
    /// Until when (none while locked = until unlocked).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_until: Option<Timestamp>,
    /// Failures counted in the current cycle.
    pub failures: u32,
    /// Attempts in flight.
    pub in_flight: usize,
}

impl From<service::LockView> for LockView {
    fn from(l: service::LockView) -> LockView {
        let service::LockView {
            locked,
            locked_since,
            locked_until,
            failures,
            in_flight,
        } = l;
        LockView {
            locked,
            locked_since,
            locked_until,
            failures,
            in_flight,
        }
    }
}

/// What a key is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// A bearer key (`Authorization: Bearer <key>`).
    Bearer,
    /// An access key: its id names it and its secret signs requests (never sent).
    Access,
}

impl From<service::KeyKind> for KeyKind {
    fn from(k: service::KeyKind) -> KeyKind {
        match k {
            service::KeyKind::Bearer => KeyKind::Bearer,
            service::KeyKind::Access => KeyKind::Access,
        }
    }
}

/// A key as listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    #[schema(value_type = Vec<RoleSchema>)]
    pub roles: Vec<Role>,
    /// Creation.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// `bearer` (sent as `Authorization: Bearer`) or `access` (an access key that signs requests).
    pub kind: KeyKind,
}

impl From<service::ApiKeyView> for ApiKeyView {
    fn from(k: service::ApiKeyView) -> ApiKeyView {
        let service::ApiKeyView {
            id,
            name,
            org_id,
            user_id,
            roles,
            created_at,
            expires_at,
            kind,
        } = k;
        ApiKeyView {
            id,
            name,
            org_id,
            user_id,
            roles,
            created_at,
            expires_at,
            kind: kind.into(),
        }
    }
}

/// A new key with its secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The key as listed.
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// The secret (`Authorization: Bearer <key>`). Not retrievable later.
    pub key: String,
}

impl From<service::CreatedApiKey> for CreatedApiKey {
    fn from(k: service::CreatedApiKey) -> CreatedApiKey {
        let service::CreatedApiKey { view, key } = k;
        CreatedApiKey {
            view: view.into(),
            key,
        }
    }
}

/// A new access key with its secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CreatedAccessKey {
    /// The key as listed (its `id` is the access key id).
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// The secret that signs requests. Not retrievable later.
    pub secret: String,
}

impl From<service::CreatedAccessKey> for CreatedAccessKey {
    fn from(k: service::CreatedAccessKey) -> CreatedAccessKey {
        let service::CreatedAccessKey { view, secret } = k;
        CreatedAccessKey {
            view: view.into(),
            secret,
        }
    }
}

/// A mail as administrators see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxView {
    /// Id (the paging cursor).
    pub id: u64,
    /// `account_locked`, `ip_blocked`, `password_expiring`, `password_changed`,
    /// `password_reset`, `verify_email`.
    pub kind: String,
    /// An address, or `org_admins`.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// The text, with `{token}` where a one-time token goes when sent.
    pub body: String,
    /// `queued`, `sent` or `given_up`.
    pub status: &'static str,
    /// Delivery attempts started.
    pub attempts: u32,
    /// The event that queued it.
    pub event_sequence: u64,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Not tried again before.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    /// When the server accepted it.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<Timestamp>,
    /// When it was given up.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub given_up_at: Option<Timestamp>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl From<service::OutboxView> for OutboxView {
    fn from(m: service::OutboxView) -> OutboxView {
        let service::OutboxView {
            id,
            kind,
            recipient,
            subject,
            body,
            status,
            attempts,
            event_sequence,
            created_at,
            next_attempt_at,
            sent_at,
            given_up_at,
            last_error,
        } = m;
        OutboxView {
            id,
            kind,
            recipient,
            subject,
            body,
            status,
            attempts,
            event_sequence,
            created_at,
            next_attempt_at,
            sent_at,
            given_up_at,
            last_error,
        }
    }
}

/// The previous successful login, shown when `show_recent_login_info` is on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LastLogin {
    /// When (none: first login).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Timestamp>,
    /// From where.
    pub ip: Option<String>,
    /// Failed attempts counted since (in the current lockout cycle).
    pub failed_attempts: u32,
}

impl From<service::LastLogin> for LastLogin {
    fn from(l: service::LastLogin) -> LastLogin {
        let service::LastLogin {
            at,
            ip,
            failed_attempts,
        } = l;
        LastLogin {
            at,
            ip,
            failed_attempts,
        }
    }
}

/// A started enrollment: what the user's authenticator app needs. Shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TotpEnrollment {
    /// The secret, base32 (to type in).
    pub secret: String,
    /// The `otpauth://` URI (to scan as a QR code).
    pub otpauth_uri: String,
}

impl From<service::TotpEnrollment> for TotpEnrollment {
    fn from(e: service::TotpEnrollment) -> TotpEnrollment {
        let service::TotpEnrollment {
            secret,
            otpauth_uri,
        } = e;
        TotpEnrollment {
            secret,
            otpauth_uri,
        }
    }
}

/// The recovery codes of a confirmed factor. Shown once; each works once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes.
    pub recovery_codes: Vec<String>,
}

impl From<service::RecoveryCodes> for RecoveryCodes {
    fn from(r: service::RecoveryCodes) -> RecoveryCodes {
        let service::RecoveryCodes { recovery_codes } = r;
        RecoveryCodes { recovery_codes }
    }
}

/// One section as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SectionView {
    /// Section name.
    pub section: SectionKind,
    /// Inherited from the instance (for an organization) or never written (for the instance).
    pub is_default: bool,
    /// Sequence, dates, owner.
    pub details: SectionDetails,
    /// The value: the schema of the section named by `section`.
    #[schema(value_type = SectionSchema)]
    pub value: SectionValue,
}

impl From<service::SectionView> for SectionView {
    fn from(v: service::SectionView) -> SectionView {
        let service::SectionView {
            section,
            is_default,
            details,
            value,
        } = v;
        SectionView {
            section,
            is_default,
            details,
            value,
        }
    }
}

/// The answer of a dry-run check.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordCheckResult {
    /// No violation.
    pub valid: bool,
    /// Every violation.
    #[schema(value_type = Vec<Object>)]
    pub violations: Vec<Violation>,
    /// The password policy that was applied.
    pub policy_id: String,
}

impl From<service::PasswordCheckResult> for PasswordCheckResult {
    fn from(r: service::PasswordCheckResult) -> PasswordCheckResult {
        let service::PasswordCheckResult {
            valid,
            violations,
            policy_id,
        } = r;
        PasswordCheckResult {
            valid,
            violations,
            policy_id,
        }
    }
}

/// A recorded event (`type`: see `portcullis_service::events::EventKind`).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Event)]
pub struct EventView {
    /// Instance-wide, strictly increasing.
    pub sequence: u64,
    /// Organization it concerns.
    pub org_id: Option<String>,
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// Request that caused it.
    pub request_id: Option<String>,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// Details.
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<portcullis_store::Event> for EventView {
    fn from(e: portcullis_store::Event) -> EventView {
        let portcullis_store::Event {
            sequence,
            org_id,
            kind,
            actor,
            request_id,
            at,
            payload,
        } = e;
        EventView {
            sequence,
            org_id: org_id.map(|org| org.to_string()),
            kind,
            actor,
            request_id,
            at,
            payload,
        }
    }
}

/// One session of a user (never its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// The session's id.
    pub id: String,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Its last authenticated use.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_used_at: Timestamp,
    /// Its absolute end under the current policy.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    /// Its end if unused, under the current policy (none without an idle timeout).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub idle_expires_at: Option<Timestamp>,
    /// The client's address at the login (none for sessions opened before it was kept).
    pub client_ip: Option<String>,
    /// The client's `User-Agent` at the login, as the client sent it (control characters
    /// dropped, at most 256 characters).
    pub user_agent: Option<String>,
    /// The session of this request.
    pub current: bool,
    /// It may only change its password or enroll a second factor.
    pub restricted: bool,
}

impl From<service::SessionView> for SessionView {
    fn from(s: service::SessionView) -> SessionView {
        let service::SessionView {
            id,
            created_at,
            last_used_at,
            expires_at,
            idle_expires_at,
            client_ip,
            user_agent,
            current,
            restricted,
        } = s;
        SessionView {
            id,
            created_at,
            last_used_at,
            expires_at,
            idle_expires_at,
            client_ip,
            user_agent,
            current,
            restricted,
        }
    }
}

/// One page of a user's live sessions, ordered by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SessionList {
    /// The live sessions of this page (a page may hold fewer than asked: sessions that have
    /// ended are left out).
    pub items: Vec<SessionView>,
    /// Cursor of the next page (pass as `after`); absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

impl From<service::SessionPage> for SessionList {
    fn from(p: service::SessionPage) -> SessionList {
        let service::SessionPage { items, next_after } = p;
        SessionList {
            items: items.into_iter().map(Into::into).collect(),
            next_after,
        }
    }
}

/// How many sessions ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SessionsEnded {
    /// The count.
    pub ended: u64,
}
