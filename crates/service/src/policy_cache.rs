//! The effective-policy cache.
//!
//! Invariant: a policy changed through this process is never served stale afterwards. Every
//! write bumps a generation *after* it commits and drops the cached entries; a reader that
//! started loading before the bump does not insert what it loaded. (Changes made by another
//! process are picked up by the PostgreSQL issue's propagation; with SQLite there is one.)

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use portcullis_model::{EffectivePolicy, InstancePolicy};

#[derive(Default)]
struct Inner {
    generation: u64,
    orgs: HashMap<String, Arc<EffectivePolicy>>,
    instance: Option<Arc<InstancePolicy>>,
}

/// Cached effective policies per organization.
#[derive(Default)]
pub(crate) struct PolicyCache {
    inner: RwLock<Inner>,
}

impl PolicyCache {
    /// The cached policy of `org_id`, with the generation to pass to [`PolicyCache::insert`].
    pub(crate) fn get(&self, org_id: &str) -> (Option<Arc<EffectivePolicy>>, u64) {
        match self.inner.read() {
            Ok(inner) => (inner.orgs.get(org_id).cloned(), inner.generation),
            Err(_) => (None, u64::MAX),
        }
    }

    /// Caches a policy loaded while the cache was at `generation`; ignored if it moved since.
    pub(crate) fn insert(&self, org_id: &str, generation: u64, policy: Arc<EffectivePolicy>) {
        if let Ok(mut inner) = self.inner.write()
            && inner.generation == generation
        {
            inner.orgs.insert(org_id.to_owned(), policy);
        }
    }

    /// The cached instance defaults, with the generation to pass to [`PolicyCache::insert_instance`].
    pub(crate) fn instance(&self) -> (Option<Arc<InstancePolicy>>, u64) {
        match self.inner.read() {
            Ok(inner) => (inner.instance.clone(), inner.generation),
            Err(_) => (None, u64::MAX),
        }
    }

    /// Caches the instance defaults loaded at `generation`; ignored if it moved since.
    pub(crate) fn insert_instance(&self, generation: u64, policy: Arc<InstancePolicy>) {
        if let Ok(mut inner) = self.inner.write()
            && inner.generation == generation
        {
            inner.instance = Some(policy);
        }
    }

    /// Forgets everything (after any policy write).
    pub(crate) fn invalidate(&self) {
        if let Ok(mut inner) = self.inner.write() {
            inner.generation += 1;
            inner.orgs.clear();
            inner.instance = None;
        }
    }
}
