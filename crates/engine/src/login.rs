//! What a login becomes once the password is verified (docs/design.md §3.1 step 5).
//!
//! Order: a disabled or inactive account is refused; then a password expired beyond its grace;
//! then MFA enrollment overdue. Otherwise the login proceeds with two independent requirements
//! that the caller applies in this order: the MFA step (challenge, or a session limited to
//! enrolling while the grace lasts), then a password change (session limited to changing it).
//! Doing MFA first means a restricted session is never granted on the password alone.
//!
//! Grace rules (see docs/decisions/0003): an expired password logs in (restricted) until
//! `expires_at + grace_period`; a password an administrator expired logs in restricted until
//! changed (the policy's own expiry, when past its grace, still refuses); an administrator-set password under `renew_on_first_login`
//! always logs in restricted until changed; MFA enrollment is allowed until
//! `mfa_required_since + grace_period`. `require_mfa_untrusted_geographies` is not enforced
//! (no GeoIP database yet).

use std::net::IpAddr;

use portcullis_model::{MfaPolicy, PasswordPolicy, SessionPolicy, Timestamp, net::parse_networks};

use crate::ip_block::canonical_ip;
use crate::password_age::expires_at;
use crate::time_math::{plus, plus_days};

/// What the engine needs to know about the user who just gave a correct password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFacts {
    /// An administrator disabled the account.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: Timestamp,
    /// The last successful login, if any.
    pub last_login_at: Option<Timestamp>,
    /// When the current password was set.
    pub password_changed_at: Timestamp,
    /// The current password was set by an administrator and not yet changed by the user.
    pub password_set_by_admin: bool,
    /// An administrator expired the current password at this time.
    pub password_expired_at: Option<Timestamp>,
    /// The password satisfies the current policy (checked with the plaintext at login).
    pub password_compliant: bool,
    /// The user has a confirmed second factor.
    pub mfa_enrolled: bool,
    /// When MFA became required for this user (the later of its creation and the policy change
    /// that required it); the enrollment grace runs from here.
    pub mfa_required_since: Timestamp,
    /// The user registered itself, has not proved its email address, and the organization
    /// forces email verification.
    pub email_unverified: bool,
}

/// When MFA became required for a user, from which its enrollment grace runs: the latest of
/// its creation, the last change of a section that can require MFA (`sections_changed_at`)
/// and the removal of its factor.
pub fn mfa_required_since(
    created_at: Timestamp,
    sections_changed_at: &[Timestamp],
    factor_removed_at: Option<Timestamp>,
) -> Timestamp {
    sections_changed_at
        .iter()
        .copied()
        .chain(factor_removed_at)
        .fold(created_at, Timestamp::max)
}

/// The policies that apply to the login.
#[derive(Clone, Copy, Debug)]
pub struct LoginPolicies<'a> {
    /// The user's password policy (chosen by its source).
    pub password: &'a PasswordPolicy,
    /// The organization's session section.
    pub session: &'a SessionPolicy,
    /// The organization's MFA section.
    pub mfa: &'a MfaPolicy,
}

/// Why a login with a correct password is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginRefusal {
    /// Disabled by an administrator.
    AccountDisabled,
    /// Not used for longer than `account_validity_days`.
    AccountInactive,
    /// Expired, and the grace period is over.
    PasswordExpired,
    /// MFA is required, the user has none, and the enrollment grace is over.
    MfaEnrollmentOverdue,
    /// A self-registered user whose email address is not verified yet (verification forced).
    EmailNotVerified,
}

/// Why the password must be changed before anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeReason {
    /// Expired at `expired_at`; the restricted login works until `grace_until`.
    Expired {
        /// When the password expired.
        expired_at: Timestamp,
        /// End of the grace period.
        grace_until: Timestamp,
    },
    /// Expired by an administrator at `at` (no grace end: the password still opens a session
    /// limited to changing it).
    ExpiredByAdmin {
        /// When it was expired.
        at: Timestamp,
    },
    /// Set by an administrator under `renew_on_first_login`.
    FirstLogin,
    /// No longer satisfies the policy.
    NonCompliant,
}

/// The second-factor step of a login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfaStep {
    /// No second factor needed.
    None,
    /// The user must pass its second factor (`mfa_required` with a challenge).
    Challenge,
    /// MFA is required and the user has none: a session limited to enrolling, until `until`.
    Enroll {
        /// End of the enrollment grace.
        until: Timestamp,
    },
}

/// A login that may proceed, with what must happen first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginGrant {
    /// The second-factor step (applied first).
    pub mfa: MfaStep,
    /// A required password change (the session is limited to it).
    pub password_change: Option<ChangeReason>,
    /// When the password expires, if it does.
    pub password_expires_at: Option<Timestamp>,
}

/// Whether MFA is required for a login from `ip` under these policies.
pub fn mfa_required(password: &PasswordPolicy, mfa: &MfaPolicy, ip: IpAddr) -> bool {
    let off_network = || {
        let ip = canonical_ip(ip);
        !parse_networks(&mfa.trusted_networks)
            .iter()
            .any(|n| n.contains(&ip))
    };
    mfa.required
        || password.require_mfa
        || ((mfa.required_off_network || password.require_mfa_off_network) && off_network())
}

/// Decides what a login with a verified password becomes.
pub fn decide_login(
    policies: LoginPolicies<'_>,
    user: &UserFacts,
    client_ip: IpAddr,
    now: Timestamp,
) -> Result<LoginGrant, LoginRefusal> {
    if user.disabled {
        return Err(LoginRefusal::AccountDisabled);
    }
    if user.email_unverified {
        return Err(LoginRefusal::EmailNotVerified);
    }
    if policies.session.account_validity_days > 0 {
        let last_seen = user.last_login_at.unwrap_or(user.created_at);
        if now >= plus_days(last_seen, policies.session.account_validity_days) {
            return Err(LoginRefusal::AccountInactive);
        }
    }

    let password = policies.password;
    let expiry = expires_at(password, user.password_changed_at);
    let mut password_change = None;
    if let Some(expired_at) = expiry.filter(|at| now >= *at) {
        let grace_until = plus(expired_at, password.grace_period);
        if now >= grace_until {
            return Err(LoginRefusal::PasswordExpired);
        }
        password_change = Some(ChangeReason::Expired {
            expired_at,
            grace_until,
        });
    } else if let Some(at) = user.password_expired_at {
        password_change = Some(ChangeReason::ExpiredByAdmin { at });
    } else if password.renew_on_first_login && user.password_set_by_admin {
        password_change = Some(ChangeReason::FirstLogin);
    } else if !user.password_compliant {
        password_change = Some(ChangeReason::NonCompliant);
    }

    let mfa = if user.mfa_enrolled {
        MfaStep::Challenge
    } else if mfa_required(password, policies.mfa, client_ip) {
        let until = plus(user.mfa_required_since, password.grace_period);
        if now >= until {
            return Err(LoginRefusal::MfaEnrollmentOverdue);
        }
        MfaStep::Enroll { until }
    } else {
        MfaStep::None
    };

    Ok(LoginGrant {
        mfa,
        password_change,
        password_expires_at: expiry,
    })
}
