//! One scenario that calls every method of the port, replayed on an adapter: it must answer
//! exactly what `scenario.expected` records, call by call (the `answers_like_the_recorded_log`
//! conformance case), so every database answers the same. After a deliberate change of the
//! port's answers, rewrite the record with `PORTCULLIS_BLESS_SCENARIO=1 cargo test -p
//! portcullis-store-sqlite answers_like`, and review its diff. Its fixtures are public for the
//! adapters' own tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::oid;
use std::sync::Arc;

use portcullis_engine::counter::{CounterLimits, CounterState};
use portcullis_model::Timestamp;
use portcullis_store::{
    ApiKey, CounterChange, EventDraft, LoginRecord, Org, Owner, Page, PasswordUpdate, Role,
    Session, Store, User, UserProfile,
};
use serde_json::json;
use time::macros::datetime;

/// Scenario fixture.
pub const T0: Timestamp = datetime!(2025-03-01 10:00:00.123_456_789 UTC);

/// Scenario fixture.
pub fn at(seconds: i64) -> Timestamp {
    T0 + time::Duration::seconds(seconds)
}

/// Scenario fixture.
pub fn event(org: Option<&str>, kind: &str, seconds: i64) -> EventDraft {
    EventDraft {
        org_id: org.map(crate::support::oid),
        kind: kind.to_owned(),
        actor: "system".to_owned(),
        request_id: Some(format!("req-{seconds}")),
        at: at(seconds),
        payload: json!({ "n": seconds, "nested": { "b": [1, 2.5, null], "a": "x" } }),
        mail: None,
    }
}

/// Scenario fixture.
pub fn user(org: &str, id: &str, login: &str) -> User {
    User {
        id: id.to_owned(),
        org_id: crate::support::oid(org),
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
        verification_pending: false,
        password_expired_at: None,
    }
}

/// Scenario fixture.
pub fn session(id: &str, user_id: &str, seconds: i64) -> Session {
    Session {
        id: id.to_owned(),
        token_hash: format!("session-hash-{id}"),
        org_id: crate::support::oid("acme"),
        user_id: user_id.to_owned(),
        created_at: at(seconds),
        last_used_at: at(seconds),
        password_change_only: false,
        stage: portcullis_store::SessionStage::Full,
        client_ip: None,
        user_agent: None,
    }
}

/// Scenario fixture.
pub fn api_key(id: &str, org: Option<&str>, user_id: Option<&str>) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        token_hash: format!("key-hash-{id}"),
        org_id: org.map(crate::support::oid),
        user_id: user_id.map(str::to_owned),
        name: format!("key {id}"),
        roles: vec![Role::OrgAdmin],
        created_at: at(2),
        expires_at: Some(at(86_400)),
        sealed_secret: None,
        parent_id: None,
    }
}

/// Scenario fixture.
pub fn limits() -> CounterLimits {
    CounterLimits {
        max_failures: 1_000_000,
        window: None,
        lock_for: None,
        reset_after_success: true,
        escalation: portcullis_model::Escalation::NONE,
    }
}

/// Scenario fixture.
pub fn page(after: Option<&str>, limit: u32) -> Page {
    Page {
        after: after.map(str::to_owned),
        limit,
    }
}

/// An event of organization `org` ("" = instance) at `T0 + seconds`.
pub fn ev(org: &str, seconds: i64) -> EventDraft {
    let org = (!org.is_empty()).then_some(org);
    event(org, "scenario", seconds)
}

/// A counter transition recording one failure (and an event when `with_event`).
pub fn failure(
    now: i64,
    with_event: bool,
) -> impl FnMut(&mut CounterState) -> CounterChange + Send {
    move |state: &mut CounterState| {
        let _ = state.record_failure(&limits(), at(now));
        let events = if with_event {
            vec![ev("acme", now)]
        } else {
            Vec::new()
        };
        CounterChange {
            events,
            due_at: Some(at(now + 3600)),
            ..CounterChange::default()
        }
    }
}

/// Runs every method of the port on `s` and answers what each call returned.
pub async fn replay(s: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    // Logs `call` (awaited) with its result.
    macro_rules! log {
        ($call:expr) => {
            out.push(format!("{} => {:?}", stringify!($call), $call.await))
        };
    }
    let (inst, acme) = (Owner::Instance, Owner::Org(oid("acme")));

    log!(s.ping());
    // organizations
    for (i, id) in ["globex", "acme", "initech", "acme"]
        .into_iter()
        .enumerate()
    {
        let org = Org {
            id: oid(id),
            name: id.to_uppercase(),
            created_at: at(i as i64),
        };
        log!(s.create_org(&org, ev("", i as i64)));
    }
    log!(s.get_org(&oid("acme")));
    log!(s.get_org(&oid("nope")));
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
    log!(s.delete_section(&oid("acme"), "brute_force", ev("acme", 16)));
    log!(s.delete_section(&oid("acme"), "brute_force", ev("acme", 17)));
    log!(s.delete_section(&oid("acme"), "lockout", ev("acme", 18)));
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
    log!(s.get_user(&oid("acme"), "u1"));
    log!(s.get_user(&oid("globex"), "u1"));
    log!(s.find_user_by_login(&oid("acme"), "alice"));
    log!(s.find_user_by_login(&oid("initech"), "alice"));
    log!(s.list_users(&oid("acme"), &page(Some("u1"), 1)));
    log!(s.list_users(&oid("acme"), &page(None, 100)));
    let profile = UserProfile {
        email: None,
        display_name: Some("Alice A.".to_owned()),
        source: None,
        roles: vec![Role::OrgAdmin],
        disabled: true,
    };
    log!(s.update_user_profile(&oid("acme"), "u1", &profile, at(30), ev("acme", 30)));
    log!(s.update_user_profile(&oid("globex"), "u1", &profile, at(31), ev("globex", 31)));

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
    log!(s.list_user_sessions(&oid("acme"), "u1", &page(None, 500)));
    log!(s.list_user_sessions(&oid("globex"), "u1", &page(None, 500)));
    log!(s.delete_session("s3", ev("acme", 51)));
    log!(s.delete_session("s3", ev("acme", 52)));

    // passwords and logins
    let mut update = PasswordUpdate {
        hash: "hash-u1-1".to_owned(),
        keep_history: 2,
        changed_at: at(60),
        set_by_admin: false,
        expected_hash: None,
    };
    log!(s.set_password(
        &oid("acme"),
        "u1",
        &update,
        true,
        Some("s1"),
        vec![ev("acme", 60), ev("", 60)]
    ));
    log!(s.set_password(
        &oid("globex"),
        "u9",
        &update,
        true,
        None,
        vec![ev("globex", 60)]
    ));
    log!(s.get_user(&oid("acme"), "u1"));
    log!(s.list_user_sessions(&oid("acme"), "u1", &page(None, 500)));
    (update.hash, update.keep_history, update.set_by_admin) = ("hash-u1-2".to_owned(), 0, true);
    log!(s.set_password(&oid("acme"), "u1", &update, false, None, vec![]));
    let login = |verified: &str, rehash: Option<&str>| LoginRecord {
        verified_hash: verified.to_owned(),
        ip: "192.0.2.1".to_owned(),
        rehash: rehash.map(str::to_owned),
    };
    log!(s.open_login_session(
        &session("s70", "u1", 70),
        &login("hash-u1-2", None),
        vec![ev("acme", 70)]
    ));
    log!(s.open_login_session(
        &session("s71", "u2", 71),
        &login("hash-u2-0", Some("rehashed")),
        vec![ev("acme", 71)]
    ));
    log!(s.open_login_session(
        &session("s72", "u2", 72),
        &login("stale", None),
        vec![ev("acme", 72)]
    ));
    log!(s.get_user(&oid("acme"), "u1"));
    log!(s.get_user(&oid("acme"), "u2"));

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
    log!(s.list_api_keys(Some(&oid("acme")), &page(None, 10)));
    log!(s.list_api_keys(None, &page(None, 10)));
    log!(s.list_api_keys(Some(&oid("acme")), &page(Some("k1"), 10)));
    log!(s.delete_api_key(&oid("globex"), "k1", ev("globex", 82)));
    log!(s.delete_api_key(&oid("acme"), "k0", ev("acme", 82)));
    log!(s.delete_api_key(&oid("acme"), "k1", ev("acme", 83)));

    // deleting a user takes its sessions and keys along
    log!(s.delete_user(&oid("globex"), "u2", ev("globex", 90)));
    log!(s.delete_user(&oid("acme"), "u2", ev("acme", 90)));
    log!(s.delete_user(&oid("acme"), "u2", ev("acme", 91)));
    log!(s.find_session("session-hash-s4"));
    log!(s.find_api_key("key-hash-k2"));
    log!(s.get_user(&oid("acme"), "u2"));

    // counters
    log!(s.get_counter(&oid("acme"), "alice"));
    log!(s.update_counter(&oid("acme"), "alice", &mut failure(100, true)));
    log!(s.due_counters(&oid("acme"), at(3700), None));
    log!(s.update_counter(&oid("acme"), "alice", &mut failure(101, false)));
    log!(s.due_counters(&oid("acme"), at(3700), None));
    log!(s.due_counters(&oid("acme"), at(3701), None));
    log!(s.due_counters(&oid("globex"), at(3701), None));
    log!(
        s.update_counter(&oid("acme"), "alice", &mut |_: &mut CounterState| {
            CounterChange::default()
        })
    );
    log!(s.due_counters(&oid("acme"), at(1_000_000), None));
    log!(s.get_counter(&oid("acme"), "alice"));
    log!(s.get_counter(&oid("globex"), "alice"));
    let mut unlock = |state: &mut CounterState| {
        let _ = state.unlock(&limits(), at(102));
        vec![ev("acme", 102)].into()
    };
    log!(s.update_counter(&oid("acme"), "alice", &mut unlock));
    log!(s.get_counter(&oid("acme"), "alice"));

    // events
    log!(s.append_events(vec![ev("", 110), ev("initech", 111)]));
    log!(s.append_events(vec![]));
    log!(s.list_events(None, 0, 100));
    log!(s.list_events(Some(&oid("acme")), 0, 3));
    log!(s.list_events(Some(&oid("acme")), 20, 1000));
    log!(s.list_events(Some(&oid("initech")), 0, 10));
    log!(s.list_events(Some(&oid("nobody")), 0, 10));
    out
}

/// The recorded answers, one line per call.
const EXPECTED: &str = include_str!("scenario.expected");

/// The conformance case: `store` answers the scenario exactly as recorded.
pub async fn answers_like_the_recorded_log(store: Arc<dyn Store>) {
    // One line per call (a call written over several lines keeps its line breaks as `\n`).
    let actual: Vec<String> = replay(&*store)
        .await
        .iter()
        .map(|line| line.replace('\n', "\\n"))
        .collect();
    if std::env::var_os("PORTCULLIS_BLESS_SCENARIO").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/scenario.expected");
        std::fs::write(path, actual.join("\n") + "\n").expect("write the scenario record");
        return;
    }
    let expected: Vec<&str> = EXPECTED.lines().collect();
    for (call, (want, got)) in expected.iter().zip(&actual).enumerate() {
        assert_eq!(want, got, "call {call} of the scenario");
    }
    assert_eq!(
        expected.len(),
        actual.len(),
        "number of calls in the scenario"
    );
}
