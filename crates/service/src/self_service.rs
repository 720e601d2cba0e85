//! Self-service: self-unblock, forgotten password, registration, email verification and
//! self-deletion, each only while the organization's policy allows it (`lockout` for the
//! unblock, `features` for the rest).
//!
//! Invariants:
//! - a reset request answers the same whether or not the login exists, and writes one event
//!   either way; only an existing, enabled user with an address gets a mail, at most one per
//!   user per five minutes (more requests are recorded, not mailed); the store work is the
//!   same on every path (one lookup, one transaction writing the event, with the mail unless
//!   its window has one), so the answer's timing does not tell either;
//! - a mailed token works once (see `action_token`): the lock it names, the password hash it
//!   replaces or the pending address it proves is gone after its use, and the store applies
//!   each use conditionally on that state, so two concurrent uses make one change;
//! - a password set with a reset token passes the full policy check, history included; the
//!   reset ends every session and lifts the login's password locks (the mailbox was proven),
//!   never its one-time-code locks (the second factor must stay stronger than the mailbox);
//!   likewise a mailed unblock link only ever names a password lockout key;
//! - self-deletion and other password re-checks go through the counted login flow, so they
//!   cannot be used to guess passwords beyond the lockout;
//! - every registration attempt counts on the client address like one failed login (the
//!   `brute_force` policy), and an address blocked by that count is refused (429) before any
//!   validation, hash or mail;
//! - while the organization forces email verification, a verified address belongs to one user
//!   of the organization: a registration with, or a verification of, an address another user
//!   verified is refused (`email.taken`), the verification atomically in the store.

use portcullis_engine::ip_block::{IpBlocking, canonical_ip};
use portcullis_engine::lockout::{SecretKind, normalize_login};
use portcullis_model::{OrgId, Violation, codes as model_codes};
use portcullis_store::{EmailConfirmation, PasswordUpdate, Role, User};
use serde::Deserialize;

use crate::action_token::{Claims, Purpose, lock_binding, reset_binding, verify};
use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{CounterSubject, DomainEvent, PasswordResetRequested, UserDeleted, UserRef};
use crate::login::Attempt0;
use crate::login_answers::{LoginAnswer, LoginRequest};
use crate::secrets::secrets_equal;
use crate::service::{Context, Service};
use crate::users::{NewUser, Origin, UserView};

/// Stable code: a mailed token that is unknown, expired, already used or of another purpose.
pub const TOKEN_INVALID: &str = "token.invalid";
/// At most one reset mail per user per this many seconds.
const RESET_MAIL_WINDOW_SECONDS: i64 = 300;

/// Stable code: an email address that cannot receive mail.
pub const EMAIL_INVALID: &str = "email.invalid";
/// Stable code: an email address another user of the organization verified.
pub const EMAIL_TAKEN: &str = "email.taken";

fn email_taken() -> ServiceError {
    ServiceError::Taken {
        code: EMAIL_TAKEN,
        detail: "the email address is in use in this organization",
    }
}

/// A self-registration.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Login name (unique in the organization regardless of case).
    pub login: String,
    /// Password; must satisfy the organization's policy.
    pub password: String,
    /// Email address (required when the organization forces email verification).
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
}

fn invalid_token() -> ServiceError {
    ServiceError::invalid(Violation::new(
        "token",
        TOKEN_INVALID,
        "is unknown, expired or already used",
    ))
}

/// Whether `email` looks like an address a mail server takes: `local@domain`, no spaces.
fn plausible_email(email: &str) -> bool {
    const NOT_IN_ADDRESSES: &[char] = &['<', '>', '"', ',', ';', ':', '(', ')', '[', ']', '\\'];
    if email.contains(NOT_IN_ADDRESSES) {
        return false;
    }
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

impl Service {
    /// Fails with `token.invalid` when the token's organization does not exist (other failures,
    /// e.g. an unreachable store, pass through).
    async fn require_token_org(&self, org_id: &str) -> ServiceResult<OrgId> {
        match self.require_org(org_id).await {
            Err(ServiceError::NotFound) => Err(invalid_token()),
            other => other,
        }
    }

    /// The claims of a valid token of `purpose`.
    fn claims(&self, token: &str, purpose: Purpose) -> ServiceResult<Claims> {
        let key = self.master_key.as_ref().ok_or_else(invalid_token)?;
        verify(key, token, purpose, self.now()).ok_or_else(invalid_token)
    }

    /// Re-checks `user`'s password through the counted login flow (lockout and IP counting
    /// apply), without keeping the session it opens.
    pub(crate) async fn recheck_password(
        &self,
        ctx: &Context,
        user: &User,
        password: &str,
        ip: std::net::IpAddr,
    ) -> ServiceResult<()> {
        let answer = self
            .login(
                ctx,
                &user.org_id,
                LoginRequest {
                    login: user.login.clone(),
                    password: password.to_owned(),
                    ip,
                },
            )
            .await?;
        match answer {
            // The session or challenge the check opened is not wanted.
            LoginAnswer::Granted(granted) => self.revoke_token(&granted.token).await,
            LoginAnswer::MfaChallenge(challenge) => self.revoke_token(&challenge.challenge).await,
            LoginAnswer::Locked { .. } | LoginAnswer::IpBlocked { .. } => Err(
                ServiceError::Forbidden("password checks are locked for this account or address"),
            ),
            LoginAnswer::Disabled
            | LoginAnswer::PasswordExpired
            | LoginAnswer::MfaEnrollmentOverdue
            | LoginAnswer::EmailNotVerified => Err(ServiceError::Forbidden(
                "the account cannot sign in now, so the password cannot be confirmed",
            )),
            LoginAnswer::InvalidCredentials
            | LoginAnswer::InvalidCode
            | LoginAnswer::InvalidChallenge => Err(ServiceError::invalid(Violation::new(
                "password",
                crate::mfa::PASSWORD_INCORRECT,
                "is not the account's password",
            ))),
        }
    }

    /// Lifts the lock a mailed unblock token names, once, while the organization allows
    /// self-unblock.
    pub async fn self_unblock(&self, ctx: &Context, token: &str) -> ServiceResult<()> {
        let claims = self.claims(token, Purpose::Unblock)?;
        if !claims.subject.starts_with(crate::mail::UNBLOCKABLE) {
            return Err(invalid_token());
        }
        let org_id = &self.require_token_org(&claims.org).await?;
        let policy = self.effective_policy(org_id).await?;
        let lockout = &policy.lockout.value;
        if !lockout.allow_self_unblock {
            return Err(ServiceError::Forbidden(
                "self-unblock is not enabled for this organization",
            ));
        }
        let subject = CounterSubject {
            key: Some(claims.subject.clone()),
            via: Some("self_unblock"),
            ..CounterSubject::default()
        };
        let lifted = self
            .unlock_key(ctx, &policy, org_id, &claims.subject, &subject, |lock| {
                lock.is_some_and(|l| lock_binding(l.since) == claims.binding)
            })
            .await?;
        if lifted { Ok(()) } else { Err(invalid_token()) }
    }

    /// Asks for a password-reset mail. Answers `Ok` whether or not the login exists.
    pub async fn request_password_reset(
        &self,
        ctx: &Context,
        org_id: &str,
        login: &str,
    ) -> ServiceResult<()> {
        let org_id = &self.require_org(org_id).await?;
        let policy = self.effective_policy(org_id).await?;
        if !policy.features.value.forgot_password_enabled {
            return Err(ServiceError::Forbidden(
                "password reset is not enabled for this organization",
            ));
        }
        // The reset mail carries a signed token: refuse every request alike without a key.
        self.master_key()?;
        let key = normalize_login(login);
        // A name no user can have (too long, control characters) is neither looked up nor kept.
        let possible = !key.is_empty() && crate::login::possible_login(&key);
        let user = if possible {
            self.store.find_user_by_login(org_id, &key).await?
        } else {
            None
        };
        let now = self.now();
        let user = user.filter(|u| !u.disabled);
        let event = DomainEvent::PasswordResetRequested(PasswordResetRequested {
            login: possible.then(|| key.clone()),
            user_id: user.as_ref().map(|u| u.id.clone()),
        })
        .draft(ctx, Some(org_id), now);
        let window = now.unix_timestamp().div_euclid(RESET_MAIL_WINDOW_SECONDS);
        // One mail per user and window; an unknown name gets a key of its own that no mail
        // ever takes, so that the store reads a key in both cases.
        let dedupe_key = match &user {
            Some(u) => format!("password_reset:{}:{window}", u.id),
            None => format!("password_reset:unknown:{key}:{window}"),
        };
        // The same store work whether or not the login exists or was mailed in this window
        // (one read of the key, one write of the event, the mail riding on it if any), so the
        // answer takes the same time.
        let mut event = event;
        event.mail = user.as_ref().and_then(|u| self.password_reset_mail(u, now));
        self.store
            .append_event_mail_once(event, &dedupe_key)
            .await?;
        Ok(())
    }

    /// Sets a new password with a mailed reset token (full policy check, history included);
    /// every session of the user ends and its password locks are lifted.
    pub async fn confirm_password_reset(
        &self,
        ctx: &Context,
        token: &str,
        password: &str,
    ) -> ServiceResult<()> {
        let claims = self.claims(token, Purpose::PasswordReset)?;
        let org_id = &self.require_token_org(&claims.org).await?;
        let policy = self.effective_policy(org_id).await?;
        if !policy.features.value.forgot_password_enabled {
            return Err(ServiceError::Forbidden(
                "password reset is not enabled for this organization",
            ));
        }
        let key = self.master_key()?;
        let user = self
            .store
            .get_user(org_id, &claims.subject)
            .await?
            .filter(|u| !u.disabled)
            .filter(|u| {
                secrets_equal(
                    &reset_binding(key, u.password_hash.as_deref()),
                    &claims.binding,
                )
            })
            .ok_or_else(invalid_token)?;
        let rules = policy
            .password
            .value
            .for_source(user.source.as_deref())
            .clone();
        self.check_replacement(&user, &rules, password).await?;
        let hash = self.hash_password(password, rules.hash_algorithm).await?;
        let now = self.now();
        let update = PasswordUpdate {
            hash,
            keep_history: portcullis_model::MAX_HISTORY as usize,
            changed_at: now,
            set_by_admin: false,
            expected_hash: Some(user.password_hash.clone()),
        };
        let mut event = DomainEvent::PasswordReset(UserRef {
            user_id: user.id.clone(),
        })
        .draft(ctx, Some(org_id), now);
        event.mail = self.password_changed_mail(&user);
        self.store
            .set_password(org_id, &user.id, &update, true, None, vec![event])
            .await
            .map_err(|e| match e {
                portcullis_store::StoreError::VersionMismatch => invalid_token(),
                other => other.into(),
            })?;
        // The password is set; lifting the locks is a courtesy that must not turn the answer
        // into a failure (the token is spent).
        if let Err(e) = self
            .unlock_login_kinds(ctx, org_id, &user.login, &[SecretKind::Password])
            .await
        {
            tracing::warn!(org = %org_id, error = %e, "locks not lifted after a password reset");
        }
        Ok(())
    }

    /// Registers a user (role `member`) whose password passes the policy; with email
    /// verification forced, it cannot log in before it proves its address.
    pub async fn register(
        &self,
        ctx: &Context,
        org_id: &str,
        registration: Registration,
        ip: std::net::IpAddr,
    ) -> ServiceResult<UserView> {
        let org_id = &self.require_org(org_id).await?;
        let policy = self.effective_policy(org_id).await?;
        let features = &policy.features.value;
        if !features.register_enabled {
            return Err(ServiceError::Forbidden(
                "self-registration is not enabled for this organization",
            ));
        }
        // Every attempt counts on the client address like a failed login, and a blocked address
        // is refused before any validation, hash or mail.
        let ip = canonical_ip(ip);
        let attempt = Attempt0 {
            ctx,
            org_id,
            policy: &policy,
            ip,
            subject: CounterSubject {
                ip: Some(ip.to_string()),
                via: Some("register"),
                ..CounterSubject::default()
            },
            lock_key: String::new(),
            blocking: IpBlocking::new(&policy.brute_force.value),
            now: self.now(),
            label: None,
        };
        if let Some(LoginAnswer::IpBlocked { retry_after }) =
            self.blocked_ip_answer(&attempt).await?
        {
            return Err(ServiceError::AddressBlocked { retry_after });
        }
        self.count_ip_failure(&attempt, Vec::new()).await?;
        let email = registration
            .email
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty());
        let mut found = Vec::new();
        match email.as_deref() {
            Some(e) if !plausible_email(e) => found.push(Violation::new(
                "email",
                EMAIL_INVALID,
                "is not an email address",
            )),
            None if features.force_email_verification => found.push(Violation::new(
                "email",
                model_codes::REQUIRED,
                "is required: the address must be verified",
            )),
            _ => {}
        }
        if registration.password.is_empty() {
            found.push(Violation::new(
                "password",
                model_codes::REQUIRED,
                "must not be empty",
            ));
        }
        crate::users::finish(found)?;
        let origin = if features.force_email_verification {
            // The verification mail carries a signed token.
            self.master_key()?;
            // A verified address belongs to one user: refused here early, and atomically when
            // the address is verified.
            if let Some(e) = email.as_deref()
                && self.store.verified_email_taken(org_id, e).await?
            {
                return Err(email_taken());
            }
            Origin::RegistrationToVerify
        } else {
            Origin::Registration
        };
        let request = NewUser {
            login: registration.login,
            password: Some(registration.password),
            email,
            display_name: registration.display_name,
            source: None,
            roles: Some(vec![Role::Member]),
        };
        Ok(self.add_user(ctx, org_id, request, origin).await?.into())
    }

    /// Proves a registered user's address with its mailed token.
    pub async fn verify_email(&self, ctx: &Context, token: &str) -> ServiceResult<()> {
        let claims = self.claims(token, Purpose::VerifyEmail)?;
        // A token names an organization that existed when it was signed.
        let org_id = &OrgId::parse(&claims.org, "org").map_err(|_| invalid_token())?;
        let event = DomainEvent::EmailVerified(UserRef {
            user_id: claims.subject.clone(),
        })
        .draft(ctx, Some(org_id), self.now());
        let confirmed = self
            .store
            .confirm_email(org_id, &claims.subject, &claims.binding, self.now(), event)
            .await?;
        match confirmed {
            EmailConfirmation::Confirmed => Ok(()),
            EmailConfirmation::NotPending => Err(invalid_token()),
            EmailConfirmation::Taken => Err(email_taken()),
        }
    }

    /// A user deletes its own account, after re-entering its password, while the organization
    /// allows it.
    pub async fn delete_self(
        &self,
        caller: &Caller,
        ctx: &Context,
        password: &str,
        ip: std::net::IpAddr,
    ) -> ServiceResult<()> {
        let (Some(org_id), Some(user_id), Some(_)) = (
            caller.org_id.as_ref(),
            caller.user_id.as_deref(),
            caller.session_id.as_deref(),
        ) else {
            return Err(ServiceError::Forbidden(
                "only a user's session can delete its account",
            ));
        };
        let grant = caller.allow(org_id, Action::SelfService)?;
        let org_id = &grant.org_id;
        let policy = self.effective_policy(org_id).await?;
        if !policy.features.value.user_self_deletion {
            return Err(ServiceError::Forbidden(
                "self-deletion is not enabled for this organization",
            ));
        }
        let user = self.user_in(org_id, user_id).await?;
        self.recheck_password(ctx, &user, password, ip).await?;
        let event = DomainEvent::UserDeleted(UserDeleted {
            user_id: user_id.to_owned(),
            by: Some("self"),
        })
        .draft(ctx, Some(org_id), self.now());
        if self.store.delete_user(org_id, user_id, event).await? {
            self.keys.invalidate();
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plausible_email;

    #[test]
    fn addresses_that_can_receive_mail() {
        for good in ["a@example.com", "first.last+tag@sub.example.org"] {
            assert!(plausible_email(good), "{good}");
        }
        for bad in [
            "evil<victim@example.com>",
            "\"a\"@example.com",
            "a@example.com, b@example.com",
            "",
            "a",
            "@example.com",
            "a@",
            "a@b",
            "a@.com",
            "a@com.",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }
}
