//! API key lifetimes against `api_keys.max_expiration` (docs/design.md §2.6).
//!
//! Invariants: with a maximum set, a key cannot be created without an expiry or with one later
//! than `now + max`; and a key is refused once `created + max` has passed even if it was created
//! under a looser policy. An expiry is always in the future when the key is created.

use portcullis_model::{ApiKeysPolicy, Timestamp, Violation};
use time::format_description::well_known::Rfc3339;

use crate::time_math::plus;

/// Stable codes of API-key violations.
pub mod codes {
    /// The requested expiry is not in the future.
    pub const EXPIRY_IN_PAST: &str = "api_key.expiry_in_past";
    /// A maximum lifetime is set, so an expiry is required; param `max_expiration`.
    pub const EXPIRY_REQUIRED: &str = "api_key.expiry_required";
    /// The requested expiry is later than the policy allows; param `latest`.
    pub const EXPIRY_TOO_LATE: &str = "api_key.expiry_too_late";
}

/// The field those violations carry.
pub const EXPIRES_AT_FIELD: &str = "expires_at";

/// Checks the expiry requested for a new key and answers the one to store.
pub fn new_key_expiry(
    policy: &ApiKeysPolicy,
    requested: Option<Timestamp>,
    now: Timestamp,
) -> Result<Option<Timestamp>, Violation> {
    if let Some(at) = requested
        && at <= now
    {
        return Err(Violation::new(
            EXPIRES_AT_FIELD,
            codes::EXPIRY_IN_PAST,
            "must be in the future",
        ));
    }
    if policy.max_expiration == 0 {
        return Ok(requested);
    }
    let latest = plus(now, policy.max_expiration);
    match requested {
        None => Err(Violation::new(
            EXPIRES_AT_FIELD,
            codes::EXPIRY_REQUIRED,
            format!(
                "is required: keys may live at most {} seconds",
                policy.max_expiration
            ),
        )
        .with("max_expiration", policy.max_expiration)),
        Some(at) if at > latest => {
            let latest = latest.format(&Rfc3339).unwrap_or_default();
            Err(Violation::new(
                EXPIRES_AT_FIELD,
                codes::EXPIRY_TOO_LATE,
                format!("must be at most {latest}"),
            )
            .with("latest", latest)
            .with("max_expiration", policy.max_expiration))
        }
        Some(at) => Ok(Some(at)),
    }
}

/// Why a key is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Its own expiry passed.
    Expired,
    /// It is older than the current policy's maximum lifetime.
    BeyondMaxExpiration,
}

/// Whether a key created at `created_at`, expiring at `expires_at`, may be used at `now`.
pub fn check_key(
    policy: &ApiKeysPolicy,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(), KeyRefusal> {
    if expires_at.is_some_and(|at| now >= at) {
        return Err(KeyRefusal::Expired);
    }
    if policy.max_expiration > 0 && now >= plus(created_at, policy.max_expiration) {
        return Err(KeyRefusal::BeyondMaxExpiration);
    }
    Ok(())
}
