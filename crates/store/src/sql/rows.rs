//! Encoding of record fields into columns and decoding of rows back into records.
//!
//! Invariants (they match every adapter's migrations; `encoding.rs` has the encodings):
//! - every decoder reads the columns of its `*_columns!` list by name;
//! - a flag reads from a boolean column (PostgreSQL) or from an integer 0/1 (SQLite);
//! - a value that does not decode is corrupt stored data (`Internal`), except a section value
//!   that no longer parses, which reads as null (see [`section`]).

use portcullis_model::{OrgId, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::encoding::{
    count_from_db, json_from_db, opt_json_from_db, roles_from_db, stage_from_db,
};
use super::error::{DbError, DbResult};
use crate::{
    ApiKey, Event, MailDraft, MfaFactor, Org, OutboxMail, Role, SectionRow, Session, User,
};

// --- column access

/// A text column.
pub(crate) fn text(row: &AnyRow, column: &str) -> DbResult<String> {
    Ok(row.try_get::<String, _>(column)?)
}

fn opt_text(row: &AnyRow, column: &str) -> DbResult<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(column)?)
}

/// An organization id (an invalid one is corrupt data).
fn org_id(row: &AnyRow, column: &str) -> DbResult<OrgId> {
    OrgId::parse(&text(row, column)?, column).map_err(|v| DbError::corrupt(v.message))
}

/// An optional organization id.
fn opt_org_id(row: &AnyRow, column: &str) -> DbResult<Option<OrgId>> {
    opt_text(row, column)?
        .map(|text| OrgId::parse(&text, column).map_err(|v| DbError::corrupt(v.message)))
        .transpose()
}

/// A flag: a boolean column, or an integer one holding 0 or 1.
pub(crate) fn flag(row: &AnyRow, column: &str) -> DbResult<bool> {
    match row.try_get::<bool, _>(column) {
        Ok(flag) => Ok(flag),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

pub(crate) fn ts(row: &AnyRow, column: &str) -> DbResult<Timestamp> {
    Ok(ts_from_db(row.try_get::<i64, _>(column)?)?)
}

fn opt_ts(row: &AnyRow, column: &str) -> DbResult<Option<Timestamp>> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(ts_from_db)
        .transpose()?)
}

fn roles(row: &AnyRow, column: &str) -> DbResult<Vec<Role>> {
    Ok(roles_from_db(&text(row, column)?)?)
}

fn json(row: &AnyRow, column: &str) -> DbResult<serde_json::Value> {
    Ok(json_from_db(&text(row, column)?)?)
}

// --- records

/// An organization from [`org_columns!`].
pub(crate) fn org(row: &AnyRow) -> DbResult<Org> {
    Ok(Org {
        id: org_id(row, "id")?,
        name: text(row, "name")?,
        created_at: ts(row, "created_at")?,
    })
}

/// A user from [`user_columns!`].
pub(crate) fn user(row: &AnyRow) -> DbResult<User> {
    Ok(User {
        id: text(row, "id")?,
        org_id: org_id(row, "org_id")?,
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
        verification_pending: flag(row, "verification_pending")?,
        password_expired_at: opt_ts(row, "password_expired_at")?,
    })
}

/// A policy section from [`section_columns!`].
pub(crate) fn section(row: &AnyRow) -> DbResult<SectionRow> {
    Ok(SectionRow {
        section: text(row, "section")?,
        // A value that no longer parses (written before nesting was bounded) reads as null:
        // the service then treats the section as unreadable instead of failing the whole
        // policy of its owner.
        value: json(row, "value").unwrap_or(serde_json::Value::Null),
        sequence: seq_from_db(row.try_get::<i64, _>("sequence")?)?,
        created_at: ts(row, "created_at")?,
        changed_at: ts(row, "changed_at")?,
    })
}

/// A session from [`session_columns!`].
pub(crate) fn session(row: &AnyRow) -> DbResult<Session> {
    Ok(Session {
        id: text(row, "id")?,
        token_hash: text(row, "token_hash")?,
        org_id: org_id(row, "org_id")?,
        user_id: text(row, "user_id")?,
        created_at: ts(row, "created_at")?,
        last_used_at: ts(row, "last_used_at")?,
        password_change_only: flag(row, "password_change_only")?,
        stage: stage_from_db(&text(row, "stage")?)?,
        client_ip: opt_text(row, "client_ip")?,
        user_agent: opt_text(row, "user_agent")?,
    })
}

/// An API key from [`api_key_columns!`].
pub(crate) fn api_key(row: &AnyRow) -> DbResult<ApiKey> {
    Ok(ApiKey {
        id: text(row, "id")?,
        token_hash: text(row, "token_hash")?,
        org_id: opt_org_id(row, "org_id")?,
        user_id: opt_text(row, "user_id")?,
        name: text(row, "name")?,
        roles: roles(row, "roles")?,
        created_at: ts(row, "created_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        sealed_secret: opt_text(row, "sealed_secret")?,
        parent_id: opt_text(row, "parent_id")?,
    })
}

/// A second factor from [`mfa_factor_columns!`].
pub(crate) fn mfa_factor(row: &AnyRow) -> DbResult<MfaFactor> {
    Ok(MfaFactor {
        org_id: org_id(row, "org_id")?,
        user_id: text(row, "user_id")?,
        secret_sealed: text(row, "secret_sealed")?,
        confirmed_at: opt_ts(row, "confirmed_at")?,
        last_step: seq_from_db(row.try_get::<i64, _>("last_step")?)?,
        recovery_codes: strings_from_db(&text(row, "recovery_codes")?)?,
        created_at: ts(row, "created_at")?,
    })
}

/// An event from [`event_columns!`].
pub(crate) fn event(row: &AnyRow) -> DbResult<Event> {
    Ok(Event {
        sequence: seq_from_db(row.try_get::<i64, _>("sequence")?)?,
        org_id: opt_org_id(row, "org_id")?,
        kind: text(row, "kind")?,
        actor: text(row, "actor")?,
        request_id: opt_text(row, "request_id")?,
        at: ts(row, "at")?,
        payload: json(row, "payload")?,
    })
}

/// A queued mail from [`outbox_columns!`].
pub(crate) fn outbox_mail(row: &AnyRow) -> DbResult<OutboxMail> {
    Ok(OutboxMail {
        id: seq_from_db(row.try_get::<i64, _>("id")?)?,
        org_id: opt_org_id(row, "org_id")?,
        event_sequence: seq_from_db(row.try_get::<i64, _>("event_sequence")?)?,
        draft: MailDraft {
            kind: text(row, "kind")?,
            recipient: text(row, "recipient")?,
            subject: text(row, "subject")?,
            body: text(row, "body")?,
            token_claims: opt_json_from_db(opt_text(row, "token_claims")?.as_deref())?,
            dedupe_key: opt_text(row, "dedupe_key")?,
        },
        created_at: ts(row, "created_at")?,
        attempts: count_from_db(row.try_get::<i64, _>("attempts")?)?,
        next_attempt_at: ts(row, "next_attempt_at")?,
        sent_at: opt_ts(row, "sent_at")?,
        given_up_at: opt_ts(row, "given_up_at")?,
        last_error: opt_text(row, "last_error")?,
    })
}

/// Decodes every row with `decode`.
pub(crate) fn all<T>(rows: &[AnyRow], decode: fn(&AnyRow) -> DbResult<T>) -> DbResult<Vec<T>> {
    rows.iter().map(decode).collect()
}

pub(crate) use super::columns::{
    api_key_columns, event_columns, mfa_factor_columns, org_columns, outbox_columns,
    section_columns, session_columns, user_columns,
};
pub(crate) use super::encoding::{
    opt_ts_to_db, roles_to_db, seq_from_db, seq_to_db, strings_from_db, strings_to_db, ts_from_db,
    ts_to_db,
};
