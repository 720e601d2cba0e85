//! Session inventory and revocation by administrators (a user's sessions with where they came
//! from; one session, all of a user's, the whole organization), and passwords expired now (one
//! user, an organization, those set before a date), over the API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Answer, App, GOOD, ROOT, T0, spawn_app};

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn token(a: &Answer) -> String {
    a.body["session"]["token"].as_str().unwrap().to_owned()
}

/// A login from `ip` with a `User-Agent` header.
async fn login_with_agent(app: &App, org: &str, login: &str, ip: &str, agent: &str) -> String {
    let response = app
        .http
        .post(format!("{}/v1/orgs/{org}/login", app.base))
        .header("x-forwarded-for", ip)
        .header("user-agent", agent)
        .json(&json!({"login": login, "password": GOOD}))
        .send()
        .await
        .unwrap();
    let answer = Answer::read(response).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    token(&answer)
}

/// An `org_auditor` key of acme (made with the instance key: an organization administrator
/// gives only roles it holds).
async fn auditor_key(app: &App, _admin: &str) -> String {
    let created = app
        .post(
            "/v1/orgs/acme/api-keys",
            ROOT,
            json!({"name": "audit", "roles": ["org_auditor"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["key"].as_str().unwrap().to_owned()
}

fn items(a: &Answer) -> Vec<Value> {
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_see_and_end_a_users_sessions_and_sign_the_organization_out() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let other_admin = app.org_with_admin("globex").await;
    let auditor = auditor_key(&app, &admin).await;
    let alice = app.user("acme", &admin, "alice", GOOD).await;
    let bob = app.user("acme", &admin, "bob", GOOD).await;
    app.user("globex", &other_admin, "carol", GOOD).await;

    let phone = login_with_agent(&app, "acme", "alice", "203.0.113.7", "Phone/2.0\tx").await;
    let laptop = login_with_agent(&app, "acme", "alice", "198.51.100.4", &"L".repeat(400)).await;
    let bobs = token(&app.login("acme", "bob", GOOD).await);
    let carols = token(&app.login("globex", "carol", GOOD).await);

    // The inventory: where each session came from, never a token; auditors may read it.
    let path = format!("/v1/orgs/acme/users/{alice}/sessions");
    let listed = app.get(&path, &auditor).await;
    let sessions = items(&listed);
    assert_eq!(sessions.len(), 2);
    assert!(
        !listed.body.to_string().contains(&phone) && !listed.body.to_string().contains(&laptop)
    );
    let by_ip = |ip: &str| {
        sessions
            .iter()
            .find(|s| s["client_ip"] == ip)
            .unwrap_or_else(|| panic!("{ip} in {sessions:?}"))
            .clone()
    };
    assert_eq!(
        by_ip("203.0.113.7")["user_agent"],
        "Phone/2.0x",
        "controls dropped"
    );
    assert_eq!(
        by_ip("198.51.100.4")["user_agent"].as_str().unwrap().len(),
        256,
        "cut to 256 characters"
    );
    assert_eq!(by_ip("203.0.113.7")["created_at"], json!(rfc3339(T0)));
    // Paged by id.
    let first = app.get(&format!("{path}?limit=1"), &admin).await;
    assert_eq!(items(&first).len(), 1);
    let after = first.body["next_after"].as_str().unwrap().to_owned();
    let rest = items(
        &app.get(&format!("{path}?limit=1&after={after}"), &admin)
            .await,
    );
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0]["id"], first.body["items"][0]["id"]);
    // Out of reach: another organization's administrator, an unknown user, an auditor's write.
    assert_eq!(
        app.get(&path, &other_admin).await.status,
        StatusCode::NOT_FOUND,
        "another organization is not even seen"
    );
    assert_eq!(
        app.get("/v1/orgs/acme/users/usr_nobody/sessions", &admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&path, &auditor).await.status,
        StatusCode::FORBIDDEN
    );

    // One session: only under its own user.
    let phone_id = by_ip("203.0.113.7")["id"].as_str().unwrap().to_owned();
    let wrong_user = app
        .delete(
            &format!("/v1/orgs/acme/users/{bob}/sessions/{phone_id}"),
            &admin,
        )
        .await;
    assert_eq!(wrong_user.status, StatusCode::NOT_FOUND);
    let one = app.delete(&format!("{path}/{phone_id}"), &admin).await;
    assert_eq!(one.status, StatusCode::NO_CONTENT, "{:?}", one.body);
    assert_eq!(
        app.get("/v1/self", &phone).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/v1/self", &laptop).await.status, StatusCode::OK);
    assert_eq!(
        app.delete(&format!("{path}/{phone_id}"), &admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // All of a user's.
    let again = token(&app.login("acme", "alice", GOOD).await);
    let all = app.delete(&path, &admin).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["ended"], 2);
    for gone in [&laptop, &again] {
        assert_eq!(
            app.get("/v1/self", gone).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.get("/v1/self", &bobs).await.status, StatusCode::OK);

    // The whole organization; another organization keeps its sessions.
    let alice_again = token(&app.login("acme", "alice", GOOD).await);
    let out = app.delete("/v1/orgs/acme/sessions", &admin).await;
    assert_eq!(out.status, StatusCode::OK, "{:?}", out.body);
    assert_eq!(out.body["ended"], 2);
    for gone in [&bobs, &alice_again] {
        assert_eq!(
            app.get("/v1/self", gone).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.get("/v1/self", &carols).await.status, StatusCode::OK);
    assert_eq!(
        app.delete("/v1/orgs/acme/sessions", &other_admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete("/v1/orgs/acme/sessions", &admin).await.body["ended"],
        0
    );

    let events = app.get("/v1/orgs/acme/events?limit=500", &admin).await.body;
    let of = |kind: &str| -> Vec<Value> {
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind)
            .cloned()
            .collect()
    };
    assert_eq!(of("session.revoked").len(), 1);
    let user_ended = of("user.sessions_ended");
    assert_eq!(user_ended.len(), 1);
    assert_eq!(user_ended[0]["payload"]["reason"], "admin");
    assert_eq!(user_ended[0]["payload"]["sessions"], 2);
    let org_ended = of("org.sessions_ended");
    assert_eq!(org_ended.len(), 1, "none when nothing ended");
    assert_eq!(org_ended[0]["payload"]["sessions"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_password_limits_the_next_login_to_a_change() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let alice = app.user("acme", &admin, "alice", GOOD).await;
    let auditor = auditor_key(&app, &admin).await;
    let path = format!("/v1/orgs/acme/users/{alice}/password/expire");
    assert_eq!(
        app.post(&path, &auditor, json!({})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(
            "/v1/orgs/acme/users/usr_nobody/password/expire",
            &admin,
            json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    app.clock.advance(60);
    let expired = app.post(&path, &admin, json!({})).await;
    assert_eq!(expired.status, StatusCode::OK, "{:?}", expired.body);
    assert_eq!(expired.body["password_change_required"], true);
    let when = expired.body["password_expired_at"].clone();
    assert!(when.is_string(), "{:?}", expired.body);
    app.clock.advance(60);
    let twice = app.post(&path, &admin, json!({})).await;
    assert_eq!(
        twice.body["password_expired_at"], when,
        "the first expiry stands"
    );

    // The same password still logs in, limited to a change; the change clears the expiry.
    let login = app.login("acme", "alice", GOOD).await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert_eq!(login.body["password_change_required"], true);
    let limited = token(&login);
    assert_eq!(
        app.get("/v1/self/sessions", &limited).await.status,
        StatusCode::FORBIDDEN,
        "limited to the change"
    );
    let new_password = "a different long passphrase";
    let changed = app
        .post(
            "/v1/self/password",
            &limited,
            json!({"current_password": GOOD, "new_password": new_password}),
        )
        .await;
    assert!(changed.status.is_success(), "{:?}", changed.body);
    let user = app
        .get(&format!("/v1/orgs/acme/users/{alice}"), &admin)
        .await
        .body;
    assert_eq!(user["password_expired_at"], Value::Null);
    let login = app.login("acme", "alice", new_password).await;
    assert_eq!(
        login.body["password_change_required"], false,
        "{:?}",
        login.body
    );

    let types = app.event_types("acme", &admin).await;
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "user.password.expired")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizations_passwords_expire_all_or_those_set_before_a_date() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let other_admin = app.org_with_admin("globex").await;
    let old = app.user("acme", &admin, "old", GOOD).await;
    app.clock.advance(3600);
    let recent = app.user("acme", &admin, "recent", GOOD).await;
    let elsewhere = app.user("globex", &other_admin, "carol", GOOD).await;
    let path = "/v1/orgs/acme/passwords/expire";

    // Exactly one of `all` and `changed_before`; nothing written otherwise.
    let neither = app.post(path, &admin, json!({})).await;
    assert_eq!(neither.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        neither.body["violations"][0]["field"], "all",
        "{:?}",
        neither.body
    );
    let both = app
        .post(
            path,
            &admin,
            json!({"all": true, "changed_before": rfc3339(T0)}),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(both.body["violations"][0]["field"], "changed_before");
    let garbled = app
        .post(path, &admin, json!({"changed_before": "yesterday"}))
        .await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST);
    let far = app
        .post(
            path,
            &admin,
            json!({"changed_before": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(far.status, StatusCode::BAD_REQUEST, "{:?}", far.body);
    assert_eq!(far.body["violations"][0]["field"], "changed_before");
    let user = |org: &'static str, key: String, id: String| {
        let app = &app;
        async move {
            app.get(&format!("/v1/orgs/{org}/users/{id}"), &key)
                .await
                .body["password_expired_at"]
                .clone()
        }
    };
    assert_eq!(user("acme", admin.clone(), old.clone()).await, Value::Null);

    let cutoff = rfc3339(T0 + time::Duration::seconds(60));
    let some = app
        .post(path, &admin, json!({"changed_before": cutoff}))
        .await;
    assert_eq!(some.status, StatusCode::OK, "{:?}", some.body);
    assert_eq!(some.body["expired"], 1);
    assert!(user("acme", admin.clone(), old.clone()).await.is_string());
    assert_eq!(
        user("acme", admin.clone(), recent.clone()).await,
        Value::Null
    );

    let all = app.post(path, &admin, json!({"all": true})).await;
    assert_eq!(all.body["expired"], 1, "the one not expired yet");
    assert!(
        user("acme", admin.clone(), recent.clone())
            .await
            .is_string()
    );
    assert_eq!(
        user("globex", other_admin.clone(), elsewhere).await,
        Value::Null
    );
    assert_eq!(
        app.post(
            "/v1/orgs/globex/passwords/expire",
            &other_admin,
            json!({"all": true})
        )
        .await
        .body["expired"],
        1,
        "globex's own"
    );
    assert_eq!(
        app.login("acme", "recent", GOOD).await.body["password_change_required"],
        true
    );

    let events = app.get("/v1/orgs/acme/events?limit=500", &admin).await.body;
    let expired: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "org.passwords_expired")
        .collect();
    assert_eq!(expired.len(), 2);
    assert_eq!(expired[0]["payload"]["changed_before"], cutoff);
    assert_eq!(expired[0]["payload"]["users"], 1);
    assert_eq!(expired[1]["payload"]["changed_before"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_held_to_a_change_may_change_the_password_whatever_its_age() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let alice = app.user("acme", &admin, "alice", GOOD).await;
    let path = "/v1/orgs/acme/password-policies/default";
    let mut default = app.get(path, &admin).await.body;
    default["min_age"] = json!(86_400);
    assert_eq!(app.put(path, &admin, default).await.status, StatusCode::OK);
    // Her own change makes the password one day's minimum age young.
    let session = token(&app.login("acme", "alice", GOOD).await);
    let first = "my own fresh passphrase 1";
    let changed = app
        .post(
            "/v1/self/password",
            &session,
            json!({"current_password": GOOD, "new_password": first}),
        )
        .await;
    assert!(changed.status.is_success(), "{:?}", changed.body);
    let fresh = token(&changed);
    let too_soon = app
        .post(
            "/v1/self/password",
            &fresh,
            json!({"current_password": first, "new_password": "and yet another one 2"}),
        )
        .await;
    assert_eq!(
        too_soon.body["violations"][0]["code"],
        "password.too_recent"
    );
    // Expired by an administrator: the limited session may change it at once.
    let expire = format!("/v1/orgs/acme/users/{alice}/password/expire");
    assert_eq!(
        app.post(&expire, &admin, json!({})).await.status,
        StatusCode::OK
    );
    let limited = token(&app.login("acme", "alice", first).await);
    let forced = app
        .post(
            "/v1/self/password",
            &limited,
            json!({"current_password": first, "new_password": "and yet another one 2"}),
        )
        .await;
    assert!(forced.status.is_success(), "{:?}", forced.body);
}
