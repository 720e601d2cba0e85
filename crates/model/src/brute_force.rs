//! The `brute_force` section: blocking client IPs that fail too often (docs/design.md §2.4).
//!
//! Units: `window` and `block_duration` are seconds. Invariants: `allowlist` holds at most 100
//! entries, each an IPv4/IPv6 address or CIDR network; an allow-listed IP is never blocked.
//! Failures are counted per *source network*: the client address cut to `ipv4_prefix` /
//! `ipv6_prefix` bits (one client usually holds a whole IPv6 /64), while the allow-list keeps
//! matching exact addresses.

use serde::{Deserialize, Serialize};

use crate::escalation::Escalation;
use crate::lockout::MAX_LOCK_SECONDS;
use crate::validate::{Checker, Validate};

/// Most entries in an allow-list.
pub const MAX_ALLOWLIST: usize = 100;

/// IP brute-force blocking policy, counted per organization and client IP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BruteForcePolicy {
    /// Whether failures per IP are counted and block at all.
    pub enabled: bool,
    /// Failed logins from one IP that block it (1–1000, default 10).
    #[schema(minimum = 1, maximum = 1000)]
    pub max_attempts: u64,
    /// Seconds from the first failure of a cycle during which failures add up (1 s – 20 years).
    #[schema(minimum = 1, maximum = 630_720_000)]
    pub window: u64,
    /// Seconds a block lasts (1 s – 20 years).
    #[schema(minimum = 1, maximum = 630_720_000)]
    pub block_duration: u64,
    /// Addresses and CIDR networks never blocked (at most 100).
    #[schema(max_items = 100)]
    pub allowlist: Vec<String>,
    /// The organization's administrators are mailed when an IP is blocked.
    pub notify_admin: bool,
    /// IPv4 addresses sharing this many leading bits count as one source (8–32, default 32).
    #[schema(minimum = 8, maximum = 32)]
    pub ipv4_prefix: u64,
    /// IPv6 addresses sharing this many leading bits count as one source (32–128, default 64).
    #[schema(minimum = 32, maximum = 128)]
    pub ipv6_prefix: u64,
    /// How blocks grow within a series of blocks of one source (default: they do not).
    pub escalation: Escalation,
}

impl Default for BruteForcePolicy {
    fn default() -> BruteForcePolicy {
        BruteForcePolicy {
            enabled: true,
            max_attempts: 10,
            window: 3600,
            block_duration: 3600,
            allowlist: Vec::new(),
            notify_admin: false,
            ipv4_prefix: 32,
            ipv6_prefix: 64,
            escalation: Escalation::NONE,
        }
    }
}

impl Validate for BruteForcePolicy {
    fn check(&self, c: &mut Checker) {
        c.range("max_attempts", self.max_attempts, 1, 1000);
        c.range("window", self.window, 1, MAX_LOCK_SECONDS);
        c.range("block_duration", self.block_duration, 1, MAX_LOCK_SECONDS);
        c.ip_list("allowlist", &self.allowlist, MAX_ALLOWLIST);
        c.range("ipv4_prefix", self.ipv4_prefix, 8, 32);
        c.range("ipv6_prefix", self.ipv6_prefix, 32, 128);
        c.nested("escalation", &self.escalation);
    }
}

crate::patch::section_patch! {
    /// A merge patch of the `brute_force` section.
    BruteForcePolicy => BruteForcePatch, BruteForceFields {
        enabled: bool,
        max_attempts: u64,
        window: u64,
        block_duration: u64,
        allowlist: Vec<String>,
        notify_admin: bool,
        ipv4_prefix: u64,
        ipv6_prefix: u64,
        escalation: Escalation,
    }
}
