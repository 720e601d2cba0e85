//! The `session` section: session lifetimes and what a login shows (docs/design.md §2.5).
//!
//! Units: seconds, except `account_validity_days`. Invariant: a session ends at
//! `created + max_session_duration` and, when `idle_timeout` is set, `idle_timeout` seconds after
//! its last use, whichever comes first.

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

/// Session lifetime bounds, shared with the `session` token lifetime of the dialects.
pub const SESSION_MIN: u64 = 600;
/// See [`SESSION_MIN`].
pub const SESSION_MAX: u64 = 15_552_000;

/// Login and session policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SessionPolicy {
    /// Absolute session lifetime, seconds (600–15552000, default 43200 = 12 h).
    #[schema(minimum = 600, maximum = 15_552_000)]
    pub max_session_duration: u64,
    /// Seconds without use after which a session ends; `None` = off (60–15552000, default 3600).
    #[schema(minimum = 60, maximum = 15_552_000)]
    pub idle_timeout: Option<u64>,
    /// Disable a user who has not logged in for this many days; 0 = off (0–3650).
    #[schema(minimum = 0, maximum = 3650)]
    pub account_validity_days: u64,
    /// The login answer carries the previous successful login and the failures since.
    pub show_recent_login_info: bool,
    /// Text shown on successful login; empty = none (at most 1024 characters).
    #[schema(max_length = 1024)]
    pub login_banner: String,
}

impl Default for SessionPolicy {
    fn default() -> SessionPolicy {
        SessionPolicy {
            max_session_duration: 43_200,
            idle_timeout: Some(3600),
            account_validity_days: 0,
            show_recent_login_info: false,
            login_banner: String::new(),
        }
    }
}

impl Validate for SessionPolicy {
    fn check(&self, c: &mut Checker) {
        c.range(
            "max_session_duration",
            self.max_session_duration,
            SESSION_MIN,
            SESSION_MAX,
        );
        c.range_opt("idle_timeout", self.idle_timeout, 60, SESSION_MAX);
        c.range("account_validity_days", self.account_validity_days, 0, 3650);
        c.max_chars("login_banner", &self.login_banner, 1024);
    }
}

crate::patch::section_patch! {
    /// A merge patch of the `session` section.
    SessionPolicy => SessionPatch, SessionFields {
        max_session_duration: u64,
        idle_timeout: Option<u64>,
        account_validity_days: u64,
        show_recent_login_info: bool,
        login_banner: String,
    }
}
