//! Crash safety: the real binary is killed with SIGKILL right after acknowledged writes; after a
//! restart on the same file, every acknowledged write is there.

use std::process::Child;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{App, GOOD, TempDir};

fn start_binary(dir: &TempDir) -> (Child, String) {
    let url = format!("sqlite://{}", dir.0.join("crash.db").display());
    crate::support::spawn_binary(&url, dir, &[])
}

fn app_at(base: String, dir: &TempDir) -> App {
    App {
        base,
        http: reqwest::Client::new(),
        clock: portcullis_service::ManualClock::new(crate::support::T0),
        running: None,
        _dir: TempDir::new(&format!("unused-{}", dir.0.display().to_string().len())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_on_sigkill() {
    let dir = TempDir::new("crash");
    let (mut child, base) = start_binary(&dir);
    let app = app_at(base, &dir);
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
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(app.user("acme", &admin, &format!("user{i}"), GOOD).await);
    }
    for _ in 0..3 {
        assert_eq!(
            app.login("acme", "user0", "wrong").await.code(),
            "invalid_credentials"
        );
    }
    let events = app.event_types("acme", &admin).await.len();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, base) = start_binary(&dir);
    let app = app_at(base, &dir);
    let users = app.get("/v1/orgs/acme/users?limit=500", &admin).await;
    assert_eq!(users.status, StatusCode::OK, "the admin key survived");
    let listed: Vec<&str> = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    for id in &ids {
        assert!(listed.contains(&id.as_str()), "user {id} survived");
    }
    let policy = app.get("/v1/orgs/acme/policy", &admin).await;
    assert_eq!(policy.body["lockout"]["value"]["max_password_attempts"], 3);
    assert_eq!(
        app.login("acme", "user0", GOOD).await.code(),
        "account_locked",
        "the lock survived"
    );
    assert!(app.event_types("acme", &admin).await.len() >= events);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_file_refuses_to_start() {
    let dir = TempDir::new("second");
    let config = crate::support::test_config(&dir);
    let clock = std::sync::Arc::new(portcullis_service::ManualClock::new(crate::support::T0));
    let first = portcullis_server::start(&config, clock.clone(), std::future::pending())
        .await
        .unwrap();
    let second = portcullis_server::start(&config, clock.clone(), std::future::pending()).await;
    let err = second
        .err()
        .expect("the second server must not start")
        .to_string();
    assert!(err.contains("in use"), "{err}");
    first.stop().await.unwrap();
    // Once the first has stopped, the file is free again. A child process that another test of
    // this binary is starting shares every open file description between its fork and its exec,
    // this lock's too, for that instant: retry (without sleeping) while that is what holds it.
    let mut third = None;
    for _ in 0..100_000 {
        match portcullis_server::start(&config, clock.clone(), std::future::pending()).await {
            Ok(running) => {
                third = Some(running);
                break;
            }
            Err(portcullis_server::StartError::InUse(_)) => tokio::task::yield_now().await,
            Err(e) => panic!("{e}"),
        }
    }
    third
        .expect("the file stays locked after the first server stopped")
        .stop()
        .await
        .unwrap();
}
