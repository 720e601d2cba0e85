//! What a login answers, and what it is asked: the public types of the login flow.
//!
//! Invariant: a password never appears in a `Debug` rendering (requests print it redacted).

use std::net::IpAddr;

use portcullis_model::Timestamp;
use serde::Serialize;

/// A login attempt.
#[derive(Clone)]
pub struct LoginRequest {
    /// Login name as typed.
    pub login: String,
    /// Password as typed. Never logged.
    pub password: String,
    /// Client IP (socket, or trusted proxy's `X-Forwarded-For`).
    pub ip: IpAddr,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("login", &self.login)
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

/// The previous successful login, shown when `show_recent_login_info` is on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LastLogin {
    /// When (none: first login).
    #[serde(with = "time::serde::rfc3339::option")]
    pub at: Option<Timestamp>,
    /// From where.
    pub ip: Option<String>,
    /// Failed attempts counted since (in the current lockout cycle).
    pub failed_attempts: u32,
}

/// A successful password step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginGranted {
    /// The session token, shown once.
    pub token: String,
    /// The user.
    pub user_id: String,
    /// Absolute end of the session.
    pub expires_at: Timestamp,
    /// End if unused.
    pub idle_expires_at: Option<Timestamp>,
    /// The session may only change the password.
    pub password_change_required: bool,
    /// MFA is required and not enrolled: it must be enrolled before this time.
    pub mfa_enroll_by: Option<Timestamp>,
    /// When the password expires.
    pub password_expires_at: Option<Timestamp>,
    /// Previous login.
    pub last_login: Option<LastLogin>,
    /// Login banner.
    pub banner: Option<String>,
}

/// The password step passed and a second factor must follow. Nothing else about the account
/// is told before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MfaChallenge {
    /// The challenge to complete with a code, shown once (no credential by itself).
    pub challenge: String,
    /// The user.
    pub user_id: String,
    /// When the challenge ends.
    pub expires_at: Timestamp,
    /// The session it completes into may only change the password.
    pub password_change_required: bool,
}

/// What a login attempt answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginAnswer {
    /// Logged in.
    Granted(Box<LoginGranted>),
    /// The password step passed; a second factor must follow.
    MfaChallenge(Box<MfaChallenge>),
    /// Wrong password, unknown user, or a hidden lock.
    InvalidCredentials,
    /// The account is locked (revealed); `until` none = until unlocked or not yet known.
    Locked {
        /// When the lock ends by itself.
        until: Option<Timestamp>,
    },
    /// Disabled by an administrator or inactive too long.
    Disabled,
    /// Registered itself and has not verified its email address yet (verification forced).
    EmailNotVerified,
    /// The password expired and its grace is over.
    PasswordExpired,
    /// MFA is required, not enrolled, and the enrollment grace is over.
    MfaEnrollmentOverdue,
    /// The second step: the code is neither the current TOTP code nor an unused recovery code.
    InvalidCode,
    /// The second step: the challenge is unknown, expired or already completed.
    InvalidChallenge,
    /// The client IP is blocked for `retry_after` more seconds.
    IpBlocked {
        /// Seconds until the block ends.
        retry_after: u64,
    },
}
