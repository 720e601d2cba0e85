//! Instance defaults, per-organization overrides and the effective policy.
//!
//! Invariants:
//! - the instance holds a valid value for every section;
//! - an organization holds, per section, either nothing (it inherits: `is_default: true`) or its
//!   own custom copy; writing a section creates the copy, resetting deletes it;
//! - [`resolve`] is the one place that decides which value applies, and it is pure.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{parse_section, patch_section};
use crate::patch::Patchable;
use crate::section::{SectionDetails, SectionKind};
use crate::validate::{Valid, Validate};
use crate::violation::Violations;
use crate::{
    ApiKeysPolicy, BruteForcePolicy, FeaturesPolicy, LockoutPolicy, MfaPolicy, PasswordPolicies,
    SessionPolicy, TokensPolicy,
};

/// A section value as stored, with its details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de> + Validate"))]
pub struct Stored<T> {
    /// The validated value.
    pub value: Valid<T>,
    /// Sequence, dates and owner.
    pub details: SectionDetails,
}

/// A section as it applies to an organization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de> + Validate"))]
pub struct Resolved<T> {
    /// `true` when the organization inherits the instance default.
    pub is_default: bool,
    /// Details of the stored value that applies (the instance's when inherited).
    pub details: SectionDetails,
    /// The value that applies.
    pub value: Valid<T>,
}

macro_rules! sections {
    ($($field:ident: $kind:ident => $ty:ty),* $(,)?) => {
        /// The instance's value for every section (built-in defaults until an instance admin
        /// changes them).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub struct InstancePolicy {
            $(
                #[doc = concat!("The instance's `", stringify!($field), "` section.")]
                pub $field: Stored<$ty>,
            )*
        }

        impl InstancePolicy {
            /// Built-in defaults, owned by `instance_id`, never written.
            pub fn builtin(instance_id: &str) -> InstancePolicy {
                InstancePolicy {
                    $($field: Stored {
                        value: Valid::default(),
                        details: SectionDetails::builtin(instance_id),
                    },)*
                }
            }

            /// Replaces one section.
            pub fn set(&mut self, value: SectionValue, details: SectionDetails) {
                match value {
                    $(SectionValue::$kind(value) => self.$field = Stored { value, details },)*
                }
            }
        }

        /// An organization's custom sections; `None` = inherits the instance default.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        pub struct OrgOverrides {
            $(
                #[doc = concat!("The organization's own `", stringify!($field), "` section.")]
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<Stored<$ty>>,
            )*
        }

        impl OrgOverrides {
            /// Writes one section: the organization now has its own copy.
            pub fn set(&mut self, value: SectionValue, details: SectionDetails) {
                match value {
                    $(SectionValue::$kind(value) => self.$field = Some(Stored { value, details }),)*
                }
            }

            /// Resets one section to the instance default; answers whether a custom copy existed.
            pub fn reset(&mut self, kind: SectionKind) -> bool {
                match kind {
                    $(SectionKind::$kind => self.$field.take().is_some(),)*
                }
            }

            /// Whether the organization has its own copy of `kind`.
            pub fn has_custom(&self, kind: SectionKind) -> bool {
                match kind {
                    $(SectionKind::$kind => self.$field.is_some(),)*
                }
            }
        }

        /// The policy that applies to one organization, section by section.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub struct EffectivePolicy {
            $(
                #[doc = concat!("The `", stringify!($field), "` section that applies.")]
                pub $field: Resolved<$ty>,
            )*
        }

        impl EffectivePolicy {
            /// The value of one section, as a [`SectionValue`].
            pub fn section(&self, kind: SectionKind) -> SectionValue {
                match kind {
                    $(SectionKind::$kind => SectionValue::$kind(self.$field.value.clone()),)*
                }
            }

            /// Whether `kind` is inherited, and its details.
            pub fn section_meta(&self, kind: SectionKind) -> (bool, &SectionDetails) {
                match kind {
                    $(SectionKind::$kind => (self.$field.is_default, &self.$field.details),)*
                }
            }
        }

        /// Resolves the effective policy of an organization: its own copy of a section where it
        /// has one, the instance's otherwise.
        pub fn resolve(instance: &InstancePolicy, org: &OrgOverrides) -> EffectivePolicy {
            EffectivePolicy {
                $($field: match &org.$field {
                    Some(own) => Resolved {
                        is_default: false,
                        details: own.details.clone(),
                        value: own.value.clone(),
                    },
                    None => Resolved {
                        is_default: true,
                        details: instance.$field.details.clone(),
                        value: instance.$field.value.clone(),
                    },
                },)*
            }
        }

        /// A typed merge patch of one section (the `password` patch applies to the default
        /// password policy), as the dialects build them.
        #[derive(Clone, Debug, PartialEq)]
        // A patch lives for one request; boxing the password variant would buy nothing.
        #[allow(clippy::large_enum_variant)]
        pub enum SectionPatch {
            $(
                #[doc = concat!("A patch of the `", stringify!($field), "` section.")]
                $kind(<$ty as Patchable>::Patch),
            )*
        }

        impl SectionPatch {
            /// Which section this patches.
            pub fn kind(&self) -> SectionKind {
                match self {
                    $(SectionPatch::$kind(_) => SectionKind::$kind,)*
                }
            }

            /// Whether the patch names no field.
            pub fn is_empty(&self) -> bool {
                match self {
                    $(SectionPatch::$kind(patch) => patch.is_empty(),)*
                }
            }

            /// The section and its JSON merge patch, as [`SectionValue::patch`] takes it.
            pub fn to_json(&self) -> (SectionKind, Value) {
                match self {
                    $(SectionPatch::$kind(patch) => (SectionKind::$kind, patch.to_json()),)*
                }
            }
        }

        $(
            impl From<<$ty as Patchable>::Patch> for SectionPatch {
                fn from(patch: <$ty as Patchable>::Patch) -> SectionPatch {
                    SectionPatch::$kind(patch)
                }
            }
        )*

        /// One validated section value, tagged with its kind.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum SectionValue {
            $(
                #[doc = concat!("A `", stringify!($field), "` section.")]
                $kind(Valid<$ty>),
            )*
        }

        impl SectionValue {
            /// Which section this is.
            pub fn kind(&self) -> SectionKind {
                match self {
                    $(SectionValue::$kind(_) => SectionKind::$kind,)*
                }
            }

            /// Parses a whole section of `kind` from JSON (PUT); missing fields take defaults.
            pub fn parse(kind: SectionKind, json: Value) -> Result<SectionValue, Violations> {
                match kind {
                    $(SectionKind::$kind => parse_section::<$ty>(json).map(SectionValue::$kind),)*
                }
            }

            /// Merges a JSON merge patch into this value (PATCH) and validates the result.
            pub fn patch(&self, patch: &Value) -> Result<SectionValue, Violations> {
                match self {
                    $(SectionValue::$kind(v) => patch_section::<$ty>(v, patch).map(SectionValue::$kind),)*
                }
            }

            /// The value as canonical JSON.
            pub fn to_json(&self) -> Value {
                serde_json::to_value(self).unwrap_or(Value::Null)
            }
        }
    };
}

sections! {
    password: Password => PasswordPolicies,
    lockout: Lockout => LockoutPolicy,
    brute_force: BruteForce => BruteForcePolicy,
    session: Session => SessionPolicy,
    tokens: Tokens => TokensPolicy,
    api_keys: ApiKeys => ApiKeysPolicy,
    mfa: Mfa => MfaPolicy,
    features: Features => FeaturesPolicy,
}
