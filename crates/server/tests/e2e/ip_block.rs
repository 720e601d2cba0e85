//! IP brute-force blocking through the real server.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{GOOD, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_ip_costs_no_hash_and_an_allowlisted_one_is_never_blocked() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section("acme", &admin, "lockout", json!({"enabled": false}))
        .await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 4, "window": 600, "block_duration": 900}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;

    const ATTACKER: &str = "203.0.113.5";
    for i in 0..4 {
        let a = app
            .login_from("acme", &format!("user{i}"), "wrong", ATTACKER)
            .await;
        assert_eq!(a.code(), "invalid_credentials");
    }
    let hashes = app.hashes();
    for _ in 0..5 {
        let a = app.login_from("acme", "alice", GOOD, ATTACKER).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(a.code(), "ip_blocked");
        let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
    }
    assert_eq!(app.hashes(), hashes, "no password hash for a blocked IP");
    // Another address is unaffected.
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "198.51.100.7")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK
    );

    // Another organization (same IP) is unaffected: counted per organization and IP.
    let other = app.org_with_admin("other").await;
    app.user("other", &other, "bob", GOOD).await;
    assert_eq!(app.login("other", "bob", GOOD).await.status, StatusCode::OK);

    // The block ends at its time.
    app.clock.advance(899);
    assert_eq!(
        app.login_from("acme", "alice", GOOD, ATTACKER).await.code(),
        "ip_blocked"
    );
    app.clock.advance(1);
    assert_eq!(
        app.login_from("acme", "alice", GOOD, ATTACKER).await.status,
        StatusCode::OK
    );

    // Allow-listed: never blocked.
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"allowlist": ["203.0.113.0/24"]}),
    )
    .await;
    for _ in 0..10 {
        assert_eq!(
            app.login_from("acme", "alice", "wrong", ATTACKER)
                .await
                .code(),
            "invalid_credentials"
        );
    }
    assert_eq!(
        app.login_from("acme", "alice", GOOD, ATTACKER).await.status,
        StatusCode::OK
    );
    let events = app.event_types("acme", &admin).await;
    assert_eq!(
        events.iter().filter(|e| *e == "ip.blocked").count(),
        1,
        "{events:?}"
    );
}
