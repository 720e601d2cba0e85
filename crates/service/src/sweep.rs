//! Background sweeps: expired sessions and API keys are deleted, password-expiry reminders are
//! queued (once per password), and every counter whose due time has come is brought up to the
//! current time (ended locks and blocks open and are recorded as `account.lock_expired` /
//! `ip.block_expired`; a counter back to its fresh state is deleted by the store). The store
//! keeps each counter's due time (`CounterState::due_at`) in an index, so a sweep reads only the
//! counters due, not every counter.
//!
//! Invariants: a sweep runs on one replica at a time (the `sweep` lease, renewed by its holder);
//! it only applies what time already decided — it never lifts a lock before its end, never
//! forgets a failure still counted, and leaves counters whose policy is off untouched (they are
//! looked at again one counter retention later); each counter is settled through the same
//! atomic update as a login, which also writes its next due time.

use portcullis_engine::counter::CounterState;
use portcullis_engine::password_age::{expires_at, warn_from};
use portcullis_model::{EffectivePolicy, OrgId, Timestamp};
use portcullis_store::{DueCounter, Page};
use serde::Serialize;

use crate::counters::{CounterKind, CounterRef, limits_for};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{CounterSubject, DomainEvent, PasswordExpiring};
use crate::metrics::SweptKind;
use crate::service::{Context, Service};
use portcullis_engine::time_math::plus;

/// The lease that elects the sweeping replica.
const LEASE: &str = "sweep";

/// Events deleted per statement by the retention sweep (short write transactions).
const EVENT_BATCH: u32 = 1000;

/// How long quiet state is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Seconds after which a counter with no lock in force and nothing in flight forgets its
    /// count (bounds counters kept with no window; default 30 days).
    pub counter_seconds: u64,
    /// Days events are kept (default 365); 0 = forever.
    pub event_days: u64,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            counter_seconds: 30 * 86_400,
            event_days: 365,
        }
    }
}

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Sessions deleted (past their absolute or idle deadline).
    pub sessions_deleted: u64,
    /// API keys deleted (past their own expiry), among them the access tokens of the
    /// client-credentials exchange.
    pub api_keys_deleted: u64,
    /// Counters brought up to date.
    pub counters_settled: u64,
    /// Counters deleted because they were back to their fresh state.
    pub counters_deleted: u64,
    /// Password-expiry reminders queued (one per password, however many sweeps see it).
    pub reminders_queued: u64,
    /// Counters whose quiet count outlived the counter retention (included in
    /// `counters_deleted`).
    pub counters_forgotten: u64,
    /// Administrators' IP blocks deleted because they ended.
    pub ip_denials_deleted: u64,
    /// Events deleted because they outlived the event retention.
    pub events_deleted: u64,
    /// Organizations or counters skipped after an error (logged).
    pub errors: u64,
}

impl Service {
    /// Runs one sweep if this replica (`holder`) holds or can take the sweep lease for
    /// `lease_seconds`; answers `None` when another replica holds it.
    pub async fn sweep(
        &self,
        holder: &str,
        lease_seconds: u64,
    ) -> ServiceResult<Option<SweepReport>> {
        let now = self.now();
        if !self
            .store
            .try_lease(LEASE, holder, now, plus(now, lease_seconds))
            .await?
        {
            return Ok(None);
        }
        // Measures the sweep's duration for /metrics only; decides nothing.
        #[allow(clippy::disallowed_methods)]
        let started = std::time::Instant::now();
        let ctx = Context::new("system", None);
        let mut report = SweepReport::default();
        let mut page = Page {
            after: None,
            limit: 100,
        };
        loop {
            let orgs = self.store.list_orgs(&page).await?;
            for org in &orgs {
                // One organization that cannot be swept (corrupt data) must not stop the others;
                // an unreachable store stops the sweep.
                match self.sweep_org(&ctx, &org.id, &mut report).await {
                    Ok(()) => {}
                    Err(e @ ServiceError::Unavailable(_)) => return Err(e),
                    Err(e) => {
                        tracing::error!(org = %org.id, error = %e, "sweep of an organization failed");
                        report.errors += 1;
                    }
                }
            }
            match orgs.last() {
                Some(last) if orgs.len() == page.limit as usize => {
                    page.after = Some(last.id.to_string())
                }
                _ => break,
            }
        }
        // Console sessions opened with an instance key end by themselves; their rows go here.
        report.api_keys_deleted += self.store.delete_expired_issued_instance_keys(now).await?;
        self.delete_old_events(now, &mut report).await?;
        // Statistics keep the planner on the partial indexes (locks, locked users); a failure
        // costs speed, not correctness, so it does not fail the sweep.
        if let Err(e) = self.store.refresh_statistics().await {
            tracing::warn!(error = %e, "refreshing the planner's statistics failed");
        }
        self.metrics
            .sweep_seconds
            .observe(started.elapsed().as_secs_f64());
        for (kind, rows) in [
            (SweptKind::Sessions, report.sessions_deleted),
            (SweptKind::ApiKeys, report.api_keys_deleted),
            (SweptKind::Counters, report.counters_deleted),
            (SweptKind::Events, report.events_deleted),
            (SweptKind::IpBlocks, report.ip_denials_deleted),
        ] {
            self.metrics.swept(kind, rows);
        }
        Ok(Some(report))
    }

    /// Deletes the events older than the event retention, in batches of [`EVENT_BATCH`].
    async fn delete_old_events(
        &self,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> ServiceResult<()> {
        if self.retention.event_days == 0 {
            return Ok(());
        }
        let days = i64::try_from(self.retention.event_days).unwrap_or(i64::MAX);
        let before = now
            .checked_sub(time::Duration::days(days))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        loop {
            let deleted = self.store.delete_events_before(before, EVENT_BATCH).await?;
            report.events_deleted += deleted;
            if deleted < u64::from(EVENT_BATCH) {
                return Ok(());
            }
        }
    }

    async fn sweep_org(
        &self,
        ctx: &Context,
        org_id: &OrgId,
        report: &mut SweepReport,
    ) -> ServiceResult<()> {
        let policy = self.effective_policy(org_id).await?;
        let now = self.now();
        let session = &policy.session.value;
        report.sessions_deleted += self
            .store
            .delete_expired_sessions(
                org_id,
                now - time::Duration::seconds(
                    i64::try_from(session.max_session_duration).unwrap_or(i64::MAX),
                ),
                session.idle_timeout.map(|idle| {
                    now - time::Duration::seconds(i64::try_from(idle).unwrap_or(i64::MAX))
                }),
            )
            .await?;
        report.api_keys_deleted += self.store.delete_expired_api_keys(org_id, now).await?;
        report.ip_denials_deleted += self.store.delete_ended_ip_denials(org_id, now).await?;
        let retention = self.retention;
        let mut after: Option<DueCounter> = None;
        loop {
            let due = self.store.due_counters(org_id, now, after.as_ref()).await?;
            for DueCounter { key, .. } in &due {
                let found = limits_for(&policy, key);
                let subject = CounterSubject {
                    key: Some(key.clone()),
                    sweep: true,
                    ..CounterSubject::default()
                };
                let settled = self
                    .counter_step(
                        &CounterRef {
                            ctx,
                            org_id,
                            key,
                            kind: found.map_or(CounterKind::Account, |(_, kind)| kind),
                            subject: &subject,
                            now,
                            limits: found.as_ref().map(|(limits, _)| limits),
                            notice: None,
                            label: None,
                        },
                        Vec::new(),
                        |state| {
                            // A counter the policy no longer counts is left as it is.
                            let Some((limits, _)) = &found else {
                                return ((false, false), Vec::new());
                            };
                            let mut events = Vec::new();
                            state.settle(limits, now, &mut events);
                            let forgotten = state.forget_stale(now, retention.counter_seconds);
                            ((*state == CounterState::default(), forgotten), events)
                        },
                    )
                    .await;
                let (fresh, forgotten) = match settled {
                    Ok(done) => done,
                    Err(e @ ServiceError::Unavailable(_)) => return Err(e),
                    Err(e) => {
                        tracing::error!(org = %org_id, %key, error = %e, "sweep of a counter failed");
                        report.errors += 1;
                        continue;
                    }
                };
                report.counters_settled += 1;
                report.counters_deleted += u64::from(fresh);
                report.counters_forgotten += u64::from(forgotten);
            }
            match due.last() {
                Some(last) if due.len() == portcullis_store::MAX_PAGE as usize => {
                    after = Some(last.clone())
                }
                _ => break,
            }
        }
        // Reminders last: a failure here must not keep ended locks from opening.
        match self
            .queue_expiry_reminders(ctx, org_id, &policy, report)
            .await
        {
            Ok(()) => {}
            Err(e @ ServiceError::Unavailable(_)) => return Err(e),
            Err(e) => {
                tracing::error!(org = %org_id, error = %e, "expiry reminders failed");
                report.errors += 1;
            }
        }
        Ok(())
    }

    /// Queues a reminder for every enabled user with an address whose password is inside its
    /// warning period (`expire_warn_days` before it expires), once per password.
    async fn queue_expiry_reminders(
        &self,
        ctx: &Context,
        org_id: &OrgId,
        policy: &EffectivePolicy,
        report: &mut SweepReport,
    ) -> ServiceResult<()> {
        let passwords = &policy.password.value;
        if !passwords
            .policies
            .iter()
            .any(|p| p.expiration_enabled && p.expire_warn_days > 0)
        {
            return Ok(());
        }
        let now = self.now();
        let mut page = Page {
            after: None,
            limit: portcullis_store::MAX_PAGE,
        };
        loop {
            let users = self.store.list_users(org_id, &page).await?;
            for user in &users {
                let Some(changed_at) = user.password_changed_at else {
                    continue;
                };
                if user.disabled || user.password_hash.is_none() {
                    continue;
                }
                let rules = passwords.for_source(user.source.as_deref());
                let (Some(warn), Some(expires)) =
                    (warn_from(rules, changed_at), expires_at(rules, changed_at))
                else {
                    continue;
                };
                if now < warn || now >= expires {
                    continue;
                }
                let Some(mail) = self.password_expiring_mail(user, changed_at, expires) else {
                    continue;
                };
                let mut event = DomainEvent::PasswordExpiring(PasswordExpiring {
                    user_id: user.id.clone(),
                    expires_at: portcullis_model::rfc3339(expires),
                })
                .draft(ctx, Some(org_id), now);
                event.mail = Some(mail);
                if self.store.queue_mail_once(event).await? {
                    report.reminders_queued += 1;
                }
            }
            match users.last() {
                Some(last) if users.len() == page.limit as usize => {
                    page.after = Some(last.id.clone())
                }
                _ => break,
            }
        }
        Ok(())
    }
}
