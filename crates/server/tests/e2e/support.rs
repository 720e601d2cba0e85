//! The test harness: the real server on port 0 with a fresh SQLite file, a manual clock, cheap
//! hashing, and a small JSON client.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_server::{Config, Running, config::HashingConfig, start};
use portcullis_service::{ManualClock, Metrics};
use portcullis_store_postgres::testing::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const ROOT: &str = "root-token-for-tests-0123456789";
pub(crate) const T0: time::OffsetDateTime = time::macros::datetime!(2026-11-23 09:00 UTC);
pub(crate) const GOOD: &str = "correct horse battery staple 9";

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Starts the real binary on port 0 with `database_url` and cheap hashing; answers the child
/// and its base URL once it listens. The child is not killed on drop: callers kill it.
pub(crate) fn spawn_binary(
    database_url: &str,
    dir: &TempDir,
    env: &[(&str, &str)],
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .env("PORTCULLIS_BOOTSTRAP_TOKEN", ROOT)
        .env("PORTCULLIS_HASHING__ARGON2_MEMORY_KIB", "64")
        .env("PORTCULLIS_HASHING__ARGON2_ITERATIONS", "1")
        .env("PORTCULLIS_LOG_LEVEL", "warn")
        .current_dir(&dir.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.to_owned();
        }
    };
    (child, format!("http://{addr}"))
}

/// A fresh directory under the system temp dir, removed on drop (with the test's PostgreSQL
/// database, when the suite runs on PostgreSQL).
pub(crate) struct TempDir(pub(crate) PathBuf, Option<TestDatabase>);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("portcullis-e2e-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir, None)
    }
}

impl TempDir {
    /// The database of a server started by [`spawn_app`] in this directory: its PostgreSQL
    /// test database, or the SQLite file of [`test_config`].
    pub(crate) fn database_url(&self) -> String {
        match &self.1 {
            Some(db) => db.url().to_owned(),
            None => test_config(self).database_url,
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn test_config(dir: &TempDir) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", dir.0.join("portcullis.db").display()),
        bootstrap_token: Some(ROOT.into()),
        // Lets tests speak for other client addresses through X-Forwarded-For.
        trusted_proxies: vec!["127.0.0.1".into()],
        // Tests run sweeps themselves, on their clock.
        sweep_interval_secs: 0,
        hashing: HashingConfig {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            bcrypt_cost: 4,
            concurrency: 4,
        },
        // The same key on every backend (PostgreSQL has no default key file).
        master_key: Some("0123456789abcdef".repeat(4)),
        ..Config::default()
    }
}

pub(crate) struct App {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) clock: ManualClock,
    pub(crate) running: Option<Running>,
    pub(crate) _dir: TempDir,
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) bytes: Vec<u8>,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap().to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            bytes,
            body,
        }
    }

    pub(crate) fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub(crate) fn violation_codes(&self) -> Vec<String> {
        self.body["violations"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|x| x["code"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Which store the end-to-end suite runs on: `PORTCULLIS_TEST_BACKEND=postgres` picks a fresh
/// PostgreSQL database per test (at `PORTCULLIS_TEST_DATABASE_URL`); anything else, SQLite.
pub(crate) fn on_postgres() -> bool {
    std::env::var("PORTCULLIS_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

pub(crate) async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

/// A server whose test configuration `tweak` changed first.
pub(crate) async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> App {
    let mut dir = TempDir::new("app");
    let clock = ManualClock::new(T0);
    let mut config = test_config(&dir);
    tweak(&mut config);
    if on_postgres() {
        let db = TestDatabase::create().await;
        config.database_url = db.url().to_owned();
        dir.1 = Some(db);
    }
    let running = start(&config, Arc::new(clock.clone()), std::future::pending())
        .await
        .unwrap();
    App {
        base: format!("http://{}", running.addr),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
        clock,
        running: Some(running),
        _dir: dir,
    }
}

impl App {
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        Answer::read(response).await
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub(crate) async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub(crate) async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }
    pub(crate) async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    pub(crate) async fn login(&self, org: &str, login: &str, password: &str) -> Answer {
        self.call(
            Method::POST,
            &format!("/v1/orgs/{org}/login"),
            None,
            Some(json!({"login": login, "password": password})),
        )
        .await
    }

    /// A login from client address `ip` (sent through the trusted local proxy).
    pub(crate) async fn login_from(
        &self,
        org: &str,
        login: &str,
        password: &str,
        ip: &str,
    ) -> Answer {
        let response = self
            .http
            .post(format!("{}/v1/orgs/{org}/login", self.base))
            .header("x-forwarded-for", ip)
            .json(&json!({"login": login, "password": password}))
            .send()
            .await
            .unwrap();
        Answer::read(response).await
    }

    /// Creates an organization and an `org_admin` key for it; answers the key.
    pub(crate) async fn org_with_admin(&self, org: &str) -> String {
        let a = self
            .post("/v1/orgs", ROOT, json!({"id": org, "name": org}))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let a = self
            .post(
                &format!("/v1/orgs/{org}/api-keys"),
                ROOT,
                json!({"name": "admin", "roles": ["org_admin"]}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        a.body["key"].as_str().unwrap().to_owned()
    }

    /// Creates a user with `password`; answers its id.
    pub(crate) async fn user(&self, org: &str, admin: &str, login: &str, password: &str) -> String {
        let a = self
            .post(
                &format!("/v1/orgs/{org}/users"),
                admin,
                json!({"login": login, "password": password}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        a.body["id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn set_section(&self, org: &str, admin: &str, section: &str, patch: Value) {
        let a = self
            .patch(&format!("/v1/orgs/{org}/policy/{section}"), admin, patch)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    }

    /// Password hashes computed so far by the server.
    pub(crate) fn hashes(&self) -> u64 {
        Metrics::get(
            &self
                .running
                .as_ref()
                .unwrap()
                .service
                .metrics
                .password_hashes,
        )
    }

    pub(crate) async fn event_types(&self, org: &str, admin: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut after = 0u64;
        loop {
            let path = if org == "instance" {
                format!("/v1/instance/events?after={after}&limit=500")
            } else {
                format!("/v1/orgs/{org}/events?after={after}&limit=500")
            };
            let a = self.get(&path, admin).await;
            assert_eq!(a.status, StatusCode::OK);
            let items = a.body["items"].as_array().unwrap().clone();
            for e in &items {
                out.push(e["type"].as_str().unwrap().to_owned());
                after = e["sequence"].as_u64().unwrap();
            }
            if items.len() < 500 {
                return out;
            }
        }
    }
}
