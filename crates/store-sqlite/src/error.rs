//! Error mapping: the one place where a database error becomes a [`StoreError`].
//!
//! Invariants: internal code returns [`DbError`] (so `?` works on sqlx, JSON and store errors
//! alike, and a transient "busy" error stays recognizable for the counter retry loop); the trait
//! methods convert it with `From<DbError> for StoreError`, exactly once:
//! - pool timeout, pool closed, crashed worker, I/O errors and SQLite busy/locked/ioerr/cantopen
//!   → `Unavailable` (the caller may retry);
//! - unique violations → `Conflict(<which key>)`, named from the constraint SQLite reports;
//! - everything else → `Internal` (database text stays in logs and errors, never in responses —
//!   the HTTP layer does not expose `Internal` details).

use portcullis_store::StoreError;

/// SQLite primary result codes that mean "try again later" rather than "bug".
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

/// Unique constraints as SQLite names them (`table.column`), and the key they protect. The first
/// match wins, so the more specific names come first.
const CONFLICT_LABELS: [(&str, &str); 7] = [
    ("users.login_key", "login"),
    ("users.id", "user id"),
    ("orgs.id", "organization id"),
    ("sessions.", "session"),
    ("api_keys.", "api key"),
    ("sections.", "section"),
    ("counters.", "counter"),
];

/// A failure inside the adapter, before it is mapped to a [`StoreError`].
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
    /// Whether retrying the whole transaction may succeed (SQLite busy or locked).
    pub(crate) fn is_busy(&self) -> bool {
        match self {
            DbError::Sqlx(err) => matches!(primary_code(err), Some(SQLITE_BUSY | SQLITE_LOCKED)),
            DbError::Store(_) => false,
        }
    }

    /// Corrupt or unexpected stored data.
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> DbError {
        DbError::Store(StoreError::Internal(format!("corrupt stored data: {what}")))
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

impl From<DbError> for StoreError {
    fn from(err: DbError) -> StoreError {
        match err {
            DbError::Store(err) => err,
            DbError::Sqlx(err) => map_sqlx(&err),
        }
    }
}

/// The primary SQLite result code of a database error (extended codes carry it in the low byte).
fn primary_code(err: &sqlx::Error) -> Option<i64> {
    match err {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .map(|code| code & 0xff),
        _ => None,
    }
}

fn map_sqlx(err: &sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(conflict_label(db.message()).to_owned())
        }
        _ => match primary_code(err) {
            Some(SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN) => {
                StoreError::Unavailable(err.to_string())
            }
            _ => StoreError::Internal(err.to_string()),
        },
    }
}

/// Which key a unique violation is about, from SQLite's message
/// (`UNIQUE constraint failed: users.org_id, users.login_key`).
fn conflict_label(message: &str) -> &'static str {
    CONFLICT_LABELS
        .iter()
        .find(|(needle, _)| message.contains(needle))
        .map_or("unique key", |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use super::conflict_label;

    #[test]
    fn conflict_labels_name_the_key() {
        let cases = [
            (
                "UNIQUE constraint failed: users.org_id, users.login_key",
                "login",
            ),
            ("UNIQUE constraint failed: users.id", "user id"),
            ("UNIQUE constraint failed: orgs.id", "organization id"),
            ("UNIQUE constraint failed: sessions.token_hash", "session"),
            ("UNIQUE constraint failed: api_keys.token_hash", "api key"),
            ("UNIQUE constraint failed: other.x", "unique key"),
        ];
        for (message, label) in cases {
            assert_eq!(conflict_label(message), label, "{message}");
        }
    }
}
