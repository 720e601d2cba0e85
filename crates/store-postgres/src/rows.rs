//! Encoding of record fields into columns and decoding of rows back into records.
//!
//! Invariants (they match `migrations/0001_initial.sql`, and the SQLite adapter's encoding):
//! - timestamps are BIGINT unix nanoseconds and decode to UTC, so every value in the range
//!   1677–2262 round-trips exactly (a value outside it is refused on write, never truncated);
//! - sequences are BIGINT (identity values, positive); cursors above `i64::MAX` saturate;
//! - role lists and password histories are JSON arrays of strings, JSON values are stored as
//!   text, booleans as BOOLEAN;
//! - the `*_columns!` lists are the exact column order each decoder reads by name.

use portcullis_model::Timestamp;
use portcullis_store::{ApiKey, Event, Org, Role, SectionRow, Session, User};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::error::{DbError, DbResult};

/// Columns of `orgs`, as [`org`] reads them.
macro_rules! org_columns {
    () => {
        "id, name, created_at"
    };
}

/// Columns of `users`, as [`user`] reads them.
macro_rules! user_columns {
    () => {
        "id, org_id, login, login_key, email, display_name, source, roles, disabled, \
         password_hash, password_history, password_changed_at, password_set_by_admin, \
         created_at, updated_at, last_login_at, last_login_ip"
    };
}

/// Columns of `sections`, as [`section`] reads them.
macro_rules! section_columns {
    () => {
        "section, value, sequence, created_at, changed_at"
    };
}

/// Columns of `sessions`, as [`session`] reads them.
macro_rules! session_columns {
    () => {
        "id, token_hash, org_id, user_id, created_at, last_used_at, password_change_only"
    };
}

/// Columns of `api_keys`, as [`api_key`] reads them.
macro_rules! api_key_columns {
    () => {
        "id, token_hash, org_id, user_id, name, roles, created_at, expires_at"
    };
}

/// Columns of `events`, as [`event`] reads them.
macro_rules! event_columns {
    () => {
        "sequence, org_id, kind, actor, request_id, at, payload"
    };
}

pub(crate) use {
    api_key_columns, event_columns, org_columns, section_columns, session_columns, user_columns,
};

// --- field encoding

/// A timestamp as stored (unix nanoseconds).
pub(crate) fn ts_to_db(at: Timestamp) -> DbResult<i64> {
    i64::try_from(at.unix_timestamp_nanos()).map_err(|_| {
        DbError::Store(portcullis_store::StoreError::Internal(format!(
            "timestamp {at} out of the storable range"
        )))
    })
}

/// An optional timestamp as stored.
pub(crate) fn opt_ts_to_db(at: Option<Timestamp>) -> DbResult<Option<i64>> {
    at.map(ts_to_db).transpose()
}

/// A stored timestamp, in UTC.
pub(crate) fn ts_from_db(nanos: i64) -> DbResult<Timestamp> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map_err(DbError::corrupt)
}

/// A stored sequence (always positive).
pub(crate) fn seq_from_db(sequence: i64) -> DbResult<u64> {
    u64::try_from(sequence).map_err(DbError::corrupt)
}

/// A sequence cursor as a column value (saturating: no stored sequence exceeds `i64::MAX`).
pub(crate) fn seq_to_db(sequence: u64) -> i64 {
    i64::try_from(sequence).unwrap_or(i64::MAX)
}

/// Roles as a JSON array of their names.
pub(crate) fn roles_to_db(roles: &[Role]) -> DbResult<String> {
    Ok(serde_json::to_string(roles)?)
}

/// A list of strings as a JSON array.
pub(crate) fn strings_to_db(items: &[String]) -> DbResult<String> {
    Ok(serde_json::to_string(items)?)
}

/// A stored JSON array of strings.
pub(crate) fn strings_from_db(text: &str) -> DbResult<Vec<String>> {
    serde_json::from_str(text).map_err(DbError::corrupt)
}

// --- column access

fn text(row: &PgRow, column: &str) -> DbResult<String> {
    Ok(row.try_get::<String, _>(column)?)
}

fn opt_text(row: &PgRow, column: &str) -> DbResult<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(column)?)
}

fn flag(row: &PgRow, column: &str) -> DbResult<bool> {
    Ok(row.try_get::<bool, _>(column)?)
}

fn ts(row: &PgRow, column: &str) -> DbResult<Timestamp> {
    ts_from_db(row.try_get::<i64, _>(column)?)
}

fn opt_ts(row: &PgRow, column: &str) -> DbResult<Option<Timestamp>> {
    row.try_get::<Option<i64>, _>(column)?
        .map(ts_from_db)
        .transpose()
}

fn roles(row: &PgRow, column: &str) -> DbResult<Vec<Role>> {
    serde_json::from_str(&text(row, column)?).map_err(DbError::corrupt)
}

fn json(row: &PgRow, column: &str) -> DbResult<serde_json::Value> {
    serde_json::from_str(&text(row, column)?).map_err(DbError::corrupt)
}

// --- records

/// An organization from [`org_columns!`].
pub(crate) fn org(row: &PgRow) -> DbResult<Org> {
    Ok(Org {
        id: text(row, "id")?,
        name: text(row, "name")?,
        created_at: ts(row, "created_at")?,
    })
}

/// A user from [`user_columns!`].
pub(crate) fn user(row: &PgRow) -> DbResult<User> {
    Ok(User {
        id: text(row, "id")?,
        org_id: text(row, "org_id")?,
        login: text(row, "login")?,
        login_key: text(row, "login_key")?,
        email: opt_text(row, "email")?,
        display_name: opt_text(row, "display_name")?,
        source: opt_text(row, "source")?,
        roles: roles(row, "roles")?,
        disabled: flag(row, "disabled")?,
        password_hash: opt_text(row, "password_hash")?,
        password_history: strings_from_db(&text(row, "password_history")?)?,
        password_changed_at: opt_ts(row, "password_changed_at")?,
        password_set_by_admin: flag(row, "password_set_by_admin")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        last_login_at: opt_ts(row, "last_login_at")?,
        last_login_ip: opt_text(row, "last_login_ip")?,
    })
}

/// A policy section from [`section_columns!`].
pub(crate) fn section(row: &PgRow) -> DbResult<SectionRow> {
    Ok(SectionRow {
        section: text(row, "section")?,
        value: json(row, "value")?,
        sequence: seq_from_db(row.try_get::<i64, _>("sequence")?)?,
        created_at: ts(row, "created_at")?,
        changed_at: ts(row, "changed_at")?,
    })
}

/// A session from [`session_columns!`].
pub(crate) fn session(row: &PgRow) -> DbResult<Session> {
    Ok(Session {
        id: text(row, "id")?,
        token_hash: text(row, "token_hash")?,
        org_id: text(row, "org_id")?,
        user_id: text(row, "user_id")?,
        created_at: ts(row, "created_at")?,
        last_used_at: ts(row, "last_used_at")?,
        password_change_only: flag(row, "password_change_only")?,
    })
}

/// An API key from [`api_key_columns!`].
pub(crate) fn api_key(row: &PgRow) -> DbResult<ApiKey> {
    Ok(ApiKey {
        id: text(row, "id")?,
        token_hash: text(row, "token_hash")?,
        org_id: opt_text(row, "org_id")?,
        user_id: opt_text(row, "user_id")?,
        name: text(row, "name")?,
        roles: roles(row, "roles")?,
        created_at: ts(row, "created_at")?,
        expires_at: opt_ts(row, "expires_at")?,
    })
}

/// An event from [`event_columns!`].
pub(crate) fn event(row: &PgRow) -> DbResult<Event> {
    Ok(Event {
        sequence: seq_from_db(row.try_get::<i64, _>("sequence")?)?,
        org_id: opt_text(row, "org_id")?,
        kind: text(row, "kind")?,
        actor: text(row, "actor")?,
        request_id: opt_text(row, "request_id")?,
        at: ts(row, "at")?,
        payload: json(row, "payload")?,
    })
}

/// Decodes every row with `decode`.
pub(crate) fn all<T>(rows: &[PgRow], decode: fn(&PgRow) -> DbResult<T>) -> DbResult<Vec<T>> {
    rows.iter().map(decode).collect()
}

#[cfg(test)]
mod tests {
    use super::{ts_from_db, ts_to_db};
    use time::macros::datetime;

    #[test]
    fn timestamps_round_trip_to_the_nanosecond() {
        for at in [
            datetime!(2024-02-29 23:59:59.123_456_789 UTC),
            datetime!(1970-01-01 0:00 UTC),
            datetime!(1969-12-31 23:59:59.999_999_999 UTC),
            datetime!(2025-06-01 12:00:00.000_000_001 +02:00),
        ] {
            let back = ts_from_db(ts_to_db(at).unwrap()).unwrap();
            assert_eq!(back, at);
        }
        assert!(ts_to_db(datetime!(2300-01-01 0:00 UTC)).is_err());
    }
}
