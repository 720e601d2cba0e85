//! Authentication of bearer tokens (sessions and API keys), the caller's own view, logout,
//! events, and the first-start bootstrap of an instance administrator key.
//!
//! Invariants: a token is looked up by its SHA-256 digest only; a session is valid only while the
//! *current* session policy allows it (absolute and idle deadlines), an organization's key only
//! while its expiry and the organization's *current* `api_keys.max_expiration` allow it, an
//! instance key while it exists (no policy applies to it, see `instance_keys`); a key of a user
//! carries at most that user's roles, and stops working when the user is disabled or deleted.

use portcullis_engine::api_key::check_key;
use portcullis_engine::session::check_session;
use portcullis_model::ApiKeysPolicy;
use portcullis_store::{ApiKey, Event, Role, Session, SessionStage};

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{BootstrapKeyCreated, DomainEvent, SessionRef};
use crate::secrets::{
    API_KEY_PREFIX, SESSION_PREFIX, new_id, new_token, secrets_equal, token_hash,
};
use crate::service::{Context, Service};
use crate::users::UserView;

/// Sessions are touched at most this often (seconds), to spare writes on busy sessions.
const TOUCH_EVERY: i64 = 1;

impl Service {
    /// The caller behind a bearer token; `Unauthenticated` for anything not valid now.
    pub async fn authenticate(&self, token: &str) -> ServiceResult<Caller> {
        let hash = token_hash(token);
        if token.starts_with(SESSION_PREFIX) {
            let session = self
                .store
                .find_session(&hash)
                .await?
                .filter(|s| secrets_equal(&s.token_hash, &hash))
                .ok_or(ServiceError::Unauthenticated)?;
            return self.session_caller(session).await;
        }
        let key = self
            .find_key(&hash)
            .await?
            .filter(|k| secrets_equal(&k.token_hash, &hash))
            .filter(|k| k.sealed_secret.is_none())
            .ok_or(ServiceError::Unauthenticated)?;
        self.key_caller(key).await
    }

    /// The key whose token has the digest `hash`: from the key cache, else from the store (and
    /// then cached).
    async fn find_key(&self, hash: &str) -> ServiceResult<Option<ApiKey>> {
        let (cached, generation) = self.keys.get(hash);
        if cached.is_some() {
            return Ok(cached);
        }
        let found = self.store.find_api_key(hash).await?;
        if let Some(key) = &found {
            self.keys.insert(hash, generation, key.clone());
        }
        Ok(found)
    }

    async fn session_caller(&self, session: Session) -> ServiceResult<Caller> {
        // A second-factor challenge is no credential: it only completes through its own call.
        if session.stage == SessionStage::MfaChallenge {
            return Err(ServiceError::Unauthenticated);
        }
        let now = self.now();
        let policy = self.effective_policy(&session.org_id).await?;
        if check_session(
            &policy.session.value,
            session.created_at,
            session.last_used_at,
            now,
        )
        .is_err()
        {
            return Err(ServiceError::Unauthenticated);
        }
        let user = self
            .store
            .get_user(&session.org_id, &session.user_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(ServiceError::Unauthenticated)?;
        // A session limited to enrolling ends once a factor is enrolled: from then on, logins
        // go through the second step.
        if session.stage == SessionStage::MfaEnrollOnly
            && self.mfa_enrolled(&session.org_id, &user.id).await?
        {
            return Err(ServiceError::Unauthenticated);
        }
        if (now - session.last_used_at).whole_seconds() >= TOUCH_EVERY {
            self.store.touch_session(&session.id, now).await?;
        }
        Ok(Caller {
            actor: format!("user:{}", user.id),
            org_id: Some(session.org_id),
            roles: user.roles,
            user_id: Some(user.id),
            session_id: Some(session.id),
            key_id: None,
            password_change_only: session.password_change_only,
            mfa_enroll_only: session.stage == SessionStage::MfaEnrollOnly,
        })
    }

    pub(crate) async fn key_caller(&self, key: ApiKey) -> ServiceResult<Caller> {
        let now = self.now();
        let policy = match &key.org_id {
            Some(org) => self
                .effective_policy(org)
                .await?
                .api_keys
                .value
                .clone()
                .into_inner(),
            // An instance key answers to no policy: the instance's `api_keys` section is the
            // default of organizations' keys, and applying it here would let one policy change
            // lock the instance administrator out for good. Only the key's own expiry counts.
            None => ApiKeysPolicy::default(),
        };
        if check_key(&policy, key.created_at, key.expires_at, now).is_err() {
            return Err(ServiceError::Unauthenticated);
        }
        // A key issued from another (a client-credentials token, a console session) works only
        // while the key it was issued for does.
        if let Some(parent_id) = &key.parent_id {
            let parent = match &key.org_id {
                Some(org) => self.store.get_api_key(org, parent_id).await?,
                None => self.store.get_instance_key(parent_id).await?,
            }
            .ok_or(ServiceError::Unauthenticated)?;
            if check_key(&policy, parent.created_at, parent.expires_at, now).is_err() {
                return Err(ServiceError::Unauthenticated);
            }
        }
        let mut roles = key.roles.clone();
        if let (Some(org), Some(user_id)) = (&key.org_id, &key.user_id) {
            let user = self
                .store
                .get_user(org, user_id)
                .await?
                .filter(|u| !u.disabled)
                .ok_or(ServiceError::Unauthenticated)?;
            roles.retain(|r| user.roles.contains(r));
        }
        Ok(Caller {
            actor: format!("key:{}", key.id),
            org_id: key.org_id,
            roles,
            user_id: key.user_id,
            session_id: None,
            key_id: Some(key.id),
            password_change_only: false,
            mfa_enroll_only: false,
        })
    }

    /// Ends the session behind `token` (no event if it was already gone).
    pub(crate) async fn revoke_token(&self, token: &str) -> ServiceResult<()> {
        if let Some(session) = self.store.find_session(&token_hash(token)).await? {
            let event = DomainEvent::SessionRevoked(SessionRef {
                session_id: session.id.clone(),
            })
            .draft(
                &Context::new("system", None),
                Some(&session.org_id),
                self.now(),
            );
            self.store.delete_session(&session.id, event).await?;
        }
        Ok(())
    }

    /// Logs the calling session out.
    pub async fn logout(&self, caller: &Caller, ctx: &Context) -> ServiceResult<()> {
        let (Some(session_id), Some(org_id)) = (&caller.session_id, &caller.org_id) else {
            return Err(ServiceError::Forbidden("only a session can log out"));
        };
        let event = DomainEvent::SessionEnded(SessionRef {
            session_id: session_id.to_owned(),
        })
        .draft(ctx, Some(org_id), self.now());
        self.store.delete_session(session_id, event).await?;
        Ok(())
    }

    /// The calling user (sessions and user keys), even in a session limited to a password change.
    pub async fn whoami(&self, caller: &Caller) -> ServiceResult<Option<UserView>> {
        match (&caller.org_id, &caller.user_id) {
            (Some(org), Some(user)) => {
                Ok(self.store.get_user(org, user).await?.map(UserView::from))
            }
            _ => Ok(None),
        }
    }

    /// Events of an organization after a sequence.
    pub async fn list_events(
        &self,
        caller: &Caller,
        org_id: &str,
        after: u64,
        limit: u32,
    ) -> ServiceResult<Vec<Event>> {
        let grant = caller.allow(org_id, Action::Read)?;
        let org_id = &grant.org_id;
        self.require_known_org(org_id).await?;
        Ok(self.store.list_events(Some(org_id), after, limit).await?)
    }

    /// Instance-level events (instance policy, organizations' creation keys) after a sequence.
    pub async fn list_instance_events(
        &self,
        caller: &Caller,
        after: u64,
        limit: u32,
    ) -> ServiceResult<Vec<Event>> {
        caller.allow_instance()?;
        Ok(self.store.list_events(None, after, limit).await?)
    }

    /// On an instance without an instance key, creates one and answers its secret (`token`
    /// when given, else a new random one). Answers `None` when the instance already has one.
    pub async fn bootstrap(&self, token: Option<&str>) -> ServiceResult<Option<String>> {
        if self.store.has_instance_key().await? {
            return Ok(None);
        }
        let secret = token.map_or_else(|| new_token(API_KEY_PREFIX), str::to_owned);
        if secret.len() < 16 || secret.starts_with(SESSION_PREFIX) {
            return Err(ServiceError::Invalid(portcullis_model::Violations::one(
                portcullis_model::Violation::new(
                    "bootstrap_token",
                    portcullis_model::codes::OUT_OF_RANGE,
                    "must be at least 16 characters and not start with the session prefix `pcs_`",
                ),
            )));
        }
        let now = self.now();
        let key = ApiKey {
            id: new_id("key"),
            token_hash: token_hash(&secret),
            org_id: None,
            user_id: None,
            name: "bootstrap instance administrator".into(),
            roles: vec![Role::InstanceAdmin],
            created_at: now,
            expires_at: None,
            sealed_secret: None,
            parent_id: None,
        };
        let ctx = Context::new("system", None);
        let event = DomainEvent::BootstrapKeyCreated(BootstrapKeyCreated {
            key_id: key.id.clone(),
            bootstrap: true,
        })
        .draft(&ctx, None, now);
        match self.store.create_api_key(&key, event).await {
            Ok(()) => Ok(Some(secret)),
            // Another replica starting at the same time stored the same configured key first.
            Err(portcullis_store::StoreError::Conflict(_)) if token.is_some() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
