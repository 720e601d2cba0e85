//! Counters the service keeps for `/metrics` (docs/design.md §7): logins by result, locks, blocks,
//! password hashes and their time. Plain atomics, read by the HTTP layer's exposition.

use std::sync::atomic::{AtomicU64, Ordering};

/// Login results, in the order of [`Metrics::logins`].
pub const LOGIN_RESULTS: [&str; 10] = [
    "success",
    "invalid_credentials",
    "account_locked",
    "account_disabled",
    "password_expired",
    "ip_blocked",
    "mfa_enrollment_overdue",
    "email_not_verified",
    "invalid_code",
    "invalid_challenge",
];

/// Service counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Logins by result (index into [`LOGIN_RESULTS`]).
    pub logins: [AtomicU64; 10],
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
    /// Counts one login with `result` (one of [`LOGIN_RESULTS`]).
    pub fn login(&self, result: &str) {
        if let Some(i) = LOGIN_RESULTS.iter().position(|r| *r == result) {
            self.logins[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
