//! The four ZITADEL policies and how each maps to canonical sections (the field mapping of
//! `docs/dialects/zitadel.md`).
//!
//! Input follows proto3: a field absent from an add or update body is its zero value, so an
//! update replaces every field the policy names. Output follows protojson: lowerCamel names,
//! 64-bit integers as strings, zero values (false, 0, "", []) omitted. Writes are typed section
//! patches; the fixed policy messages are typed views, the login policy's switches a map (they
//! are stored as set, unless they read as they stand).

use portcullis_model::{
    EffectivePolicy, FeaturesPatch, LockoutPatch, MfaPatch, PasswordPolicy, PasswordPolicyPatch,
    SectionDetails, SectionKind, SectionPatch,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::common::{self, DurationError, parse_duration};

/// Key of ZITADEL's login-policy switches in `features.dialect_settings`.
const LOGIN_SETTINGS_KEY: &str = "zitadel_login_policy";

/// One of the four policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Lockout: `lockout` section.
    Lockout,
    /// Password complexity: the default password policy.
    Complexity,
    /// Password age: the default password policy.
    Age,
    /// Login: `features` (with the switches stored as set), `mfa.required`, `grace_period`.
    Login,
}

impl Kind {
    /// The four policies.
    pub(crate) const ALL: [Kind; 4] = [Kind::Lockout, Kind::Complexity, Kind::Age, Kind::Login];

    /// ZITADEL's name of the v1 policy message, as in its RPC names and its errors.
    pub(crate) fn message_name(self) -> &'static str {
        match self {
            Kind::Lockout => "LockoutPolicy",
            Kind::Complexity => "PasswordComplexityPolicy",
            Kind::Age => "PasswordAgePolicy",
            Kind::Login => "LoginPolicy",
        }
    }

    /// ZITADEL's name of the v2 settings message, as in its RPC names.
    pub(crate) fn settings_name(self) -> &'static str {
        match self {
            Kind::Lockout => "LockoutSettings",
            Kind::Complexity => "PasswordComplexitySettings",
            Kind::Age => "PasswordExpirySettings",
            Kind::Login => "LoginSettings",
        }
    }

    /// The section whose inheritance says whether the organization has a custom policy.
    pub(crate) fn primary(self) -> SectionKind {
        match self {
            Kind::Lockout => SectionKind::Lockout,
            Kind::Complexity | Kind::Age => SectionKind::Password,
            Kind::Login => SectionKind::Features,
        }
    }

    /// The sections this policy owns: a reset returns them to inheriting when they equal the
    /// default (the password section's grace period is shared, so a login reset leaves it).
    pub(crate) fn owned_sections(self) -> &'static [SectionKind] {
        match self {
            Kind::Lockout => &[SectionKind::Lockout],
            Kind::Complexity | Kind::Age => &[SectionKind::Password],
            Kind::Login => &[SectionKind::Features, SectionKind::Mfa],
        }
    }

    /// The patches that put back the instance default of every field this policy names (and
    /// nothing else: other dialects' fields in the same sections stay).
    pub(crate) fn reset_patches(self, default: &EffectivePolicy) -> common::Patches {
        let password = default.password.value.default_policy();
        let patches = match self {
            Kind::Lockout => {
                let lockout = &default.lockout.value;
                vec![SectionPatch::Lockout(LockoutPatch {
                    enabled: Some(lockout.enabled),
                    max_password_attempts: Some(lockout.max_password_attempts),
                    max_otp_attempts: Some(lockout.max_otp_attempts),
                    ..LockoutPatch::default()
                })]
            }
            Kind::Complexity => vec![SectionPatch::Password(PasswordPolicyPatch {
                min_length: Some(password.min_length),
                min_uppercase: Some(password.min_uppercase),
                min_lowercase: Some(password.min_lowercase),
                min_digits: Some(password.min_digits),
                min_special: Some(password.min_special),
                ..PasswordPolicyPatch::default()
            })],
            Kind::Age => vec![SectionPatch::Password(PasswordPolicyPatch {
                expiration_enabled: Some(password.expiration_enabled),
                max_age_days: Some(password.max_age_days),
                expire_warn_days: Some(password.expire_warn_days),
                ..PasswordPolicyPatch::default()
            })],
            Kind::Login => {
                let features = &default.features.value;
                vec![
                    SectionPatch::Features(FeaturesPatch {
                        register_enabled: Some(features.register_enabled),
                        forgot_password_enabled: Some(features.forgot_password_enabled),
                        // A merge patch's null removes the stored switches.
                        dialect_settings: Some(login_settings(Value::Null)),
                        ..FeaturesPatch::default()
                    }),
                    SectionPatch::Mfa(MfaPatch {
                        required: Some(default.mfa.value.required),
                        ..MfaPatch::default()
                    }),
                    SectionPatch::Password(PasswordPolicyPatch {
                        grace_period: Some(password.grace_period),
                        ..PasswordPolicyPatch::default()
                    }),
                ]
            }
        };
        common::non_empty(patches)
    }

    /// The v1 policy fields (without `details` and `isDefault`), zero values included.
    pub(crate) fn fields(self, policy: &EffectivePolicy) -> Map<String, Value> {
        let password = policy.password.value.default_policy();
        match self {
            Kind::Lockout => {
                let lockout = &policy.lockout.value;
                let max = if lockout.enabled {
                    lockout.max_password_attempts
                } else {
                    0
                };
                common::to_object(&LockoutView {
                    max_password_attempts: max.to_string(),
                    max_otp_attempts: lockout.max_otp_attempts.to_string(),
                })
            }
            Kind::Complexity => common::to_object(&ComplexityView::of(password)),
            Kind::Age => {
                let max_age = if password.expiration_enabled {
                    password.max_age_days
                } else {
                    0
                };
                common::to_object(&AgeView {
                    max_age_days: max_age.to_string(),
                    expire_warn_days: password.expire_warn_days.to_string(),
                })
            }
            Kind::Login => {
                let features = &policy.features.value;
                let mut fields = login_defaults();
                if let Some(Value::Object(stored)) =
                    features.dialect_settings.get(LOGIN_SETTINGS_KEY)
                {
                    fields.extend(stored.clone());
                }
                fields.insert("allowRegister".into(), features.register_enabled.into());
                fields.insert("forceMfa".into(), policy.mfa.value.required.into());
                fields.insert(
                    "hidePasswordReset".into(),
                    (!features.forgot_password_enabled).into(),
                );
                fields.insert(
                    "mfaInitSkipLifetime".into(),
                    format!("{}s", password.grace_period).into(),
                );
                fields
            }
        }
    }

    /// The v2 settings fields (zero values included).
    pub(crate) fn settings_v2(self, policy: &EffectivePolicy) -> Map<String, Value> {
        if self == Kind::Complexity {
            let complexity = ComplexityView::of(policy.password.value.default_policy());
            return common::to_object(&ComplexitySettings::from(complexity));
        }
        let mut fields = self.fields(policy);
        if self == Kind::Login {
            let passkeys = match fields.remove("passwordlessType") {
                Some(Value::String(t)) if t == "PASSWORDLESS_TYPE_ALLOWED" => {
                    "PASSKEYS_TYPE_ALLOWED"
                }
                _ => "PASSKEYS_TYPE_NOT_ALLOWED",
            };
            fields.insert("passkeysType".into(), passkeys.into());
            if !fields.contains_key("allowLocalAuthentication")
                && let Some(local) = fields.get("allowUsernamePassword").cloned()
            {
                fields.insert("allowLocalAuthentication".into(), local);
            }
            fields.remove("idps");
        }
        fields
    }

    /// The canonical merge patches of an add or update body. `current` supplies the values a
    /// boolean switch keeps (a class minimum stays as it was when the switch stays on).
    pub(crate) fn patches(
        self,
        body: &Map<String, Value>,
        current: &EffectivePolicy,
    ) -> Result<common::Patches, String> {
        let uint = |name: &str| common::uint_field(body, name, true).map(|v| v.unwrap_or(0));
        let flag = |name: &str| common::bool_field(body, name).map(|v| v.unwrap_or(false));
        let patch = match self {
            Kind::Lockout => {
                known_fields(body, &["maxPasswordAttempts", "maxOtpAttempts"])?;
                let max = uint("maxPasswordAttempts")?;
                let otp = uint("maxOtpAttempts")?;
                SectionPatch::Lockout(LockoutPatch {
                    enabled: Some(max > 0),
                    max_otp_attempts: Some(otp),
                    // Zero is "off": the count stays as it was.
                    max_password_attempts: (max > 0).then_some(max),
                    ..LockoutPatch::default()
                })
            }
            Kind::Complexity => {
                known_fields(
                    body,
                    &[
                        "minLength",
                        "hasUppercase",
                        "hasLowercase",
                        "hasNumber",
                        "hasSymbol",
                    ],
                )?;
                let password = current.password.value.default_policy();
                let class = |on: bool, now: u64| Some(if on { now.max(1) } else { 0 });
                SectionPatch::Password(PasswordPolicyPatch {
                    min_length: Some(uint("minLength")?),
                    min_uppercase: class(flag("hasUppercase")?, password.min_uppercase),
                    min_lowercase: class(flag("hasLowercase")?, password.min_lowercase),
                    min_digits: class(flag("hasNumber")?, password.min_digits),
                    min_special: class(flag("hasSymbol")?, password.min_special),
                    ..PasswordPolicyPatch::default()
                })
            }
            Kind::Age => {
                known_fields(body, &["maxAgeDays", "expireWarnDays"])?;
                let max_age = uint("maxAgeDays")?;
                SectionPatch::Password(PasswordPolicyPatch {
                    expiration_enabled: Some(max_age > 0),
                    expire_warn_days: Some(uint("expireWarnDays")?),
                    // Zero is "never expires": the age stays as it was.
                    max_age_days: (max_age > 0).then_some(max_age),
                    ..PasswordPolicyPatch::default()
                })
            }
            Kind::Login => return login_patches(body, current),
        };
        Ok(common::non_empty([patch]))
    }
}

/// The login-policy switches a policy that was never written shows (ZITADEL's defaults).
fn login_defaults() -> Map<String, Value> {
    common::object(json!({
        "allowUsernamePassword": true,
        "allowExternalIdp": false,
        "passwordlessType": "PASSWORDLESS_TYPE_NOT_ALLOWED",
        "passwordCheckLifetime": "864000s",
        "externalLoginCheckLifetime": "864000s",
        "secondFactorCheckLifetime": "64800s",
        "multiFactorCheckLifetime": "43200s",
        "secondFactors": [],
        "multiFactors": [],
    }))
}

/// Login-policy fields: mapped to canonical fields, or stored as set.
const LOGIN_MAPPED: [&str; 4] = [
    "allowRegister",
    "forceMfa",
    "hidePasswordReset",
    "mfaInitSkipLifetime",
];
const LOGIN_STORED: [&str; 17] = [
    "allowUsernamePassword",
    "allowExternalIdp",
    "passwordlessType",
    "defaultRedirectUri",
    "passwordCheckLifetime",
    "externalLoginCheckLifetime",
    "secondFactorCheckLifetime",
    "multiFactorCheckLifetime",
    "secondFactors",
    "multiFactors",
    "idps",
    "ignoreUnknownUsernames",
    "allowDomainDiscovery",
    "disableLoginWithEmail",
    "disableLoginWithPhone",
    "forceMfaLocalOnly",
    "allowLocalAuthentication",
];

fn login_patches(
    body: &Map<String, Value>,
    current: &EffectivePolicy,
) -> Result<common::Patches, String> {
    let mut known: Vec<&str> = LOGIN_MAPPED.to_vec();
    known.extend(LOGIN_STORED);
    known_fields(body, &known)?;
    let flag = |name: &str| common::bool_field(body, name).map(|v| v.unwrap_or(false));
    let grace = common::duration_field(body, "mfaInitSkipLifetime")
        .map_err(|e| match e {
            DurationError::Malformed => {
                "mfaInitSkipLifetime must be a duration such as \"2592000s\""
            }
            DurationError::NotAString => "mfaInitSkipLifetime must be a duration string",
        })?
        .unwrap_or(0);
    check_login_switches(body)?;
    // proto3: an absent field is its zero value, so the update replaces every switch: an absent
    // one is stored as its explicit zero (which overrides the default a policy never written
    // shows, and which the output omits).
    // Switches that read as they stand (a policy never written shows ZITADEL's defaults) are
    // not stored again, so the message a GET answers, written back, changes nothing.
    let explicit = |name: &str, value: Option<&Value>| match value {
        Some(value) if !is_zero(value) => value.clone(),
        _ => zero_of(name),
    };
    let shown = Kind::Login.fields(current);
    let mut stored = Map::new();
    let mut changed = false;
    for name in LOGIN_STORED {
        let value = explicit(name, body.get(name));
        changed |= value != explicit(name, shown.get(name));
        stored.insert(name.to_owned(), value);
    }
    Ok(common::non_empty([
        SectionPatch::Features(FeaturesPatch {
            register_enabled: Some(flag("allowRegister")?),
            forgot_password_enabled: Some(!flag("hidePasswordReset")?),
            dialect_settings: changed.then(|| login_settings(Value::Object(stored))),
            ..FeaturesPatch::default()
        }),
        SectionPatch::Mfa(MfaPatch {
            required: Some(flag("forceMfa")?),
            ..MfaPatch::default()
        }),
        SectionPatch::Password(PasswordPolicyPatch {
            grace_period: Some(grace),
            ..PasswordPolicyPatch::default()
        }),
    ]))
}

/// A `dialect_settings` patch that sets (or, with `null`, removes) the login switches.
fn login_settings(switches: Value) -> Map<String, Value> {
    Map::from_iter([(LOGIN_SETTINGS_KEY.to_owned(), switches)])
}

/// The v1 lockout policy fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LockoutView {
    max_password_attempts: String,
    max_otp_attempts: String,
}

/// The v1 password complexity policy fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ComplexityView {
    min_length: String,
    has_uppercase: bool,
    has_lowercase: bool,
    has_number: bool,
    has_symbol: bool,
}

impl ComplexityView {
    fn of(password: &PasswordPolicy) -> ComplexityView {
        ComplexityView {
            min_length: password.min_length.to_string(),
            has_uppercase: password.min_uppercase > 0,
            has_lowercase: password.min_lowercase > 0,
            has_number: password.min_digits > 0,
            has_symbol: password.min_special > 0,
        }
    }
}

/// The v2 password complexity settings: the v1 fields, each switch named `requires…`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ComplexitySettings {
    min_length: String,
    requires_uppercase: bool,
    requires_lowercase: bool,
    requires_number: bool,
    requires_symbol: bool,
}

impl From<ComplexityView> for ComplexitySettings {
    fn from(v1: ComplexityView) -> ComplexitySettings {
        ComplexitySettings {
            min_length: v1.min_length,
            requires_uppercase: v1.has_uppercase,
            requires_lowercase: v1.has_lowercase,
            requires_number: v1.has_number,
            requires_symbol: v1.has_symbol,
        }
    }
}

/// The v1 password age policy fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgeView {
    max_age_days: String,
    expire_warn_days: String,
}

/// Checks the type of every stored login switch that is present.
fn check_login_switches(body: &Map<String, Value>) -> Result<(), String> {
    for name in LOGIN_STORED {
        let Some(value) = body.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let fine = match name {
            "defaultRedirectUri" => value.is_string(),
            "passwordlessType" => matches!(
                value.as_str(),
                Some("PASSWORDLESS_TYPE_NOT_ALLOWED" | "PASSWORDLESS_TYPE_ALLOWED")
            ),
            "secondFactors" | "multiFactors" => value.as_array().is_some_and(|v| {
                v.iter()
                    .all(|f| f.as_str().is_some_and(|t| t.contains("FACTOR_TYPE_")))
            }),
            "idps" => value
                .as_array()
                .is_some_and(|v| v.iter().all(Value::is_object)),
            n if n.ends_with("Lifetime") => {
                value.as_str().is_some_and(|t| parse_duration(t).is_some())
            }
            _ => value.is_boolean(),
        };
        if !fine {
            return Err(format!("{name} has the wrong type or value"));
        }
    }
    Ok(())
}

/// The explicit zero value of a stored login switch (so it overrides the default).
fn zero_of(name: &str) -> Value {
    match name {
        "secondFactors" | "multiFactors" | "idps" => json!([]),
        "passwordlessType" => json!("PASSWORDLESS_TYPE_NOT_ALLOWED"),
        "defaultRedirectUri" => json!(""),
        n if n.ends_with("Lifetime") => json!("0s"),
        _ => json!(false),
    }
}

fn known_fields(body: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match body.keys().find(|k| !known.contains(&k.as_str())) {
        // protojson input discards unknown fields; a typo would silently do nothing, so refuse.
        Some(unknown) => Err(format!("unknown field `{unknown}`")),
        None => Ok(()),
    }
}

/// `ObjectDetails` of a section.
pub(super) fn details(details: &SectionDetails) -> Value {
    let timestamp = portcullis_model::rfc3339;
    omit_zero(json!({
        "sequence": details.sequence.to_string(),
        "creationDate": timestamp(details.created_at),
        "changeDate": timestamp(details.changed_at),
        "resourceOwner": details.resource_owner,
    }))
}

/// Drops protojson zero values: false, 0 and "0", "", [] and {} (recursively for objects).
pub(super) fn omit_zero(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, omit_zero(v)))
                .filter(|(_, v)| !is_zero(v))
                .collect(),
        ),
        other => other,
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "0",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_values_are_omitted() {
        let v =
            omit_zero(json!({"a": false, "b": "0", "c": "5", "d": [], "e": {"f": 0}, "g": true}));
        assert_eq!(v, json!({"c": "5", "g": true}));
    }

    #[test]
    fn lockout_zero_means_off_and_absent_means_zero() {
        let policy = portcullis_model::resolve(
            &portcullis_model::InstancePolicy::builtin("i"),
            &Default::default(),
        );
        let body = common::json_object(br#"{"maxPasswordAttempts": "0"}"#).unwrap();
        assert_eq!(
            Kind::Lockout.patches(&body, &policy).unwrap(),
            [(
                SectionKind::Lockout,
                json!({"enabled": false, "max_otp_attempts": 0})
            )]
        );
        let body = common::json_object(br#"{"maxPasswordAttempts": 3, "bogus": 1}"#).unwrap();
        assert!(Kind::Lockout.patches(&body, &policy).is_err());
        let fields = Kind::Lockout.fields(&policy);
        assert_eq!(fields["maxPasswordAttempts"], "10");
    }
}
