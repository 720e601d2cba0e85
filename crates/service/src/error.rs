//! The service's one error type. The HTTP layer maps it to status codes once, at the edge.
//!
//! Invariant: no variant carries a secret; `Internal` and `Unavailable` messages are logged by the
//! edge and never sent to clients.

use portcullis_model::{Violation, Violations};
use portcullis_store::StoreError;

/// What went wrong with a request to the service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input breaks rules; every violation is listed (400).
    #[error("invalid input: {0}")]
    Invalid(Violations),
    /// No such resource, or one the caller may not see (404).
    #[error("not found")]
    NotFound,
    /// The resource exists already or the change conflicts with its state (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The last instance key cannot be revoked: the instance would have no administrator
    /// left (409, `last_instance_key`).
    #[error("the last instance key cannot be revoked")]
    LastInstanceKey,
    /// No valid credentials (401).
    #[error("authentication required")]
    Unauthenticated,
    /// A value another resource holds already, named by a stable `code`, e.g. a verified email
    /// address of another user (409).
    #[error("taken: {code}")]
    Taken {
        /// The stable code.
        code: &'static str,
        /// What may be told to the client.
        detail: &'static str,
    },
    /// The client address is blocked after too many attempts; retry after this many seconds
    /// (429).
    #[error("address blocked")]
    AddressBlocked {
        /// Seconds until the block ends (at least 1).
        retry_after: u64,
    },
    /// Authenticated, but the role does not allow this (403).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The session may only change its password (403).
    #[error("password change required")]
    PasswordChangeRequired,
    /// The session may only enroll a second factor (403).
    #[error("second factor enrollment required")]
    MfaEnrollmentRequired,
    /// A write conditional on a version (`If-Match`) found another one: something changed
    /// since the caller read it (412).
    #[error("the resource changed since the version named")]
    PreconditionFailed,
    /// The store is unreachable (503).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// One violation as an `Invalid` error.
    pub fn invalid(violation: Violation) -> ServiceError {
        ServiceError::Invalid(Violations::one(violation))
    }
}

impl From<Violations> for ServiceError {
    fn from(v: Violations) -> ServiceError {
        ServiceError::Invalid(v)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> ServiceError {
        match e {
            StoreError::Conflict(what) => ServiceError::Conflict(what),
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::VersionMismatch => {
                ServiceError::Conflict("the resource changed meanwhile; retry".into())
            }
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            StoreError::Internal(m) => ServiceError::Internal(m),
        }
    }
}

/// Result of service calls.
pub type ServiceResult<T> = Result<T, ServiceError>;
