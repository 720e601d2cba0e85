//! Integration tests of the PostgreSQL adapter on a real server: the shared conformance suite,
//! one scenario replayed against the in-memory reference store that must answer exactly the
//! same, typed errors, migrations (twice, and from three tasks at once on a fresh database, with
//! the same file names as the SQLite adapter's), durability across reopening, exact
//! serialization of concurrent counter transitions, and event sequences in commit order.
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

use portcullis_engine::counter::{CounterLimits, CounterState};
use portcullis_model::Timestamp;
use portcullis_store::{
    ApiKey, EventDraft, MemoryStore, Org, Owner, Page, PasswordUpdate, Role, Session, Store,
    StoreError, User, UserProfile,
};
use portcullis_store_postgres::PostgresStore;
use serde_json::json;
use time::macros::datetime;

use portcullis_store_postgres::testing::TestDatabase as TestDb;

/// A fresh database with a migrated store on it.
async fn fresh_store(pool_size: u32) -> (PostgresStore, TestDb) {
    let db = TestDb::create().await;
    let store = PostgresStore::open(db.url(), pool_size).await.unwrap();
    (store, db)
}

const T0: Timestamp = datetime!(2025-03-01 10:00:00.123_456_789 UTC);

fn at(seconds: i64) -> Timestamp {
    T0 + time::Duration::seconds(seconds)
}

fn event(org: Option<&str>, kind: &str, seconds: i64) -> EventDraft {
    EventDraft {
        org_id: org.map(str::to_owned),
        kind: kind.to_owned(),
        actor: "system".to_owned(),
        request_id: Some(format!("req-{seconds}")),
        at: at(seconds),
        payload: json!({ "n": seconds, "nested": { "b": [1, 2.5, null], "a": "x" } }),
    }
}

fn user(org: &str, id: &str, login: &str) -> User {
    User {
        id: id.to_owned(),
        org_id: org.to_owned(),
        login: login.to_owned(),
        login_key: login.to_lowercase(),
        email: Some(format!("{id}@example.test")),
        display_name: None,
        source: Some("ldap".to_owned()),
        roles: vec![Role::Member, Role::OrgAuditor],
        disabled: false,
        password_hash: Some(format!("hash-{id}-0")),
        password_history: vec!["older".to_owned()],
        password_changed_at: Some(at(1)),
        password_set_by_admin: true,
        created_at: at(1),
        updated_at: at(1),
        last_login_at: None,
        last_login_ip: None,
    }
}

fn session(id: &str, user_id: &str, seconds: i64) -> Session {
    Session {
        id: id.to_owned(),
        token_hash: format!("session-hash-{id}"),
        org_id: "acme".to_owned(),
        user_id: user_id.to_owned(),
        created_at: at(seconds),
        last_used_at: at(seconds),
        password_change_only: false,
    }
}

fn api_key(id: &str, org: Option<&str>, user_id: Option<&str>) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        token_hash: format!("key-hash-{id}"),
        org_id: org.map(str::to_owned),
        user_id: user_id.map(str::to_owned),
        name: format!("key {id}"),
        roles: vec![Role::OrgAdmin],
        created_at: at(2),
        expires_at: Some(at(86_400)),
    }
}

fn limits() -> CounterLimits {
    CounterLimits {
        max_failures: 1_000_000,
        window: None,
        lock_for: None,
        reset_after_success: true,
    }
}

fn page(after: Option<&str>, limit: u32) -> Page {
    Page {
        after: after.map(str::to_owned),
        limit,
    }
}

/// An event of organization `org` ("" = instance) at `T0 + seconds`.
fn ev(org: &str, seconds: i64) -> EventDraft {
    let org = (!org.is_empty()).then_some(org);
    event(org, "scenario", seconds)
}

/// A counter transition recording one failure (and an event when `with_event`).
fn failure(now: i64, with_event: bool) -> impl FnMut(&mut CounterState) -> Vec<EventDraft> + Send {
    move |state: &mut CounterState| {
        let _ = state.record_failure(&limits(), at(now));
        if with_event {
            vec![ev("acme", now)]
        } else {
            Vec::new()
        }
    }
}

/// Runs every method of the port on `s` and answers what each call returned.
async fn scenario(s: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    // Logs `call` (awaited) with its result.
    macro_rules! log {
        ($call:expr) => {
            out.push(format!("{} => {:?}", stringify!($call), $call.await))
        };
    }
    let (inst, acme) = (Owner::Instance, Owner::Org("acme".to_owned()));

    log!(s.ping());
    // organizations
    for (i, id) in ["globex", "acme", "initech", "acme"]
        .into_iter()
        .enumerate()
    {
        let org = Org {
            id: id.to_owned(),
            name: id.to_uppercase(),
            created_at: at(i as i64),
        };
        log!(s.create_org(&org, ev("", i as i64)));
    }
    log!(s.get_org("acme"));
    log!(s.get_org("nope"));
    log!(s.list_orgs(&page(None, 2)));
    log!(s.list_orgs(&page(Some("acme"), 10)));
    log!(s.list_orgs(&page(None, 0)));

    // sections
    log!(s.write_section(&inst, "lockout", &json!({"max": 5}), Some(0), ev("", 10)));
    log!(s.write_section(&inst, "lockout", &json!({"max": 6}), Some(0), ev("", 11)));
    log!(s.write_section(&acme, "lockout", &json!({"max": 3}), None, ev("acme", 12)));
    log!(s.write_section(
        &acme,
        "lockout",
        &json!({"max": 4}),
        Some(99),
        ev("acme", 13)
    ));
    log!(s.write_section(
        &acme,
        "lockout",
        &json!({"max": 4.5}),
        Some(5),
        ev("acme", 14)
    ));
    log!(s.write_section(&acme, "brute_force", &json!([1, "a"]), None, ev("acme", 15)));
    log!(s.load_sections(&inst));
    log!(s.load_sections(&acme));
    log!(s.delete_section("acme", "brute_force", ev("acme", 16)));
    log!(s.delete_section("acme", "brute_force", ev("acme", 17)));
    log!(s.delete_section("acme", "lockout", ev("acme", 18)));
    log!(s.load_sections(&acme));

    // users
    let users = [
        ("acme", "u2", "Bob"),
        ("acme", "u1", "Alice"),
        ("acme", "u3", "Carol"),
        ("acme", "u9", "ALICE"),
        ("globex", "u1", "zed"),
        ("globex", "g1", "alice"),
    ];
    for (org, id, login) in users {
        log!(s.create_user(&user(org, id, login), ev(org, 20)));
    }
    log!(s.get_user("acme", "u1"));
    log!(s.get_user("globex", "u1"));
    log!(s.find_user_by_login("acme", "alice"));
    log!(s.find_user_by_login("initech", "alice"));
    log!(s.list_users("acme", &page(Some("u1"), 1)));
    log!(s.list_users("acme", &page(None, 100)));
    let profile = UserProfile {
        email: None,
        display_name: Some("Alice A.".to_owned()),
        source: None,
        roles: vec![Role::OrgAdmin],
        disabled: true,
    };
    log!(s.update_user_profile("acme", "u1", &profile, at(30), ev("acme", 30)));
    log!(s.update_user_profile("globex", "u1", &profile, at(31), ev("globex", 31)));

    // sessions
    for (id, user_id) in [("s2", "u1"), ("s1", "u1"), ("s3", "u1"), ("s4", "u2")] {
        log!(s.create_session(&session(id, user_id, 40), vec![ev("acme", 40)]));
    }
    let mut dup_token = session("s5", "u2", 41);
    dup_token.token_hash = "session-hash-s1".to_owned();
    log!(s.create_session(&dup_token, vec![ev("acme", 41)]));
    log!(s.create_session(&session("s1", "u2", 41), vec![ev("acme", 41)]));
    log!(s.touch_session("s1", at(50)));
    log!(s.touch_session("s1", at(45)));
    log!(s.touch_session("missing", at(45)));
    log!(s.find_session("session-hash-s1"));
    log!(s.find_session("nope"));
    log!(s.list_user_sessions("acme", "u1"));
    log!(s.list_user_sessions("globex", "u1"));
    log!(s.delete_session("s3", ev("acme", 51)));
    log!(s.delete_session("s3", ev("acme", 52)));

    // passwords and logins
    let mut update = PasswordUpdate {
        hash: "hash-u1-1".to_owned(),
        keep_history: 2,
        changed_at: at(60),
        set_by_admin: false,
    };
    log!(s.set_password(
        "acme",
        "u1",
        &update,
        true,
        Some("s1"),
        vec![ev("acme", 60), ev("", 60)]
    ));
    log!(s.set_password("globex", "u9", &update, true, None, vec![ev("globex", 60)]));
    log!(s.get_user("acme", "u1"));
    log!(s.list_user_sessions("acme", "u1"));
    (update.hash, update.keep_history, update.set_by_admin) = ("hash-u1-2".to_owned(), 0, true);
    log!(s.set_password("acme", "u1", &update, false, None, vec![]));
    log!(s.record_login("acme", "u1", at(70), "192.0.2.1", None));
    log!(s.record_login("acme", "u2", at(71), "2001:db8::1", Some("rehashed")));
    log!(s.record_login("globex", "u2", at(71), "192.0.2.1", None));
    log!(s.get_user("acme", "u1"));
    log!(s.get_user("acme", "u2"));

    // API keys
    log!(s.has_instance_key());
    let keys = [
        ("k2", Some("acme"), Some("u2")),
        ("k1", Some("acme"), None),
        ("k0", None, None),
        ("k1", Some("globex"), None),
    ];
    for (id, org, user_id) in keys {
        log!(s.create_api_key(&api_key(id, org, user_id), ev(org.unwrap_or(""), 80)));
    }
    log!(s.has_instance_key());
    log!(s.find_api_key("key-hash-k2"));
    log!(s.find_api_key("nope"));
    log!(s.list_api_keys(Some("acme"), &page(None, 10)));
    log!(s.list_api_keys(None, &page(None, 10)));
    log!(s.list_api_keys(Some("acme"), &page(Some("k1"), 10)));
    log!(s.delete_api_key("globex", "k1", ev("globex", 82)));
    log!(s.delete_api_key("acme", "k0", ev("acme", 82)));
    log!(s.delete_api_key("acme", "k1", ev("acme", 83)));

    // deleting a user takes its sessions and keys along
    log!(s.delete_user("globex", "u2", ev("globex", 90)));
    log!(s.delete_user("acme", "u2", ev("acme", 90)));
    log!(s.delete_user("acme", "u2", ev("acme", 91)));
    log!(s.find_session("session-hash-s4"));
    log!(s.find_api_key("key-hash-k2"));
    log!(s.get_user("acme", "u2"));

    // counters
    log!(s.get_counter("acme", "alice"));
    log!(s.update_counter("acme", "alice", &mut failure(100, true)));
    log!(s.update_counter("acme", "alice", &mut failure(101, false)));
    log!(s.update_counter("acme", "alice", &mut |_: &mut CounterState| Vec::new()));
    log!(s.get_counter("acme", "alice"));
    log!(s.get_counter("globex", "alice"));
    let mut unlock = |state: &mut CounterState| {
        let _ = state.unlock(&limits(), at(102));
        vec![ev("acme", 102)]
    };
    log!(s.update_counter("acme", "alice", &mut unlock));
    log!(s.get_counter("acme", "alice"));

    // events
    log!(s.append_events(vec![ev("", 110), ev("initech", 111)]));
    log!(s.append_events(vec![]));
    log!(s.list_events(None, 0, 100));
    log!(s.list_events(Some("acme"), 0, 3));
    log!(s.list_events(Some("acme"), 20, 1000));
    log!(s.list_events(Some("initech"), 0, 10));
    log!(s.list_events(Some("nobody"), 0, 10));
    out
}

#[tokio::test]
async fn answers_exactly_like_the_memory_store() {
    let (postgres, _db) = fresh_store(4).await;
    let memory = MemoryStore::new();
    let expected = scenario(&memory).await;
    let actual = scenario(&postgres).await;
    assert_eq!(expected.len(), actual.len());
    for (want, got) in expected.iter().zip(&actual) {
        assert_eq!(want, got);
    }
    postgres.close().await;
}

#[tokio::test]
async fn conflicts_and_version_mismatches_are_typed() {
    let (store, _db) = fresh_store(2).await;
    let org = Org {
        id: "acme".to_owned(),
        name: "Acme".to_owned(),
        created_at: T0,
    };
    store
        .create_org(&org, event(None, "org.created", 0))
        .await
        .unwrap();
    assert_eq!(
        store.create_org(&org, event(None, "org.created", 1)).await,
        Err(StoreError::Conflict("organization id".to_owned()))
    );
    store
        .create_user(
            &user("acme", "u1", "Alice"),
            event(Some("acme"), "user.created", 2),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .create_user(
                &user("acme", "u2", "alice"),
                event(Some("acme"), "user.created", 3)
            )
            .await,
        Err(StoreError::Conflict("login".to_owned()))
    );
    assert_eq!(
        store
            .create_user(
                &user("acme", "u1", "other"),
                event(Some("acme"), "user.created", 3)
            )
            .await,
        Err(StoreError::Conflict("user id".to_owned()))
    );
    store
        .create_session(&session("s1", "u1", 4), vec![])
        .await
        .unwrap();
    let mut same_token = session("s2", "u1", 4);
    same_token.token_hash = "session-hash-s1".to_owned();
    assert_eq!(
        store.create_session(&same_token, vec![]).await,
        Err(StoreError::Conflict("session".to_owned()))
    );
    store
        .create_api_key(&api_key("k1", Some("acme"), None), event(None, "key", 4))
        .await
        .unwrap();
    let mut same_hash = api_key("k2", Some("acme"), None);
    same_hash.token_hash = "key-hash-k1".to_owned();
    assert_eq!(
        store
            .create_api_key(&same_hash, event(None, "key", 4))
            .await,
        Err(StoreError::Conflict("api key".to_owned()))
    );
    assert_eq!(
        store
            .write_section(
                &Owner::Instance,
                "lockout",
                &json!({}),
                Some(1),
                event(None, "policy", 4)
            )
            .await,
        Err(StoreError::VersionMismatch)
    );
    // The refused write left no placeholder row behind.
    assert_eq!(store.load_sections(&Owner::Instance).await.unwrap(), vec![]);
    assert_eq!(
        store
            .update_user_profile(
                "acme",
                "zz",
                &UserProfile {
                    email: None,
                    display_name: None,
                    source: None,
                    roles: vec![],
                    disabled: false,
                },
                T0,
                event(Some("acme"), "user.changed", 5)
            )
            .await,
        Err(StoreError::NotFound)
    );
    // Failed calls wrote no event.
    let sequences: Vec<_> = store
        .list_events(None, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(sequences, vec![1, 3]);
    assert_eq!(
        store.list_events(Some("acme"), 0, 100).await.unwrap().len(),
        1
    );
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Nothing listens on port 1.
    let err = PostgresStore::connect("postgres://postgres@127.0.0.1:1/none", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "got {err:?}");
    let err = PostgresStore::connect("postgres://user:secret@[::1", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "got {err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn migrations_apply_twice_and_connect_does_not_migrate() {
    let db = TestDb::create().await;
    let store = PostgresStore::connect(db.url(), 2).await.unwrap();
    // Not migrated yet: the tables do not exist.
    assert!(matches!(
        store.get_org("acme").await,
        Err(StoreError::Internal(_))
    ));
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.get_org("acme").await, Ok(None));
    assert_eq!(store.policy_version().await, Ok(0));
    store.close().await;

    let store = PostgresStore::open(db.url(), 2).await.unwrap();
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
            let store = PostgresStore::connect(&url, 2).await.unwrap();
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
        id: "acme".to_owned(),
        name: "Acme".to_owned(),
        created_at: T0,
    };
    let alice = user("acme", "u1", "Alice");
    let lim = limits();
    {
        let store = PostgresStore::open(db.url(), 2).await.unwrap();
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
                &Owner::Org("acme".to_owned()),
                "lockout",
                &json!({"max": 3}),
                Some(0),
                event(Some("acme"), "policy", 2),
            )
            .await
            .unwrap();
        store
            .update_counter("acme", "alice", &mut |s: &mut CounterState| {
                let _ = s.record_failure(&lim, at(3));
                Vec::new()
            })
            .await
            .unwrap();
        store.close().await;
    }
    let store = PostgresStore::open(db.url(), 2).await.unwrap();
    assert_eq!(store.get_org("acme").await.unwrap(), Some(org));
    assert_eq!(store.get_user("acme", "u1").await.unwrap(), Some(alice));
    let sections = store
        .load_sections(&Owner::Org("acme".to_owned()))
        .await
        .unwrap();
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0].sequence, 3);
    assert_eq!(sections[0].value, json!({"max": 3}));
    assert_eq!(store.policy_version().await, Ok(1));
    assert_eq!(
        store.get_counter("acme", "alice").await.unwrap().failures,
        1
    );
    let events = store.list_events(Some("acme"), 0, 10).await.unwrap();
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
                .update_counter("acme", "203.0.113.7", &mut |s: &mut CounterState| {
                    let _ = s.record_failure(&lim, at(i64::from(i)));
                    vec![event(Some("acme"), "ip.failure", i64::from(i))]
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
            .get_counter("acme", "203.0.113.7")
            .await
            .unwrap()
            .failures,
        TASKS
    );
    let events = store.list_events(Some("acme"), 0, 500).await.unwrap();
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
                .update_counter("acme", "k", &mut |s: &mut CounterState| {
                    failures_before = Some(s.failures);
                    if i % 2 == 0 {
                        let _ = s.record_failure(&lim, at(i64::from(i)));
                    } else {
                        *s = CounterState::default();
                    }
                    Vec::new()
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
        .update_counter("acme", "fresh", &mut |_: &mut CounterState| {
            vec![event(Some("acme"), "noop", 1)]
        })
        .await
        .unwrap();
    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM counters WHERE key = 'fresh'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows.0, 0);
    assert_eq!(
        store.list_events(Some("acme"), 0, 10).await.unwrap().len(),
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
                        .update_counter("", &format!("w{w}-{n}"), &mut |s: &mut CounterState| {
                            let _ = s.record_failure(&limits(), at(n));
                            vec![event(None, "c", n)]
                        })
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
