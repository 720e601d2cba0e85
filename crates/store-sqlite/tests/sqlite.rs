//! Integration tests of the SQLite adapter on real database files: migrations, durability across
//! reopening, exact serialization of concurrent counter transitions, and one scenario replayed
//! against the in-memory reference store that must answer exactly the same.
//!
//! Every test uses its own file under the system temp directory and deletes it (with its WAL
//! and shared-memory files) at the end.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use portcullis_engine::counter::{CounterLimits, CounterState};
use portcullis_model::Timestamp;
use portcullis_store::{
    ApiKey, EventDraft, MemoryStore, Org, Owner, Page, PasswordUpdate, Role, Session, Store,
    StoreError, User, UserProfile,
};
use portcullis_store_sqlite::SqliteStore;
use serde_json::json;
use time::macros::datetime;

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
    let db = TempDb::new("scenario");
    let sqlite = SqliteStore::open(db.path(), 4).await.unwrap();
    let memory = MemoryStore::new();
    let expected = scenario(&memory).await;
    let actual = scenario(&sqlite).await;
    assert_eq!(expected.len(), actual.len());
    for (want, got) in expected.iter().zip(&actual) {
        assert_eq!(want, got);
    }
    sqlite.close().await;
}

#[tokio::test]
async fn conflicts_and_version_mismatches_are_typed() {
    let db = TempDb::new("errors");
    let store = SqliteStore::open(db.path(), 2).await.unwrap();
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
    let kinds: Vec<_> = store
        .list_events(None, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(kinds, vec![1]);
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
async fn migrations_apply_twice_and_connect_does_not_migrate() {
    let db = TempDb::new("migrate");
    let store = SqliteStore::connect(db.path(), 2).await.unwrap();
    assert!(
        std::path::Path::new(db.path()).exists(),
        "connect creates the file"
    );
    // Not migrated yet: the tables do not exist.
    assert!(store.get_org("acme").await.is_err());
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.get_org("acme").await, Ok(None));
    store.close().await;

    // And once more through `open`, with a URL this time.
    let store = SqliteStore::open(&format!("sqlite://{}", db.path()), 2)
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
        id: "acme".to_owned(),
        name: "Acme".to_owned(),
        created_at: T0,
    };
    let alice = user("acme", "u1", "Alice");
    let lim = limits();
    {
        let store = SqliteStore::open(db.path(), 2).await.unwrap();
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
        // Dropped without `close`: committed data must still be there.
    }
    let store = SqliteStore::open(db.path(), 2).await.unwrap();
    assert_eq!(store.get_org("acme").await.unwrap(), Some(org));
    assert_eq!(store.get_user("acme", "u1").await.unwrap(), Some(alice));
    let sections = store
        .load_sections(&Owner::Org("acme".to_owned()))
        .await
        .unwrap();
    assert_eq!(sections.len(), 1);
    assert_eq!(sections[0].sequence, 3);
    assert_eq!(
        store.get_counter("acme", "alice").await.unwrap().failures,
        1
    );
    let events = store.list_events(Some("acme"), 0, 10).await.unwrap();
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
    let store = Arc::new(SqliteStore::open(db.path(), 8).await.unwrap());
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
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_transition_outlasting_the_busy_timeout_is_retried() {
    use sqlx::Connection;

    let db = TempDb::new("busy");
    let store = Arc::new(SqliteStore::open(db.path(), 2).await.unwrap());
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
                .update_counter("acme", "k", &mut |s: &mut CounterState| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let _ = s.record_failure(&limits(), T0);
                    Vec::new()
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
        let store = SqliteStore::open(db.path.to_str().unwrap(), 4)
            .await
            .unwrap();
        (Arc::new(store), db)
    });
}
