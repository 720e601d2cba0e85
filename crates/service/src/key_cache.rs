//! The API-key cache: keys found by their token's digest, the most recently used ones, at most
//! `capacity` of them (least recently used dropped first), so a request with a known key reads
//! nothing from the store to authenticate.
//!
//! Invariants:
//! - only keys that exist are cached: an unknown token is looked up every time;
//! - a key deleted through this process is never served from the cache afterwards: the deletion
//!   bumps a generation *after* it commits and drops every entry, and a lookup that started
//!   before the bump does not insert what it found;
//! - a key deleted through another process is dropped when the store's policy version moves
//!   (every key deletion bumps it in its transaction; the server polls it every 250 ms, the
//!   policy cache's rule), so it stops working everywhere within one second;
//! - what can end a key without deleting it (its expiry, the organization's key lifetime, its
//!   user disabled or deleted, its parent key gone) is checked at every use, never cached.

use std::sync::Mutex;

use hashlink::LruCache;
use portcullis_store::ApiKey;

/// The default number of keys kept.
pub const DEFAULT_KEY_CACHE_ENTRIES: usize = 4096;

struct Inner {
    generation: u64,
    keys: LruCache<String, ApiKey>,
}

/// Cached API keys by token digest.
pub(crate) struct KeyCache {
    inner: Mutex<Inner>,
}

impl Default for KeyCache {
    fn default() -> KeyCache {
        KeyCache::with_capacity(DEFAULT_KEY_CACHE_ENTRIES)
    }
}

impl KeyCache {
    /// A cache of at most `capacity` keys (at least one).
    pub(crate) fn with_capacity(capacity: usize) -> KeyCache {
        KeyCache {
            inner: Mutex::new(Inner {
                generation: 0,
                keys: LruCache::new(capacity.max(1)),
            }),
        }
    }

    /// The cached key of `digest` (now the most recently used), with the generation to pass to
    /// [`KeyCache::insert`].
    pub(crate) fn get(&self, digest: &str) -> (Option<ApiKey>, u64) {
        match self.inner.lock() {
            Ok(mut inner) => (inner.keys.get(digest).cloned(), inner.generation),
            Err(_) => (None, u64::MAX),
        }
    }

    /// Caches a key found while the cache was at `generation`; ignored if it moved since.
    pub(crate) fn insert(&self, digest: &str, generation: u64, key: ApiKey) {
        if let Ok(mut inner) = self.inner.lock()
            && inner.generation == generation
        {
            inner.keys.insert(digest.to_owned(), key);
        }
    }

    /// Forgets every key (after a key deletion, or when the store's version moved).
    pub(crate) fn invalidate(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation += 1;
            inner.keys.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.to_owned(),
            token_hash: format!("digest-{id}"),
            org_id: None,
            user_id: None,
            name: String::new(),
            roles: Vec::new(),
            created_at: portcullis_model::Timestamp::UNIX_EPOCH,
            expires_at: None,
            sealed_secret: None,
            parent_id: None,
        }
    }

    #[test]
    fn at_most_capacity_keys_and_the_least_recently_used_goes_first() {
        let cache = KeyCache::with_capacity(2);
        let (_, generation) = cache.get("a");
        cache.insert("a", generation, key("a"));
        cache.insert("b", generation, key("b"));
        assert!(cache.get("a").0.is_some());
        cache.insert("c", generation, key("c"));
        assert!(cache.get("b").0.is_none(), "b was the least recently used");
        assert_eq!(cache.get("a").0.map(|k| k.id).as_deref(), Some("a"));
        assert!(cache.get("c").0.is_some());
    }

    #[test]
    fn a_lookup_that_started_before_a_deletion_is_not_cached() {
        let cache = KeyCache::with_capacity(8);
        let (_, before) = cache.get("a");
        cache.invalidate();
        cache.insert("a", before, key("a"));
        assert!(cache.get("a").0.is_none());
        let (_, now) = cache.get("a");
        cache.insert("a", now, key("a"));
        cache.invalidate();
        assert!(cache.get("a").0.is_none(), "a deletion drops every key");
    }
}
