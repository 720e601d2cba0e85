//! Session validity (docs/design.md §3.4): a session lives while
//! `now < created + max_session_duration` and, with an idle timeout,
//! `now < last_used + idle_timeout`. Always evaluated against the *current* policy, so
//! shortening a lifetime ends existing sessions at once.

use portcullis_model::{SessionPolicy, Timestamp};

use crate::time_math::plus;

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// Past its absolute lifetime.
    Absolute,
    /// Unused for longer than the idle timeout.
    Idle,
}

/// The deadlines of a live session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionDeadlines {
    /// Absolute end.
    pub expires_at: Timestamp,
    /// End if unused; `None` without an idle timeout.
    pub idle_expires_at: Option<Timestamp>,
}

/// Deadlines of a session created or last used at the given times.
pub fn deadlines(
    policy: &SessionPolicy,
    created_at: Timestamp,
    last_used_at: Timestamp,
) -> SessionDeadlines {
    SessionDeadlines {
        expires_at: plus(created_at, policy.max_session_duration),
        idle_expires_at: policy.idle_timeout.map(|idle| plus(last_used_at, idle)),
    }
}

/// Whether a session is still valid at `now`; when it is, its deadlines after this use.
pub fn check_session(
    policy: &SessionPolicy,
    created_at: Timestamp,
    last_used_at: Timestamp,
    now: Timestamp,
) -> Result<SessionDeadlines, SessionEnd> {
    let before = deadlines(policy, created_at, last_used_at);
    if now >= before.expires_at {
        return Err(SessionEnd::Absolute);
    }
    if before.idle_expires_at.is_some_and(|idle| now >= idle) {
        return Err(SessionEnd::Idle);
    }
    Ok(deadlines(policy, created_at, now))
}
