//! The column lists each record is written and read with, in one place for every statement.
//!
//! Invariant: a decoder in `rows.rs` reads exactly the columns of its list, by name.

/// Columns of `orgs`, in the order the adapters read them.
macro_rules! org_columns {
    () => {
        "id, name, created_at"
    };
}

/// Columns of `users`.
macro_rules! user_columns {
    () => {
        "id, org_id, login, login_key, email, display_name, source, roles, disabled, \
         password_hash, password_history, password_changed_at, password_set_by_admin, \
         created_at, updated_at, last_login_at, last_login_ip, verification_pending, \
         password_expired_at"
    };
}

/// Columns of `sections`.
macro_rules! section_columns {
    () => {
        "section, value, sequence, created_at, changed_at"
    };
}

/// Columns of `sessions`.
macro_rules! session_columns {
    () => {
        "id, token_hash, org_id, user_id, created_at, last_used_at, password_change_only, stage, \
         client_ip, user_agent"
    };
}

/// Columns of `api_keys`.
macro_rules! api_key_columns {
    () => {
        "id, token_hash, org_id, user_id, name, roles, created_at, expires_at, sealed_secret, parent_id"
    };
}

/// Columns of `mfa_factors`.
macro_rules! mfa_factor_columns {
    () => {
        "org_id, user_id, secret_sealed, confirmed_at, last_step, recovery_codes, created_at"
    };
}

/// Columns of `events`.
macro_rules! event_columns {
    () => {
        "sequence, org_id, kind, actor, request_id, at, payload"
    };
}

/// Columns of `outbox`.
macro_rules! outbox_columns {
    () => {
        "id, org_id, event_sequence, kind, recipient, subject, body, token_claims, dedupe_key, \
         created_at, attempts, next_attempt_at, sent_at, given_up_at, last_error"
    };
}

pub(crate) use {
    api_key_columns, event_columns, mfa_factor_columns, org_columns, outbox_columns,
    section_columns, session_columns, user_columns,
};
