//! The HTTP edge through the real server: client addresses behind a trusted proxy, bounded
//! request metrics, and strict JSON bodies on the native API and the dialects.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::dialects::{LOGIN_POLICY, ORG};
use crate::support::{Answer, App, GOOD, spawn_app};

/// A login with a raw `X-Forwarded-For` value (the test client is the trusted proxy 127.0.0.1).
async fn login_forwarded(app: &App, login: &str, password: &str, forwarded: &str) -> Answer {
    let response = app
        .http
        .post(format!("{}/v1/orgs/acme/login", app.base))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_forwarded_for_is_refused_and_never_counts_on_the_proxy() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section("acme", &admin, "lockout", json!({"enabled": false}))
        .await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 3, "window": 600, "block_duration": 900}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;

    for garbage in [
        "[2001:db8::5",
        "198.51.100.7,",
        "198.51.100.7, ",
        "fe80::1%eth0",
        "010.009.009.009",
        "not-an-address",
        "10.30.0.2:99999",
    ] {
        for _ in 0..3 {
            let a = login_forwarded(&app, "alice", "wrong", garbage).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{garbage}: {:?}", a.body);
            assert_eq!(a.code(), "forwarded_for.invalid", "{garbage}");
            assert_eq!(
                a.headers["content-type"], "application/problem+json",
                "{garbage}"
            );
        }
    }
    // Nothing was counted on the proxy, nor on any address.
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK,
        "the proxy itself is not blocked"
    );
    assert_eq!(
        app.login_from("acme", "alice", GOOD, "198.51.100.7")
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        !app.event_types("acme", &admin)
            .await
            .iter()
            .any(|t| t == "login.failed" || t == "ip.blocked"),
        "a refused request is no login attempt"
    );

    // The forms proxies write count for the address they name (three failures block it).
    for forwarded in [
        "10.30.0.2:4444",
        "10.30.0.2:1",
        "10.30.0.2",
        "[2001:db8::5]:443",
        "[2001:db8::5]",
        "2001:db8::5",
    ] {
        let a = login_forwarded(&app, "alice", "wrong", forwarded).await;
        assert_eq!(a.code(), "invalid_credentials", "{forwarded}");
    }
    let a = app.login_from("acme", "alice", GOOD, "10.30.0.2").await;
    assert_eq!(
        a.code(),
        "ip_blocked",
        "the ported forms counted for 10.30.0.2"
    );
    let a = app.login_from("acme", "alice", GOOD, "2001:db8::5").await;
    assert_eq!(
        a.code(),
        "ip_blocked",
        "the bracketed forms counted for 2001:db8::5"
    );
    // The proxy and other addresses are still free.
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    for i in 0..300 {
        let method = reqwest::Method::from_bytes(
            format!("PROBE{i:04}{}", "Q".repeat(60 + i % 7)).as_bytes(),
        )
        .unwrap();
        for path in ["/healthz", "/v1/orgs", &format!("/no/such/path/{i}")] {
            let response = app
                .http
                .request(method.clone(), format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_client_error(), "{path}");
        }
    }
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.len() < 32 * 1024, "{} bytes", metrics.len());
    assert!(metrics.contains("method=\"other\""));
    assert!(!metrics.contains("PROBE"));
    assert!(metrics.contains("route=\"unmatched\""));
    assert!(!metrics.contains("/no/such/path"));
}

/// A raw JSON body sent with `method` to `path`.
async fn raw(app: &App, method: reqwest::Method, path: &str, token: &str, body: &str) -> Answer {
    let response = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_bodies_are_read_strictly_everywhere() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.user("acme", &admin, "alice", GOOD).await;
    let patch = reqwest::Method::PATCH;

    let body = format!(r#"{{"login": "alice", "password": "{GOOD}"}} trailing junk"#);
    let a = raw(
        &app,
        reqwest::Method::POST,
        "/v1/orgs/acme/login",
        "x",
        &body,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert_eq!(a.code(), "validation_failed");
    assert_eq!(a.violation_codes(), ["value.invalid"]);

    let path = "/v1/orgs/acme/policy/lockout";
    let before = app.get(path, &admin).await.body["value"].clone();
    for body in [
        r#"{"max_password_attempts": 5}{"window": 60}"#,
        r#"{"max_password_attempts": 5, "max_password_attempts": 6}"#,
    ] {
        let a = raw(&app, patch.clone(), path, &admin, body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {:?}", a.body);
        assert_eq!(a.violation_codes(), ["value.invalid"], "{body}");
    }
    assert_eq!(
        app.get(path, &admin).await.body["value"],
        before,
        "nothing applied"
    );

    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let a = raw(&app, patch.clone(), path, &admin, &deep).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    // A dialect answers in its own envelope.
    let settings = "/api/v1/tenants/acme/settings";
    for body in [r#"{"a": 1} {"b": 2}"#, r#"{"a": {"b": 1, "b": 2}}"#] {
        let a = raw(&app, patch.clone(), settings, &admin, body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {:?}", a.body);
        assert_eq!(a.body["error"], "invalid_request", "{body}");
    }
}

/// Every dialect reads its bodies strictly: trailing data after the JSON value and duplicate
/// keys are refused with 400 in the vendor's own envelope, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_dialect_refuses_trailing_data_and_duplicate_keys() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let before = app.policy_bytes(ORG).await;
    let bearer = format!("Bearer {admin}");
    let json_type = ("content-type", "application/json");
    let scaleway = format!("/iam/v1alpha1/organizations/{ORG}/security-settings");
    let plusauth = format!("/api/v1/tenants/{ORG}/settings");
    // (dialect, method, path, headers, a good body, the envelope's error field)
    type Write<'a> = (
        &'a str,
        Method,
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a str,
        &'a str,
    );
    let writes: [Write; 6] = [
        (
            "zitadel v1",
            Method::POST,
            "/management/v1/policies/lockout",
            vec![
                ("authorization", &bearer),
                ("x-zitadel-orgid", ORG),
                json_type,
            ],
            r#"{"maxPasswordAttempts": 4}"#,
            "code",
        ),
        (
            "scaleway",
            Method::PATCH,
            &scaleway,
            vec![("x-auth-token", &admin), json_type],
            r#"{"login_attempts_before_locked": 4}"#,
            "type",
        ),
        (
            "zitadel v2 (a read with a body)",
            Method::POST,
            "/zitadel.settings.v2.SettingsService/GetLockoutSettings",
            vec![("authorization", &bearer), json_type],
            r#"{"ctx": {"orgId": "11111111-1111-1111-1111-111111111111"}}"#,
            "code",
        ),
        (
            "huawei",
            Method::PUT,
            LOGIN_POLICY,
            vec![("x-auth-token", &admin), json_type],
            r#"{"login_policy": {"login_failed_times": 4}}"#,
            "error_msg",
        ),
        (
            "sailpoint",
            Method::PUT,
            "/password-policies/v1/default",
            vec![("authorization", &bearer), json_type],
            r#"{"name": "default", "minLength": 9}"#,
            "detailCode",
        ),
        (
            "plusauth",
            Method::PATCH,
            &plusauth,
            vec![("authorization", &bearer), json_type],
            r#"{"policies": {"account_blocking": {"allowed_attempts": 6}}}"#,
            "error",
        ),
    ];
    for (dialect, method, path, headers, good, envelope) in &writes {
        let trailing = format!("{good} {good}");
        // The good body's first key, repeated inside the same object.
        let open = good.find('{').unwrap() + 1;
        let first = &good[open..good.find(',').unwrap_or(good.len() - 1)];
        let duplicate = format!("{{{first}, {}", &good[open..]);
        for body in [
            trailing.as_str(),
            &format!("{good}junk"),
            duplicate.as_str(),
        ] {
            let a = app.send(method.clone(), path, headers, body).await;
            assert_eq!(
                a.status,
                StatusCode::BAD_REQUEST,
                "{dialect} {body}: {:?}",
                a.body
            );
            assert!(
                a.body.get(*envelope).is_some(),
                "{dialect} answers in its envelope: {:?}",
                a.body
            );
        }
        assert_eq!(
            app.policy_bytes(ORG).await,
            before,
            "{dialect}: nothing written"
        );
    }
    // The same bodies, read once, are good: the refusals above were about the JSON alone
    // (ZITADEL first: its add needs a lockout section the organization does not own yet).
    for (dialect, method, path, headers, good, _) in &writes {
        let a = app.send(method.clone(), path, headers, good).await;
        assert!(a.status.is_success(), "{dialect} {good}: {:?}", a.body);
    }
}

/// Header names go out in their canonical case, as clients that keep headers in a plain
/// (case-sensitive) map read them; a client address still reaches the handlers; a keep-alive
/// connection serves several requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_names_are_written_in_their_canonical_case() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = |close: bool| {
        format!(
            "GET /v1/orgs?limit=1 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n{}\r\n",
            crate::support::ROOT,
            if close { "Connection: close\r\n" } else { "" }
        )
    };
    stream.write_all(request(false).as_bytes()).await.unwrap();
    stream.write_all(request(true).as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{text}");
    for name in ["Content-Type: ", "X-Request-Id: ", "Content-Length: "] {
        assert_eq!(
            text.matches(&format!("\r\n{name}")).count(),
            2,
            "{name} in {text}"
        );
        assert!(
            !text.contains(&format!("\r\n{}", name.to_lowercase())),
            "{text}"
        );
    }
}

/// `/metrics` is OpenMetrics text from `prometheus-client`, with the series an operator alerts
/// on: locks and blocks, a sweep's duration and the rows it removed, the outbox's backlog and
/// the age of its oldest mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_series_count_sweeps_locks_and_the_outbox() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 1, "notify_user": true}),
    )
    .await;
    let id = app.user("acme", &admin, "alice", GOOD).await;
    app.patch(
        &format!("/v1/orgs/acme/users/{id}"),
        &admin,
        json!({"email": "alice@example.test"}),
    )
    .await;
    // One lock, which queues one mail (no SMTP server: it waits in the outbox).
    app.login("acme", "alice", "wrong password").await;
    app.clock.advance(90);
    let service = app.running.as_ref().unwrap().service.clone();
    service.sweep("test", 180).await.unwrap().unwrap();

    let response = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
    );
    let text = response.text().await.unwrap();
    for line in [
        "portcullis_account_locks_total 1",
        "portcullis_logins_total{result=\"invalid_credentials\"} 1",
        "portcullis_sweep_duration_seconds_count 1",
        "portcullis_outbox_backlog 1",
        "portcullis_outbox_oldest_age_seconds 90.0",
        "# EOF",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(text.contains("portcullis_sweep_removed_total{kind=\"counters\"}"));
    assert!(text.contains("portcullis_ip_blocks_total 0"));
}

/// A typed body is a JSON object: an array (which serde would read into a struct's fields in
/// order) is refused and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_an_object_is_refused() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    for (path, body) in [
        ("/v1/orgs", "[null, null]"),
        ("/v1/orgs", "[\"x\", \"X\"]"),
        ("/v1/orgs/acme/users", "[\"mallory\"]"),
        ("/v1/orgs/acme/api-keys", "\"k\""),
    ] {
        let a = raw(&app, Method::POST, path, crate::support::ROOT, body).await;
        assert_eq!(
            a.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {:?}",
            a.body
        );
        assert_eq!(a.body["violations"][0]["code"], "value.invalid");
    }
    let orgs = app.get("/v1/orgs", crate::support::ROOT).await;
    assert_eq!(
        orgs.body["items"].as_array().unwrap().len(),
        1,
        "nothing created"
    );
    let users = app.get("/v1/orgs/acme/users", &admin).await;
    assert!(users.body["items"].as_array().unwrap().is_empty());
    // A policy section is a free JSON value: the password section's list still goes through.
    let list = app.get("/v1/orgs/acme/policy", &admin).await.body["password"]["value"].clone();
    let put = raw(
        &app,
        Method::PUT,
        "/v1/orgs/acme/policy/password",
        &admin,
        &list.to_string(),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
}
