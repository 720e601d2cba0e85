//! Blocked client addresses an administrator lists, adds, lifts and clears (docs/api.md,
//! "Enforcement state"): the blocks the brute-force counters placed, and the administrators'
//! own blocks of an address or a network (the denylist).
//!
//! Invariants:
//! - an administrator's block is refused before any lookup or hash, like a counted one, for
//!   every client address it contains that the policy's allow-list does not name (the
//!   allow-list wins: an allow-listed address is never blocked); it applies whether or not
//!   counting (`brute_force.enabled`) is on;
//! - the list merges both kinds in one order, (address text, counted before administrator's),
//!   and its cursor names a position in that order;
//! - lifting or clearing goes through the store atomically (the counter's `unlock`, or the
//!   denial's deletion) with its event (`ip.unblocked`, `ip_blocks.cleared` with the count), so
//!   every replica sees it at its next read: nothing is cached.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv6Net};
use portcullis_engine::counter::CounterLimits;
use portcullis_engine::ip_block::{
    IpBlocking, canonical_ip, canonical_network, parse_source, source_key, source_label,
};
use portcullis_engine::time_math::seconds_until;
use portcullis_model::codes::INVALID_JSON;
use portcullis_model::{EffectivePolicy, OrgId, Timestamp, Violation, Violations};
use portcullis_store::{IpDenial, MAX_PAGE, Page};
use serde::Serialize;

use crate::caller::{Action, Caller};
use crate::counters::{CounterKind, CounterRef, limits_for};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{CounterSubject, DomainEvent, IpBlockAdded, LockChange};
use crate::service::{Context, Service};

/// Stable code: an administrator's block that would cover an allow-listed address.
pub const IP_BLOCK_ALLOWLISTED: &str = "ip_block.allowlisted";

/// `Retry-After` of an administrator's permanent block: a day (it ends only when lifted).
pub const PERMANENT_RETRY_AFTER: u64 = 86_400;

/// Where a block comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockOrigin {
    /// The brute-force counter of a source network reached its limit.
    Counted,
    /// An administrator blocked the address or network.
    Administrator,
}

/// A block in force, as administrators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpBlockEntry {
    /// The blocked address or network (`192.0.2.7`, `2001:db8:1:2::/64`, `10.0.0.0/8`).
    pub address: String,
    /// Counted, or an administrator's.
    pub origin: BlockOrigin,
    /// Failures counted (counted blocks).
    pub failures: Option<u32>,
    /// When the block began.
    #[serde(with = "time::serde::rfc3339")]
    pub blocked_at: Timestamp,
    /// When it ends by itself; `None`: an administrator's permanent block.
    #[serde(with = "time::serde::rfc3339::option")]
    pub until: Option<Timestamp>,
    /// Who added it (administrators' blocks).
    pub actor: Option<String>,
    /// The list's cursor for this entry.
    pub cursor: String,
}

/// An administrator's block to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIpBlock {
    /// An address (`192.0.2.7`) or a network (`10.0.0.0/8`).
    pub address_or_network: String,
    /// When it ends; `None`: permanent (until lifted).
    pub until: Option<Timestamp>,
}

/// The suffix that marks an administrator's entry in a cursor (no address holds a `|`).
const ADMIN_CURSOR: &str = "|administrator";

fn cursor_of(address: &str, origin: BlockOrigin) -> String {
    match origin {
        BlockOrigin::Counted => address.to_owned(),
        BlockOrigin::Administrator => format!("{address}{ADMIN_CURSOR}"),
    }
}

/// Reads an address or network an administrator names, in canonical form.
pub fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    parse_source(text).map(canonical_network).or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| IpNet::from(canonical_ip(ip)))
    })
}

/// A network in the IPv6 space client addresses are matched in (IPv4 as `::ffff:a.b.c.d`).
fn as_v6(net: IpNet) -> Ipv6Net {
    match net {
        IpNet::V6(v6) => v6,
        IpNet::V4(v4) => Ipv6Net::new(v4.addr().to_ipv6_mapped(), v4.prefix_len() + 96)
            .unwrap_or_else(|_| Ipv6Net::from(v4.addr().to_ipv6_mapped())),
    }
}

/// Whether two networks share an address (across families: `::/0` holds every IPv4 address,
/// as denials are matched).
fn overlap(a: IpNet, b: IpNet) -> bool {
    let (a, b) = (as_v6(a), as_v6(b));
    a.contains(&b) || b.contains(&a)
}

fn denial_entry(denial: &IpDenial) -> IpBlockEntry {
    let address = denial.label();
    IpBlockEntry {
        cursor: cursor_of(&address, BlockOrigin::Administrator),
        address,
        origin: BlockOrigin::Administrator,
        failures: None,
        blocked_at: denial.created_at,
        until: denial.until,
        actor: Some(denial.actor.clone()),
    }
}

impl Service {
    /// The organization's blocks in force, counted and administrators', in one order after the
    /// cursor `page.after`; organization administrators and auditors.
    pub async fn list_ip_blocks(
        &self,
        caller: &Caller,
        org_id: &str,
        page: &Page,
    ) -> ServiceResult<Vec<IpBlockEntry>> {
        let grant = caller.allow(org_id, Action::Read)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let now = self.now();
        let limit = page.limit.clamp(1, MAX_PAGE) as usize;
        let (after, after_admin) = match page.after.as_deref() {
            Some(c) => match c.strip_suffix(ADMIN_CURSOR) {
                Some(address) => (Some(address.to_owned()), true),
                None => (Some(c.to_owned()), false),
            },
            None => (None, false),
        };
        // Counted blocks after the cursor's address (an entry of that address sorts before
        // the administrator's of the same address, so it was on the cursor's page already).
        let key_after = after.as_deref().map(|a| format!("ip|{a}"));
        let counted: Vec<IpBlockEntry> = self
            .locks_in_force(org_id, &["ip|".to_owned()], key_after, limit)
            .await?
            .into_iter()
            .map(|(c, lock)| {
                let address = c.key.trim_start_matches("ip|").to_owned();
                IpBlockEntry {
                    cursor: cursor_of(&address, BlockOrigin::Counted),
                    address,
                    origin: BlockOrigin::Counted,
                    failures: Some(c.state.failures),
                    blocked_at: lock.since,
                    until: lock.until,
                    actor: None,
                }
            })
            .collect();
        // Administrators' blocks from the cursor's address (included unless the cursor is that
        // administrator's entry itself).
        let mut denied = Vec::new();
        let mut denial_after = after.clone();
        let mut inclusive = !after_admin && after.is_some();
        while denied.len() < limit {
            let batch = self
                .store
                .list_ip_denials(org_id, denial_after.as_deref(), inclusive, MAX_PAGE)
                .await?;
            let exhausted = batch.len() < MAX_PAGE as usize;
            for d in &batch {
                denial_after = Some(d.label());
                inclusive = false;
                if d.in_force(now) {
                    denied.push(denial_entry(d));
                    if denied.len() == limit {
                        break;
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        let mut all: Vec<IpBlockEntry> = counted.into_iter().chain(denied).collect();
        all.sort_by(|a, b| (&a.address, a.origin).cmp(&(&b.address, b.origin)));
        all.truncate(limit);
        Ok(all)
    }

    /// Adds (or replaces) an administrator's block; answers it and whether it is new.
    pub async fn add_ip_block(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        block: NewIpBlock,
    ) -> ServiceResult<(IpBlockEntry, bool)> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let policy = self.effective_policy(org_id).await?;
        let now = self.now();
        let mut found = Vec::new();
        let network = parse_network(&block.address_or_network);
        match network {
            None => found.push(Violation::new(
                "address_or_network",
                INVALID_JSON,
                "must be an IP address or a network in CIDR notation",
            )),
            Some(net) => {
                let allowlisted =
                    portcullis_model::net::parse_networks(&policy.brute_force.value.allowlist)
                        .into_iter()
                        .any(|allowed| overlap(allowed, net));
                if allowlisted {
                    found.push(Violation::new(
                        "address_or_network",
                        IP_BLOCK_ALLOWLISTED,
                        "overlaps the brute-force allow-list (brute_force.allowlist), which \
                         is never blocked",
                    ));
                }
            }
        }
        if block.until.is_some_and(|until| until <= now) {
            found.push(Violation::new(
                "until",
                INVALID_JSON,
                "must be in the future",
            ));
        }
        if let Some(violations) = Violations::from_vec(found) {
            return Err(ServiceError::Invalid(violations));
        }
        let network = network.ok_or_else(|| ServiceError::Internal("no network".into()))?;
        let denial = IpDenial {
            org_id: org_id.clone(),
            network,
            created_at: now,
            until: block.until,
            actor: ctx.actor.clone(),
        };
        // The store adds `replaced` to the event, from the transaction that writes it.
        let event = DomainEvent::IpBlockAdded(IpBlockAdded {
            network: denial.label(),
            until: block.until.map(portcullis_model::rfc3339),
        })
        .draft(ctx, Some(org_id), now);
        let created = self.store.put_ip_denial(&denial, event).await?;
        Ok((denial_entry(&denial), created))
    }

    /// Lifts the block of `address` (as listed; an address inside a counted source network
    /// names that network): the counted block and the administrator's block of it, whichever
    /// exist. `NotFound` when neither is in force.
    pub async fn lift_ip_block(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        address: &str,
    ) -> ServiceResult<()> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let network = parse_network(address).ok_or(ServiceError::NotFound)?;
        let policy = self.effective_policy(org_id).await?;
        let mut sources = vec![network];
        if network.prefix_len() == network.max_prefix_len() {
            // A single address also names the source network it is counted in now.
            let counted_as = IpBlocking::new(&policy.brute_force.value).source(network.addr());
            if counted_as != network {
                sources.push(counted_as);
            }
        }
        let now = self.now();
        let mut lifted = false;
        for source in &sources {
            lifted |= self
                .unblock_counter(ctx, org_id, &policy, *source, now)
                .await?;
        }
        let label = source_label(network);
        let denied = self
            .store
            .list_ip_denials(org_id, Some(&label), true, 1)
            .await?
            .into_iter()
            .find(|d| d.network == network && d.in_force(now));
        if let Some(denial) = denied {
            let subject = CounterSubject {
                network: Some(label.clone()),
                denylist: true,
                ..CounterSubject::default()
            };
            let event = DomainEvent::IpUnblocked(LockChange::new(subject, denial.until)).draft(
                ctx,
                Some(org_id),
                now,
            );
            lifted |= self.store.delete_ip_denial(org_id, &label, event).await?;
        }
        if lifted {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Unlocks the counter of a source network; answers whether a block was in force.
    async fn unblock_counter(
        &self,
        ctx: &Context,
        org_id: &OrgId,
        policy: &EffectivePolicy,
        source: IpNet,
        now: Timestamp,
    ) -> ServiceResult<bool> {
        let key = source_key(source);
        let counted = limits_for(policy, &key).map(|(limits, _)| limits);
        let limits = counted.unwrap_or(CounterLimits::COUNTING_NOTHING);
        let subject = CounterSubject {
            network: Some(source_label(source)),
            key: Some(key.clone()),
            ..CounterSubject::default()
        };
        self.counter_step(
            &CounterRef {
                ctx,
                org_id,
                key: &key,
                kind: CounterKind::Ip,
                subject: &subject,
                now,
                limits: counted.as_ref().or(Some(&limits)),
                notice: None,
                label: None,
            },
            Vec::new(),
            |s| {
                if s.lock_at(now).is_some() {
                    let out = s.unlock(&limits, now);
                    (out.decision, out.events)
                } else {
                    (false, Vec::new())
                }
            },
        )
        .await
    }

    /// Lifts every block of the organization, counted and administrators', in one transaction
    /// with one `ip_blocks.cleared` event; answers how many.
    pub async fn clear_ip_blocks(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
    ) -> ServiceResult<u64> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        self.clear_counters(
            ctx,
            org_id,
            vec!["ip|".to_owned()],
            true,
            DomainEvent::IpBlocksCleared,
        )
        .await
    }
}

/// The `Retry-After` seconds of an administrator's denial ending at `until` (`None`: until
/// lifted).
pub(crate) fn retry_after_denial(until: Option<Timestamp>, now: Timestamp) -> u64 {
    match until {
        Some(until) => seconds_until(Some(until), now).max(1),
        None => PERMANENT_RETRY_AFTER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_seen_across_address_families() {
        let net = |t: &str| t.parse::<IpNet>().unwrap();
        assert!(overlap(net("10.0.0.0/8"), net("10.1.0.0/16")));
        assert!(overlap(net("10.1.0.0/16"), net("10.0.0.0/8")));
        assert!(overlap(net("10.0.0.0/8"), net("::/0")));
        assert!(overlap(net("::ffff:10.0.0.0/104"), net("10.2.3.4/32")));
        assert!(!overlap(net("10.0.0.0/8"), net("11.0.0.0/8")));
        assert!(!overlap(net("10.0.0.0/8"), net("2001:db8::/32")));
    }
}
