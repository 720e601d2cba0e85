//! The OpenAPI document: served at `/openapi.json`, identical to the committed
//! `openapi/v1.json` (regenerate with `cargo run -p portcullis-server -- openapi > openapi/v1.json`),
//! and covering every route.

use reqwest::Method;

use crate::support::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_document_matches_the_committed_one() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/v1.json"
    ))
    .expect("openapi/v1.json is committed");
    let generated = portcullis_http::openapi::document_json();
    assert!(
        committed == generated,
        "openapi/v1.json is stale: run `cargo run -p portcullis-server -- openapi > openapi/v1.json`"
    );
    let app = spawn_app().await;
    let served = app
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(served, committed);
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = served["paths"].as_object().unwrap();
    for path in [
        "/v1/orgs",
        "/v1/orgs/{org}",
        "/v1/instance/policy",
        "/v1/instance/policy/{section}",
        "/v1/orgs/{org}/policy",
        "/v1/orgs/{org}/policy/{section}",
        "/v1/orgs/{org}/password-policies",
        "/v1/orgs/{org}/password-policies/{id}",
        "/v1/orgs/{org}/password-check",
        "/v1/orgs/{org}/users",
        "/v1/orgs/{org}/users/{id}",
        "/v1/orgs/{org}/users/{id}/password",
        "/v1/orgs/{org}/users/{id}/unlock",
        "/v1/orgs/{org}/users/{id}/lock",
        "/v1/orgs/{org}/login",
        "/v1/self",
        "/v1/self/password",
        "/v1/logout",
        "/v1/orgs/{org}/api-keys",
        "/v1/orgs/{org}/api-keys/{id}",
        "/v1/orgs/{org}/events",
        "/v1/instance/keys",
        "/v1/instance/keys/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
}
