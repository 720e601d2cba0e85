//! The effective-policy cache: the policies of the organizations read most recently, at most
//! `capacity` of them (least recently used dropped first), and the instance defaults.
//!
//! Invariants:
//! - a policy changed through this process is never served stale afterwards: every write bumps
//!   a generation *after* it commits and drops the cached entries; a reader that started
//!   loading before the bump does not insert what it loaded (changes made by another process
//!   are picked up by the replicas' propagation; with SQLite there is one process);
//! - memory is bounded by `capacity` policies whatever the number of organizations: an
//!   organization read after its entry was dropped is loaded again from the store, so a small
//!   capacity costs reads, never correctness.

use std::sync::{Arc, Mutex};

use hashlink::LruCache;
use portcullis_model::{EffectivePolicy, InstancePolicy};

/// The default number of organizations' policies kept.
pub const DEFAULT_POLICY_CACHE_ENTRIES: usize = 4096;

struct Inner {
    generation: u64,
    orgs: LruCache<String, Arc<EffectivePolicy>>,
    instance: Option<Arc<InstancePolicy>>,
}

/// Cached effective policies per organization.
pub(crate) struct PolicyCache {
    inner: Mutex<Inner>,
}

impl Default for PolicyCache {
    fn default() -> PolicyCache {
        PolicyCache::with_capacity(DEFAULT_POLICY_CACHE_ENTRIES)
    }
}

impl PolicyCache {
    /// A cache of at most `capacity` organizations' policies (at least one).
    pub(crate) fn with_capacity(capacity: usize) -> PolicyCache {
        PolicyCache {
            inner: Mutex::new(Inner {
                generation: 0,
                orgs: LruCache::new(capacity.max(1)),
                instance: None,
            }),
        }
    }

    /// The cached policy of `org_id` (now the most recently used), with the generation to pass
    /// to [`PolicyCache::insert`].
    pub(crate) fn get(&self, org_id: &str) -> (Option<Arc<EffectivePolicy>>, u64) {
        match self.inner.lock() {
            Ok(mut inner) => (inner.orgs.get(org_id).cloned(), inner.generation),
            Err(_) => (None, u64::MAX),
        }
    }

    /// Caches a policy loaded while the cache was at `generation`; ignored if it moved since.
    /// When full, the least recently used organization's policy is dropped.
    pub(crate) fn insert(&self, org_id: &str, generation: u64, policy: Arc<EffectivePolicy>) {
        if let Ok(mut inner) = self.inner.lock()
            && inner.generation == generation
        {
            inner.orgs.insert(org_id.to_owned(), policy);
        }
    }

    /// The cached instance defaults, with the generation to pass to [`PolicyCache::insert_instance`].
    pub(crate) fn instance(&self) -> (Option<Arc<InstancePolicy>>, u64) {
        match self.inner.lock() {
            Ok(inner) => (inner.instance.clone(), inner.generation),
            Err(_) => (None, u64::MAX),
        }
    }

    /// Caches the instance defaults loaded at `generation`; ignored if it moved since.
    pub(crate) fn insert_instance(&self, generation: u64, policy: Arc<InstancePolicy>) {
        if let Ok(mut inner) = self.inner.lock()
            && inner.generation == generation
        {
            inner.instance = Some(policy);
        }
    }

    /// Forgets everything (after any policy write).
    pub(crate) fn invalidate(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation += 1;
            inner.orgs.clear();
            inner.instance = None;
        }
    }

    /// How many organizations' policies are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map(|inner| inner.orgs.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Arc<EffectivePolicy> {
        let instance = InstancePolicy::builtin("instance");
        Arc::new(portcullis_model::resolve(
            &instance,
            &portcullis_model::OrgOverrides::default(),
        ))
    }

    #[test]
    fn at_most_capacity_entries_and_the_least_recently_used_goes_first() {
        let cache = PolicyCache::with_capacity(2);
        let (_, generation) = cache.get("a");
        cache.insert("a", generation, policy());
        cache.insert("b", generation, policy());
        assert!(
            cache.get("a").0.is_some(),
            "a is now the most recently used"
        );
        cache.insert("c", generation, policy());
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b").0.is_none(), "b was the least recently used");
        assert!(cache.get("a").0.is_some());
        assert!(cache.get("c").0.is_some());
    }

    #[test]
    fn a_load_that_started_before_a_write_is_not_cached() {
        let cache = PolicyCache::with_capacity(8);
        let (_, before) = cache.get("a");
        cache.invalidate();
        cache.insert("a", before, policy());
        assert!(cache.get("a").0.is_none());
        let (_, now) = cache.get("a");
        cache.insert("a", now, policy());
        assert!(cache.get("a").0.is_some());
    }

    #[test]
    fn a_capacity_of_zero_still_keeps_one() {
        let cache = PolicyCache::with_capacity(0);
        let (_, generation) = cache.get("a");
        cache.insert("a", generation, policy());
        assert_eq!(cache.len(), 1);
    }
}
