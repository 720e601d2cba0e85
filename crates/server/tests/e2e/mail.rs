//! Mail and self-service against a real SMTP exchange (the sink in `smtp_sink`): the lock mail
//! and its one-time unblock link, the reset mail and its one-time token, nothing for unknown
//! users, a mail server that is down and comes back, registration with address verification,
//! self-deletion, administrators told of blocked addresses, and expiry reminders.

use portcullis_server::config::SmtpTls;
use portcullis_server::smtp::SmtpTransport;
use portcullis_service::DeliveryReport;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::smtp_sink::SmtpSink;
use crate::support::{App, GOOD, spawn_app_with};

const NEW_GOOD: &str = "a brand new passphrase of 42";
const PUBLIC: &str = "https://id.example.test";

/// A server that mails through the SMTP server on `port` (delivery driven by the test).
/// A server delivering to the SMTP sink on `port`, its links under `public_url`.
pub(crate) async fn mail_app_with(port: u16, public_url: Option<&str>) -> (App, SmtpTransport) {
    let mut smtp = None;
    let app = spawn_app_with(|c| {
        c.smtp.host = Some("127.0.0.1".into());
        c.smtp.port = port;
        c.smtp.tls = SmtpTls::None;
        c.smtp.interval_secs = 0;
        c.smtp.timeout_secs = 5;
        c.smtp.from = "Portcullis <security@example.test>".into();
        c.public_url = public_url.map(str::to_owned);
        smtp = Some(c.smtp.clone());
    })
    .await;
    let transport = SmtpTransport::new(&smtp.unwrap()).unwrap().unwrap();
    (app, transport)
}

/// One delivery round of the outbox.
pub(crate) async fn deliver(app: &App, transport: &SmtpTransport) -> DeliveryReport {
    let service = app.running.as_ref().unwrap().service.clone();
    service.deliver_mail(transport, 50).await.unwrap()
}

async fn user_with_email(app: &App, admin: &str, login: &str, roles: &[&str]) -> String {
    let a = app
        .post(
            "/v1/orgs/acme/users",
            admin,
            json!({"login": login, "password": GOOD, "email": format!("{login}@example.test"),
                   "roles": roles}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body["id"].as_str().unwrap().to_owned()
}

async fn anonymous(app: &App, path: &str, body: serde_json::Value) -> crate::support::Answer {
    app.call(Method::POST, path, None, Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_mail_arrives_and_its_link_unblocks_exactly_once() {
    let sink = SmtpSink::start().await;
    let (app, transport) = mail_app_with(sink.port, Some(PUBLIC)).await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"max_password_attempts": 3, "lock_duration": null, "allow_self_unblock": true}),
    )
    .await;
    app.set_section("acme", &admin, "brute_force", json!({"enabled": false}))
        .await;
    user_with_email(&app, &admin, "alice", &["member"]).await;
    for _ in 0..3 {
        assert_eq!(
            app.login("acme", "alice", "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login("acme", "alice", GOOD).await.code(),
        "account_locked"
    );

    // Queued with the lock, the token not in it.
    let outbox = app.get("/v1/orgs/acme/outbox", &admin).await;
    assert_eq!(outbox.status, StatusCode::OK, "{:?}", outbox.body);
    let items = outbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["kind"], "account_locked");
    assert_eq!(items[0]["status"], "queued");
    assert!(items[0]["body"].as_str().unwrap().contains("{token}"));
    // Administrators only (the outbox holds addresses); the cursor is a mail id.
    let auditor = app
        .post(
            "/v1/orgs/acme/api-keys",
            crate::support::ROOT,
            json!({"name": "audit", "roles": ["org_auditor"]}),
        )
        .await;
    let auditor = auditor.body["key"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/v1/orgs/acme/outbox", &auditor).await.status,
        StatusCode::FORBIDDEN
    );
    let bad = app.get("/v1/orgs/acme/outbox?after=x", &admin).await;
    assert_eq!(bad.violation_codes(), ["value.invalid"]);

    assert_eq!(
        deliver(&app, &transport).await,
        DeliveryReport {
            sent: 1,
            ..Default::default()
        }
    );
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["alice@example.test"]);
    assert_eq!(mails[0].subject(), "Your account was locked");
    let token = mails[0].token_after("POST /v1/unblock");
    assert!(
        mails[0]
            .body()
            .contains(&format!("{PUBLIC}/unblock?token={token}")),
        "{}",
        mails[0].body()
    );
    let outbox = app.get("/v1/orgs/acme/outbox", &admin).await;
    assert_eq!(outbox.body["items"][0]["status"], "sent");
    assert!(
        !outbox
            .bytes
            .windows(token.len())
            .any(|w| w == token.as_bytes())
    );

    // A forged or other-purpose token does nothing.
    let forged = anonymous(&app, "/v1/unblock", json!({"token": format!("{token}0")})).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert_eq!(forged.violation_codes(), ["token.invalid"]);
    assert_eq!(
        app.login("acme", "alice", GOOD).await.code(),
        "account_locked"
    );

    let used = anonymous(&app, "/v1/unblock", json!({"token": token})).await;
    assert_eq!(used.status, StatusCode::NO_CONTENT, "{:?}", used.body);
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK
    );
    let again = anonymous(&app, "/v1/unblock", json!({"token": token})).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.violation_codes(), ["token.invalid"]);
    assert!(
        app.event_types("acme", &admin)
            .await
            .contains(&"account.unlocked".to_owned())
    );

    // Locked again (a lock is known by when it was placed): the first link does not lift the
    // new lock; the new mail's does.
    app.clock.advance(1);
    for _ in 0..3 {
        app.login("acme", "alice", "wrong").await;
    }
    assert_eq!(
        anonymous(&app, "/v1/unblock", json!({"token": token}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(deliver(&app, &transport).await.sent, 1);
    let second = sink.messages()[1].token_after("POST /v1/unblock");
    assert_ne!(second, token);
    // Self-unblock switched off: the link stops working.
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"allow_self_unblock": false}),
    )
    .await;
    assert_eq!(
        anonymous(&app, "/v1/unblock", json!({"token": second}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    app.set_section(
        "acme",
        &admin,
        "lockout",
        json!({"allow_self_unblock": true}),
    )
    .await;
    assert_eq!(
        anonymous(&app, "/v1/unblock", json!({"token": second}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    sink.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_token_sets_a_compliant_password_once_and_unknown_users_get_nothing() {
    let sink = SmtpSink::start().await;
    let (app, transport) = mail_app_with(sink.port, Some(PUBLIC)).await;
    let admin = app.org_with_admin("acme").await;
    let reset = |login: &'static str| {
        let app = &app;
        async move { anonymous(app, "/v1/orgs/acme/password-reset", json!({"login": login})).await }
    };
    assert_eq!(
        reset("bob").await.status,
        StatusCode::FORBIDDEN,
        "off by default"
    );
    app.set_section(
        "acme",
        &admin,
        "features",
        json!({"forgot_password_enabled": true}),
    )
    .await;
    user_with_email(&app, &admin, "bob", &["member"]).await;

    let unknown = reset("nobody").await;
    let known = reset("bob").await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert_eq!(unknown.bytes, known.bytes, "the same answer");
    // Asking again within five minutes is recorded, not mailed again.
    assert_eq!(reset("bob").await.bytes, known.bytes);
    assert_eq!(deliver(&app, &transport).await.sent, 1, "one mail: bob's");
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["bob@example.test"]);
    let token = mails[0].token_after("POST /v1/password-reset/confirm");
    assert!(
        mails[0]
            .body()
            .contains(&format!("{PUBLIC}/reset-password?token={token}"))
    );

    let confirm = |password: &'static str, token: String| {
        let app = &app;
        async move {
            anonymous(
                app,
                "/v1/password-reset/confirm",
                json!({"token": token, "password": password}),
            )
            .await
        }
    };
    // The full policy check: a weak password and the current one are refused, the token kept.
    let weak = confirm("short", token.clone()).await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST, "{:?}", weak.body);
    assert!(
        weak.violation_codes()
            .contains(&"password.too_short".to_owned())
    );
    let same = confirm(GOOD, token.clone()).await;
    assert_eq!(same.violation_codes(), ["password.reused"]);

    // A reset ends every session of the user.
    let before = app.login("acme", "bob", GOOD).await.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        confirm(NEW_GOOD, token.clone()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/v1/self", &before).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("acme", "bob", GOOD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("acme", "bob", NEW_GOOD).await.status,
        StatusCode::OK
    );
    let again = confirm("yet another passphrase 77", token).await;
    assert_eq!(again.violation_codes(), ["token.invalid"]);
    assert_eq!(
        app.login("acme", "bob", NEW_GOOD).await.status,
        StatusCode::OK
    );

    // The change is announced.
    assert_eq!(deliver(&app, &transport).await.sent, 1);
    let changed = &sink.messages()[1];
    assert_eq!(changed.subject(), "Your password was changed");
    assert_eq!(changed.to, ["bob@example.test"]);
    let events = app.event_types("acme", &admin).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "user.password.reset_requested")
            .count(),
        3
    );
    assert!(events.contains(&"user.password.reset".to_owned()));
    sink.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mails_stay_queued_while_the_smtp_server_is_down_and_go_out_when_it_is_back() {
    // A port with nothing listening.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (app, transport) = mail_app_with(port, Some(PUBLIC)).await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "features",
        json!({"forgot_password_enabled": true}),
    )
    .await;
    let id = user_with_email(&app, &admin, "carol", &["member"]).await;
    // A reset mail (its link works one hour), then a password change notice.
    let asked = anonymous(
        &app,
        "/v1/orgs/acme/password-reset",
        json!({"login": "carol"}),
    )
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let a = app
        .put(
            &format!("/v1/orgs/acme/users/{id}/password"),
            &admin,
            json!({"password": NEW_GOOD, "change_required": false}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    let failed = |n| DeliveryReport {
        failed: n,
        ..Default::default()
    };

    assert_eq!(deliver(&app, &transport).await, failed(2));
    let outbox = app.get("/v1/orgs/acme/outbox", &admin).await;
    for item in outbox.body["items"].as_array().unwrap() {
        assert_eq!(item["status"], "queued");
        assert_eq!(item["attempts"], 1);
        assert!(
            item["last_error"].as_str().unwrap().starts_with("SMTP"),
            "{item}"
        );
    }
    // Not retried before its backoff ends (30 s, then 60 s).
    assert_eq!(deliver(&app, &transport).await, DeliveryReport::default());
    app.clock.advance(31);
    assert_eq!(deliver(&app, &transport).await, failed(2));
    app.clock.advance(31);
    assert_eq!(
        deliver(&app, &transport).await,
        DeliveryReport::default(),
        "now 60 s"
    );

    // Back after an hour: the notice goes out; the reset link expired meanwhile, so its mail is
    // given up rather than sent with a dead link.
    let sink = SmtpSink::start_on(port).await;
    app.clock.advance(3600);
    assert_eq!(
        deliver(&app, &transport).await,
        DeliveryReport {
            sent: 1,
            given_up: 1,
            ..Default::default()
        }
    );
    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["carol@example.test"]);
    assert_eq!(mails[0].subject(), "Your password was changed");
    let items = app.get("/v1/orgs/acme/outbox", &admin).await.body["items"].clone();
    assert_eq!(items[0]["kind"], "password_reset");
    assert_eq!(items[0]["status"], "given_up");
    assert!(items[0]["last_error"].as_str().unwrap().contains("expired"));
    assert_eq!(items[1]["status"], "sent");
    assert_eq!(items[1]["attempts"], 3);
    assert!(items[1]["last_error"].is_null());
    app.clock.advance(3600);
    assert_eq!(
        deliver(&app, &transport).await,
        DeliveryReport::default(),
        "sent once"
    );

    // An address that can never receive is given up at once, not retried forever.
    let dan = app
        .post(
            "/v1/orgs/acme/users",
            &admin,
            json!({"login": "dan", "password": GOOD, "email": "dan at home"}),
        )
        .await;
    let dan = dan.body["id"].as_str().unwrap().to_owned();
    app.put(
        &format!("/v1/orgs/acme/users/{dan}/password"),
        &admin,
        json!({"password": NEW_GOOD, "change_required": false}),
    )
    .await;
    assert_eq!(
        deliver(&app, &transport).await,
        DeliveryReport {
            given_up: 1,
            ..Default::default()
        }
    );
    assert_eq!(sink.messages().len(), 1);
    sink.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_with_verification_then_self_deletion() {
    let sink = SmtpSink::start().await;
    let (app, transport) = mail_app_with(sink.port, Some(PUBLIC)).await;
    let admin = app.org_with_admin("acme").await;
    let register = |body: serde_json::Value| {
        let app = &app;
        async move { anonymous(app, "/v1/orgs/acme/register", body).await }
    };
    let dave = json!({"login": "dave", "password": GOOD, "email": "dave@example.test"});
    assert_eq!(register(dave.clone()).await.status, StatusCode::FORBIDDEN);
    app.set_section(
        "acme",
        &admin,
        "features",
        json!({"register_enabled": true, "force_email_verification": true,
               "user_self_deletion": true}),
    )
    .await;
    let weak =
        register(json!({"login": "dave", "password": "short", "email": "dave@example.test"})).await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(
        weak.violation_codes()
            .contains(&"password.too_short".to_owned())
    );
    let no_mail = register(json!({"login": "dave", "password": GOOD})).await;
    assert_eq!(no_mail.violation_codes(), ["value.required"]);
    let bad_mail = register(json!({"login": "dave", "password": GOOD, "email": "dave"})).await;
    assert_eq!(bad_mail.violation_codes(), ["email.invalid"]);

    let made = register(dave.clone()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    assert_eq!(made.body["roles"], json!(["member"]));
    assert_eq!(made.body["email_verification_pending"], true);
    assert_eq!(register(dave).await.status, StatusCode::CONFLICT);
    assert_eq!(
        app.login("acme", "dave", GOOD).await.code(),
        "email_not_verified"
    );
    assert_eq!(
        app.login("acme", "dave", "wrong").await.status,
        StatusCode::UNAUTHORIZED,
        "the refusal comes only after the password"
    );

    assert_eq!(deliver(&app, &transport).await.sent, 1);
    let token = sink.messages()[0].token_after("POST /v1/verify-email");
    assert_eq!(
        anonymous(&app, "/v1/verify-email", json!({"token": token}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        anonymous(&app, "/v1/verify-email", json!({"token": token}))
            .await
            .violation_codes(),
        ["token.invalid"]
    );
    let session = app.login("acme", "dave", GOOD).await;
    assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
    let token = session.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let wrong = app
        .call(
            Method::DELETE,
            "/v1/self",
            Some(&token),
            Some(json!({"password": "wrong"})),
        )
        .await;
    assert_eq!(wrong.violation_codes(), ["password.incorrect"]);
    let gone = app
        .call(
            Method::DELETE,
            "/v1/self",
            Some(&token),
            Some(json!({"password": GOOD})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
    assert_eq!(
        app.login("acme", "dave", GOOD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Without verification forced, a registered user logs in at once.
    app.set_section(
        "acme",
        &admin,
        "features",
        json!({"force_email_verification": false}),
    )
    .await;
    let erin = register(json!({"login": "erin", "password": GOOD})).await;
    assert_eq!(erin.status, StatusCode::CREATED, "{:?}", erin.body);
    assert_eq!(erin.body["email_verification_pending"], false);
    assert_eq!(app.login("acme", "erin", GOOD).await.status, StatusCode::OK);
    sink.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_hear_of_a_blocked_address() {
    let sink = SmtpSink::start().await;
    let (app, transport) = mail_app_with(sink.port, Some(PUBLIC)).await;
    let admin = app.org_with_admin("acme").await;
    user_with_email(&app, &admin, "root", &["org_admin"]).await;
    user_with_email(&app, &admin, "ops", &["org_admin", "member"]).await;
    user_with_email(&app, &admin, "frank", &["member"]).await;
    app.set_section(
        "acme",
        &admin,
        "brute_force",
        json!({"max_attempts": 2, "window": 600, "block_duration": 600, "notify_admin": true}),
    )
    .await;
    for _ in 0..2 {
        app.login_from("acme", "nobody", "wrong", "198.51.100.7")
            .await;
    }
    assert_eq!(
        app.login_from("acme", "frank", GOOD, "198.51.100.7")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(deliver(&app, &transport).await.sent, 1);
    let mails = sink.messages();
    let mut to = mails[0].to.clone();
    to.sort();
    assert_eq!(to, ["ops@example.test", "root@example.test"]);
    assert_eq!(mails[0].subject(), "Address 198.51.100.7 was blocked");
    sink.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_password_is_announced_once_within_its_warning_days() {
    let sink = SmtpSink::start().await;
    let (app, transport) = mail_app_with(sink.port, Some(PUBLIC)).await;
    let admin = app.org_with_admin("acme").await;
    let policy_id = app
        .get("/v1/orgs/acme/password-policies", &admin)
        .await
        .body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = app
        .put(
            &format!("/v1/orgs/acme/password-policies/{policy_id}"),
            &admin,
            json!({"name": "Default", "is_default": true, "expiration_enabled": true,
                   "max_age_days": 10, "expire_warn_days": 3, "grace_period": 86400}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    user_with_email(&app, &admin, "gina", &["member"]).await;
    let service = app.running.as_ref().unwrap().service.clone();
    let sweep = || async { service.sweep("test", 180).await.unwrap().unwrap() };
    assert_eq!(sweep().await.reminders_queued, 0);
    app.clock.advance(6 * 86400);
    assert_eq!(sweep().await.reminders_queued, 0, "day 6: not yet");
    app.clock.advance(86400 + 1);
    assert_eq!(sweep().await.reminders_queued, 1, "day 7: three days left");
    assert_eq!(sweep().await.reminders_queued, 0, "once per password");
    assert_eq!(deliver(&app, &transport).await.sent, 1);
    let mails = sink.messages();
    assert_eq!(mails[0].to, ["gina@example.test"]);
    assert_eq!(mails[0].subject(), "Your password expires soon");
    app.clock.advance(3 * 86400);
    assert_eq!(sweep().await.reminders_queued, 0, "expired: no reminder");
    sink.stop();
}
