//! IP brute-force blocking on top of the [`counter`](crate::counter) (docs/design.md §2.4 and
//! §3.1 step 1).
//!
//! Invariants: failures are counted per *source*: the client address cut to the policy's
//! `ipv4_prefix` / `ipv6_prefix` (two addresses of one prefix share one counter, so rotating
//! addresses inside a /64 gains nothing); an allow-listed address is never blocked and its
//! failures are not counted, even inside a blocked prefix (the allow-list matches exact
//! addresses and networks); IPv4-mapped IPv6 addresses count as their IPv4 address; a success
//! never resets a source's count (one valid account must not launder an attacker's failures);
//! the check happens before any password hash.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use portcullis_model::{BruteForcePolicy, Timestamp, net::parse_networks};

use crate::counter::{CounterLimits, CounterState, Lock, Outcome};

/// The brute-force policy, compiled for checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpBlocking {
    limits: Option<CounterLimits>,
    allowlist: Vec<IpNet>,
    ipv4_prefix: u8,
    ipv6_prefix: u8,
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

/// The text form of a source network: a bare address for a full-length prefix (`10.0.0.1`),
/// else the network (`2001:db8:1:2::/64`). Used in counter keys, events and lists.
pub fn source_label(source: IpNet) -> String {
    if source.prefix_len() == source.max_prefix_len() {
        source.addr().to_string()
    } else {
        source.to_string()
    }
}

/// The canonical form of a network an administrator names: host bits cleared, and an
/// IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) written as the IPv4 one (`10.0.0.0/8`), as
/// client addresses are ([`canonical_ip`]).
pub fn canonical_network(network: IpNet) -> IpNet {
    match network {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) if v6.prefix_len() >= 96 => {
                Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(network, IpNet::V4)
            }
            _ => network,
        },
        IpNet::V4(_) => network,
    }
    .trunc()
}

/// Reads a [`source_label`] back.
pub fn parse_source(label: &str) -> Option<IpNet> {
    label
        .parse::<IpNet>()
        .ok()
        .or_else(|| label.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The counter key of a source network (`ip|10.0.0.1`, `ip|2001:db8:1:2::/64`), without the
/// organization, which the store keeps in its own column.
pub fn source_key(source: IpNet) -> String {
    format!("ip|{}", source_label(source))
}

/// Reads the source network back from a [`source_key`].
pub fn parse_source_key(key: &str) -> Option<IpNet> {
    key.strip_prefix("ip|").and_then(parse_source)
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
                escalation: policy.escalation,
            }),
            allowlist: parse_networks(&policy.allowlist),
            // Validated ranges (8–32, 32–128); clamped again so a bad value can never panic.
            ipv4_prefix: u8::try_from(policy.ipv4_prefix.clamp(8, 32)).unwrap_or(32),
            ipv6_prefix: u8::try_from(policy.ipv6_prefix.clamp(32, 128)).unwrap_or(64),
        }
    }

    /// The source network `ip` is counted as: its address cut to the configured prefix.
    pub fn source(&self, ip: IpAddr) -> IpNet {
        match canonical_ip(ip) {
            IpAddr::V4(v4) => Ipv4Net::new(v4, self.ipv4_prefix)
                .map(|n| IpNet::V4(n.trunc()))
                .unwrap_or_else(|_| IpNet::from(IpAddr::V4(v4))),
            IpAddr::V6(v6) => Ipv6Net::new(v6, self.ipv6_prefix)
                .map(|n| IpNet::V6(n.trunc()))
                .unwrap_or_else(|_| IpNet::from(IpAddr::V6(v6))),
        }
    }

    /// The counter key `ip`'s failures are counted on ([`source_key`] of its [`source`](Self::source)).
    pub fn counter_key(&self, ip: IpAddr) -> String {
        source_key(self.source(ip))
    }

    /// The counting rules of a source's counter, whatever the address (for settling a stored
    /// counter); `None` when blocking is off.
    pub fn limits(&self) -> Option<CounterLimits> {
        self.limits
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
