//! `portcullis policy` and `portcullis compliance` against the real server: export → apply to a
//! fresh server → export is byte-identical, an unchanged document writes nothing, plan's lines
//! and exit codes, `--prune`, a concurrent change between plan and write (412), and the
//! committed JSON Schema of the document.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Run, cli, run_with};
use crate::support::{App, ROOT, TempDir, spawn_app};

fn path(dir: &TempDir, name: &str) -> String {
    dir.0.join(name).to_str().unwrap().to_owned()
}

fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let file = path(dir, name);
    std::fs::write(&file, text).unwrap();
    file
}

async fn export(app: &App, args: &[&str]) -> String {
    let mut all = vec!["policy", "export"];
    all.extend_from_slice(args);
    cli(app, &all).await.ok().stdout
}

/// A server with instance defaults, two organizations with own sections, and a third without.
async fn shaped_app() -> App {
    let app = spawn_app().await;
    let a = app
        .patch(
            "/v1/instance/policy/session",
            ROOT,
            json!({"idle_timeout": 1800}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    cli(&app, &["orgs", "create", "acme", "--name", "Acme Corp"])
        .await
        .ok();
    cli(&app, &["orgs", "create", "beta"]).await.ok();
    cli(&app, &["orgs", "create", "zeta", "--name", "Zeta"])
        .await
        .ok();
    app.set_section(
        "acme",
        ROOT,
        "lockout",
        json!({"max_password_attempts": 3, "lock_duration": null}),
    )
    .await;
    let strict = app
        .post(
            "/v1/orgs/acme/password-policies",
            ROOT,
            json!({"id": "strict", "name": "Strict", "sources": ["ldap"], "min_length": 20}),
        )
        .await;
    assert!(strict.status.is_success(), "{:?}", strict.body);
    app.set_section("beta", ROOT, "mfa", json!({"required": true}))
        .await;
    app.set_section(
        "beta",
        ROOT,
        "features",
        json!({"tenant_settings": {"colour": "blue", "limits": {"seats": 5}}}),
    )
    .await;
    app
}

async fn event_count(app: &App, scopes: &[&str]) -> usize {
    let mut n = 0;
    for scope in scopes {
        n += app.event_types(scope, ROOT).await.len();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_policy_export_apply_to_a_fresh_server_then_export_is_identical() {
    let source = shaped_app().await;
    let dir = TempDir::new("cli-policy");
    let yaml = export(&source, &[]).await;
    assert_eq!(yaml, export(&source, &[]).await, "deterministic");
    assert!(
        yaml.starts_with("version: 1\ninstance:\n  sections:\n    password:\n"),
        "{yaml}"
    );
    let json_text = export(&source, &["--format", "json"]).await;
    let document: Value = serde_json::from_str(&json_text).unwrap();
    let orgs: Vec<&str> = document["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, ["acme", "beta", "zeta"]);
    let sections: Vec<&String> = document["instance"]["sections"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(sections.len(), 8, "the instance lists every section");
    assert_eq!(
        document["instance"]["sections"]["session"]["idle_timeout"],
        1800
    );
    let acme: Vec<&String> = document["organizations"][0]["sections"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        acme,
        ["lockout", "password"],
        "only own sections (JSON keys sorted here)"
    );
    assert_eq!(document["organizations"][2]["sections"], json!({}));
    // -o picks the format by the extension.
    let file = path(&dir, "policy.yaml");
    cli(&source, &["policy", "export", "-o", &file]).await.ok();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), yaml);
    let json_file = path(&dir, "policy.json");
    cli(&source, &["policy", "export", "-o", &json_file])
        .await
        .ok();
    assert_eq!(std::fs::read_to_string(&json_file).unwrap(), json_text);
    // Only one organization.
    let one = export(&source, &["--org", "acme"]).await;
    assert!(
        one.starts_with("version: 1\norganizations:\n- id: acme\n  name: Acme Corp\n"),
        "{one}"
    );
    assert!(!one.contains("instance:"));

    // A fresh server: everything is to be done; plan exits 2.
    let target = spawn_app().await;
    let plan = cli(&target, &["policy", "plan", &file]).await;
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    for line in [
        "~ instance session.idle_timeout: 3600 → 1800",
        "+ create organization acme (name \"Acme Corp\")",
        "+ acme lockout: becomes the organization's own",
        "+ acme password: becomes the organization's own",
        "+ create organization beta (name \"beta\")",
        "+ beta mfa: becomes the organization's own",
        "+ create organization zeta (name \"Zeta\")",
        "Plan: 3 organization(s) to create, 5 section(s) to change, 0 to reset.",
    ] {
        assert!(plan.lines().contains(&line), "{line:?} in\n{}", plan.stdout);
    }
    // Planning wrote nothing.
    assert_eq!(
        cli(&target, &["orgs", "list", "--output", "json"])
            .await
            .ok()
            .json(),
        json!([])
    );
    let applied = cli(&target, &["policy", "apply", &file]).await.ok();
    assert!(
        applied.lines().contains(&"created organization acme"),
        "{}",
        applied.stdout
    );
    assert!(
        applied
            .lines()
            .iter()
            .any(|l| l.starts_with("wrote acme: changed [password, lockout], reset []")),
        "{}",
        applied.stdout
    );
    assert_eq!(
        export(&target, &[]).await,
        yaml,
        "byte-identical after the round trip"
    );
    assert_eq!(export(&target, &["--format", "json"]).await, json_text);

    // The same document again: no change, exit 0, nothing written, no event.
    let scopes = ["instance", "acme", "beta", "zeta"];
    let events = event_count(&target, &scopes).await;
    let plan = cli(&target, &["policy", "plan", &json_file]).await.ok();
    assert_eq!(
        plan.lines(),
        ["No changes: the server matches the document."]
    );
    let again = cli(&target, &["policy", "apply", &file]).await.ok();
    assert_eq!(
        again.lines(),
        ["No changes: the server matches the document."]
    );
    assert_eq!(event_count(&target, &scopes).await, events);
    let again = cli(&target, &["policy", "apply", &file, "--prune"])
        .await
        .ok();
    assert_eq!(
        again.lines(),
        ["No changes: the server matches the document."]
    );
    assert_eq!(event_count(&target, &scopes).await, events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_policy_plan_lines_exit_codes_and_prune() {
    let app = shaped_app().await;
    let dir = TempDir::new("cli-plan");
    // acme: lockout changed, password left out (kept unless --prune); beta: mfa changed; the
    // instance is not in the document.
    let file = write(
        &dir,
        "change.yaml",
        "version: 1\norganizations:\n- id: acme\n  sections:\n    lockout:\n      max_password_attempts: 5\n      lock_duration: null\n- id: beta\n  sections:\n    mfa:\n      required: false\n    features:\n      tenant_settings:\n        colour: red\n        limits:\n          seats: 5\n",
    );
    let plan = cli(&app, &["policy", "plan", &file]).await;
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert_eq!(
        plan.lines(),
        [
            "~ acme lockout.max_password_attempts: 3 → 5",
            "~ beta mfa.required: true → false",
            "~ beta features.tenant_settings.colour: \"blue\" → \"red\"",
            "Plan: 0 organization(s) to create, 3 section(s) to change, 0 to reset.",
        ]
    );
    let pruned = cli(&app, &["policy", "plan", &file, "--prune"]).await;
    assert_eq!(pruned.code, 2);
    assert!(
        pruned
            .lines()
            .contains(&"- acme password: reset to inherited"),
        "{}",
        pruned.stdout
    );
    let json_plan = cli(&app, &["policy", "plan", &file, "--output", "json"]).await;
    assert_eq!(json_plan.code, 2);
    let json_plan = json_plan.json();
    assert_eq!(json_plan["changes"], true);
    assert_eq!(json_plan["scopes"][0]["scope"], "acme");
    assert_eq!(json_plan["scopes"][0]["changed"], json!(["lockout"]));

    // Without --prune the password section stays acme's own.
    let before = app.event_types("acme", ROOT).await.len();
    cli(&app, &["policy", "apply", &file]).await.ok();
    let policy = app.get("/v1/orgs/acme/policy", ROOT).await.body;
    assert_eq!(policy["lockout"]["value"]["max_password_attempts"], 5);
    assert_eq!(policy["password"]["is_default"], false);
    assert_eq!(policy["password"]["value"].as_array().unwrap().len(), 2);
    let types = app.event_types("acme", ROOT).await;
    assert_eq!(types[before..], ["policy.lockout.changed"]);
    assert_eq!(cli(&app, &["policy", "plan", &file]).await.code, 0);

    // With --prune it is inherited again.
    assert_eq!(
        cli(&app, &["policy", "plan", &file, "--prune"]).await.code,
        2
    );
    let applied = cli(&app, &["policy", "apply", &file, "--prune"]).await.ok();
    assert!(
        applied
            .lines()
            .iter()
            .any(|l| l.starts_with("wrote acme: changed [], reset [password]")),
        "{}",
        applied.stdout
    );
    let policy = app.get("/v1/orgs/acme/policy", ROOT).await.body;
    assert_eq!(policy["password"]["is_default"], true);
    let types = app.event_types("acme", ROOT).await;
    assert_eq!(types.last().unwrap(), "policy.password.reset");
    let done = cli(&app, &["policy", "plan", &file, "--prune"]).await.ok();
    assert_eq!(
        done.lines(),
        ["No changes: the server matches the document."]
    );

    // A password policy changed by id.
    let file = write(
        &dir,
        "password.json",
        &json!({"version": 1, "organizations": [{"id": "zeta", "sections": {"password": [
            {"id": "default", "min_length": 12},
        ]}}]})
        .to_string(),
    );
    cli(&app, &["policy", "apply", &file]).await.ok();
    let file = write(
        &dir,
        "password2.json",
        &json!({"version": 1, "organizations": [{"id": "zeta", "sections": {"password": [
            {"id": "default", "min_length": 14},
            {"id": "ops", "is_default": false, "sources": ["ops"]},
        ]}}]})
        .to_string(),
    );
    let plan = cli(&app, &["policy", "plan", &file]).await;
    assert_eq!(plan.code, 2);
    assert_eq!(
        plan.lines()[..2],
        [
            "~ zeta password[default].min_length: 12 → 14",
            "+ zeta password[ops]: added"
        ]
    );

    // One bad field: every violation, nothing written, exit 1.
    let events = app.event_types("acme", ROOT).await.len();
    let bad = write(
        &dir,
        "bad.yaml",
        "version: 1\norganizations:\n- id: acme\n  sections:\n    lockout:\n      max_password_attempts: 0\n      max_otp_attempts: 5000\n    brute_force:\n      ipv4_prefix: 1\n",
    );
    let refused = cli(&app, &["policy", "apply", &bad]).await;
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.starts_with("error: 400 validation_failed"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .lines()
            .any(|l| l.starts_with("  sections.lockout.max_password_attempts: ")),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.lines().count() >= 3, "{}", refused.stderr);
    assert_eq!(app.event_types("acme", ROOT).await.len(), events);
    // A document the CLI cannot read: exit 1 before any request.
    let unreadable = write(&dir, "bad2.yaml", "version: 1\nextra: true\n");
    let refused = cli(&app, &["policy", "plan", &unreadable]).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("unknown field"),
        "{}",
        refused.stderr
    );
    let wrong_extension = write(&dir, "doc.txt", "version: 1\n");
    assert_eq!(
        cli(&app, &["policy", "plan", &wrong_extension]).await.code,
        1
    );
}

struct Proxy {
    target: String,
    http: reqwest::Client,
    meddled: AtomicBool,
    /// Drop the server's `ETag` headers (and change nothing), as some proxies do.
    strip_etag: bool,
}

/// Forwards every request to the server; before the first `PUT …/orgs/acme/policy` it changes
/// acme's mfa section itself, as a concurrent administrator would between plan and write
/// (unless it strips `ETag` headers instead).
async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let uri = parts.uri.path_and_query().unwrap().to_string();
    if parts.method == axum::http::Method::PUT
        && uri == "/v1/orgs/acme/policy"
        && !proxy.strip_etag
        && !proxy.meddled.swap(true, Ordering::SeqCst)
    {
        let a = proxy
            .http
            .patch(format!("{}/v1/orgs/acme/policy/mfa", proxy.target))
            .bearer_auth(ROOT)
            .json(&json!({"required": true}))
            .send()
            .await
            .unwrap();
        assert!(a.status().is_success());
    }
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut outgoing = proxy
        .http
        .request(parts.method.clone(), format!("{}{uri}", proxy.target))
        .body(bytes.to_vec());
    let hop = |name: &str| {
        matches!(
            name,
            "host" | "content-length" | "transfer-encoding" | "connection"
        )
    };
    for (name, value) in &parts.headers {
        if !hop(name.as_str()) {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = outgoing.send().await.unwrap();
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        let stripped = proxy.strip_etag && name.as_str() == "etag";
        if !hop(name.as_str()) && !stripped {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    response
        .body(Body::from(answer.bytes().await.unwrap()))
        .unwrap()
}

async fn spawn_proxy(target: &str, strip_etag: bool) -> String {
    let proxy = Arc::new(Proxy {
        target: target.to_owned(),
        http: reqwest::Client::new(),
        meddled: AtomicBool::new(false),
        strip_etag,
    });
    let router = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_policy_apply_refuses_a_scope_changed_since_the_plan() {
    let app = shaped_app().await;
    let dir = TempDir::new("cli-conflict");
    let file = write(
        &dir,
        "doc.yaml",
        "version: 1\norganizations:\n- id: acme\n  sections:\n    lockout:\n      max_password_attempts: 7\n",
    );
    let proxy = spawn_proxy(&app.base, false).await;
    let events = app.event_types("acme", ROOT).await;
    let conflict: Run = run_with(&proxy, Some(ROOT), &["policy", "apply", &file], None).await;
    assert_eq!(conflict.code, 1, "{}\n{}", conflict.stdout, conflict.stderr);
    let lines: Vec<&str> = conflict.stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: 412 precondition_failed"),
        "{}",
        conflict.stderr
    );
    assert!(
        conflict
            .stderr
            .contains("the policy of acme changed since the plan was read"),
        "{}",
        conflict.stderr
    );
    // Only the concurrent change was written, not the document's.
    let types = app.event_types("acme", ROOT).await;
    assert_eq!(types[events.len()..], ["policy.mfa.changed"]);
    let policy = app.get("/v1/orgs/acme/policy", ROOT).await.body;
    assert_eq!(policy["lockout"]["value"]["max_password_attempts"], 3);
    // Planned again, it goes through (and keeps the concurrent mfa section: no --prune).
    run_with(&proxy, Some(ROOT), &["policy", "apply", &file], None)
        .await
        .ok();
    let policy = app.get("/v1/orgs/acme/policy", ROOT).await.body;
    assert_eq!(policy["lockout"]["value"]["max_password_attempts"], 7);
    assert_eq!(policy["mfa"]["is_default"], false);
}

/// Without the version the plan was read at (a proxy stripped the `ETag`), apply refuses: an
/// unconditional write could undo a change made since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_policy_apply_refuses_without_the_version_read() {
    let app = shaped_app().await;
    let dir = TempDir::new("cli-no-etag");
    let file = write(
        &dir,
        "doc.yaml",
        "version: 1\norganizations:\n- id: acme\n  sections:\n    lockout:\n      max_password_attempts: 7\n",
    );
    let proxy = spawn_proxy(&app.base, true).await;
    let events = app.event_types("acme", ROOT).await;
    let refused: Run = run_with(&proxy, Some(ROOT), &["policy", "apply", &file], None).await;
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("no ETag"), "{}", refused.stderr);
    assert_eq!(
        app.event_types("acme", ROOT).await,
        events,
        "nothing written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_policy_schema_is_the_committed_one() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/policy-document.schema.json"
    ))
    .expect("openapi/policy-document.schema.json is committed");
    let generated = portcullis_server::cli::policy_document::schema_json();
    assert!(
        committed == generated,
        "openapi/policy-document.schema.json is stale: run `cargo run -p portcullis-server -- policy schema > openapi/policy-document.schema.json`"
    );
    let app = spawn_app().await;
    let printed = cli(&app, &["policy", "schema"]).await.ok();
    assert_eq!(printed.stdout, committed);
    let schema: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        schema["$defs"]["Sections"]["properties"]["lockout"]["$ref"],
        "#/$defs/LockoutPolicy"
    );
    assert_eq!(
        schema["$defs"]["Sections"]["properties"]["password"]["items"]["$ref"],
        "#/$defs/PasswordPolicy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_compliance_report_and_apply() {
    let app = spawn_app().await;
    cli(&app, &["orgs", "create", "acme"]).await.ok();
    let standards = cli(&app, &["compliance", "standards", "--output", "json"])
        .await
        .ok()
        .json();
    assert!(
        standards
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "pci-dss-4.0.1")
    );
    let report = cli(
        &app,
        &[
            "compliance",
            "report",
            "acme",
            "--standard",
            "pci-dss-4.0.1",
        ],
    )
    .await
    .ok();
    let lines = report.lines();
    assert!(lines[0].starts_with("STATUS  RULE"), "{}", report.stdout);
    let statuses: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(statuses.contains(&"fail") && statuses.contains(&"pass"));
    let first_pass = statuses.iter().position(|s| *s != "fail").unwrap();
    assert!(
        statuses[first_pass..].iter().all(|s| *s != "fail"),
        "failing rules first: {statuses:?}"
    );
    let summary = lines.last().unwrap();
    let json_report = cli(
        &app,
        &[
            "compliance",
            "report",
            "acme",
            "--standard",
            "pci-dss-4.0.1",
            "--output",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    let fail = json_report["summary"]["fail"].as_u64().unwrap();
    assert!(fail > 0);
    assert!(summary.contains(&format!("{fail} fail")), "{summary}");

    // A dry run shows the changes and writes nothing.
    let events = app.event_types("acme", ROOT).await.len();
    let dry = cli(
        &app,
        &["compliance", "apply", "acme", "--standard", "pci-dss-4.0.1"],
    )
    .await
    .ok();
    assert!(
        dry.lines()
            .iter()
            .any(|l| l.starts_with("~ acme lockout: ")),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("Dry run: "), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("Report after the changes: "),
        "{}",
        dry.stdout
    );
    assert_eq!(app.event_types("acme", ROOT).await.len(), events);
    let written = cli(
        &app,
        &[
            "compliance",
            "apply",
            "acme",
            "--standard",
            "pci-dss-4.0.1",
            "--yes",
        ],
    )
    .await
    .ok();
    assert!(written.stdout.contains("Wrote "), "{}", written.stdout);
    assert!(app.event_types("acme", ROOT).await.len() > events);
    let after = cli(
        &app,
        &[
            "compliance",
            "report",
            "acme",
            "--standard",
            "pci-dss-4.0.1",
            "--output",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(after["summary"]["fail"], 0, "{after}");
    let unknown = cli(
        &app,
        &["compliance", "report", "acme", "--standard", "iso-27001"],
    )
    .await;
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("  standard: "),
        "{}",
        unknown.stderr
    );
}
