//! Lifetimes on the test clock: sessions (absolute and idle), API keys against the maximum
//! expiration, password history and expiry with grace, a password made non-compliant by a
//! policy change.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{GOOD, ROOT, T0, spawn_app};

fn at(seconds: i64) -> String {
    (T0 + time::Duration::seconds(seconds))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_at_their_absolute_and_idle_deadlines() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.set_section(
        "acme",
        &admin,
        "session",
        json!({"max_session_duration": 3600, "idle_timeout": 600}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;

    let token = app.login("acme", "alice", GOOD).await.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Used every 500 s, the idle timeout never strikes; the absolute one does at 3600 s.
    for _ in 0..7 {
        app.clock.advance(500);
        assert_eq!(app.get("/v1/self", &token).await.status, StatusCode::OK);
    }
    app.clock.advance(100); // 3600 s after creation
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED
    );

    let token = app.login("acme", "alice", GOOD).await.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(599);
    assert_eq!(app.get("/v1/self", &token).await.status, StatusCode::OK);
    app.clock.advance(600);
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED,
        "idle"
    );

    // Shortening the policy ends existing sessions at once.
    let token = app.login("acme", "alice", GOOD).await.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(700);
    app.set_section(
        "acme",
        &admin,
        "session",
        json!({"idle_timeout": null, "max_session_duration": 600}),
    )
    .await;
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_respect_the_maximum_expiration() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let old = app
        .post("/v1/orgs/acme/api-keys", &admin, json!({"name": "forever"}))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_section("acme", &admin, "api_keys", json!({"max_expiration": 86400}))
        .await;

    let a = app
        .post(
            "/v1/orgs/acme/api-keys",
            &admin,
            json!({"name": "late", "expires_at": at(86401)}),
        )
        .await;
    assert_eq!(a.violation_codes(), ["api_key.expiry_too_late"]);
    let a = app
        .post(
            "/v1/orgs/acme/api-keys",
            &admin,
            json!({"name": "past", "expires_at": at(-1)}),
        )
        .await;
    assert_eq!(a.violation_codes(), ["api_key.expiry_in_past"]);
    let a = app
        .post(
            "/v1/orgs/acme/api-keys",
            &admin,
            json!({"name": "ok", "expires_at": at(3600)}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let key = a.body["key"].as_str().unwrap().to_owned();

    assert_eq!(app.get("/v1/self", &key).await.status, StatusCode::OK);
    app.clock.advance(3600);
    assert_eq!(
        app.get("/v1/self", &key).await.status,
        StatusCode::UNAUTHORIZED,
        "own expiry"
    );
    // A key made before the maximum existed dies once it is older than the maximum.
    app.clock.advance(86400 - 3600 - 1);
    assert_eq!(app.get("/v1/self", &old).await.status, StatusCode::OK);
    app.clock.advance(1);
    assert_eq!(
        app.get("/v1/self", &old).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/v1/self", ROOT).await.status,
        StatusCode::OK,
        "instance keys follow the instance policy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_history_and_expiry_with_grace() {
    let app = spawn_app().await;
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
            json!({"name": "Default", "is_default": true, "history": 2, "expiration_enabled": true,
                   "max_age_days": 30, "grace_period": 86400}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let id = app.user("acme", &admin, "alice", GOOD).await;
    let set = |pw: &'static str| {
        let path = format!("/v1/orgs/acme/users/{id}/password");
        let admin = admin.clone();
        let app = &app;
        async move {
            app.put(
                &path,
                &admin,
                json!({"password": pw, "change_required": false}),
            )
            .await
        }
    };
    let first = "first passphrase of hers 1";
    let second = "second passphrase of hers 2";
    assert_eq!(set(first).await.status, StatusCode::NO_CONTENT);
    assert_eq!(set(second).await.status, StatusCode::NO_CONTENT);
    let a = set(first).await;
    assert_eq!(
        a.violation_codes(),
        ["password.reused"],
        "within the last two"
    );
    let a = set(second).await;
    assert_eq!(
        a.violation_codes(),
        ["password.reused"],
        "the current one counts"
    );
    assert_eq!(
        set(GOOD).await.status,
        StatusCode::NO_CONTENT,
        "three back: allowed again"
    );

    // Expiry: 30 days, then a day of grace limited to a password change, then refused.
    app.clock.advance(30 * 86400 - 1);
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(a.body["password_change_required"], false);
    app.clock.advance(1);
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.body["password_change_required"], true,
        "in grace: restricted"
    );
    let restricted = a.body["session"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/v1/orgs/acme/api-keys", &restricted).await.code(),
        "password_change_required"
    );
    app.clock.advance(86400);
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.code(), "password_expired");
    assert_eq!(
        app.get("/v1/orgs/acme/events", &admin).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requiring_mfa_gives_existing_users_the_grace_from_the_change() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let policy_id = app
        .get("/v1/orgs/acme/password-policies", &admin)
        .await
        .body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put(
        &format!("/v1/orgs/acme/password-policies/{policy_id}"),
        &admin,
        json!({"name": "Default", "is_default": true, "grace_period": 3600}),
    )
    .await;
    app.user("acme", &admin, "alice", GOOD).await;
    app.clock.advance(30 * 86400); // the user is old; MFA becomes required only now
    app.set_section("acme", &admin, "mfa", json!({"required": true}))
        .await;
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["mfa_enroll_by"], at(30 * 86400 + 3600).as_str());
    app.clock.advance(3600);
    let a = app.login("acme", "alice", GOOD).await;
    assert_eq!(a.code(), "mfa_enrollment_overdue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_beyond_what_can_be_stored_is_a_400() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let a = app
        .post(
            "/v1/orgs/acme/api-keys",
            &admin,
            json!({"name": "k", "expires_at": "2300-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert_eq!(a.violation_codes(), ["value.out_of_range"]);
    let _ = ROOT;
}

/// A password that a tightened policy no longer accepts still logs in, to a session that may
/// only change it; the change lifts the restriction.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_made_non_compliant_by_a_policy_change_must_be_changed() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.user("acme", &admin, "alice", GOOD).await;
    let compliant = app.login("acme", "alice", GOOD).await;
    assert_eq!(compliant.body["password_change_required"], false);

    // GOOD has 30 characters; the new minimum is 40.
    let put = app
        .put(
            "/v1/orgs/acme/password-policies/default",
            &admin,
            json!({"name": "Default", "is_default": true, "min_length": 40}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let login = app.login("acme", "alice", GOOD).await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert_eq!(login.body["password_change_required"], true);
    let token = login.body["session"]["token"].as_str().unwrap().to_owned();
    let refused = app.get("/v1/orgs/acme/api-keys", &token).await;
    assert_eq!(refused.body["code"], "password_change_required");

    let new = "a much longer passphrase that fits the new rule 7";
    let changed = app
        .post(
            "/v1/self/password",
            &token,
            json!({"current_password": GOOD, "new_password": new}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["password_change_required"], false);
    let fresh = changed.body["session"]["token"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/orgs/acme/api-keys", fresh).await.status,
        StatusCode::OK
    );
}
