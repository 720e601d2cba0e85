//! The portcullis server: configuration, wiring of store → service → HTTP, startup (migrations,
//! bootstrap of the first instance administrator key), graceful shutdown, and the offline
//! recovery of instance access.
//!
//! Invariants: the one place that chooses a storage adapter is [`open_store`]; the wall clock is
//! the service's `SystemClock` unless a test injects another; the bootstrap key is printed once,
//! on first start of an empty instance, and never logged; so is a recovered key, by the
//! `admin recover` command only.

mod breached_source;
pub mod cli;
pub mod config;
mod master_key_file;
mod serve;
pub mod smtp;

use std::net::SocketAddr;
use std::sync::Arc;

use portcullis_engine::hashing::Hasher;
use portcullis_http::AppState;
use portcullis_service::{Clock, Service};
use portcullis_store::Store;

use tokio::net::TcpListener;

pub use config::{Config, LogFormat, Overrides};

/// A startup failure.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(String),
    /// A SQLite file is held by another portcullis process (its `<file>.lock`).
    #[error("{0}")]
    InUse(String),
    /// Something else (bind, hashing parameters).
    #[error("{0}")]
    Other(String),
}

/// The open store and what keeps it ours: with SQLite, an exclusive lock on `<file>.lock`, held
/// while the store is open, so a second server on the same file refuses to start (its policy
/// cache would never see the first one's changes).
pub struct OpenStore {
    /// The store.
    pub store: Arc<dyn Store>,
    _lock: Option<std::fs::File>,
}

/// The SQLite file named by a `sqlite:` URL (percent-decoded, as sqlx reads it) or a plain path.
/// Whether `url` names a PostgreSQL database.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn sqlite_file(url: &str) -> String {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return url.to_owned();
    };
    let path = rest.split('?').next().unwrap_or(rest);
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The lock file of a database file: beside its real location (symlinks resolved), so every
/// spelling of the same file takes the same lock.
fn lock_path(file: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(file);
    let name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let parent = std::fs::canonicalize(&parent).unwrap_or(parent);
    let mut lock = name;
    lock.push(".lock");
    parent.join(lock)
}

fn lock_database(file: &str) -> Result<std::fs::File, StartError> {
    let path = lock_path(file).display().to_string();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StartError::Database(format!("cannot open {path}: {e}")))?;
    lock.try_lock().map_err(|e| match e {
        std::fs::TryLockError::WouldBlock => StartError::InUse(format!(
            "{file} is in use by another portcullis process (lock {path}); one server per SQLite file"
        )),
        std::fs::TryLockError::Error(e) => {
            StartError::Database(format!("cannot lock {path}: {e}"))
        }
    })?;
    Ok(lock)
}

/// Opens (and migrates) the store named by `database_url`.
pub async fn open_store(config: &Config, migrate: bool) -> Result<OpenStore, StartError> {
    let url = config.database_url.as_str();
    if is_postgres(url) {
        // Several replicas share one PostgreSQL database: no lock, migrations are serialized
        // by the adapter's advisory lock.
        let store = portcullis_store_postgres::connect(url, config.pool_size)
            .await
            .map_err(|e| StartError::Database(e.to_string()))?;
        if migrate {
            store
                .migrate()
                .await
                .map_err(|e| StartError::Database(e.to_string()))?;
        }
        return Ok(OpenStore {
            store: Arc::new(store),
            _lock: None,
        });
    }
    let lock = lock_database(&sqlite_file(url))?;
    let store = portcullis_store_sqlite::connect(url, config.pool_size)
        .await
        .map_err(|e| StartError::Database(e.to_string()))?;
    if migrate {
        store
            .migrate()
            .await
            .map_err(|e| StartError::Database(e.to_string()))?;
    }
    Ok(OpenStore {
        store: Arc::new(store),
        _lock: Some(lock),
    })
}

/// Creates a new instance administrator key straight in the database named by `config` (the
/// offline recovery of instance access, when no instance key works any more) and answers it;
/// the caller shows its secret once. The event is recorded with the actor `recovery`. With
/// PostgreSQL it works while servers run (they see the key at once: keys are not cached); with
/// SQLite it needs the server stopped, since the server holds the file's lock — it is refused
/// with [`StartError::InUse`] meanwhile.
pub async fn recover_instance_access(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<portcullis_service::CreatedApiKey, StartError> {
    let opened = open_store(config, true).await.map_err(|e| match e {
        StartError::InUse(why) => StartError::InUse(format!(
            "{why}. Stop the server first: with SQLite, recovery needs the database to itself"
        )),
        other => other,
    })?;
    let hasher = Hasher::new(config.hashing.params())
        .map_err(|e| StartError::Other(format!("hashing: {e}")))?;
    let service = Service::new(opened.store.clone(), clock, Arc::new(hasher), 1);
    service
        .recover_instance_access()
        .await
        .map_err(|e| StartError::Other(format!("recovery: {e}")))
}

/// How often the policy version is polled: another replica's policy change is enforced here
/// within this period plus one query.
pub const POLICY_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Polls the store's policy version and drops cached policies when it moves.
async fn watch_policies(service: Arc<Service>) {
    let mut tick = tokio::time::interval(POLICY_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        match service.refresh_policies().await {
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "policy version check failed; cached policies dropped until it works again");
            }
            Ok(()) if failing => {
                failing = false;
                tracing::info!("policy version check works again");
            }
            _ => {}
        }
    }
}

/// Runs a sweep every `interval` seconds on whichever replica holds the sweep lease.
async fn sweep_periodically(service: Arc<Service>, interval: u64) {
    if interval == 0 {
        return;
    }
    let holder = format!("replica-{}", portcullis_service::new_request_id());
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(interval));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        #[allow(clippy::disallowed_methods)] // measures the sweep's duration for the log
        let started = std::time::Instant::now();
        match service.sweep(&holder, interval.saturating_mul(3)).await {
            Ok(Some(report)) => {
                let elapsed_ms = started.elapsed().as_millis();
                tracing::info!(?report, elapsed_ms, "sweep");
            }
            Ok(None) => tracing::debug!("another replica sweeps"),
            Err(e) => tracing::warn!(error = %e, "sweep failed; next one in {interval} s"),
        }
    }
}

/// A server that is listening.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The generated bootstrap key, when this start created one (print it once).
    pub bootstrap_key: Option<String>,
    /// The service (tests look at its metrics).
    pub service: Arc<Service>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _store: OpenStore,
}

impl Running {
    /// Stops accepting, finishes the requests in flight, and waits.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.task
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }

    /// Waits until the server ends (after `shutdown` resolves).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }
}

/// The base URL of mailed links and hosted pages: `public_url` when set; else, when the server
/// listens on a loopback address, that address (so links work out of the box on the machine
/// that runs it); else none — an address only this machine can reach would send every
/// recipient to their own machine, so mails then carry the bare token (and a warning is logged).
fn public_url(config: &Config, listening: std::net::SocketAddr) -> Option<String> {
    if let Some(url) = config
        .public_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        return Some(url.trim_end_matches('/').to_owned());
    }
    if listening.ip().is_loopback() {
        return Some(format!("http://{listening}"));
    }
    tracing::warn!(
        "no public_url is set and the server listens on {listening}: mailed links carry the bare token; set public_url to the address people reach the server at"
    );
    None
}

/// Starts the server on `config.listen` with `clock`; answers once it is listening.
/// `shutdown` ends it gracefully when it resolves.
pub async fn start(
    config: &Config,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Other(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let opened = open_store(config, true).await?;
    let store = opened.store.clone();
    let hasher = Hasher::new(config.hashing.params())
        .map_err(|e| StartError::Other(format!("hashing: {e}")))?;
    let concurrency = match config.hashing.concurrency {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    };
    let mut service = Service::new(store, clock, Arc::new(hasher), concurrency);
    match master_key_file::load_master_key(config)? {
        Some(key) => service = service.with_master_key(key),
        None => tracing::warn!(
            "no master_key or master_key_file is set: access keys (signed requests) are unavailable"
        ),
    }
    if let Some(source) = breached_source::open(&config.breached).map_err(StartError::Other)? {
        service = service.with_breached_passwords(source, config.breached.fail_open);
    }
    let service = Arc::new(
        service
            .with_public_url(public_url(config, addr))
            .with_policy_cache_entries(config.policy_cache_entries)
            .with_key_cache_entries(config.key_cache_entries)
            .with_retention(portcullis_service::Retention {
                counter_seconds: config.counter_retention_days.saturating_mul(86_400),
                event_days: config.events.retention_days,
            }),
    );
    let transport = smtp::SmtpTransport::new(&config.smtp)
        .map_err(|e| StartError::Config(config::ConfigError(e)))?;
    if transport.is_none() {
        tracing::warn!("no smtp.host is set: mails stay queued in the outbox");
    }
    let bootstrap = service
        .bootstrap(config.bootstrap_token.as_deref())
        .await
        .map_err(|e| StartError::Other(format!("bootstrap: {e}")))?;
    let bootstrap_key = bootstrap.filter(|_| config.bootstrap_token.is_none());
    let proxies = config
        .trusted_proxies
        .iter()
        .filter_map(|p| portcullis_model::net::parse_network(p))
        .collect();
    let state = AppState::new(service.clone(), proxies);
    let app = portcullis_http::router_with(
        state.clone(),
        portcullis_dialects::routes().merge(portcullis_web::routes(state)),
    );
    let watcher = tokio::spawn(watch_policies(service.clone()));
    let sweeper = tokio::spawn(sweep_periodically(
        service.clone(),
        config.sweep_interval_secs,
    ));
    let mailer = transport.map(|transport| {
        tokio::spawn(smtp::deliver_periodically(
            service.clone(),
            Arc::new(transport),
            config.smtp.interval_secs,
            config.smtp.batch,
        ))
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = serve::serve(listener, app, async move {
            tokio::select! {
                _ = rx => {}
                () = shutdown => {}
            }
        })
        .await;
        watcher.abort();
        sweeper.abort();
        if let Some(mailer) = mailer {
            mailer.abort();
        }
        served
    });
    Ok(Running {
        addr,
        bootstrap_key,
        service,
        shutdown: tx,
        task,
        _store: opened,
    })
}

#[cfg(test)]
mod tests {
    use super::{Config, lock_path, public_url, sqlite_file};

    #[test]
    fn mailed_links_default_to_a_loopback_listen_address_only() {
        let config = Config::default();
        let at = |addr: &str| public_url(&config, addr.parse().unwrap());
        assert_eq!(
            at("127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(at("[::1]:9000").as_deref(), Some("http://[::1]:9000"));
        assert_eq!(
            at("0.0.0.0:8080"),
            None,
            "recipients would reach their own machine"
        );
        assert_eq!(at("192.0.2.7:8080"), None);
        let set = Config {
            public_url: Some("https://id.example.com/".into()),
            ..Config::default()
        };
        assert_eq!(
            public_url(&set, "0.0.0.0:8080".parse().unwrap()).as_deref(),
            Some("https://id.example.com")
        );
    }

    #[test]
    fn every_spelling_of_a_database_file_takes_the_same_lock() {
        assert_eq!(sqlite_file("sqlite://my%20db.sqlite"), "my db.sqlite");
        assert_eq!(
            sqlite_file("sqlite:my%20db.sqlite?mode=rwc"),
            "my db.sqlite"
        );
        assert_eq!(sqlite_file("my db.sqlite"), "my db.sqlite");
        assert_eq!(lock_path("x.db"), lock_path("./x.db"));
        assert!(lock_path("x.db").ends_with("x.db.lock"));
        assert!(lock_path("x.db").is_absolute());
    }
}
