//! The payload of every event type, one struct per shape.
//!
//! Invariants: a payload never holds a password, token, key or secret; each struct serializes to
//! exactly the JSON object the event carries (an absent optional field is left out only where
//! the field is marked so; elsewhere it is written as `null`).

use portcullis_model::{SectionKind, Timestamp, rfc3339};
use portcullis_store::Role;
use serde::Serialize;
use serde_json::Value;

fn is_false(flag: &bool) -> bool {
    !*flag
}

/// Whom a counter event is about: the fields the counter's transition was called with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CounterSubject {
    /// The normalized login name of a lockout counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// The client address of the attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The source network an IP counter counts (an address, or a prefix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The second factor of a one-time-code counter (`totp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factor: Option<&'static str>,
    /// The stored counter key (unlocks and sweeps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The attempt was a self-registration (`register`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<&'static str>,
    /// The transition was a sweep's.
    #[serde(skip_serializing_if = "is_false")]
    pub sweep: bool,
    /// The block was an administrator's (a denylist entry), not a counted one.
    #[serde(skip_serializing_if = "is_false")]
    pub denylist: bool,
}

/// An administrator's block of an address or network (`ip.block_added`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpBlockAdded {
    /// The blocked address or network.
    pub network: String,
    /// When it ends (RFC 3339); `null`: permanent. (The store adds `replaced`: whether it
    /// replaced an earlier block of the same network.)
    pub until: Option<String>,
}

/// A bulk clear (`locks.cleared`, `ip_blocks.cleared`); the store adds `count`, how many
/// locks or blocks it lifted, in the same transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cleared {}

impl CounterSubject {
    /// A login attempt on `login` from `ip`.
    pub fn login(login: &str, ip: &str) -> CounterSubject {
        CounterSubject {
            login: Some(login.to_owned()),
            ip: Some(ip.to_owned()),
            ..CounterSubject::default()
        }
    }
}

/// A lock placed, ended or lifted (`account.*`, `ip.*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockChange {
    /// The counter.
    #[serde(flatten)]
    pub subject: CounterSubject,
    /// When the lock ends by itself (RFC 3339); `null`: until unlocked.
    pub until: Option<String>,
}

impl LockChange {
    /// The change of a lock ending at `until`.
    pub fn new(subject: CounterSubject, until: Option<Timestamp>) -> LockChange {
        LockChange {
            subject,
            until: until.map(rfc3339),
        }
    }
}

/// A counted failure or an expired attempt (`login.failed`, `login.attempt_expired`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttemptFailed {
    /// The counter.
    #[serde(flatten)]
    pub subject: CounterSubject,
    /// The user, when the name is a user's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// Something that happened to one user, told by its id alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserRef {
    /// The user.
    pub user_id: String,
}

/// An organization created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgCreated {
    /// Its display name.
    pub name: String,
}

/// A policy section written.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyChanged {
    /// The section.
    pub section: SectionKind,
    /// Its new value, canonical JSON.
    pub value: Value,
}

/// A policy section reset to the instance defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyReset {
    /// The section.
    pub section: SectionKind,
}

/// A user created by an administrator or by registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserCreated {
    /// The user.
    pub user_id: String,
    /// Login name as given.
    pub login: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// A user's profile changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserChanged {
    /// The user.
    pub user_id: String,
    /// Roles now.
    pub roles: Vec<Role>,
    /// Disabled now.
    pub disabled: bool,
}

/// A user deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserDeleted {
    /// The user.
    pub user_id: String,
    /// `self` when the user deleted itself; absent for an administrator's deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'static str>,
}

/// A password set by an administrator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PasswordSetByAdmin {
    /// The user.
    pub user_id: String,
    /// The user must change it at the next login.
    pub change_required: bool,
}

/// A password reset asked for (whether or not the name is a user's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PasswordResetRequested {
    /// The normalized name asked for, `null` when no user could have it.
    pub login: Option<String>,
    /// The user, `null` when the name is nobody's.
    pub user_id: Option<String>,
}

/// A password that expires soon (its mail is queued).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PasswordExpiring {
    /// The user.
    pub user_id: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
}

/// Every session of a user ended, or every one but the caller's (the store adds `sessions`,
/// the count).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionsEnded {
    /// The user.
    pub user_id: String,
    /// Why: `locked` (a lock ended them), `admin` (an administrator did), `self` (the user
    /// ended its other sessions).
    pub reason: &'static str,
}

/// Every session of an organization ended (the store adds `sessions`, the count).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgSessionsEnded {
    /// The caller's own session, left open.
    pub kept_session_id: Option<String>,
}

/// Passwords of an organization expired by an administrator (the store adds `users`, the
/// count).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PasswordsExpired {
    /// Only the passwords set before this time (RFC 3339); none: every password.
    pub changed_before: Option<String>,
}

/// A login that opened a session (or a second-factor challenge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoginSucceeded {
    /// The user.
    pub user_id: String,
    /// The session.
    pub session_id: String,
    /// Client address.
    pub ip: String,
    /// The session may only change the password.
    pub password_change_required: bool,
    /// The session's stage, for a password step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<&'static str>,
    /// `true` when a second factor completed the login.
    #[serde(skip_serializing_if = "is_false")]
    pub mfa: bool,
}

/// A correct password refused by the login decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoginRefused {
    /// The user.
    pub user_id: String,
    /// The refusal, the login result label (`account_disabled`, ...).
    pub reason: &'static str,
    /// Client address.
    pub ip: String,
}

/// A wrong second-factor code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MfaFailed {
    /// The user.
    pub user_id: String,
    /// Client address.
    pub ip: String,
}

/// A session ended or revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionRef {
    /// The session.
    pub session_id: String,
}

/// An API key deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyRef {
    /// The key.
    pub key_id: String,
}

/// An instance key created at the first start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BootstrapKeyCreated {
    /// The key.
    pub key_id: String,
    /// Always `true`.
    pub bootstrap: bool,
}

/// An instance key created by an administrator or by `portcullis admin recover`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstanceKeyCreated {
    /// The key.
    pub key_id: String,
    /// Its name.
    pub name: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// `true` for a key made offline by the recovery command.
    #[serde(skip_serializing_if = "is_false")]
    pub recovery: bool,
}

/// An organization's API key or access key created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgKeyCreated {
    /// The key.
    pub key_id: String,
    /// Its name.
    pub name: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// The user it belongs to; `null` for a service account key.
    pub user_id: Option<String>,
    /// The creator manages the organization's keys (else the key is its own).
    pub manage: bool,
}

/// An access token issued by the client-credentials exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenIssued {
    /// The token's key.
    pub key_id: String,
    /// The key that bought it.
    pub client_id: String,
    /// Its expiry, Unix seconds.
    pub expires_at: i64,
}
