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
//! - `sqlite::memory:` (or `:memory:`, or any URL with `mode=memory`) opens a database in
//!   memory, on one connection kept as long as the pool lives (for tests);
//! - every connection opens the same file, however its name is spelled (see `database_url`);
//! - [`connect`] never changes the schema; [`SqlStore::migrate`] does.

mod error;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use portcullis_store::StoreError;
use portcullis_store::sql::{Backend, SqlStore};
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;

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
    /// `ANALYZE` on a sample (at most about 1000 rows of each index, so its cost does not grow
    /// with the database). A connection reads the statistics when it opens; the pool renews
    /// its connections (none lives more than 30 minutes), so every connection plans with them
    /// within that time of a sweep.
    fn refresh_statistics(&self) -> &'static [&'static str] {
        &["PRAGMA analysis_limit = 1000", "ANALYZE"]
    }
}

/// Opens (creating it if missing) the database at `url_or_path` — a plain file path or a
/// `sqlite://…` / `sqlite:…` URL — with a pool of at most `pool_size` connections (at least
/// one). Does not migrate: call [`SqlStore::migrate`], or use [`open`].
pub async fn connect(url_or_path: &str, pool_size: u32) -> Result<SqlStore, StoreError> {
    sqlx::any::install_default_drivers();
    let (url, memory) = match database_url(url_or_path)? {
        Some(url) => (url, false),
        None => (memory_url(), true),
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

/// The URL every connection opens for `url_or_path` (a path or a `sqlite:` URL), or `None` when
/// it names an in-memory database. The `Any` driver opens each connection from a URL, so this one
/// names the same file each time: its absolute path, with the directory's symbolic links and `..`
/// resolved by the filesystem (as the server's lock file is), every byte outside
/// `A-Za-z0-9/-_.~` percent-encoded (sqlx decodes the path once), and the URL's own `mode`
/// (`rwc` by default: created when missing), `vfs` and `immutable` kept.
fn database_url(url_or_path: &str) -> Result<Option<String>, StoreError> {
    let invalid = |err: &dyn std::fmt::Display| {
        StoreError::Internal(format!("invalid SQLite URL `{url_or_path}`: {err}"))
    };
    let (file, params) = match url_or_path
        .strip_prefix("sqlite://")
        .or_else(|| url_or_path.strip_prefix("sqlite:"))
    {
        None => (PathBuf::from(url_or_path), Vec::new()),
        Some(rest) => {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let params: Vec<(&str, &str)> = query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .collect();
            if path == ":memory:" || path.is_empty() || params.contains(&("mode", "memory")) {
                return Ok(None);
            }
            // sqlx's own reading of the URL decodes the path exactly as a connection will.
            let options = SqliteConnectOptions::from_str(url_or_path).map_err(|e| invalid(&e))?;
            (options.get_filename().to_path_buf(), params)
        }
    };
    if file.as_os_str() == ":memory:" {
        return Ok(None);
    }
    let file = resolve(&file).map_err(|e| invalid(&e))?;
    let mut url = String::from("sqlite://");
    for byte in file.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(byte) {
            url.push(char::from(*byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    let mode = params
        .iter()
        .find(|(key, _)| *key == "mode")
        .map_or("rwc", |(_, mode)| mode);
    url.push_str(&format!("?mode={mode}&cache=private"));
    for (key, value) in params {
        if matches!(key, "vfs" | "immutable") {
            url.push_str(&format!("&{key}={value}"));
        }
    }
    Ok(Some(url))
}

/// `file` as an absolute path whose directory is resolved by the filesystem when it exists.
fn resolve(file: &Path) -> std::io::Result<PathBuf> {
    let file = std::path::absolute(file)?;
    match (file.parent(), file.file_name()) {
        (Some(dir), Some(name)) => match std::fs::canonicalize(dir) {
            Ok(dir) => Ok(dir.join(name)),
            Err(_) => Ok(file.clone()),
        },
        _ => Ok(file),
    }
}

/// [`connect`], then [`SqlStore::migrate`].
pub async fn open(url_or_path: &str, pool_size: u32) -> Result<SqlStore, StoreError> {
    let store = connect(url_or_path, pool_size).await?;
    store.migrate().await?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_name_reads_back_as_the_same_file() {
        let dir = std::env::temp_dir();
        for name in ["a%41.db", "my db.sqlite", "q?x#y.db", "été.db", "a%2541.db"] {
            let file = resolve(&dir.join(name)).unwrap();
            let url = database_url(file.to_str().unwrap()).unwrap().unwrap();
            let read = SqliteConnectOptions::from_str(&url).unwrap();
            assert_eq!(read.get_filename(), file, "{name} via {url}");
        }
        // A URL is decoded once, as sqlx decodes it.
        let url = format!("sqlite://{}/a%2541.db", dir.display());
        let opened = database_url(&url).unwrap().unwrap();
        let read = SqliteConnectOptions::from_str(&opened).unwrap();
        assert_eq!(read.get_filename(), resolve(&dir.join("a%41.db")).unwrap());
    }

    #[test]
    fn the_url_keeps_its_mode_and_memory_is_memory() {
        let url = database_url("sqlite:///tmp/x.db?mode=ro&vfs=unix-none")
            .unwrap()
            .unwrap();
        assert!(
            url.ends_with("?mode=ro&cache=private&vfs=unix-none"),
            "{url}"
        );
        assert!(
            database_url("/tmp/x.db")
                .unwrap()
                .unwrap()
                .contains("mode=rwc")
        );
        for memory in [
            ":memory:",
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite::memory:?cache=shared",
            "sqlite://?mode=memory",
        ] {
            assert_eq!(database_url(memory).unwrap(), None, "{memory}");
        }
    }
}
