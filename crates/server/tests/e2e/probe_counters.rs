//! Lockout and blocking that an attacker tries to defeat: forged counter keys, address rotation
//! inside one IPv6 prefix, names that skip the address check, look-alike names.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{GOOD, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_the_key_separator_cannot_hide_another_logins_lock() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"scope": "login_and_ip", "max_password_attempts": 2, "lock_duration": null}),
    )
    .await;
    let alice = app.user("acme", &admin, "alice", GOOD).await;
    const FROM: &str = "198.51.100.4";
    for _ in 0..2 {
        app.login_from("acme", "alice", "wrong", FROM).await;
    }
    assert_eq!(
        app.login_from("acme", "alice", GOOD, FROM).await.code(),
        "account_locked"
    );
    // More than a page of names that once sorted among alice's keys.
    for i in 0..520 {
        let a = app
            .login_from("acme", &format!("alice|!{i:04}"), "wrong", "198.51.100.5")
            .await;
        assert_eq!(a.code(), "invalid_credentials");
    }
    let lock = app
        .get(&format!("/v1/orgs/acme/users/{alice}/lock"), &admin)
        .await;
    assert_eq!(lock.body["locked"], json!(true), "{}", lock.body);
    let unlocked = app
        .post(
            &format!("/v1/orgs/acme/users/{alice}/unlock"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(unlocked.body["unlocked"], json!(true), "{}", unlocked.body);
    assert_eq!(
        app.login_from("acme", "alice", GOOD, FROM).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_prefix_is_counted_and_blocked_as_one_source() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 3, "window": 600, "block_duration": 900,
               "allowlist": ["2001:db8:1:2::77"]}),
    )
    .await;
    app.set_section("acme", &admin, "lockout", json!({"enabled": false}))
        .await;
    app.user("acme", &admin, "alice", GOOD).await;
    let mut codes = Vec::new();
    for i in 1..=12 {
        let a = app
            .login_from("acme", "alice", "wrong", &format!("2001:db8:1:2::{i:x}"))
            .await;
        codes.push(a.code().to_owned());
    }
    assert_eq!(codes[..3], ["invalid_credentials"; 3]);
    assert!(codes[3..].iter().all(|c| c == "ip_blocked"), "{codes:?}");
    // The whole /64 is blocked, an allow-listed address inside it is not, another /64 is not.
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "2001:db8:1:2:ffff::9")
            .await
            .code(),
        "ip_blocked"
    );
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "2001:db8:1:2::77")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "2001:db8:1:3::1")
            .await
            .status,
        StatusCode::OK
    );
    // The event names the network.
    let events = app.get("/v1/orgs/acme/events?limit=500", &admin).await;
    let blocked = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "ip.blocked")
        .cloned()
        .unwrap();
    assert_eq!(
        blocked["payload"]["network"], "2001:db8:1:2::/64",
        "{blocked}"
    );

    // A prefix of 128 counts each address alone again.
    app.set_section("acme", &admin, "brute_force", json!({"ipv6_prefix": 128}))
        .await;
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "2001:db8:1:2::abc")
            .await
            .status,
        StatusCode::OK
    );
    // Out of range.
    let bad = app
        .patch(
            "/v1/orgs/acme/policy/brute_force",
            &admin,
            json!({"ipv6_prefix": 16, "ipv4_prefix": 40}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.violation_codes().len(), 2, "{}", bad.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_ip_lockout_counts_the_prefix_not_the_address() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"scope": "login_and_ip", "max_password_attempts": 5}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;
    let hashes = app.hashes();
    for i in 1..=60 {
        app.login_from("acme", "alice", "wrong", &format!("2001:db8:9:9::{i:x}"))
            .await;
    }
    assert_eq!(
        app.hashes() - hashes,
        5,
        "only 5 guesses from one /64 are checked"
    );
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "2001:db8:9:9::1")
            .await
            .code(),
        "account_locked"
    );
    // Another /64 is another key.
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "2001:db8:9:a::1")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_address_is_refused_whatever_the_name() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 3, "window": 600, "block_duration": 900}),
    )
    .await;
    const ATTACKER: &str = "203.0.113.50";
    let long = "x".repeat(300);
    let control = "ali\u{7}ce";
    // Impossible names count on the address like any failure...
    for name in [long.as_str(), control, "\u{200b}"] {
        let a = app.login_from("acme", name, "wrong", ATTACKER).await;
        assert_eq!(a.code(), "invalid_credentials");
    }
    // ...and are then refused before any hash.
    let hashes = app.hashes();
    for name in [long.as_str(), control, "bob"] {
        let a = app.login_from("acme", name, "wrong", ATTACKER).await;
        assert_eq!(a.code(), "ip_blocked", "{name:?}");
    }
    assert_eq!(app.hashes(), hashes, "no hash for a blocked address");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_alike_and_invisible_names_are_one_user_or_refused() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let nfc = "jos\u{e9}";
    let nfd = "jose\u{301}";
    app.user("acme", &admin, nfc, GOOD).await;
    let again = app
        .post(
            "/v1/orgs/acme/users",
            &admin,
            json!({"login": nfd, "password": GOOD}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    for name in [nfd, "JOS\u{c9}", "\u{ff2a}\u{ff2f}\u{ff33}\u{e9}"] {
        assert_eq!(
            app.login("acme", name, GOOD).await.status,
            StatusCode::OK,
            "{name:?}"
        );
    }
    for name in ["\u{200b}\u{200b}", "ev\u{200d}e", "mal\u{ad}lory"] {
        let a = app
            .post(
                "/v1/orgs/acme/users",
                &admin,
                json!({"login": name, "password": GOOD}),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name:?}: {}", a.body);
    }
    let org = app
        .post(
            "/v1/orgs",
            crate::support::ROOT,
            json!({"id": "evil", "name": "Acme\u{202e}gnp.exe"}),
        )
        .await;
    assert_eq!(org.status, StatusCode::BAD_REQUEST, "{}", org.body);
}

/// A JSON object nesting `levels` objects deep.
fn nested(levels: usize) -> serde_json::Value {
    let mut v = json!({});
    for _ in 1..levels {
        v = json!({ "a": v });
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_nested_too_deep_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.user("acme", &admin, "alice", GOOD).await;
    let before = app.get("/v1/orgs/acme/policy", &admin).await;
    for depth in [40, 125, 126] {
        let a = app
            .patch(
                "/api/v1/tenants/acme/settings",
                &admin,
                json!({"branding": nested(depth)}),
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{depth}: {}", a.body);
        let v1 = app
            .patch(
                "/v1/orgs/acme/policy/features",
                &admin,
                json!({"tenant_settings": {"branding": nested(depth)}}),
            )
            .await;
        assert_eq!(v1.status, StatusCode::BAD_REQUEST, "{depth}: {}", v1.body);
        let instance = app
            .patch(
                "/v1/instance/policy/features",
                crate::support::ROOT,
                json!({"tenant_settings": {"branding": nested(depth)}}),
            )
            .await;
        assert_eq!(instance.status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        app.get("/v1/orgs/acme/policy", &admin).await.body,
        before.body
    );
    // A deep but allowed value is stored, and everything keeps working.
    let ok = app
        .patch(
            "/api/v1/tenants/acme/settings",
            &admin,
            json!({"branding": nested(20)}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/orgs/acme/events?limit=500", &admin)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/orgs/acme/policy", &admin).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_ends_sessions_and_a_lock_ends_them_when_the_policy_says() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 2}),
    )
    .await;
    let alice = app.user("acme", &admin, "alice", GOOD).await;
    let session =
        |a: &crate::support::Answer| a.body["session"]["token"].as_str().unwrap().to_owned();

    // Disable ends the session; enabling again does not bring it back.
    let token = session(&app.login("acme", "alice", GOOD).await);
    assert_eq!(app.get("/v1/self", &token).await.status, StatusCode::OK);
    let path = format!("/v1/orgs/acme/users/{alice}");
    app.patch(&path, &admin, json!({"disabled": true})).await;
    app.patch(&path, &admin, json!({"disabled": false})).await;
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A lock of the login ends its sessions (end_sessions_on_lock defaults to true).
    let token = session(&app.login("acme", "alice", GOOD).await);
    for _ in 0..2 {
        app.login("acme", "alice", "wrong").await;
    }
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        app.event_types("acme", &admin)
            .await
            .contains(&"user.sessions_ended".to_owned())
    );
    app.post(&format!("{path}/unlock"), &admin, json!({})).await;

    // Off: the lock leaves open sessions working.
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"end_sessions_on_lock": false}),
    )
    .await;
    let token = session(&app.login("acme", "alice", GOOD).await);
    for _ in 0..2 {
        app.login("acme", "alice", "wrong").await;
    }
    assert_eq!(
        app.login("acme", "alice", GOOD).await.code(),
        "account_locked"
    );
    assert_eq!(app.get("/v1/self", &token).await.status, StatusCode::OK);
    app.post(&format!("{path}/unlock"), &admin, json!({})).await;

    // Under login_and_ip a lock of one source signs nobody out.
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"end_sessions_on_lock": true, "scope": "login_and_ip"}),
    )
    .await;
    let token = session(&app.login("acme", "alice", GOOD).await);
    for _ in 0..2 {
        app.login_from("acme", "alice", "wrong", "203.0.113.77")
            .await;
    }
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "203.0.113.77")
            .await
            .code(),
        "account_locked"
    );
    assert_eq!(app.get("/v1/self", &token).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_counters_and_old_events_are_swept_away() {
    let app = crate::support::spawn_app_with(|c| {
        c.counter_retention_days = 30;
        c.events.retention_days = 365;
    })
    .await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 3, "lock_duration": null}),
    )
    .await;
    app.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    app.user("acme", &admin, "alice", GOOD).await;
    for i in 0..50 {
        app.login("acme", &format!("nobody{i}"), "wrong").await;
    }
    for _ in 0..3 {
        app.login("acme", "alice", "wrong").await; // locked until unlocked
    }
    let service = app.running.as_ref().unwrap().service.clone();
    let report = service.sweep("test", 180).await.unwrap().unwrap();
    assert_eq!(report.counters_forgotten, 0, "{report:?}");
    assert_eq!(report.counters_settled, 0, "nothing is due yet: {report:?}");

    app.clock.advance(30 * 86_400 - 1);
    let report = service.sweep("test", 180).await.unwrap().unwrap();
    assert_eq!(report.counters_settled, 0, "a second early: {report:?}");
    app.clock.advance(1);
    let report = service.sweep("test", 180).await.unwrap().unwrap();
    assert_eq!(report.counters_forgotten, 50, "{report:?}");
    assert_eq!(
        report.counters_settled, 50,
        "alice's lock is never due: {report:?}"
    );
    assert_eq!(
        app.login("acme", "alice", GOOD).await.code(),
        "account_locked",
        "a lock is never forgotten"
    );
    let before = app.event_types("acme", &admin).await.len();
    assert!(before > 50);

    app.clock.advance(336 * 86_400);
    app.login("acme", "nobody-new", "wrong").await;
    let report = service.sweep("test", 180).await.unwrap().unwrap();
    assert!(report.events_deleted >= 50, "{report:?}");
    let after = app.event_types("acme", &admin).await;
    assert!(after.len() < 10, "only recent events stay: {after:?}");
    assert!(after.contains(&"login.failed".to_owned()));
}
