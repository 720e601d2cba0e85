//! Users: creation, profile, administrator password set, unlock, lock state, deletion; and the
//! password rules every new password goes through (policy, history, minimum age).
//!
//! Invariants: a password is stored only after the full policy check (all violations at once,
//! history verified against stored hashes); an administrator's password set ends the user's
//! sessions and lifts its lock; the instance role can never be given to an organization user.

use portcullis_engine::counter::CounterState;
use portcullis_engine::lockout::normalize_login;
use portcullis_engine::password_age::check_min_age;
use portcullis_engine::password_check::{AccountContext, check_password, check_rules};
use portcullis_model::{OrgId, PasswordPolicy, Timestamp, Violation, Violations, codes};
use portcullis_store::{Page, PasswordUpdate, Role, User, UserProfile};
use serde::{Deserialize, Serialize};

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{
    DomainEvent, PasswordSetByAdmin, UserChanged, UserCreated, UserDeleted, UserRef,
};
use crate::secrets::new_id;
use crate::service::{Context, Service};
use crate::text::check_text;

/// A user as the API shows it: never the hash or the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// Id.
    pub id: String,
    /// Organization.
    pub org_id: String,
    /// Login name.
    pub login: String,
    /// Email.
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Disabled.
    pub disabled: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// When the password was set.
    #[serde(with = "time::serde::rfc3339::option")]
    pub password_changed_at: Option<Timestamp>,
    /// The next login must change the password (set by an administrator, or expired by one).
    pub password_change_required: bool,
    /// When an administrator expired the password (cleared by a new password).
    #[serde(with = "time::serde::rfc3339::option")]
    pub password_expired_at: Option<Timestamp>,
    /// Creation.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
    /// Last successful login.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<Timestamp>,
    /// IP of the last successful login.
    pub last_login_ip: Option<String>,
    /// Registered itself and has not verified its email address yet.
    pub email_verification_pending: bool,
    /// Its lock state, in reads (`GET` of a user and the user list); absent in the answers of
    /// writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<UserLock>,
}

/// Whether a user is locked now, as user reads show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UserLock {
    /// A password or one-time-code lock of its login name is in force.
    pub locked: bool,
    /// When the longest of them ends; `None` while locked: until unlocked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub until: Option<Timestamp>,
}

impl UserLock {
    fn of(lock: Option<portcullis_engine::counter::Lock>) -> UserLock {
        UserLock {
            locked: lock.is_some(),
            until: lock.and_then(|l| l.until),
        }
    }
}

impl From<User> for UserView {
    fn from(u: User) -> UserView {
        UserView {
            id: u.id,
            org_id: u.org_id.to_string(),
            login: u.login,
            email: u.email,
            display_name: u.display_name,
            source: u.source,
            roles: u.roles,
            disabled: u.disabled,
            has_password: u.password_hash.is_some(),
            password_changed_at: u.password_changed_at,
            password_change_required: u.password_set_by_admin || u.password_expired_at.is_some(),
            password_expired_at: u.password_expired_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login_at: u.last_login_at,
            last_login_ip: u.last_login_ip,
            email_verification_pending: u.verification_pending,
            lock: None,
        }
    }
}

/// A request to create a user.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name (1–256 characters, unique in the organization regardless of case).
    pub login: String,
    /// Initial password; must satisfy the policy.
    pub password: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Source (selects the password policy).
    pub source: Option<String>,
    /// Roles (default `member`).
    pub roles: Option<Vec<Role>>,
}

/// A change of a user's profile; absent fields stay, `null` clears an optional one.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Email.
    #[serde(default, deserialize_with = "double_option")]
    pub email: Option<Option<String>>,
    /// Display name.
    #[serde(default, deserialize_with = "double_option")]
    pub display_name: Option<Option<String>>,
    /// Source.
    #[serde(default, deserialize_with = "double_option")]
    pub source: Option<Option<String>>,
    /// Roles.
    pub roles: Option<Vec<Role>>,
    /// Disabled.
    pub disabled: Option<bool>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A user's lock state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockView {
    /// Locked now.
    pub locked: bool,
    /// Since when.
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_since: Option<Timestamp>,
    /// Until when (none while locked = until unlocked).
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<Timestamp>,
    /// Failures counted in the current cycle.
    pub failures: u32,
    /// Attempts in flight.
    pub in_flight: usize,
}

fn check_roles(found: &mut Vec<Violation>, roles: &[Role]) {
    if roles.contains(&Role::InstanceAdmin) {
        found.push(Violation::new(
            "roles",
            ROLE_NOT_ALLOWED,
            "instance_admin cannot be given to an organization user",
        ));
    }
}

/// The rules of the profile fields shared by creation and change.
fn check_profile(
    found: &mut Vec<Violation>,
    email: Option<&str>,
    display_name: Option<&str>,
    source: Option<&str>,
    roles: &[Role],
) {
    check_text(found, "email", email, 320);
    check_text(found, "display_name", display_name, 256);
    check_text(found, "source", source, 128);
    check_roles(found, roles);
}

/// Who creates a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// An administrator.
    Admin,
    /// The user itself, with no address verification.
    Registration,
    /// The user itself; it must verify its address before it can log in.
    RegistrationToVerify,
}

/// The user's current hash followed by its history, newest first.
fn known_hashes(user: &User) -> Vec<String> {
    user.password_hash
        .iter()
        .chain(user.password_history.iter())
        .cloned()
        .collect()
}

/// Stable code: a role that may not be given here.
pub const ROLE_NOT_ALLOWED: &str = "role.not_allowed";

pub(crate) fn finish(found: Vec<Violation>) -> ServiceResult<()> {
    match Violations::from_vec(found) {
        Some(v) => Err(ServiceError::Invalid(v)),
        None => Ok(()),
    }
}

impl Service {
    pub(crate) async fn user_in(&self, org_id: &OrgId, id: &str) -> ServiceResult<User> {
        self.store
            .get_user(org_id, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Checks a new password of `user` (or of a user being created) against `rules`, history
    /// included: the cheap rules first, and the history hashes (verified off the async threads)
    /// only for a password that passes them.
    pub(crate) async fn check_new_password(
        &self,
        rules: &PasswordPolicy,
        password: &str,
        account: &AccountContext,
        history: &[String],
    ) -> ServiceResult<()> {
        let keep = rules.history as usize;
        let candidates: Vec<String> = history.iter().take(keep).cloned().collect();
        // Policy rules first (cheap): a password they refuse is answered with their
        // violations, without verifying a single history hash.
        finish(check_rules(rules, password, account))?;
        // Then the breached lookup (one index read or one range request), before any hash.
        if let Some(breached) = self.breached_violation(rules, password).await? {
            finish(vec![breached])?;
        }
        let mut reused = false;
        if keep > 0 && !candidates.is_empty() {
            let pw = password.to_owned();
            let n = candidates.len() as u64;
            reused = self
                .hashing(
                    move |h| {
                        for hash in &candidates {
                            if h.verify(&pw, hash)? {
                                return Ok(true);
                            }
                        }
                        Ok(false)
                    },
                    n,
                )
                .await?
                .map_err(|e| ServiceError::Internal(format!("history check failed: {e}")))?;
        }
        check_password(rules, password, account, |_, _| reused)?;
        Ok(())
    }

    /// Checks a password the user chooses to replace its current one: the policy, the history,
    /// and never the current password, whatever the history setting.
    pub(crate) async fn check_replacement(
        &self,
        user: &User,
        rules: &PasswordPolicy,
        new: &str,
    ) -> ServiceResult<()> {
        let account = AccountContext::new(
            &user.login,
            user.email.as_deref(),
            user.display_name.as_deref(),
        );
        let mut rules_with_current = rules.clone();
        rules_with_current.history = rules.history.max(1);
        self.check_new_password(&rules_with_current, new, &account, &known_hashes(user))
            .await
    }

    /// Creates a user.
    pub async fn create_user(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        request: NewUser,
    ) -> ServiceResult<UserView> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        Ok(self
            .add_user(ctx, org_id, request, Origin::Admin)
            .await?
            .into())
    }

    /// Validates and stores a new user (an administrator's, or a registration), with its event
    /// and, for a registration to verify, the verification mail in the same transaction. The
    /// organization exists (the caller checked).
    pub(crate) async fn add_user(
        &self,
        ctx: &Context,
        org_id: &OrgId,
        request: NewUser,
        origin: Origin,
    ) -> ServiceResult<User> {
        let mut found = Vec::new();
        let login = request.login.trim().to_owned();
        if login.is_empty() {
            found.push(Violation::new(
                "login",
                codes::REQUIRED,
                "must not be empty",
            ));
        }
        check_text(
            &mut found,
            "login",
            Some(&login),
            crate::login::MAX_LOGIN_CHARS,
        );
        let roles = request.roles.clone().unwrap_or_else(|| vec![Role::Member]);
        check_profile(
            &mut found,
            request.email.as_deref(),
            request.display_name.as_deref(),
            request.source.as_deref(),
            &roles,
        );
        finish(found)?;

        let policy = self.effective_policy(org_id).await?;
        let rules = policy
            .password
            .value
            .for_source(request.source.as_deref())
            .clone();
        let now = self.now();
        let hash = match &request.password {
            Some(password) => {
                let account = AccountContext::new(
                    &login,
                    request.email.as_deref(),
                    request.display_name.as_deref(),
                );
                self.check_new_password(&rules, password, &account, &[])
                    .await?;
                Some(self.hash_password(password, rules.hash_algorithm).await?)
            }
            None => None,
        };
        let user = User {
            id: new_id("usr"),
            org_id: org_id.to_owned(),
            login_key: normalize_login(&login),
            login,
            email: request.email,
            display_name: request.display_name,
            source: request.source,
            roles,
            disabled: false,
            password_changed_at: hash.as_ref().map(|_| now),
            password_set_by_admin: hash.is_some() && origin == Origin::Admin,
            password_hash: hash,
            password_history: Vec::new(),
            created_at: now,
            updated_at: now,
            last_login_at: None,
            last_login_ip: None,
            verification_pending: origin == Origin::RegistrationToVerify,
            password_expired_at: None,
        };
        let created = UserCreated {
            user_id: user.id.clone(),
            login: user.login.clone(),
            roles: user.roles.clone(),
        };
        let event = match origin {
            Origin::Admin => DomainEvent::UserCreated(created),
            Origin::Registration | Origin::RegistrationToVerify => {
                DomainEvent::UserRegistered(created)
            }
        };
        let mut event = event.draft(ctx, Some(org_id), now);
        if user.verification_pending {
            event.mail = self.verification_mail(&user, now);
        }
        self.store
            .create_user(&user, event)
            .await
            .map_err(|e| match e {
                portcullis_store::StoreError::Conflict(_) => ServiceError::Conflict(format!(
                    "login `{}` is taken in this organization",
                    user.login
                )),
                other => other.into(),
            })?;
        Ok(user)
    }

    /// One user.
    pub async fn get_user(
        &self,
        caller: &Caller,
        org_id: &str,
        id: &str,
    ) -> ServiceResult<UserView> {
        let org_id = self.allow_user(caller, org_id, id, Action::Read)?;
        let mut views = self
            .with_locks(&org_id, vec![self.user_in(&org_id, id).await?])
            .await?;
        views.pop().ok_or(ServiceError::NotFound)
    }

    /// Views of `users` with their lock state (one read of the locked counters for them all).
    async fn with_locks(&self, org_id: &OrgId, users: Vec<User>) -> ServiceResult<Vec<UserView>> {
        let keys: Vec<String> = users.iter().map(|u| u.login_key.clone()).collect();
        let locks = self.locks_of(org_id, &keys).await?;
        Ok(users
            .into_iter()
            .map(|u| {
                let lock = locks
                    .iter()
                    .find(|(key, _)| *key == u.login_key)
                    .map(|(_, lock)| *lock);
                UserView {
                    lock: Some(UserLock::of(lock)),
                    ..UserView::from(u)
                }
            })
            .collect())
    }

    /// Users of an organization (with `locked_only`, those locked now), with their lock state.
    pub async fn list_users(
        &self,
        caller: &Caller,
        org_id: &str,
        page: &Page,
        locked_only: bool,
    ) -> ServiceResult<Vec<UserView>> {
        let grant = caller.allow(org_id, Action::Read)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        let users = if locked_only {
            self.store
                .list_locked_users(org_id, self.now(), page)
                .await?
        } else {
            self.store.list_users(org_id, page).await?
        };
        self.with_locks(org_id, users).await
    }

    /// Reading a user: managers and auditors, or the user itself.
    fn allow_user(
        &self,
        caller: &Caller,
        org_id: &str,
        id: &str,
        action: Action,
    ) -> ServiceResult<OrgId> {
        match caller.allow(org_id, action) {
            Ok(grant) => Ok(grant.org_id),
            Err(ServiceError::Forbidden(_)) if caller.user_id.as_deref() == Some(id) => caller
                .allow(org_id, Action::SelfService)
                .map(|grant| grant.org_id),
            Err(e) => Err(e),
        }
    }

    /// Changes a user's profile.
    pub async fn update_user(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        id: &str,
        patch: UserPatch,
    ) -> ServiceResult<UserView> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        let user = self.user_in(org_id, id).await?;
        let mut found = Vec::new();
        let pick = |field: Option<Option<String>>, current: Option<String>| match field {
            Some(value) => value,
            None => current,
        };
        let profile = UserProfile {
            email: pick(patch.email, user.email),
            display_name: pick(patch.display_name, user.display_name),
            source: pick(patch.source, user.source),
            roles: patch.roles.unwrap_or(user.roles),
            disabled: patch.disabled.unwrap_or(user.disabled),
        };
        check_profile(
            &mut found,
            profile.email.as_deref(),
            profile.display_name.as_deref(),
            profile.source.as_deref(),
            &profile.roles,
        );
        finish(found)?;
        let now = self.now();
        let event = DomainEvent::UserChanged(UserChanged {
            user_id: id.to_owned(),
            roles: profile.roles.clone(),
            disabled: profile.disabled,
        })
        .draft(ctx, Some(org_id), now);
        let user = self
            .store
            .update_user_profile(org_id, id, &profile, now, event)
            .await?;
        Ok(user.into())
    }

    /// Deletes a user with its sessions and keys.
    pub async fn delete_user(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        id: &str,
    ) -> ServiceResult<()> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        let event = DomainEvent::UserDeleted(UserDeleted {
            user_id: id.to_owned(),
            by: None,
        })
        .draft(ctx, Some(org_id), self.now());
        if self.store.delete_user(org_id, id, event).await? {
            self.keys.invalidate();
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// An administrator sets a user's password (full policy check, history included). The
    /// user's sessions end and its lock is lifted; with `change_required` the user must change
    /// it at its next login (under `renew_on_first_login`).
    pub async fn admin_set_password(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        id: &str,
        password: &str,
        change_required: bool,
    ) -> ServiceResult<()> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        let user = self.user_in(org_id, id).await?;
        let policy = self.effective_policy(org_id).await?;
        let rules = policy
            .password
            .value
            .for_source(user.source.as_deref())
            .clone();
        let account = AccountContext::new(
            &user.login,
            user.email.as_deref(),
            user.display_name.as_deref(),
        );
        let history = known_hashes(&user);
        self.check_new_password(&rules, password, &account, &history)
            .await?;
        let hash = self.hash_password(password, rules.hash_algorithm).await?;
        let now = self.now();
        let update = PasswordUpdate {
            hash,
            keep_history: portcullis_model::MAX_HISTORY as usize,
            changed_at: now,
            set_by_admin: change_required,
            expected_hash: None,
        };
        let mut event = DomainEvent::PasswordSetByAdmin(PasswordSetByAdmin {
            user_id: id.to_owned(),
            change_required,
        })
        .draft(ctx, Some(org_id), now);
        event.mail = self.password_changed_mail(&user);
        self.store
            .set_password(org_id, id, &update, true, None, vec![event])
            .await?;
        self.unlock_login(ctx, org_id, &user.login).await?;
        Ok(())
    }

    /// Lifts a user's lock; answers whether one was in force.
    pub async fn unlock_user(
        &self,
        caller: &Caller,
        ctx: &Context,
        org_id: &str,
        id: &str,
    ) -> ServiceResult<bool> {
        let grant = caller.allow(org_id, Action::Manage)?;
        let org_id = &grant.org_id;
        let user = self.user_in(org_id, id).await?;
        self.unlock_login(ctx, org_id, &user.login).await
    }

    /// A user's lock state.
    pub async fn user_lock(
        &self,
        caller: &Caller,
        org_id: &str,
        id: &str,
    ) -> ServiceResult<LockView> {
        let grant = caller.allow(org_id, Action::Read)?;
        let org_id = &grant.org_id;
        let user = self.user_in(org_id, id).await?;
        let states = self.lock_states(org_id, &user.login).await?;
        let now = self.now();
        // With `login_and_ip` there is a counter per address: report the lock that lasts longest.
        let lock = states
            .iter()
            .filter_map(|s| s.lock_at(now))
            .max_by_key(|l| {
                l.until
                    .map_or((1, time::OffsetDateTime::UNIX_EPOCH), |u| (0, u))
            });
        let failures = states
            .iter()
            .filter(|s| s.lock_at(now).is_some() || s.window_started_at.is_some())
            .map(|s| s.failures)
            .max()
            .unwrap_or(0);
        Ok(LockView {
            locked: lock.is_some(),
            locked_since: lock.map(|l| l.since),
            locked_until: lock.and_then(|l| l.until),
            failures,
            in_flight: states.iter().map(CounterState::in_flight).sum(),
        })
    }

    /// A user changes its own password: the current one is verified under the lockout counter,
    /// the new one checked (minimum age and the cheap rules before the current password is
    /// verified, the history after it). Every session of the user ends; the
    /// answer is a fresh, unrestricted session.
    pub async fn change_own_password(
        &self,
        caller: &Caller,
        ctx: &Context,
        current: &str,
        new: &str,
        ip: std::net::IpAddr,
    ) -> ServiceResult<crate::login_answers::LoginAnswer> {
        let (Some(org_id), Some(user_id), Some(_)) = (
            caller.org_id.as_ref(),
            caller.user_id.as_deref(),
            caller.session_id.as_deref(),
        ) else {
            return Err(ServiceError::Forbidden(
                "only a user's session can change its password",
            ));
        };
        if caller.mfa_enroll_only {
            return Err(ServiceError::MfaEnrollmentRequired);
        }
        let user = self.user_in(org_id, user_id).await?;
        let policy = self.effective_policy(org_id).await?;
        let rules = policy
            .password
            .value
            .for_source(user.source.as_deref())
            .clone();
        let now = self.now();
        // A session limited to changing the password (expired by an administrator, found
        // breached, no longer compliant...) must be able to change it whatever its age.
        if let Some(changed_at) = user.password_changed_at
            && !caller.password_change_only
        {
            check_min_age(&rules, changed_at, user.password_set_by_admin, now)
                .map_err(ServiceError::invalid)?;
        }
        // The cheap rules now (no hash); the history, which hashes, only once the current
        // password verified, so a wrong current password costs no history hash.
        let account = AccountContext::new(
            &user.login,
            user.email.as_deref(),
            user.display_name.as_deref(),
        );
        let cheap = finish(check_rules(&rules, new, &account));
        // Verify the current password through the login flow: lockout and IP counting apply.
        let answer = self
            .login(
                ctx,
                org_id,
                crate::login_answers::LoginRequest {
                    login: user.login.clone(),
                    password: current.to_owned(),
                    ip,
                },
            )
            .await?;
        // The current password verified (a second factor was passed to get this session).
        let opened = match &answer {
            crate::login_answers::LoginAnswer::Granted(granted) => granted.token.clone(),
            crate::login_answers::LoginAnswer::MfaChallenge(challenge) => {
                challenge.challenge.clone()
            }
            _ => return Ok(answer),
        };
        let check = match cheap {
            Ok(()) => self.check_replacement(&user, &rules, new).await,
            refused => refused,
        };
        if let Err(e) = check {
            self.revoke_token(&opened).await?;
            return Err(e);
        }
        let hash = self.hash_password(new, rules.hash_algorithm).await?;
        let update = PasswordUpdate {
            hash,
            keep_history: portcullis_model::MAX_HISTORY as usize,
            changed_at: self.now(),
            set_by_admin: false,
            expected_hash: None,
        };
        let mut event = DomainEvent::PasswordChanged(UserRef {
            user_id: user_id.to_owned(),
        })
        .draft(ctx, Some(org_id), now);
        event.mail = self.password_changed_mail(&user);
        self.store
            .set_password(org_id, user_id, &update, true, None, vec![event])
            .await?;
        // The session granted above ended with the others; log in again with the new password.
        self.login(
            ctx,
            org_id,
            crate::login_answers::LoginRequest {
                login: user.login,
                password: new.to_owned(),
                ip,
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use portcullis_engine::hashing::{CountingHasher, HashParams, Hasher, PasswordHashing};
    use portcullis_engine::password_check::codes;
    use portcullis_model::{HashAlgorithm, PasswordPolicy};

    use super::AccountContext;
    use crate::error::ServiceError;
    use crate::{ManualClock, Service};

    #[tokio::test]
    async fn a_password_the_cheap_rules_refuse_costs_no_history_hash() {
        let inner = Hasher::new(HashParams::insecure_for_tests()).unwrap();
        let history: Vec<String> = (0..24)
            .map(|i| inner.hash(HashAlgorithm::Argon2id, &format!("old password {i}")))
            .collect::<Result<_, _>>()
            .unwrap();
        let hasher = CountingHasher::new(inner);
        let service = Service::new(
            Arc::new(
                portcullis_store_sqlite::open("sqlite::memory:", 1)
                    .await
                    .unwrap(),
            ),
            Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH)),
            Arc::new(hasher.clone()),
            1,
        );
        let rules = PasswordPolicy {
            min_length: 12,
            history: 24,
            check_blocklist: false,
            check_account_attributes: false,
            ..PasswordPolicy::default()
        };
        let account = AccountContext::new("alice", None, None);

        let err = service
            .check_new_password(&rules, "abc", &account, &history)
            .await
            .unwrap_err();
        let ServiceError::Invalid(found) = err else {
            panic!("expected violations, got {err:?}");
        };
        assert_eq!(found.codes(), [codes::TOO_SHORT]);
        assert_eq!(hasher.verifications(), 0);

        // A compliant password is still checked against every history entry.
        service
            .check_new_password(&rules, "a new long password", &account, &history)
            .await
            .unwrap();
        assert_eq!(hasher.verifications(), 24);
        let err = service
            .check_new_password(&rules, "old password 7", &account, &history)
            .await
            .unwrap_err();
        let ServiceError::Invalid(found) = err else {
            panic!("expected violations, got {err:?}");
        };
        assert_eq!(found.codes(), [codes::REUSED]);
    }
}
