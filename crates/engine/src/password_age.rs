//! Password age: when a password expires, when its owner is warned, and when it may be changed.
//!
//! Invariants: nothing expires while `expiration_enabled` is off; a password expires exactly at
//! `changed_at + max_age_days` and the grace ends exactly `grace_period` seconds later.

use portcullis_model::{PasswordPolicy, Timestamp, Violation};
use time::format_description::well_known::Rfc3339;

use crate::password_check::{PASSWORD_FIELD, codes};
use crate::time_math::{plus, plus_days};

/// When a password changed at `changed_at` expires under `policy` (`None`: never).
pub fn expires_at(policy: &PasswordPolicy, changed_at: Timestamp) -> Option<Timestamp> {
    policy
        .expiration_enabled
        .then(|| plus_days(changed_at, policy.max_age_days))
}

/// From when its owner is warned of the coming expiry (`None`: no warning).
pub fn warn_from(policy: &PasswordPolicy, changed_at: Timestamp) -> Option<Timestamp> {
    (policy.expiration_enabled && policy.expire_warn_days > 0).then(|| {
        plus_days(
            changed_at,
            policy.max_age_days.saturating_sub(policy.expire_warn_days),
        )
    })
}

/// Refuses a user's own change before `min_age` has passed since the last change. Passwords an
/// administrator set are exempt: their owner must be able to replace them at once.
pub fn check_min_age(
    policy: &PasswordPolicy,
    changed_at: Timestamp,
    set_by_admin: bool,
    now: Timestamp,
) -> Result<(), Violation> {
    let allowed_at = plus(changed_at, policy.min_age);
    if set_by_admin || policy.min_age == 0 || now >= allowed_at {
        return Ok(());
    }
    let at = allowed_at.format(&Rfc3339).unwrap_or_default();
    Err(Violation::new(
        PASSWORD_FIELD,
        codes::TOO_RECENT,
        format!("may be changed again from {at}"),
    )
    .with("allowed_at", at))
}
