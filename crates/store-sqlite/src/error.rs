//! What a SQLite error means: the backend's half of the one place where a database error becomes
//! a [`StoreError`] (the SQL layer calls it at its edge, once per failure):
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

/// Whether retrying the whole transaction may succeed (SQLite busy or locked).
pub(crate) fn is_busy(err: &sqlx::Error) -> bool {
    matches!(primary_code(err), Some(SQLITE_BUSY | SQLITE_LOCKED))
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

/// What a database error means for the caller.
pub(crate) fn map_sqlx(err: &sqlx::Error) -> StoreError {
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
