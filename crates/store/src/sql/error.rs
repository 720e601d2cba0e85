//! Failures inside the SQL adapter, before they become a [`StoreError`].
//!
//! Invariants: internal code returns [`DbError`], so `?` works on sqlx, JSON and store errors
//! alike and a database error stays whole until the edge; there, and only there, the database's
//! [`Backend`](super::Backend) names the [`StoreError`] it means (`SqlStore::edge`). Database
//! text goes to logs and `Internal` messages, never a bound value.

use crate::StoreError;

/// A failure inside the adapter.
#[derive(Debug)]
pub(crate) enum DbError {
    /// The database (or the pool) failed.
    Sqlx(sqlx::Error),
    /// A store-level outcome (`NotFound`, `VersionMismatch`, corrupt data...).
    Store(StoreError),
}

/// Internal results.
pub(crate) type DbResult<T> = Result<T, DbError>;

impl DbError {
    /// Corrupt or unexpected stored data.
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> DbError {
        DbError::Store(StoreError::Internal(format!("corrupt stored data: {what}")))
    }

    /// Whether this is a unique violation of the outbox's dedupe key (a concurrent writer
    /// queued the same mail first). The index is `outbox_dedupe` on every database; SQLite
    /// names its columns instead.
    pub(crate) fn is_dedupe_conflict(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(db))
            if db.is_unique_violation()
                && (db.constraint() == Some("outbox_dedupe")
                    || db.message().contains("outbox.dedupe_key")))
    }
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> DbError {
        DbError::Sqlx(err)
    }
}

impl From<StoreError> for DbError {
    fn from(err: StoreError) -> DbError {
        DbError::Store(err)
    }
}

impl From<serde_json::Error> for DbError {
    fn from(err: serde_json::Error) -> DbError {
        DbError::Store(StoreError::Internal(format!("JSON: {err}")))
    }
}

impl From<sqlx::migrate::MigrateError> for DbError {
    fn from(err: sqlx::migrate::MigrateError) -> DbError {
        match err {
            sqlx::migrate::MigrateError::Execute(inner) => DbError::Sqlx(inner),
            other => DbError::Store(StoreError::Internal(format!("migration: {other}"))),
        }
    }
}
