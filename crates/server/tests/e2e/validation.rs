//! Every validation error of the native API: 400 with the violation codes, and nothing changed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::refused;
use crate::support::{GOOD, ROOT, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_validation_error_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let alice = app.user("acme", &admin, "alice", GOOD).await;
    let policy = "/v1/orgs/acme/policy";
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "lockout",
            json!({"max_password_attempts": 0, "window": 0}),
            vec!["value.out_of_range", "value.out_of_range"],
        ),
        (
            "lockout",
            json!({"max_password_attempts": "five"}),
            vec!["value.invalid"],
        ),
        (
            "lockout",
            json!({"no_such_field": 1}),
            vec!["value.invalid"],
        ),
        (
            "brute_force",
            json!({"allowlist": ["10.0.0.0/33", "nope"]}),
            vec!["ip.invalid", "ip.invalid"],
        ),
        (
            "session",
            json!({"max_session_duration": 10, "login_banner": "x".repeat(1025)}),
            vec!["value.out_of_range", "value.too_long"],
        ),
        (
            "api_keys",
            json!({"max_expiration": 999_999_999_999u64}),
            vec!["value.out_of_range"],
        ),
        (
            "mfa",
            json!({"trusted_networks": ["x"]}),
            vec!["ip.invalid"],
        ),
        (
            "password",
            json!([]),
            vec!["password_policies.default_count"],
        ),
    ];
    for (section, body, codes) in cases {
        let path = format!("{policy}/{section}");
        refused(
            &app,
            "acme",
            policy,
            app.patch(&path, &admin, body.clone()),
            &codes,
        )
        .await;
        if section != "password" && body.is_object() {
            refused(
                &app,
                "acme",
                policy,
                app.put(&path, &admin, body.clone()),
                &codes,
            )
            .await;
        }
        refused(
            &app,
            "instance",
            "/v1/instance/policy",
            app.patch(&format!("/v1/instance/policy/{section}"), ROOT, body),
            &codes,
        )
        .await;
    }
    let pp = "/v1/orgs/acme/password-policies";
    refused(
        &app,
        "acme",
        pp,
        app.post(
            pp,
            &admin,
            json!({"name": "", "min_length": 5000, "max_length": 72, "hash_algorithm": "bcrypt"}),
        ),
        &[
            "value.required",
            "password_policy.min_length_exceeds_max_length",
            "value.out_of_range",
        ],
    )
    .await;
    refused(
        &app,
        "acme",
        pp,
        app.post(pp, &admin, json!({"id": "bad id", "name": "x"})),
        &["id.invalid"],
    )
    .await;
    let users = "/v1/orgs/acme/users";
    refused(
        &app,
        "acme",
        users,
        app.post(
            users,
            &admin,
            json!({"login": "", "roles": ["instance_admin"]}),
        ),
        &["value.required", "role.not_allowed"],
    )
    .await;
    refused(
        &app,
        "acme",
        users,
        app.post(
            users,
            &admin,
            json!({"login": "carol", "password": "short"}),
        ),
        &["password.too_short"],
    )
    .await;
    refused(
        &app,
        "acme",
        users,
        app.post(users, &admin, json!({"login": "carol", "rolez": []})),
        &["value.invalid"],
    )
    .await;
    refused(
        &app,
        "acme",
        users,
        app.patch(
            &format!("{users}/{alice}"),
            &admin,
            json!({"roles": ["instance_admin"]}),
        ),
        &["role.not_allowed"],
    )
    .await;
    refused(
        &app,
        "acme",
        users,
        app.put(
            &format!("{users}/{alice}/password"),
            &admin,
            json!({"password": "alice-alice-alice-1"}),
        ),
        &["password.contains_login"],
    )
    .await;
    let keys = "/v1/orgs/acme/api-keys";
    app.set_section("acme", &admin, "api_keys", json!({"max_expiration": 86400}))
        .await;
    refused(
        &app,
        "acme",
        keys,
        app.post(keys, &admin, json!({"name": "k"})),
        &["api_key.expiry_required"],
    )
    .await;
    refused(
        &app,
        "acme",
        keys,
        app.post(
            keys,
            &admin,
            json!({"name": "", "expires_at": "2030-01-01T00:00:00Z"}),
        ),
        &["value.required", "api_key.expiry_too_late"],
    )
    .await;
    refused(
        &app,
        "instance",
        "/v1/orgs",
        app.post("/v1/orgs", ROOT, json!({"id": "a/b"})),
        &["id.invalid"],
    )
    .await;
    refused(
        &app,
        "instance",
        "/v1/orgs",
        app.post("/v1/orgs", ROOT, json!({"id": "ok", "name": "a\u{0}b"})),
        &["value.invalid"],
    )
    .await;
    refused(
        &app,
        "acme",
        keys,
        app.post(
            keys,
            &admin,
            json!({"name": "k\u{7}", "expires_at": "2026-11-23T10:00:00Z"}),
        ),
        &["value.invalid"],
    )
    .await;
    // A control character in a path names nothing.
    assert_eq!(
        app.get("/v1/orgs/ac%00me/users", ROOT).await.status,
        StatusCode::NOT_FOUND
    );
    // Malformed JSON is a 400 problem too.
    let a = app
        .http
        .post(format!("{}/v1/orgs", app.base))
        .bearer_auth(ROOT)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), StatusCode::BAD_REQUEST);
}
