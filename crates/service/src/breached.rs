//! Breached-password checks (NIST SP 800-63B: a new password is compared with values known to
//! be compromised): the port a source implements, and how the service asks it.
//!
//! Invariants: the password goes only to the source the operator configured (an offline index
//! in this process, or a range endpoint that receives 5 hex characters of its SHA-1, never the
//! password); the engine decides (`breach_violation`), the service only looks up; a new
//! password with `check_breached` is refused when no source is configured (a violation, never
//! a silent pass), and when the source cannot answer, refused (`503`) unless the instance fails
//! open; a dry run asks only an offline source; at login the check never refuses anything: a password found breached only limits the
//! session to a change, and a source that cannot answer counts as "not found" there.

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_engine::password_check::{BreachLookup, breach_violation};
use portcullis_model::{PasswordPolicy, Violation};

use crate::error::{ServiceError, ServiceResult};
use crate::service::Service;

/// Why a source could not answer (a timeout, an unreachable endpoint, a garbled answer).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BreachedUnavailable(pub String);

/// Where breached passwords are looked up.
#[async_trait]
pub trait BreachedPasswords: Send + Sync {
    /// How many times `password` was seen in breaches (0: never).
    async fn times_seen(&self, password: &str) -> Result<u32, BreachedUnavailable>;

    /// Whether a lookup stays in this process (an index) rather than asking another server.
    /// The dry runs, which anyone typing on a hosted page can repeat, consult only such a
    /// source.
    fn offline(&self) -> bool {
        false
    }
}

/// The instance's source and what a failure of it means for a new password.
#[derive(Clone)]
pub(crate) struct BreachedCheck {
    pub(crate) source: Arc<dyn BreachedPasswords>,
    /// A source that cannot answer accepts the password (`true`) or refuses it.
    pub(crate) fail_open: bool,
}

impl Service {
    /// The same service with a breached-password source; `fail_open`: a new password is
    /// accepted when the source cannot answer (else refused with `503`).
    pub fn with_breached_passwords(
        mut self,
        source: Arc<dyn BreachedPasswords>,
        fail_open: bool,
    ) -> Service {
        self.breached = Some(BreachedCheck { source, fail_open });
        self
    }

    /// The violation of a new password under `rules`' breached check, if any.
    pub(crate) async fn breached_violation(
        &self,
        rules: &PasswordPolicy,
        password: &str,
    ) -> ServiceResult<Option<Violation>> {
        if !rules.check_breached {
            return Ok(None);
        }
        let Some(check) = &self.breached else {
            return Ok(breach_violation(rules, BreachLookup::NoSource));
        };
        match check.source.times_seen(password).await {
            Ok(count) => Ok(breach_violation(rules, BreachLookup::Seen(count))),
            Err(e) if check.fail_open => {
                tracing::warn!(error = %e, "breached-password source unavailable; password accepted (fail open)");
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(error = %e, "breached-password source unavailable; password refused (fail closed)");
                Err(ServiceError::Unavailable(
                    "the breached-password check is unavailable; try again later".into(),
                ))
            }
        }
    }

    /// The violation for a dry run: only from an offline source, and never an error (the
    /// real write checks again).
    pub(crate) async fn breached_dry_run(
        &self,
        rules: &PasswordPolicy,
        password: &str,
    ) -> Option<Violation> {
        match &self.breached {
            Some(check) if !check.source.offline() => None,
            _ => self
                .breached_violation(rules, password)
                .await
                .ok()
                .flatten(),
        }
    }

    /// Whether a login's correct password is found breached under `rules` (with
    /// `check_breached_at_login`); a source that cannot answer, or none, says no.
    pub(crate) async fn breached_at_login(&self, rules: &PasswordPolicy, password: &str) -> bool {
        if !(rules.check_breached && rules.check_breached_at_login) {
            return false;
        }
        let Some(check) = &self.breached else {
            return false;
        };
        match check.source.times_seen(password).await {
            Ok(count) => breach_violation(rules, BreachLookup::Seen(count)).is_some(),
            Err(e) => {
                tracing::warn!(error = %e, "breached-password source unavailable at a login; not counted");
                false
            }
        }
    }
}
