//! A PlusAuth PATCH body turned into typed canonical patches (the field mapping of
//! `docs/dialects/plusauth.md`).
//!
//! Invariants: every problem of a body is reported at once and nothing is written then; each
//! PlusAuth field's JSON type and documented range (if any) is checked here, the canonical
//! rules by the service; a setting with no canonical home goes to `features.tenant_settings`
//! as sent. PlusAuth's names are its own and stay literal even where they equal a canonical
//! one (`enabled`, `history`, the `ttl` names): renaming a canonical field must not rename them.
//! A duration's largest documented value is PlusAuth's "none" (the view shows none as it), so
//! it reads back as none. A field sent with the value the GET shows now is left out
//! ([`changed_only`]): the GET's answer written back writes nothing, even where a value is
//! outside PlusAuth's range (set through another API) or a tenant-only default was never
//! stored.

use portcullis_model::{
    BruteForcePatch, FeaturesPatch, HashAlgorithm, LockoutPatch, MfaPatch, PasswordPolicyPatch,
    SectionPatch, SessionPatch, TokensPatch,
};
use serde_json::{Map, Value};

use super::view::{BLOCK_DURATION_MAX, BLOCKING_WINDOW_MAX, MFA_ENFORCEMENT};
use crate::common;

/// Where one PlusAuth field's value goes in a canonical patch `P`, by the value's JSON type.
enum Slot<P> {
    /// A whole number.
    Count(fn(&mut P) -> &mut Option<u64>),
    /// A whole number; PlusAuth's `null` means none (0).
    CountOrNull(fn(&mut P) -> &mut Option<u64>),
    /// A whole number of seconds, of a canonical field that may also be none: PlusAuth cannot
    /// say none, so the largest value of the field's range means none (the view shows none as
    /// that value).
    Seconds(fn(&mut P) -> &mut Option<Option<u64>>),
    /// A boolean.
    Flag(fn(&mut P) -> &mut Option<bool>),
    /// Text; `null` means none (`""`).
    TextOrNull(fn(&mut P) -> &mut Option<String>),
    /// A list of strings.
    Strings(fn(&mut P) -> &mut Option<Vec<String>>),
}

/// One PlusAuth field of a `policies` object, with its documented range (if any).
struct Field<P> {
    name: &'static str,
    range: Option<(u64, u64)>,
    slot: Slot<P>,
}

const fn field<P>(name: &'static str, range: Option<(u64, u64)>, slot: Slot<P>) -> Field<P> {
    Field { name, range, slot }
}

impl<P> Field<P> {
    /// Writes `value` into `patch`, or says what is wrong with it (its range too, with
    /// `ranges`).
    fn write(&self, patch: &mut P, value: &Value, ranges: bool) -> Result<(), String> {
        let count = || -> Result<u64, String> {
            let n = value.as_u64().ok_or("must be an integer")?;
            match self.range {
                Some((min, max)) if ranges && !(min..=max).contains(&n) => {
                    Err(format!("must be between {min} and {max}"))
                }
                _ => Ok(n),
            }
        };
        match self.slot {
            Slot::Count(at) => *at(patch) = Some(count()?),
            Slot::CountOrNull(at) => {
                *at(patch) = Some(if value.is_null() { 0 } else { count()? });
            }
            Slot::Seconds(at) => {
                let seconds = count()?;
                let none = self.range.map(|(_, max)| max);
                *at(patch) = Some(Some(seconds).filter(|s| Some(*s) != none));
            }
            Slot::Flag(at) => *at(patch) = Some(value.as_bool().ok_or("must be a boolean")?),
            Slot::TextOrNull(at) => {
                *at(patch) = Some(match value {
                    Value::Null => String::new(),
                    Value::String(text) => text.clone(),
                    _ => return Err("must be a string or null".into()),
                });
            }
            Slot::Strings(at) => {
                let strings = value
                    .as_array()
                    .and_then(|items| {
                        items
                            .iter()
                            .map(|item| item.as_str().map(str::to_owned))
                            .collect::<Option<Vec<String>>>()
                    })
                    .ok_or("must be a list of strings")?;
                *at(patch) = Some(strings);
            }
        }
        Ok(())
    }
}

const PASSWORD: [Field<PasswordPolicyPatch>; 7] = [
    field("min", None, Slot::Count(|p| &mut p.min_length)),
    field("max", None, Slot::Count(|p| &mut p.max_length)),
    field("history", Some((0, 10)), Slot::Count(|p| &mut p.history)),
    field(
        "upper_case",
        None,
        Slot::CountOrNull(|p| &mut p.min_uppercase),
    ),
    field(
        "lower_case",
        None,
        Slot::CountOrNull(|p| &mut p.min_lowercase),
    ),
    field("number", None, Slot::CountOrNull(|p| &mut p.min_digits)),
    field(
        "custom_chars",
        None,
        Slot::TextOrNull(|p| &mut p.required_chars),
    ),
];
const ACCOUNT_BLOCKING: [Field<LockoutPatch>; 7] = [
    field("enabled", None, Slot::Flag(|p| &mut p.enabled)),
    field("notification", None, Slot::Flag(|p| &mut p.notify_user)),
    field(
        "reset_after_success",
        None,
        Slot::Flag(|p| &mut p.reset_after_success),
    ),
    field(
        "allow_user_unblock",
        None,
        Slot::Flag(|p| &mut p.allow_self_unblock),
    ),
    field(
        "allowed_attempts",
        Some((5, 250)),
        Slot::Count(|p| &mut p.max_password_attempts),
    ),
    field(
        "block_duration",
        Some((60, BLOCK_DURATION_MAX)),
        Slot::Seconds(|p| &mut p.lock_duration),
    ),
    field(
        "duration",
        Some((60, BLOCKING_WINDOW_MAX)),
        Slot::Seconds(|p| &mut p.window),
    ),
];
const BRUTE_FORCE: [Field<BruteForcePatch>; 6] = [
    field("enabled", None, Slot::Flag(|p| &mut p.enabled)),
    field(
        "allowed_attempts",
        Some((5, 50)),
        Slot::Count(|p| &mut p.max_attempts),
    ),
    field("duration", None, Slot::Count(|p| &mut p.window)),
    field(
        "block_duration",
        None,
        Slot::Count(|p| &mut p.block_duration),
    ),
    field("notification", None, Slot::Flag(|p| &mut p.notify_admin)),
    field("white_list", None, Slot::Strings(|p| &mut p.allowlist)),
];
/// The tenant settings with no canonical home (stored in `features.tenant_settings`).
const TENANT_ONLY: [&str; 13] = [
    "branding",
    "default_strategy",
    "auto_sign_in",
    "expose_unsafe_errors",
    "welcome_emails_enabled",
    "environment_variables",
    "extra_params",
    "acr_values",
    "extra_scopes",
    "api_version",
    "tenant_login_url",
    "authenticator",
    "ciba",
];
/// Where a `ttl` value goes in the tokens patch.
type Lifetime = fn(&mut TokensPatch) -> &mut Option<u64>;

/// `ttl` names and the token lifetime each sets (`ttl.session` is the session's).
const TTL: [(&str, Lifetime); 7] = [
    ("access_token", |p| &mut p.access_token),
    ("authorization_code", |p| &mut p.authorization_code),
    ("backchannel_authentication_request", |p| {
        &mut p.backchannel_authentication_request
    }),
    ("client_credentials", |p| &mut p.client_credentials),
    ("device_code", |p| &mut p.device_code),
    ("id_token", |p| &mut p.id_token),
    ("refresh_token", |p| &mut p.refresh_token),
];

/// Copies the fields of `object` (at `path`) named in `table` into `patch`.
fn map_fields<P>(
    object: Option<&Value>,
    (path, ranges): (&str, bool),
    table: &[Field<P>],
    patch: &mut P,
    errors: &mut Vec<String>,
) {
    let Some(object) = object.filter(|v| !v.is_null()) else {
        return;
    };
    let Some(object) = object.as_object() else {
        errors.push(format!("{path} must be an object"));
        return;
    };
    for (name, value) in object {
        let Some(field) = table.iter().find(|f| f.name == name) else {
            errors.push(format!("{path}.{name} is not a known setting"));
            continue;
        };
        if let Err(problem) = field.write(patch, value, ranges) {
            errors.push(format!("{path}.{name} {problem}"));
        }
    }
}

/// `body` without the fields whose value is the one `shown` (the GET's answer now) has: the
/// policy fields and token lifetimes one by one, every other key as a whole. What is left is
/// what the PATCH changes.
pub(super) fn changed_only(
    body: &Map<String, Value>,
    shown: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in body {
        let now = shown.get(key);
        match (key.as_str(), value, now) {
            ("policies", Value::Object(policies), Some(Value::Object(now))) => {
                let mut kept = Map::new();
                for (name, fields) in policies {
                    match (fields, now.get(name)) {
                        (Value::Object(fields), Some(Value::Object(now))) => {
                            let changed = common::changed_fields(fields, now);
                            if !changed.is_empty() {
                                kept.insert(name.clone(), Value::Object(changed));
                            }
                        }
                        _ => {
                            kept.insert(name.clone(), fields.clone());
                        }
                    }
                }
                if !kept.is_empty() {
                    out.insert(key.clone(), Value::Object(kept));
                }
            }
            ("ttl", Value::Object(ttl), Some(Value::Object(now))) => {
                let changed = common::changed_fields(ttl, now);
                if !changed.is_empty() {
                    out.insert(key.clone(), Value::Object(changed));
                }
            }
            _ if now == Some(value) => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

/// The canonical merge patches of a PATCH body, or every problem found (PlusAuth's ranges too,
/// with `ranges`).
pub(super) fn to_patches(
    body: &Map<String, Value>,
    ranges: bool,
) -> Result<common::Patches, Vec<String>> {
    let mut errors = Vec::new();
    let mut password = PasswordPolicyPatch::default();
    let mut lockout = LockoutPatch::default();
    let mut brute = BruteForcePatch::default();
    let mut tokens = TokensPatch::default();
    let mut session = SessionPatch::default();
    let mut mfa = MfaPatch::default();
    let mut features = FeaturesPatch::default();
    let mut tenant = Map::new();
    for (key, value) in body {
        match key.as_str() {
            "policies" => {
                let Some(policies) = value.as_object() else {
                    errors.push("policies must be an object".into());
                    continue;
                };
                for name in policies.keys() {
                    if !["password", "account_blocking", "brute_force"].contains(&name.as_str()) {
                        errors.push(format!("policies.{name} is not a known policy"));
                    }
                }
                map_fields(
                    policies.get("password"),
                    ("policies.password", ranges),
                    &PASSWORD,
                    &mut password,
                    &mut errors,
                );
                map_fields(
                    policies.get("account_blocking"),
                    ("policies.account_blocking", ranges),
                    &ACCOUNT_BLOCKING,
                    &mut lockout,
                    &mut errors,
                );
                map_fields(
                    policies.get("brute_force"),
                    ("policies.brute_force", ranges),
                    &BRUTE_FORCE,
                    &mut brute,
                    &mut errors,
                );
            }
            "ttl" => {
                let Some(ttl) = value.as_object() else {
                    errors.push("ttl must be an object".into());
                    continue;
                };
                for (name, seconds) in ttl {
                    let Some(seconds) = seconds.as_u64() else {
                        errors.push(format!("ttl.{name} must be a whole number of seconds"));
                        continue;
                    };
                    if name == "session" {
                        session.max_session_duration = Some(seconds);
                    } else if let Some((_, at)) = TTL.iter().find(|(n, _)| n == name) {
                        *at(&mut tokens) = Some(seconds);
                    } else {
                        errors.push(format!("ttl.{name} is not a known token lifetime"));
                    }
                }
            }
            "hash_function" => match value.as_str() {
                Some("argon2") => password.hash_algorithm = Some(HashAlgorithm::Argon2id),
                Some("bcrypt") => password.hash_algorithm = Some(HashAlgorithm::Bcrypt),
                _ => errors.push("hash_function must be \"bcrypt\" or \"argon2\"".into()),
            },
            MFA_ENFORCEMENT => match value.as_str() {
                Some(level @ ("enforced" | "optional" | "never")) => {
                    mfa.required = Some(level == "enforced");
                    tenant.insert(key.clone(), level.into());
                }
                _ => errors
                    .push("mfa_enforcement must be \"enforced\", \"optional\" or \"never\"".into()),
            },
            switch @ ("register_enabled"
            | "forgot_password_enabled"
            | "force_email_verification") => {
                let Some(on) = value.as_bool() else {
                    errors.push(format!("{key} must be a boolean"));
                    continue;
                };
                let field = match switch {
                    "register_enabled" => &mut features.register_enabled,
                    "forgot_password_enabled" => &mut features.forgot_password_enabled,
                    _ => &mut features.force_email_verification,
                };
                *field = Some(on);
            }
            "user_self_deletion" => match value.get("enabled").and_then(Value::as_bool) {
                Some(on) => features.user_self_deletion = Some(on),
                None => errors.push("user_self_deletion.enabled must be a boolean".into()),
            },
            known if TENANT_ONLY.contains(&known) => {
                tenant.insert(key.clone(), value.clone());
            }
            unknown => errors.push(format!("{unknown} is not a tenant setting")),
        }
    }
    for list in ["extra_params", "acr_values", "extra_scopes"] {
        if let Some(values) = tenant.get(list)
            && values
                .as_array()
                .is_none_or(|v| v.len() > 50 || !v.iter().all(Value::is_string))
        {
            errors.push(format!("{list} must be a list of at most 50 strings"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if !tenant.is_empty() {
        features.tenant_settings = Some(tenant);
    }
    Ok(common::non_empty([
        SectionPatch::Password(password),
        SectionPatch::Lockout(lockout),
        SectionPatch::BruteForce(brute),
        SectionPatch::Tokens(tokens),
        SectionPatch::Session(session),
        SectionPatch::Mfa(mfa),
        SectionPatch::Features(features),
    ]))
}

#[cfg(test)]
mod tests {
    use portcullis_model::SectionKind;
    use serde_json::json;

    use super::*;

    #[test]
    fn documented_ranges_and_mapping() {
        let body = common::json_object(
            br#"{"policies":{"brute_force":{"enabled":true,"allowed_attempts":5}},"ttl":{"session":7200},
                 "branding":{"display_name":"Acme"}}"#,
        )
        .unwrap();
        let patches = to_patches(&body, true).unwrap();
        assert!(patches.contains(&(
            SectionKind::BruteForce,
            json!({"enabled": true, "max_attempts": 5})
        )));
        assert!(patches.contains(&(SectionKind::Session, json!({"max_session_duration": 7200}))));
        // Fields of one section from two places of the body are all kept.
        let body = common::json_object(
            br#"{"hash_function":"bcrypt","policies":{"password":{"max":72}}}"#,
        )
        .unwrap();
        assert_eq!(
            to_patches(&body, true).unwrap(),
            [(
                SectionKind::Password,
                json!({"hash_algorithm": "bcrypt", "max_length": 72})
            )]
        );
        assert!(patches.contains(&(
            SectionKind::Features,
            json!({"tenant_settings": {"branding": {"display_name": "Acme"}}})
        )));
        for bad in [
            r#"{"policies":{"account_blocking":{"allowed_attempts":4}}}"#,
            r#"{"policies":{"account_blocking":{"allowed_attempts":251}}}"#,
            r#"{"policies":{"brute_force":{"allowed_attempts":51}}}"#,
            r#"{"policies":{"password":{"history":11}}}"#,
            r#"{"policies":{"account_blocking":{"block_duration":59}}}"#,
            r#"{"policies":{"account_blocking":{"duration":7776001}}}"#,
            r#"{"hash_function":"pbkdf2"}"#,
            r#"{"policies":{"password":{"bogus":1}}}"#,
            r#"{"extra_scopes":"x"}"#,
            r#"{"brandng":{}}"#,
        ] {
            let body = common::json_object(bad.as_bytes()).unwrap();
            assert!(to_patches(&body, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_largest_duration_means_none() {
        let body = common::json_object(
            br#"{"policies":{"account_blocking":{"block_duration":630720000,"duration":7776000}}}"#,
        )
        .unwrap();
        assert_eq!(
            to_patches(&body, true).unwrap(),
            [(
                SectionKind::Lockout,
                json!({"lock_duration": null, "window": null})
            )]
        );
    }

    #[test]
    fn what_the_get_shows_is_left_out() {
        let shown = common::json_object(
            br#"{"policies":{"account_blocking":{"allowed_attempts":3,"enabled":true}},
                 "ttl":{"session":600},"branding":{"display_name":null},"auto_sign_in":false}"#,
        )
        .unwrap();
        let body = common::json_object(
            br#"{"policies":{"account_blocking":{"allowed_attempts":3,"enabled":false},
                 "password":{"min":9}},"ttl":{"session":600},"branding":{"display_name":null},
                 "auto_sign_in":true}"#,
        )
        .unwrap();
        assert_eq!(
            Value::Object(changed_only(&body, &shown)),
            json!({"policies":{"account_blocking":{"enabled":false},"password":{"min":9}},
                   "auto_sign_in":true})
        );
    }

    #[test]
    fn nulls_and_types_of_policy_fields() {
        let body = common::json_object(
            br#"{"policies":{"password":{"upper_case":null,"custom_chars":null},
                 "account_blocking":{"block_duration":60,"duration":3600},
                 "brute_force":{"white_list":["192.0.2.1"]}}}"#,
        )
        .unwrap();
        let patches = to_patches(&body, true).unwrap();
        assert_eq!(
            patches,
            [
                (
                    SectionKind::Password,
                    json!({"min_uppercase": 0, "required_chars": ""})
                ),
                (
                    SectionKind::Lockout,
                    json!({"lock_duration": 60, "window": 3600})
                ),
                (SectionKind::BruteForce, json!({"allowlist": ["192.0.2.1"]})),
            ]
        );
        let body = common::json_object(
            br#"{"policies":{"account_blocking":{"enabled":"yes","block_duration":null},
                 "brute_force":{"white_list":[1]}}}"#,
        )
        .unwrap();
        assert_eq!(
            to_patches(&body, true).unwrap_err(),
            [
                "policies.account_blocking.block_duration must be an integer",
                "policies.account_blocking.enabled must be a boolean",
                "policies.brute_force.white_list must be a list of strings",
            ]
        );
    }
}
