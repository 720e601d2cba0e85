//! The SQL adapter of the storage port, written once for every SQL database ([`SqlStore`]), on
//! sqlx's `Any` driver: every statement exists once, with `$N` placeholders (which SQLite and
//! PostgreSQL both read), standard SQL that both run (`ON CONFLICT`, `RETURNING`, row values,
//! `IS NOT DISTINCT FROM`, `TRUE`/`FALSE`), and one row decoder per record. What really differs
//! between databases is a [`Backend`], given by the adapter crates (`portcullis-store-sqlite`,
//! `portcullis-store-postgres`), which also own the connection options and the migrations.
//!
//! Modules, one per part of the port:
//! - `orgs.rs`: organizations, policy sections and the policy version;
//! - `users.rs`: users;
//! - `counters.rs`: attempt counters;
//! - `enforcement.rs`: locked counters listed and cleared, the denylist of addresses;
//! - `tokens.rs`: sessions, API keys and leases;
//! - `mfa.rs`: second factors;
//! - `events.rs`: the event log and the mail outbox;
//! - `rows.rs`, `columns.rs`, `encoding.rs`: how records become columns and back;
//! - `port.rs`: the [`Store`](crate::Store) implementation, where every error is mapped once.
//!
//! Invariants (the conformance suite proves them on every database):
//! - every write that spans statements runs in one transaction opened with the backend's
//!   [`Backend::begin_write`] statement, after this process's writer turn when the backend
//!   serializes writers ([`Backend::serial_writers`]: SQLite admits one writer at a time, so
//!   queuing on an async mutex wakes the next writer at the commit instead of letting SQLite
//!   poll); single-statement writes take the same turn;
//! - a transaction takes its row locks first (the backend's [`Backend::lock_rows`] suffix, the
//!   row inserts and updates), and inserts its events last, after the backend's
//!   [`Backend::order_events`] statement, just before committing: event sequences grow in
//!   commit order, and no transaction waits for a row lock while it holds the events lock;
//! - a rejected or empty change rolls its transaction back: nothing half-written is committed;
//! - [`SqlStore::migrate`] applies the adapter's migrations; nothing else changes the schema.

mod columns;
mod counters;
pub mod encoding;
mod enforcement;
mod error;
mod events;
mod mfa;
mod orgs;
mod port;
mod rows;
mod tokens;
mod users;

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use sqlx::AnyPool;

use crate::StoreError;
use error::{DbError, DbResult};

/// What differs between SQL databases. Everything else is written once in this module.
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// The statement that opens a write transaction (SQLite: `BEGIN IMMEDIATE`, which takes
    /// the database write lock at once, so a transaction never fails midway on a lock upgrade).
    fn begin_write(&self) -> &'static str;
    /// Whether the writers of one process take turns before they ask for the database (a
    /// database that admits one writer at a time).
    fn serial_writers(&self) -> bool;
    /// The suffix of a `SELECT` that keeps the rows it reads locked until the transaction
    /// ends (`" FOR UPDATE"`), or `""` when the write transaction holds the whole database.
    fn lock_rows(&self) -> &'static str;
    /// The suffix of a claim's inner `SELECT` that locks the rows it takes and skips the rows
    /// other transactions hold (`" FOR UPDATE SKIP LOCKED"`), or `""` as for `lock_rows`.
    fn skip_locked(&self) -> &'static str;
    /// A statement that a transaction runs before it inserts events, so that sequences are drawn
    /// in commit order (a transaction-level lock), or `None` when writers are serialized anyway.
    fn order_events(&self) -> Option<&'static str>;
    /// Whether running the whole transaction again may succeed (busy database, serialization
    /// failure, deadlock).
    fn is_retryable(&self, err: &sqlx::Error) -> bool;
    /// What a database error means for the caller (`Conflict` naming the key, `Unavailable`,
    /// `Internal`).
    fn store_error(&self, err: &sqlx::Error) -> StoreError;
    /// The statements, run in order on one connection, that refresh the planner's statistics;
    /// none when the database keeps them itself (PostgreSQL's autovacuum).
    fn refresh_statistics(&self) -> &'static [&'static str] {
        &[]
    }
}

/// A [`Store`](crate::Store) on one SQL database.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Arc<dyn Backend>,
    migrator: &'static Migrator,
    /// Writers of this process take turns here when the backend serializes writers.
    writers: Arc<Mutex<()>>,
}

/// A write transaction, with this process's writer turn when the backend has writers take
/// turns. Dropped without commit, it rolls back (and gives the turn up).
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits, then gives the turn to the next writer.
    pub(crate) async fn commit(self) -> DbResult<()> {
        Ok(self.tx.commit().await?)
    }

    /// Rolls back, then gives the turn to the next writer.
    pub(crate) async fn rollback(self) -> DbResult<()> {
        Ok(self.tx.rollback().await?)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl SqlStore {
    /// A store on `pool`, whose database `backend` describes and `migrator` migrates.
    pub fn new(pool: AnyPool, backend: Arc<dyn Backend>, migrator: &'static Migrator) -> SqlStore {
        SqlStore {
            pool,
            backend,
            migrator,
            writers: Arc::default(),
        }
    }

    /// Applies the migrations not applied yet (idempotent). On a failure the migration's
    /// connection is closed rather than returned to the pool, so that a session-level lock the
    /// migrator may still hold (PostgreSQL's migration lock) ends with it.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let done: DbResult<()> = async {
            let mut conn = self.pool.acquire().await?;
            match self.migrator.run_direct(&mut *conn).await {
                Ok(()) => Ok(()),
                Err(err) => {
                    if let Err(close) = conn.close().await {
                        tracing::debug!(error = %close, "closing the migration connection failed");
                    }
                    Err(err.into())
                }
            }
        }
        .await;
        self.edge(done)
    }

    /// The connection pool (for diagnostics and tests).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection, waiting for the ones in use to be returned. Later calls fail
    /// with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction (see the module's invariants).
    pub(crate) async fn write_tx(&self) -> DbResult<WriteTx> {
        let turn = self.write_turn().await;
        let tx = self.pool.begin_with(self.backend.begin_write()).await?;
        Ok(WriteTx { tx, _turn: turn })
    }

    /// This process's writer turn, for a single-statement write outside a transaction; `None`
    /// when the backend does not serialize writers.
    pub(crate) async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        if self.backend.serial_writers() {
            Some(self.writers.clone().lock_owned().await)
        } else {
            None
        }
    }

    /// `select` with the backend's row-lock suffix.
    pub(crate) fn locking(&self, select: &str) -> String {
        format!("{select}{}", self.backend.lock_rows())
    }

    /// The backend.
    pub(crate) fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// The one place where an adapter failure becomes a [`StoreError`].
    pub(crate) fn edge<T>(&self, done: DbResult<T>) -> Result<T, StoreError> {
        done.map_err(|err| match err {
            DbError::Store(err) => err,
            DbError::Sqlx(err) => self.backend.store_error(&err),
        })
    }
}

impl SqlStore {
    /// Whether running the failed transaction again may succeed (the backend decides).
    pub(crate) fn is_retryable(&self, err: &DbError) -> bool {
        matches!(err, DbError::Sqlx(err) if self.backend.is_retryable(err))
    }
}

impl SqlStore {
    /// The record `select` finds with these text arguments (bound as `$1`, `$2`, ...), decoded
    /// by `decode`; `None` when there is none.
    pub(crate) async fn find<T>(
        &self,
        select: &str,
        args: &[&str],
        decode: fn(&AnyRow) -> DbResult<T>,
    ) -> DbResult<Option<T>> {
        let mut query = sqlx::query(select);
        for arg in args {
            query = query.bind(*arg);
        }
        let found = query.fetch_optional(&self.pool).await?;
        found.as_ref().map(decode).transpose()
    }
}

/// A text cursor for `… AND id > $n ORDER BY id`: the one given, or the empty string for the
/// first page (every id, key and network follows it). A cursor is always bound, never `NULL`,
/// so that the comparison is a range the index seeks to (`($n IS NULL OR id > $n)` makes both
/// SQLite and PostgreSQL read the organization's rows from the first one, page after page).
pub(crate) fn first_page_cursor(after: Option<&str>) -> &str {
    after.unwrap_or("")
}

impl SqlStore {
    /// A page of the records `select` lists: `args` are bound first (`$1`, ...), then the
    /// page's cursor and its limit (at most [`MAX_PAGE`](crate::MAX_PAGE)), in that order.
    pub(crate) async fn page<T>(
        &self,
        select: &str,
        args: &[&str],
        page: &crate::Page,
        decode: fn(&AnyRow) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        let mut query = sqlx::query(select);
        for arg in args {
            query = query.bind(*arg);
        }
        let found = query
            .bind(first_page_cursor(page.after.as_deref()))
            .bind(i64::from(page.limit.min(crate::MAX_PAGE)))
            .fetch_all(&self.pool)
            .await?;
        found.iter().map(decode).collect()
    }

    /// Runs `write` in a write transaction with `event`, `field` (the rows it changed) added
    /// to the event's payload; when it changed no row, nothing is written. Answers the count.
    pub(crate) async fn write_counted<'q>(
        &self,
        write: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        event: crate::EventDraft,
        field: &str,
    ) -> DbResult<u64> {
        let mut tx = self.write_tx().await?;
        let changed = write.execute(&mut *tx).await?.rows_affected();
        if changed == 0 {
            tx.rollback().await?;
            return Ok(0);
        }
        let mut event = event;
        if let serde_json::Value::Object(fields) = &mut event.payload {
            fields.insert(field.into(), changed.into());
        }
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Runs `delete` (text arguments) in a write transaction; when it deleted a row, writes
    /// `event` with it and commits, otherwise rolls back. Answers whether a row was deleted.
    pub(crate) async fn delete_with_event(
        &self,
        delete: &str,
        args: &[&str],
        event: crate::EventDraft,
    ) -> DbResult<bool> {
        self.delete_with_event_bumping(delete, args, event, false)
            .await
    }

    /// [`SqlStore::delete_with_event`], also bumping the policy version in the transaction when
    /// `bump` and a row was deleted (a deletion processes' caches must see).
    pub(crate) async fn delete_with_event_bumping(
        &self,
        delete: &str,
        args: &[&str],
        event: crate::EventDraft,
        bump: bool,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let mut query = sqlx::query(delete);
        for arg in args {
            query = query.bind(*arg);
        }
        if query.execute(&mut *tx).await?.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if bump {
            orgs::bump_policy_version(&mut tx).await?;
        }
        self.insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}
