//! Breached passwords: the index built by `portcullis breached import` from range files and
//! mapped by the server; a new password found in more breaches than `max_breaches` refused on
//! creation, change, administrator set and the dry run; a login with a breached password
//! limited to a change (`check_breached_at_login`); no source configured; a range endpoint
//! that receives only 5 hex characters, and its failure under fail-closed and fail-open.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis_breached::password_sha1;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{App, GOOD, ROOT, TempDir, spawn_app, spawn_app_with};

/// Seen 5 times.
const BREACHED: &str = "Tr0ub4dor&3 is a fine password";
/// Seen once: within `max_breaches = 1`.
const SEEN_ONCE: &str = "seen only once in a breach dump";

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Range files (as HIBP's downloader writes them) holding the two passwords and some padding.
fn write_range_files(dir: &std::path::Path) {
    let mut by_prefix: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (password, count) in [(BREACHED, 5), (SEEN_ONCE, 1)] {
        let hex = hex_upper(&password_sha1(password));
        by_prefix
            .entry(hex[..5].to_owned())
            .or_default()
            .push(format!("{}:{count}", &hex[5..]));
    }
    for (prefix, mut lines) in by_prefix {
        lines.push(format!("{}:0", "F".repeat(35)));
        lines.sort();
        std::fs::write(
            dir.join(format!("{prefix}.txt")),
            lines.join("\r\n") + "\r\n",
        )
        .unwrap();
    }
}

async fn breach_rules(app: &App, admin: &str, at_login: bool) {
    let path = "/v1/orgs/acme/password-policies/default";
    let mut default = app.get(path, admin).await.body;
    default["check_breached"] = json!(true);
    default["max_breaches"] = json!(1);
    default["check_breached_at_login"] = json!(at_login);
    let put = app.put(path, admin, default).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
}

/// Runs `portcullis breached …` (no server, no token).
async fn breached_cli(args: &[&str]) -> crate::cli::Run {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command.arg("breached").args(args);
    tokio::task::spawn_blocking(move || {
        let out = command.output().unwrap();
        crate::cli::Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    })
    .await
    .unwrap()
}

/// Creates a user of acme with `password`; answers the server's answer.
async fn create(app: &App, admin: &str, login: &str, password: &str) -> crate::support::Answer {
    app.post(
        "/v1/orgs/acme/users",
        admin,
        json!({"login": login, "password": password}),
    )
    .await
}

fn token_of(a: &crate::support::Answer) -> String {
    a.body["session"]["token"].as_str().unwrap().to_owned()
}

fn first_violation(a: &crate::support::Answer) -> Value {
    a.body["violations"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_index_refuses_breached_passwords_wherever_one_is_set() {
    let work = TempDir::new("breached");
    let ranges = work.0.join("ranges");
    std::fs::create_dir_all(&ranges).unwrap();
    write_range_files(&ranges);
    let index = work.0.join("pwned.idx");
    let index_arg = index.to_str().unwrap();
    let imported = breached_cli(&["import", ranges.to_str().unwrap(), "--out", index_arg])
        .await
        .ok();
    assert!(imported.stdout.contains("2 entries"), "{}", imported.stdout);
    let info = breached_cli(&["info", index_arg]).await.ok();
    assert!(info.stdout.contains("2 entries"), "{}", info.stdout);
    let garbage = work.0.join("garbage.idx");
    std::fs::write(&garbage, b"not an index").unwrap();
    let refused = breached_cli(&["info", garbage.to_str().unwrap()]).await;
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(info.stdout.contains("checksum verified"), "{}", info.stdout);

    let path = index.clone();
    let app = spawn_app_with(move |c| c.breached.index_path = Some(path)).await;
    let admin = app.org_with_admin("acme").await;
    // Off by default: a breached password is accepted.
    let before = app.user("acme", &admin, "early", BREACHED).await;
    breach_rules(&app, &admin, false).await;

    let refused = create(&app, &admin, "bob", BREACHED).await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        refused.body
    );
    let violation = first_violation(&refused);
    assert_eq!(violation["code"], "password.breached");
    assert_eq!(violation["field"], "password");
    assert_eq!(violation["params"]["count"], 5);
    assert_eq!(violation["params"]["max"], 1);
    app.user("acme", &admin, "carol", SEEN_ONCE).await;
    let alice = app.user("acme", &admin, "alice", GOOD).await;

    // An administrator's set, the user's own change, and the dry run.
    let set = app
        .put(
            &format!("/v1/orgs/acme/users/{alice}/password"),
            &admin,
            json!({"password": BREACHED}),
        )
        .await;
    assert_eq!(
        first_violation(&set)["code"],
        "password.breached",
        "{:?}",
        set.body
    );
    let session = app.login("acme", "alice", GOOD).await.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = app
        .post(
            "/v1/self/password",
            &session,
            json!({"current_password": GOOD, "new_password": BREACHED}),
        )
        .await;
    assert_eq!(
        first_violation(&change)["code"],
        "password.breached",
        "{:?}",
        change.body
    );
    let dry = app
        .post(
            "/v1/orgs/acme/password-check",
            &session,
            json!({"password": BREACHED}),
        )
        .await;
    assert_eq!(dry.body["valid"], false, "{:?}", dry.body);
    assert_eq!(dry.body["violations"][0]["code"], "password.breached");

    // At login (when asked): the breached password still opens a session, limited to a change.
    let login = app.login("acme", "early", BREACHED).await;
    assert_eq!(
        login.body["password_change_required"], false,
        "off at login"
    );
    breach_rules(&app, &admin, true).await;
    let login = app.login("acme", "early", BREACHED).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(
        login.body["password_change_required"], true,
        "{:?}",
        login.body
    );
    assert_eq!(
        app.login("acme", "carol", SEEN_ONCE).await.body["password_change_required"],
        false
    );
    let _ = before;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_source_the_check_refuses_new_passwords_with_a_clear_violation() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    app.user("acme", &admin, "early", GOOD).await;
    breach_rules(&app, &admin, true).await;
    let refused = create(&app, &admin, "bob", GOOD).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        first_violation(&refused)["code"],
        "password.breach_unchecked"
    );
    // Logins are never refused for it.
    assert_eq!(
        app.login("acme", "early", GOOD).await.body["password_change_required"],
        false
    );
}

/// A range endpoint on 127.0.0.1 that records each path asked and answers `status`.
async fn range_server(status: u16, asked: Arc<std::sync::Mutex<Vec<String>>>) -> String {
    use axum::extract::Path;
    let served = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/range/{prefix}",
        axum::routing::get(move |Path(prefix): Path<String>| {
            let asked = asked.clone();
            let served = served.clone();
            async move {
                asked.lock().unwrap().push(prefix.clone());
                served.fetch_add(1, Ordering::Relaxed);
                let mut lines = vec![format!("{}:0", "0".repeat(35))];
                for (password, count) in [(BREACHED, 5), (SEEN_ONCE, 1)] {
                    let hex = hex_upper(&password_sha1(password));
                    if hex[..5] == prefix {
                        lines.push(format!("{}:{count}", &hex[5..]));
                    }
                }
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    lines.join("\r\n"),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_endpoint_gets_five_characters_and_its_failure_follows_the_fail_mode() {
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let url = range_server(200, asked.clone()).await;
    let app = spawn_app_with(move |c| c.breached.range_url = Some(url)).await;
    let admin = app.org_with_admin("acme").await;
    breach_rules(&app, &admin, false).await;
    let refused = create(&app, &admin, "bob", BREACHED).await;
    assert_eq!(
        first_violation(&refused)["code"],
        "password.breached",
        "{:?}",
        refused.body
    );
    app.user("acme", &admin, "carol", SEEN_ONCE).await;
    let prefixes = asked.lock().unwrap().clone();
    assert_eq!(prefixes.len(), 2);
    // A dry run never asks the range endpoint (anyone may repeat one).
    let session = token_of(&app.login("acme", "carol", SEEN_ONCE).await);
    let dry = app
        .post(
            "/v1/orgs/acme/password-check",
            &session,
            json!({"password": BREACHED}),
        )
        .await;
    assert_eq!(dry.body["valid"], true, "{:?}", dry.body);
    assert_eq!(asked.lock().unwrap().len(), 2, "no request for the dry run");
    assert_eq!(prefixes[0], hex_upper(&password_sha1(BREACHED))[..5]);
    assert!(prefixes.iter().all(|p| p.len() == 5), "{prefixes:?}");

    // The endpoint fails: fail closed refuses (503), fail open accepts.
    for (fail_open, expected) in [
        (false, StatusCode::SERVICE_UNAVAILABLE),
        (true, StatusCode::CREATED),
    ] {
        let url = range_server(500, Arc::new(std::sync::Mutex::new(Vec::new()))).await;
        let app = spawn_app_with(move |c| {
            c.breached.range_url = Some(url);
            c.breached.fail_open = fail_open;
        })
        .await;
        let admin = app.org_with_admin("acme").await;
        breach_rules(&app, &admin, true).await;
        let created = create(&app, &admin, "dave", GOOD).await;
        assert_eq!(
            created.status, expected,
            "fail_open = {fail_open}: {:?}",
            created.body
        );
    }
    let _ = ROOT;
}
