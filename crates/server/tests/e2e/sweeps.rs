//! Background sweeps on the test clock: expired sessions go, ended locks open (with their event)
//! and their counters disappear; counted failures and locks in force stay.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{GOOD, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_removes_what_time_has_ended_and_nothing_else() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "session",
        json!({"max_session_duration": 3600, "idle_timeout": null}),
    )
    .await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 2, "lock_duration": 600}),
    )
    .await;
    app.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    app.user("acme", &admin, "alice", GOOD).await;
    app.user("acme", &admin, "bob", GOOD).await;
    let token = app.login("acme", "alice", GOOD).await.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        app.login("acme", "bob", "wrong").await; // bob: locked for 600 s
    }
    app.login("acme", "carol", "wrong").await; // one failure, no window: stays counted
    let service = app.running.as_ref().unwrap().service.clone();

    let report = service.sweep("test", 180).await.unwrap().unwrap();
    assert_eq!(report.sessions_deleted, 0, "{report:?}");
    assert_eq!(report.counters_deleted, 0, "nothing ended yet: {report:?}");

    app.clock.advance(3600);
    let report = service.sweep("test", 180).await.unwrap().unwrap();
    assert_eq!(report.sessions_deleted, 1, "{report:?}");
    assert_eq!(report.counters_deleted, 1, "bob's ended lock: {report:?}");
    assert_eq!(
        report.counters_settled, 1,
        "only bob's counter was due (carol's is due when the retention ends): {report:?}"
    );
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let events = app.event_types("acme", &admin).await;
    assert!(
        events.iter().any(|e| e == "account.lock_expired"),
        "{events:?}"
    );
    // carol's failure is still counted: one more locks her.
    assert_eq!(
        app.login("acme", "carol", "wrong").await.code(),
        "invalid_credentials"
    );
    assert_eq!(
        app.login("acme", "carol", "x").await.code(),
        "account_locked"
    );
    // Another replica does not sweep while the lease is held.
    assert_eq!(service.sweep("other", 180).await.unwrap(), None);
}
