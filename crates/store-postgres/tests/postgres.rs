//! Integration tests of the PostgreSQL adapter on a real server: the shared conformance suite,
//! one scenario replayed against the in-memory reference store that must answer exactly the
//! same, typed errors, migrations (twice, and from three tasks at once on a fresh database, with
//! the same file names as the SQLite adapter's), durability across reopening, exact
//! serialization of concurrent counter transitions, event sequences in commit order, and (module
//! `plans`) the plan of every statement the store runs.
//!
//! Every test creates its own database (`portcullis_t_<pid>_<n>_<random>`) on the server of
//! `PORTCULLIS_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), and drops
//! it (`WITH (FORCE)`) when its [`TestDb`] guard is dropped. When PostgreSQL cannot be reached
//! the tests fail with a message saying so; they never skip.

// Test code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use portcullis_engine::counter::CounterState;
use portcullis_store::prelude::*;
use portcullis_store::sql::SqlStore;
use portcullis_store::{Org, Owner, Store, StoreError};
use portcullis_store_tests::support::oid;
use serde_json::json;

use portcullis_store_postgres::testing::TestDatabase as TestDb;

mod plans;

/// A fresh database with a migrated store on it.
async fn fresh_store(pool_size: u32) -> (SqlStore, TestDb) {
    let db = TestDb::create().await;
    let store = portcullis_store_postgres::open(db.url(), pool_size)
        .await
        .unwrap();
    (store, db)
}

use portcullis_store_tests::scenario::{T0, at, event, limits, user};

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let (store, _db) = fresh_store(2).await;
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Nothing listens on port 1.
    let err = portcullis_store_postgres::connect("postgres://postgres@127.0.0.1:1/none", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "got {err:?}");
    let err = portcullis_store_postgres::connect("postgres://user:secret@[::1", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "got {err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn migrations_apply_twice_and_connect_does_not_migrate() {
    let db = TestDb::create().await;
    let store = portcullis_store_postgres::connect(db.url(), 2)
        .await
        .unwrap();
    // Not migrated yet: the tables do not exist.
    assert!(matches!(
        store.get_org(&oid("acme")).await,
        Err(StoreError::Internal(_))
    ));
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.get_org(&oid("acme")).await, Ok(None));
    assert_eq!(store.policy_version().await, Ok(0));
    store.close().await;

    let store = portcullis_store_postgres::open(db.url(), 2).await.unwrap();
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(row.0 as usize, migration_names("store-postgres").len());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_from_three_replicas_at_once_apply_once() {
    let db = TestDb::create().await;
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let url = db.url().to_owned();
        tasks.push(tokio::spawn(async move {
            let store = portcullis_store_postgres::connect(&url, 2).await.unwrap();
            store.migrate().await.map(|()| store)
        }));
    }
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(task.await.unwrap().unwrap());
    }
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(stores[0].pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), migration_names("store-postgres").len());
    assert!(rows.iter().all(|(_, success)| *success));
    // Every replica works on the migrated schema, and once more is a no-op.
    for (i, store) in stores.iter().enumerate() {
        store.migrate().await.unwrap();
        store
            .append_events(vec![event(None, "replica.up", i as i64)])
            .await
            .unwrap();
    }
    assert_eq!(stores[1].list_events(None, 0, 10).await.unwrap().len(), 3);
    for store in stores {
        store.close().await;
    }
}

/// The `.sql` file names of `crates/<krate>/migrations`, sorted.
fn migration_names(krate: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("migrations");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

#[test]
fn migration_files_mirror_the_sqlite_adapter() {
    let sqlite = migration_names("store-sqlite");
    let postgres = migration_names("store-postgres");
    assert!(!postgres.is_empty());
    assert_eq!(
        postgres, sqlite,
        "every SQLite migration needs a PostgreSQL twin of the same name (and vice versa)"
    );
}

#[tokio::test]
async fn data_survives_reopening_the_database() {
    let db = TestDb::create().await;
    let org = Org {
        id: oid("acme"),
        name: "Acme".to_owned(),
        created_at: T0,
    };
    let alice = user("acme", "u1", "Alice");
    let lim = limits();
    {
        let store = portcullis_store_postgres::open(db.url(), 2).await.unwrap();
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
        store.close().await;
    }
    let store = portcullis_store_postgres::open(db.url(), 2).await.unwrap();
    assert_eq!(store.get_org(&oid("acme")).await.unwrap(), Some(org));
    assert_eq!(
        store.get_user(&oid("acme"), "u1").await.unwrap(),
        Some(alice)
    );
    let sections = store.load_sections(&Owner::Org(oid("acme"))).await.unwrap();
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0].sequence, 3);
    assert_eq!(sections[0].value, json!({"max": 3}));
    assert_eq!(store.policy_version().await, Ok(1));
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
    assert_eq!(events[0].at, at(1), "nanoseconds round-trip");
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
    let (store, _db) = fresh_store(8).await;
    let store = Arc::new(store);
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
    // The failures were recorded in sequence order: the n-th event is the n-th transition.
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_deleted_and_recreated_concurrently_stay_exact() {
    // Half the tasks record a failure, half reset the counter to the default (which deletes its
    // row): a transition may find the row gone between its insert and its lock.
    const TASKS: u32 = 48;
    let (store, _db) = fresh_store(8).await;
    let store = Arc::new(store);
    let lim = limits();
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut failures_before = None;
            let state = store
                .update_counter(&oid("acme"), "k", &mut |s: &mut CounterState| {
                    failures_before = Some(s.failures);
                    if i % 2 == 0 {
                        let _ = s.record_failure(&lim, at(i64::from(i)));
                    } else {
                        *s = CounterState::default();
                    }
                    Vec::new().into()
                })
                .await
                .unwrap();
            (i, failures_before.unwrap(), state.failures)
        }));
    }
    for task in tasks {
        let (i, before, after) = task.await.unwrap();
        if i % 2 == 0 {
            assert_eq!(after, before + 1);
        } else {
            assert_eq!(after, 0);
        }
    }
    // A transition that leaves a fresh counter at the default commits no row.
    store
        .update_counter(&oid("acme"), "fresh", &mut |_: &mut CounterState| {
            vec![event(Some("acme"), "noop", 1)].into()
        })
        .await
        .unwrap();
    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM counters WHERE key = 'fresh'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows.0, 0);
    assert_eq!(
        store
            .list_events(Some(&oid("acme")), 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_following_the_log_never_misses_an_event() {
    // Writers append concurrently while a reader pages with `after = <last seen>`; if sequences
    // did not follow commit order, an event committing late with a smaller sequence than one
    // already seen would be skipped for ever.
    const WRITERS: i64 = 6;
    const PER_WRITER: i64 = 40;
    let (store, _db) = fresh_store(10).await;
    let store = Arc::new(store);
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = store.list_events(None, after, 500).await.unwrap();
                if let Some(last) = batch.last() {
                    after = last.sequence;
                }
                seen.extend(batch.into_iter().map(|e| e.sequence));
                if finished {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(&store);
        writers.push(tokio::spawn(async move {
            for n in 0..PER_WRITER {
                // A mix of bare appends and events carried by other writes.
                if n % 2 == 0 {
                    store
                        .append_events(vec![event(None, "a", n), event(None, "b", n)])
                        .await
                        .unwrap();
                } else {
                    store
                        .update_counter(
                            &oid("writers"),
                            &format!("w{w}-{n}"),
                            &mut |s: &mut CounterState| {
                                let _ = s.record_failure(&limits(), at(n));
                                vec![event(None, "c", n)].into()
                            },
                        )
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let all: Vec<u64> = store
        .list_events(None, 0, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(all.len() as i64, WRITERS * PER_WRITER * 3 / 2);
    assert_eq!(seen, all, "the reader saw every event once, in order");
    let unique: BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len());
    store.close().await;
}

/// The shared conformance suite, on a fresh database per case.
mod conformance {
    use super::*;

    portcullis_store_tests::conformance_tests!(async {
        let (store, db) = fresh_store(4).await;
        (Arc::new(store), db)
    });
}
