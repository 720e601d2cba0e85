//! The scale bench (issue 17 §3, "How the cost grows"): seeds a fresh database directly with
//! many organizations, users, counters and events, then starts the release binary on it and
//! measures what should not grow with them. Figures go to docs/benchmarks.md.
//!
//! Seeding (`scale/seed.rs`): the server's migrations are applied by opening the store through
//! its adapter crate; the rows are then inserted with sqlx in multi-row `INSERT`s (500 rows a
//! statement, 10,000 a transaction), exactly as the store writes them: users with the login key
//! `normalize_login` gives and one argon2id hash at the server's default cost, computed once and
//! shared by every user; counters as serialized `CounterState`s with the due time, lock end,
//! login key and label the store keeps beside them; events as the service drafts them. Rows are
//! generated batch by batch, so a million users take no more memory than a thousand.
//!
//! Measured, each scenario for `SCALE_SECONDS` (default 5): successful logins of users picked at
//! random across every organization (rate, p50/p99, and ÷ raw argon2id hashes/s measured in the
//! same run), logins from a blocked address (429), `GET /v1/orgs/{org}/policy` across the
//! organizations (through the policy cache, `policy_cache_entries`), admin list pages walked with
//! their cursors (users, locked users, locks, events: p50/p99 per page), the first sweep's
//! duration (`portcullis_sweep_duration_seconds`: the server sweeps once at start; the sweep
//! interval is set to a day so that it runs once), the database's size, and the server's RSS
//! (VmRSS, VmHWM) after the load.
//!
//! Invariants: every scenario is bounded in time and in requests ([`MAX_REQUESTS`], page walks
//! of at most [`MAX_PAGES`] pages); only 127.0.0.1 is contacted (a PostgreSQL URL must name a
//! loopback host); the database is created for the run and removed after it (kept with
//! `SCALE_KEEP_DB=1`, for inspection).
//!
//! Run: `cargo bench -p portcullis-server --bench scale`. Sizes: `SCALE_ORGS` (default 1000),
//! `SCALE_USERS` (10000), `SCALE_COUNTERS` (100000), `SCALE_EVENTS` (100000);
//! `SCALE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test` seeds a fresh database on that
//! PostgreSQL server instead of a SQLite file (dropped after the run).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]
#![allow(clippy::disallowed_methods)] // a benchmark measures wall time and reads the clock

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
#[path = "scale/seed.rs"]
mod seed;

use common::{Server, start_server};

use seed::{Database, is_locked_user, login, mix, org_id, org_of_user};

const ROOT: &str = "scale-test-root-token-0123456789";
const PASSWORD: &str = "correct horse battery staple 9";
/// The address every organization has blocked.
const BLOCKED: &str = "203.0.113.9";
/// A hard cap on requests per scenario, whatever the duration.
const MAX_REQUESTS: usize = 5_000_000;
/// A list walk stops after this many pages of one organization.
const MAX_PAGES: usize = 20;
/// Page size of the list walks.
const PAGE: usize = 50;
/// Concurrent successful logins.
const LOGIN_CONNECTIONS: usize = 8;

/// Sizes and switches, from the environment.
struct Plan {
    orgs: usize,
    users: usize,
    counters: usize,
    events: usize,
    seconds: f64,
    postgres: Option<String>,
    keep: bool,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.replace('_', ""))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Plan {
    fn from_env() -> Plan {
        let postgres = std::env::var("SCALE_DATABASE_URL").ok();
        if let Some(url) = &postgres {
            let host = url
                .split_once("://")
                .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(""))
                .map(|authority| authority.rsplit('@').next().unwrap_or(""))
                .unwrap_or("");
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            assert!(
                url.starts_with("postgres://") || url.starts_with("postgresql://"),
                "SCALE_DATABASE_URL must be a postgres:// URL"
            );
            assert!(
                matches!(host, "127.0.0.1" | "localhost" | "[::1]"),
                "SCALE_DATABASE_URL must name a loopback host (this bench contacts 127.0.0.1 only)"
            );
        }
        Plan {
            orgs: env_number("SCALE_ORGS", 1000).max(1),
            users: env_number("SCALE_USERS", 10_000).max(20),
            counters: env_number("SCALE_COUNTERS", 100_000),
            events: env_number("SCALE_EVENTS", 100_000),
            seconds: std::env::var("SCALE_SECONDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(5.0),
            postgres,
            keep: std::env::var("SCALE_KEEP_DB").is_ok_and(|v| v == "1"),
        }
    }
}

/// A small random generator for the load (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(mix(seed) | 1)
    }
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

// --- the server

fn start(database_url: &str) -> Server {
    // One sweep, at start; none during the load.
    start_server(
        database_url,
        ROOT,
        &[("PORTCULLIS_SWEEP_INTERVAL_SECS", "86400")],
        None,
    )
}

/// The value of the metric line starting with `name ` (or `name{`).
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|line| {
            line.starts_with(&format!("{name} ")) || line.starts_with(&format!("{name}{{"))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits (at most ten minutes) for the sweep the server runs at start; answers its duration in
/// seconds and the counters it removed.
async fn first_sweep(client: &reqwest::Client, base: &str) -> (f64, f64) {
    let started = Instant::now();
    loop {
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metric(&text, "portcullis_sweep_duration_seconds_count").unwrap_or(0.0) >= 1.0 {
            let seconds = metric(&text, "portcullis_sweep_duration_seconds_sum").unwrap();
            let removed = text
                .lines()
                .find(|l| {
                    l.starts_with("portcullis_sweep_removed_total")
                        && l.contains("kind=\"counters\"")
                })
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            return (seconds, removed);
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no sweep finished within ten minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// VmRSS and VmHWM of a process, KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// --- measuring

#[derive(Clone, Copy, Default)]
struct Figures {
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    unexpected: usize,
}

fn figures(mut latencies: Vec<f64>, seconds: f64, unexpected: usize) -> Figures {
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Figures {
        requests: latencies.len(),
        per_second: latencies.len() as f64 / seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        unexpected,
    }
}

/// Runs `connections` loops sending `make(client, rng)` for `seconds`; counts answers other
/// than `expect`.
async fn drive(
    client: &reqwest::Client,
    connections: usize,
    seconds: f64,
    expect: u16,
    make: impl Fn(&reqwest::Client, &mut Rng) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Figures {
    let make = Arc::new(make);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (client, make, stop) = (client.clone(), make.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(connection as u64 + 1);
            let mut latencies = Vec::new();
            let mut unexpected = 0;
            while !stop.load(Ordering::Relaxed) && latencies.len() < MAX_REQUESTS / connections {
                let t = Instant::now();
                let response = make(&client, &mut rng).send().await.unwrap();
                let status = response.status().as_u16();
                let _ = response.bytes().await.unwrap();
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                unexpected += usize::from(status != expect);
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
    figures(all, started.elapsed().as_secs_f64(), unexpected)
}

/// Walks `path(org)` page by page (cursor `next_after`, at most [`MAX_PAGES`]) in organizations
/// picked at random, for `seconds`; the figures are per page.
async fn walk(
    client: &reqwest::Client,
    base: &str,
    plan: &Plan,
    seconds: f64,
    path: impl Fn(&str) -> String,
) -> (Figures, f64) {
    let mut rng = Rng::new(7);
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut unexpected = 0;
    let mut walks = 0usize;
    let mut pages_walked = 0usize;
    while started.elapsed().as_secs_f64() < seconds && latencies.len() < MAX_REQUESTS {
        let org = org_id(rng.below(plan.orgs));
        let mut after: Option<String> = None;
        walks += 1;
        for _ in 0..MAX_PAGES {
            let path = path(&org);
            let separator = if path.contains('?') { '&' } else { '?' };
            let mut url = format!("{base}{path}{separator}limit={PAGE}");
            if let Some(cursor) = &after {
                url.push_str(&format!(
                    "&after={}",
                    percent_encoding::utf8_percent_encode(
                        cursor,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ));
            }
            let t = Instant::now();
            let response = client.get(&url).bearer_auth(ROOT).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            pages_walked += 1;
            if status != 200 {
                unexpected += 1;
                break;
            }
            match body.get("next_after").and_then(Value::as_str) {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
    }
    let pages_per_walk = pages_walked as f64 / walks.max(1) as f64;
    (
        figures(latencies, started.elapsed().as_secs_f64(), unexpected),
        pages_per_walk,
    )
}

/// Raw argon2id verifications per second (see `common::raw_hashes_per_second`).
fn raw_hashes_per_second(seconds: f64) -> f64 {
    common::raw_hashes_per_second(PASSWORD, seconds)
}

fn report(name: &str, f: &Figures) {
    println!(
        "{name:<34} {:>10.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} requests, {} unexpected)",
        f.per_second, f.p50_ms, f.p99_ms, f.requests, f.unexpected
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let plan = Arc::new(Plan::from_env());
    println!(
        "scale: {} organizations, {} users, {} counters, {} events, {} s per scenario, {}",
        plan.orgs,
        plan.users,
        plan.counters,
        plan.events,
        plan.seconds,
        if plan.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );

    // The schema, by the adapter's own migrations; then the rows, directly.
    let db = Database::create(&plan).await;
    let store = if plan.postgres.is_some() {
        portcullis_store_postgres::open(&db.url, 1).await.unwrap()
    } else {
        let store = portcullis_store_sqlite::open(&db.url, 1).await.unwrap();
        // The seeding connection keeps the indexes it fills in memory (256 MiB at most).
        sqlx::raw_sql("PRAGMA cache_size = -262144")
            .execute(store.pool())
            .await
            .unwrap();
        store
    };
    seed::seed(store.pool(), &plan).await;
    // The statistics a previous sweep would have left (PostgreSQL: what autovacuum keeps).
    let t = Instant::now();
    if plan.postgres.is_some() {
        sqlx::raw_sql("ANALYZE")
            .execute(store.pool())
            .await
            .unwrap();
    } else {
        use portcullis_store::prelude::*;
        store.refresh_statistics().await.unwrap();
    }
    println!(
        "planner statistics refreshed in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    store.close().await;
    let seeded_size = db.size().await;

    let server = start(&db.url);
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let (sweep_seconds, swept_counters) = first_sweep(&client, &base).await;
    println!(
        "{:<34} {:>10.3} s  ({} counters removed)",
        "first sweep (every organization)", sweep_seconds, swept_counters
    );

    let seconds = plan.seconds;
    let before = raw_hashes_per_second(seconds / 2.0);
    let p = plan.clone();
    let b = base.clone();
    let logins = drive(&client, LOGIN_CONNECTIONS, seconds, 200, move |c, rng| {
        let user = loop {
            let user = rng.below(p.users);
            if !is_locked_user(user) {
                break user;
            }
        };
        c.post(format!(
            "{b}/v1/orgs/{}/login",
            org_id(org_of_user(&p, user))
        ))
        .json(&json!({"login": login(user), "password": PASSWORD}))
    })
    .await;
    let after = raw_hashes_per_second(seconds / 2.0);
    let hashes = (before + after) / 2.0;
    println!(
        "{:<34} {:>10.1} hashes/s (argon2id m=19 MiB t=2 p=1, all cores)",
        "raw argon2id verify", hashes
    );
    report("successful logins", &logins);
    println!(
        "{:<34} {:>10.2}",
        "logins/s ÷ raw hashes/s",
        logins.per_second / hashes
    );

    let p = plan.clone();
    let b = base.clone();
    let blocked = drive(&client, 64, seconds, 429, move |c, rng| {
        let user = rng.below(p.users);
        c.post(format!(
            "{b}/v1/orgs/{}/login",
            org_id(org_of_user(&p, user))
        ))
        .header("x-forwarded-for", BLOCKED)
        .json(&json!({"login": login(user), "password": PASSWORD}))
    })
    .await;
    report("blocked IP rejections", &blocked);

    let p = plan.clone();
    let b = base.clone();
    let policy = drive(&client, 32, seconds, 200, move |c, rng| {
        c.get(format!("{b}/v1/orgs/{}/policy", org_id(rng.below(p.orgs))))
            .bearer_auth(ROOT)
    })
    .await;
    report("GET /v1/orgs/{org}/policy", &policy);

    type ListPath = fn(&str) -> String;
    let lists: [(&str, ListPath); 4] = [
        ("users", |org| format!("/v1/orgs/{org}/users")),
        ("locked users", |org| {
            format!("/v1/orgs/{org}/users?locked=true")
        }),
        ("locks", |org| format!("/v1/orgs/{org}/locks")),
        ("events", |org| format!("/v1/orgs/{org}/events")),
    ];
    let mut pages = Vec::new();
    for (name, path) in lists {
        let (f, depth) = walk(&client, &base, &plan, seconds, path).await;
        report(&format!("list page: {name}"), &f);
        println!("{:<34} {:>10.1} pages per organization walked", "", depth);
        pages.push((name, f, depth));
    }

    let (rss, hwm) = memory(server.child.id());
    println!(
        "{:<34} VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        "server memory after the load",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    drop(server);
    let size = db.size().await;
    println!(
        "{:<34} {:.1} MiB seeded, {:.1} MiB after the load",
        "database size",
        seeded_size as f64 / 1_048_576.0,
        size as f64 / 1_048_576.0
    );

    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| logins/s, p50/p99 | {:.0}, {:.1}/{:.1} ms (÷ raw hashes {:.2}) |",
        logins.per_second,
        logins.p50_ms,
        logins.p99_ms,
        logins.per_second / hashes
    );
    println!(
        "| blocked-IP rejections/s, p99 | {:.0}, {:.2} ms |",
        blocked.per_second, blocked.p99_ms
    );
    println!(
        "| policy reads/s, p50/p99 | {:.0}, {:.2}/{:.2} ms |",
        policy.per_second, policy.p50_ms, policy.p99_ms
    );
    for (name, f, depth) in &pages {
        println!(
            "| {name} page p50/p99 ({depth:.1} pages per walk) | {:.2}/{:.2} ms |",
            f.p50_ms, f.p99_ms
        );
    }
    println!("| first sweep | {sweep_seconds:.2} s ({swept_counters} counters removed) |");
    println!("| database | {:.1} MiB |", size as f64 / 1_048_576.0);
    println!(
        "| server RSS / peak | {:.1} / {:.1} MiB |",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    db.remove().await;
}
