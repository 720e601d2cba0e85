//! Counters the service keeps for `/metrics` (docs/design.md §7): logins by result, locks, blocks,
//! password hashes and their time. Plain atomics, read by the HTTP layer's exposition.
//!
//! Invariant: a login result is a [`LoginResult`], never a free string, so every result counted
//! has its series and no label can be misspelled.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! login_results {
    ($($(#[$doc:meta])* $variant:ident = $label:literal,)*) => {
        /// How a login step ended, as the `result` label of `portcullis_logins_total`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum LoginResult {
            $($(#[$doc])* $variant,)*
        }

        impl LoginResult {
            /// Every result, in the order of [`Metrics::logins`].
            pub const ALL: [LoginResult; [$($label),*].len()] = [$(LoginResult::$variant,)*];

            /// The label.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(LoginResult::$variant => $label,)*
                }
            }
        }
    };
}

login_results! {
    /// A session or a second-factor challenge was handed out.
    Success = "success",
    /// Wrong password, unknown name, or a hidden lock.
    InvalidCredentials = "invalid_credentials",
    /// A revealed lock.
    AccountLocked = "account_locked",
    /// Disabled or inactive.
    AccountDisabled = "account_disabled",
    /// The password expired beyond its grace.
    PasswordExpired = "password_expired",
    /// The client address is blocked.
    IpBlocked = "ip_blocked",
    /// MFA enrollment is overdue.
    MfaEnrollmentOverdue = "mfa_enrollment_overdue",
    /// The email address is not verified yet.
    EmailNotVerified = "email_not_verified",
    /// A wrong second-factor code.
    InvalidCode = "invalid_code",
    /// An unknown, expired or used challenge.
    InvalidChallenge = "invalid_challenge",
}

/// Service counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Logins by result (indexed like [`LoginResult::ALL`]).
    pub logins: [AtomicU64; LoginResult::ALL.len()],
    /// Accounts locked.
    pub locks: AtomicU64,
    /// IPs blocked.
    pub blocks: AtomicU64,
    /// Password hash computations and verifications (dummy ones included).
    pub password_hashes: AtomicU64,
    /// Total time spent hashing, microseconds.
    pub hash_micros: AtomicU64,
}

impl Metrics {
    /// Counts one login with `result`.
    pub fn login(&self, result: LoginResult) {
        self.logins[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The count of logins with `result`.
    pub fn logins_with(&self, result: LoginResult) -> u64 {
        Metrics::get(&self.logins[result as usize])
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_has_its_own_series_in_order() {
        let metrics = Metrics::default();
        for (i, result) in LoginResult::ALL.into_iter().enumerate() {
            assert_eq!(result as usize, i, "{result:?} indexes its own series");
            for _ in 0..=i {
                metrics.login(result);
            }
        }
        for (i, result) in LoginResult::ALL.into_iter().enumerate() {
            assert_eq!(metrics.logins_with(result), i as u64 + 1);
        }
        let labels: std::collections::HashSet<_> =
            LoginResult::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), LoginResult::ALL.len(), "labels are distinct");
    }
}
