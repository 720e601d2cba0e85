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

/// Every documented operation is served: a request with the documented method to the documented
/// path (placeholders filled) is routed to that path's template, never answered 405 or by the
/// fallback. The reverse holds by construction: the router registers a route only with its
/// operation (`portcullis_http::api_routes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_to_its_template() {
    let app = spawn_app().await;
    let document = portcullis_http::openapi::document();
    let document = serde_json::to_value(&document).unwrap();
    let mut probes = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete: String = template
                .split('/')
                .map(|part| if part.starts_with('{') { "probe" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = app.call(method.clone(), &concrete, None, None).await;
            assert_ne!(
                answer.status.as_u16(),
                405,
                "{method} {template} is documented but not served"
            );
            probes.push((method, template.clone()));
        }
    }
    assert!(probes.len() > 40, "the document lists the API");
    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    let text = String::from_utf8(metrics.bytes).unwrap();
    for (method, template) in probes {
        let series = format!("_count{{method=\"{method}\",route=\"{template}\",");
        assert!(
            text.contains(&series),
            "{method} {template} was not routed to its template"
        );
    }
}

/// Every operation declares each parameter of its path (client generators and fuzzers refuse
/// an operation whose path names a parameter it does not declare), exactly once, as required.
#[test]
fn every_path_parameter_is_declared() {
    let document: serde_json::Value =
        serde_json::from_str(&portcullis_http::openapi::document_json()).unwrap();
    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        let names: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|part| part.split('}').next())
            .collect();
        for (method, operation) in operations.as_object().unwrap() {
            let declared: Vec<&str> = operation["parameters"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter(|p| p["in"] == "path")
                        .inspect(|p| assert_eq!(p["required"], true, "{method} {path}"))
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            let mut sorted = declared.clone();
            sorted.sort_unstable();
            let mut wanted = names.clone();
            wanted.sort_unstable();
            assert_eq!(sorted, wanted, "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked} operations");
}
