//! PostgreSQL restarted under load: while it is down, requests fail cleanly (503 with a problem
//! document, never a 500), and they succeed again by themselves once it is back.
//!
//! A test binary of its own because it stops and starts the machine's PostgreSQL server: cargo
//! runs test binaries one after another, so no other test sees the outage. It needs
//! `pg_ctlcluster` (Debian's PostgreSQL) and fails, never skips, without it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    missing_docs
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_store_postgres::testing::TestDatabase;
use serde_json::json;

const ROOT: &str = "root-token-for-tests-0123456789";

fn cluster(action: &str) {
    let versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .expect("this test controls the local PostgreSQL through /etc/postgresql and pg_ctlcluster")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !versions.is_empty(),
        "no PostgreSQL cluster under /etc/postgresql"
    );
    for version in versions {
        let status = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", action])
            .args(if action == "stop" {
                vec!["-m", "fast"]
            } else {
                vec![]
            })
            .status()
            .expect("pg_ctlcluster runs");
        assert!(
            status.success(),
            "pg_ctlcluster {version} main {action} failed"
        );
    }
}

/// Starts PostgreSQL again if the test fails half-way (a failed start is not reported here:
/// the test's own `cluster("start")` reports it).
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        for version in std::fs::read_dir("/etc/postgresql")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = Command::new("pg_ctlcluster")
                .args([
                    "--skip-systemctl-redirect",
                    &version.file_name().to_string_lossy(),
                    "main",
                    "start",
                ])
                .status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_fail_cleanly_while_postgresql_is_down_and_recover() {
    let db = TestDatabase::create().await;
    let dir = std::env::temp_dir().join(format!("portcullis-pg-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            db.url(),
        ])
        .env("PORTCULLIS_BOOTSTRAP_TOKEN", ROOT)
        .env("PORTCULLIS_HASHING__ARGON2_MEMORY_KIB", "64")
        .env("PORTCULLIS_HASHING__ARGON2_ITERATIONS", "1")
        .env("PORTCULLIS_LOG_LEVEL", "error")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            break format!("http://{addr}");
        }
    };
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{base}/v1/orgs"))
        .bearer_auth(ROOT)
        .json(&json!({"id": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let read = || {
        http.get(format!("{base}/v1/orgs/acme/users"))
            .bearer_auth(ROOT)
            .send()
    };

    let restart = Restart;
    cluster("stop");
    // Down: every answer is a clean 503 problem (or, at worst, a refused login), never a 500.
    let mut unavailable = 0;
    for _ in 0..5 {
        let answer = read().await.unwrap();
        let status = answer.status().as_u16();
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        assert_ne!(status, 500, "{body}");
        if status == 503 {
            assert_eq!(body["code"], "unavailable", "{body}");
            unavailable += 1;
        }
    }
    assert!(unavailable > 0, "PostgreSQL down must show as 503");
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    cluster("start");
    std::mem::forget(restart);
    // Back: the same server recovers by itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = read().await.unwrap();
        if answer.status() == 200 {
            break;
        }
        assert_ne!(answer.status(), 500);
        assert!(Instant::now() < deadline, "no recovery within 30 s");
    }
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
