//! Every endpoint of the native API (validation errors are in `validation.rs`).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{App, GOOD, ROOT, spawn_app};

/// Asserts a 400 with exactly these violation codes, and that `probe` reads the same before and
/// after, with no new event in `org`.
pub(crate) async fn refused(
    app: &App,
    org: &str,
    probe: &str,
    call: impl std::future::Future<Output = crate::support::Answer>,
    codes: &[&str],
) {
    let before = app.get(probe, ROOT).await.bytes;
    let events_before = app.event_types(org, ROOT).await.len();
    let a = call.await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    assert_eq!(a.code(), "validation_failed");
    let mut got = a.violation_codes();
    got.sort();
    let mut want: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
    want.sort();
    assert_eq!(got, want, "{:?}", a.body);
    for v in a.body["violations"].as_array().unwrap() {
        assert!(v["message"].is_string() && v["field"].is_string(), "{v}");
    }
    assert_eq!(
        app.get(probe, ROOT).await.bytes,
        before,
        "nothing changed at {probe}"
    );
    assert_eq!(
        app.event_types(org, ROOT).await.len(),
        events_before,
        "no event written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_and_operations() {
    let app = spawn_app().await;
    assert_eq!(
        app.call(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/readyz", None, None).await.status,
        StatusCode::OK
    );

    let a = app
        .post("/v1/orgs", ROOT, json!({"id": "acme", "name": "Acme"}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["id"], "acme");
    assert_eq!(
        app.post("/v1/orgs", ROOT, json!({"id": "acme"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let a = app
        .post("/v1/orgs", ROOT, json!({"name": "Generated"}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert!(a.body["id"].as_str().unwrap().starts_with("org_"));
    for id in ["b", "c", "d"] {
        app.post("/v1/orgs", ROOT, json!({"id": id})).await;
    }
    // Paging: 2 at a time until the end.
    let mut seen = Vec::new();
    let mut path = "/v1/orgs?limit=2".to_owned();
    loop {
        let a = app.get(&path, ROOT).await;
        assert_eq!(a.status, StatusCode::OK);
        for o in a.body["items"].as_array().unwrap() {
            seen.push(o["id"].as_str().unwrap().to_owned());
        }
        match a.body["next_after"].as_str() {
            Some(next) => path = format!("/v1/orgs?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(app.get("/v1/orgs/acme", ROOT).await.body["name"], "Acme");
    assert_eq!(
        app.get("/v1/orgs/nope", ROOT).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/orgs?limit=0", ROOT).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/v1/orgs?limit=501", ROOT).await.status,
        StatusCode::BAD_REQUEST
    );

    // Without or with a bad token: 401 problem.
    let a = app.call(Method::GET, "/v1/orgs", None, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.code(), "unauthenticated");
    assert_eq!(
        app.get("/v1/orgs", "pck_nope").await.status,
        StatusCode::UNAUTHORIZED
    );

    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    let text = String::from_utf8(metrics.bytes).unwrap();
    assert!(text.contains("portcullis_logins_total{result=\"success\"}"));
    assert!(text.contains("portcullis_http_request_duration_seconds_bucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_sections_inherit_override_and_reset() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;

    let a = app.get("/v1/instance/policy", ROOT).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["lockout"]["value"]["max_password_attempts"], 10);
    assert_eq!(
        app.get("/v1/instance/policy", &admin).await.status,
        StatusCode::FORBIDDEN
    );

    // Instance default changes flow to inheriting organizations.
    let a = app
        .patch(
            "/v1/instance/policy/lockout",
            ROOT,
            json!({"max_password_attempts": 7}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["details"]["resource_owner"], "instance");
    let p = app.get("/v1/orgs/acme/policy", &admin).await;
    assert_eq!(p.body["lockout"]["is_default"], true);
    assert_eq!(p.body["lockout"]["value"]["max_password_attempts"], 7);
    let a = app
        .put(
            "/v1/instance/policy/session",
            ROOT,
            json!({"max_session_duration": 7200}),
        )
        .await;
    assert_eq!(a.body["value"]["idle_timeout"], 3600, "PUT fills defaults");

    // Override, read back, reset.
    let a = app
        .put(
            "/v1/orgs/acme/policy/lockout",
            &admin,
            json!({"max_password_attempts": 4}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["is_default"], false);
    assert_eq!(a.body["details"]["resource_owner"], "acme");
    let seq = a.body["details"]["sequence"].as_u64().unwrap();
    let p = app.get("/v1/orgs/acme/policy", &admin).await;
    assert_eq!(p.body["lockout"]["is_default"], false);
    assert_eq!(p.body["lockout"]["value"]["max_password_attempts"], 4);
    assert_eq!(
        p.body["lockout"]["details"]["sequence"].as_u64().unwrap(),
        seq
    );
    let a = app
        .patch(
            "/v1/orgs/acme/policy/lockout",
            &admin,
            json!({"window": 600}),
        )
        .await;
    assert_eq!(
        a.body["value"]["max_password_attempts"], 4,
        "patch keeps other fields"
    );
    assert_eq!(a.body["value"]["window"], 600);
    assert!(a.body["details"]["sequence"].as_u64().unwrap() > seq);
    let a = app.delete("/v1/orgs/acme/policy/lockout", &admin).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["is_default"], true);
    assert_eq!(a.body["value"]["max_password_attempts"], 7);
    for section in [
        "brute_force",
        "session",
        "tokens",
        "api_keys",
        "mfa",
        "features",
    ] {
        let a = app
            .patch(
                &format!("/v1/orgs/acme/policy/{section}"),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{section}: {:?}", a.body);
        assert_eq!(a.body["is_default"], false);
        let a = app
            .delete(&format!("/v1/orgs/acme/policy/{section}"), &admin)
            .await;
        assert_eq!(a.body["is_default"], true, "{section}");
    }
    assert_eq!(
        app.get("/v1/orgs/acme/policy/nope", &admin).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        app.patch("/v1/orgs/acme/policy/nope", &admin, json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let events = app.event_types("acme", &admin).await;
    assert!(events.contains(&"policy.lockout.changed".to_owned()));
    assert!(events.contains(&"policy.lockout.reset".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_policies_and_dry_run() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let base = "/v1/orgs/acme/password-policies";
    let a = app.get(base, &admin).await;
    assert_eq!(a.body["is_default"], true);
    assert_eq!(a.body["value"].as_array().unwrap().len(), 1);
    let default_id = a.body["value"][0]["id"].as_str().unwrap().to_owned();

    let a = app
        .post(base, &admin, json!({"id": "contractors", "name": "Contractors", "sources": ["ldap"], "min_length": 20}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(
        app.post(base, &admin, json!({"id": "contractors", "name": "x"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let a = app.get(&format!("{base}/contractors"), &admin).await;
    assert_eq!(a.body["min_length"], 20);
    let a = app
        .put(
            &format!("{base}/contractors"),
            &admin,
            json!({"name": "Contractors", "sources": ["ldap"], "min_length": 18}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        app.get(&format!("{base}/contractors"), &admin).await.body["min_length"],
        18
    );
    assert_eq!(
        app.get(&format!("{base}/nope"), &admin).await.status,
        StatusCode::NOT_FOUND
    );

    // The dry run picks the policy by source.
    let check =
        |source: Option<&str>| json!({"password": "short", "login": "alice", "source": source});
    let a = app
        .post("/v1/orgs/acme/password-check", &admin, check(Some("ldap")))
        .await;
    assert_eq!(a.body["valid"], false);
    assert_eq!(a.body["policy_id"], "contractors");
    assert_eq!(a.body["violations"][0]["params"]["min"], 18);
    let a = app
        .post(
            "/v1/orgs/acme/password-check",
            &admin,
            json!({"password": GOOD}),
        )
        .await;
    assert_eq!(a.body["valid"], true, "{:?}", a.body);
    assert_eq!(a.body["policy_id"], default_id.as_str());
    let a = app
        .post(
            "/v1/orgs/acme/password-check",
            &admin,
            json!({"password": "alice-in-wonderland-99", "login": "Alice"}),
        )
        .await;
    assert!(
        a.body["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["code"] == "password.contains_login")
    );

    // The default cannot be deleted; another one can, after which it is gone.
    refused(
        &app,
        "acme",
        base,
        app.delete(&format!("{base}/{default_id}"), &admin),
        &["password_policy.default_not_deletable"],
    )
    .await;
    // Making another policy the default moves the flag.
    let a = app
        .put(
            &format!("{base}/contractors"),
            &admin,
            json!({"name": "Contractors", "is_default": true}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let list = app.get(base, &admin).await;
    let defaults: Vec<_> = list.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_default"] == true)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["id"], "contractors");
    assert_eq!(
        app.delete(&format!("{base}/{default_id}"), &admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("{base}/{default_id}"), &admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_sessions_keys_and_events() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let users = "/v1/orgs/acme/users";
    let a = app
        .post(users, &admin, json!({"login": "Alice", "password": GOOD, "email": "alice@example.com", "display_name": "Alice Liddell", "roles": ["member"]}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert!(a.body.get("password_hash").is_none() && !a.bytes.windows(7).any(|w| w == b"argon2i"));
    let alice = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.post(users, &admin, json!({"login": "alice"}))
            .await
            .status,
        StatusCode::CONFLICT,
        "case-insensitive"
    );
    let bob = app.user("acme", &admin, "bob", GOOD).await;
    let a = app.get(&format!("{users}?limit=1"), &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    let next = a.body["next_after"].as_str().unwrap().to_owned();
    let a = app
        .get(&format!("{users}?limit=1&after={next}"), &admin)
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    assert_ne!(a.body["items"][0]["id"].as_str().unwrap(), next);

    let a = app
        .patch(
            &format!("{users}/{bob}"),
            &admin,
            json!({"display_name": "Bob", "email": null, "roles": ["member", "org_auditor"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["display_name"], "Bob");
    assert_eq!(
        app.get(&format!("{users}/{bob}"), &admin).await.body["roles"][1],
        "org_auditor"
    );

    // Login (admin-created password: change required under renew_on_first_login? default off).
    let a = app.login("acme", "ALICE", GOOD).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let token = a.body["session"]["token"].as_str().unwrap().to_owned();
    assert!(a.body["session"]["expires_at"].is_string());
    assert!(a.body["session"]["idle_expires_at"].is_string());
    assert_eq!(a.body["password_change_required"], false);
    assert_eq!(a.body["mfa_required"], false);
    let me = app.get("/v1/self", &token).await;
    assert_eq!(me.body["user"]["id"], alice.as_str());
    assert_eq!(me.body["user"]["last_login_ip"], "127.0.0.1");
    // A member cannot manage.
    assert_eq!(app.get(users, &token).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&format!("{users}/{alice}"), &token).await.status,
        StatusCode::OK,
        "itself"
    );

    // Own password change: wrong current → 401; policy violation → 400; ok → new session.
    let a = app
        .post(
            "/v1/self/password",
            &token,
            json!({"current_password": "nope", "new_password": "another good passphrase 7"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = app
        .post(
            "/v1/self/password",
            &token,
            json!({"current_password": GOOD, "new_password": "short"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.violation_codes()
            .contains(&"password.too_short".to_owned())
    );
    let a = app
        .post(
            "/v1/self/password",
            &token,
            json!({"current_password": GOOD, "new_password": "another good passphrase 7"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let token2 = a.body["session"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED,
        "old session ended"
    );
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("acme", "alice", "another good passphrase 7")
            .await
            .status,
        StatusCode::OK
    );

    // Own API key: at most the owner's roles; shown once; works; deleted.
    let keys = "/v1/orgs/acme/api-keys";
    let a = app
        .post(
            keys,
            &token2,
            json!({"name": "cli", "roles": ["org_admin"]}),
        )
        .await;
    assert_eq!(a.violation_codes(), ["role.not_held"]);
    let a = app.post(keys, &token2, json!({"name": "cli"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let key = a.body["key"].as_str().unwrap().to_owned();
    let key_id = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/v1/self", &key).await.body["user"]["id"],
        alice.as_str()
    );
    let listed = app.get(keys, &token2).await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "a member sees its own keys"
    );
    assert!(
        !listed.bytes.windows(key.len()).any(|w| w == key.as_bytes()),
        "secret never listed"
    );
    assert!(
        app.get(keys, &admin).await.body["items"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    assert_eq!(
        app.delete(&format!("{keys}/{key_id}"), &token2)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/v1/self", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.delete(&format!("{keys}/{key_id}"), &admin).await.status,
        StatusCode::NOT_FOUND
    );

    // Admin password set ends sessions and requires a change under renew_on_first_login.
    app.put(
        &format!(
            "/v1/orgs/acme/password-policies/{}",
            default_policy_id(&app, &admin).await
        ),
        &admin,
        json!({"name": "Default", "is_default": true, "renew_on_first_login": true}),
    )
    .await;
    let a = app
        .put(
            &format!("{users}/{alice}/password"),
            &admin,
            json!({"password": "admin chosen passphrase 5"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    assert_eq!(
        app.get("/v1/self", &token2).await.status,
        StatusCode::UNAUTHORIZED
    );
    let a = app
        .login("acme", "alice", "admin chosen passphrase 5")
        .await;
    assert_eq!(a.body["password_change_required"], true);
    let restricted = a.body["session"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(users, &restricted).await.code(),
        "password_change_required"
    );
    assert_eq!(
        app.get("/v1/self", &restricted).await.status,
        StatusCode::OK
    );
    let a = app.post("/v1/self/password", &restricted, json!({"current_password": "admin chosen passphrase 5", "new_password": "my very own passphrase 3"})).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["password_change_required"], false);

    // Logout.
    let t = a.body["session"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call(Method::POST, "/v1/logout", Some(&t), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/v1/self", &t).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Disable, then delete.
    app.patch(&format!("{users}/{bob}"), &admin, json!({"disabled": true}))
        .await;
    assert_eq!(
        app.login("acme", "bob", GOOD).await.code(),
        "account_disabled"
    );
    assert_eq!(
        app.delete(&format!("{users}/{bob}"), &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("{users}/{bob}"), &admin).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.login("acme", "bob", GOOD).await.code(),
        "invalid_credentials"
    );

    // Events: cursor pagination over the whole story.
    let a = app.get("/v1/orgs/acme/events?limit=3", &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 3);
    let after = a.body["next_after"].as_str().unwrap().to_owned();
    let b = app
        .get(
            &format!("/v1/orgs/acme/events?limit=3&after={after}"),
            &admin,
        )
        .await;
    assert!(b.body["items"][0]["sequence"].as_u64().unwrap() > after.parse::<u64>().unwrap());
    let all = app.event_types("acme", &admin).await;
    for t in [
        "org.created",
        "user.created",
        "user.changed",
        "login.succeeded",
        "user.password.changed",
        "api_key.created",
        "api_key.deleted",
        "user.password.set_by_admin",
        "session.ended",
        "user.deleted",
        "login.refused",
    ] {
        assert!(all.iter().any(|e| e == t), "missing {t} in {all:?}");
    }
    let raw = app.get("/v1/orgs/acme/events?limit=500", &admin).await;
    for secret in [
        GOOD,
        "admin chosen passphrase 5",
        key.as_str(),
        token.as_str(),
    ] {
        assert!(
            !raw.bytes
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "no secret in events"
        );
    }
}

pub(crate) async fn default_policy_id(app: &App, admin: &str) -> String {
    let a = app.get("/v1/orgs/acme/password-policies", admin).await;
    a.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["is_default"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A policy cache of one entry: every organization's policy is dropped as soon as another is
/// read, and each still reads and enforces its own policy (a dropped one is read again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_cache_of_one_entry_still_serves_and_enforces_each_organizations_own_policy() {
    let app = crate::support::spawn_app_with(|c| c.policy_cache_entries = 1).await;
    let orgs = ["cache-a", "cache-b", "cache-c"];
    let mut admins = Vec::new();
    for (org, limit) in orgs.iter().zip([2, 3, 4]) {
        let admin = app.org_with_admin(org).await;
        let set = app
            .patch(
                &format!("/v1/orgs/{org}/policy/lockout"),
                &admin,
                json!({"max_password_attempts": limit, "reveal_lock": true}),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
        app.user(org, &admin, "ann", GOOD).await;
        admins.push(admin);
    }
    // Reads in turn, so that each read finds the other organization's policy in the cache.
    for _ in 0..2 {
        for ((org, admin), limit) in orgs.iter().zip(&admins).zip([2, 3, 4]) {
            let read = app.get(&format!("/v1/orgs/{org}/policy"), admin).await;
            assert_eq!(
                read.body["lockout"]["value"]["max_password_attempts"], limit,
                "{org}: {:?}",
                read.body
            );
        }
    }
    // Enforced with the organization's own limit while the others' policies are read between
    // its attempts: cache-a locks after 2 failures, cache-c only after 4.
    for attempt in 1..=4 {
        for org in ["cache-a", "cache-c"] {
            let wrong = app.login(org, "ann", "not the password at all").await;
            let locked_now = matches!((org, attempt), ("cache-a", 3..));
            let expected = if locked_now {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(
                wrong.status, expected,
                "{org} attempt {attempt}: {:?}",
                wrong.body
            );
            app.get("/v1/orgs/cache-b/policy", &admins[1]).await;
        }
    }
    let right = app.login("cache-c", "ann", GOOD).await;
    assert_eq!(
        right.status,
        StatusCode::FORBIDDEN,
        "cache-c locked after 4: {:?}",
        right.body
    );
}
