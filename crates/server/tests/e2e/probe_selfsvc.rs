//! Self-service abuse through the real server: registrations count on the client address like
//! failed logins (a blocked address gets 429 before any hash), mails carry no text a registrant
//! chose, and a verified address belongs to one user of an organization.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::mail::{deliver, mail_app_with};
use crate::smtp_sink::SmtpSink;
use crate::support::{Answer, App, GOOD};

/// An anonymous POST.
async fn anonymous(app: &App, path: &str, body: Value) -> Answer {
    app.call(Method::POST, path, None, Some(body)).await
}

/// A registration from client address `ip` (through the trusted local proxy).
async fn register_from(app: &App, body: Value, ip: &str) -> Answer {
    let response = app
        .http
        .post(format!("{}/v1/orgs/acme/register", app.base))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_count_on_the_address_and_a_blocked_address_gets_429_before_any_hash() {
    let sink = SmtpSink::start().await;
    let (app, _transport) = mail_app_with(sink.port, None).await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "features",
        json!({"register_enabled": true, "force_email_verification": true}),
    )
    .await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 3, "window": 600, "block_duration": 900}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;
    const SENDER: &str = "203.0.113.9";
    for i in 0..3 {
        let made = register_from(
            &app,
            json!({"login": format!("user{i}"), "password": GOOD,
                   "email": format!("victim{i}@example.test")}),
            SENDER,
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    }
    let hashes = app.hashes();
    let refused = register_from(
        &app,
        json!({"login": "user9", "password": GOOD, "email": "victim9@example.test"}),
        SENDER,
    )
    .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "ip_blocked");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(app.hashes(), hashes, "no hash for a blocked address");
    // Registrations blocked the address for logins too: the same counter.
    assert_eq!(
        app.login_from("acme", "alice", GOOD, SENDER).await.code(),
        "ip_blocked"
    );
    // Invalid registrations count as well: another address is blocked by them.
    for _ in 0..3 {
        let bad = register_from(&app, json!({"login": "x", "password": ""}), "198.51.100.4").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        register_from(&app, json!({"login": "x", "password": ""}), "198.51.100.4")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let outbox = app.get("/v1/orgs/acme/outbox", &admin).await;
    assert_eq!(
        outbox.body["items"].as_array().unwrap().len(),
        3,
        "one verification mail per accepted registration, none after the block"
    );
    sink.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mails_carry_no_text_the_registrant_chose() {
    let sink = SmtpSink::start().await;
    let (app, transport) = mail_app_with(sink.port, None).await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "features",
        json!({"register_enabled": true, "force_email_verification": true,
               "forgot_password_enabled": true}),
    )
    .await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 1, "notify_user": true}),
    )
    .await;
    let made = anonymous(
        &app,
        "/v1/orgs/acme/register",
        json!({"login": "click.evil.example", "password": GOOD, "email": "target@example.test",
               "display_name": "Click http://evil.example/now"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    // A reset mail and a lock mail for the same user.
    assert_eq!(
        anonymous(
            &app,
            "/v1/orgs/acme/password-reset",
            json!({"login": "click.evil.example"})
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    app.login("acme", "click.evil.example", "wrong").await;
    let report = deliver(&app, &transport).await;
    assert!(report.sent >= 2, "{report:?}");
    let messages = sink.messages();
    assert_eq!(messages.len() as u64, report.sent);
    for m in &messages {
        let (subject, body) = (m.subject(), m.body());
        for chosen in ["evil", "Click", "click"] {
            assert!(!subject.contains(chosen), "{subject}");
            assert!(!body.contains(chosen), "{body}");
        }
        assert!(body.starts_with("Hello,"), "{body}");
    }
    sink.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_address_belongs_to_one_user_of_the_organization() {
    let sink = SmtpSink::start().await;
    let (app, transport) = mail_app_with(sink.port, None).await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "features",
        json!({"register_enabled": true, "force_email_verification": true}),
    )
    .await;
    let register = |login: &str, email: &str| {
        let body = json!({"login": login, "password": GOOD, "email": email});
        let app = &app;
        async move { anonymous(app, "/v1/orgs/acme/register", body).await }
    };
    // Two pending registrations of one address are possible; the first to verify owns it.
    assert_eq!(
        register("ann", "shared@example.test").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        register("ben", "Shared@Example.test").await.status,
        StatusCode::CREATED
    );
    assert_eq!(deliver(&app, &transport).await.sent, 2);
    let messages = sink.messages();
    let token_of = |to: &str| {
        messages
            .iter()
            .find(|m| m.to.iter().any(|t| t.contains(to)))
            .unwrap()
            .token_after("POST /v1/verify-email")
    };
    let (ann, ben) = (
        token_of("shared@example.test"),
        token_of("Shared@Example.test"),
    );
    assert_eq!(
        anonymous(&app, "/v1/verify-email", json!({"token": ann}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let taken = anonymous(&app, "/v1/verify-email", json!({"token": ben})).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{:?}", taken.body);
    assert_eq!(taken.code(), "email.taken");
    assert_eq!(
        app.login("acme", "ben", GOOD).await.code(),
        "email_not_verified"
    );
    // A new registration with the verified address is refused, whatever its case.
    let again = register("cid", " SHARED@example.test").await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    assert_eq!(again.code(), "email.taken");
    assert_eq!(
        again.body.get("detail").and_then(Value::as_str),
        Some("the email address is in use in this organization"),
        "the answer names no user"
    );
    sink.stop();
}
