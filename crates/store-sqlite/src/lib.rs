//! The SQLite adapter of the storage port: what SQLite needs beyond the SQL written once in
//! [`portcullis_store::sql`] — opening the database (connection settings, pool), the embedded
//! migrations, and the [`Backend`] that says how SQLite locks, orders and fails (`error.rs`).
//!
//! Invariants:
//! - every connection runs in WAL mode with `synchronous = FULL` (a write acknowledged by a
//!   commit survives a crash or `kill -9`), `busy_timeout` 5 s and foreign keys on;
//! - every write transaction opens with `BEGIN IMMEDIATE` (the database write lock is taken at
//!   the start, so transactions never fail midway on a lock upgrade), after this process's
//!   writer turn (writers queue on an async mutex rather than in SQLite's sleeping busy
//!   handler); since the write lock covers the whole database, no row locks are needed and event
//!   sequences (`AUTOINCREMENT`) grow in commit order;
//! - a busy or locked database is retryable, for the counter transitions;
//! - `sqlite::memory:` (or `:memory:`) opens a database in memory, on one connection kept as
//!   long as the pool lives (for tests);
//! - [`connect`] never changes the schema; [`SqlStore::migrate`] does.

mod error;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use portcullis_store::StoreError;
use portcullis_store::sql::{Backend, SqlStore};
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Executor};

/// The settings every connection starts with (see the crate's invariants).
const CONNECTION_SETTINGS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

/// The migrations, embedded at build time from `crates/store-sqlite/migrations`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How SQLite differs: one writer at a time, so the writers of this process take turns and the
/// write transaction holds the whole database.
#[derive(Debug)]
struct Sqlite;

impl Backend for Sqlite {
    fn name(&self) -> &'static str {
        "SQLite"
    }
    fn begin_write(&self) -> &'static str {
        "BEGIN IMMEDIATE"
    }
    fn serial_writers(&self) -> bool {
        true
    }
    fn lock_rows(&self) -> &'static str {
        ""
    }
    fn skip_locked(&self) -> &'static str {
        ""
    }
    fn order_events(&self) -> Option<&'static str> {
        None
    }
    fn is_retryable(&self, err: &sqlx::Error) -> bool {
        error::is_busy(err)
    }
    fn store_error(&self, err: &sqlx::Error) -> StoreError {
        error::map_sqlx(err)
    }
}

/// Opens (creating it if missing) the database at `url_or_path` — a plain file path or a
/// `sqlite://…` / `sqlite:…` URL — with a pool of at most `pool_size` connections (at least
/// one). Does not migrate: call [`SqlStore::migrate`], or use [`open`].
pub async fn connect(url_or_path: &str, pool_size: u32) -> Result<SqlStore, StoreError> {
    sqlx::any::install_default_drivers();
    let memory = matches!(
        url_or_path,
        ":memory:" | "sqlite::memory:" | "sqlite://:memory:"
    );
    let url = if memory {
        memory_url()
    } else {
        file_url(url_or_path)?
    };
    let mut pool = AnyPoolOptions::new()
        .max_connections(pool_size.max(1))
        // A connection to a local file does not go stale; pinging it on every acquire would
        // double the round trips to SQLite's worker thread.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(CONNECTION_SETTINGS).await?;
                Ok(())
            })
        });
    if memory {
        // An in-memory database lives while one of its connections does; one connection, for
        // a shared in-memory database answers a second writer "locked" at once instead of
        // waiting.
        pool = pool
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    let pool = pool
        .connect(&url)
        .await
        .map_err(|err| Sqlite.store_error(&err))?;
    tracing::debug!(database = url_or_path, pool_size, "SQLite store connected");
    Ok(SqlStore::new(pool, Arc::new(Sqlite), &MIGRATOR))
}

/// The URL of a new in-memory database of this process, shared by the connections that name it.
fn memory_url() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("sqlite:file:portcullis-memory-{n}?mode=memory&cache=shared")
}

/// The URL of a database file, from a path or a URL: the `Any` driver opens every connection from
/// a URL, so this one names the same file each time (an absolute path, whatever the working
/// directory or the characters of the name) and creates it when missing.
fn file_url(url_or_path: &str) -> Result<String, StoreError> {
    let invalid = |err: &dyn std::fmt::Display| {
        StoreError::Internal(format!("invalid SQLite URL `{url_or_path}`: {err}"))
    };
    let options = if url_or_path.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url_or_path).map_err(|err| invalid(&err))?
    } else {
        SqliteConnectOptions::new().filename(url_or_path)
    };
    let file = std::path::absolute(options.get_filename()).map_err(|err| invalid(&err))?;
    Ok(options
        .filename(file)
        .create_if_missing(true)
        .to_url_lossy()
        .to_string())
}

/// [`connect`], then [`SqlStore::migrate`].
pub async fn open(url_or_path: &str, pool_size: u32) -> Result<SqlStore, StoreError> {
    let store = connect(url_or_path, pool_size).await?;
    store.migrate().await?;
    Ok(store)
}
