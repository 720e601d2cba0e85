//! The portcullis service: applies the engine's decisions to the store atomically
//! (docs/design.md §3–5).
//!
//! Invariants:
//! - every change is one store call that writes the change and its events together;
//! - counters (lockout keys, IP blocks) change only through [`portcullis_store::CounterStore::update_counter`],
//!   whose closure runs one pure engine transition;
//! - time comes from the injected [`Clock`]; nothing here reads the wall clock;
//! - every operation on organization data first checks the [`Caller`] (roles, isolation);
//! - no password, token or key is logged or put in an event; tokens are stored hashed.

mod access_keys;
mod action_token;
mod api_keys;
mod attack_summary;
mod auth;
mod breached;
mod caller;
mod client_credentials;
mod clock;
mod compliance;
mod console_sessions;
mod counters;
mod error;
pub mod events;
mod hash_pool;
mod hosted;
mod instance_keys;
mod ip_blocks;
mod key_cache;
mod locks;
mod login;
mod login_answers;
mod mail;
mod master_key;
mod metrics;
mod mfa;
mod orgs;
mod outbox;
mod password_expiry;
mod policies;
mod policy_cache;
mod policy_patch;
mod policy_replace;
mod secrets;
mod self_service;
mod service;
mod sessions;
mod sweep;
mod text;
mod users;

pub use access_keys::{ACCESS_KEY_PREFIX, CreatedAccessKey};
pub use api_keys::{ApiKeyView, CreatedApiKey, KeyFormat, KeyKind, NewApiKey};
pub use attack_summary::{AttackSummary, HourCounts, MAX_HOURS};
pub use breached::{BreachedPasswords, BreachedUnavailable};
pub use caller::{Action, Caller, OrgGrant};
pub use client_credentials::IssuedToken;
pub use clock::{Clock, ManualClock, SystemClock};
pub use compliance::{ComplianceApply, StandardInfo, standard_named};
pub use console_sessions::{CONSOLE_KEY_NAME, CONSOLE_SESSION_SECONDS};
pub use error::{ServiceError, ServiceResult};
pub use hosted::HostedOrg;
pub use instance_keys::{NewInstanceKey, RECOVERY_ACTOR};
pub use ip_blocks::{BlockOrigin, IpBlockEntry, NewIpBlock, PERMANENT_RETRY_AFTER, parse_network};
pub use key_cache::DEFAULT_KEY_CACHE_ENTRIES;
pub use locks::{LockEntry, LockFilter, LockKind};
pub use login_answers::{LastLogin, LoginAnswer, LoginGranted, LoginRequest, MfaChallenge};
pub use master_key::MasterKey;
pub use metrics::{LoginResult, Metrics, SweptKind};
pub use mfa::{CHALLENGE_SECONDS, MfaLoginRequest, RecoveryCodes, TotpEnrollment};
pub use orgs::NewOrg;
pub use outbox::{
    DeliveryReport, MailTransport, OutboxView, OutgoingMail, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS,
    SEND_LEASE_SECONDS, SendError, retry_delay,
};
pub use policies::{PasswordCheckRequest, PasswordCheckResult, SectionView, SectionWrite};
pub use policy_cache::DEFAULT_POLICY_CACHE_ENTRIES;
pub use policy_patch::{PatchError, PatchOutcome, PolicyScope, Precondition};
pub use policy_replace::{ReplaceOutcome, instance_policy_version, org_policy_version};
pub use secrets::{
    API_KEY_PREFIX, SCALEWAY_KEY_ID_PREFIX, SESSION_PREFIX, new_request_id, token_hash,
};
pub use self_service::Registration;
pub use service::{Context, INSTANCE_ID, Service};
pub use sessions::{SessionPage, SessionView};
pub use sweep::{Retention, SweepReport};

/// Stable violation codes of the service (the model's and the engine's are in their crates).
pub mod codes {
    pub use crate::api_keys::ROLE_NOT_HELD;
    pub use crate::ip_blocks::IP_BLOCK_ALLOWLISTED;
    pub use crate::mfa::{CODE_INVALID, PASSWORD_INCORRECT};
    pub use crate::policies::DEFAULT_NOT_DELETABLE;
    pub use crate::self_service::{EMAIL_INVALID, EMAIL_TAKEN, TOKEN_INVALID};
    pub use crate::users::ROLE_NOT_ALLOWED;
}
pub use users::{LockView, NewUser, UserLock, UserPatch, UserView};
