//! The `features` section: self-service switches, and `tenant_settings`, the other tenant
//! settings a dialect carries (branding, scopes, CIBA, ...), stored and returned as set.
//! Invariant: `tenant_settings` serializes to at most 64 KiB.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codes;
use crate::validate::{Checker, Validate};
use crate::violation::Violation;

/// Largest serialized `tenant_settings`.
pub const MAX_TENANT_SETTINGS_BYTES: usize = 64 * 1024;

/// Self-service features of the organization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeaturesPolicy {
    /// Users may register themselves.
    pub register_enabled: bool,
    /// Users may reset a forgotten password through a mailed token.
    pub forgot_password_enabled: bool,
    /// Users may delete their own account.
    pub user_self_deletion: bool,
    /// A registered user must verify its email address before it can log in.
    pub force_email_verification: bool,
    /// Other tenant settings, stored and returned as set.
    pub tenant_settings: Map<String, Value>,
    /// Settings a vendor dialect carries that no other part of the policy holds (for example
    /// ZITADEL's login-policy switches, Huawei's protect policy), one object per dialect,
    /// stored and returned as set; counted with `tenant_settings` against the 64 KiB limit.
    pub dialect_settings: Map<String, Value>,
}

impl Validate for FeaturesPolicy {
    fn check(&self, c: &mut Checker) {
        let size = [&self.tenant_settings, &self.dialect_settings]
            .iter()
            .map(|m| serde_json::to_vec(m).map_or(usize::MAX, |v| v.len()))
            .fold(0usize, usize::saturating_add);
        if size > MAX_TENANT_SETTINGS_BYTES {
            c.push(
                Violation::new("tenant_settings", codes::TOO_LARGE, "is larger than 64 KiB")
                    .with("max_bytes", MAX_TENANT_SETTINGS_BYTES),
            );
        }
    }
}
