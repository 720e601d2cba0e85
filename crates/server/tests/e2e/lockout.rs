//! Account lockout through the real server: exactness under a concurrent burst, no user
//! enumeration, hidden locks, windows and durations on the test clock.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;

use portcullis_service::Clock as _;

use crate::support::{App, GOOD, spawn_app};

/// Fires `n` concurrent logins; answers the count of each problem code (or "ok").
async fn burst(
    app: &App,
    org: &str,
    login: &str,
    password: &str,
    n: usize,
) -> BTreeMap<String, usize> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let http = app.http.clone();
        let url = format!("{}/v1/orgs/{org}/login", app.base);
        let body = json!({"login": login, "password": password});
        tasks.push(tokio::spawn(async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            let status = r.status();
            let v: serde_json::Value = r.json().await.unwrap();
            (status, v["code"].as_str().unwrap_or("ok").to_owned())
        }));
    }
    let mut counts = BTreeMap::new();
    for t in tasks {
        let (_, code) = t.await.unwrap();
        *counts.entry(code).or_insert(0) += 1;
    }
    counts
}

async fn setup(app: &App, org: &str, lockout: serde_json::Value) -> String {
    let admin = app.org_with_admin(org).await;
    // The burst comes from one address: keep IP blocking out of this story.
    app.set_section(org, &admin, "brute_force", json!({"enabled": false}))
        .await;
    app.set_section(org, &admin, "lockout", lockout).await;
    admin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_wrong_passwords_admit_exactly_five() {
    let app = spawn_app().await;
    let admin = setup(
        &app,
        "acme",
        json!({"max_password_attempts": 5, "lock_duration": null}),
    )
    .await;
    let id = app.user("acme", &admin, "alice", GOOD).await;

    let hashes_before = app.hashes();
    let counts = burst(&app, "acme", "alice", "wrong password", 64).await;
    assert_eq!(counts.get("invalid_credentials"), Some(&5), "{counts:?}");
    assert_eq!(counts.get("account_locked"), Some(&59), "{counts:?}");
    assert_eq!(
        app.hashes() - hashes_before,
        5,
        "exactly five password checks ran"
    );

    // The right password is refused while locked, without a hash.
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "account_locked");
    assert!(
        a.body.get("locked_until").is_none(),
        "a permanent lock has no end"
    );
    let lock = app
        .get(&format!("/v1/orgs/acme/users/{id}/lock"), &admin)
        .await;
    assert_eq!(lock.body["locked"], true);
    assert_eq!(lock.body["failures"], 5);

    // Unlock, then it works.
    let a = app
        .post(
            &format!("/v1/orgs/acme/users/{id}/unlock"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(a.body["unlocked"], true);
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);

    let events = app.event_types("acme", &admin).await;
    let count = |t: &str| events.iter().filter(|e| *e == t).count();
    assert_eq!(count("login.failed"), 5);
    assert_eq!(count("account.locked"), 1);
    assert_eq!(count("account.unlocked"), 1);
    assert_eq!(count("login.succeeded"), 1);
    let locked_at = events.iter().position(|e| e == "account.locked").unwrap();
    let unlocked_at = events.iter().position(|e| e == "account.unlocked").unwrap();
    let succeeded_at = events.iter().position(|e| e == "login.succeeded").unwrap();
    assert!(
        locked_at < unlocked_at && unlocked_at < succeeded_at,
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_login_gets_identical_answers_and_counts() {
    let app = spawn_app().await;
    let admin = setup(
        &app,
        "acme",
        json!({"max_password_attempts": 5, "lock_duration": null}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;

    let known = burst(&app, "acme", "alice", "wrong password", 64).await;
    let unknown = burst(&app, "acme", "nobody", "wrong password", 64).await;
    assert_eq!(known, unknown);

    // Bodies and statuses are identical for a known and an unknown name.
    let a = app.login("acme", "alice", "x").await;
    let b = app.login("acme", "nobody", "x").await;
    assert_eq!((a.status, a.bytes), (b.status, b.bytes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hidden_lock_answers_exactly_like_a_wrong_password() {
    let app = spawn_app().await;
    let admin = setup(
        &app,
        "acme",
        json!({"max_password_attempts": 3, "lock_duration": null, "reveal_lock": false}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;
    let wrong = app.login("acme", "alice", "wrong").await;
    for _ in 0..3 {
        app.login("acme", "alice", "wrong").await;
    }
    let hashes = app.hashes();
    let locked = app.login("acme", "alice", GOOD).await;
    assert_eq!(locked.status, wrong.status);
    assert_eq!(locked.bytes, wrong.bytes, "byte-identical bodies");
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.hashes() - hashes,
        1,
        "a hidden lock still costs one (dummy) hash"
    );
    let unknown = app.login("acme", "nobody", "wrong").await;
    assert_eq!(unknown.bytes, wrong.bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_and_lock_duration_follow_the_clock() {
    let app = spawn_app().await;
    let admin = setup(
        &app,
        "acme",
        json!({"max_password_attempts": 3, "window": 60, "lock_duration": 300}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;

    // Two failures, then the window passes: they no longer count.
    app.login("acme", "alice", "wrong").await;
    app.login("acme", "alice", "wrong").await;
    app.clock.advance(61);
    app.login("acme", "alice", "wrong").await;
    app.login("acme", "alice", "wrong").await;
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "old failures expired: {:?}",
        a.body
    );

    // Three quick failures lock for 300 s.
    for _ in 0..3 {
        app.login("acme", "alice", "wrong").await;
    }
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(a.code(), "account_locked");
    assert!(a.body["locked_until"].is_string());
    app.clock.advance(299);
    assert_eq!(
        app.login("acme", "alice", GOOD).await.code(),
        "account_locked"
    );
    app.clock.advance(1);
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "the temporary lock ended at its time"
    );

    // A permanent lock does not end with time.
    app.set_section("acme", &admin, "lockout", json!({"lock_duration": null}))
        .await;
    for _ in 0..3 {
        app.login("acme", "alice", "wrong").await;
    }
    app.clock.advance(10 * 365 * 86_400);
    assert_eq!(
        app.login("acme", "alice", GOOD).await.code(),
        "account_locked"
    );
    let events = app.event_types("acme", &admin).await;
    assert!(
        events.iter().any(|e| e == "account.lock_expired"),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_ip_scope_locks_per_address_and_unlocks_them_all() {
    let app = spawn_app().await;
    let admin = setup(
        &app,
        "acme",
        json!({"max_password_attempts": 2, "lock_duration": null, "scope": "login_and_ip"}),
    )
    .await;
    let id = app.user("acme", &admin, "alice", GOOD).await;
    for _ in 0..2 {
        app.login_from("acme", "alice", "wrong", "203.0.113.1")
            .await;
    }
    // Locked from that address only.
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "203.0.113.1")
            .await
            .code(),
        "account_locked"
    );
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "203.0.113.2")
            .await
            .status,
        StatusCode::OK
    );
    let lock = app
        .get(&format!("/v1/orgs/acme/users/{id}/lock"), &admin)
        .await;
    assert_eq!(lock.body["locked"], true, "{:?}", lock.body);
    let a = app
        .post(
            &format!("/v1/orgs/acme/users/{id}/unlock"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(a.body["unlocked"], true);
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "203.0.113.1")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/v1/orgs/acme/users/{id}/lock"), &admin)
            .await
            .body["locked"],
        false
    );

    // An administrator's password set lifts every per-address lock too.
    for _ in 0..2 {
        app.login_from("acme", "alice", "wrong", "203.0.113.3")
            .await;
    }
    let a = app
        .put(
            &format!("/v1/orgs/acme/users/{id}/password"),
            &admin,
            json!({"password": "a new passphrase for her 4", "change_required": false}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.login_from("acme", "alice", "a new passphrase for her 4", "203.0.113.3")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_login_name_is_refused_without_a_counter() {
    let app = spawn_app().await;
    let admin = setup(&app, "acme", json!({"max_password_attempts": 5})).await;
    let events = app.event_types("acme", &admin).await.len();
    let long = "x".repeat(257);
    let a = app.login("acme", &long, "whatever").await;
    assert_eq!(a.code(), "invalid_credentials");
    let b = app.login("acme", "nobody", "whatever").await;
    assert_eq!(a.bytes, b.bytes);
    let c = app.login("acme", "nul\u{0}name", "whatever").await;
    assert_eq!(
        c.bytes, b.bytes,
        "a control character in a login name: same answer, no 500"
    );
    let after = app.event_types("acme", &admin).await;
    assert_eq!(
        after.len(),
        events + 1,
        "only the short name's failure is recorded: {after:?}"
    );
}

/// Seconds from now until the answer's `locked_until`.
fn locked_for(app: &App, answer: &crate::support::Answer) -> i64 {
    let until = answer.body["locked_until"].as_str().unwrap();
    let until =
        time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).unwrap();
    (until - app.clock.now()).whole_seconds()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_escalate_within_a_series_and_start_over() {
    let app = spawn_app().await;
    let admin = setup(
        &app,
        "acme",
        json!({
            "max_password_attempts": 2,
            "lock_duration": 60,
            "escalation": {"strategy": "multiply", "factor": 3, "permanent_after": 3, "reset_after": 600}
        }),
    )
    .await;
    let alice = app.user("acme", &admin, "alice", GOOD).await;
    let lock = async || {
        for _ in 0..2 {
            app.login("acme", "alice", "wrong").await;
        }
        let a = app.login("acme", "alice", GOOD).await;
        assert_eq!(a.code(), "account_locked", "{:?}", a.body);
        a
    };
    // 60 s, 180 s, 540 s: each lock of the series lasts three times the one before.
    let mut lasted = Vec::new();
    for _ in 0..3 {
        let a = lock().await;
        let seconds = locked_for(&app, &a);
        lasted.push(seconds);
        app.clock.advance(seconds + 10);
    }
    assert_eq!(lasted, [60, 180, 540]);
    // After 3 temporary locks, the fourth lasts until unlocked.
    let a = lock().await;
    assert_eq!(
        a.body["locked_until"],
        serde_json::Value::Null,
        "{:?}",
        a.body
    );
    app.clock.advance(10 * 365 * 86_400);
    assert_eq!(
        app.login("acme", "alice", GOOD).await.code(),
        "account_locked"
    );
    // An unlock starts the series over.
    let unlocked = app
        .post(
            &format!("/v1/orgs/acme/users/{alice}/unlock"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(unlocked.status, StatusCode::OK, "{:?}", unlocked.body);
    assert_eq!(locked_for(&app, &lock().await), 60);
    // 600 s of quiet after a lock's end start it over too; less does not.
    app.clock.advance(60 + 599);
    assert_eq!(locked_for(&app, &lock().await), 180, "599 s are not enough");
    app.clock.advance(180 + 600);
    assert_eq!(locked_for(&app, &lock().await), 60, "a new series");
    // A success (reset_after_success) starts it over as well.
    app.clock.advance(60);
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK
    );
    assert_eq!(locked_for(&app, &lock().await), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_blocks_escalate_linearly() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 2, "block_duration": 100, "escalation": {"strategy": "linear", "permanent_after": 3}}),
    )
    .await;
    let mut lasted = Vec::new();
    for _ in 0..3 {
        for _ in 0..2 {
            app.login_from("acme", "nobody", "wrong", "203.0.113.9")
                .await;
        }
        let refused = app
            .login_from("acme", "nobody", "wrong", "203.0.113.9")
            .await;
        assert_eq!(refused.code(), "ip_blocked", "{:?}", refused.body);
        let blocks = app.get("/v1/orgs/acme/ip-blocks", &admin).await.body;
        let until = blocks["items"][0]["until"].as_str().unwrap().to_owned();
        let until =
            time::OffsetDateTime::parse(&until, &time::format_description::well_known::Rfc3339)
                .unwrap();
        let seconds = (until - app.clock.now()).whole_seconds();
        lasted.push(seconds);
        app.clock.advance(seconds);
    }
    assert_eq!(lasted, [100, 200, 300]);
    // The fourth block lasts until lifted, and says so: a day's Retry-After, not a second.
    for _ in 0..2 {
        app.login_from("acme", "nobody", "wrong", "203.0.113.9")
            .await;
    }
    let refused = app
        .login_from("acme", "nobody", "wrong", "203.0.113.9")
        .await;
    assert_eq!(refused.code(), "ip_blocked");
    assert_eq!(refused.headers["retry-after"], "86400");
}
