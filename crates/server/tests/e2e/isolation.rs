//! Tenant isolation: an administrator of organization A gets 404 on every endpoint of B.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{GOOD, ROOT, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_of_one_org_sees_nothing_of_another() {
    let app = spawn_app().await;
    let a_admin = app.org_with_admin("a").await;
    let b_admin = app.org_with_admin("b").await;
    let b_user = app.user("b", &b_admin, "bob", GOOD).await;
    let b_key = app
        .post("/v1/orgs/b/api-keys", &b_admin, json!({"name": "k"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_policy = app.get("/v1/orgs/b/password-policies", &b_admin).await.body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // B has a lock and an administrator's block, which A must neither see nor lift.
    let blocked = app
        .post(
            "/v1/orgs/b/ip-blocks",
            &b_admin,
            json!({"address_or_network": "10.1.0.0/16"}),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::CREATED, "{:?}", blocked.body);
    app.set_section(
        "b",
        &b_admin,
        "lockout",
        json!({"max_password_attempts": 3}),
    )
    .await;
    for _ in 0..3 {
        app.login("b", "bob", "wrong password").await;
    }
    assert_eq!(
        app.get("/v1/orgs/b/locks", &b_admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let body = Some(json!({}));
    let calls: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, "/v1/orgs/b".into(), None),
        (Method::GET, "/v1/orgs/b/policy".into(), None),
        (
            Method::PUT,
            "/v1/orgs/b/policy/lockout".into(),
            body.clone(),
        ),
        (
            Method::PATCH,
            "/v1/orgs/b/policy/lockout".into(),
            body.clone(),
        ),
        (Method::DELETE, "/v1/orgs/b/policy/lockout".into(), None),
        (Method::GET, "/v1/orgs/b/password-policies".into(), None),
        (
            Method::POST,
            "/v1/orgs/b/password-policies".into(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::GET,
            format!("/v1/orgs/b/password-policies/{b_policy}"),
            None,
        ),
        (
            Method::PUT,
            format!("/v1/orgs/b/password-policies/{b_policy}"),
            Some(json!({"name": "x", "is_default": true})),
        ),
        (
            Method::DELETE,
            format!("/v1/orgs/b/password-policies/{b_policy}"),
            None,
        ),
        (
            Method::POST,
            "/v1/orgs/b/password-check".into(),
            Some(json!({"password": "x"})),
        ),
        (
            Method::POST,
            "/v1/orgs/b/users".into(),
            Some(json!({"login": "mallory"})),
        ),
        (Method::GET, "/v1/orgs/b/users".into(), None),
        (Method::GET, format!("/v1/orgs/b/users/{b_user}"), None),
        (
            Method::PATCH,
            format!("/v1/orgs/b/users/{b_user}"),
            Some(json!({"disabled": true})),
        ),
        (Method::DELETE, format!("/v1/orgs/b/users/{b_user}"), None),
        (
            Method::PUT,
            format!("/v1/orgs/b/users/{b_user}/password"),
            Some(json!({"password": "mallory was here 123"})),
        ),
        (
            Method::POST,
            format!("/v1/orgs/b/users/{b_user}/unlock"),
            None,
        ),
        (Method::GET, format!("/v1/orgs/b/users/{b_user}/lock"), None),
        (Method::GET, "/v1/orgs/b/api-keys".into(), None),
        (
            Method::POST,
            "/v1/orgs/b/api-keys".into(),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/v1/orgs/b/api-keys/{b_key}"), None),
        (Method::GET, "/v1/orgs/b/events".into(), None),
        (
            Method::PUT,
            "/v1/orgs/b/policy".into(),
            Some(json!({"sections": {}})),
        ),
        (
            Method::GET,
            "/v1/orgs/b/compliance?standard=pci-dss-4.0.1".into(),
            None,
        ),
        (
            Method::POST,
            "/v1/orgs/b/compliance/pci-dss-4.0.1/apply?dry_run=false".into(),
            None,
        ),
        (Method::GET, "/v1/orgs/b/locks".into(), None),
        (Method::DELETE, "/v1/orgs/b/locks".into(), None),
        (Method::GET, "/v1/orgs/b/ip-blocks".into(), None),
        (
            Method::POST,
            "/v1/orgs/b/ip-blocks".into(),
            Some(json!({"address_or_network": "10.0.0.0/8"})),
        ),
        (Method::DELETE, "/v1/orgs/b/ip-blocks".into(), None),
        (
            Method::DELETE,
            "/v1/orgs/b/ip-blocks/10.1.0.0%2F16".into(),
            None,
        ),
        (Method::GET, "/v1/orgs/b/attack-summary".into(), None),
        (Method::GET, "/v1/orgs/b/users?locked=true".into(), None),
        // B's ids through A's paths are not found either.
        (Method::GET, format!("/v1/orgs/a/users/{b_user}"), None),
        (Method::DELETE, format!("/v1/orgs/a/users/{b_user}"), None),
        (Method::DELETE, format!("/v1/orgs/a/api-keys/{b_key}"), None),
    ];
    let events_before = app.event_types("b", &b_admin).await.len();
    for (method, path, body) in calls {
        let a = app.call(method.clone(), &path, Some(&a_admin), body).await;
        assert_eq!(
            a.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {:?}",
            a.body
        );
        assert_eq!(a.code(), "not_found");
    }
    // Nothing of B changed (its lock and block stand), and A's list of organizations holds
    // only A; A's own lists hold nothing of B's.
    assert_eq!(
        app.get("/v1/orgs/b/ip-blocks", &b_admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for path in [
        "/v1/orgs/a/locks",
        "/v1/orgs/a/ip-blocks",
        "/v1/orgs/a/users?locked=true",
    ] {
        let own = app.get(path, &a_admin).await;
        assert_eq!(own.status, StatusCode::OK, "{path}");
        assert!(own.body["items"].as_array().unwrap().is_empty(), "{path}");
    }
    // Nothing of B changed, and A's list of organizations holds only A.
    assert_eq!(app.event_types("b", &b_admin).await.len(), events_before);
    assert_eq!(
        app.get(&format!("/v1/orgs/b/users/{b_user}"), &b_admin)
            .await
            .body["disabled"],
        false
    );
    let orgs = app.get("/v1/orgs", &a_admin).await;
    assert_eq!(orgs.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(orgs.body["items"][0]["id"], "a");
    // Instance endpoints are not for organization administrators.
    assert_eq!(
        app.get("/v1/instance/policy", &a_admin).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/v1/orgs", &a_admin, json!({"id": "c"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/v1/orgs/b", ROOT).await.status,
        StatusCode::OK,
        "the instance admin sees all"
    );
}
