//! The `mfa` section. Enrollment grace uses the user's password policy `grace_period`.
//! Invariant: `trusted_networks` holds at most 100 addresses or CIDR networks.

use serde::{Deserialize, Serialize};

use crate::brute_force::MAX_ALLOWLIST;
use crate::validate::{Checker, Validate};

/// MFA policy of the organization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MfaPolicy {
    /// Every user must pass MFA.
    pub required: bool,
    /// Every user must pass MFA when its client IP is outside `trusted_networks`.
    pub required_off_network: bool,
    /// Networks considered "on network" (addresses or CIDRs, at most 100).
    #[schema(max_items = 100)]
    pub trusted_networks: Vec<String>,
}

impl Validate for MfaPolicy {
    fn check(&self, c: &mut Checker) {
        c.ip_list("trusted_networks", &self.trusted_networks, MAX_ALLOWLIST);
    }
}

crate::patch::section_patch! {
    /// A merge patch of the `mfa` section.
    MfaPolicy => MfaPatch, MfaFields {
        required: bool,
        required_off_network: bool,
        trusted_networks: Vec<String>,
    }
}
