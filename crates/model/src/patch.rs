//! Typed merge patches of the policy sections, as the vendor dialects build them.
//!
//! For every section struct, [`section_patch!`] generates a patch struct with the same fields,
//! each an `Option` of the field's type and skipped when `None`, so a patch serializes to exactly
//! the JSON merge patch [`SectionValue::patch`](crate::SectionValue::patch) accepts: a field
//! that is `None` is left as it is; a nullable field set to `Some(None)` is written as `null`,
//! which clears it; a map field (`features.tenant_settings`) merges as RFC 7396 says.
//!
//! Invariants: a patch has exactly the fields of its section, with the same types. The
//! invocation restates them, and the generated `From<Section>` destructures the section without
//! `..` into a patch with every field set, so a field added to, removed from or retyped in a
//! section and not in its patch does not compile. The canonical name of a field as text (for
//! violation paths and messages) is the generated `FIELDS` constant, spelled from the same list
//! (`LockoutPatch::FIELDS.window == "window"`); the section structs rename no field, and the
//! round-trip test below proves the names equal the serialized keys.

/// A section (or the one password policy a `password` patch applies to) and its typed patch.
pub trait Patchable {
    /// The patch struct: every field optional, `None` = unchanged.
    type Patch;
}

/// Generates the patch struct, the field-name struct and their impls of one section struct
/// (see the module header). Used next to each section's declaration.
macro_rules! section_patch {
    (
        $(#[$meta:meta])*
        $section:ident => $patch:ident, $names:ident {
            $( $field:ident: $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
        pub struct $patch {
            $(
                #[doc = concat!("The new `", stringify!($field), "`; `None` leaves it as it is.")]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        #[doc = concat!("The canonical name of every field of [`", stringify!($section),
                        "`], as merge patches and violation paths spell it.")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $names {
            $(
                #[doc = concat!("`\"", stringify!($field), "\"`.")]
                pub $field: &'static str,
            )*
        }

        impl $patch {
            /// The canonical name of each field.
            pub const FIELDS: $names = $names { $( $field: stringify!($field), )* };

            /// Every canonical field name, in declaration order.
            pub const FIELD_NAMES: &'static [&'static str] = &[$( stringify!($field) ),*];

            /// Whether the patch names no field.
            pub fn is_empty(&self) -> bool {
                true $( && self.$field.is_none() )*
            }

            /// The patch as a JSON merge patch.
            pub fn to_json(&self) -> serde_json::Value {
                serde_json::to_value(self).unwrap_or_default()
            }

            /// Applies the patch to `current` and validates the result.
            pub fn apply(
                &self,
                current: &$section,
            ) -> Result<$crate::Valid<$section>, $crate::Violations> {
                $crate::patch_section(current, &self.to_json())
            }
        }

        impl From<$section> for $patch {
            /// A patch that sets every field to the value's (destructured without `..`: a
            /// field of the section missing here does not compile).
            fn from(value: $section) -> $patch {
                let $section { $( $field ),* } = value;
                $patch { $( $field: Some($field) ),* }
            }
        }

        impl $crate::patch::Patchable for $section {
            type Patch = $patch;
        }
    };
}

pub(crate) use section_patch;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fmt::Debug;

    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    use super::Patchable;
    use crate::*;

    fn keys(value: &Value) -> BTreeSet<String> {
        value
            .as_object()
            .map(|fields| fields.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The patch with every field of `sample` set: it names exactly the section's keys (as do
    /// its `FIELD_NAMES`), and applied to the default it gives back `sample`, whose every field
    /// differs from the default (so each field of the patch is proven to take effect).
    fn round_trip<T, P>(sample: T, field_names: &[&str]) -> P
    where
        T: Patchable<Patch = P>
            + Clone
            + Debug
            + Default
            + PartialEq
            + Serialize
            + DeserializeOwned
            + Validate,
        P: From<T> + Serialize,
    {
        let section = serde_json::to_value(&sample).unwrap();
        let default = serde_json::to_value(T::default()).unwrap();
        for key in keys(&section) {
            assert_ne!(
                section[&key], default[&key],
                "the sample keeps the default `{key}`"
            );
        }
        let patch = P::from(sample.clone());
        let body = serde_json::to_value(&patch).unwrap();
        assert_eq!(keys(&body), keys(&section), "the patch names every field");
        let names: BTreeSet<String> = field_names.iter().map(|n| (*n).to_owned()).collect();
        assert_eq!(names, keys(&section), "FIELD_NAMES are the serialized keys");
        let applied = patch_section(&T::default(), &body).unwrap();
        assert_eq!(
            keys(&serde_json::to_value(&*applied).unwrap()),
            keys(&section)
        );
        assert_eq!(*applied, sample);
        patch
    }

    fn password_sample() -> PasswordPolicy {
        PasswordPolicy {
            id: "strict".into(),
            name: "Strict".into(),
            description: "for administrators".into(),
            is_default: false,
            sources: vec!["ldap".into()],
            min_length: 12,
            max_length: 64,
            min_lowercase: 1,
            min_uppercase: 1,
            min_digits: 1,
            min_special: 1,
            min_letters: 3,
            min_character_types: 3,
            max_repeated_chars: 2,
            required_chars: "!".into(),
            check_blocklist: false,
            custom_blocklist: vec!["acme".into()],
            check_breached: true,
            max_breaches: 3,
            check_breached_at_login: true,
            check_account_attributes: false,
            account_attributes: [AccountAttribute::Login].into(),
            attribute_min_word_length: 5,
            history: 3,
            min_age: 60,
            expiration_enabled: true,
            max_age_days: 30,
            expire_warn_days: 5,
            renew_on_first_login: true,
            grace_period: 3600,
            require_mfa: true,
            require_mfa_off_network: true,
            require_mfa_untrusted_geographies: true,
            hash_algorithm: HashAlgorithm::Bcrypt,
        }
    }

    fn object(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    /// A patch with every field set round-trips for every section: a field added to a section
    /// and forgotten in its patch (or spelled differently) fails here, if not already at compile
    /// time (see the module header).
    #[test]
    fn every_section_patch_round_trips() {
        for kind in SectionKind::ALL {
            let patch: SectionPatch = match kind {
                SectionKind::Password => {
                    round_trip(password_sample(), PasswordPolicyPatch::FIELD_NAMES).into()
                }
                SectionKind::Lockout => round_trip(
                    LockoutPolicy {
                        enabled: false,
                        max_password_attempts: 3,
                        max_otp_attempts: 4,
                        window: Some(60),
                        lock_duration: None,
                        reset_after_success: false,
                        scope: LockoutScope::LoginAndIp,
                        allow_self_unblock: true,
                        notify_user: true,
                        reveal_lock: false,
                        end_sessions_on_lock: false,
                        escalation: Escalation {
                            strategy: EscalationStrategy::Multiply,
                            factor: 3,
                            max_duration: Some(86_400),
                            permanent_after: Some(4),
                            reset_after: 3600,
                        },
                    },
                    LockoutPatch::FIELD_NAMES,
                )
                .into(),
                SectionKind::BruteForce => round_trip(
                    BruteForcePolicy {
                        enabled: false,
                        max_attempts: 5,
                        window: 60,
                        block_duration: 120,
                        allowlist: vec!["192.0.2.0/24".into()],
                        notify_admin: true,
                        ipv4_prefix: 24,
                        ipv6_prefix: 48,
                        escalation: Escalation {
                            strategy: EscalationStrategy::Linear,
                            factor: 2,
                            max_duration: None,
                            permanent_after: None,
                            reset_after: 600,
                        },
                    },
                    BruteForcePatch::FIELD_NAMES,
                )
                .into(),
                SectionKind::Session => round_trip(
                    SessionPolicy {
                        max_session_duration: 7200,
                        idle_timeout: None,
                        account_validity_days: 30,
                        show_recent_login_info: true,
                        login_banner: "Welcome".into(),
                    },
                    SessionPatch::FIELD_NAMES,
                )
                .into(),
                SectionKind::Tokens => round_trip(
                    TokensPolicy {
                        access_token: 60,
                        authorization_code: 61,
                        backchannel_authentication_request: 62,
                        client_credentials: 63,
                        device_code: 64,
                        id_token: 65,
                        refresh_token: 600,
                    },
                    TokensPatch::FIELD_NAMES,
                )
                .into(),
                SectionKind::ApiKeys => round_trip(
                    ApiKeysPolicy {
                        max_expiration: 86_400,
                    },
                    ApiKeysPatch::FIELD_NAMES,
                )
                .into(),
                SectionKind::Mfa => round_trip(
                    MfaPolicy {
                        required: true,
                        required_off_network: true,
                        trusted_networks: vec!["10.0.0.0/8".into()],
                    },
                    MfaPatch::FIELD_NAMES,
                )
                .into(),
                SectionKind::Features => round_trip(
                    FeaturesPolicy {
                        register_enabled: true,
                        forgot_password_enabled: true,
                        user_self_deletion: true,
                        force_email_verification: true,
                        tenant_settings: object(json!({"branding": {"display_name": "Acme"}})),
                        dialect_settings: object(json!({"vendor": {"switch": true}})),
                    },
                    FeaturesPatch::FIELD_NAMES,
                )
                .into(),
            };
            assert_eq!(patch.kind(), kind);
            assert!(!patch.is_empty());
        }
    }

    #[test]
    fn absent_fields_are_omitted_and_a_cleared_one_is_null() {
        let patch = LockoutPatch {
            lock_duration: Some(None),
            max_password_attempts: Some(3),
            ..LockoutPatch::default()
        };
        assert_eq!(
            patch.to_json(),
            json!({"lock_duration": null, "max_password_attempts": 3})
        );
        let applied = patch.apply(&LockoutPolicy::default()).unwrap();
        assert_eq!(applied.lock_duration, None);
        assert_eq!(applied.max_password_attempts, 3);
        assert!(LockoutPatch::default().is_empty());
        assert_eq!(LockoutPatch::default().to_json(), json!({}));
        assert_eq!(LockoutPatch::FIELDS.lock_duration, "lock_duration");
        let section = SectionPatch::from(ApiKeysPatch {
            max_expiration: Some(60),
        });
        assert_eq!(
            section.to_json(),
            (SectionKind::ApiKeys, json!({"max_expiration": 60}))
        );
    }
}
