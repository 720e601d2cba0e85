//! Enforcement state through the API: locks and blocks listed, lifted and cleared, an
//! administrator's block refused before any hash, users' lock states, the attack summary, and
//! who may do what.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{App, GOOD, ROOT, spawn_app};

fn items(answer: &Value) -> Vec<Value> {
    answer["items"].as_array().unwrap().clone()
}

fn field<'a>(list: &'a [Value], name: &str) -> Vec<&'a str> {
    list.iter().map(|v| v[name].as_str().unwrap()).collect()
}

/// Locks `login` after `n` wrong passwords from `ip`.
async fn fail(app: &App, login: &str, n: usize, ip: &str) {
    for _ in 0..n {
        let a = app.login_from("acme", login, "wrong password", ip).await;
        assert_eq!(a.code(), "invalid_credentials", "{:?}", a.body);
    }
}

async fn auditor(app: &App) -> String {
    let a = app
        .post(
            "/v1/orgs/acme/api-keys",
            ROOT,
            json!({"name": "auditor", "roles": ["org_auditor"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body["key"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_are_listed_filtered_shown_on_users_and_cleared_at_once() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let audit = auditor(&app).await;
    app.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 2, "lock_duration": null, "reveal_lock": true}),
    )
    .await;
    let alice = app.user("acme", &admin, "alice", GOOD).await;
    let _bob = app.user("acme", &admin, "bob", GOOD).await;
    fail(&app, "Alice", 2, "192.0.2.1").await;
    fail(&app, "ghost-1", 2, "192.0.2.2").await;
    fail(&app, "bob", 1, "192.0.2.3").await;

    // Both locks, in key order, read by the auditor; bob (one failure) is not locked.
    let locks = app.get("/v1/orgs/acme/locks", &audit).await;
    assert_eq!(locks.status, StatusCode::OK, "{:?}", locks.body);
    let list = items(&locks.body);
    assert_eq!(field(&list, "login_key"), ["alice", "ghost-1"]);
    assert_eq!(list[0]["login"], "Alice", "as typed");
    assert_eq!(list[0]["user_id"], alice.as_str());
    assert_eq!(list[1]["user_id"], Value::Null, "no user has the name");
    assert_eq!(list[0]["kind"], "password");
    assert_eq!(list[0]["failures"], 2);
    assert_eq!(list[0]["until"], Value::Null);
    assert!(list[0]["locked_at"].is_string());
    assert_eq!(list[0]["source"], Value::Null);
    assert!(locks.body.get("next_after").is_none());

    // Filters and paging.
    let by_prefix = app.get("/v1/orgs/acme/locks?login=GH", &audit).await;
    assert_eq!(field(&items(&by_prefix.body), "login_key"), ["ghost-1"]);
    let otp = app.get("/v1/orgs/acme/locks?kind=otp", &audit).await;
    assert!(items(&otp.body).is_empty());
    let bad = app.get("/v1/orgs/acme/locks?kind=voice", &audit).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let first = app.get("/v1/orgs/acme/locks?limit=1", &audit).await;
    assert_eq!(field(&items(&first.body), "login_key"), ["alice"]);
    let after = first.body["next_after"].as_str().unwrap().to_owned();
    let second = app
        .get(
            &format!("/v1/orgs/acme/locks?limit=1&after={after}"),
            &audit,
        )
        .await;
    assert_eq!(field(&items(&second.body), "login_key"), ["ghost-1"]);

    // Users carry their lock state; `locked=true` lists the locked ones.
    let user = app
        .get(&format!("/v1/orgs/acme/users/{alice}"), &audit)
        .await;
    assert_eq!(user.body["lock"], json!({"locked": true, "until": null}));
    let locked = app.get("/v1/orgs/acme/users?locked=true", &audit).await;
    assert_eq!(field(&items(&locked.body), "login"), ["alice"]);
    let all = app.get("/v1/orgs/acme/users", &audit).await;
    let states: Vec<bool> = items(&all.body)
        .iter()
        .map(|u| u["lock"]["locked"].as_bool().unwrap())
        .collect();
    assert_eq!(states.iter().filter(|l| **l).count(), 1);

    // The auditor may read but not clear; the administrator clears both in one event.
    let denied = app.delete("/v1/orgs/acme/locks", &audit).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let cleared = app.delete("/v1/orgs/acme/locks", &admin).await;
    assert_eq!(cleared.status, StatusCode::OK, "{:?}", cleared.body);
    assert_eq!(cleared.body["count"], 2);
    let events = app.get("/v1/orgs/acme/events?limit=500", &admin).await;
    let last = items(&events.body).last().unwrap().clone();
    assert_eq!(last["type"], "locks.cleared");
    assert_eq!(last["payload"]["count"], 2);
    assert!(last["actor"].as_str().unwrap().starts_with("key:"));
    assert!(last["request_id"].is_string());
    assert!(items(&app.get("/v1/orgs/acme/locks", &admin).await.body).is_empty());
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK
    );
    // Nothing left: count 0 and no event.
    let again = app.delete("/v1/orgs/acme/locks", &admin).await;
    assert_eq!(again.body["count"], 0);
    let after_events = app.get("/v1/orgs/acme/events?limit=500", &admin).await;
    assert_eq!(
        items(&after_events.body).len(),
        items(&events.body).len() + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_block_refuses_before_any_hash_and_is_lifted() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"enabled": false, "allowlist": ["10.9.9.9"]}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;

    // Refused input: every violation, nothing written.
    let bad = app
        .post(
            "/v1/orgs/acme/ip-blocks",
            &admin,
            json!({"address_or_network": "10.0.0.0/33", "until": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
    let fields: Vec<&str> = bad.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["address_or_network", "until"]);
    let allowlisted = app
        .post(
            "/v1/orgs/acme/ip-blocks",
            &admin,
            json!({"address_or_network": "10.0.0.0/8"}),
        )
        .await;
    assert_eq!(
        allowlisted.body["violations"][0]["code"],
        "ip_block.allowlisted"
    );
    assert!(items(&app.get("/v1/orgs/acme/ip-blocks", &admin).await.body).is_empty());

    // A permanent block of a network (host bits cleared), then replaced with an end.
    let added = app
        .post(
            "/v1/orgs/acme/ip-blocks",
            &admin,
            json!({"address_or_network": "198.51.100.77/24"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    assert_eq!(added.body["address"], "198.51.100.0/24");
    assert_eq!(added.body["origin"], "administrator");
    assert_eq!(added.body["until"], Value::Null);
    let hashes = app.hashes();
    let refused = app.login_from("acme", "alice", GOOD, "198.51.100.5").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "ip_blocked");
    assert_eq!(refused.headers["retry-after"], "86400");
    assert_eq!(app.hashes(), hashes, "no hash for a blocked address");
    // IPv4-mapped IPv6 is the same address.
    let mapped = app
        .login_from("acme", "alice", GOOD, "::ffff:198.51.100.6")
        .await;
    assert_eq!(mapped.code(), "ip_blocked");
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "198.51.101.5")
            .await
            .status,
        StatusCode::OK
    );
    let replaced = app
        .post(
            "/v1/orgs/acme/ip-blocks",
            &admin,
            json!({"address_or_network": "198.51.100.0/24", "until": "2030-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{:?}", replaced.body);
    assert_eq!(replaced.body["until"], "2030-01-01T00:00:00Z");

    let listed = items(&app.get("/v1/orgs/acme/ip-blocks", &admin).await.body);
    assert_eq!(field(&listed, "address"), ["198.51.100.0/24"]);
    assert!(listed[0]["actor"].as_str().unwrap().starts_with("key:"));

    // Lifted by its name (the `/` percent-encoded): the login goes through; lifting again 404.
    let lifted = app
        .delete("/v1/orgs/acme/ip-blocks/198.51.100.0%2F24", &admin)
        .await;
    assert_eq!(lifted.status, StatusCode::NO_CONTENT, "{:?}", lifted.body);
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "198.51.100.5")
            .await
            .status,
        StatusCode::OK
    );
    let again = app
        .delete("/v1/orgs/acme/ip-blocks/198.51.100.0%2F24", &admin)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let garbage = app
        .delete("/v1/orgs/acme/ip-blocks/not-an-ip", &admin)
        .await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
    let types = app.event_types("acme", &admin).await;
    let ip_events: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| t.starts_with("ip."))
        .collect();
    assert_eq!(
        ip_events,
        ["ip.block_added", "ip.block_added", "ip.unblocked"]
    );
    let added: Vec<serde_json::Value> =
        items(&app.get("/v1/orgs/acme/events?limit=500", &admin).await.body)
            .into_iter()
            .filter(|e| e["type"] == "ip.block_added")
            .map(|e| e["payload"]["replaced"].clone())
            .collect();
    assert_eq!(added, [json!(false), json!(true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counted_blocks_are_listed_with_administrators_lifted_and_cleared() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section("acme", &admin, "lockout", json!({"enabled": false}))
        .await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 2, "window": 600, "block_duration": 600}),
    )
    .await;
    for ip in ["203.0.113.7", "203.0.113.9"] {
        fail(&app, "x", 2, ip).await;
        assert_eq!(
            app.login_from("acme", "x", "wrong", ip).await.code(),
            "ip_blocked"
        );
    }
    for net in ["203.0.113.8", "2001:db8::/32"] {
        let a = app
            .post(
                "/v1/orgs/acme/ip-blocks",
                &admin,
                json!({"address_or_network": net}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
    let listed = items(&app.get("/v1/orgs/acme/ip-blocks", &admin).await.body);
    assert_eq!(
        field(&listed, "address"),
        ["2001:db8::/32", "203.0.113.7", "203.0.113.8", "203.0.113.9"]
    );
    assert_eq!(
        field(&listed, "origin"),
        ["administrator", "counted", "administrator", "counted"]
    );
    assert_eq!(listed[1]["failures"], 2);
    assert!(listed[1]["until"].is_string());
    // Paging one by one walks the same order.
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/orgs/acme/ip-blocks?limit=1&after={}", urlencode(a)),
            None => "/v1/orgs/acme/ip-blocks?limit=1".to_owned(),
        };
        let page = app.get(&path, &admin).await;
        walked.extend(
            field(&items(&page.body), "address")
                .into_iter()
                .map(str::to_owned),
        );
        match page.body["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        walked,
        ["2001:db8::/32", "203.0.113.7", "203.0.113.8", "203.0.113.9"]
    );

    // One counted block lifted: that address logs in again (and is counted afresh).
    let lifted = app
        .delete("/v1/orgs/acme/ip-blocks/203.0.113.7", &admin)
        .await;
    assert_eq!(lifted.status, StatusCode::NO_CONTENT, "{:?}", lifted.body);
    assert_eq!(
        app.login_from("acme", "x", "wrong", "203.0.113.7")
            .await
            .code(),
        "invalid_credentials"
    );
    let event = items(&app.get("/v1/orgs/acme/events?limit=500", &admin).await.body)
        .into_iter()
        .rfind(|e| e["type"] == "ip.unblocked")
        .unwrap();
    assert_eq!(event["payload"]["network"], "203.0.113.7");

    // Clear all: the counted and the administrators' blocks, one event with the count.
    let cleared = app.delete("/v1/orgs/acme/ip-blocks", &admin).await;
    assert_eq!(cleared.body["count"], 3, "{:?}", cleared.body);
    assert!(items(&app.get("/v1/orgs/acme/ip-blocks", &admin).await.body).is_empty());
    for ip in ["203.0.113.9", "203.0.113.8", "2001:db8::1"] {
        assert_eq!(
            app.login_from("acme", "x", "wrong", ip).await.code(),
            "invalid_credentials",
            "{ip}"
        );
    }
    let types = app.event_types("acme", &admin).await;
    assert!(types.contains(&"ip_blocks.cleared".to_owned()));
}

fn urlencode(text: &str) -> String {
    text.replace('%', "%25")
        .replace('/', "%2F")
        .replace('|', "%7C")
        .replace(':', "%3A")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attack_summary_counts_per_hour_from_the_events() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 3, "lock_duration": 60}),
    )
    .await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 4, "window": 600, "block_duration": 60}),
    )
    .await;
    fail(&app, "alice", 3, "192.0.2.1").await;
    fail(&app, "bob", 1, "192.0.2.1").await;
    app.clock.advance(3600);
    fail(&app, "carol", 1, "192.0.2.2").await;

    let summary = app.get("/v1/orgs/acme/attack-summary", &admin).await;
    assert_eq!(summary.status, StatusCode::OK, "{:?}", summary.body);
    let hours = summary.body["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    let last_two: Vec<(u64, u64, u64, u64, u64)> = hours[22..]
        .iter()
        .map(|h| {
            let n = |f: &str| h[f].as_u64().unwrap();
            (
                n("failed_logins"),
                n("locks"),
                n("ip_blocks"),
                n("distinct_logins"),
                n("distinct_sources"),
            )
        })
        .collect();
    assert_eq!(last_two, [(4, 1, 1, 2, 1), (1, 0, 0, 1, 1)]);
    let total = &summary.body["total"];
    assert_eq!(
        (
            total["failed_logins"].as_u64(),
            total["distinct_logins"].as_u64()
        ),
        (Some(5), Some(3))
    );

    let narrow = app
        .get(
            &format!(
                "/v1/orgs/acme/attack-summary?since={}",
                hours[23]["hour"].as_str().unwrap().replace('+', "%2B")
            ),
            &admin,
        )
        .await;
    assert_eq!(narrow.body["hours"].as_array().unwrap().len(), 1);
    let too_far = app
        .get(
            "/v1/orgs/acme/attack-summary?since=2000-01-01T00:00:00Z",
            &admin,
        )
        .await;
    // Further back than a week is cut to the week; a start in the future to this hour.
    assert_eq!(too_far.status, StatusCode::OK, "{:?}", too_far.body);
    assert_eq!(too_far.body["hours"].as_array().unwrap().len(), 168);
    assert_eq!(too_far.body["total"]["failed_logins"], 5);
    let future = app
        .get(
            "/v1/orgs/acme/attack-summary?since=2100-01-01T00:00:00Z",
            &admin,
        )
        .await;
    assert_eq!(future.body["hours"].as_array().unwrap().len(), 1);
    let garbage = app
        .get("/v1/orgs/acme/attack-summary?since=yesterday", &admin)
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_no_enforcement_state() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.user("acme", &admin, "mem", GOOD).await;
    let token = app.login("acme", "mem", GOOD).await.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path) in [
        (Method::GET, "/v1/orgs/acme/locks"),
        (Method::DELETE, "/v1/orgs/acme/locks"),
        (Method::GET, "/v1/orgs/acme/ip-blocks"),
        (Method::DELETE, "/v1/orgs/acme/ip-blocks"),
        (Method::DELETE, "/v1/orgs/acme/ip-blocks/10.0.0.1"),
        (Method::GET, "/v1/orgs/acme/attack-summary"),
        (Method::GET, "/v1/orgs/acme/users?locked=true"),
    ] {
        let a = app.call(method.clone(), path, Some(&token), None).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let a = app
        .call(
            Method::POST,
            "/v1/orgs/acme/ip-blocks",
            Some(&token),
            Some(json!({"address_or_network": "10.0.0.1"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}
