//! The client commands (`portcullis orgs|users|sessions|locks|ip-blocks|events|keys|policy|compliance`):
//! the real binary against the real server, with the token in `PORTCULLIS_TOKEN`. Every run
//! checks that the token appears in none of its output.

mod policy;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{App, GOOD, ROOT, spawn_app};

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }

    pub(crate) fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn command(base: &str, token: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command
        .args(args)
        .args(["--url", base])
        .env_remove("PORTCULLIS_URL")
        .env_remove("PORTCULLIS_CONFIG");
    match token {
        Some(token) => command.env("PORTCULLIS_TOKEN", token),
        None => command.env_remove("PORTCULLIS_TOKEN"),
    };
    command
}

/// Runs the binary with `args` against `base`, `token` in the environment and `stdin` piped.
pub(crate) async fn run_with(
    base: &str,
    token: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> Run {
    let mut command = command(base, token, args);
    let stdin = stdin.map(str::to_owned);
    let run = tokio::task::spawn_blocking(move || {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    })
    .await
    .unwrap();
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(ROOT), "the token was printed: {text}");
    }
    run
}

/// Runs the binary as the instance administrator.
pub(crate) async fn cli(app: &App, args: &[&str]) -> Run {
    run_with(&app.base, Some(ROOT), args, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_orgs_users_and_locks() {
    let app = spawn_app().await;
    let created = cli(&app, &["orgs", "create", "acme", "--name", "Acme Corp"])
        .await
        .ok();
    assert!(created.stdout.contains("Acme Corp"), "{}", created.stdout);
    cli(&app, &["orgs", "create", "beta"]).await.ok();
    let table = cli(&app, &["orgs", "list"]).await.ok();
    let lines = table.lines();
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    assert!(lines[0].starts_with("ID "), "{}", lines[0]);
    assert!(lines[1].starts_with("acme  Acme Corp"), "{}", lines[1]);
    assert!(lines[2].starts_with("beta  beta "), "{}", lines[2]);
    let listed = cli(&app, &["orgs", "list", "--output", "json"])
        .await
        .ok()
        .json();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "beta"]);
    let first = cli(&app, &["orgs", "list", "--limit", "1", "--output", "json"])
        .await
        .ok()
        .json();
    assert_eq!(first.as_array().unwrap().len(), 1);

    // A password from standard input (its line break dropped), and one from a file.
    let user = run_with(
        &app.base,
        Some(ROOT),
        &[
            "users",
            "create",
            "acme",
            "alice",
            "--password-stdin",
            "--email",
            "alice@example.com",
            "--output",
            "json",
        ],
        Some(&format!("{GOOD}\n")),
    )
    .await
    .ok()
    .json();
    let alice = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["has_password"], true);
    assert!(!user.to_string().contains(GOOD));
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK
    );
    let file = std::env::temp_dir().join(format!("portcullis-cli-pw-{}", std::process::id()));
    std::fs::write(&file, format!("{GOOD}\n")).unwrap();
    let bob = cli(
        &app,
        &[
            "users",
            "create",
            "acme",
            "bob",
            "--password-file",
            file.to_str().unwrap(),
            "--role",
            "org_auditor",
        ],
    )
    .await
    .ok();
    std::fs::remove_file(&file).unwrap();
    assert!(bob.stdout.contains("org_auditor"), "{}", bob.stdout);
    assert_eq!(app.login("acme", "bob", GOOD).await.status, StatusCode::OK);

    let users = cli(&app, &["users", "list", "acme"]).await.ok();
    assert_eq!(users.lines().len(), 3, "{}", users.stdout);
    assert!(users.stdout.contains("alice") && users.stdout.contains("bob"));

    // Three failures lock alice.
    let admin = ROOT;
    app.set_section(
        "acme",
        admin,
        "lockout",
        json!({"max_password_attempts": 3, "lock_duration": null}),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.login("acme", "alice", "wrong").await.code(),
            "invalid_credentials"
        );
    }
    assert_eq!(
        app.login("acme", "alice", GOOD).await.code(),
        "account_locked"
    );
    let locks = cli(&app, &["locks", "list", "acme", "--output", "json"])
        .await
        .ok()
        .json();
    assert_eq!(locks.as_array().unwrap().len(), 1, "{locks}");
    assert_eq!(locks[0]["login"], "alice");
    assert_eq!(locks[0]["user_id"], alice.as_str());
    let table = cli(
        &app,
        &[
            "locks", "list", "acme", "--login", "al", "--kind", "password",
        ],
    )
    .await
    .ok();
    assert_eq!(table.lines().len(), 2, "{}", table.stdout);
    assert!(
        table.lines()[1].starts_with("alice  password  3 "),
        "{}",
        table.stdout
    );
    let none = cli(&app, &["locks", "list", "acme", "--kind", "otp"])
        .await
        .ok();
    assert_eq!(none.lines().len(), 1, "only the header: {}", none.stdout);
    let locked = cli(
        &app,
        &["users", "list", "acme", "--locked", "--output", "json"],
    )
    .await
    .ok()
    .json();
    assert_eq!(locked.as_array().unwrap().len(), 1);
    assert_eq!(locked[0]["id"], alice.as_str());

    let unlocked = cli(&app, &["users", "unlock", "acme", &alice]).await.ok();
    assert_eq!(unlocked.stdout.trim(), format!("unlocked {alice}"));
    let again = cli(&app, &["users", "unlock", "acme", &alice]).await.ok();
    assert_eq!(again.stdout.trim(), format!("{alice} was not locked"));
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK
    );

    // Lock again, then lift every lock at once.
    for _ in 0..3 {
        app.login("acme", "alice", "wrong").await;
    }
    let cleared = cli(&app, &["locks", "clear", "acme", "--output", "json"])
        .await
        .ok()
        .json();
    assert_eq!(cleared["count"], 1);
    let types = app.event_types("acme", ROOT).await;
    assert_eq!(types.iter().filter(|t| *t == "locks.cleared").count(), 1);
    assert_eq!(
        app.login("acme", "alice", GOOD).await.status,
        StatusCode::OK
    );

    // An administrator's password reset, read from standard input.
    let new_password = "another horse battery staple 7";
    run_with(
        &app.base,
        Some(ROOT),
        &[
            "users",
            "reset-password",
            "acme",
            &alice,
            "--password-stdin",
            "--no-change-required",
        ],
        Some(new_password),
    )
    .await
    .ok();
    let login = app.login("acme", "alice", new_password).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["password_change_required"], false);
    let missing = cli(&app, &["users", "reset-password", "acme", &alice]).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("--password-stdin"),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ip_blocks() {
    let app = spawn_app().await;
    cli(&app, &["orgs", "create", "acme"]).await.ok();
    let added = cli(
        &app,
        &[
            "ip-blocks",
            "add",
            "acme",
            "198.51.100.77/24",
            "--output",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(added["address"], "198.51.100.0/24");
    assert_eq!(added["until"], Value::Null);
    // The server's clock is T0 (2026-11-23): this is in the future.
    cli(
        &app,
        &[
            "ip-blocks",
            "add",
            "acme",
            "2001:db8::/32",
            "--until",
            "2027-01-01T00:00:00Z",
        ],
    )
    .await
    .ok();
    cli(&app, &["ip-blocks", "add", "acme", "203.0.113.9"])
        .await
        .ok();
    assert_eq!(
        app.login_from("acme", "x", "y", "198.51.100.5")
            .await
            .code(),
        "ip_blocked"
    );
    let table = cli(&app, &["ip-blocks", "list", "acme"]).await.ok();
    let lines = table.lines();
    assert_eq!(lines.len(), 4, "{}", table.stdout);
    assert!(lines[0].starts_with("ADDRESS "));
    assert!(table.stdout.contains("2027-01-01T00:00:00Z"));
    let listed = cli(&app, &["ip-blocks", "list", "acme", "--output", "json"])
        .await
        .ok()
        .json();
    let addresses: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        ["198.51.100.0/24", "2001:db8::/32", "203.0.113.9"]
    );
    // Networks go through the path percent-encoded; the colons of IPv6 stay.
    cli(&app, &["ip-blocks", "lift", "acme", "198.51.100.0/24"])
        .await
        .ok();
    cli(&app, &["ip-blocks", "lift", "acme", "2001:db8::/32"])
        .await
        .ok();
    assert_ne!(
        app.login_from("acme", "x", "y", "198.51.100.5")
            .await
            .code(),
        "ip_blocked"
    );
    let gone = cli(&app, &["ip-blocks", "lift", "acme", "2001:db8::/32"]).await;
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.starts_with("error: 404 not_found"),
        "{}",
        gone.stderr
    );
    let cleared = cli(&app, &["ip-blocks", "clear", "acme"]).await.ok();
    assert_eq!(cleared.stdout.trim(), "lifted 1 block(s) in acme");
    let empty = cli(&app, &["ip-blocks", "list", "acme", "--output", "json"])
        .await
        .ok()
        .json();
    assert_eq!(empty, json!([]));
    let types = app.event_types("acme", ROOT).await;
    assert_eq!(types.iter().filter(|t| *t == "ip.block_added").count(), 3);
    assert_eq!(types.iter().filter(|t| *t == "ip.unblocked").count(), 2);
    assert_eq!(
        types.iter().filter(|t| *t == "ip_blocks.cleared").count(),
        1
    );
}

fn sequences(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect()
}

/// The next line of a following command, as JSON (at most 30 s: a bound, not a sleep).
async fn next_line(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("a line within 30 s")
        .expect("the command is still running");
    assert!(!line.contains(ROOT));
    serde_json::from_str::<Value>(&line).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_events_tail_prints_each_event_once_in_order() {
    let app = spawn_app().await;
    let admin = app.org_with_admin("acme").await;
    for i in 0..4 {
        app.user("acme", &admin, &format!("user{i}"), GOOD).await;
    }
    let types = app.event_types("acme", ROOT).await;
    let run = cli(&app, &["events", "tail", "acme", "--output", "json"])
        .await
        .ok();
    let events: Vec<Value> = run
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let printed: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(printed, types, "every event once, in order (NDJSON)");
    let seqs = sequences(&events);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // --after skips what was seen; table mode prints one line per event.
    let after = seqs[1].to_string();
    let table = cli(&app, &["events", "tail", "acme", "--after", &after])
        .await
        .ok();
    assert_eq!(table.lines().len(), events.len() - 2, "{}", table.stdout);
    assert!(
        table.lines()[0]
            .trim_start()
            .starts_with(&seqs[2].to_string())
    );
    assert!(table.stdout.contains("user.created"));

    let instance = cli(&app, &["events", "tail", "instance", "--output", "json"])
        .await
        .ok();
    let first: Value = serde_json::from_str(instance.lines()[0]).unwrap();
    assert_eq!(first["type"], "api_key.created");
    assert_eq!(first["org_id"], Value::Null);

    // --follow: the existing events, then a new one as it comes; stopped by killing it.
    let mut child = command(
        &app.base,
        Some(ROOT),
        &[
            "events",
            "tail",
            "acme",
            "--follow",
            "--interval-ms",
            "20",
            "--output",
            "json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut followed = Vec::new();
    for _ in 0..events.len() {
        followed.push(next_line(&mut rx).await);
    }
    assert_eq!(sequences(&followed), seqs);
    app.user("acme", &admin, "late", GOOD).await;
    let late = next_line(&mut rx).await;
    assert_eq!(late["type"], "user.created");
    assert_eq!(late["payload"]["login"], "late", "{late}");
    assert!(late["sequence"].as_u64().unwrap() > *seqs.last().unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
    reader.await.unwrap();
    assert!(rx.recv().await.is_none(), "nothing printed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_keys_create_print_the_secret_once_and_revoke() {
    let app = spawn_app().await;
    cli(&app, &["orgs", "create", "acme"]).await.ok();
    let created = cli(
        &app,
        &[
            "keys",
            "create",
            "acme",
            "ci",
            "--role",
            "org_auditor",
            "--output",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    let secret = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["roles"], json!(["org_auditor"]));
    // The new key works, and reads only its organization.
    let as_key = run_with(&app.base, Some(&secret), &["users", "list", "acme"], None)
        .await
        .ok();
    assert!(as_key.lines()[0].starts_with("ID "));
    let denied = run_with(&app.base, Some(&secret), &["orgs", "create", "x"], None).await;
    assert_eq!(denied.code, 1);
    assert!(
        denied.stderr.starts_with("error: 403 forbidden"),
        "{}",
        denied.stderr
    );
    // Table mode prints the secret once, on standard output.
    let table = cli(&app, &["keys", "create", "acme", "other"]).await.ok();
    let shown: Vec<&str> = table
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("key "))
        .collect();
    assert_eq!(shown.len(), 1, "{}", table.stdout);
    assert!(
        shown[0]
            .trim_start_matches("key")
            .trim()
            .starts_with("pck_")
    );
    assert!(!table.stderr.contains("pck_"));
    let listed = cli(&app, &["keys", "list", "acme", "--output", "json"])
        .await
        .ok();
    assert!(!listed.stdout.contains(&secret), "lists never show secrets");
    assert_eq!(listed.json().as_array().unwrap().len(), 2);

    let revoked = cli(&app, &["keys", "revoke", "acme", &id]).await.ok();
    assert_eq!(revoked.stdout.trim(), format!("revoked key {id}"));
    let gone = run_with(&app.base, Some(&secret), &["users", "list", "acme"], None).await;
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.starts_with("error: 401 unauthenticated"),
        "{}",
        gone.stderr
    );

    // Instance keys: created, used, revoked; no roles or expiry for them.
    let instance = cli(
        &app,
        &["keys", "create", "instance", "ops", "--output", "json"],
    )
    .await
    .ok()
    .json();
    assert_eq!(instance["roles"], json!(["instance_admin"]));
    let ops = instance["key"].as_str().unwrap().to_owned();
    run_with(&app.base, Some(&ops), &["orgs", "list"], None)
        .await
        .ok();
    let refused = cli(
        &app,
        &["keys", "create", "instance", "x", "--role", "member"],
    )
    .await;
    assert_eq!(refused.code, 1);
    cli(
        &app,
        &[
            "keys",
            "revoke",
            "instance",
            instance["id"].as_str().unwrap(),
        ],
    )
    .await
    .ok();
    assert_eq!(
        run_with(&app.base, Some(&ops), &["orgs", "list"], None)
            .await
            .code,
        1
    );
    let types = app.event_types("instance", ROOT).await;
    assert_eq!(types.iter().filter(|t| *t == "api_key.deleted").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_keys_create_in_the_scaleway_format() {
    let app = spawn_app().await;
    cli(&app, &["orgs", "create", "acme"]).await.ok();
    let created = cli(
        &app,
        &[
            "keys", "create", "acme", "sdk", "--format", "scaleway", "--output", "json",
        ],
    )
    .await
    .ok()
    .json();
    let id = created["id"].as_str().unwrap();
    let secret = created["key"].as_str().unwrap();
    assert!(id.starts_with("SCW") && id.len() == 20, "{id}");
    assert_eq!(secret.len(), 36, "a UUID: {secret}");
    // The secret is an API key like any other.
    run_with(&app.base, Some(secret), &["users", "list", "acme"], None)
        .await
        .ok();
    let refused = cli(
        &app,
        &["keys", "create", "instance", "x", "--format", "scaleway"],
    )
    .await;
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("--format"), "{}", refused.stderr);
    let unknown = cli(&app, &["keys", "create", "acme", "x", "--format", "aws"]).await;
    assert_eq!(unknown.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_errors_exit_1_with_the_problem_and_its_violations() {
    let app = spawn_app().await;
    cli(&app, &["orgs", "create", "acme"]).await.ok();
    let refused = run_with(
        &app.base,
        Some(ROOT),
        &["users", "create", "acme", "alice", "--password-stdin"],
        Some("short"),
    )
    .await;
    assert_eq!(refused.code, 1);
    assert_eq!(refused.stdout, "");
    let lines: Vec<&str> = refused.stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: 400 validation_failed: "),
        "{}",
        refused.stderr
    );
    assert!(
        lines[1..]
            .iter()
            .any(|l| l.starts_with("  password: password.too_short — ")),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("short\n"),
        "the password is not echoed"
    );

    let missing = cli(&app, &["users", "list", "nope"]).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.starts_with("error: 404 not_found"),
        "{}",
        missing.stderr
    );

    let no_token = run_with(&app.base, None, &["orgs", "list"], None).await;
    assert_eq!(no_token.code, 1);
    assert!(no_token.stderr.starts_with("error: 401 unauthenticated"));

    // The token as an argument works too, and is not printed either (even in an error).
    let as_argument = run_with(&app.base, None, &["orgs", "list", "--token", ROOT], None)
        .await
        .ok();
    assert!(as_argument.stdout.contains("acme"));
    let help = run_with(&app.base, Some(ROOT), &["orgs", "list", "--help"], None)
        .await
        .ok();
    assert!(help.stdout.contains("PORTCULLIS_TOKEN"));

    let unreachable = run_with("http://127.0.0.1:1", Some(ROOT), &["orgs", "list"], None).await;
    assert_eq!(unreachable.code, 1);
    assert!(
        unreachable
            .stderr
            .starts_with("error: cannot reach the server at http://127.0.0.1:1"),
        "{}",
        unreachable.stderr
    );
    let usage = cli(&app, &["orgs", "frobnicate"]).await;
    assert_eq!(
        usage.code, 1,
        "usage errors exit 1 (2 means changes pending)"
    );
    let bad_url = run_with("ftp://x", Some(ROOT), &["orgs", "list"], None).await;
    assert_eq!(bad_url.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sessions_and_password_expiry() {
    let app = spawn_app().await;
    cli(&app, &["orgs", "create", "acme"]).await.ok();
    let alice = app.user("acme", ROOT, "alice", GOOD).await;
    let bob = app.user("acme", ROOT, "bob", GOOD).await;
    let token = |a: crate::support::Answer| a.body["session"]["token"].as_str().unwrap().to_owned();
    let first = token(app.login("acme", "alice", GOOD).await);
    let second = token(app.login("acme", "alice", GOOD).await);
    let bobs = token(app.login("acme", "bob", GOOD).await);

    let table = cli(&app, &["sessions", "list", "acme", &alice]).await.ok();
    assert_eq!(table.lines().len(), 3, "{}", table.stdout);
    assert!(table.lines()[0].starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.contains("127.0.0.1"), "{}", table.stdout);
    assert!(!table.stdout.contains(&first) && !table.stdout.contains(&second));
    let listed = cli(
        &app,
        &["sessions", "list", "acme", &alice, "--output", "json"],
    )
    .await
    .ok()
    .json();
    let one = listed[0]["id"].as_str().unwrap().to_owned();

    let ended = cli(&app, &["sessions", "end", "acme", &alice, &one])
        .await
        .ok();
    assert!(
        ended.stdout.contains(&format!("ended session {one}")),
        "{}",
        ended.stdout
    );
    let left = cli(
        &app,
        &["sessions", "list", "acme", &alice, "--output", "json"],
    )
    .await
    .ok()
    .json();
    assert_eq!(left.as_array().unwrap().len(), 1);
    let all = cli(&app, &["sessions", "end", "acme", &alice, "--all"])
        .await
        .ok();
    assert!(all.stdout.contains("ended 1 session(s)"), "{}", all.stdout);
    for gone in [&first, &second] {
        assert_eq!(
            app.get("/v1/self", gone).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Neither a session id nor --all: refused before any request.
    let neither = cli(&app, &["sessions", "end", "acme", &alice]).await;
    assert_ne!(neither.code, 0);

    // The whole organization only with --yes.
    let unconfirmed = cli(&app, &["sessions", "end-all", "acme"]).await;
    assert_eq!(unconfirmed.code, 1, "{}", unconfirmed.stderr);
    assert!(
        unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );
    assert_eq!(app.get("/v1/self", &bobs).await.status, StatusCode::OK);
    let out = cli(&app, &["sessions", "end-all", "acme", "--yes"])
        .await
        .ok();
    assert!(
        out.stdout.contains("ended 1 session(s) in acme"),
        "{}",
        out.stdout
    );
    assert_eq!(
        app.get("/v1/self", &bobs).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Passwords: one user, then everyone's (`--all` or a date is required).
    let expired = cli(&app, &["users", "expire-password", "acme", &bob])
        .await
        .ok();
    assert!(expired.stdout.contains("expired at"), "{}", expired.stdout);
    let login = app.login("acme", "bob", GOOD).await;
    assert_eq!(
        login.body["password_change_required"], true,
        "{:?}",
        login.body
    );
    assert_ne!(
        cli(&app, &["users", "expire-passwords", "acme"]).await.code,
        0
    );
    let before = cli(
        &app,
        &[
            "users",
            "expire-passwords",
            "acme",
            "--changed-before",
            "2000-01-01T00:00:00Z",
        ],
    )
    .await
    .ok();
    assert!(
        before.stdout.contains("expired 0 password(s)"),
        "{}",
        before.stdout
    );
    let everyone = cli(&app, &["users", "expire-passwords", "acme", "--all"])
        .await
        .ok();
    assert!(
        everyone.stdout.contains("expired 1 password(s)"),
        "{}",
        everyone.stdout
    );
}
