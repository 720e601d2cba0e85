//! The [`Service`]: the store, the clock, the hasher and the caches, plus the helpers every
//! operation shares (effective policy, events, hashing off the async threads).
//!
//! Invariant: password hashing runs on the hashing threads, at most `hash_concurrency` at once,
//! so the async threads keep answering (a blocked IP or a revealed lock is answered while hashes run).

use std::sync::Arc;
use std::time::Instant;

use portcullis_engine::hashing::{HashError, PasswordHashing};
use portcullis_model::{
    EffectivePolicy, HashAlgorithm, InstancePolicy, OrgId, OrgOverrides, SectionDetails,
    SectionKind, SectionValue, Timestamp, resolve,
};
use portcullis_store::{Owner, SectionRow, Store, USER_AGENT_MAX_CHARS};

use crate::clock::Clock;
use crate::error::{ServiceError, ServiceResult};
use crate::hash_pool::HashPool;
use crate::key_cache::KeyCache;
use crate::master_key::MasterKey;
use crate::metrics::Metrics;
use crate::policy_cache::PolicyCache;

/// How long a policy-version check may take before the cache is dropped regardless.
const POLICY_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// The instance's id, the `resource_owner` of instance sections.
pub const INSTANCE_ID: &str = "instance";

/// Who did something, and in which request, for the events it causes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// `key:<id>`, `user:<id>`, `anonymous`, `system`.
    pub actor: String,
    /// The request id.
    pub request_id: Option<String>,
    /// The client's `User-Agent`, as a session keeps it (see [`Context::with_user_agent`]).
    pub user_agent: Option<String>,
}

impl Context {
    /// A context for an actor in a request.
    pub fn new(actor: impl Into<String>, request_id: Option<String>) -> Context {
        Context {
            actor: actor.into(),
            request_id,
            user_agent: None,
        }
    }

    /// The same context with the client's user agent: control characters dropped, cut to
    /// [`USER_AGENT_MAX_CHARS`] characters, absent when nothing is left. It is shown to users
    /// and administrators, never trusted.
    pub fn with_user_agent(mut self, user_agent: Option<&str>) -> Context {
        self.user_agent = user_agent
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(USER_AGENT_MAX_CHARS)
                    .collect::<String>()
                    .trim()
                    .to_owned()
            })
            .filter(|ua| !ua.is_empty());
        self
    }
}

/// Everything the operations need.
pub struct Service {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) hasher: Arc<dyn PasswordHashing>,
    pub(crate) cache: PolicyCache,
    pub(crate) keys: KeyCache,
    pub(crate) hash_pool: HashPool,
    known_orgs: std::sync::RwLock<std::collections::HashSet<String>>,
    seen_policy_version: std::sync::atomic::AtomicU64,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Seals access-key secrets; `None`: access keys cannot be created or used.
    pub(crate) master_key: Option<MasterKey>,
    /// Where users open mailed one-time links (`None`: mails carry the bare token).
    pub(crate) public_url: Option<String>,
    /// How long the sweep keeps quiet counters and events.
    pub(crate) retention: crate::sweep::Retention,
    /// Where breached passwords are looked up (`None`: nowhere).
    pub(crate) breached: Option<crate::breached::BreachedCheck>,
}

impl Service {
    /// A service over `store`. `hash_concurrency` bounds simultaneous password hashes (use the
    /// number of cores).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: Arc<dyn PasswordHashing>,
        hash_concurrency: usize,
    ) -> Service {
        let hash_pool = HashPool::new(hasher.clone(), hash_concurrency);
        Service {
            store,
            clock,
            hasher,
            cache: PolicyCache::default(),
            keys: KeyCache::default(),
            hash_pool,
            known_orgs: Default::default(),
            seen_policy_version: std::sync::atomic::AtomicU64::new(0),
            metrics: Metrics::default(),
            master_key: None,
            public_url: None,
            retention: crate::sweep::Retention::default(),
            breached: None,
        }
    }

    /// The instance master key; `Conflict` (saying how to configure one) without it.
    pub(crate) fn master_key(&self) -> ServiceResult<&MasterKey> {
        self.master_key.as_ref().ok_or_else(|| {
            ServiceError::Conflict(
                "this needs an instance master key; set `master_key` or `master_key_file` in the configuration"
                    .into(),
            )
        })
    }

    /// The same service with an instance master key (access keys need one).
    pub fn with_master_key(mut self, key: MasterKey) -> Service {
        self.master_key = Some(key);
        self
    }

    /// The same service with a policy cache of at most `entries` organizations' policies
    /// (default [`crate::DEFAULT_POLICY_CACHE_ENTRIES`]).
    pub fn with_policy_cache_entries(mut self, entries: usize) -> Service {
        self.cache = PolicyCache::with_capacity(entries);
        self
    }

    /// The same service with an API-key cache of at most `entries` keys (default
    /// [`crate::DEFAULT_KEY_CACHE_ENTRIES`]).
    pub fn with_key_cache_entries(mut self, entries: usize) -> Service {
        self.keys = KeyCache::with_capacity(entries);
        self
    }

    /// The same service with how long sweeps keep quiet counters and events.
    pub fn with_retention(mut self, retention: crate::sweep::Retention) -> Service {
        self.retention = retention;
        self
    }

    /// The public base URL mailed links start with, if one is set.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// The same service with the public base URL that mailed links point to (e.g.
    /// `https://id.example.com`; the links are `<url>/unblock?token=…`, `<url>/reset-password?…`
    /// and `<url>/verify-email?…`, the hosted pages that post the token to the service).
    pub fn with_public_url(mut self, url: Option<String>) -> Service {
        self.public_url = url.filter(|u| !u.trim().is_empty());
        self
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The store (for readiness checks).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The instance defaults as stored (cached like the effective policies).
    pub async fn instance_policy(&self) -> ServiceResult<Arc<InstancePolicy>> {
        let (cached, generation) = self.cache.instance();
        if let Some(policy) = cached {
            return Ok(policy);
        }
        let policy = Arc::new(self.load_instance_policy().await?);
        self.cache.insert_instance(generation, policy.clone());
        Ok(policy)
    }

    /// The instance defaults as stored now (never the cache).
    async fn load_instance_policy(&self) -> ServiceResult<InstancePolicy> {
        let rows = self.store.load_sections(&Owner::Instance).await?;
        let mut policy = InstancePolicy::builtin(INSTANCE_ID);
        for row in rows {
            if let Some((value, details)) = readable_section(&row, INSTANCE_ID) {
                policy.set(value, details);
            }
        }
        Ok(policy)
    }

    /// The policy of an owner as stored now, never the cache (which may be up to a poll
    /// behind another replica): for writes computed from current values. `None` is the
    /// instance defaults as an organization that inherits everything sees them.
    pub(crate) async fn fresh_policy(
        &self,
        org_id: Option<&OrgId>,
    ) -> ServiceResult<EffectivePolicy> {
        let instance = self.load_instance_policy().await?;
        let overrides = match org_id {
            Some(org_id) => self.org_overrides(org_id).await?,
            None => OrgOverrides::default(),
        };
        Ok(resolve(&instance, &overrides))
    }

    async fn org_overrides(&self, org_id: &OrgId) -> ServiceResult<OrgOverrides> {
        let rows = self
            .store
            .load_sections(&Owner::Org(org_id.clone()))
            .await?;
        let mut overrides = OrgOverrides::default();
        for row in rows {
            if let Some((value, details)) = readable_section(&row, org_id) {
                overrides.set(value, details);
            }
        }
        Ok(overrides)
    }

    /// The effective policy of an existing organization (cached).
    pub async fn effective_policy(&self, org_id: &str) -> ServiceResult<Arc<EffectivePolicy>> {
        let (cached, generation) = self.cache.get(org_id);
        if let Some(policy) = cached {
            return Ok(policy);
        }
        let org_id = &OrgId::parse(org_id, "org").map_err(|_| ServiceError::NotFound)?;
        let instance = self.instance_policy().await?;
        let overrides = self.org_overrides(org_id).await?;
        let policy = Arc::new(resolve(&instance, &overrides));
        self.cache.insert(org_id, generation, policy.clone());
        Ok(policy)
    }

    /// Drops the cached policies and API keys when the store's policy version moved since the
    /// last call, i.e. when any process changed a policy or deleted a key. The server calls this every 250 ms, which bounds
    /// how long another replica's change can go unenforced here.
    ///
    /// When the version cannot be read (the store is unreachable, or the check takes longer
    /// than `POLICY_CHECK_TIMEOUT`), the cache is dropped anyway: readers then reload from the
    /// store, or fail with 503 if it is down, but never serve a policy of unknown age.
    pub async fn refresh_policies(&self) -> ServiceResult<()> {
        let version =
            match tokio::time::timeout(POLICY_CHECK_TIMEOUT, self.store.policy_version()).await {
                Ok(Ok(version)) => version,
                Ok(Err(e)) => {
                    self.cache.invalidate();
                    self.keys.invalidate();
                    return Err(e.into());
                }
                Err(_) => {
                    self.cache.invalidate();
                    self.keys.invalidate();
                    return Err(ServiceError::Unavailable(
                        "policy version check timed out".into(),
                    ));
                }
            };
        let seen = self
            .seen_policy_version
            .swap(version, std::sync::atomic::Ordering::SeqCst);
        if seen != version {
            self.cache.invalidate();
            self.keys.invalidate();
        }
        Ok(())
    }

    /// The organization `org_id` names (as a request wrote it), or `NotFound` unless it exists:
    /// an id no organization can have is `NotFound` too. Organizations are never deleted, so
    /// one that was seen once is remembered.
    pub(crate) async fn require_org(&self, org_id: &str) -> ServiceResult<OrgId> {
        let org_id = OrgId::parse(org_id, "org").map_err(|_| ServiceError::NotFound)?;
        self.require_known_org(&org_id).await?;
        Ok(org_id)
    }

    /// Fails with `NotFound` unless the organization of an id already parsed (an
    /// [`OrgGrant`](crate::caller::OrgGrant)'s) exists.
    pub(crate) async fn require_known_org(&self, org_id: &OrgId) -> ServiceResult<()> {
        if self
            .known_orgs
            .read()
            .is_ok_and(|known| known.contains(org_id.as_str()))
        {
            return Ok(());
        }
        match self.store.get_org(org_id).await? {
            Some(_) => {
                if let Ok(mut known) = self.known_orgs.write() {
                    known.insert(org_id.to_string());
                }
                Ok(())
            }
            None => Err(ServiceError::NotFound),
        }
    }

    /// Runs a hashing job on the blocking pool, bounded, counted and timed.
    pub(crate) async fn hashing<T: Send + 'static>(
        &self,
        job: impl FnOnce(&dyn PasswordHashing) -> Result<T, HashError> + Send + 'static,
        hashes: u64,
    ) -> ServiceResult<Result<T, HashError>> {
        #[allow(clippy::disallowed_methods)] // measures a duration for metrics, not policy time
        let started = Instant::now();
        let result = self
            .hash_pool
            .run(job)
            .await
            .ok_or_else(|| ServiceError::Unavailable("hashing threads are gone".into()))?;
        Metrics::add(&self.metrics.password_hashes, hashes);
        self.metrics
            .hash_seconds
            .inc_by(started.elapsed().as_secs_f64());
        Ok(result)
    }

    /// Verifies `password` against `hash`, or against the dummy hash of `algorithm` when there
    /// is no hash (unknown user), so both cost the same. Never succeeds without a hash.
    pub(crate) async fn verify_password(
        &self,
        password: &str,
        hash: Option<&str>,
        algorithm: HashAlgorithm,
    ) -> ServiceResult<bool> {
        let password = password.to_owned();
        let hash = hash.map(str::to_owned);
        let result = self
            .hashing(
                move |h| match hash {
                    Some(hash) => h.verify(&password, &hash),
                    None => h.verify(&password, h.dummy_hash(algorithm)).map(|_| false),
                },
                1,
            )
            .await?;
        result.map_err(|e| ServiceError::Internal(format!("password verification failed: {e}")))
    }

    /// Hashes a new password with `algorithm`.
    pub(crate) async fn hash_password(
        &self,
        password: &str,
        algorithm: HashAlgorithm,
    ) -> ServiceResult<String> {
        let password = password.to_owned();
        let result = self
            .hashing(move |h| h.hash(algorithm, &password), 1)
            .await?;
        result.map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
    }
}

/// Turns a stored row back into a validated section; a row that no longer validates is data
/// corruption, reported as internal.
pub(crate) fn section_from_row(
    row: &SectionRow,
    owner: &str,
) -> ServiceResult<(SectionValue, SectionDetails)> {
    let kind: SectionKind = row
        .section
        .parse()
        .map_err(|e| ServiceError::Internal(format!("stored section: {e}")))?;
    let value = SectionValue::parse(kind, row.value.clone()).map_err(|v| {
        ServiceError::Internal(format!("stored {kind} section of {owner} is invalid: {v}"))
    })?;
    Ok((value, section_details(row, owner)))
}

/// A stored section, or `None` (logged as an error) when it cannot be read back: then the
/// organization inherits that section (the instance falls back to the built-in default) until an
/// administrator writes or resets it. One unreadable value must not take every login, policy
/// read and sweep of its owner down with it; the validation bounds keep new values readable.
pub(crate) fn readable_section(
    row: &SectionRow,
    owner: &str,
) -> Option<(SectionValue, SectionDetails)> {
    match section_from_row(row, owner) {
        Ok(section) => Some(section),
        Err(e) => {
            tracing::error!(owner, section = %row.section, error = %e,
                "a stored policy section cannot be read; it is ignored until rewritten or reset");
            None
        }
    }
}

pub(crate) fn section_details(row: &SectionRow, owner: &str) -> SectionDetails {
    SectionDetails {
        sequence: row.sequence,
        created_at: row.created_at,
        changed_at: row.changed_at,
        resource_owner: owner.to_owned(),
    }
}
