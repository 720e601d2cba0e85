//! What the vendors' JavaScript clients need beyond the Python ones: SailPoint's token request
//! in `multipart/form-data` (and an honest error for a body in another media type), SailPoint's
//! `/beta` and `/v2024` bases answering exactly like `/v3`, and Scaleway-shaped keys (an `SCW…`
//! id and a UUID secret) minted through `/v1`, stored hashed and accepted by the Scaleway facade.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Answer, App, ROOT, spawn_app};

const ORG: &str = "44444444-4444-4444-4444-444444444444";

/// A `multipart/form-data` body of text fields, as the `form-data` package writes it, and its
/// Content-Type.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "--------------------------123456789012345678901234";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// An organization key's id and secret, for client credentials.
async fn client_key(app: &App, roles: serde_json::Value) -> (String, String) {
    let created = app
        .post(
            &format!("/v1/orgs/{ORG}/api-keys"),
            ROOT,
            json!({"name": "client", "roles": roles}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    (
        created.body["id"].as_str().unwrap().to_owned(),
        created.body["key"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sailpoint_token_request_in_multipart_form_data() {
    let app = spawn_app().await;
    app.org_with_admin(ORG).await;
    let (id, secret) = client_key(&app, json!(["org_admin"])).await;
    let (body, content_type) = multipart(&[
        ("grant_type", "client_credentials"),
        ("client_id", &id),
        ("client_secret", &secret),
    ]);
    let token = app
        .send(
            Method::POST,
            "/oauth/token",
            &[("content-type", &content_type)],
            &body,
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{:?}", token.body);
    assert_eq!(token.body["token_type"], "bearer");
    let access = token.body["access_token"].as_str().unwrap();
    let listed = app.get("/v2024/password-policies", access).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);

    // The id and secret may come in HTTP Basic beside a multipart grant type.
    let (body, content_type) = multipart(&[("grant_type", "client_credentials")]);
    let response = app
        .http
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(&id, Some(&secret))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let token = Answer::read(response).await;
    assert_eq!(token.status, StatusCode::OK, "{:?}", token.body);

    // A wrong secret in multipart is the same `invalid_client` as in a form.
    let (body, content_type) = multipart(&[
        ("grant_type", "client_credentials"),
        ("client_id", &id),
        ("client_secret", "pck_wrong"),
    ]);
    let refused = app
        .send(
            Method::POST,
            "/oauth/token",
            &[("content-type", &content_type)],
            &body,
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.body["error"], "invalid_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sailpoint_token_request_in_another_media_type_is_refused_honestly() {
    let app = spawn_app().await;
    app.org_with_admin(ORG).await;
    let (id, secret) = client_key(&app, json!(["org_admin"])).await;
    let json_body =
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
            .to_string();
    let refused = app
        .send(
            Method::POST,
            "/oauth/token",
            &[("content-type", "application/json")],
            &json_body,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.body,
        json!({"error": "invalid_request", "error_description":
            "the body must be application/x-www-form-urlencoded or multipart/form-data, not application/json"})
    );
    assert!(
        !String::from_utf8_lossy(&refused.bytes).contains(&secret),
        "no error repeats the secret"
    );

    // A multipart body that is not one (no closing boundary, no boundary at all).
    for content_type in ["multipart/form-data; boundary=abc", "multipart/form-data"] {
        let broken = app
            .send(
                Method::POST,
                "/oauth/token",
                &[("content-type", content_type)],
                "grant_type=client_credentials",
            )
            .await;
        assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{content_type}");
        assert_eq!(broken.body["error"], "invalid_request", "{content_type}");
        assert_eq!(
            broken.body["error_description"],
            "the multipart/form-data body is malformed"
        );
    }

    // No grant type at all is a malformed request, not an unsupported grant.
    let (body, content_type) = multipart(&[("client_id", &id), ("client_secret", &secret)]);
    let missing = app
        .send(
            Method::POST,
            "/oauth/token",
            &[("content-type", &content_type)],
            &body,
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["error"], "invalid_request");
    // Another grant type still is.
    let (body, content_type) = multipart(&[("grant_type", "password")]);
    let other = app
        .send(
            Method::POST,
            "/oauth/token",
            &[("content-type", &content_type)],
            &body,
        )
        .await;
    assert_eq!(other.body["error"], "unsupported_grant_type");
    // A form without a Content-Type is read as a form, as before.
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let bare = app.send(Method::POST, "/oauth/token", &[], &form).await;
    assert_eq!(bare.status, StatusCode::OK, "{:?}", bare.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sailpoint_beta_and_v2024_answer_exactly_like_v3() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let bearer = format!("Bearer {admin}");
    let json_headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
        ("x-request-id", "same-id"),
    ];
    let bases = ["/v3", "/beta", "/v2024"];
    let answer_of = |status: StatusCode, bytes: &[u8]| (status, bytes.to_vec());

    // Reads of the inherited list: the same status, header and bytes everywhere.
    let mut reads = Vec::new();
    for base in bases {
        let read = app
            .send(
                Method::GET,
                &format!("{base}/password-policies?count=true&limit=10"),
                &json_headers,
                "",
            )
            .await;
        assert_eq!(read.status, StatusCode::OK, "{base}: {:?}", read.body);
        assert_eq!(read.headers["X-Total-Count"], "1", "{base}");
        reads.push(answer_of(read.status, &read.bytes));
    }
    assert!(reads.windows(2).all(|w| w[0] == w[1]), "{reads:?}");

    // Create through beta, replace through v2024, read through all three, delete through beta.
    let created = app
        .send(
            Method::POST,
            "/beta/password-policies",
            &json_headers,
            r#"{"id": "beta-made", "name": "Beta", "minLength": 12, "useDictionary": true}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
    let replaced = app
        .send(
            Method::PUT,
            "/v2024/password-policies/beta-made",
            &json_headers,
            r#"{"name": "Beta", "minLength": 16, "useDictionary": true}"#,
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{:?}", replaced.body);
    assert_eq!(replaced.body["minLength"], 16);
    let mut reads = Vec::new();
    for base in bases {
        let read = app
            .send(
                Method::GET,
                &format!("{base}/password-policies/beta-made"),
                &json_headers,
                "",
            )
            .await;
        reads.push(answer_of(read.status, &read.bytes));
    }
    assert_eq!(reads[0].0, StatusCode::OK);
    assert!(reads.windows(2).all(|w| w[0] == w[1]), "{reads:?}");
    let native = app.get(&format!("/v1/orgs/{ORG}/policy"), &admin).await;
    let policies = native.body["password"]["value"].as_array().unwrap();
    let made = policies.iter().find(|p| p["id"] == "beta-made").unwrap();
    assert_eq!(
        made["min_length"], 16,
        "the write reached the canonical policy"
    );

    // Errors too: the same 404 and 400 bodies.
    let mut missing = Vec::new();
    let mut invalid = Vec::new();
    for base in bases {
        let m = app
            .send(
                Method::GET,
                &format!("{base}/password-policies/nothing"),
                &json_headers,
                "",
            )
            .await;
        missing.push(answer_of(m.status, &m.bytes));
        let i = app
            .send(
                Method::PUT,
                &format!("{base}/password-policies/beta-made"),
                &json_headers,
                r#"{"minLength": "x"}"#,
            )
            .await;
        invalid.push(answer_of(i.status, &i.bytes));
    }
    assert_eq!(missing[0].0, StatusCode::NOT_FOUND);
    assert!(missing.windows(2).all(|w| w[0] == w[1]), "{missing:?}");
    assert_eq!(invalid[0].0, StatusCode::BAD_REQUEST);
    assert!(invalid.windows(2).all(|w| w[0] == w[1]), "{invalid:?}");

    let deleted = app
        .send(
            Method::DELETE,
            "/beta/password-policies/beta-made",
            &json_headers,
            "",
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.bytes.is_empty());
    let gone = app.get("/v2024/password-policies/beta-made", &admin).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // Without credentials, SailPoint's gateway answer under every base.
    for base in bases {
        let anonymous = app
            .send(Method::GET, &format!("{base}/password-policies"), &[], "")
            .await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{base}");
        assert!(
            anonymous.body["error"]
                .as_str()
                .unwrap()
                .starts_with("JWT validation failed"),
            "{base}"
        );
    }
}

fn is_scaleway_access_key(id: &str) -> bool {
    id.len() == 20
        && id.starts_with("SCW")
        && id[3..]
            .bytes()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
}

fn is_uuid_v4(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && text
            .bytes()
            .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        && groups[2].starts_with('4')
        && "89ab".contains(&groups[3][..1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaleway_shaped_keys_are_minted_hashed_and_accepted() {
    let app = spawn_app().await;
    app.org_with_admin(ORG).await;
    let created = app
        .post(
            &format!("/v1/orgs/{ORG}/api-keys"),
            ROOT,
            json!({"name": "scaleway sdk", "roles": ["org_admin"], "format": "scaleway"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let secret = created.body["key"].as_str().unwrap().to_owned();
    assert!(is_scaleway_access_key(&id), "{id}");
    assert!(is_uuid_v4(&secret), "{secret}");
    assert_eq!(created.body["kind"], "bearer");

    // The Scaleway facade takes the secret in x-auth-token, for reads and writes.
    let path = format!("/iam/v1alpha1/organizations/{ORG}/security-settings");
    let read = app
        .send(Method::GET, &path, &[("x-auth-token", &secret)], "{}")
        .await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    let written = app
        .send(
            Method::PATCH,
            &path,
            &[
                ("x-auth-token", &secret),
                ("content-type", "application/json; charset=utf-8"),
            ],
            r#"{"login_attempts_before_locked": 7}"#,
        )
        .await;
    assert_eq!(written.status, StatusCode::OK, "{:?}", written.body);
    let native = app.get(&format!("/v1/orgs/{ORG}/policy"), ROOT).await;
    assert_eq!(native.body["lockout"]["value"]["max_password_attempts"], 7);

    // A wrong secret of the same shape, and the id in place of the secret, are refused.
    for wrong in ["00000000-0000-4000-8000-000000000000", id.as_str()] {
        let refused = app
            .send(Method::GET, &path, &[("x-auth-token", wrong)], "")
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(refused.body["type"], "denied_authentication");
    }
    // Lists name the key and never show its secret.
    let listed = app.get(&format!("/v1/orgs/{ORG}/api-keys"), ROOT).await;
    assert!(!String::from_utf8_lossy(&listed.bytes).contains(&secret));
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == id.as_str())
    );

    // Stored hashed: the SQLite files hold the digest and never the secret.
    if !crate::support::on_postgres() {
        let digest = portcullis_service::token_hash(&secret);
        let mut stored = Vec::new();
        for entry in std::fs::read_dir(&app._dir.0).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("portcullis.db") {
                stored.extend(std::fs::read(&path).unwrap());
            }
        }
        let stored = String::from_utf8_lossy(&stored);
        assert!(stored.contains(&digest), "the digest is stored");
        assert!(!stored.contains(&secret), "the secret is not");
    }

    // Deleting the key ends it.
    let deleted = app
        .delete(&format!("/v1/orgs/{ORG}/api-keys/{id}"), ROOT)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let ended = app
        .send(Method::GET, &path, &[("x-auth-token", &secret)], "")
        .await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_formats_are_checked() {
    let app = spawn_app().await;
    app.org_with_admin(ORG).await;
    let keys = format!("/v1/orgs/{ORG}/api-keys");
    let native = app
        .post(&keys, ROOT, json!({"name": "n", "format": "native"}))
        .await;
    assert_eq!(native.status, StatusCode::CREATED, "{:?}", native.body);
    assert!(native.body["key"].as_str().unwrap().starts_with("pck_"));
    assert!(native.body["id"].as_str().unwrap().starts_with("key_"));
    let unknown = app
        .post(&keys, ROOT, json!({"name": "n", "format": "aws"}))
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        unknown.body
    );
    // Access keys and instance keys have one shape: the field is unknown to them.
    let access = app
        .post(
            &format!("/v1/orgs/{ORG}/access-keys"),
            ROOT,
            json!({"name": "a", "format": "scaleway"}),
        )
        .await;
    assert_eq!(access.status, StatusCode::BAD_REQUEST, "{:?}", access.body);
    let instance = app
        .post(
            "/v1/instance/keys",
            ROOT,
            json!({"name": "i", "format": "scaleway"}),
        )
        .await;
    assert_eq!(
        instance.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        instance.body
    );
    // A Scaleway-shaped key is limited by the policy like any other.
    app.set_section(ORG, ROOT, "api_keys", json!({"max_expiration": 3600}))
        .await;
    let unbounded = app
        .post(&keys, ROOT, json!({"name": "s", "format": "scaleway"}))
        .await;
    assert_eq!(unbounded.status, StatusCode::BAD_REQUEST);
    assert_eq!(unbounded.violation_codes(), ["api_key.expiry_required"]);
}
