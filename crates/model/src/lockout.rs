//! The `lockout` section: when failed password or OTP checks lock an account (docs/design.md §2.3).
//!
//! Units: `window` and `lock_duration` are seconds; `None` means "until reset" and "until
//! unlocked" respectively. Invariant: `max_password_attempts >= 1`; `max_otp_attempts = 0`
//! means OTP failures never lock.

use serde::{Deserialize, Serialize};

use crate::escalation::Escalation;
use crate::validate::{Checker, Validate};

/// Longest counting window or lock (20 years, the longest any dialect can express).
pub const MAX_LOCK_SECONDS: u64 = 630_720_000;

/// What one lockout counter is keyed by.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LockoutScope {
    /// Organization and login name: failures from anywhere lock the account.
    #[default]
    Login,
    /// Organization, login name and client IP: an attacker locks the account only for its IP.
    LoginAndIp,
}

/// Account lockout policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Whether failures are counted and lock at all.
    pub enabled: bool,
    /// Failed password checks that lock the key (1–1000, default 10).
    #[schema(minimum = 1, maximum = 1000)]
    pub max_password_attempts: u64,
    /// Failed OTP checks that lock the key; 0 = never (0–1000, default 10).
    #[schema(minimum = 0, maximum = 1000)]
    pub max_otp_attempts: u64,
    /// Seconds from the first failure of a cycle during which failures add up; `None` = until
    /// a success resets them or a lock ends the cycle (1 s – 20 years).
    #[schema(minimum = 1, maximum = 630_720_000)]
    pub window: Option<u64>,
    /// Seconds a lock lasts; `None` = until an administrator or the user unlocks (1 s – 20 years).
    #[schema(minimum = 1, maximum = 630_720_000)]
    pub lock_duration: Option<u64>,
    /// A successful check resets the failure count.
    pub reset_after_success: bool,
    /// What a counter is keyed by.
    pub scope: LockoutScope,
    /// The user may unblock itself through a mailed one-time link.
    pub allow_self_unblock: bool,
    /// The user is mailed when its account is locked.
    pub notify_user: bool,
    /// A locked account answers `account_locked`; `false`: exactly like a wrong password.
    pub reveal_lock: bool,
    /// A lock on the whole login (scope `login`) ends every session of the user.
    pub end_sessions_on_lock: bool,
    /// How temporary locks grow within a series of locks (default: they do not).
    pub escalation: Escalation,
}

impl Default for LockoutPolicy {
    fn default() -> LockoutPolicy {
        LockoutPolicy {
            enabled: true,
            max_password_attempts: 10,
            max_otp_attempts: 10,
            window: None,
            lock_duration: Some(900),
            reset_after_success: true,
            scope: LockoutScope::Login,
            allow_self_unblock: false,
            notify_user: false,
            reveal_lock: true,
            end_sessions_on_lock: true,
            escalation: Escalation::NONE,
        }
    }
}

impl Validate for LockoutPolicy {
    fn check(&self, c: &mut Checker) {
        c.range("max_password_attempts", self.max_password_attempts, 1, 1000);
        c.range("max_otp_attempts", self.max_otp_attempts, 0, 1000);
        c.range_opt("window", self.window, 1, MAX_LOCK_SECONDS);
        c.range_opt("lock_duration", self.lock_duration, 1, MAX_LOCK_SECONDS);
        c.nested("escalation", &self.escalation);
    }
}

crate::patch::section_patch! {
    /// A merge patch of the `lockout` section.
    LockoutPolicy => LockoutPatch, LockoutFields {
        enabled: bool,
        max_password_attempts: u64,
        max_otp_attempts: u64,
        window: Option<u64>,
        lock_duration: Option<u64>,
        reset_after_success: bool,
        scope: LockoutScope,
        allow_self_unblock: bool,
        notify_user: bool,
        reveal_lock: bool,
        end_sessions_on_lock: bool,
        escalation: Escalation,
    }
}
