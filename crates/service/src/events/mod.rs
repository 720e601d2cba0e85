//! Every event the service records, as one enum: its type names and the typed payload of each.
//!
//! Invariants:
//! - an event's wire type comes from [`DomainEvent::type_name`] alone and its payload from the
//!   variant's struct, so no event can be written under a misspelled name or with a stray field;
//! - [`EventKind::ALL`] lists every type, and the types listed in `docs/api.md` (§ Events) are
//!   exactly these (a test compares them);
//! - the store's `EventDraft` is built only by [`DomainEvent::draft`].

mod payloads;

pub use payloads::{
    AttemptFailed, BootstrapKeyCreated, Cleared, CounterSubject, InstanceKeyCreated, IpBlockAdded,
    KeyRef, LockChange, LoginRefused, LoginSucceeded, MfaFailed, OrgCreated, OrgKeyCreated,
    OrgSessionsEnded, PasswordExpiring, PasswordResetRequested, PasswordSetByAdmin,
    PasswordsExpired, PolicyChanged, PolicyReset, SessionRef, SessionsEnded, TokenIssued,
    UserChanged, UserCreated, UserDeleted, UserRef,
};

use portcullis_model::{OrgId, Timestamp};
use portcullis_store::EventDraft;
use serde_json::Value;

use crate::service::Context;

/// The part of a policy event's documented name that stands for the section.
pub const SECTION_PLACEHOLDER: &str = "<section>";

macro_rules! events {
    ($($(#[$doc:meta])* $variant:ident($payload:ty) = $name:literal,)*) => {
        /// The type of an event, without its payload.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
        }

        impl EventKind {
            /// Every event type.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The name as documented: the wire type, with [`SECTION_PLACEHOLDER`] standing
            /// for the section in the policy events.
            pub fn documented_name(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }
        }

        /// An event with its payload.
        #[derive(Clone, Debug, PartialEq)]
        pub enum DomainEvent {
            $($(#[$doc])* $variant($payload),)*
        }

        impl DomainEvent {
            /// Its type.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(DomainEvent::$variant(_) => EventKind::$variant,)*
                }
            }

            /// Its payload as JSON.
            pub fn payload(&self) -> Value {
                match self {
                    $(DomainEvent::$variant(p) => serde_json::to_value(p).unwrap_or_default(),)*
                }
            }
        }
    };
}

events! {
    /// An organization was created.
    OrgCreated(OrgCreated) = "org.created",
    /// A policy section was written.
    PolicyChanged(PolicyChanged) = "policy.<section>.changed",
    /// An organization's policy section was reset to the instance defaults.
    PolicyReset(PolicyReset) = "policy.<section>.reset",
    /// An administrator created a user.
    UserCreated(UserCreated) = "user.created",
    /// A user registered itself.
    UserRegistered(UserCreated) = "user.registered",
    /// A user's profile changed.
    UserChanged(UserChanged) = "user.changed",
    /// A user was deleted.
    UserDeleted(UserDeleted) = "user.deleted",
    /// An administrator set a user's password.
    PasswordSetByAdmin(PasswordSetByAdmin) = "user.password.set_by_admin",
    /// A user changed its own password.
    PasswordChanged(UserRef) = "user.password.changed",
    /// A password reset was asked for.
    PasswordResetRequested(PasswordResetRequested) = "user.password.reset_requested",
    /// A password was reset through a mailed link.
    PasswordReset(UserRef) = "user.password.reset",
    /// A password expires soon.
    PasswordExpiring(PasswordExpiring) = "user.password.expiring",
    /// A user proved its email address.
    EmailVerified(UserRef) = "user.email.verified",
    /// An administrator expired a user's password: its next login is limited to a change
    /// (the store adds `users`, 1).
    PasswordExpired(UserRef) = "user.password.expired",
    /// An administrator expired passwords of the organization (the store adds `users`).
    PasswordsExpired(PasswordsExpired) = "org.passwords_expired",
    /// Every session of a user ended (a lock, an administrator, or the user ending its others).
    SessionsEnded(SessionsEnded) = "user.sessions_ended",
    /// An administrator signed the whole organization out.
    OrgSessionsEnded(OrgSessionsEnded) = "org.sessions_ended",
    /// A login opened a session or a second-factor challenge.
    LoginSucceeded(LoginSucceeded) = "login.succeeded",
    /// A wrong password or unknown name was counted.
    LoginFailed(AttemptFailed) = "login.failed",
    /// A correct password was refused by the login decision.
    LoginRefused(LoginRefused) = "login.refused",
    /// A reservation was not completed in time and counted as a failure.
    AttemptExpired(AttemptFailed) = "login.attempt_expired",
    /// A wrong second-factor code.
    MfaFailed(MfaFailed) = "login.mfa_failed",
    /// An account counter locked.
    AccountLocked(LockChange) = "account.locked",
    /// An account lock ended by time.
    AccountLockExpired(LockChange) = "account.lock_expired",
    /// An account lock was lifted.
    AccountUnlocked(LockChange) = "account.unlocked",
    /// A client network was blocked.
    IpBlocked(LockChange) = "ip.blocked",
    /// A block ended by time.
    IpBlockExpired(LockChange) = "ip.block_expired",
    /// A block was lifted (a counted one, or an administrator's: `denylist: true`).
    IpUnblocked(LockChange) = "ip.unblocked",
    /// An administrator blocked an address or a network.
    IpBlockAdded(IpBlockAdded) = "ip.block_added",
    /// An administrator lifted every account lock of the organization at once.
    LocksCleared(Cleared) = "locks.cleared",
    /// An administrator lifted every block of the organization at once (counted blocks and
    /// administrators' blocks).
    IpBlocksCleared(Cleared) = "ip_blocks.cleared",
    /// A session was ended by its user.
    SessionEnded(SessionRef) = "session.ended",
    /// A session was revoked (its user no longer may hold it).
    SessionRevoked(SessionRef) = "session.revoked",
    /// An instance key was created at the first start.
    BootstrapKeyCreated(BootstrapKeyCreated) = "api_key.created",
    /// An instance key was created.
    InstanceKeyCreated(InstanceKeyCreated) = "api_key.created",
    /// An organization's API key was created.
    ApiKeyCreated(OrgKeyCreated) = "api_key.created",
    /// An organization's access key was created.
    AccessKeyCreated(OrgKeyCreated) = "access_key.created",
    /// An API key was deleted.
    ApiKeyDeleted(KeyRef) = "api_key.deleted",
    /// The client-credentials exchange issued an access token.
    TokenIssued(TokenIssued) = "oauth.token_issued",
    /// A second-factor enrollment started.
    MfaEnrollmentStarted(UserRef) = "mfa.enrollment_started",
    /// A second factor was confirmed.
    MfaEnrolled(UserRef) = "mfa.enrolled",
    /// A recovery code was used.
    MfaRecoveryCodeUsed(UserRef) = "mfa.recovery_code_used",
    /// A second factor was removed.
    MfaRemoved(UserRef) = "mfa.removed",
}

impl DomainEvent {
    /// The wire type (`account.locked`, `policy.lockout.changed`, ...).
    pub fn type_name(&self) -> String {
        let documented = self.kind().documented_name();
        match self {
            DomainEvent::PolicyChanged(PolicyChanged { section, .. })
            | DomainEvent::PolicyReset(PolicyReset { section }) => {
                documented.replace(SECTION_PLACEHOLDER, section.as_str())
            }
            _ => documented.to_owned(),
        }
    }

    /// The draft the store records: this event, by the context's actor in its request, about
    /// `org_id` (`None`: an instance event), at `at`, with no mail.
    pub fn draft(self, ctx: &Context, org_id: Option<&OrgId>, at: Timestamp) -> EventDraft {
        EventDraft {
            org_id: org_id.cloned(),
            kind: self.type_name(),
            actor: ctx.actor.clone(),
            request_id: ctx.request_id.clone(),
            at,
            payload: self.payload(),
            mail: None,
        }
    }
}

#[cfg(test)]
mod tests;
