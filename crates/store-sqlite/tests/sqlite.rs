//! Integration tests of the SQLite adapter on real database files: migrations, durability across
//! reopening, exact serialization of concurrent counter transitions, and the conformance suite,
//! on files and in memory (`sqlite::memory:`, the store the service's own tests use).
//!
//! The `plans` module checks the plan of every statement the store runs (no table or index read
//! whole where a seek would do).
//!
//! Every file test uses its own file under the system temp directory and deletes it (with its
//! WAL and shared-memory files) at the end.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use portcullis_engine::counter::CounterState;
use portcullis_store::prelude::*;
use portcullis_store::{Org, Owner, Store, StoreError};
use portcullis_store_tests::support::oid;
use serde_json::json;

/// A database file that is deleted when dropped.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new(name: &str) -> TempDb {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "portcullis-store-sqlite-{name}-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let db = TempDb {
            path: std::env::temp_dir().join(unique),
        };
        db.remove();
        db
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

use portcullis_store_tests::scenario::{T0, at, event, limits, user};

mod plans;

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let db = TempDb::new("closed");
    let store = portcullis_store_sqlite::open(db.path(), 2).await.unwrap();
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn migrations_apply_twice_and_connect_does_not_migrate() {
    let db = TempDb::new("migrate");
    let store = portcullis_store_sqlite::connect(db.path(), 2)
        .await
        .unwrap();
    assert!(
        std::path::Path::new(db.path()).exists(),
        "connect creates the file"
    );
    // Not migrated yet: the tables do not exist.
    assert!(store.get_org(&oid("acme")).await.is_err());
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.get_org(&oid("acme")).await, Ok(None));
    store.close().await;

    // And once more through `open`, with a URL this time.
    let store = portcullis_store_sqlite::open(&format!("sqlite://{}", db.path()), 2)
        .await
        .unwrap();
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    assert_eq!(
        row.0,
        i64::try_from(files).unwrap(),
        "each migration applied once"
    );
    let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode.0, "wal");
    let sync: (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(sync.0, 2, "synchronous = FULL");
    let fk: (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(fk.0, 1);
    store.close().await;
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let db = TempDb::new("reopen");
    let org = Org {
        id: oid("acme"),
        name: "Acme".to_owned(),
        created_at: T0,
    };
    let alice = user("acme", "u1", "Alice");
    let lim = limits();
    {
        let store = portcullis_store_sqlite::open(db.path(), 2).await.unwrap();
        store
            .create_org(&org, event(None, "org.created", 0))
            .await
            .unwrap();
        store
            .create_user(&alice, event(Some("acme"), "user.created", 1))
            .await
            .unwrap();
        store
            .write_section(
                &Owner::Org(oid("acme")),
                "lockout",
                &json!({"max": 3}),
                Some(0),
                event(Some("acme"), "policy", 2),
            )
            .await
            .unwrap();
        store
            .update_counter(&oid("acme"), "alice", &mut |s: &mut CounterState| {
                let _ = s.record_failure(&lim, at(3));
                Vec::new().into()
            })
            .await
            .unwrap();
        // Dropped without `close`: committed data must still be there.
    }
    let store = portcullis_store_sqlite::open(db.path(), 2).await.unwrap();
    assert_eq!(store.get_org(&oid("acme")).await.unwrap(), Some(org));
    assert_eq!(
        store.get_user(&oid("acme"), "u1").await.unwrap(),
        Some(alice)
    );
    let sections = store.load_sections(&Owner::Org(oid("acme"))).await.unwrap();
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0].sequence, 3);
    assert_eq!(
        store
            .get_counter(&oid("acme"), "alice")
            .await
            .unwrap()
            .failures,
        1
    );
    let events = store.list_events(Some(&oid("acme")), 0, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![2, 3]
    );
    // Sequences continue after the stored ones.
    store
        .append_events(vec![event(None, "note", 4)])
        .await
        .unwrap();
    assert_eq!(store.list_events(None, 1, 10).await.unwrap()[0].sequence, 4);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_counter_updates_serialize_exactly() {
    const TASKS: u32 = 64;
    let db = TempDb::new("concurrency");
    let store = Arc::new(portcullis_store_sqlite::open(db.path(), 8).await.unwrap());
    let lim = limits();
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .update_counter(&oid("acme"), "203.0.113.7", &mut |s: &mut CounterState| {
                    let _ = s.record_failure(&lim, at(i64::from(i)));
                    vec![event(Some("acme"), "ip.failure", i64::from(i))].into()
                })
                .await
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap().unwrap().failures);
    }
    seen.sort_unstable();
    // Every call saw the state left by exactly one other: 1, 2, ..., 64.
    assert_eq!(seen, (1..=TASKS).collect::<Vec<_>>());
    assert_eq!(
        store
            .get_counter(&oid("acme"), "203.0.113.7")
            .await
            .unwrap()
            .failures,
        TASKS
    );
    let events = store.list_events(Some(&oid("acme")), 0, 500).await.unwrap();
    assert_eq!(events.len(), TASKS as usize);
    assert!(events.windows(2).all(|w| w[0].sequence < w[1].sequence));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_transition_outlasting_the_busy_timeout_is_retried() {
    use sqlx::Connection;

    let db = TempDb::new("busy");
    let store = Arc::new(portcullis_store_sqlite::open(db.path(), 2).await.unwrap());
    // Another writer holds the write lock longer than the 5 s busy timeout.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.path()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let task = {
        let (store, calls) = (Arc::clone(&store), Arc::clone(&calls));
        tokio::spawn(async move {
            store
                .update_counter(&oid("acme"), "k", &mut |s: &mut CounterState| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let _ = s.record_failure(&limits(), T0);
                    Vec::new().into()
                })
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(6_500)).await;
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let state = task.await.unwrap().unwrap();
    assert_eq!(state.failures, 1);
    // The closure ran once: the lock was never granted to the first attempt.
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    other.close().await.unwrap();
    store.close().await;
}

/// The shared conformance suite, on a fresh file per case.
mod conformance {
    use super::*;

    portcullis_store_tests::conformance_tests!(async {
        let db = TempDb::new("conformance");
        let store = portcullis_store_sqlite::open(db.path.to_str().unwrap(), 4)
            .await
            .unwrap();
        (Arc::new(store), db)
    });
}

/// The conformance suite on an in-memory database, type-erased and with a guard kept alive until
/// the test ends (the other fixture shapes the suite accepts).
mod in_memory {
    use std::sync::Arc;

    use portcullis_store::Store;

    portcullis_store_tests::conformance_tests!(async {
        let store = portcullis_store_sqlite::open("sqlite::memory:", 4)
            .await
            .unwrap();
        let guard = String::from("a temporary directory would live here");
        (Arc::new(store) as Arc<dyn Store>, guard)
    });
}

/// Without statistics SQLite lists the locks through the counters' primary key, reading every
/// counter of the organization; after the sweep's statistics refresh, connections opened since
/// (the pool renews its connections) take the partial index of locked counters.
#[tokio::test]
async fn refreshed_statistics_put_the_locks_list_on_its_partial_index() {
    async fn plan(store: &portcullis_store::sql::SqlStore) -> String {
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "EXPLAIN QUERY PLAN SELECT key FROM counters WHERE org_id = 'acme' \
             AND locked_until IS NOT NULL AND key > '' ORDER BY key LIMIT 50",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
    }
    let db = TempDb::new("statistics");
    let store = portcullis_store_sqlite::open(db.path(), 2).await.unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    for i in 0..5000 {
        let locked: Option<i64> = (i % 1000 == 0).then_some(i64::MAX);
        sqlx::query(
            "INSERT INTO counters (org_id, key, state, locked_until, login_key) \
             VALUES ('acme', $1, '{}', $2, $3)",
        )
        .bind(format!("password|user{i:05}"))
        .bind(locked)
        .bind(format!("user{i:05}"))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let before = plan(&store).await;
    assert!(before.contains("PRIMARY KEY"), "{before}");
    store.refresh_statistics().await.unwrap();
    store.close().await;
    let store = portcullis_store_sqlite::open(db.path(), 2).await.unwrap();
    let after = plan(&store).await;
    assert!(after.contains("USING INDEX counters_locked"), "{after}");
}
