//! The documented form of the enforcement-state answers (locks, blocked addresses, the attack
//! summary), each built by a `From` that names every field of its service source, like
//! `service_views.rs`.
//!
//! Invariant: each view serializes exactly as its source did (same names, RFC 3339 instants).

use portcullis_model::Timestamp;
use portcullis_service as service;
use serde::Serialize;

/// Which secret a lock counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// Password attempts.
    Password,
    /// One-time-code attempts.
    Otp,
}

impl From<service::LockKind> for LockKind {
    fn from(k: service::LockKind) -> LockKind {
        match k {
            service::LockKind::Password => LockKind::Password,
            service::LockKind::Otp => LockKind::Otp,
        }
    }
}

impl From<LockKind> for service::LockKind {
    fn from(k: LockKind) -> service::LockKind {
        match k {
            LockKind::Password => service::LockKind::Password,
            LockKind::Otp => service::LockKind::Otp,
        }
    }
}

/// A lock in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LockEntry {
    /// The login name as the attempt that last counted typed it (the normalized name when not
    /// known).
    pub login: String,
    /// The normalized login name the counter is keyed by.
    pub login_key: String,
    /// Password or one-time-code lock.
    pub kind: LockKind,
    /// The counter's key (the list's cursor); under scope `login_and_ip` it names the source.
    pub key: String,
    /// The client source network of a `login_and_ip` lock.
    pub source: Option<String>,
    /// Failures counted in the lock's cycle.
    pub failures: u32,
    /// When the lock was placed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub locked_at: Timestamp,
    /// When it ends by itself; `null`: only an unlock ends it.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
    /// The user with this login name; `null` when no user has it (a guessed name).
    pub user_id: Option<String>,
}

impl From<service::LockEntry> for LockEntry {
    fn from(e: service::LockEntry) -> LockEntry {
        let service::LockEntry {
            login,
            login_key,
            kind,
            key,
            source,
            failures,
            locked_at,
            until,
            user_id,
        } = e;
        LockEntry {
            login,
            login_key,
            kind: kind.into(),
            key,
            source,
            failures,
            locked_at,
            until,
            user_id,
        }
    }
}

/// Where a block comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockOrigin {
    /// The brute-force counter of a source network reached its limit.
    Counted,
    /// An administrator blocked the address or network.
    Administrator,
}

/// A block in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IpBlockEntry {
    /// The blocked address or network (`192.0.2.7`, `2001:db8:1:2::/64`, `10.0.0.0/8`).
    pub address: String,
    /// Counted, or an administrator's.
    pub origin: BlockOrigin,
    /// Failures counted (counted blocks; `null` for an administrator's).
    pub failures: Option<u32>,
    /// When the block began.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub blocked_at: Timestamp,
    /// When it ends by itself; `null`: an administrator's permanent block.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
    /// Who added it (an administrator's block).
    pub actor: Option<String>,
    /// This entry's position in the list (pass as `after` to continue after it).
    pub cursor: String,
}

impl From<service::IpBlockEntry> for IpBlockEntry {
    fn from(e: service::IpBlockEntry) -> IpBlockEntry {
        let service::IpBlockEntry {
            address,
            origin,
            failures,
            blocked_at,
            until,
            actor,
            cursor,
        } = e;
        IpBlockEntry {
            address,
            origin: match origin {
                service::BlockOrigin::Counted => BlockOrigin::Counted,
                service::BlockOrigin::Administrator => BlockOrigin::Administrator,
            },
            failures,
            blocked_at,
            until,
            actor,
            cursor,
        }
    }
}

/// One hour of the attack summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HourCounts {
    /// The hour's start (for `total`: the window's start).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub hour: Timestamp,
    /// Failed logins counted (`login.failed`).
    pub failed_logins: u64,
    /// Account locks placed (`account.locked`).
    pub locks: u64,
    /// Client networks blocked by counting (`ip.blocked`).
    pub ip_blocks: u64,
    /// Distinct login names of the failed logins.
    pub distinct_logins: u64,
    /// Distinct client addresses of the failed logins.
    pub distinct_sources: u64,
}

impl From<service::HourCounts> for HourCounts {
    fn from(h: service::HourCounts) -> HourCounts {
        let service::HourCounts {
            hour,
            failed_logins,
            locks,
            ip_blocks,
            distinct_logins,
            distinct_sources,
        } = h;
        HourCounts {
            hour,
            failed_logins,
            locks,
            ip_blocks,
            distinct_logins,
            distinct_sources,
        }
    }
}

/// Failed logins, locks and blocks per hour of a window, from the event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttackSummary {
    /// The window's start (an hour's start).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
    /// The window's end (now).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub until: Timestamp,
    /// Every hour of the window, oldest first.
    pub hours: Vec<HourCounts>,
    /// The whole window (distinct counts over the whole window).
    pub total: HourCounts,
}

impl From<service::AttackSummary> for AttackSummary {
    fn from(s: service::AttackSummary) -> AttackSummary {
        let service::AttackSummary {
            since,
            until,
            hours,
            total,
        } = s;
        AttackSummary {
            since,
            until,
            hours: hours.into_iter().map(Into::into).collect(),
            total: total.into(),
        }
    }
}

/// How many locks or blocks a clear-all lifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Cleared {
    /// Locks or blocks in force that were lifted.
    pub count: u64,
}
