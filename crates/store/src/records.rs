//! The records the store keeps. Plain data: no behavior beyond small accessors.
//!
//! Invariants: secrets never appear here in clear text — passwords only as PHC/bcrypt hashes,
//! session tokens and API keys only as hex SHA-256 digests (`token_hash`). Login names are kept
//! as given (`login`) and normalized (`login_key`, the unique key per organization).

use std::fmt;
use std::str::FromStr;

use portcullis_model::{OrgId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An access role (docs/design.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instance defaults and organizations; every organization's data.
    InstanceAdmin,
    /// Policies, users, unlocks and keys of one organization.
    OrgAdmin,
    /// Reads policies and events of one organization.
    OrgAuditor,
    /// Own password, sessions and keys.
    Member,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [
        Role::InstanceAdmin,
        Role::OrgAdmin,
        Role::OrgAuditor,
        Role::Member,
    ];

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::InstanceAdmin => "instance_admin",
            Role::OrgAdmin => "org_admin",
            Role::OrgAuditor => "org_auditor",
            Role::Member => "member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| format!("unknown role `{text}`"))
    }
}

/// An organization (tenant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    /// The organization's id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A user of one organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Store-wide unique id.
    pub id: String,
    /// Owning organization.
    pub org_id: OrgId,
    /// Login name as given.
    pub login: String,
    /// Normalized login name, unique in the organization.
    pub login_key: String,
    /// Email address.
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Where the user comes from (selects the password policy).
    pub source: Option<String>,
    /// Roles in the organization.
    pub roles: Vec<Role>,
    /// Disabled by an administrator.
    pub disabled: bool,
    /// Current password hash; `None` = no password (cannot log in with one).
    pub password_hash: Option<String>,
    /// Previous password hashes, newest first.
    pub password_history: Vec<String>,
    /// When the current password was set.
    pub password_changed_at: Option<Timestamp>,
    /// The current password was set by an administrator and not yet changed by the user.
    pub password_set_by_admin: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change of the record.
    pub updated_at: Timestamp,
    /// Last successful login.
    pub last_login_at: Option<Timestamp>,
    /// Client IP of the last successful login.
    pub last_login_ip: Option<String>,
    /// Registered itself and has not yet proved its email address (logins are refused while
    /// the organization forces email verification).
    pub verification_pending: bool,
    /// An administrator expired the current password at this time: the next login is limited
    /// to a change. A new password clears it.
    pub password_expired_at: Option<Timestamp>,
}

/// Profile fields an administrator may change (password and login state excluded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserProfile {
    /// Email address.
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Disabled flag.
    pub disabled: bool,
}

/// A new password for a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordUpdate {
    /// The new hash.
    pub hash: String,
    /// How many previous hashes to keep (the old current one is pushed first).
    pub keep_history: usize,
    /// When it was set.
    pub changed_at: Timestamp,
    /// Set by an administrator (`true`) or by the user.
    pub set_by_admin: bool,
    /// Write only if the user's current hash is this one (`Some(None)`: the user has no
    /// password); otherwise `VersionMismatch`. `None`: unconditional.
    pub expected_hash: Option<Option<String>>,
}

/// What a successful login records with its session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRecord {
    /// The hash the password was verified against: the session opens only if it is still the
    /// user's current hash (a password changed meanwhile wins).
    pub verified_hash: String,
    /// Client IP of the login.
    pub ip: String,
    /// A re-computed hash of the same password (new parameters), to store instead.
    pub rehash: Option<String>,
}

/// An authenticated session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Store-wide unique id.
    pub id: String,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Organization of the user.
    pub org_id: OrgId,
    /// The user.
    pub user_id: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last authenticated use.
    pub last_used_at: Timestamp,
    /// The session may only change the password.
    pub password_change_only: bool,
    /// How far the login got: a full session, a pending second factor, or a session that may
    /// only enroll one.
    pub stage: SessionStage,
    /// The client's address at the login (`None` for sessions opened before it was kept).
    pub client_ip: Option<String>,
    /// The client's `User-Agent` at the login, cut to [`USER_AGENT_MAX_CHARS`].
    pub user_agent: Option<String>,
}

/// The longest user agent a session keeps, in characters.
pub const USER_AGENT_MAX_CHARS: usize = 256;

/// How far a login got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStage {
    /// A session.
    #[default]
    Full,
    /// A second-factor challenge: no use but completing it.
    MfaChallenge,
    /// A session that may only enroll a second factor (MFA required, within its grace).
    MfaEnrollOnly,
}

impl SessionStage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Full => "full",
            SessionStage::MfaChallenge => "mfa_challenge",
            SessionStage::MfaEnrollOnly => "mfa_enroll_only",
        }
    }

    /// The stage of a stored name.
    pub fn parse(text: &str) -> Option<SessionStage> {
        match text {
            "full" => Some(SessionStage::Full),
            "mfa_challenge" => Some(SessionStage::MfaChallenge),
            "mfa_enroll_only" => Some(SessionStage::MfaEnrollOnly),
            _ => None,
        }
    }
}

/// What a factor write requires of the factor in place (checked in the write's transaction,
/// which holds the user's row, so concurrent writes on one user's factor take turns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FactorCondition {
    /// No confirmed factor (none, an enrollment in progress, or a removed one): a new
    /// enrollment.
    NotConfirmed,
    /// The enrollment in progress with exactly this sealed secret: its confirmation.
    Enrolling(String),
    /// A factor with a secret, confirmed or not: its removal.
    Present,
}

impl FactorCondition {
    /// Whether `current` satisfies the condition.
    pub fn holds(&self, current: Option<&MfaFactor>) -> bool {
        match self {
            FactorCondition::NotConfirmed => current.is_none_or(|f| f.confirmed_at.is_none()),
            FactorCondition::Enrolling(secret) => current.is_some_and(|f| {
                f.confirmed_at.is_none()
                    && !f.secret_sealed.is_empty()
                    && &f.secret_sealed == secret
            }),
            FactorCondition::Present => current.is_some_and(|f| !f.secret_sealed.is_empty()),
        }
    }
}

/// A user's TOTP second factor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaFactor {
    /// Organization.
    pub org_id: OrgId,
    /// The user.
    pub user_id: String,
    /// The TOTP secret, sealed with the instance master key.
    pub secret_sealed: String,
    /// When the user proved the factor works; `None` while enrolling.
    pub confirmed_at: Option<Timestamp>,
    /// The last TOTP step accepted (codes of this step or older are refused).
    pub last_step: u64,
    /// Hex SHA-256 of each unused recovery code.
    pub recovery_codes: Vec<String>,
    /// Enrollment start.
    pub created_at: Timestamp,
}

/// An API key. `org_id: None` = an instance-level key (instance administrators).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Store-wide unique id.
    pub id: String,
    /// Hex SHA-256 of the key.
    pub token_hash: String,
    /// Owning organization; `None` for instance keys.
    pub org_id: Option<OrgId>,
    /// The user it belongs to; `None` for a service account key.
    pub user_id: Option<String>,
    /// Name given at creation.
    pub name: String,
    /// Roles it carries.
    pub roles: Vec<Role>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry; `None` = none of its own.
    pub expires_at: Option<Timestamp>,
    /// For an access key (signed requests): its secret, sealed with the instance master key.
    /// `None` for a bearer key.
    pub sealed_secret: Option<String>,
    /// For an access token of the client-credentials exchange: the key it was issued for (it
    /// works only while that key does).
    pub parent_id: Option<String>,
}

/// What [`crate::ApiKeyStore::delete_instance_key`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceKeyDeletion {
    /// The key is gone, its event written.
    Deleted,
    /// No instance key has this id (nothing written).
    NotFound,
    /// It is the last instance key: kept, nothing written.
    LastKey,
}

/// Whose policy section a row is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The instance defaults.
    Instance,
    /// An organization's custom copy.
    Org(OrgId),
}

impl Owner {
    /// The organization id, if any.
    pub fn org_id(&self) -> Option<&OrgId> {
        match self {
            Owner::Instance => None,
            Owner::Org(id) => Some(id),
        }
    }
}

/// One stored policy section, as JSON (the service validates it back into the model).
#[derive(Clone, Debug, PartialEq)]
pub struct SectionRow {
    /// Section name (`lockout`, `brute_force`, ...).
    pub section: String,
    /// The section value, canonical JSON.
    pub value: Value,
    /// Sequence of the event that last wrote it.
    pub sequence: u64,
    /// First write.
    pub created_at: Timestamp,
    /// Last write.
    pub changed_at: Timestamp,
}

/// One section write of a [`crate::PolicyStore::write_sections`] batch.
#[derive(Clone, Debug, PartialEq)]
pub struct SectionChange {
    /// Section name.
    pub section: String,
    /// The new value, canonical JSON; `None` resets: the organization's own row is deleted and
    /// it inherits the instance default again (never for the instance's own sections).
    pub value: Option<Value>,
    /// The sequence the row must have (0 = must not exist), or `None` for an unconditional write.
    pub expected_sequence: Option<u64>,
    /// The event describing this change; the row's `sequence` becomes its sequence.
    pub event: EventDraft,
}

/// An event to record in the same transaction as the change it describes.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDraft {
    /// Organization it concerns; `None` for instance events.
    pub org_id: Option<OrgId>,
    /// Type, e.g. `policy.lockout.changed`, `account.locked`.
    pub kind: String,
    /// Who did it (`key:<id>`, `user:<id>`, `system`, `anonymous`).
    pub actor: String,
    /// Request that caused it.
    pub request_id: Option<String>,
    /// When.
    pub at: Timestamp,
    /// Details; never a secret.
    pub payload: Value,
    /// A mail the event causes, queued in the outbox in the same transaction.
    pub mail: Option<MailDraft>,
}

/// A mail to queue in the outbox with the event that causes it.
///
/// Invariant: it holds no secret. A mail that carries a one-time link keeps the link's claims
/// (`token_claims`, not secret) and the text holds the `{token}` placeholder; the sender signs
/// the claims into the token when it delivers the mail.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MailDraft {
    /// What it is about (`account_locked`, `ip_blocked`, `password_expiring`, ...).
    pub kind: String,
    /// An email address, or [`ORG_ADMINS`] (the organization's administrators, resolved when
    /// sending).
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body, with `{token}` where the signed token goes.
    pub body: String,
    /// The claims of the one-time token the mail carries.
    pub token_claims: Option<Value>,
    /// At most one mail of an organization has a given key (see `Store::queue_mail_once`).
    pub dedupe_key: Option<String>,
}

/// The recipient that stands for every administrator of the organization with an address.
pub const ORG_ADMINS: &str = "org_admins";

/// A mail in the outbox.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutboxMail {
    /// Instance-wide, increasing.
    pub id: u64,
    /// Organization it concerns.
    pub org_id: Option<OrgId>,
    /// Sequence of the event that queued it.
    pub event_sequence: u64,
    /// The queued draft.
    #[serde(flatten)]
    pub draft: MailDraft,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    /// Delivery attempts started.
    pub attempts: u32,
    /// Not tried again before this time.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: Timestamp,
    /// When the SMTP server accepted it; `None` while queued.
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<Timestamp>,
    /// When it was given up (it can never be sent: refused for good, or its link expired).
    #[serde(with = "time::serde::rfc3339::option")]
    pub given_up_at: Option<Timestamp>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// How a delivery attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailOutcome {
    /// Accepted by the SMTP server at this time.
    Sent(Timestamp),
    /// Refused or unreachable for now: try again at `retry_at`.
    Failed {
        /// Next attempt.
        retry_at: Timestamp,
        /// What went wrong (no secret).
        error: String,
    },
    /// It can never be sent (refused for good, or its one-time link expired): stop trying.
    GaveUp {
        /// When.
        at: Timestamp,
        /// Why (no secret).
        error: String,
    },
}

/// A recorded event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Instance-wide, strictly increasing.
    pub sequence: u64,
    /// Organization it concerns.
    pub org_id: Option<OrgId>,
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// Request that caused it.
    pub request_id: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// Details.
    pub payload: Value,
}

impl Event {
    /// The recorded form of a draft.
    pub fn from_draft(sequence: u64, draft: EventDraft) -> Event {
        Event {
            sequence,
            org_id: draft.org_id,
            kind: draft.kind,
            actor: draft.actor,
            request_id: draft.request_id,
            at: draft.at,
            payload: draft.payload,
        }
    }
}

/// A page request over a list ordered by id (or sequence, for events).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Only items after this cursor.
    pub after: Option<String>,
    /// At most this many (the service caps it).
    pub limit: u32,
}

impl Page {
    /// The cursor of a list ordered by a numeric id: `Some(0)` without one, `None` when it is
    /// not a number (the service refuses such a cursor; a store answers an empty page).
    pub fn after_number(&self) -> Option<u64> {
        match self.after.as_deref() {
            None => Some(0),
            Some(cursor) => cursor.parse().ok(),
        }
    }
}

/// A counter that holds a lock, as [`CounterStore::locked_counters`](crate::CounterStore::locked_counters)
/// lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedCounter {
    /// The counter's key (`password|…`, `otp|…`, `ip|…`).
    pub key: String,
    /// Its state (read it: a lock whose end has passed may not be settled yet).
    pub state: portcullis_engine::counter::CounterState,
    /// The normalized login name of a lockout counter.
    pub login_key: Option<String>,
    /// The login name as typed by the attempt that last changed the counter, when known.
    pub label: Option<String>,
}

/// An administrator's block of an address or a network (a denylist entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpDenial {
    /// The organization.
    pub org_id: OrgId,
    /// The blocked network (a single address is a full-length prefix), in canonical form: its
    /// host bits are zero and an IPv4-mapped IPv6 network is written as IPv4.
    pub network: ipnet::IpNet,
    /// When it was added (or last replaced).
    pub created_at: Timestamp,
    /// When it ends by itself; `None` = permanent (until lifted).
    pub until: Option<Timestamp>,
    /// Who added it.
    pub actor: String,
}

impl IpDenial {
    /// The text form used as its key, in lists and events: a bare address for a single one
    /// (`192.0.2.7`), else the network (`10.0.0.0/8`).
    pub fn label(&self) -> String {
        portcullis_engine::ip_block::source_label(self.network)
    }

    /// Whether it is in force at `now`.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}
