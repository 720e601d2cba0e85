//! The `features` section: self-service switches, and `tenant_settings`, the other tenant
//! settings a dialect carries (branding, scopes, CIBA, ...), stored and returned as set.
//! Invariants: `tenant_settings` and `dialect_settings` serialize to at most 64 KiB together,
//! and nest at most [`MAX_SETTINGS_DEPTH`] levels deep — far below what reading the stored
//! section back, or an event that carries it, accepts (serde_json stops at 128), so a value
//! that was accepted can always be read again.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codes;
use crate::validate::{Checker, Validate};
use crate::violation::Violation;

/// Largest serialized `tenant_settings`.
pub const MAX_TENANT_SETTINGS_BYTES: usize = 64 * 1024;

/// Deepest nesting of arrays and objects inside `tenant_settings` or `dialect_settings`
/// (the settings object itself is level 1).
pub const MAX_SETTINGS_DEPTH: usize = 32;

/// How deep `value` nests arrays and objects (a scalar is 0).
fn depth(value: &Value) -> usize {
    // Iterative, so a hostile value cannot exhaust the stack here.
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(d);
                stack.extend(items.iter().map(|i| (i, d + 1)));
            }
            Value::Object(fields) => {
                deepest = deepest.max(d);
                stack.extend(fields.values().map(|i| (i, d + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// Self-service features of the organization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    #[schema(value_type = Object)]
    pub tenant_settings: Map<String, Value>,
    /// Settings a vendor dialect carries that no other part of the policy holds (for example
    /// ZITADEL's login-policy switches, Huawei's protect policy), one object per dialect,
    /// stored and returned as set; counted with `tenant_settings` against the 64 KiB limit.
    #[schema(value_type = Object)]
    pub dialect_settings: Map<String, Value>,
}

impl Validate for FeaturesPolicy {
    fn check(&self, c: &mut Checker) {
        let size = [&self.tenant_settings, &self.dialect_settings]
            .iter()
            .map(|m| serde_json::to_vec(m).map_or(usize::MAX, |v| v.len()))
            .fold(0usize, usize::saturating_add);
        for (field, map) in [
            ("tenant_settings", &self.tenant_settings),
            ("dialect_settings", &self.dialect_settings),
        ] {
            let nested = map.values().map(depth).max().unwrap_or(0) + 1;
            if nested > MAX_SETTINGS_DEPTH {
                c.push(
                    Violation::new(
                        field,
                        codes::TOO_DEEP,
                        format!("nests deeper than {MAX_SETTINGS_DEPTH} levels"),
                    )
                    .with("max_depth", MAX_SETTINGS_DEPTH),
                );
            }
        }
        if size > MAX_TENANT_SETTINGS_BYTES {
            c.push(
                Violation::new("tenant_settings", codes::TOO_LARGE, "is larger than 64 KiB")
                    .with("max_bytes", MAX_TENANT_SETTINGS_BYTES),
            );
        }
    }
}

crate::patch::section_patch! {
    /// A merge patch of the `features` section. The settings maps merge key by key (RFC 7396):
    /// a key set to `null` removes it.
    FeaturesPolicy => FeaturesPatch, FeaturesFields {
        register_enabled: bool,
        forgot_password_enabled: bool,
        user_self_deletion: bool,
        force_email_verification: bool,
        tenant_settings: Map<String, Value>,
        dialect_settings: Map<String, Value>,
    }
}
