//! The `password` section: an organization's list of named password policies.
//!
//! Invariants: 1–50 policies, ids unique, exactly one `is_default`. The policy of a user with
//! source S is the first non-default policy listing S, else the default ([`PasswordPolicies::for_source`]).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::codes;
use crate::password_policy::PasswordPolicy;
use crate::validate::{Checker, Validate};
use crate::violation::Violation;

/// Most password policies per organization.
pub const MAX_PASSWORD_POLICIES: usize = 50;

/// The `password` section: named policies, one of them the default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordPolicies {
    /// The policies, in the order their sources are matched.
    pub policies: Vec<PasswordPolicy>,
}

impl Default for PasswordPolicies {
    fn default() -> PasswordPolicies {
        PasswordPolicies {
            policies: vec![PasswordPolicy::default()],
        }
    }
}

impl PasswordPolicies {
    /// The default policy. A validated list always has one; an unvalidated list without one
    /// answers the built-in default.
    pub fn default_policy(&self) -> &PasswordPolicy {
        self.policies
            .iter()
            .find(|p| p.is_default)
            .unwrap_or_else(|| builtin())
    }

    /// The policy of a user from `source`: the first non-default policy listing it, else the default.
    pub fn for_source(&self, source: Option<&str>) -> &PasswordPolicy {
        source
            .and_then(|s| {
                self.policies
                    .iter()
                    .find(|p| !p.is_default && p.sources.iter().any(|x| x == s))
            })
            .unwrap_or_else(|| self.default_policy())
    }

    /// The policy with this id.
    pub fn get(&self, id: &str) -> Option<&PasswordPolicy> {
        self.policies.iter().find(|p| p.id == id)
    }
}

fn builtin() -> &'static PasswordPolicy {
    static BUILTIN: std::sync::OnceLock<PasswordPolicy> = std::sync::OnceLock::new();
    BUILTIN.get_or_init(PasswordPolicy::default)
}

impl Validate for PasswordPolicies {
    fn check(&self, c: &mut Checker) {
        c.max_items("", self.policies.len(), MAX_PASSWORD_POLICIES);
        let defaults = self.policies.iter().filter(|p| p.is_default).count();
        if defaults != 1 {
            c.push(
                Violation::new(
                    "",
                    codes::DEFAULT_COUNT,
                    "exactly one policy must be the default",
                )
                .with("found", defaults),
            );
        }
        let mut ids = BTreeSet::new();
        for (i, policy) in self.policies.iter().enumerate() {
            c.nested(&format!("[{i}]"), policy);
            if !ids.insert(policy.id.as_str()) {
                c.push(
                    Violation::new(
                        format!("[{i}].id"),
                        codes::DUPLICATE,
                        "appears more than once",
                    )
                    .with("value", policy.id.as_str()),
                );
            }
        }
    }
}

/// The `password` section is patched through its default policy.
impl crate::patch::Patchable for PasswordPolicies {
    type Patch = crate::password_policy::PasswordPolicyPatch;
}
