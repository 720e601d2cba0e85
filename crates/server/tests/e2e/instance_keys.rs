//! Instance keys (docs/decisions/0010-instance-keys.md): no policy ends them, they are created,
//! listed and revoked through `/v1/instance/keys` by instance administrators only, the last one
//! is never revoked, and `portcullis admin recover` (the real binary) gives access back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{App, ROOT, on_postgres, spawn_app};

async fn instance_events(app: &App, token: &str) -> Vec<Value> {
    let a = app
        .get("/v1/instance/events?after=0&limit=500", token)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["items"].as_array().unwrap().clone()
}

async fn new_instance_key(app: &App, token: &str, name: &str) -> (String, String) {
    let a = app
        .post("/v1/instance/keys", token, json!({"name": name}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    (
        a.body["id"].as_str().unwrap().to_owned(),
        a.body["key"].as_str().unwrap().to_owned(),
    )
}

/// The instance's `api_keys.max_expiration` limits organizations' keys (it is their default)
/// and never the instance administrator's: neither does any other instance policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_keys_outlive_the_instance_api_keys_policy() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let a = app
        .patch(
            "/v1/instance/policy/api_keys",
            ROOT,
            json!({"max_expiration": 1}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let strict_session = app
        .patch(
            "/v1/instance/policy/session",
            ROOT,
            json!({"idle_timeout": 60, "account_validity_days": 1}),
        )
        .await;
    assert_eq!(
        strict_session.status,
        StatusCode::OK,
        "{:?}",
        strict_session.body
    );
    let (_, created_after) = new_instance_key(&app, ROOT, "second").await;

    // Organizations' keys follow the default.
    let refused = app
        .post("/v1/orgs/acme/api-keys", ROOT, json!({"name": "forever"}))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.violation_codes(), ["api_key.expiry_required"]);

    app.clock.advance(2);
    assert_eq!(
        app.get("/v1/orgs/acme/policy", &admin).await.status,
        StatusCode::UNAUTHORIZED,
        "the organization's key is past the maximum lifetime"
    );
    for token in [ROOT, created_after.as_str()] {
        let a = app.get("/v1/instance/policy", token).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    }

    // Years later, the instance keys still work, and can still loosen the policy.
    app.clock.advance(20 * 365 * 86_400);
    let a = app
        .patch(
            "/v1/instance/policy/api_keys",
            ROOT,
            json!({"max_expiration": 0}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        app.get("/v1/orgs/acme/policy", &admin).await.status,
        StatusCode::OK,
        "a looser policy brings the organization's key back"
    );
}

/// Rotation: create a new key, revoke the old one (the caller's own too), with events; the
/// last key is kept with `409 last_instance_key`; lists are paginated and carry no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_keys_are_created_listed_and_revoked_but_never_the_last() {
    let app = spawn_app().await;
    let list = app.get("/v1/instance/keys", ROOT).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the bootstrap key");
    let root_id = items[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(items[0]["roles"], json!(["instance_admin"]));
    assert_eq!(items[0]["org_id"], Value::Null);

    let refused = app
        .delete(&format!("/v1/instance/keys/{root_id}"), ROOT)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.code(), "last_instance_key");
    assert_eq!(
        app.get("/v1/instance/policy", ROOT).await.status,
        StatusCode::OK
    );

    let invalid = app
        .post("/v1/instance/keys", ROOT, json!({"name": " "}))
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.violation_codes(), ["value.required"]);

    let (new_id, new_key) = new_instance_key(&app, ROOT, "rotated").await;
    let (third_id, _) = new_instance_key(&app, ROOT, "third").await;
    let page = app.get("/v1/instance/keys?limit=2", &new_key).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    let after = page.body["next_after"].as_str().unwrap().to_owned();
    let rest = app
        .get(
            &format!("/v1/instance/keys?limit=2&after={after}"),
            &new_key,
        )
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert!(rest.body.get("next_after").is_none());
    let text = String::from_utf8(page.bytes.clone()).unwrap()
        + &String::from_utf8(rest.bytes.clone()).unwrap();
    assert!(
        !text.contains(&new_key) && !text.contains(ROOT),
        "no secret"
    );
    assert!(!text.contains("\"key\""));

    // Revoking the caller's own key works while another one remains.
    let a = app
        .delete(&format!("/v1/instance/keys/{root_id}"), ROOT)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    assert_eq!(
        app.get("/v1/instance/policy", ROOT).await.status,
        StatusCode::UNAUTHORIZED
    );
    let a = app
        .delete(&format!("/v1/instance/keys/{third_id}"), &new_key)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = app
        .delete(&format!("/v1/instance/keys/{third_id}"), &new_key)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app
        .delete(&format!("/v1/instance/keys/{new_id}"), &new_key)
        .await;
    assert_eq!(a.code(), "last_instance_key");

    let events = instance_events(&app, &new_key).await;
    let of = |kind: &str, id: &str| {
        events
            .iter()
            .filter(|e| e["type"] == kind && e["payload"]["key_id"] == id)
            .count()
    };
    assert_eq!(of("api_key.created", &new_id), 1);
    assert_eq!(of("api_key.deleted", &root_id), 1);
    assert_eq!(of("api_key.deleted", &third_id), 1);
    assert_eq!(
        of("api_key.deleted", &new_id),
        0,
        "a refusal writes nothing"
    );
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(&new_key), "no secret in events");
}

/// Organizations' callers (administrators included) cannot reach instance keys, and their
/// own key routes never reach an instance key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_instance_administrators_reach_instance_keys() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    let root_id = app.get("/v1/instance/keys", ROOT).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (other_id, _) = new_instance_key(&app, ROOT, "other").await;
    assert_eq!(
        app.get("/v1/instance/keys", &admin).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/v1/instance/keys", &admin, json!({"name": "mine"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&format!("/v1/instance/keys/{other_id}"), &admin)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&format!("/v1/orgs/acme/api-keys/{root_id}"), &admin)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "an organization's key route never reaches an instance key"
    );
    assert_eq!(
        app.call(reqwest::Method::GET, "/v1/instance/keys", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/v1/instance/keys", ROOT).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// Runs `portcullis admin recover` on `database_url`; answers its exit status, standard
/// output and standard error.
async fn recover(database_url: &str, dir: &std::path::Path) -> (bool, String, String) {
    let url = database_url.to_owned();
    let dir = dir.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["admin", "recover", "--database-url", &url])
            .env("PORTCULLIS_LOG_LEVEL", "warn")
            .current_dir(dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The one key line of the command's output.
fn printed_key(stdout: &str) -> String {
    let keys: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("pck_"))
        .collect();
    assert_eq!(keys.len(), 1, "{stdout}");
    keys[0].to_owned()
}

/// Every instance key is lost (the bootstrap key revoked, its replacement forgotten):
/// `admin recover` creates a new instance-admin key on the database, prints it once, and
/// records the event. With SQLite it refuses while the server holds the file; with
/// PostgreSQL it works while the server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_recover_gives_instance_access_back() {
    let mut app = spawn_app().await;
    let root_id = app.get("/v1/instance/keys", ROOT).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, lost) = new_instance_key(&app, ROOT, "lost").await;
    let a = app
        .delete(&format!("/v1/instance/keys/{root_id}"), &lost)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    drop(lost);
    assert_eq!(
        app.get("/v1/instance/policy", ROOT).await.status,
        StatusCode::UNAUTHORIZED
    );
    let url = app._dir.database_url();
    let dir = app._dir.0.clone();

    if !on_postgres() {
        let (ok, stdout, stderr) = recover(&url, &dir).await;
        assert!(!ok, "refused while the server holds the SQLite file");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains("Stop the server first"), "{stderr}");
        app.running.take().unwrap().stop().await.unwrap();
    }
    let (ok, stdout, stderr) = recover(&url, &dir).await;
    assert!(ok, "{stderr}");
    let key = printed_key(&stdout);
    assert!(
        !stderr.contains(&key),
        "the key is printed once, on standard output"
    );

    // A server on that database (the same one on PostgreSQL, a new one on SQLite).
    let base = if on_postgres() {
        None
    } else {
        let (child, base) = crate::support::spawn_binary(&url, &app._dir, &[]);
        Some((child, base))
    };
    let check = App {
        base: base
            .as_ref()
            .map_or_else(|| app.base.clone(), |(_, b)| b.clone()),
        http: reqwest::Client::new(),
        clock: app.clock.clone(),
        running: None,
        _dir: crate::support::TempDir::new("recover-unused"),
    };
    let keys = check.get("/v1/instance/keys", &key).await;
    assert_eq!(keys.status, StatusCode::OK, "{:?}", keys.body);
    assert_eq!(keys.body["items"].as_array().unwrap().len(), 2);
    let events = instance_events(&check, &key).await;
    let recovered = events
        .iter()
        .filter(|e| e["type"] == "api_key.created" && e["actor"] == "recovery")
        .collect::<Vec<_>>();
    assert_eq!(recovered.len(), 1, "{events:?}");
    assert_eq!(recovered[0]["payload"]["recovery"], true);
    assert!(!serde_json::to_string(&events).unwrap().contains(&key));
    if let Some((mut child, _)) = base {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
