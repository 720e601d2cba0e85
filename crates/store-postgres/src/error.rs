//! What a PostgreSQL error means: the backend's half of the one place where a database error
//! becomes a [`StoreError`] (the SQL layer calls it at its edge, once per failure):
//! - pool timeout, pool closed, crashed worker, I/O errors (connection refused or reset), and the
//!   SQLSTATEs of a server that is going away or cannot take more work — class 08 (connection
//!   exception), 57P01/57P02/57P03 (admin shutdown, crash shutdown, cannot connect now), class 53
//!   (insufficient resources: disk full, out of memory, too many connections), 25006 (read-only
//!   transaction: a standby after a failover), and 40001/40P01 once the retries are spent
//!   → `Unavailable` (the caller may retry);
//! - unique violations (23505) → `Conflict(<which key>)`, named from the constraint PostgreSQL
//!   reports, with the same labels as the SQLite adapter;
//! - everything else → `Internal`.
//!
//! Messages carry the database's message text (never its `detail`, which PostgreSQL fills with
//! the conflicting key's values) and never a bound value; the HTTP layer does not expose
//! `Internal` details anyway.

use portcullis_store::StoreError;

/// Unique constraints as PostgreSQL names them (see `migrations/0001_initial.sql`), and the key
/// they protect. The first prefix that matches wins, so the more specific names come first.
const CONFLICT_LABELS: [(&str, &str); 7] = [
    ("users_by_login", "login"),
    ("users_pkey", "user id"),
    ("orgs_pkey", "organization id"),
    ("sessions_", "session"),
    ("api_keys_", "api key"),
    ("sections_", "section"),
    ("counters_", "counter"),
];

/// `serialization_failure`: retry the transaction.
const SERIALIZATION_FAILURE: &str = "40001";
/// `deadlock_detected`: retry the transaction.
const DEADLOCK_DETECTED: &str = "40P01";

/// Whether retrying the whole transaction may succeed (serialization failure or deadlock).
pub(crate) fn is_retryable(err: &sqlx::Error) -> bool {
    matches!(
        sqlstate(err).as_deref(),
        Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED)
    )
}

/// The SQLSTATE of a database error.
fn sqlstate(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    }
}

/// Whether a SQLSTATE means the server cannot serve now (rather than a bug or bad data).
fn is_unavailable_state(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01"
                | "57P02"
                | "57P03"
                | "25006"
                | "55P03"
                | "57014"
                | SERIALIZATION_FAILURE
                | DEADLOCK_DETECTED
        )
}

/// What a database error means for the caller.
pub(crate) fn map_sqlx(err: &sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(conflict_label(db.constraint()).to_owned())
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|code| code.into_owned()).unwrap_or_default();
            let text = format!("SQLSTATE {code}: {}", db.message());
            if is_unavailable_state(&code) {
                StoreError::Unavailable(text)
            } else {
                StoreError::Internal(text)
            }
        }
        _ => StoreError::Internal(err.to_string()),
    }
}

/// Which key a unique violation is about, from the constraint PostgreSQL names.
fn conflict_label(constraint: Option<&str>) -> &'static str {
    let constraint = constraint.unwrap_or("");
    CONFLICT_LABELS
        .iter()
        .find(|(prefix, _)| constraint.starts_with(prefix))
        .map_or("unique key", |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use super::{conflict_label, is_unavailable_state};

    #[test]
    fn conflict_labels_name_the_key() {
        let cases = [
            (Some("users_by_login"), "login"),
            (Some("users_pkey"), "user id"),
            (Some("orgs_pkey"), "organization id"),
            (Some("sessions_pkey"), "session"),
            (Some("sessions_token_hash_key"), "session"),
            (Some("api_keys_pkey"), "api key"),
            (Some("api_keys_token_hash_key"), "api key"),
            (Some("sections_pkey"), "section"),
            (Some("counters_pkey"), "counter"),
            (Some("other_pkey"), "unique key"),
            (None, "unique key"),
        ];
        for (constraint, label) in cases {
            assert_eq!(conflict_label(constraint), label, "{constraint:?}");
        }
    }

    #[test]
    fn transient_states_are_unavailable() {
        for code in [
            "08000", "08006", "08001", "57P01", "57P02", "57P03", "53300", "53100", "25006",
            "40001", "40P01", "55P03", "57014",
        ] {
            assert!(is_unavailable_state(code), "{code}");
        }
        for code in ["23505", "42P01", "22021", "XX000", ""] {
            assert!(!is_unavailable_state(code), "{code}");
        }
    }
}
