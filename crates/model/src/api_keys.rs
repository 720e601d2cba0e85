//! The `api_keys` section: the lifetime of organizations' keys (the instance's copy is their
//! default; instance keys answer to no policy, docs/decisions/0010-instance-keys.md).
//! Invariant: with `max_expiration` > 0, every organization's key expires at most
//! `max_expiration` seconds after its creation, and one without expiry cannot be created.

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

/// Longest maximum lifetime an API key policy may set (10 years).
pub const MAX_API_KEY_EXPIRATION: u64 = 10 * 365 * 86_400;

/// API key policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ApiKeysPolicy {
    /// Longest key lifetime, seconds; 0 = no maximum (0–315360000).
    #[schema(minimum = 0, maximum = 315_360_000)]
    pub max_expiration: u64,
}

impl Validate for ApiKeysPolicy {
    fn check(&self, c: &mut Checker) {
        c.range(
            "max_expiration",
            self.max_expiration,
            0,
            MAX_API_KEY_EXPIRATION,
        );
    }
}

crate::patch::section_patch! {
    /// A merge patch of the `api_keys` section.
    ApiKeysPolicy => ApiKeysPatch, ApiKeysFields {
        max_expiration: u64,
    }
}
