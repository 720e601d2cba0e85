//! The TOTP second factor (docs/design.md §3.3): enrollment by the user, removal (by the user with
//! its password, or by an administrator), and the login's second step.
//!
//! Invariants:
//! - the TOTP secret is stored only sealed with the instance master key, bound to the user;
//! - a code is checked only inside a reservation on the user's own one-time-code counter
//!   (`max_otp_attempts`), with the same exactness as passwords: however many codes race, at
//!   most `max_otp_attempts` failures are counted per lock cycle, and a locked counter answers
//!   `account_locked` without looking at the code;
//! - a TOTP step is used once (the store records it atomically), so a code cannot be replayed,
//!   and a recovery code is used once;
//! - a challenge completes into one session, once, within `CHALLENGE_SECONDS`.

use std::net::IpAddr;

use portcullis_engine::counter::{Attempt, Completion};
use portcullis_engine::ip_block::{IpBlocking, canonical_ip};
use portcullis_engine::lockout::{LockoutKey, SecretKind, lockout_limits};
use portcullis_engine::time_math::plus;
use portcullis_engine::totp::{self, CodeRefusal};
use portcullis_model::{OrgId, Timestamp};
use portcullis_store::{FactorCondition, MfaFactor, Session, SessionStage, User};
use rand_core::{OsRng, RngCore};
use serde::Serialize;

use crate::caller::{Action, Caller};
use crate::counters::{CounterKind, CounterRef, refusal_until};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{CounterSubject, DomainEvent, LoginSucceeded, MfaFailed, UserRef};
use crate::login::Attempt0;
use crate::login_answers::{LoginAnswer, LoginGranted};
use crate::mail::LockNotice;
use crate::metrics::LoginResult;
use crate::secrets::{SESSION_PREFIX, new_token, random_u64, token_hash};
use crate::service::{Context, Service};

/// Seconds a login's second-factor challenge stays open.
pub const CHALLENGE_SECONDS: u64 = 300;

/// When a challenge opened at `opened_at` ends.
pub(crate) fn challenge_expires_at(opened_at: Timestamp) -> Timestamp {
    plus(opened_at, CHALLENGE_SECONDS)
}

/// A started enrollment: what the user's authenticator app needs. Shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TotpEnrollment {
    /// The secret, base32 (to type in).
    pub secret: String,
    /// The `otpauth://` URI (to scan as a QR code).
    pub otpauth_uri: String,
}

/// The recovery codes of a confirmed factor. Shown once; each works once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecoveryCodes {
    /// Ten single-use codes.
    pub recovery_codes: Vec<String>,
}

/// The second step of a login.
#[derive(Clone, Debug)]
pub struct MfaLoginRequest {
    /// The challenge the password step answered.
    pub challenge: String,
    /// A TOTP code, or a recovery code.
    pub code: String,
    /// The client address.
    pub ip: IpAddr,
}

fn sealing_context(org_id: &str, user_id: &str) -> String {
    format!("mfa:{org_id}:{user_id}")
}

/// A recovery code: ten characters of a-z and 2-7 (50 bits), shown as `xxxxx-xxxxx`.
fn new_recovery_code() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; 10];
    OsRng.fill_bytes(&mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

fn unix(at: Timestamp) -> u64 {
    u64::try_from(at.unix_timestamp()).unwrap_or(0)
}

impl Service {
    /// The calling user's organization and id (second factors belong to users, not keys
    /// without a user). Enrolling is allowed to every session of the user, restricted ones
    /// included (a session limited to enrolling exists for this).
    fn mfa_owner(caller: &Caller) -> ServiceResult<(OrgId, String)> {
        match (&caller.org_id, &caller.user_id) {
            (Some(org), Some(user)) => Ok((org.clone(), user.clone())),
            _ => Err(ServiceError::Forbidden(
                "a second factor belongs to a user: sign in as the user",
            )),
        }
    }

    /// Starts (or restarts) the caller's TOTP enrollment. Refused while a confirmed factor
    /// exists: remove it first.
    pub async fn start_totp_enrollment(
        &self,
        caller: &Caller,
        ctx: &Context,
    ) -> ServiceResult<TotpEnrollment> {
        let (org_id, user_id) = Self::mfa_owner(caller)?;
        let master = self.master_key()?;
        if self
            .store
            .get_mfa_factor(&org_id, &user_id)
            .await?
            .is_some_and(|f| f.confirmed_at.is_some())
        {
            return Err(ServiceError::Conflict(
                "a second factor is enrolled already; remove it first".into(),
            ));
        }
        let user = self.user_in(&org_id, &user_id).await?;
        let mut secret = [0u8; totp::SECRET_BYTES];
        OsRng.fill_bytes(&mut secret);
        let secret_hex = crate::secrets::hex(&secret);
        let sealed = master
            .seal(&sealing_context(&org_id, &user_id), &secret_hex)
            .ok_or_else(|| ServiceError::Internal("sealing the secret failed".into()))?;
        let now = self.now();
        let factor = MfaFactor {
            org_id: org_id.clone(),
            user_id: user_id.clone(),
            secret_sealed: sealed,
            confirmed_at: None,
            last_step: 0,
            recovery_codes: Vec::new(),
            created_at: now,
        };
        let event = DomainEvent::MfaEnrollmentStarted(UserRef {
            user_id: user_id.to_owned(),
        })
        .draft(ctx, Some(&org_id), now);
        if !self
            .store
            .put_mfa_factor(&factor, FactorCondition::NotConfirmed, event)
            .await?
        {
            return Err(ServiceError::Conflict(
                "a second factor is enrolled already; remove it first".into(),
            ));
        }
        let account = format!("{}@{}", user.login, org_id);
        Ok(TotpEnrollment {
            secret: totp::secret_base32(&secret),
            otpauth_uri: totp::otpauth_uri(&secret, &account)
                .ok_or_else(|| ServiceError::Internal("building the otpauth URI failed".into()))?,
        })
    }

    /// What is stored of a recovery code: keyed by the master key, bound to the user.
    fn recovery_hash(&self, org_id: &str, user_id: &str, code: &str) -> ServiceResult<String> {
        Ok(self.master_key()?.digest(
            &sealing_context(org_id, user_id),
            &totp::normalize_recovery_code(code),
        ))
    }

    fn open_secret(&self, factor: &MfaFactor) -> ServiceResult<Vec<u8>> {
        let sealed = self
            .master_key()?
            .open(
                &sealing_context(&factor.org_id, &factor.user_id),
                &factor.secret_sealed,
            )
            .ok_or_else(|| {
                ServiceError::Internal("the second factor's secret does not open".into())
            })?;
        crate::secrets::from_hex(&sealed)
            .ok_or_else(|| ServiceError::Internal("the second factor's secret is corrupt".into()))
    }

    /// Confirms the caller's enrollment with a current code; answers the recovery codes (once).
    pub async fn confirm_totp(
        &self,
        caller: &Caller,
        ctx: &Context,
        code: &str,
    ) -> ServiceResult<RecoveryCodes> {
        let (org_id, user_id) = Self::mfa_owner(caller)?;
        let factor = self
            .store
            .get_mfa_factor(&org_id, &user_id)
            .await?
            .filter(|f| f.confirmed_at.is_none() && !f.secret_sealed.is_empty())
            .ok_or(ServiceError::NotFound)?;
        let secret = self.open_secret(&factor)?;
        let now = self.now();
        let step = totp::check_code(&secret, code, unix(now), 0).map_err(|_| {
            ServiceError::invalid(portcullis_model::Violation::new(
                "code",
                CODE_INVALID,
                "is not the current code of this secret",
            ))
        })?;
        let codes: Vec<String> = (0..totp::RECOVERY_CODES)
            .map(|_| new_recovery_code())
            .collect();
        let enrolling = FactorCondition::Enrolling(factor.secret_sealed.clone());
        let confirmed = MfaFactor {
            confirmed_at: Some(now),
            // The code just shown cannot log in again.
            last_step: step,
            recovery_codes: codes
                .iter()
                .map(|c| self.recovery_hash(&org_id, &user_id, c))
                .collect::<ServiceResult<_>>()?,
            ..factor
        };
        let event = DomainEvent::MfaEnrolled(UserRef {
            user_id: user_id.to_owned(),
        })
        .draft(ctx, Some(&org_id), now);
        if !self
            .store
            .put_mfa_factor(&confirmed, enrolling, event)
            .await?
        {
            return Err(ServiceError::Conflict(
                "the enrollment changed meanwhile (restarted, confirmed or removed); start again"
                    .into(),
            ));
        }
        Ok(RecoveryCodes {
            recovery_codes: codes,
        })
    }

    /// Removes the caller's factor after checking its password again, through the login flow:
    /// lockout, IP blocking and the hashing limits apply as to any password check.
    pub async fn remove_own_totp(
        &self,
        caller: &Caller,
        ctx: &Context,
        password: &str,
        ip: IpAddr,
    ) -> ServiceResult<()> {
        let (org_id, user_id) = Self::mfa_owner(caller)?;
        caller.allow(&org_id, Action::SelfService)?;
        let user = self.user_in(&org_id, &user_id).await?;
        self.recheck_password(ctx, &user, password, ip).await?;
        self.delete_factor(ctx, &org_id, &user_id).await
    }

    /// Removes a user's factor (an administrator, e.g. for a lost device).
    pub async fn reset_user_mfa(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        user_id: &str,
    ) -> ServiceResult<()> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        if caller.user_id.as_deref() == Some(user_id) {
            return Err(ServiceError::Forbidden(
                "remove your own factor with DELETE /v1/self/mfa/totp and your password",
            ));
        }
        self.user_in(org_id, user_id).await?;
        // Idempotent: a user with no factor (none enrolled, or removed meanwhile) is already
        // what the call asks for; nothing is written and no event recorded.
        match self.delete_factor(ctx, org_id, user_id).await {
            Err(ServiceError::NotFound) => Ok(()),
            other => other,
        }
    }

    /// Removes a factor by writing an empty one: its `created_at` records the removal, from which
    /// a required second factor's enrollment grace runs again (a user whose lost device was
    /// reset can enroll anew, instead of being refused as overdue).
    async fn delete_factor(
        &self,
        ctx: &Context,
        org_id: &OrgId,
        user_id: &str,
    ) -> ServiceResult<()> {
        let present = self
            .store
            .get_mfa_factor(org_id, user_id)
            .await?
            .is_some_and(|f| !f.secret_sealed.is_empty());
        if !present {
            return Err(ServiceError::NotFound);
        }
        let now = self.now();
        let removed = MfaFactor {
            org_id: org_id.clone(),
            user_id: user_id.to_owned(),
            secret_sealed: String::new(),
            confirmed_at: None,
            last_step: 0,
            recovery_codes: Vec::new(),
            created_at: now,
        };
        let event = DomainEvent::MfaRemoved(UserRef {
            user_id: user_id.to_owned(),
        })
        .draft(ctx, Some(org_id), now);
        if self
            .store
            .put_mfa_factor(&removed, FactorCondition::Present, event)
            .await?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Whether the user has a confirmed factor, and when a factor was last removed (the
    /// login's password step asks).
    pub(crate) async fn mfa_state(
        &self,
        org_id: &OrgId,
        user_id: &str,
    ) -> ServiceResult<(bool, Option<Timestamp>)> {
        let factor = self.store.get_mfa_factor(org_id, user_id).await?;
        Ok(match factor {
            Some(f) if f.confirmed_at.is_some() => (true, None),
            Some(f) if f.secret_sealed.is_empty() => (false, Some(f.created_at)),
            _ => (false, None),
        })
    }

    /// Whether the user has a confirmed factor.
    pub(crate) async fn mfa_enrolled(&self, org_id: &OrgId, user_id: &str) -> ServiceResult<bool> {
        Ok(self.mfa_state(org_id, user_id).await?.0)
    }

    /// The login's second step: a TOTP or recovery code against the challenge.
    pub async fn complete_mfa_login(
        &self,
        ctx: &Context,
        org_id: &str,
        request: MfaLoginRequest,
    ) -> ServiceResult<LoginAnswer> {
        let org_id = &self.require_org(org_id).await?;
        let now = self.now();
        let challenge_hash = token_hash(&request.challenge);
        let challenge = self
            .store
            .find_session(&challenge_hash)
            .await?
            .filter(|s| crate::secrets::secrets_equal(&s.token_hash, &challenge_hash))
            .filter(|s| s.stage == SessionStage::MfaChallenge && &s.org_id == org_id)
            .filter(|s| challenge_expires_at(s.created_at) > now);
        let Some(challenge) = challenge else {
            self.metrics.login(LoginResult::InvalidChallenge);
            return Ok(LoginAnswer::InvalidChallenge);
        };
        let user = self.user_in(org_id, &challenge.user_id).await?;
        let policy = self.effective_policy(org_id).await?;
        let lockout = &policy.lockout.value;
        let ip = canonical_ip(request.ip);
        let blocking = IpBlocking::new(&policy.brute_force.value);
        let key = LockoutKey::new(
            lockout.scope,
            SecretKind::Otp,
            org_id,
            &user.login,
            blocking.source(ip),
        );
        let a = Attempt0 {
            ctx,
            org_id,
            policy: &policy,
            ip,
            subject: CounterSubject {
                factor: Some("totp"),
                ..CounterSubject::login(&key.login, &ip.to_string())
            },
            lock_key: key.storage_key(),
            blocking,
            now,
            label: Some(&user.login),
        };
        let notice = LockNotice::for_user(&user, &a.lock_key, lockout, self.master_key.is_some());
        let limits = lockout_limits(lockout, SecretKind::Otp);
        let counter = CounterRef {
            ctx,
            org_id,
            key: &a.lock_key,
            kind: CounterKind::Account,
            subject: &a.subject,
            now,
            limits: limits.as_ref(),
            notice: notice.as_ref(),
            label: a.label,
        };

        // 0. A blocked address gets no code checked; its wrong codes count like wrong passwords.
        if let Some(answer) = self.blocked_ip_answer(&a).await? {
            return Ok(answer);
        }

        // 1. Reserve an attempt on the user's one-time-code counter.
        let reservation = random_u64();
        if let Some(limits) = &limits {
            let reserved = self
                .counter_step(&counter, Vec::new(), |s| {
                    let out = s.reserve(limits, reservation, now);
                    (out.decision, out.events)
                })
                .await?;
            if let Err(refusal) = reserved {
                self.metrics.login(LoginResult::AccountLocked);
                return Ok(LoginAnswer::Locked {
                    until: refusal_until(refusal),
                });
            }
        }

        // 2. Check the code: a TOTP step used once, or a recovery code used once.
        let accepted = self
            .check_second_factor(ctx, org_id, &user.id, &request.code, now)
            .await?;

        // 3. Complete the reservation; a failure's event goes with the first counter it changes.
        let mut failed = Vec::new();
        if !accepted {
            failed.push(
                DomainEvent::MfaFailed(MfaFailed {
                    user_id: user.id.clone(),
                    ip: ip.to_string(),
                })
                .draft(ctx, Some(org_id), now),
            );
        }
        if let Some(limits) = &limits {
            let attempt = if accepted {
                Attempt::Success
            } else {
                Attempt::Failure
            };
            let completion = self
                .counter_step(&counter, std::mem::take(&mut failed), |s| {
                    let out = s.complete(limits, reservation, attempt, now);
                    (out.decision, out.events)
                })
                .await?;
            match completion {
                Completion::FailureCounted { locked: true } => {
                    self.end_sessions_after_lock(&a, &user.id).await?;
                }
                Completion::Succeeded | Completion::FailureCounted { .. } => {}
                Completion::LockedMeanwhile(lock) => {
                    self.metrics.login(LoginResult::AccountLocked);
                    return Ok(LoginAnswer::Locked { until: lock.until });
                }
                // The reservation outlived its life and was counted as a failure: a success
                // is not honored.
                Completion::Stale => {
                    self.metrics.login(LoginResult::InvalidCode);
                    return Ok(LoginAnswer::InvalidCode);
                }
            }
        }
        if !accepted {
            self.count_ip_failure(&a, failed).await?;
            self.metrics.login(LoginResult::InvalidCode);
            return Ok(LoginAnswer::InvalidCode);
        }

        // 4. The challenge becomes the session, under a new token.
        self.open_mfa_session(ctx, &policy, challenge, &user, ip, now)
            .await
    }

    async fn check_second_factor(
        &self,
        ctx: &Context,
        org_id: &OrgId,
        user_id: &str,
        code: &str,
        now: Timestamp,
    ) -> ServiceResult<bool> {
        let Some(factor) = self
            .store
            .get_mfa_factor(org_id, user_id)
            .await?
            .filter(|f| f.confirmed_at.is_some())
        else {
            return Ok(false);
        };
        let trimmed = code.trim();
        if trimmed.len() == usize::from(totp::DIGITS) && trimmed.bytes().all(|b| b.is_ascii_digit())
        {
            let secret = self.open_secret(&factor)?;
            return match totp::check_code(&secret, trimmed, unix(now), factor.last_step) {
                Ok(step) => Ok(self.store.use_mfa_step(org_id, user_id, step).await?),
                Err(CodeRefusal::Wrong | CodeRefusal::Replayed) => Ok(false),
            };
        }
        let event = DomainEvent::MfaRecoveryCodeUsed(UserRef {
            user_id: user_id.to_owned(),
        })
        .draft(ctx, Some(org_id), now);
        Ok(self
            .store
            .use_recovery_code(
                org_id,
                user_id,
                &self.recovery_hash(org_id, user_id, code)?,
                event,
            )
            .await?)
    }

    async fn open_mfa_session(
        &self,
        ctx: &Context,
        policy: &portcullis_model::EffectivePolicy,
        challenge: Session,
        user: &User,
        ip: IpAddr,
        now: Timestamp,
    ) -> ServiceResult<LoginAnswer> {
        let token = new_token(SESSION_PREFIX);
        let event = DomainEvent::LoginSucceeded(LoginSucceeded {
            user_id: user.id.clone(),
            session_id: challenge.id.clone(),
            ip: ip.to_string(),
            password_change_required: challenge.password_change_only,
            stage: None,
            mfa: true,
        })
        .draft(ctx, Some(&challenge.org_id), now);
        if !self
            .store
            .complete_mfa_challenge(&challenge.id, &token_hash(&token), now, vec![event])
            .await?
        {
            // Another request completed it first.
            self.metrics.login(LoginResult::InvalidChallenge);
            return Ok(LoginAnswer::InvalidChallenge);
        }
        self.metrics.login(LoginResult::Success);
        let session_policy = &policy.session.value;
        let deadlines = portcullis_engine::session::deadlines(session_policy, now, now);
        Ok(LoginAnswer::Granted(Box::new(LoginGranted {
            token,
            user_id: user.id.clone(),
            expires_at: deadlines.expires_at,
            idle_expires_at: deadlines.idle_expires_at,
            password_change_required: challenge.password_change_only,
            mfa_enroll_by: None,
            password_expires_at: None,
            last_login: None,
            banner: (!session_policy.login_banner.is_empty())
                .then(|| session_policy.login_banner.clone()),
        })))
    }
}

/// Stable code: a TOTP code that is not the current one.
pub const CODE_INVALID: &str = "mfa.code_invalid";
/// Stable code: the password given to remove a factor is not the account's.
pub const PASSWORD_INCORRECT: &str = "password.incorrect";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_random_and_typed_loosely() {
        let a = new_recovery_code();
        let b = new_recovery_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), 11);
        assert_eq!(&a[5..6], "-");
        assert_eq!(
            totp::normalize_recovery_code(&a),
            totp::normalize_recovery_code(&a.to_uppercase().replace('-', " "))
        );
    }
}
