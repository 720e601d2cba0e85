//! The canonical security-policy model of portcullis (docs/design.md §2).
//!
//! Pure: no IO, no clock. Every section type has serde with the canonical field names, a
//! `Default` that is the built-in instance default, and [`Validate`] rules that report *every*
//! violation with a stable code and a field path. A [`Valid<T>`] proves a value passed them.
//! [`resolve`] turns instance defaults and an organization's overrides into its
//! [`EffectivePolicy`]. [`compliance`] checks an effective policy against published standards
//! and computes the smallest changes that make it meet one (docs/compliance.md).
//!
//! Units: durations are seconds (`u64`); `*_days` fields are days; lengths are Unicode code points.

mod api_keys;
mod brute_force;
pub mod codes;
pub mod compliance;
mod escalation;
mod features;
mod ids;
mod json;
mod lockout;
mod mfa;
pub mod names;
pub mod net;
mod password_policies;
mod password_policy;
mod patch;
mod policy;
mod section;
mod session;
mod tokens;
mod validate;
mod violation;

pub use api_keys::{ApiKeysFields, ApiKeysPatch, ApiKeysPolicy, MAX_API_KEY_EXPIRATION};
pub use brute_force::{BruteForceFields, BruteForcePatch, BruteForcePolicy, MAX_ALLOWLIST};
pub use escalation::{Escalation, EscalationStrategy};
pub use features::{
    FeaturesFields, FeaturesPatch, FeaturesPolicy, MAX_SETTINGS_DEPTH, MAX_TENANT_SETTINGS_BYTES,
};
pub use ids::{OrgId, PolicyId, is_valid_id};
pub use json::{from_slice, merge_patch, parse_section, patch_section};
pub use lockout::{LockoutFields, LockoutPatch, LockoutPolicy, LockoutScope, MAX_LOCK_SECONDS};
pub use mfa::{MfaFields, MfaPatch, MfaPolicy};
pub use password_policies::{MAX_PASSWORD_POLICIES, PasswordPolicies};
pub use password_policy::{
    AccountAttribute, BCRYPT_MAX_BYTES, HashAlgorithm, MAX_CUSTOM_BLOCKLIST, MAX_HISTORY,
    MAX_PASSWORD_LENGTH, PasswordPolicy, PasswordPolicyFields, PasswordPolicyPatch,
};
pub use patch::Patchable;
pub use policy::{
    EffectivePolicy, InstancePolicy, OrgOverrides, Resolved, SectionPatch, SectionValue, Stored,
    resolve,
};
pub use section::{SectionDetails, SectionKind, Timestamp, UnknownSection, rfc3339};
pub use session::{SESSION_MAX, SESSION_MIN, SessionFields, SessionPatch, SessionPolicy};
pub use tokens::{TOKEN_RANGES, TokensFields, TokensPatch, TokensPolicy};
pub use validate::{Checker, Valid, Validate};
pub use violation::{Violation, Violations, join_path};
