//! A whole scope's policy replaced at once (`PUT …/policy`): atomic, validated first,
//! conditional on the version `GET` answered as `ETag`, and a no-op when nothing changes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Answer, App, ROOT, spawn_app};

async fn put_policy(
    app: &App,
    path: &str,
    token: &str,
    body: Value,
    version: Option<&str>,
) -> Answer {
    let mut request = app
        .http
        .request(Method::PUT, format!("{}{path}", app.base))
        .bearer_auth(token)
        .json(&body);
    if let Some(version) = version {
        request = request.header("if-match", format!("\"{version}\""));
    }
    Answer::read(request.send().await.unwrap()).await
}

fn etag(answer: &Answer) -> String {
    answer.headers["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizations_sections_are_replaced_at_once_and_only_at_the_version_read() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 5}),
    )
    .await;
    app.set_section("acme", &admin, "mfa", json!({"required": true}))
        .await;
    let read = app.get("/v1/orgs/acme/policy", &admin).await;
    let version = etag(&read);
    let lockout = read.body["lockout"]["value"].clone();

    // A stale version: 412, nothing written.
    let events = app.event_types("acme", &admin).await.len();
    let stale = put_policy(
        &app,
        "/v1/orgs/acme/policy",
        &admin,
        json!({"sections": {}}),
        Some("0000"),
    )
    .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{:?}",
        stale.body
    );
    assert_eq!(stale.code(), "precondition_failed");
    assert_eq!(app.event_types("acme", &admin).await.len(), events);

    // Every violation at once, nothing written.
    let invalid = put_policy(
        &app,
        "/v1/orgs/acme/policy",
        &admin,
        json!({"sections": {
            "lockout": {"max_password_attempts": 0},
            "session": {"idle_timeout": "soon"},
            "colour": {}
        }}),
        Some(&version),
    )
    .await;
    assert_eq!(
        invalid.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        invalid.body
    );
    let fields: Vec<&str> = invalid.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"sections.colour"), "{fields:?}");
    assert!(
        fields.iter().any(|f| f.starts_with("sections.lockout.")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f.starts_with("sections.session")),
        "{fields:?}"
    );
    assert_eq!(app.event_types("acme", &admin).await.len(), events);

    // Lockout kept as it is, session made the organization's own, mfa inherited again.
    let done = put_policy(
        &app,
        "/v1/orgs/acme/policy",
        &admin,
        json!({"sections": {"lockout": lockout, "session": {"idle_timeout": 600}}}),
        Some(&version),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["changed"], json!(["session"]));
    assert_eq!(done.body["reset"], json!(["mfa"]));
    assert_eq!(etag(&done), done.body["version"].as_str().unwrap());
    let types = app.event_types("acme", &admin).await;
    assert_eq!(
        &types[events..],
        ["policy.session.changed", "policy.mfa.reset"]
    );
    let now = app.get("/v1/orgs/acme/policy", &admin).await;
    assert_eq!(etag(&now), etag(&done));
    assert_eq!(now.body["mfa"]["is_default"], true);
    assert_eq!(now.body["session"]["is_default"], false);
    assert_eq!(now.body["session"]["value"]["idle_timeout"], 600);
    assert_eq!(now.body["lockout"]["value"]["max_password_attempts"], 5);

    // The same document again: nothing written, no event, the same version.
    let again = put_policy(
        &app,
        "/v1/orgs/acme/policy",
        &admin,
        json!({"sections": {"lockout": now.body["lockout"]["value"], "session": now.body["session"]["value"]}}),
        Some(&etag(&now)),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["changed"], json!([]));
    assert_eq!(again.body["reset"], json!([]));
    assert_eq!(etag(&again), etag(&now));
    assert_eq!(app.event_types("acme", &admin).await.len(), types.len());

    // The version read before a change made elsewhere no longer writes.
    app.set_section("acme", &admin, "tokens", json!({})).await;
    let late = put_policy(
        &app,
        "/v1/orgs/acme/policy",
        &admin,
        json!({"sections": {}}),
        Some(&etag(&now)),
    )
    .await;
    assert_eq!(late.status, StatusCode::PRECONDITION_FAILED);
    // Without If-Match it is unconditional: everything inherited again.
    let all = put_policy(
        &app,
        "/v1/orgs/acme/policy",
        &admin,
        json!({"sections": {}}),
        None,
    )
    .await;
    assert_eq!(all.body["reset"], json!(["lockout", "session", "tokens"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_defaults_are_replaced_at_once_and_unlisted_ones_return_to_built_in() {
    let app = spawn_app().await;
    let path = "/v1/instance/policy";
    let patched = app
        .patch("/v1/instance/policy/mfa", ROOT, json!({"required": true}))
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    let read = app.get(path, ROOT).await;
    let version = etag(&read);
    let done = put_policy(
        &app,
        path,
        ROOT,
        json!({"sections": {"lockout": {"max_password_attempts": 7}}}),
        Some(&version),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["changed"], json!(["lockout"]));
    assert_eq!(
        done.body["reset"],
        json!(["mfa"]),
        "back to the built-in default"
    );
    let types = app.event_types("instance", ROOT).await;
    assert_eq!(
        types[types.len() - 2..],
        ["policy.lockout.changed", "policy.mfa.reset"]
    );
    let now = app.get(path, ROOT).await;
    assert_eq!(etag(&now), done.body["version"].as_str().unwrap());
    assert_eq!(
        now.body["mfa"]["value"]["required"], false,
        "back to built-in"
    );
    assert_eq!(now.body["lockout"]["value"]["max_password_attempts"], 7);
    // Organizations inherit the new defaults at once.
    let admin = app.org_with_admin("acme").await;
    let org = app.get("/v1/orgs/acme/policy", &admin).await;
    assert_eq!(org.body["lockout"]["value"]["max_password_attempts"], 7);
    // Organization administrators may not replace the instance defaults, nor auditors an
    // organization's.
    let forbidden = put_policy(&app, path, &admin, json!({"sections": {}}), None).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let auditor = app
        .post(
            "/v1/orgs/acme/api-keys",
            ROOT,
            json!({"name": "a", "roles": ["org_auditor"]}),
        )
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let read_only = put_policy(
        &app,
        "/v1/orgs/acme/policy",
        &auditor,
        json!({"sections": {}}),
        None,
    )
    .await;
    assert_eq!(read_only.status, StatusCode::FORBIDDEN);
    let unknown = put_policy(
        &app,
        "/v1/orgs/nope/policy",
        ROOT,
        json!({"sections": {}}),
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
