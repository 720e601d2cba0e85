//! The counter layer under logins, unlocks and sweeps: one transition applied atomically in
//! the store ([`Service::counter_step`]), its events named once per counter kind, and the
//! operations on every counter of a login name (unlock, lock states).
//!
//! Invariants:
//! - a counter changes only through [`Service::counter_step`], which hands the engine's
//!   transition to `Store::update_counter` with the events and the new state's due time, so the
//!   state, its events and its due time commit together;
//! - the lock metrics count a lock only once its transaction committed;
//! - the keys of a login name are found by an escaped prefix (docs/decisions/0009), every page
//!   of them, so no other login's key is ever reached and none of this login's is missed.

use portcullis_engine::counter::{CounterEvent, CounterLimits, CounterState, Lock, Refusal};
use portcullis_engine::ip_block::IpBlocking;
use portcullis_engine::lockout::{LockoutKey, SecretKind, lockout_limits, normalize_login};
use portcullis_engine::time_math::plus;
use portcullis_model::{EffectivePolicy, OrgId, Timestamp};
use portcullis_store::{CounterChange, EventDraft, LoginRecord, Session};

use crate::error::{ServiceError, ServiceResult};
use crate::events::{AttemptFailed, CounterSubject, DomainEvent, LockChange};
use crate::mail::LockNotice;
use crate::service::{Context, Service};

/// Which counter a transition ran on, to name its events.
#[derive(Clone, Copy)]
pub(crate) enum CounterKind {
    Account,
    Ip,
}

/// The counter a transition runs on, and what its events say.
pub(crate) struct CounterRef<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) org_id: &'a OrgId,
    pub(crate) key: &'a str,
    pub(crate) kind: CounterKind,
    pub(crate) subject: &'a CounterSubject,
    pub(crate) now: Timestamp,
    /// How the counter counts under the policy in force (`None`: the policy counts nothing);
    /// gives the new state's due time.
    pub(crate) limits: Option<&'a CounterLimits>,
    /// Who hears of a lock this transition places.
    pub(crate) notice: Option<&'a LockNotice>,
    /// The login name as the attempt typed it (kept beside a lockout counter, for lists).
    pub(crate) label: Option<&'a str>,
}

/// How many locks a transition's events place.
fn placed_locks(events: &[CounterEvent]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e, CounterEvent::Locked(_)))
        .count() as u64
}

/// When a refused reservation's lock ends (`None`: until unlocked, or not known).
pub(crate) fn refusal_until(refusal: Refusal) -> Option<Timestamp> {
    match refusal {
        Refusal::Locked(lock) => lock.until,
        Refusal::Saturated => None,
    }
}

/// How the policy counts the counter `key`, and which kind of counter it is; `None` when the
/// policy counts nothing there now, or the key is none of ours.
pub(crate) fn limits_for(
    policy: &EffectivePolicy,
    key: &str,
) -> Option<(CounterLimits, CounterKind)> {
    if key.starts_with("ip|") {
        // The allow-list does not matter here: a counter that exists was counted.
        return IpBlocking::new(&policy.brute_force.value)
            .limits()
            .map(|l| (l, CounterKind::Ip));
    }
    let kind = if key.starts_with("password|") {
        SecretKind::Password
    } else if key.starts_with("otp|") {
        SecretKind::Otp
    } else {
        return None;
    };
    lockout_limits(&policy.lockout.value, kind).map(|l| (l, CounterKind::Account))
}

impl Service {
    /// Turns a counter's events into event drafts.
    fn counter_drafts(&self, c: &CounterRef<'_>, events: &[CounterEvent]) -> Vec<EventDraft> {
        let (ctx, org_id, kind, subject, now) = (c.ctx, c.org_id, c.kind, c.subject, c.now);
        events
            .iter()
            .map(|e| {
                let change = |lock: &Lock| LockChange::new(subject.clone(), lock.until);
                let event = match (e, kind) {
                    (CounterEvent::Locked(lock), CounterKind::Account) => {
                        DomainEvent::AccountLocked(change(lock))
                    }
                    (CounterEvent::Locked(lock), CounterKind::Ip) => {
                        DomainEvent::IpBlocked(change(lock))
                    }
                    (CounterEvent::LockExpired(lock), CounterKind::Account) => {
                        DomainEvent::AccountLockExpired(change(lock))
                    }
                    (CounterEvent::LockExpired(lock), CounterKind::Ip) => {
                        DomainEvent::IpBlockExpired(change(lock))
                    }
                    (CounterEvent::Unlocked(lock), CounterKind::Account) => {
                        DomainEvent::AccountUnlocked(change(lock))
                    }
                    (CounterEvent::Unlocked(lock), CounterKind::Ip) => {
                        DomainEvent::IpUnblocked(change(lock))
                    }
                    (CounterEvent::ReservationExpired { .. }, _) => {
                        DomainEvent::AttemptExpired(AttemptFailed {
                            subject: subject.clone(),
                            user_id: None,
                        })
                    }
                };
                let mut draft = event.draft(ctx, Some(org_id), now);
                if let (CounterEvent::Locked(lock), Some(notice)) = (e, c.notice) {
                    draft.mail = self.lock_mail(notice, lock, now);
                }
                draft
            })
            .collect()
    }

    /// What a transition of `c` that answered `events` writes beside the new `state`: `extra`
    /// and the counter's own events, the due time, the login key and label.
    fn counter_change(
        &self,
        c: &CounterRef<'_>,
        extra: &[EventDraft],
        state: &CounterState,
        events: &[CounterEvent],
    ) -> CounterChange {
        let mut drafts = extra.to_vec();
        drafts.extend(self.counter_drafts(c, events));
        let due_at = match c.limits {
            Some(limits) => state.due_at(Some(limits), self.retention.counter_seconds),
            // A counter the policy no longer counts is looked at again a retention period later
            // (its state is left as it is).
            None => Some(plus(c.now, self.retention.counter_seconds)),
        };
        CounterChange {
            events: drafts,
            due_at,
            login_key: match c.kind {
                CounterKind::Account => c.subject.login.clone(),
                CounterKind::Ip => None,
            },
            label: c.label.map(str::to_owned),
        }
    }

    /// Counts the locks a committed transition placed.
    fn count_locks(&self, kind: CounterKind, locks: u64) {
        let counter = match kind {
            CounterKind::Account => &self.metrics.locks,
            CounterKind::Ip => &self.metrics.blocks,
        };
        crate::metrics::Metrics::add(counter, locks);
    }

    /// Applies one counter transition in the store; answers what the transition decided.
    pub(crate) async fn counter_step<T: Send>(
        &self,
        c: &CounterRef<'_>,
        extra: Vec<EventDraft>,
        mut step: impl FnMut(&mut CounterState) -> (T, Vec<CounterEvent>) + Send,
    ) -> ServiceResult<T> {
        let mut decision = None;
        let mut locks = 0;
        self.store
            .update_counter(c.org_id, c.key, &mut |state| {
                let (d, events) = step(state);
                decision = Some(d);
                // Counted from the last run only: the store may run the closure again.
                locks = placed_locks(&events);
                self.counter_change(c, &extra, state, &events)
            })
            .await?;
        // Committed: now the locks count.
        self.count_locks(c.kind, locks);
        decision.ok_or_else(|| ServiceError::Internal("counter update did not run".into()))
    }

    /// Completes a login's reservation on the lockout counter `c` with `step` (which also
    /// answers whether the session may open) and opens the login's session, in one store
    /// transaction; answers what the step decided and whether the session opened.
    pub(crate) async fn complete_login<T: Send>(
        &self,
        c: &CounterRef<'_>,
        mut step: impl FnMut(&mut CounterState) -> ((T, bool), Vec<CounterEvent>) + Send,
        session: &Session,
        login: &LoginRecord,
        events: Vec<EventDraft>,
    ) -> ServiceResult<(T, bool)> {
        let mut decision = None;
        let mut locks = 0;
        let opened = self
            .store
            .complete_login(
                c.key,
                &mut |state| {
                    let ((d, open), events) = step(state);
                    decision = Some(d);
                    locks = placed_locks(&events);
                    (self.counter_change(c, &[], state, &events), open)
                },
                session,
                login,
                events,
            )
            .await?;
        self.count_locks(c.kind, locks);
        let decision =
            decision.ok_or_else(|| ServiceError::Internal("counter update did not run".into()))?;
        Ok((decision, opened))
    }

    /// The counters of a login name of `kinds`: the login-scope key and every per-source key
    /// (`login_and_ip` scope), whatever the scope in force now and however many there are.
    async fn login_counter_keys(
        &self,
        org_id: &OrgId,
        login: &str,
        kinds: &[SecretKind],
    ) -> ServiceResult<Vec<String>> {
        let mut found = Vec::new();
        for &kind in kinds {
            // The login part of a key is escaped, so only this login's keys share the prefix.
            let prefix = LockoutKey::login_prefix(kind, &normalize_login(login));
            let mut after: Option<String> = None;
            loop {
                let keys = self
                    .store
                    .counter_keys(org_id, &prefix, after.as_deref())
                    .await?;
                let full = keys.len() >= portcullis_store::MAX_PAGE as usize;
                after = keys.last().cloned();
                found.extend(keys);
                if !full {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Lifts every lock of a login name, password and one-time-code alike (admin unlock, admin
    /// password reset); answers whether one was in force.
    pub(crate) async fn unlock_login(
        &self,
        ctx: &Context,
        org_id: &OrgId,
        login: &str,
    ) -> ServiceResult<bool> {
        self.unlock_login_kinds(ctx, org_id, login, &[SecretKind::Password, SecretKind::Otp])
            .await
    }

    /// Lifts the locks of a login name's counters of `kinds`; answers whether one was in force.
    pub(crate) async fn unlock_login_kinds(
        &self,
        ctx: &Context,
        org_id: &OrgId,
        login: &str,
        kinds: &[SecretKind],
    ) -> ServiceResult<bool> {
        let policy = self.effective_policy(org_id).await?;
        let mut lifted = false;
        for key in self.login_counter_keys(org_id, login, kinds).await? {
            let subject = CounterSubject {
                login: Some(normalize_login(login)),
                key: Some(key.clone()),
                ..CounterSubject::default()
            };
            lifted |= self
                .unlock_key(ctx, &policy, org_id, &key, &subject, |_| true)
                .await?;
        }
        Ok(lifted)
    }

    /// Unlocks one lockout key (lifts its lock and clears its count) when `which` accepts the
    /// stored lock (`None`: none); answers whether a lock was lifted. Works even when the policy
    /// is now off (the stored lock is lifted whatever the limits).
    pub(crate) async fn unlock_key(
        &self,
        ctx: &Context,
        policy: &EffectivePolicy,
        org_id: &OrgId,
        key: &str,
        subject: &CounterSubject,
        which: impl Fn(Option<&Lock>) -> bool + Send + Sync,
    ) -> ServiceResult<bool> {
        let limits = limits_for(policy, key).map_or(CounterLimits::COUNTING_NOTHING, |(l, _)| l);
        let now = self.now();
        self.counter_step(
            &CounterRef {
                ctx,
                org_id,
                key,
                kind: CounterKind::Account,
                subject,
                now,
                limits: Some(&limits),
                notice: None,
                label: None,
            },
            Vec::new(),
            |s| {
                if which(s.lock.as_ref()) {
                    let out = s.unlock(&limits, now);
                    (out.decision, out.events)
                } else {
                    (false, Vec::new())
                }
            },
        )
        .await
    }

    /// The password counters of a login name (every scope), as stored.
    pub(crate) async fn lock_states(
        &self,
        org_id: &OrgId,
        login: &str,
    ) -> ServiceResult<Vec<CounterState>> {
        let mut states = Vec::new();
        for key in self
            .login_counter_keys(org_id, login, &[SecretKind::Password, SecretKind::Otp])
            .await?
        {
            states.push(self.store.get_counter(org_id, &key).await?);
        }
        Ok(states)
    }
}
