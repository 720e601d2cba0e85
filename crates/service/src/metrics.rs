//! Counters the service keeps for `/metrics` (docs/api.md, "Operations"): logins by result,
//! locks, blocks, password hashes and their time, sweeps (their duration and the rows they
//! remove) and the mail outbox's backlog. They are `prometheus-client` metrics, registered in
//! one registry by the HTTP layer, which encodes the exposition.
//!
//! Invariants: a login result is a [`LoginResult`] and a swept kind a [`SweptKind`], never a
//! free string, so every series exists by construction and no label can be misspelled; no
//! label holds an organization, a login name or an address (the series are bounded).

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

macro_rules! login_results {
    ($($(#[$doc:meta])* $variant:ident = $label:literal,)*) => {
        /// How a login step ended, as the `result` label of `portcullis_logins_total`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum LoginResult {
            $($(#[$doc])* $variant,)*
        }

        impl LoginResult {
            /// Every result.
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

impl EncodeLabelValue for LoginResult {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

/// What a sweep removes, as the `kind` label of `portcullis_sweep_removed_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SweptKind {
    /// Sessions past their lifetime.
    Sessions,
    /// API keys past their expiry.
    ApiKeys,
    /// Counters back to their fresh state.
    Counters,
    /// Events past their retention.
    Events,
    /// Administrators' IP blocks that ended.
    IpBlocks,
}

impl SweptKind {
    /// Every kind.
    pub const ALL: [SweptKind; 5] = [
        SweptKind::Sessions,
        SweptKind::ApiKeys,
        SweptKind::Counters,
        SweptKind::Events,
        SweptKind::IpBlocks,
    ];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            SweptKind::Sessions => "sessions",
            SweptKind::ApiKeys => "api_keys",
            SweptKind::Counters => "counters",
            SweptKind::Events => "events",
            SweptKind::IpBlocks => "ip_blocks",
        }
    }
}

impl EncodeLabelValue for SweptKind {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: LoginResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: SweptKind,
}

/// Upper bounds of the sweep-duration buckets, seconds.
const SWEEP_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Service counters.
#[derive(Debug)]
pub struct Metrics {
    logins: Family<ResultLabel, Counter>,
    /// Accounts locked (password and one-time-code locks placed).
    pub locks: Counter,
    /// Client source networks blocked by counting.
    pub blocks: Counter,
    /// Password hash computations and verifications (dummy ones included).
    pub password_hashes: Counter,
    /// Total time spent hashing, seconds.
    pub hash_seconds: Counter<f64, AtomicU64>,
    /// How long each sweep took, seconds.
    pub sweep_seconds: Histogram,
    swept: Family<KindLabel, Counter>,
    /// Mails neither sent nor given up, as of the last scrape.
    pub outbox_backlog: Gauge,
    /// Age of the oldest of them, seconds (0 when there is none), as of the last scrape.
    pub outbox_oldest_age_seconds: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let metrics = Metrics {
            logins: Family::default(),
            locks: Counter::default(),
            blocks: Counter::default(),
            password_hashes: Counter::default(),
            hash_seconds: Counter::default(),
            sweep_seconds: Histogram::new(SWEEP_BUCKETS),
            swept: Family::default(),
            outbox_backlog: Gauge::default(),
            outbox_oldest_age_seconds: Gauge::default(),
        };
        // Every series exists from the start (a zero is an answer; a missing series is not).
        for result in LoginResult::ALL {
            drop(metrics.logins.get_or_create(&ResultLabel { result }));
        }
        for kind in SweptKind::ALL {
            drop(metrics.swept.get_or_create(&KindLabel { kind }));
        }
        metrics
    }
}

impl Metrics {
    /// Counts one login with `result`.
    pub fn login(&self, result: LoginResult) {
        self.logins.get_or_create(&ResultLabel { result }).inc();
    }

    /// The count of logins with `result`.
    pub fn logins_with(&self, result: LoginResult) -> u64 {
        self.logins.get_or_create(&ResultLabel { result }).get()
    }

    /// Counts rows a sweep removed.
    pub fn swept(&self, kind: SweptKind, rows: u64) {
        self.swept.get_or_create(&KindLabel { kind }).inc_by(rows);
    }

    /// Rows of `kind` sweeps removed so far.
    pub fn swept_total(&self, kind: SweptKind) -> u64 {
        self.swept.get_or_create(&KindLabel { kind }).get()
    }

    /// Reads a counter.
    pub fn get(counter: &Counter) -> u64 {
        counter.get()
    }

    pub(crate) fn add(counter: &Counter, n: u64) {
        counter.inc_by(n);
    }

    /// Registers every metric (the same ones: they share their values) under its series name.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("portcullis_logins", "Logins by result", self.logins.clone());
        registry.register(
            "portcullis_account_locks",
            "Accounts locked",
            self.locks.clone(),
        );
        registry.register(
            "portcullis_ip_blocks",
            "Client IPs blocked",
            self.blocks.clone(),
        );
        registry.register(
            "portcullis_password_hashes",
            "Password hash computations and verifications, dummy ones included",
            self.password_hashes.clone(),
        );
        registry.register(
            "portcullis_password_hash_seconds",
            "Time spent hashing",
            self.hash_seconds.clone(),
        );
        registry.register(
            "portcullis_sweep_duration_seconds",
            "How long a background sweep took",
            self.sweep_seconds.clone(),
        );
        registry.register(
            "portcullis_sweep_removed",
            "Rows background sweeps removed, by kind",
            self.swept.clone(),
        );
        registry.register(
            "portcullis_outbox_backlog",
            "Mails neither sent nor given up",
            self.outbox_backlog.clone(),
        );
        registry.register(
            "portcullis_outbox_oldest_age_seconds",
            "Age of the oldest mail neither sent nor given up (0: none)",
            self.outbox_oldest_age_seconds.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_has_its_own_series() {
        let metrics = Metrics::default();
        for (i, result) in LoginResult::ALL.into_iter().enumerate() {
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

    #[test]
    fn the_exposition_keeps_the_series_names() {
        let metrics = Metrics::default();
        metrics.login(LoginResult::Success);
        Metrics::add(&metrics.locks, 2);
        metrics.swept(SweptKind::Sessions, 3);
        metrics.sweep_seconds.observe(0.2);
        metrics.outbox_backlog.set(4);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        for line in [
            "portcullis_logins_total{result=\"success\"} 1",
            "portcullis_logins_total{result=\"ip_blocked\"} 0",
            "portcullis_account_locks_total 2",
            "portcullis_ip_blocks_total 0",
            "portcullis_password_hashes_total 0",
            "portcullis_password_hash_seconds_total 0.0",
            "portcullis_sweep_removed_total{kind=\"sessions\"} 3",
            "portcullis_sweep_removed_total{kind=\"ip_blocks\"} 0",
            "portcullis_sweep_duration_seconds_count 1",
            "portcullis_outbox_backlog 4",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
    }
}
