//! The PostgreSQL adapter of the storage port: what PostgreSQL needs beyond the SQL written once
//! in [`portcullis_store::sql`] — opening the database (connection settings, pool), the embedded
//! migrations, and the [`Backend`] that says how PostgreSQL locks, orders and fails (`error.rs`).
//!
//! The schema mirrors the SQLite adapter's (`portcullis-store-sqlite`): same tables, columns,
//! encodings (timestamps as BIGINT unix nanoseconds, JSON as text) and conflict labels; the
//! migration files carry the same names in both crates.
//!
//! Invariants:
//! - every write that spans statements runs in one transaction (isolation READ COMMITTED, the
//!   PostgreSQL default): it takes its row locks first (`SELECT … FOR UPDATE`, `UPDATE`,
//!   `DELETE`, or inserting the row), then inserts its events last under the transaction-level
//!   advisory lock [`EVENT_LOCK`], then commits — so event sequences grow in commit order and
//!   no transaction ever waits for a row lock while holding that advisory lock (no deadlock);
//! - a counter transition holds its counter's row lock from the read to the commit (`INSERT … ON
//!   CONFLICT … DO UPDATE … WHERE FALSE`, which inserts the row or locks the existing one, then
//!   `SELECT … FOR UPDATE`), so concurrent transitions on one counter serialize exactly, across
//!   processes and replicas;
//! - sessions run with `idle_in_transaction_session_timeout` 10 s, `lock_timeout` 5 s and
//!   `statement_timeout` 30 s, so a stuck replica cannot stall the others' writes for longer;
//! - durability is PostgreSQL's: a commit is acknowledged after its WAL is flushed (with the
//!   server's default `synchronous_commit = on`);
//! - [`connect`] never changes the schema; [`SqlStore::migrate`] does, and
//!   is safe when several replicas start at once: sqlx 0.8's PostgreSQL migrator
//!   (`sqlx-postgres-0.8.6/src/migrate.rs`, `Migrate::lock`) takes the session-level
//!   `pg_advisory_lock(<id derived from current_database()>)` before it creates or reads
//!   `_sqlx_migrations`, waits for it, and releases it after the last migration (each migration
//!   runs in its own transaction). A second replica therefore waits, then finds every migration
//!   applied. sqlx does not release that lock when a migration fails, so [`SqlStore::migrate`]
//!   closes its connection instead of returning it to the pool then (closing the session
//!   releases the lock).

mod error;
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use portcullis_store::StoreError;
use portcullis_store::sql::{Backend, SqlStore};
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgConnectOptions;

/// How long a call waits for a free pooled connection (or a new one) before reporting
/// `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The settings every session starts with: a frozen or partitioned replica must not hold locks
/// (the events lock above all) for long, so its transaction is ended by the server, and waits
/// end as `Unavailable`.
const SESSION_SETTINGS: &str = "application_name=portcullis&options=-c%20idle_in_transaction_session_timeout%3D10s%20-c%20lock_timeout%3D5s%20-c%20statement_timeout%3D30s";

/// The key of the transaction-level advisory lock under which event sequences are drawn (the
/// bytes spell "portcEVT"). Advisory locks are per database, so this only orders writers of the
/// same portcullis database.
pub const EVENT_LOCK: i64 = 0x706f_7274_6345_5654;

/// How PostgreSQL differs: row locks, and a lock that orders event sequences by commit.
#[derive(Debug)]
struct Postgres;

impl Backend for Postgres {
    fn begin_write(&self) -> &'static str {
        "BEGIN"
    }
    fn serial_writers(&self) -> bool {
        false
    }
    fn lock_rows(&self) -> &'static str {
        " FOR UPDATE"
    }
    fn skip_locked(&self) -> &'static str {
        " FOR UPDATE SKIP LOCKED"
    }
    fn order_events(&self) -> Option<&'static str> {
        // `EVENT_LOCK`, written out: the statement is a constant.
        Some("SELECT pg_advisory_xact_lock(8101820098870072916)")
    }
    fn is_retryable(&self, err: &sqlx::Error) -> bool {
        error::is_retryable(err)
    }
    fn store_error(&self, err: &sqlx::Error) -> StoreError {
        error::map_sqlx(err)
    }
}

/// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database…`; unset
/// parts come from the usual `PG*` environment variables) with a pool of at most `pool_size`
/// connections (at least one). Opens one connection to check that the database answers
/// (`Unavailable` when it does not). Does not migrate: call [`SqlStore::migrate`], or use
/// [`open`].
pub async fn connect(url: &str, pool_size: u32) -> Result<SqlStore, StoreError> {
    sqlx::any::install_default_drivers();
    // The URL may carry a password: it never goes into a message or a log.
    let options = PgConnectOptions::from_str(url)
        .map_err(|err| StoreError::Internal(format!("invalid PostgreSQL URL: {err}")))?;
    let (host, port) = (options.get_host().to_owned(), options.get_port());
    let database = options.get_database().map(str::to_owned);
    // The session settings join the URL's query, before any `#fragment`.
    let (base, fragment) = url
        .split_once('#')
        .map_or((url, None), |(b, f)| (b, Some(f)));
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = match fragment {
        Some(fragment) => format!("{base}{separator}{SESSION_SETTINGS}#{fragment}"),
        None => format!("{base}{separator}{SESSION_SETTINGS}"),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(pool_size.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(&url)
        .await
        .map_err(|err| Postgres.store_error(&err))?;
    tracing::debug!(
        host,
        port,
        database = database.as_deref(),
        pool_size,
        "PostgreSQL store connected"
    );
    Ok(SqlStore::new(pool, Arc::new(Postgres), &MIGRATOR))
}

/// [`connect`], then [`SqlStore::migrate`].
pub async fn open(url: &str, pool_size: u32) -> Result<SqlStore, StoreError> {
    let store = connect(url, pool_size).await?;
    store.migrate().await?;
    Ok(store)
}

/// The migrations, embedded at build time from `crates/store-postgres/migrations`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[cfg(test)]
mod tests {
    #[test]
    fn the_events_lock_statement_names_the_events_lock() {
        let statement = super::Backend::order_events(&super::Postgres).unwrap();
        assert!(
            statement.contains(&super::EVENT_LOCK.to_string()),
            "{statement}"
        );
    }
}
