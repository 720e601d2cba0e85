//! Account locks an administrator lists and clears (docs/api.md, "Enforcement state"): every
//! lockout counter of an organization holding a lock in force, and the clear-all after an
//! incident.
//!
//! Invariants:
//! - a lock is listed only while in force at the service clock's `now` (read from the counter's
//!   state; the store's index of locked counters may still hold a lock whose end has passed);
//! - the clear-all lifts every lock of the organization in **one** store transaction, through
//!   the engine's `unlock` on each counter under the transaction's locks, with one
//!   `locks.cleared` event carrying the count — or writes nothing when no lock was in force;
//! - lists are read by key ranges of the index of locked counters, never by decoding every
//!   counter; organization isolation is the caller's grant (`Caller::allow`), as everywhere.

use portcullis_engine::counter::{CounterLimits, CounterState, Lock};
use portcullis_engine::lockout::{LockoutKey, SecretKind, normalize_login};
use portcullis_model::{OrgId, Timestamp};
use portcullis_store::{BulkChange, LockedCounter, MAX_PAGE, Page};
use serde::Serialize;

use crate::caller::{Action, Caller};
use crate::counters::limits_for;
use crate::error::ServiceResult;
use crate::events::{Cleared, DomainEvent};
use crate::service::{Context, Service};

/// Which secret a lock counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// Password attempts (`lockout.max_password_attempts`).
    Password,
    /// One-time-code attempts (`lockout.max_otp_attempts`).
    Otp,
}

impl LockKind {
    fn secret(self) -> SecretKind {
        match self {
            LockKind::Password => SecretKind::Password,
            LockKind::Otp => SecretKind::Otp,
        }
    }
}

/// Which locks to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockFilter {
    /// Only login names starting with this (compared in their normalized form).
    pub login: Option<String>,
    /// Only locks of this kind.
    pub kind: Option<LockKind>,
}

/// A lock in force, as administrators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockEntry {
    /// The login name as the attempt that last counted typed it (the normalized name when it is
    /// not known).
    pub login: String,
    /// The normalized login name (what the counter is keyed by).
    pub login_key: String,
    /// Password or one-time-code lock.
    pub kind: LockKind,
    /// The counter's key; with scope `login_and_ip` it names the client source too. It is the
    /// list's cursor.
    pub key: String,
    /// The client source network of a `login_and_ip` lock.
    pub source: Option<String>,
    /// Failures counted in the lock's cycle.
    pub failures: u32,
    /// When the lock was placed.
    #[serde(with = "time::serde::rfc3339")]
    pub locked_at: Timestamp,
    /// When it ends by itself; `None`: only an unlock ends it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub until: Option<Timestamp>,
    /// The user whose login name this is; `None` when no user has it (a guessed name).
    pub user_id: Option<String>,
}

/// The key prefixes a filter reads.
fn filter_prefixes(filter: &LockFilter) -> Vec<String> {
    let start = filter
        .login
        .as_deref()
        .map(normalize_login)
        .unwrap_or_default();
    let kinds = match filter.kind {
        Some(kind) => vec![kind],
        None => vec![LockKind::Otp, LockKind::Password],
    };
    kinds
        .into_iter()
        .map(|kind| LockoutKey::search_prefix(kind.secret(), &start))
        .collect()
}

/// The entry of a locked counter in force at `now` (`None`: not a lockout key, or no lock in
/// force any more).
fn entry(found: &LockedCounter, now: Timestamp) -> Option<LockEntry> {
    let lock = found.state.lock_at(now)?;
    let (kind, login_key, source) = LockoutKey::parse_storage_key(&found.key)?;
    Some(LockEntry {
        login: found.label.clone().unwrap_or_else(|| login_key.clone()),
        login_key,
        kind: match kind {
            SecretKind::Password => LockKind::Password,
            SecretKind::Otp => LockKind::Otp,
        },
        key: found.key.clone(),
        source,
        failures: found.state.failures,
        locked_at: lock.since,
        until: lock.until,
        user_id: None,
    })
}

impl Service {
    /// The organization's locks in force, in key order after `page.after` (a key), at most
    /// `page.limit`; organization administrators and auditors.
    pub async fn list_locks(
        &self,
        caller: &Caller,
        org_id: &str,
        filter: &LockFilter,
        page: &Page,
    ) -> ServiceResult<Vec<LockEntry>> {
        let grant = caller.allow(org_id, Action::Read)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let now = self.now();
        let prefixes = filter_prefixes(filter);
        let limit = page.limit.clamp(1, MAX_PAGE) as usize;
        let mut found: Vec<LockEntry> = self
            .locks_in_force(org_id, &prefixes, page.after.clone(), limit)
            .await?
            .iter()
            .filter_map(|(counter, _)| entry(counter, now))
            .collect();
        for entry in &mut found {
            entry.user_id = self
                .store
                .find_user_by_login(org_id, &entry.login_key)
                .await?
                .map(|u| u.id);
        }
        Ok(found)
    }

    /// The first `limit` counters of `prefixes` after the key `after` that hold a lock in force
    /// now, with it: the index of locked counters read page by page, skipping locks whose end
    /// has passed but that are not settled yet.
    pub(crate) async fn locks_in_force(
        &self,
        org_id: &OrgId,
        prefixes: &[String],
        mut after: Option<String>,
        limit: usize,
    ) -> ServiceResult<Vec<(LockedCounter, Lock)>> {
        let now = self.now();
        let mut found = Vec::new();
        loop {
            let batch = self
                .store
                .locked_counters(org_id, prefixes, after.as_deref(), MAX_PAGE)
                .await?;
            let exhausted = batch.len() < MAX_PAGE as usize;
            for counter in batch {
                after = Some(counter.key.clone());
                if let Some(lock) = counter.state.lock_at(now) {
                    found.push((counter, lock));
                    if found.len() == limit {
                        return Ok(found);
                    }
                }
            }
            if exhausted {
                return Ok(found);
            }
        }
    }

    /// Lifts every account lock (password and one-time code) of the organization in one
    /// transaction, with one `locks.cleared` event; answers how many were in force.
    pub async fn clear_locks(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
    ) -> ServiceResult<u64> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let prefixes = vec![
            LockoutKey::search_prefix(SecretKind::Otp, ""),
            LockoutKey::search_prefix(SecretKind::Password, ""),
        ];
        self.clear_counters(ctx, org_id, prefixes, false, DomainEvent::LocksCleared)
            .await
    }

    /// The bulk clear under both clear-alls: every counter of `prefixes` holding a lock is
    /// unlocked (and with `denials` every administrator's block deleted) in one transaction.
    pub(crate) async fn clear_counters(
        &self,
        ctx: &Context,
        org_id: &OrgId,
        prefixes: Vec<String>,
        denials: bool,
        event: fn(Cleared) -> DomainEvent,
    ) -> ServiceResult<u64> {
        let policy = self.effective_policy(org_id).await?;
        let now = self.now();
        let retention = self.retention.counter_seconds;
        let draft = event(Cleared {}).draft(ctx, Some(org_id), now);
        let count = self
            .store
            .clear_locks(
                org_id,
                &prefixes,
                denials.then_some(now),
                &mut |key: &str, state: &mut CounterState| {
                    let counted = limits_for(&policy, key).map(|(limits, _)| limits);
                    let limits = counted.unwrap_or(CounterLimits::COUNTING_NOTHING);
                    let in_force = state.lock_at(now).is_some();
                    state.unlock(&limits, now);
                    BulkChange {
                        counted: in_force,
                        due_at: state.due_at(counted.as_ref(), retention),
                    }
                },
                draft,
            )
            .await?;
        Ok(count)
    }

    /// The lock in force of each of `login_keys` (the longest-lasting one when a login has
    /// several), for a page of users.
    pub(crate) async fn locks_of(
        &self,
        org_id: &OrgId,
        login_keys: &[String],
    ) -> ServiceResult<Vec<(String, Lock)>> {
        let now = self.now();
        let mut locks: Vec<(String, Lock)> = Vec::new();
        for counter in self.store.locked_logins(org_id, login_keys, now).await? {
            let (Some(login_key), Some(lock)) = (counter.login_key, counter.state.lock_at(now))
            else {
                continue;
            };
            match locks.iter_mut().find(|(k, _)| *k == login_key) {
                Some((_, kept)) if outlasts(&lock, kept) => *kept = lock,
                Some(_) => {}
                None => locks.push((login_key, lock)),
            }
        }
        Ok(locks)
    }
}

/// Whether lock `a` lasts longer than `b` (a lock until unlocked outlasts every other).
pub(crate) fn outlasts(a: &Lock, b: &Lock) -> bool {
    match (a.until, b.until) {
        (None, Some(_)) => true,
        (Some(x), Some(y)) => x > y,
        _ => false,
    }
}
