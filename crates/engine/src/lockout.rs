//! Account lockout on top of the [`counter`](crate::counter): which counter an attempt uses
//! (its [`LockoutKey`]) and how it counts ([`lockout_limits`]), per DESIGN.md §2.3 and §3.1–3.3.
//!
//! Invariants: keys exist for login names that match no user (a lock never tells whether a user
//! exists); login names are compared case-insensitively; password and OTP failures are counted on
//! separate keys with their own maximum; a disabled policy (or `max_otp_attempts = 0` for OTP)
//! has no limits, so nothing is counted.

use std::net::IpAddr;

use portcullis_model::{LockoutPolicy, LockoutScope};
use serde::{Deserialize, Serialize};

use crate::counter::CounterLimits;
use crate::ip_block::canonical_ip;

/// Which secret a counter counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// Password checks (`max_password_attempts`).
    Password,
    /// One-time-password checks (`max_otp_attempts`).
    Otp,
}

/// The identity of one lockout counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LockoutKey {
    /// Organization id.
    pub org_id: String,
    /// Normalized login name ([`normalize_login`]).
    pub login: String,
    /// Client IP, with scope `login_and_ip` only.
    pub ip: Option<IpAddr>,
    /// Password or OTP counter.
    pub kind: SecretKind,
}

impl LockoutKey {
    /// The key an attempt on `login` from `ip` counts against under `scope`.
    pub fn new(
        scope: LockoutScope,
        kind: SecretKind,
        org_id: &str,
        login: &str,
        ip: IpAddr,
    ) -> LockoutKey {
        LockoutKey {
            org_id: org_id.to_owned(),
            login: normalize_login(login),
            ip: (scope == LockoutScope::LoginAndIp).then(|| canonical_ip(ip)),
            kind,
        }
    }

    /// A stable text form for storage (`password|alice|` or `otp|alice|10.0.0.1`), without the
    /// organization, which the store keeps in its own column.
    pub fn storage_key(&self) -> String {
        let kind = match self.kind {
            SecretKind::Password => "password",
            SecretKind::Otp => "otp",
        };
        let ip = self.ip.map(|ip| ip.to_string()).unwrap_or_default();
        format!("{kind}|{}|{ip}", self.login)
    }
}

/// Login names are unique per organization regardless of case and surrounding white space.
pub fn normalize_login(login: &str) -> String {
    login.trim().to_lowercase()
}

/// The counting rules of `kind` under `policy`; `None` when nothing is counted.
pub fn lockout_limits(policy: &LockoutPolicy, kind: SecretKind) -> Option<CounterLimits> {
    if !policy.enabled {
        return None;
    }
    let max = match kind {
        SecretKind::Password => policy.max_password_attempts,
        SecretKind::Otp => policy.max_otp_attempts,
    };
    (max > 0).then(|| CounterLimits {
        max_failures: u32::try_from(max).unwrap_or(u32::MAX),
        window: policy.window,
        lock_for: policy.lock_duration,
        reset_after_success: policy.reset_after_success,
    })
}
