//! Login flow (docs/design.md §3.1): IP check → reserve on the lockout key → look up → verify off
//! the async threads → decide → complete the reservation and open the session in one store
//! transaction (docs/benchmarks.md, "What a login writes").
//!
//! Invariants:
//! - a blocked IP is answered before any user lookup or hash; a revealed lock before any hash;
//! - every verification runs under a reservation granted by the store's atomic counter update, so
//!   at most `max_password_attempts` verifications per lock cycle end as counted failures, on any
//!   number of threads or replicas; a crash between reserve and complete fails closed (the
//!   reservation expires into a failure);
//! - an unknown login name, a wrong password and (with `reveal_lock` off) a locked account give
//!   the same answer after the same work: one verification against a real or a dummy hash, one
//!   failure counted on the lockout key and the IP;
//! - every counter change and its events (`login.failed`, `account.locked`, `ip.blocked`, ...) are
//!   written in one store transaction.

use std::net::IpAddr;

use portcullis_engine::counter::{Attempt, Completion, CounterLimits, CounterState, Refusal};
use portcullis_engine::hashing::can_hash_with;
use portcullis_engine::ip_block::{IpBlocking, IpStatus, canonical_ip, source_key, source_label};
use portcullis_engine::lockout::{LockoutKey, SecretKind, lockout_limits, normalize_login};
use portcullis_engine::login::{
    LoginPolicies, LoginRefusal, MfaStep, UserFacts, decide_login, mfa_required_since,
};
use portcullis_engine::password_check::{AccountContext, check_rules};
use portcullis_model::names::{forbidden_in_name, legacy_login_key};
use portcullis_model::{EffectivePolicy, OrgId, Timestamp};
use portcullis_store::{EventDraft, LoginRecord, Session, SessionStage, User};

use crate::counters::{CounterKind, CounterRef, refusal_until};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{
    AttemptFailed, CounterSubject, DomainEvent, LoginRefused, LoginSucceeded, SessionsEnded,
};
use crate::ip_blocks::retry_after_denial;
use crate::login_answers::{LastLogin, LoginAnswer, LoginGranted, LoginRequest, MfaChallenge};
use crate::mail::LockNotice;
use crate::metrics::LoginResult;
use crate::secrets::{SESSION_PREFIX, new_id, new_token, random_u64, token_hash};
use crate::service::{Context, Service};

/// Longest login name a user can have (and so the longest worth counting).
pub(crate) const MAX_LOGIN_CHARS: usize = 256;

/// Whether some user could have this login name (not too long, no control, invisible or
/// bidirectional-control code point).
pub(crate) fn possible_login(login: &str) -> bool {
    login.chars().count() <= MAX_LOGIN_CHARS && !login.chars().any(forbidden_in_name)
}

/// A reservation held on a lockout key.
struct Held {
    id: u64,
    limits: CounterLimits,
}

/// Everything one login step (password or one-time code) needs, gathered once.
pub(crate) struct Attempt0<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) org_id: &'a OrgId,
    pub(crate) policy: &'a EffectivePolicy,
    pub(crate) ip: IpAddr,
    pub(crate) subject: CounterSubject,
    pub(crate) lock_key: String,
    pub(crate) blocking: IpBlocking,
    pub(crate) now: Timestamp,
    /// The login name as typed (`None`: no login name, e.g. a registration's address count).
    pub(crate) label: Option<&'a str>,
}

impl Service {
    /// Logs in with a password.
    pub async fn login(
        &self,
        ctx: &Context,
        org_id: &str,
        request: LoginRequest,
    ) -> ServiceResult<LoginAnswer> {
        let org_id = &self.require_org(org_id).await?;
        let policy = self.effective_policy(org_id).await?;
        let now = self.now();
        let ip = canonical_ip(request.ip);
        // Refuse before reserving when the hash queue is full: a reservation that waited past
        // its lifetime would count as a failure against an innocent user.
        if !self.hash_pool.has_room() {
            return Err(ServiceError::Unavailable(
                "too many logins in progress".into(),
            ));
        }
        let lockout = &policy.lockout.value;
        let blocking = IpBlocking::new(&policy.brute_force.value);
        let key = LockoutKey::new(
            lockout.scope,
            SecretKind::Password,
            org_id,
            &request.login,
            blocking.source(ip),
        );
        let a = Attempt0 {
            ctx,
            org_id,
            policy: &policy,
            ip,
            subject: CounterSubject::login(&key.login, &ip.to_string()),
            lock_key: key.storage_key(),
            blocking,
            now,
            label: Some(&request.login),
        };

        // 1. A blocked IP: no lookup, no hash, whatever the name. The same read gives the
        //    lockout counter's state when a revealed lock would be answered from it.
        let lock_read = (lockout.reveal_lock
            && lockout_limits(lockout, SecretKind::Password).is_some()
            && possible_login(&request.login))
        .then_some(a.lock_key.as_str());
        let lock_state = match self.gate(&a, lock_read).await? {
            Ok(state) => state,
            Err(answer) => return Ok(answer),
        };
        if !possible_login(&request.login) {
            // No user can have this name (too long, or a code point no name may hold): the same
            // answer and hash as an unknown user, counted on the address, but no lockout counter
            // and no event carrying the name are made for it.
            let algorithm = policy.password.value.default_policy().hash_algorithm;
            self.verify_password(&request.password, None, algorithm)
                .await?;
            self.count_ip_failure(&a, Vec::new()).await?;
            self.metrics.login(LoginResult::InvalidCredentials);
            return Ok(LoginAnswer::InvalidCredentials);
        }

        // 2. Reserve an attempt on the lockout key.
        let mut held = None;
        if let Some(limits) = lockout_limits(lockout, SecretKind::Password) {
            // A revealed lock in force is answered from a read: it can only end by time or
            // unlock. A hidden lock goes through the reservation like any attempt, so that it
            // does the same store work as a wrong password (and no read is made for it).
            let revealed = if lockout.reveal_lock {
                lock_state.lock_at(now)
            } else {
                None
            };
            let refusal = match revealed {
                Some(lock) => Some(Refusal::Locked(lock)),
                None => {
                    let id = random_u64();
                    let decision = self
                        .counter_step(
                            &CounterRef {
                                ctx,
                                org_id,
                                key: &a.lock_key,
                                kind: CounterKind::Account,
                                subject: &a.subject,
                                now,
                                limits: Some(&limits),
                                notice: None,
                                label: a.label,
                            },
                            Vec::new(),
                            |s| {
                                let out = s.reserve(&limits, id, now);
                                (out.decision, out.events)
                            },
                        )
                        .await?;
                    match decision {
                        Ok(()) => {
                            held = Some(Held { id, limits });
                            None
                        }
                        Err(refusal) => Some(refusal),
                    }
                }
            };
            if let Some(refusal) = refusal {
                return self.refuse_locked(&a, &request, refusal).await;
            }
        }

        // 3. Look up and verify (dummy hash for an unknown user or one without a password).
        let user = self.find_user_by_name(org_id, &request.login).await?;
        let rules = policy
            .password
            .value
            .for_source(user.as_ref().and_then(|u| u.source.as_deref()));
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verified = self
            .verify_password(&request.password, hash, rules.hash_algorithm)
            .await?;
        let user = match user {
            Some(user) if verified => user,
            other => return self.login_failed(&a, held, other.as_ref()).await,
        };

        // 4. What the login becomes; the reservation completes as a success in the transaction
        //    that opens the session.
        self.grant(&a, &request, user, rules, held).await
    }

    /// The counter a login's reservation is held on.
    fn lock_counter<'b>(&self, a: &'b Attempt0<'_>, limits: &'b CounterLimits) -> CounterRef<'b> {
        CounterRef {
            ctx: a.ctx,
            org_id: a.org_id,
            key: &a.lock_key,
            kind: CounterKind::Account,
            subject: &a.subject,
            now: a.now,
            limits: Some(limits),
            notice: None,
            label: a.label,
        }
    }

    /// The answer to a verified login whose reservation did not complete as a success (a lock
    /// placed meanwhile, or the reservation gone); `None` when it succeeded.
    fn completion_refused(&self, a: &Attempt0<'_>, completion: Completion) -> Option<LoginAnswer> {
        match completion {
            Completion::Succeeded => None,
            Completion::LockedMeanwhile(lock) if a.policy.lockout.value.reveal_lock => {
                self.metrics.login(LoginResult::AccountLocked);
                Some(LoginAnswer::Locked { until: lock.until })
            }
            Completion::LockedMeanwhile(_)
            | Completion::Stale
            | Completion::FailureCounted { .. } => {
                self.metrics.login(LoginResult::InvalidCredentials);
                Some(LoginAnswer::InvalidCredentials)
            }
        }
    }

    async fn grant(
        &self,
        a: &Attempt0<'_>,
        request: &LoginRequest,
        user: User,
        rules: &portcullis_model::PasswordPolicy,
        held: Option<Held>,
    ) -> ServiceResult<LoginAnswer> {
        let now = a.now;
        let account = AccountContext::new(
            &user.login,
            user.email.as_deref(),
            user.display_name.as_deref(),
        );
        let (mfa_enrolled, factor_removed_at) = self.mfa_state(a.org_id, &user.id).await?;
        let facts = UserFacts {
            disabled: user.disabled,
            created_at: user.created_at,
            last_login_at: user.last_login_at,
            password_changed_at: user.password_changed_at.unwrap_or(user.created_at),
            password_set_by_admin: user.password_set_by_admin,
            password_expired_at: user.password_expired_at,
            password_compliant: check_rules(rules, &request.password, &account).is_empty()
                && !self.breached_at_login(rules, &request.password).await,
            mfa_enrolled,
            mfa_required_since: mfa_required_since(
                user.created_at,
                &[
                    a.policy.mfa.details.changed_at,
                    a.policy.password.details.changed_at,
                ],
                factor_removed_at,
            ),
            email_unverified: user.verification_pending
                && a.policy.features.value.force_email_verification,
        };
        let policies = LoginPolicies {
            password: rules,
            session: &a.policy.session.value,
            mfa: &a.policy.mfa.value,
        };
        let grant = match decide_login(policies, &facts, a.ip, now) {
            Ok(grant) => grant,
            Err(refusal) => {
                let (answer, label) = match refusal {
                    LoginRefusal::AccountDisabled | LoginRefusal::AccountInactive => {
                        (LoginAnswer::Disabled, LoginResult::AccountDisabled)
                    }
                    LoginRefusal::EmailNotVerified => {
                        (LoginAnswer::EmailNotVerified, LoginResult::EmailNotVerified)
                    }
                    LoginRefusal::PasswordExpired => {
                        (LoginAnswer::PasswordExpired, LoginResult::PasswordExpired)
                    }
                    LoginRefusal::MfaEnrollmentOverdue => (
                        LoginAnswer::MfaEnrollmentOverdue,
                        LoginResult::MfaEnrollmentOverdue,
                    ),
                };
                // The reservation completes first (a refused login is no failure); a lock
                // placed meanwhile answers instead.
                if let Some(Held { id, limits }) = held {
                    let completion = self
                        .counter_step(&self.lock_counter(a, &limits), Vec::new(), |s| {
                            let out = s.complete(&limits, id, Attempt::Success, now);
                            (out.decision, out.events)
                        })
                        .await?;
                    if let Some(answer) = self.completion_refused(a, completion) {
                        return Ok(answer);
                    }
                }
                self.metrics.login(label);
                let event = DomainEvent::LoginRefused(LoginRefused {
                    user_id: user.id.clone(),
                    reason: label.as_str(),
                    ip: a.ip.to_string(),
                })
                .draft(a.ctx, Some(a.org_id), now);
                self.store.append_events(vec![event]).await?;
                return Ok(answer);
            }
        };

        let stored_hash = user.password_hash.clone().unwrap_or_default();
        let rehash = if self.hasher.needs_rehash(&stored_hash, rules.hash_algorithm)
            && can_hash_with(&request.password, rules.hash_algorithm)
        {
            Some(
                self.hash_password(&request.password, rules.hash_algorithm)
                    .await?,
            )
        } else {
            None
        };

        let token = new_token(SESSION_PREFIX);
        let session = Session {
            id: new_id("ses"),
            token_hash: token_hash(&token),
            org_id: a.org_id.to_owned(),
            user_id: user.id.clone(),
            created_at: now,
            last_used_at: now,
            password_change_only: grant.password_change.is_some(),
            stage: match grant.mfa {
                MfaStep::None => SessionStage::Full,
                MfaStep::Challenge => SessionStage::MfaChallenge,
                MfaStep::Enroll { .. } => SessionStage::MfaEnrollOnly,
            },
            client_ip: Some(a.ip.to_string()),
            user_agent: a.ctx.user_agent.clone(),
        };
        let event = DomainEvent::LoginSucceeded(LoginSucceeded {
            user_id: user.id.clone(),
            session_id: session.id.clone(),
            ip: a.ip.to_string(),
            password_change_required: session.password_change_only,
            stage: Some(session.stage.as_str()),
            mfa: false,
        })
        .draft(a.ctx, Some(a.org_id), now);
        let login = LoginRecord {
            verified_hash: stored_hash,
            ip: a.ip.to_string(),
            rehash,
        };
        // The session opens only if the reservation completes as a success and the password
        // verified is still the user's: a lock placed, a password set or a disable that
        // committed meanwhile wins, and the login fails like a wrong password (or is locked).
        let (failures_before, opened) = match held {
            Some(Held { id, limits }) => {
                let ((completion, before), opened) = self
                    .complete_login(
                        &self.lock_counter(a, &limits),
                        |s| {
                            let before = s.failures;
                            let out = s.complete(&limits, id, Attempt::Success, now);
                            let open = out.decision == Completion::Succeeded;
                            (((out.decision, before), open), out.events)
                        },
                        &session,
                        &login,
                        vec![event],
                    )
                    .await?;
                if let Some(answer) = self.completion_refused(a, completion) {
                    return Ok(answer);
                }
                (before, opened)
            }
            None => (
                0,
                self.store
                    .open_login_session(&session, &login, vec![event])
                    .await?,
            ),
        };
        if !opened {
            self.metrics.login(LoginResult::InvalidCredentials);
            return Ok(LoginAnswer::InvalidCredentials);
        }
        self.metrics.login(LoginResult::Success);

        let mfa_enroll_by = match grant.mfa {
            MfaStep::Challenge => {
                return Ok(LoginAnswer::MfaChallenge(Box::new(MfaChallenge {
                    challenge: token,
                    user_id: user.id,
                    expires_at: crate::mfa::challenge_expires_at(now),
                    password_change_required: session.password_change_only,
                })));
            }
            MfaStep::None => None,
            MfaStep::Enroll { until } => Some(until),
        };
        let session_policy = &a.policy.session.value;
        let deadlines = portcullis_engine::session::deadlines(session_policy, now, now);
        Ok(LoginAnswer::Granted(Box::new(LoginGranted {
            token,
            user_id: user.id,
            expires_at: deadlines.expires_at,
            idle_expires_at: deadlines.idle_expires_at,
            password_change_required: session.password_change_only,
            mfa_enroll_by,
            password_expires_at: grant.password_expires_at,
            last_login: session_policy.show_recent_login_info.then_some(LastLogin {
                at: user.last_login_at,
                ip: user.last_login_ip,
                failed_attempts: failures_before,
            }),
            banner: (!session_policy.login_banner.is_empty())
                .then(|| session_policy.login_banner.clone()),
        })))
    }

    /// A refused reservation: revealed, or hidden behind a dummy verification.
    async fn refuse_locked(
        &self,
        a: &Attempt0<'_>,
        request: &LoginRequest,
        refusal: Refusal,
    ) -> ServiceResult<LoginAnswer> {
        let until = refusal_until(refusal);
        if a.policy.lockout.value.reveal_lock {
            self.metrics.login(LoginResult::AccountLocked);
            self.count_ip_failure(a, Vec::new()).await?;
            return Ok(LoginAnswer::Locked { until });
        }
        // The same work as a wrong password: a counter read and write (done), a user lookup, one
        // verification of the user's algorithm, a write for the failure, one for the IP.
        let user = self.find_user_by_name(a.org_id, &request.login).await?;
        let algorithm = a
            .policy
            .password
            .value
            .for_source(user.as_ref().and_then(|u| u.source.as_deref()))
            .hash_algorithm;
        self.verify_password(&request.password, None, algorithm)
            .await?;
        let failed = DomainEvent::LoginFailed(AttemptFailed {
            subject: a.subject.clone(),
            user_id: None,
        })
        .draft(a.ctx, Some(a.org_id), a.now);
        self.store.append_events(vec![failed]).await?;
        self.count_ip_failure(a, Vec::new()).await?;
        self.metrics.login(LoginResult::InvalidCredentials);
        Ok(LoginAnswer::InvalidCredentials)
    }

    /// A wrong password or unknown user: the reservation becomes a failure; the IP counts one.
    async fn login_failed(
        &self,
        a: &Attempt0<'_>,
        held: Option<Held>,
        user: Option<&User>,
    ) -> ServiceResult<LoginAnswer> {
        let notice = user.and_then(|u| {
            LockNotice::for_user(
                u,
                &a.lock_key,
                &a.policy.lockout.value,
                self.master_key.is_some(),
            )
        });
        let failed = DomainEvent::LoginFailed(AttemptFailed {
            subject: a.subject.clone(),
            user_id: user.map(|u| u.id.clone()),
        })
        .draft(a.ctx, Some(a.org_id), a.now);
        match held {
            Some(Held { id, limits }) => {
                let now = a.now;
                let completion = self
                    .counter_step(
                        &CounterRef {
                            ctx: a.ctx,
                            org_id: a.org_id,
                            key: &a.lock_key,
                            kind: CounterKind::Account,
                            subject: &a.subject,
                            now,
                            limits: Some(&limits),
                            notice: notice.as_ref(),
                            label: a.label,
                        },
                        vec![failed],
                        |s| {
                            let out = s.complete(&limits, id, Attempt::Failure, now);
                            (out.decision, out.events)
                        },
                    )
                    .await?;
                if completion == (Completion::FailureCounted { locked: true })
                    && let Some(user) = user
                {
                    self.end_sessions_after_lock(a, &user.id).await?;
                }
                self.count_ip_failure(a, Vec::new()).await?;
            }
            None => self.count_ip_failure(a, vec![failed]).await?,
        }
        self.metrics.login(LoginResult::InvalidCredentials);
        Ok(LoginAnswer::InvalidCredentials)
    }

    /// After a lock placed on `user_id`'s login: ends every session of the user when the policy
    /// says so and the lock covers the whole login (scope `login`; a lock of one source under
    /// `login_and_ip` leaves the user's other sessions alone, so an attacker's address cannot
    /// sign the user out everywhere). Runs right after the lock commits.
    pub(crate) async fn end_sessions_after_lock(
        &self,
        a: &Attempt0<'_>,
        user_id: &str,
    ) -> ServiceResult<()> {
        let lockout = &a.policy.lockout.value;
        if !lockout.end_sessions_on_lock || lockout.scope != portcullis_model::LockoutScope::Login {
            return Ok(());
        }
        let event = DomainEvent::SessionsEnded(SessionsEnded {
            user_id: user_id.to_owned(),
            reason: "locked",
        })
        .draft(a.ctx, Some(a.org_id), a.now);
        self.store
            .end_user_sessions(a.org_id, user_id, None, event)
            .await?;
        Ok(())
    }

    /// The answer to an attempt from a blocked client address, if it is blocked (answered
    /// before any lookup or hash): an administrator's block of it, or its source's counted
    /// block.
    pub(crate) async fn blocked_ip_answer(
        &self,
        a: &Attempt0<'_>,
    ) -> ServiceResult<Option<LoginAnswer>> {
        Ok(self.gate(a, None).await?.err())
    }

    /// What an attempt reads before it reserves, in one store statement: the answer for a
    /// blocked client address (an administrator's block of it first, which applies whether or
    /// not counting is on, then its source's counted block), else the state of the counter
    /// `lock_key` (a default one when not asked for).
    pub(crate) async fn gate(
        &self,
        a: &Attempt0<'_>,
        lock_key: Option<&str>,
    ) -> ServiceResult<Result<CounterState, LoginAnswer>> {
        let counted = a.blocking.limits_for(a.ip).is_some();
        let ip_key = counted.then(|| a.blocking.counter_key(a.ip));
        let denial_of = (!a.blocking.is_allowlisted(a.ip)).then_some(a.ip);
        let gate = self
            .store
            .attempt_gate(a.org_id, denial_of, a.now, [ip_key.as_deref(), lock_key])
            .await?;
        let [ip_state, lock_state] = gate.counters;
        let retry_after = match gate.denial {
            Some(until) => Some(retry_after_denial(until, a.now)),
            None if counted => match a.blocking.status(&ip_state, a.ip, a.now) {
                IpStatus::Blocked(lock) => Some(retry_after_denial(lock.until, a.now)),
                _ => None,
            },
            None => None,
        };
        Ok(match retry_after {
            Some(retry_after) => {
                self.metrics.login(LoginResult::IpBlocked);
                Err(LoginAnswer::IpBlocked { retry_after })
            }
            None => Ok(lock_state),
        })
    }

    /// Counts a failed attempt on the client IP's counter (unless exempt), with `extra` events.
    pub(crate) async fn count_ip_failure(
        &self,
        a: &Attempt0<'_>,
        extra: Vec<EventDraft>,
    ) -> ServiceResult<()> {
        match a.blocking.limits_for(a.ip) {
            Some(limits) => {
                let source = a.blocking.source(a.ip);
                let subject = CounterSubject {
                    ip: Some(a.ip.to_string()),
                    network: Some(source_label(source)),
                    ..CounterSubject::default()
                };
                let now = a.now;
                let notice = LockNotice::for_admins(a.ip, &a.policy.brute_force.value);
                self.counter_step(
                    &CounterRef {
                        ctx: a.ctx,
                        org_id: a.org_id,
                        key: &source_key(source),
                        kind: CounterKind::Ip,
                        subject: &subject,
                        now,
                        limits: Some(&limits),
                        notice: notice.as_ref(),
                        label: None,
                    },
                    extra,
                    |s| {
                        let out = s.record_failure(&limits, now);
                        ((), out.events)
                    },
                )
                .await
            }
            None if extra.is_empty() => Ok(()),
            None => Ok(self.store.append_events(extra).await?),
        }
    }

    /// The user with login name `login` as typed: looked up by its comparison form, and by the
    /// form stored before the current profile when the two differ (users created earlier).
    pub(crate) async fn find_user_by_name(
        &self,
        org_id: &OrgId,
        login: &str,
    ) -> ServiceResult<Option<User>> {
        let key = normalize_login(login);
        if let Some(user) = self.store.find_user_by_login(org_id, &key).await? {
            return Ok(Some(user));
        }
        let legacy = legacy_login_key(login);
        if legacy == key {
            return Ok(None);
        }
        Ok(self.store.find_user_by_login(org_id, &legacy).await?)
    }
}
