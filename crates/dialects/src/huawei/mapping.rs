//! The three Huawei policies mapped to the canonical sections and back: minutes and days to
//! seconds (reads round up), Huawei's documented ranges checked on write, a PUT changing only
//! the fields present; the protect policy kept whole in `features.dialect_settings`. Writes are
//! typed section patches, the login and password policies typed views.
//!
//! Invariant: the patches are built from the fields that differ from the GET's answer (the
//! caller drops the others, `common::changed_fields`), so a GET body written back changes
//! nothing: a rounded minute, a `0` for "none" or a value outside Huawei's range set through
//! another API is never read back; the read-only password fields are accepted only as shown; a
//! protect policy with nothing to change stores nothing.

use portcullis_model::{
    AccountAttribute, EffectivePolicy, FeaturesPatch, LockoutPatch, PasswordPolicyPatch,
    SectionPatch, SessionPatch,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::errors::{HuaweiError, first_error};
use crate::common;

/// Key of the protect policy in `features.dialect_settings`.
const PROTECT_KEY: &str = "huawei_protect_policy";

pub(super) fn wrapped<'a>(
    body: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Map<String, Value>, HuaweiError> {
    if let Some(other) = body.keys().find(|k| *k != key) {
        return Err(HuaweiError::malformed(format!(
            "unknown field `{other}`: the body must be {{\"{key}\": {{...}}}}"
        )));
    }
    body.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| HuaweiError::malformed(format!("the body must be {{\"{key}\": {{...}}}}")))
}

/// A whole-number field within Huawei's documented `min..=max` (in the field's own unit).
pub(super) fn number(
    fields: &Map<String, Value>,
    name: &str,
    min: u64,
    max: u64,
    errors: &mut Vec<HuaweiError>,
) -> Option<u64> {
    match common::uint_field(fields, name, false) {
        Ok(Some(v)) if (min..=max).contains(&v) => Some(v),
        Ok(Some(_)) => {
            errors.push(HuaweiError::out_of_range(format!(
                "{name} must be between {min} and {max}"
            )));
            None
        }
        Ok(None) => None,
        // A negative whole number is a value out of range, not a malformed one.
        Err(_) if fields.get(name).is_some_and(|v| v.as_i64().is_some()) => {
            errors.push(HuaweiError::out_of_range(format!(
                "{name} must be between {min} and {max}"
            )));
            None
        }
        Err(e) => {
            errors.push(HuaweiError::malformed(e));
            None
        }
    }
}

pub(super) fn flag(
    fields: &Map<String, Value>,
    name: &str,
    errors: &mut Vec<HuaweiError>,
) -> Option<bool> {
    common::bool_field(fields, name).unwrap_or_else(|e| {
        errors.push(HuaweiError::malformed(e));
        None
    })
}

pub(super) fn known(fields: &Map<String, Value>, names: &[&str], errors: &mut Vec<HuaweiError>) {
    for name in fields.keys().filter(|k| !names.contains(&k.as_str())) {
        errors.push(HuaweiError::malformed(format!("unknown field `{name}`")));
    }
}

// --- login policy

/// Huawei's login policy.
#[derive(Serialize)]
struct LoginPolicy<'a> {
    account_validity_period: u64,
    custom_info_for_login: &'a str,
    lockout_duration: u64,
    login_failed_times: u64,
    period_with_login_failures: u64,
    session_timeout: u64,
    show_recent_login_info: bool,
}

/// Huawei's password policy.
#[derive(Serialize)]
struct PasswordPolicyView {
    maximum_consecutive_identical_chars: u64,
    minimum_password_age: u64,
    minimum_password_length: u64,
    number_of_recent_passwords_disallowed: u64,
    password_not_username_or_invert: bool,
    password_validity_period: u64,
    password_char_combination: u64,
    maximum_password_length: u64,
    password_requirements: String,
}

pub(super) fn login_view(policy: &EffectivePolicy) -> Value {
    let lockout = &policy.lockout.value;
    let session = &policy.session.value;
    let minutes = |seconds: Option<u64>| seconds.map_or(0, |s| common::ceil_div(s, 60));
    let login_policy = LoginPolicy {
        account_validity_period: session.account_validity_days,
        custom_info_for_login: &session.login_banner,
        lockout_duration: minutes(lockout.lock_duration),
        login_failed_times: if lockout.enabled {
            lockout.max_password_attempts
        } else {
            0
        },
        period_with_login_failures: minutes(lockout.window),
        session_timeout: minutes(session.idle_timeout),
        show_recent_login_info: session.show_recent_login_info,
    };
    json!({"login_policy": common::to_json(&login_policy)})
}

pub(super) fn login_patches(fields: &Map<String, Value>) -> Result<common::Patches, HuaweiError> {
    let mut errors = Vec::new();
    known(
        fields,
        &[
            "account_validity_period",
            "custom_info_for_login",
            "lockout_duration",
            "login_failed_times",
            "period_with_login_failures",
            "session_timeout",
            "show_recent_login_info",
        ],
        &mut errors,
    );
    let mut lockout = LockoutPatch::default();
    let mut session = SessionPatch::default();
    if let Some(n) = number(fields, "login_failed_times", 3, 10, &mut errors) {
        lockout.enabled = Some(true);
        lockout.max_password_attempts = Some(n);
    }
    let seconds = |minutes: Option<u64>| minutes.map(|m| Some(m * 60));
    lockout.window = seconds(number(
        fields,
        "period_with_login_failures",
        15,
        60,
        &mut errors,
    ));
    lockout.lock_duration = seconds(number(fields, "lockout_duration", 15, 30, &mut errors));
    session.idle_timeout = seconds(number(fields, "session_timeout", 15, 1440, &mut errors));
    session.account_validity_days = number(fields, "account_validity_period", 0, 3650, &mut errors);
    session.show_recent_login_info = flag(fields, "show_recent_login_info", &mut errors);
    match common::string_field(fields, "custom_info_for_login") {
        Ok(text) => session.login_banner = text,
        Err(e) => errors.push(HuaweiError::malformed(e)),
    }
    first_error(errors)?;
    Ok(common::non_empty([
        SectionPatch::Lockout(lockout),
        SectionPatch::Session(session),
    ]))
}

// --- password policy

/// A sentence describing the default password policy's composition rules.
pub(super) fn requirements(policy: &EffectivePolicy) -> String {
    let p = policy.password.value.default_policy();
    let mut parts = vec![format!("{} to {} characters", p.min_length, p.max_length)];
    if p.min_character_types > 0 {
        parts.push(format!(
            "at least {} of: lowercase letters, uppercase letters, digits, special characters",
            p.min_character_types
        ));
    }
    for (n, what) in [
        (p.min_lowercase, "lowercase letters"),
        (p.min_uppercase, "uppercase letters"),
        (p.min_digits, "digits"),
        (p.min_special, "special characters"),
    ] {
        if n > 0 {
            parts.push(format!("at least {n} {what}"));
        }
    }
    if p.max_repeated_chars > 0 {
        parts.push(format!(
            "no character more than {} times in a row",
            p.max_repeated_chars
        ));
    }
    if p.check_account_attributes && p.account_attributes.contains(&AccountAttribute::Login) {
        parts.push("not the username or the username reversed".into());
    }
    format!("The password must have {}.", parts.join("; "))
}

pub(super) fn password_view(policy: &EffectivePolicy) -> Value {
    let p = policy.password.value.default_policy();
    let password_policy = PasswordPolicyView {
        maximum_consecutive_identical_chars: p.max_repeated_chars,
        minimum_password_age: common::ceil_div(p.min_age, 60),
        minimum_password_length: p.min_length,
        number_of_recent_passwords_disallowed: p.history,
        password_not_username_or_invert: p.check_account_attributes
            && p.account_attributes.contains(&AccountAttribute::Login),
        password_validity_period: if p.expiration_enabled {
            p.max_age_days
        } else {
            0
        },
        password_char_combination: p.min_character_types,
        maximum_password_length: p.max_length,
        password_requirements: requirements(policy),
    };
    json!({"password_policy": common::to_json(&password_policy)})
}

pub(super) fn password_patches(
    fields: &Map<String, Value>,
    current: &EffectivePolicy,
) -> Result<common::Patches, HuaweiError> {
    let mut errors = Vec::new();
    for read_only in ["maximum_password_length", "password_requirements"] {
        if fields.contains_key(read_only) {
            errors.push(HuaweiError::malformed(format!(
                "`{read_only}` is read-only: send it as the GET shows it, or leave it out"
            )));
        }
    }
    known(
        fields,
        &[
            "maximum_password_length",
            "password_requirements",
            "maximum_consecutive_identical_chars",
            "minimum_password_age",
            "minimum_password_length",
            "number_of_recent_passwords_disallowed",
            "password_not_username_or_invert",
            "password_validity_period",
            "password_char_combination",
        ],
        &mut errors,
    );
    let e = &mut errors;
    let mut password = PasswordPolicyPatch {
        max_repeated_chars: number(fields, "maximum_consecutive_identical_chars", 0, 32, e),
        min_length: number(fields, "minimum_password_length", 6, 32, e),
        history: number(fields, "number_of_recent_passwords_disallowed", 0, 10, e),
        min_character_types: number(fields, "password_char_combination", 2, 4, e),
        min_age: number(fields, "minimum_password_age", 0, 1440, e).map(|m| m * 60),
        ..PasswordPolicyPatch::default()
    };
    match number(fields, "password_validity_period", 0, 180, &mut errors) {
        Some(0) => password.expiration_enabled = Some(false),
        Some(days) => {
            password.expiration_enabled = Some(true);
            password.max_age_days = Some(days);
        }
        None => {}
    }
    if let Some(on) = flag(fields, "password_not_username_or_invert", &mut errors) {
        let p = current.password.value.default_policy();
        let mut attributes = if p.check_account_attributes {
            p.account_attributes.clone()
        } else {
            Default::default()
        };
        if on {
            attributes.insert(AccountAttribute::Login);
        } else {
            attributes.remove(&AccountAttribute::Login);
        }
        password.check_account_attributes = Some(!attributes.is_empty());
        if !attributes.is_empty() {
            password.account_attributes = Some(attributes);
        }
    }
    first_error(errors)?;
    Ok(common::non_empty([SectionPatch::Password(password)]))
}

// --- protect policy (stored and returned as set)

pub(super) fn protect_stored(policy: &EffectivePolicy) -> Map<String, Value> {
    let mut out = common::object(json!({
        "operation_protection": false,
        "allow_user": {"manage_accesskey": true, "manage_email": true, "manage_mobile": true,
                       "manage_password": true},
        "mobile": "",
        "admin_check": "off",
        "email": "",
        "scene": "",
    }));
    if let Some(Value::Object(stored)) = policy.features.value.dialect_settings.get(PROTECT_KEY) {
        merge_two_levels(&mut out, stored);
    }
    out
}

/// Overlays `from` on `into`; an object value (`allow_user`) is overlaid key by key.
pub(super) fn merge_two_levels(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(inner)), Value::Object(over)) => inner.extend(over.clone()),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

pub(super) fn protect_patch(
    fields: &Map<String, Value>,
    current: &EffectivePolicy,
) -> Result<common::Patches, HuaweiError> {
    // null means "unchanged", as for the other policies, at both levels.
    let fields: Map<String, Value> = fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::Object(inner) => (
                k.clone(),
                Value::Object(
                    inner
                        .iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
            ),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    if fields.is_empty() {
        // Nothing to change: the defaults shown are not stored.
        return Ok(Vec::new());
    }
    let fields = &fields;
    let mut errors = Vec::new();
    known(
        fields,
        &[
            "operation_protection",
            "allow_user",
            "mobile",
            "admin_check",
            "email",
            "scene",
        ],
        &mut errors,
    );
    flag(fields, "operation_protection", &mut errors);
    for name in ["mobile", "email"] {
        if let Err(e) = common::string_field(fields, name) {
            errors.push(HuaweiError::malformed(e));
        }
    }
    if let Some(allow) = fields.get("allow_user") {
        match allow.as_object() {
            Some(allow) => {
                known(
                    allow,
                    &[
                        "manage_accesskey",
                        "manage_email",
                        "manage_mobile",
                        "manage_password",
                    ],
                    &mut errors,
                );
                for name in allow.keys() {
                    flag(allow, name, &mut errors);
                }
            }
            None => errors.push(HuaweiError::malformed("allow_user must be an object")),
        }
    }
    let mut merged = protect_stored(current);
    merge_two_levels(&mut merged, fields);
    match merged.get("admin_check").and_then(Value::as_str) {
        Some("on") => {
            if !matches!(
                merged.get("scene").and_then(Value::as_str),
                Some("mobile" | "email")
            ) {
                errors.push(HuaweiError::out_of_range(
                    "scene must be \"mobile\" or \"email\" when admin_check is \"on\"",
                ));
            }
        }
        Some("off") => {}
        _ => errors.push(HuaweiError::out_of_range(
            "admin_check must be \"on\" or \"off\"",
        )),
    }
    if let Some(scene) = fields.get("scene")
        && !matches!(scene.as_str(), Some("mobile" | "email" | ""))
    {
        errors.push(HuaweiError::out_of_range(
            "scene must be \"mobile\" or \"email\"",
        ));
    }
    first_error(errors)?;
    let features = FeaturesPatch {
        dialect_settings: Some(Map::from_iter([(
            PROTECT_KEY.to_owned(),
            Value::Object(merged),
        )])),
        ..FeaturesPatch::default()
    };
    Ok(common::non_empty([SectionPatch::Features(features)]))
}
