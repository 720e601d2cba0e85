//! Several replicas on one PostgreSQL database (docs/design.md §3.2): exactness, IP blocking,
//! unlock and policy propagation across processes, and a replica killed in the middle of a burst.
//! Each test makes its own database and drops it.

use std::collections::BTreeMap;
use std::process::Child;

use portcullis_store_postgres::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{App, GOOD, T0, TempDir, spawn_binary};

struct Replicas {
    children: Vec<Child>,
    apps: Vec<App>,
    _db: TestDatabase,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn replicas(n: usize) -> Replicas {
    let db = TestDatabase::create().await;
    let mut children = Vec::new();
    let mut apps = Vec::new();
    for _ in 0..n {
        let dir = TempDir::new("replica");
        let (child, base) = spawn_binary(
            db.url(),
            &dir,
            &[("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1")],
        );
        children.push(child);
        apps.push(App {
            base,
            http: reqwest::Client::new(),
            clock: portcullis_service::ManualClock::new(T0),
            running: None,
            _dir: dir,
        });
    }
    Replicas {
        children,
        apps,
        _db: db,
    }
}

/// 64 concurrent logins spread over the replicas; answers the count of each problem code.
async fn burst(
    apps: &[App],
    org: &str,
    login: &str,
    password: &str,
    ip: &str,
) -> BTreeMap<String, usize> {
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = &apps[i % apps.len()];
        let (http, url) = (
            app.http.clone(),
            format!("{}/v1/orgs/{org}/login", app.base),
        );
        let body = json!({"login": login, "password": password});
        let ip = ip.to_owned();
        tasks.push(tokio::spawn(async move {
            match http
                .post(url)
                .header("x-forwarded-for", ip)
                .json(&body)
                .send()
                .await
            {
                Ok(r) => {
                    let v: serde_json::Value = r.json().await.unwrap_or_default();
                    v["code"].as_str().unwrap_or("ok").to_owned()
                }
                Err(_) => "connection_failed".to_owned(),
            }
        }));
    }
    let mut counts = BTreeMap::new();
    for t in tasks {
        *counts.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lockout_is_exact_across_replicas_and_unlock_frees_everywhere() {
    let r = replicas(2).await;
    let (a, b) = (&r.apps[0], &r.apps[1]);
    let admin = a.org_with_admin("acme").await;
    a.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    a.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 5, "lock_duration": null}),
    )
    .await;
    let id = a.user("acme", &admin, "alice", GOOD).await;

    let counts = burst(&r.apps, "acme", "alice", "wrong password", "198.51.100.1").await;
    assert_eq!(counts.get("invalid_credentials"), Some(&5), "{counts:?}");
    assert_eq!(counts.get("account_locked"), Some(&59), "{counts:?}");
    assert_eq!(
        b.login("acme", "alice", GOOD).await.code(),
        "account_locked"
    );

    let unlocked = a
        .post(
            &format!("/v1/orgs/acme/users/{id}/unlock"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(unlocked.body["unlocked"], true);
    assert_eq!(
        b.login("acme", "alice", GOOD).await.status,
        StatusCode::OK,
        "free on B at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ip_blocking_is_counted_across_replicas() {
    let r = replicas(2).await;
    let a = &r.apps[0];
    let admin = a.org_with_admin("acme").await;
    a.set_section("acme", &admin, "lockout", json!({"enabled": false}))
        .await;
    a.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 4, "window": 600, "block_duration": 600}),
    )
    .await;
    for (i, app) in r.apps.iter().cycle().take(4).enumerate() {
        let answer = app
            .login_from("acme", &format!("u{i}"), "wrong", "203.0.113.7")
            .await;
        assert_eq!(answer.code(), "invalid_credentials");
    }
    for app in &r.apps {
        assert_eq!(
            app.login_from("acme", "u9", "wrong", "203.0.113.7")
                .await
                .code(),
            "ip_blocked"
        );
        assert_eq!(
            app.login_from("acme", "u9", "wrong", "203.0.113.8")
                .await
                .code(),
            "invalid_credentials"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocks_and_locks_lifted_on_one_replica_are_lifted_for_another_at_once() {
    let r = replicas(2).await;
    let (a, b) = (&r.apps[0], &r.apps[1]);
    let admin = a.org_with_admin("acme").await;
    a.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 2, "window": 600, "block_duration": 600}),
    )
    .await;
    a.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 2, "lock_duration": null}),
    )
    .await;
    a.user("acme", &admin, "alice", GOOD).await;

    // A counted block placed through A, seen and lifted through B, gone for A at once.
    for _ in 0..2 {
        a.login_from("acme", "nobody", "wrong", "203.0.113.7").await;
    }
    assert_eq!(
        b.login_from("acme", "alice", GOOD, "203.0.113.7")
            .await
            .code(),
        "ip_blocked"
    );
    let listed = b.get("/v1/orgs/acme/ip-blocks", &admin).await;
    assert_eq!(listed.body["items"][0]["address"], "203.0.113.7");
    let lifted = b
        .delete("/v1/orgs/acme/ip-blocks/203.0.113.7", &admin)
        .await;
    assert_eq!(lifted.status, StatusCode::NO_CONTENT, "{:?}", lifted.body);
    assert_eq!(
        a.login_from("acme", "alice", GOOD, "203.0.113.7")
            .await
            .status,
        StatusCode::OK,
        "lifted on B, free on A at once"
    );

    // An administrator's block added on A refuses on B; cleared on B, free on A.
    let added = a
        .post(
            "/v1/orgs/acme/ip-blocks",
            &admin,
            json!({"address_or_network": "198.51.100.0/24"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    assert_eq!(
        b.login_from("acme", "alice", GOOD, "198.51.100.9")
            .await
            .code(),
        "ip_blocked"
    );
    let cleared = b.delete("/v1/orgs/acme/ip-blocks", &admin).await;
    assert_eq!(cleared.body["count"], 1, "{:?}", cleared.body);
    assert_eq!(
        a.login_from("acme", "alice", GOOD, "198.51.100.9")
            .await
            .status,
        StatusCode::OK
    );

    // A lock placed through B (two source addresses, so no block), cleared on A, free on B.
    b.login_from("acme", "alice", "wrong", "192.0.2.1").await;
    b.login_from("acme", "alice", "wrong", "192.0.2.2").await;
    assert_eq!(
        a.login_from("acme", "alice", GOOD, "192.0.2.3")
            .await
            .code(),
        "account_locked"
    );
    // Listed on A with the guessed name locked earlier through A.
    let locks = a.get("/v1/orgs/acme/locks", &admin).await;
    let logins: Vec<&str> = locks.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["alice", "nobody"]);
    let cleared = a.delete("/v1/orgs/acme/locks", &admin).await;
    assert_eq!(cleared.body["count"], 2, "{:?}", cleared.body);
    assert_eq!(
        b.login_from("acme", "alice", GOOD, "192.0.2.3")
            .await
            .status,
        StatusCode::OK,
        "cleared on A, free on B at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::disallowed_methods)] // measures the propagation delay between two processes
async fn a_policy_change_on_one_replica_is_enforced_by_another_within_a_second() {
    let r = replicas(2).await;
    let (a, b) = (&r.apps[0], &r.apps[1]);
    let admin = a.org_with_admin("acme").await;
    a.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    // B reads (and caches) the default policy: 10 attempts.
    assert_eq!(
        b.login("acme", "warmup", "x").await.code(),
        "invalid_credentials"
    );

    a.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 1, "lock_duration": null}),
    )
    .await;
    let changed = std::time::Instant::now();
    let mut probe = 0;
    loop {
        probe += 1;
        let name = format!("probe{probe}");
        b.login("acme", &name, "x").await;
        if b.login("acme", &name, "x").await.code() == "account_locked" {
            break;
        }
        assert!(
            changed.elapsed().as_millis() < 1000,
            "B still enforces the old policy after 1 s"
        );
    }
    assert!(changed.elapsed().as_millis() < 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::disallowed_methods)] // measures the propagation delay between two processes
async fn a_key_deleted_on_one_replica_stops_working_on_another_within_a_second() {
    let r = replicas(2).await;
    let (a, b) = (&r.apps[0], &r.apps[1]);
    let admin = a.org_with_admin("acme").await;
    let made = a
        .post(
            "/v1/orgs/acme/api-keys",
            &admin,
            json!({"name": "doomed", "roles": ["org_admin"]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let (doomed, id) = (
        made.body["key"].as_str().unwrap().to_owned(),
        made.body["id"].as_str().unwrap().to_owned(),
    );
    // Both replicas have used (and cached) the key.
    for app in [a, b] {
        assert_eq!(
            app.get("/v1/orgs/acme/policy", &doomed).await.status,
            StatusCode::OK
        );
    }

    let deleted = a
        .delete(&format!("/v1/orgs/acme/api-keys/{id}"), &admin)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let changed = std::time::Instant::now();
    assert_eq!(
        a.get("/v1/orgs/acme/policy", &doomed).await.status,
        StatusCode::UNAUTHORIZED,
        "refused at once by the replica that deleted it"
    );
    while b.get("/v1/orgs/acme/policy", &doomed).await.status != StatusCode::UNAUTHORIZED {
        assert!(
            changed.elapsed().as_millis() < 1000,
            "B still accepts the deleted key after 1 s"
        );
    }
    assert!(changed.elapsed().as_millis() < 1000);
    // The other key still works on both.
    for app in [a, b] {
        assert_eq!(
            app.get("/v1/orgs/acme/policy", &admin).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_mid_burst_leaves_no_free_attempt() {
    let mut r = replicas(2).await;
    let admin = r.apps[0].org_with_admin("acme").await;
    let a = &r.apps[0];
    a.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    a.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 5, "lock_duration": null}),
    )
    .await;
    let id = a.user("acme", &admin, "alice", GOOD).await;

    // Start the burst, kill A while it runs.
    let apps: Vec<App> = r.apps.drain(..).collect();
    let burst_apps = apps
        .iter()
        .map(|x| App {
            base: x.base.clone(),
            http: x.http.clone(),
            clock: x.clock.clone(),
            running: None,
            _dir: TempDir::new("burst"),
        })
        .collect::<Vec<_>>();
    let running = tokio::spawn(async move {
        burst(
            &burst_apps,
            "acme",
            "alice",
            "wrong password",
            "198.51.100.2",
        )
        .await
    });
    r.children[0].kill().unwrap();
    r.children[0].wait().unwrap();
    let counts = running.await.unwrap();
    let b = &apps[1];

    // B keeps answering; the failures and the attempts that died in flight fill the five slots,
    // so even the right password is refused: no attempt came back for free.
    let counted = counts.get("invalid_credentials").copied().unwrap_or(0);
    assert!(counted <= 5, "{counts:?}");
    assert_eq!(
        b.login("acme", "alice", GOOD).await.code(),
        "account_locked",
        "{counts:?}"
    );
    let lock = b
        .get(&format!("/v1/orgs/acme/users/{id}/lock"), &admin)
        .await;
    let failures = lock.body["failures"].as_u64().unwrap();
    let in_flight = lock.body["in_flight"].as_u64().unwrap();
    assert_eq!(failures + in_flight, 5, "{:?} {counts:?}", lock.body);
    assert!(failures >= counted as u64);
    // Acknowledged writes survived: B sees the user and the organization.
    assert_eq!(
        b.get(&format!("/v1/orgs/acme/users/{id}"), &admin)
            .await
            .status,
        StatusCode::OK
    );
}
