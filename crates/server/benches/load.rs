//! The load tool: starts the release binary on loopback with a fresh database, drives it from
//! this process for a few seconds per scenario, and prints throughput and latency. Bounded in
//! time and in request count; only 127.0.0.1 is ever contacted.
//!
//! Scenarios (figures go to docs/benchmarks.md):
//! - raw argon2id hashes/s on all cores, measured in this run, as the reference;
//! - successful logins/s (target ≥ 0.9 × raw hashes/s);
//! - rejections/s of a blocked IP and of a revealed lock (target ≥ 20,000/s, generator included);
//! - `GET /v1/orgs/{org}/policy` req/s with p50/p99 (target ≥ 20,000/s, p99 < 5 ms), the same
//!   reads through the vendor dialects, over cleartext HTTP/2, and ZITADEL's lockout read over
//!   Connect binary and gRPC, each as a ratio to the native read of the same run;
//! - password-reset requests for an existing and an unknown login: medians and their ratio
//!   (target within 3 %).
//!
//! Run: `cargo bench -p portcullis-server --bench load` (≈ 40 s). `LOAD_SECONDS` sets the
//! length of each scenario (default 5); `LOAD_ONLY=reset` runs the password-reset row alone;
//! `LOAD_ONLY=raw` starts no server and prints only `raw argon2id hashes/s: N` (the reference
//! `scripts/bench-peer` divides by), on `LOAD_THREADS` threads (default: every core).
//! `LOAD_PG_SOCKET` (a directory, e.g. `/var/run/postgresql`) has the replicas reach PostgreSQL
//! through its Unix socket. `LOAD_SERVER_CPUS` (a `taskset` CPU list of single CPUs, e.g. `0`) pins the server there with
//! one hashing thread per CPU; run the tool itself elsewhere with `LOAD_THREADS` matching, e.g.
//! `LOAD_SERVER_CPUS=0 LOAD_THREADS=1 taskset -c 1 cargo bench -p portcullis-server --bench load`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]
#![allow(clippy::disallowed_methods)] // a benchmark measures wall time

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

mod common;

use common::{Server, start_server};

const ROOT: &str = "load-test-root-token-0123456789";
const PASSWORD: &str = "correct horse battery staple 9";
/// A hard cap on requests per scenario, whatever the duration.
const MAX_REQUESTS: usize = 5_000_000;
/// Concurrent successful logins (each for its own user).
const LOGIN_CONNECTIONS: usize = 8;

fn start() -> Server {
    let dir = std::env::temp_dir().join(format!("portcullis-load-{}", std::process::id()));
    let url = format!("sqlite://{}", dir.join("load.db").display());
    start_on(&url, dir)
}

fn start_on(database_url: &str, dir: std::path::PathBuf) -> Server {
    start_server(database_url, ROOT, &[], Some(dir))
}

struct Figures {
    requests: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    unexpected: usize,
}

impl Figures {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Runs `connections` loops sending `make()` for `seconds`; counts answers with `status`.
async fn drive(
    client: &reqwest::Client,
    connections: usize,
    seconds: f64,
    expect: u16,
    make: impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Figures {
    let make = Arc::new(make);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (client, make, stop) = (client.clone(), make.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut unexpected = 0;
            while !stop.load(Ordering::Relaxed) && latencies.len() < MAX_REQUESTS / connections {
                let t = Instant::now();
                let response = make(&client, connection).send().await.unwrap();
                let status = response.status().as_u16();
                let _ = response.bytes().await.unwrap();
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                if status != expect {
                    unexpected += 1;
                }
            }
            (latencies, unexpected)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut unexpected = 0;
    for t in tasks {
        let (l, u) = t.await.unwrap();
        all.extend(l);
        unexpected += u;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Figures {
        requests: all.len(),
        seconds: elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        unexpected,
    }
}

/// Raw argon2id verifications per second (see `common::raw_hashes_per_second`).
fn raw_hashes_per_second(seconds: f64) -> f64 {
    common::raw_hashes_per_second(PASSWORD, seconds)
}

fn report(name: &str, f: &Figures) {
    println!(
        "{name:<34} {:>10.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} requests, {} unexpected)",
        f.per_second(),
        f.p50_ms,
        f.p99_ms,
        f.requests,
        f.unexpected
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let seconds: f64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    if std::env::var("LOAD_ONLY").is_ok_and(|only| only == "raw") {
        println!(
            "raw argon2id hashes/s: {:.1}",
            raw_hashes_per_second(seconds)
        );
        return;
    }
    let server = start();
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    if std::env::var("LOAD_ONLY").is_ok_and(|only| only == "reset") {
        reset_timing(&client, &base, seconds).await;
        return;
    }
    let admin = |r: reqwest::RequestBuilder| r.bearer_auth(ROOT);

    // Setup: one organization, users, policies.
    let post = |path: &str, body: serde_json::Value| {
        admin(client.post(format!("{base}{path}")))
            .json(&body)
            .send()
    };
    assert!(
        post("/v1/orgs", json!({"id": "load"}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    for i in 0..LOGIN_CONNECTIONS {
        post(
            "/v1/orgs/load/users",
            json!({"login": format!("user{i}"), "password": PASSWORD}),
        )
        .await
        .unwrap();
    }
    post(
        "/v1/orgs/load/users",
        json!({"login": "locked", "password": PASSWORD}),
    )
    .await
    .unwrap();
    let patch = |path: &str, body: serde_json::Value| {
        admin(client.patch(format!("{base}{path}")))
            .json(&body)
            .send()
    };
    patch(
        "/v1/orgs/load/policy/lockout",
        json!({"max_password_attempts": 3, "lock_duration": null}),
    )
    .await
    .unwrap();
    patch(
        "/v1/orgs/load/policy/brute_force",
        json!({"max_attempts": 3, "allowlist": ["127.0.0.1"]}),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        client
            .post(format!("{base}/v1/orgs/load/login"))
            .json(&json!({"login": "locked", "password": "x"}))
            .send()
            .await
            .unwrap();
        client
            .post(format!("{base}/v1/orgs/load/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"login": "someone", "password": "x"}))
            .send()
            .await
            .unwrap();
    }

    let hashes = raw_hashes_per_second(seconds);
    println!(
        "{:<34} {:>10.1} hashes/s (argon2id m=19 MiB t=2 p=1, all cores)",
        "raw argon2id verify", hashes
    );

    let url = format!("{base}/v1/orgs/load/login");
    let u = url.clone();
    // One user per connection: concurrent logins of one user are capped by its lockout slots.
    let logins = drive(&client, LOGIN_CONNECTIONS, seconds, 200, move |c, i| {
        c.post(&u)
            .json(&json!({"login": format!("user{i}"), "password": PASSWORD}))
    })
    .await;
    report("successful logins", &logins);
    println!(
        "{:<34} {:>10.2} (target >= 0.9)",
        "logins/s ÷ raw hashes/s",
        logins.per_second() / hashes
    );

    let u = url.clone();
    let blocked = drive(&client, 64, seconds, 429, move |c, _| {
        c.post(&u)
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"login": "user0", "password": PASSWORD}))
    })
    .await;
    report("blocked IP rejections", &blocked);

    let u = url.clone();
    let locked = drive(&client, 64, seconds, 403, move |c, _| {
        c.post(&u)
            .json(&json!({"login": "locked", "password": PASSWORD}))
    })
    .await;
    report("revealed lock rejections", &locked);

    let u = format!("{base}/v1/orgs/load/policy");
    let policy = drive(&client, 32, seconds, 200, move |c, _| {
        c.get(&u).bearer_auth(ROOT)
    })
    .await;
    report("GET /v1/orgs/{org}/policy", &policy);

    // The same reads through the vendor dialects (the same cached policy, another wire format).
    type Read = fn(&reqwest::Client, &str) -> reqwest::RequestBuilder;
    let dialect_reads: [(&str, Read); 5] = [
        ("Scaleway GET security-settings", |c, base| {
            c.get(format!(
                "{base}/iam/v1alpha1/organizations/load/security-settings"
            ))
            .header("x-auth-token", ROOT)
        }),
        ("ZITADEL v1 GET lockout", |c, base| {
            c.get(format!("{base}/management/v1/policies/lockout"))
                .bearer_auth(ROOT)
                .header("x-zitadel-orgid", "load")
        }),
        ("Huawei GET login-policy (token)", |c, base| {
            c.get(format!(
                "{base}/v3.0/OS-SECURITYPOLICY/domains/load/login-policy"
            ))
            .header("x-auth-token", ROOT)
        }),
        ("PlusAuth GET tenant settings", |c, base| {
            c.get(format!("{base}/api/v1/tenants/load/settings"))
                .bearer_auth(ROOT)
        }),
        ("ZITADEL v2 GetLockoutSettings", |c, base| {
            c.post(format!(
                "{base}/zitadel.settings.v2.SettingsService/GetLockoutSettings"
            ))
            .bearer_auth(ROOT)
            .json(&json!({"ctx": {"orgId": "load"}}))
        }),
    ];
    for (name, request) in dialect_reads {
        let b = base.clone();
        let read = drive(&client, 32, seconds, 200, move |c, _| request(c, &b)).await;
        report(name, &read);
        println!(
            "{:<34} {:>10.2}",
            "  ÷ native policy reads/s",
            read.per_second() / policy.per_second()
        );
    }

    // The same listener over cleartext HTTP/2 (prior knowledge: one connection, 32 streams), and
    // ZITADEL's RPC transports of the v1 lockout read: Connect binary over HTTP/1.1, gRPC over
    // HTTP/2. The empty request message is zero bytes (Connect) or a 5-byte frame (gRPC).
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let u = format!("{base}/v1/orgs/load/policy");
    let over_h2 = drive(&h2, 32, seconds, 200, move |c, _| {
        c.get(&u).bearer_auth(ROOT)
    })
    .await;
    report("GET /v1/orgs/{org}/policy, HTTP/2", &over_h2);
    println!(
        "{:<34} {:>10.2}",
        "  ÷ native policy reads/s",
        over_h2.per_second() / policy.per_second()
    );
    let rpc = format!("{base}/zitadel.management.v1.ManagementService/GetLockoutPolicy");
    let u = rpc.clone();
    let connect = drive(&client, 32, seconds, 200, move |c, _| {
        c.post(&u)
            .bearer_auth(ROOT)
            .header("x-zitadel-orgid", "load")
            .header("content-type", "application/proto")
    })
    .await;
    report("ZITADEL v1 lockout, Connect binary", &connect);
    let grpc = drive(&h2, 32, seconds, 200, move |c, _| {
        c.post(&rpc)
            .bearer_auth(ROOT)
            .header("x-zitadel-orgid", "load")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(vec![0u8; 5])
    })
    .await;
    report("ZITADEL v1 lockout, gRPC (HTTP/2)", &grpc);
    for (name, figures) in [("Connect binary", &connect), ("gRPC", &grpc)] {
        println!(
            "{:<34} {:>10.2}",
            format!("  {name} ÷ native policy reads/s"),
            figures.per_second() / policy.per_second()
        );
    }

    // No oracle: a wrong password, an unknown login name and a hidden lock, one connection
    // each in turn, same organization (hidden locks, no IP blocking for loopback).
    let post = |path: &str, body: serde_json::Value| {
        admin(client.post(format!("{base}{path}")))
            .json(&body)
            .send()
    };
    post("/v1/orgs", json!({"id": "oracle"})).await.unwrap();
    post(
        "/v1/orgs/oracle/users",
        json!({"login": "known", "password": PASSWORD}),
    )
    .await
    .unwrap();
    post(
        "/v1/orgs/oracle/users",
        json!({"login": "locked", "password": PASSWORD}),
    )
    .await
    .unwrap();
    let patch = |path: &str, body: serde_json::Value| {
        admin(client.patch(format!("{base}{path}")))
            .json(&body)
            .send()
    };
    patch(
        "/v1/orgs/oracle/policy/brute_force",
        json!({"allowlist": ["127.0.0.1"]}),
    )
    .await
    .unwrap();
    patch(
        "/v1/orgs/oracle/policy/lockout",
        json!({"max_password_attempts": 1000, "reveal_lock": false, "lock_duration": null}),
    )
    .await
    .unwrap();
    let oracle = format!("{base}/v1/orgs/oracle/login");
    // Lock `locked` by lowering the limit, failing once, and raising it again.
    patch(
        "/v1/orgs/oracle/policy/lockout",
        json!({"max_password_attempts": 1}),
    )
    .await
    .unwrap();
    client
        .post(&oracle)
        .json(&json!({"login": "locked", "password": "x"}))
        .send()
        .await
        .unwrap();
    patch(
        "/v1/orgs/oracle/policy/lockout",
        json!({"max_password_attempts": 1000}),
    )
    .await
    .unwrap();
    let mut medians = Vec::new();
    for (name, login, password) in [
        ("wrong password", "known", "wrong"),
        ("unknown login name", "nobody", "wrong"),
        ("hidden lock, right password", "locked", PASSWORD),
    ] {
        let u = oracle.clone();
        let f = drive(&client, 1, seconds / 2.0, 401, move |c, _| {
            c.post(&u)
                .json(&json!({"login": login, "password": password}))
        })
        .await;
        report(&format!("401: {name}"), &f);
        medians.push(f.p50_ms);
    }
    let spread = medians.iter().copied().fold(f64::MIN, f64::max)
        / medians.iter().copied().fold(f64::MAX, f64::min);
    println!(
        "{:<34} {:>10.3} (1.000 = identical medians)",
        "401 latency: max/min median", spread
    );

    reset_timing(&client, &base, seconds).await;
    let sqlite = (
        logins.per_second(),
        blocked.per_second(),
        policy.per_second(),
    );
    drop(server);
    replicas_on_postgres(&client, seconds, hashes, sqlite).await;
}

/// Password-reset requests for an existing login with an address (mailed once, then recorded
/// within its window) and for an unknown one, on one connection, alternating request by
/// request so that both see the same database and machine state; prints both medians and their
/// ratio (target within 3 %).
async fn reset_timing(client: &reqwest::Client, base: &str, seconds: f64) {
    let admin = |r: reqwest::RequestBuilder| r.bearer_auth(ROOT);
    let send = |r: reqwest::RequestBuilder, body: serde_json::Value| async move {
        let status = admin(r).json(&body).send().await.unwrap().status();
        assert!(status.is_success(), "{status}");
    };
    send(
        client.post(format!("{base}/v1/orgs")),
        json!({"id": "resets"}),
    )
    .await;
    send(
        client.patch(format!("{base}/v1/orgs/resets/policy/features")),
        json!({"forgot_password_enabled": true}),
    )
    .await;
    send(
        client.post(format!("{base}/v1/orgs/resets/users")),
        json!({"login": "mailed", "password": PASSWORD, "email": "mailed@example.test"}),
    )
    .await;
    let url = format!("{base}/v1/orgs/resets/password-reset");
    let logins = ["mailed", "nobody"];
    let mut latencies = [Vec::new(), Vec::new()];
    let started = Instant::now();
    let mut unexpected = 0;
    while started.elapsed().as_secs_f64() < seconds && latencies[0].len() < MAX_REQUESTS / 2 {
        for (login, into) in logins.iter().zip(latencies.iter_mut()) {
            let t = Instant::now();
            let response = client
                .post(&url)
                .json(&json!({"login": login}))
                .send()
                .await
                .unwrap();
            unexpected += usize::from(response.status().as_u16() != 202);
            let _ = response.bytes().await.unwrap();
            into.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let mut medians = Vec::new();
    for (name, mut all) in ["existing login", "unknown login"]
        .into_iter()
        .zip(latencies)
    {
        all.sort_by(f64::total_cmp);
        let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
        println!(
            "{:<34} {:>10} requests  p50 {:>7.3} ms  p99 {:>7.3} ms",
            format!("202 reset: {name}"),
            all.len(),
            pct(0.5),
            pct(0.99)
        );
        medians.push(pct(0.5));
    }
    println!(
        "{:<34} {:>10.3} (target within 1.000 ± 0.03; {unexpected} unexpected)",
        "reset latency: existing/unknown",
        medians[0] / medians[1]
    );
}

/// The same login, blocked-IP and policy-read scenarios against two replicas on one PostgreSQL
/// database (a fresh one, dropped afterwards), the load spread over both, compared with the
/// single SQLite node measured just before.
async fn replicas_on_postgres(
    client: &reqwest::Client,
    seconds: f64,
    hashes: f64,
    sqlite: (f64, f64, f64),
) {
    let db = portcullis_store_postgres::testing::TestDatabase::create().await;
    // `LOAD_PG_SOCKET=/var/run/postgresql`: the replicas reach PostgreSQL through its Unix
    // socket in that directory instead of loopback TCP.
    let url = match std::env::var("LOAD_PG_SOCKET") {
        Ok(dir) => format!("{}?host={dir}", db.url()),
        Err(_) => db.url().to_owned(),
    };
    let servers: Vec<Server> = (0..2)
        .map(|i| {
            let dir =
                std::env::temp_dir().join(format!("portcullis-load-pg{i}-{}", std::process::id()));
            start_on(&url, dir)
        })
        .collect();
    let bases: Arc<Vec<String>> = Arc::new(servers.iter().map(|s| s.base.clone()).collect());
    let first = bases[0].clone();
    let send = |method: reqwest::Method, path: &str, body: serde_json::Value| {
        client
            .request(method, format!("{first}{path}"))
            .bearer_auth(ROOT)
            .json(&body)
            .send()
    };
    send(reqwest::Method::POST, "/v1/orgs", json!({"id": "load"}))
        .await
        .unwrap();
    for i in 0..LOGIN_CONNECTIONS {
        send(
            reqwest::Method::POST,
            "/v1/orgs/load/users",
            json!({"login": format!("user{i}"), "password": PASSWORD}),
        )
        .await
        .unwrap();
    }
    send(
        reqwest::Method::PATCH,
        "/v1/orgs/load/policy/brute_force",
        json!({"max_attempts": 3, "allowlist": ["127.0.0.1"]}),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        client
            .post(format!("{first}/v1/orgs/load/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"login": "someone", "password": "x"}))
            .send()
            .await
            .unwrap();
    }
    let b = bases.clone();
    let logins = drive(client, LOGIN_CONNECTIONS, seconds, 200, move |c, i| {
        c.post(format!("{}/v1/orgs/load/login", b[i % b.len()]))
            .json(&json!({"login": format!("user{i}"), "password": PASSWORD}))
    })
    .await;
    report("2 replicas on PG: logins", &logins);
    let b = bases.clone();
    let blocked = drive(client, 64, seconds, 429, move |c, i| {
        c.post(format!("{}/v1/orgs/load/login", b[i % b.len()]))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"login": "user0", "password": PASSWORD}))
    })
    .await;
    report("2 replicas on PG: blocked IP", &blocked);
    let b = bases.clone();
    let policy = drive(client, 32, seconds, 200, move |c, i| {
        c.get(format!("{}/v1/orgs/load/policy", b[i % b.len()]))
            .bearer_auth(ROOT)
    })
    .await;
    report("2 replicas on PG: GET policy", &policy);
    println!(
        "{:<34} logins {:.2} (÷ raw hashes {:.2}), blocked IP {:.2}, policy reads {:.2}",
        "2 replicas on PG ÷ SQLite node",
        logins.per_second() / sqlite.0,
        logins.per_second() / hashes,
        blocked.per_second() / sqlite.1,
        policy.per_second() / sqlite.2
    );
    drop(servers);
}
