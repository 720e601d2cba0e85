//! IP brute-force blocking on top of the [`counter`](crate::counter) (DESIGN.md §2.4, §3.1 step 1).
//!
//! Invariants: an allow-listed IP is never blocked and its failures are not counted; IPv4-mapped
//! IPv6 addresses count as their IPv4 address; a success never resets an IP's count (one valid
//! account must not launder an attacker's failures); the check happens before any password hash.

use std::net::IpAddr;

use ipnet::IpNet;
use portcullis_model::{BruteForcePolicy, Timestamp, net::parse_networks};

use crate::counter::{CounterLimits, CounterState, Lock, Outcome};

/// The brute-force policy, compiled for checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpBlocking {
    limits: Option<CounterLimits>,
    allowlist: Vec<IpNet>,
}

/// Whether a client IP may attempt a login now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpStatus {
    /// Not counted at all (blocking off, or the IP is allow-listed).
    Exempt,
    /// Counted and not blocked.
    Allowed,
    /// Blocked until the lock's `until`.
    Blocked(Lock),
}

/// `::ffff:10.0.0.1` is `10.0.0.1`.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

impl IpBlocking {
    /// Compiles a validated policy.
    pub fn new(policy: &BruteForcePolicy) -> IpBlocking {
        IpBlocking {
            limits: policy.enabled.then(|| CounterLimits {
                max_failures: u32::try_from(policy.max_attempts).unwrap_or(u32::MAX),
                window: Some(policy.window),
                lock_for: Some(policy.block_duration),
                reset_after_success: false,
            }),
            allowlist: parse_networks(&policy.allowlist),
        }
    }

    /// Whether `ip` is allow-listed.
    pub fn is_allowlisted(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.allowlist.iter().any(|net| net.contains(&ip))
    }

    /// The counting rules for `ip`; `None` when it is not counted.
    pub fn limits_for(&self, ip: IpAddr) -> Option<CounterLimits> {
        self.limits.filter(|_| !self.is_allowlisted(ip))
    }

    /// Read-only check of `ip` against its counter `state` at `now`.
    pub fn status(&self, state: &CounterState, ip: IpAddr, now: Timestamp) -> IpStatus {
        if self.limits_for(ip).is_none() {
            return IpStatus::Exempt;
        }
        match state.lock_at(now) {
            Some(lock) => IpStatus::Blocked(lock),
            None => IpStatus::Allowed,
        }
    }

    /// Counts a failed login from `ip`; answers whether it blocked the IP (never for an exempt IP).
    pub fn record_failure(
        &self,
        state: &mut CounterState,
        ip: IpAddr,
        now: Timestamp,
    ) -> Outcome<bool> {
        match self.limits_for(ip) {
            Some(limits) => state.record_failure(&limits, now),
            None => Outcome {
                decision: false,
                events: Vec::new(),
            },
        }
    }
}
