//! The three Huawei policies mapped to the canonical sections and back: minutes and days to
//! seconds (reads round up), Huawei's documented ranges checked on write, a PUT changing only
//! the fields present; the protect policy kept whole in `features.dialect_settings`.

use portcullis_model::{AccountAttribute, EffectivePolicy, SectionKind};
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

pub(super) fn login_view(policy: &EffectivePolicy) -> Value {
    let lockout = &policy.lockout.value;
    let session = &policy.session.value;
    let minutes = |seconds: Option<u64>| seconds.map_or(0, |s| common::ceil_div(s, 60));
    json!({"login_policy": {
        "account_validity_period": session.account_validity_days,
        "custom_info_for_login": session.login_banner,
        "lockout_duration": minutes(lockout.lock_duration),
        "login_failed_times": if lockout.enabled { lockout.max_password_attempts } else { 0 },
        "period_with_login_failures": minutes(lockout.window),
        "session_timeout": minutes(session.idle_timeout),
        "show_recent_login_info": session.show_recent_login_info,
    }})
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
    let mut lockout = Map::new();
    let mut session = Map::new();
    if let Some(n) = number(fields, "login_failed_times", 3, 10, &mut errors) {
        lockout.insert("enabled".into(), true.into());
        lockout.insert("max_password_attempts".into(), n.into());
    }
    if let Some(m) = number(fields, "period_with_login_failures", 15, 60, &mut errors) {
        lockout.insert("window".into(), (m * 60).into());
    }
    if let Some(m) = number(fields, "lockout_duration", 15, 30, &mut errors) {
        lockout.insert("lock_duration".into(), (m * 60).into());
    }
    if let Some(m) = number(fields, "session_timeout", 15, 1440, &mut errors) {
        session.insert("idle_timeout".into(), (m * 60).into());
    }
    if let Some(days) = number(fields, "account_validity_period", 0, 3650, &mut errors) {
        session.insert("account_validity_days".into(), days.into());
    }
    if let Some(on) = flag(fields, "show_recent_login_info", &mut errors) {
        session.insert("show_recent_login_info".into(), on.into());
    }
    match common::string_field(fields, "custom_info_for_login") {
        Ok(Some(text)) => {
            session.insert("login_banner".into(), text.into());
        }
        Ok(None) => {}
        Err(e) => errors.push(HuaweiError::malformed(e)),
    }
    first_error(errors)?;
    Ok(common::non_empty([
        (SectionKind::Lockout, lockout),
        (SectionKind::Session, session),
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
    json!({"password_policy": {
        "maximum_consecutive_identical_chars": p.max_repeated_chars,
        "minimum_password_age": common::ceil_div(p.min_age, 60),
        "minimum_password_length": p.min_length,
        "number_of_recent_passwords_disallowed": p.history,
        "password_not_username_or_invert":
            p.check_account_attributes && p.account_attributes.contains(&AccountAttribute::Login),
        "password_validity_period": if p.expiration_enabled { p.max_age_days } else { 0 },
        "password_char_combination": p.min_character_types,
        "maximum_password_length": p.max_length,
        "password_requirements": requirements(policy),
    }})
}

pub(super) fn password_patches(
    fields: &Map<String, Value>,
    current: &EffectivePolicy,
) -> Result<common::Patches, HuaweiError> {
    let mut errors = Vec::new();
    known(
        fields,
        &[
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
    let mut password = Map::new();
    for (name, canonical, min, max) in [
        (
            "maximum_consecutive_identical_chars",
            "max_repeated_chars",
            0,
            32,
        ),
        ("minimum_password_length", "min_length", 6, 32),
        ("number_of_recent_passwords_disallowed", "history", 0, 10),
        ("password_char_combination", "min_character_types", 2, 4),
    ] {
        if let Some(v) = number(fields, name, min, max, &mut errors) {
            password.insert(canonical.into(), v.into());
        }
    }
    if let Some(m) = number(fields, "minimum_password_age", 0, 1440, &mut errors) {
        password.insert("min_age".into(), (m * 60).into());
    }
    match number(fields, "password_validity_period", 0, 180, &mut errors) {
        Some(0) => {
            password.insert("expiration_enabled".into(), false.into());
        }
        Some(days) => {
            password.insert("expiration_enabled".into(), true.into());
            password.insert("max_age_days".into(), days.into());
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
        password.insert(
            "check_account_attributes".into(),
            (!attributes.is_empty()).into(),
        );
        if !attributes.is_empty() {
            password.insert(
                "account_attributes".into(),
                serde_json::to_value(&attributes).unwrap_or_default(),
            );
        }
    }
    first_error(errors)?;
    Ok(common::non_empty([(SectionKind::Password, password)]))
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
    Ok(vec![(
        SectionKind::Features,
        json!({"dialect_settings": {PROTECT_KEY: Value::Object(merged)}}),
    )])
}
