//! The conformance suite against the in-memory store.

portcullis_store_tests::conformance_tests!(async {
    std::sync::Arc::new(portcullis_store::MemoryStore::new())
});

/// The other fixture shapes an adapter may use: a type-erased store, and a store with a guard
/// kept alive until the test ends (as a temporary database directory would be).
mod erased_with_guard {
    use std::sync::Arc;

    use portcullis_store::{MemoryStore, Store};

    portcullis_store_tests::conformance_tests!(async {
        let guard = String::from("a temporary directory would live here");
        (Arc::new(MemoryStore::new()) as Arc<dyn Store>, guard)
    });
}
