//! PlusAuth tenant settings (`docs/dialects/plusauth.md`).
//!
//! `GET`/`PATCH /api/v1/tenants/{tenant_id}/settings`, `Authorization: Bearer`. GET answers the
//! whole `TenantSettings` object; PATCH deep-merges a partial object and answers the merged
//! whole. Fields with a canonical home (password rules, account blocking, brute force, token
//! lifetimes, hash function, MFA enforcement, self-service switches) are written there, after
//! PlusAuth's documented ranges are checked; every other tenant setting is stored in
//! `features.tenant_settings` and returned as set. Errors are `{error, error_description,
//! status}`. Reading needs `read:tenant` (an auditor or administrator), writing `write:tenant`
//! (an administrator).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portcullis_http::AppState;
use portcullis_model::{EffectivePolicy, HashAlgorithm, SectionKind};
use portcullis_service::{Caller, Context, PolicyScope, Precondition, ServiceError};
use serde_json::{Map, Value, json};

use crate::common::{self, Class, Rid};

const PATH: &str = "/api/v1/tenants/{tenant_id}/settings";

/// This dialect's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(read).patch(update))
}

/// A PlusAuth error answer.
#[derive(Debug)]
pub struct PlusAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl PlusAuthError {
    fn invalid(description: impl Into<String>) -> PlusAuthError {
        PlusAuthError {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
        }
    }

    fn from_service(error: ServiceError) -> PlusAuthError {
        let (class, description) = common::classify(error);
        let (status, error) = match class {
            Class::Invalid => (StatusCode::BAD_REQUEST, "invalid_request"),
            Class::NotFound => (StatusCode::NOT_FOUND, "entity_not_found"),
            Class::Conflict => (StatusCode::CONFLICT, "already_exists"),
            Class::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthorized_user"),
            Class::Denied => (StatusCode::UNAUTHORIZED, "missing_scope"),
            Class::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "server_error"),
            Class::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        PlusAuthError {
            status,
            error,
            description,
        }
    }
}

impl IntoResponse for PlusAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description,
                          "status": self.status.as_u16()});
        (self.status, Json(body)).into_response()
    }
}

async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
    rid: &Rid,
) -> Result<(Caller, Context), PlusAuthError> {
    let Some(token) = common::bearer(headers) else {
        return Err(PlusAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "missing_token",
            description: "an Authorization: Bearer token is required".into(),
        });
    };
    common::authenticate(state, Some(token), rid)
        .await
        .map_err(PlusAuthError::from_service)
}

/// Tenant settings that have no canonical home, as a tenant that never set them sees them.
fn tenant_defaults() -> Map<String, Value> {
    common::object(json!({
        "branding": {"display_name": null},
        "default_strategy": null,
        "auto_sign_in": false,
        "expose_unsafe_errors": false,
        "welcome_emails_enabled": false,
        "environment_variables": {},
        "extra_params": [],
        "acr_values": [],
        "extra_scopes": [],
        "api_version": "2021-07-04",
        "tenant_login_url": null,
        "authenticator": {"bind_sim": false},
        "ciba": {"delivery_mode": "poll", "notifier_endpoint": ""},
    }))
}

/// Largest values PlusAuth shows for "until unlocked" and "until reset" (it has no "none").
const BLOCK_DURATION_MAX: u64 = 630_720_000;
const BLOCKING_WINDOW_MAX: u64 = 7_776_000;

/// The whole `TenantSettings` object.
fn view(policy: &EffectivePolicy) -> Value {
    let features = &policy.features.value;
    let password = policy.password.value.default_policy();
    let lockout = &policy.lockout.value;
    let brute = &policy.brute_force.value;
    let tokens = &policy.tokens.value;
    let mut out = tenant_defaults();
    for (key, value) in &features.tenant_settings {
        if key != "mfa_enforcement" {
            out.insert(key.clone(), value.clone());
        }
    }
    let mfa = if policy.mfa.value.required {
        "enforced"
    } else if features.tenant_settings.get("mfa_enforcement") == Some(&json!("never")) {
        "never"
    } else {
        "optional"
    };
    let canonical = json!({
        "register_enabled": features.register_enabled,
        "forgot_password_enabled": features.forgot_password_enabled,
        "force_email_verification": features.force_email_verification,
        "user_self_deletion": {"enabled": features.user_self_deletion},
        "mfa_enforcement": mfa,
        "hash_function": match password.hash_algorithm {
            HashAlgorithm::Argon2id => "argon2",
            HashAlgorithm::Bcrypt => "bcrypt",
        },
        "ttl": {
            "access_token": tokens.access_token,
            "authorization_code": tokens.authorization_code,
            "backchannel_authentication_request": tokens.backchannel_authentication_request,
            "client_credentials": tokens.client_credentials,
            "device_code": tokens.device_code,
            "id_token": tokens.id_token,
            "refresh_token": tokens.refresh_token,
            "session": policy.session.value.max_session_duration,
        },
        "policies": {
            "password": {
                "min": password.min_length,
                "max": password.max_length,
                "history": password.history,
                "upper_case": password.min_uppercase,
                "lower_case": password.min_lowercase,
                "number": password.min_digits,
                "custom_chars": if password.required_chars.is_empty() { Value::Null }
                                else { password.required_chars.clone().into() },
            },
            "account_blocking": {
                "enabled": lockout.enabled,
                "notification": lockout.notify_user,
                "reset_after_success": lockout.reset_after_success,
                "allow_user_unblock": lockout.allow_self_unblock,
                "allowed_attempts": lockout.max_password_attempts,
                "block_duration": lockout.lock_duration.unwrap_or(BLOCK_DURATION_MAX),
                "duration": lockout.window.unwrap_or(BLOCKING_WINDOW_MAX),
            },
            "brute_force": {
                "enabled": brute.enabled,
                "allowed_attempts": brute.max_attempts,
                "duration": brute.window,
                "block_duration": brute.block_duration,
                "notification": brute.notify_admin,
                "white_list": brute.allowlist,
            },
        },
    });
    out.extend(common::object(canonical));
    Value::Object(out)
}

async fn read(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    rid: Rid,
) -> Result<Json<Value>, PlusAuthError> {
    let (caller, _) = caller_of(&state, &headers, &rid).await?;
    let policy = state
        .service
        .get_org_policy(&caller, &tenant_id)
        .await
        .map_err(PlusAuthError::from_service)?;
    Ok(Json(view(&policy)))
}

async fn update(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
) -> Result<Json<Value>, PlusAuthError> {
    let (caller, ctx) = caller_of(&state, &headers, &rid).await?;
    let fields = common::json_object(&body).map_err(PlusAuthError::invalid)?;
    let patches =
        to_patches(&fields).map_err(|errors| PlusAuthError::invalid(errors.join("; ")))?;
    let scope = PolicyScope::Org(tenant_id.clone());
    state
        .service
        .patch_policy(&caller, &ctx, &scope, &patches, Precondition::Any)
        .await
        .map_err(PlusAuthError::from_service)?;
    let policy = state
        .service
        .get_org_policy(&caller, &tenant_id)
        .await
        .map_err(PlusAuthError::from_service)?;
    Ok(Json(view(&policy)))
}

/// One PlusAuth field mapped to a canonical one, with its documented range (if any).
struct Field {
    name: &'static str,
    canonical: &'static str,
    range: Option<(u64, u64)>,
}

const fn field(name: &'static str, canonical: &'static str, range: Option<(u64, u64)>) -> Field {
    Field {
        name,
        canonical,
        range,
    }
}

const PASSWORD: [Field; 7] = [
    field("min", "min_length", None),
    field("max", "max_length", None),
    field("history", "history", Some((0, 10))),
    field("upper_case", "min_uppercase", None),
    field("lower_case", "min_lowercase", None),
    field("number", "min_digits", None),
    field("custom_chars", "required_chars", None),
];
const ACCOUNT_BLOCKING: [Field; 7] = [
    field("enabled", "enabled", None),
    field("notification", "notify_user", None),
    field("reset_after_success", "reset_after_success", None),
    field("allow_user_unblock", "allow_self_unblock", None),
    field("allowed_attempts", "max_password_attempts", Some((5, 250))),
    field(
        "block_duration",
        "lock_duration",
        Some((60, BLOCK_DURATION_MAX)),
    ),
    field("duration", "window", Some((60, BLOCKING_WINDOW_MAX))),
];
const BRUTE_FORCE: [Field; 6] = [
    field("enabled", "enabled", None),
    field("allowed_attempts", "max_attempts", Some((5, 50))),
    field("duration", "window", None),
    field("block_duration", "block_duration", None),
    field("notification", "notify_admin", None),
    field("white_list", "allowlist", None),
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
const TTL: [&str; 7] = [
    "access_token",
    "authorization_code",
    "backchannel_authentication_request",
    "client_credentials",
    "device_code",
    "id_token",
    "refresh_token",
];

/// Copies the fields of `object` (at `path`) named in `table` into a canonical patch.
fn map_fields(
    object: Option<&Value>,
    path: &str,
    table: &[Field],
    errors: &mut Vec<String>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    let Some(object) = object.filter(|v| !v.is_null()) else {
        return patch;
    };
    let Some(object) = object.as_object() else {
        errors.push(format!("{path} must be an object"));
        return patch;
    };
    for (name, value) in object {
        let Some(field) = table.iter().find(|f| f.name == name) else {
            errors.push(format!("{path}.{name} is not a known setting"));
            continue;
        };
        let value = match (field.canonical, value) {
            // PlusAuth's null for a class count or custom characters means "none".
            ("min_uppercase" | "min_lowercase" | "min_digits", Value::Null) => json!(0),
            ("required_chars", Value::Null) => json!(""),
            (_, value) => value.clone(),
        };
        if let (Some((min, max)), Some(n)) = (field.range, value.as_u64())
            && !(min..=max).contains(&n)
        {
            errors.push(format!("{path}.{name} must be between {min} and {max}"));
            continue;
        }
        if field.range.is_some() && value.as_u64().is_none() {
            errors.push(format!("{path}.{name} must be an integer"));
            continue;
        }
        patch.insert(field.canonical.to_owned(), value);
    }
    patch
}

/// The canonical merge patches of a PATCH body, or every problem found.
fn to_patches(body: &Map<String, Value>) -> Result<common::Patches, Vec<String>> {
    let mut errors = Vec::new();
    let mut password = Map::new();
    let mut lockout = Map::new();
    let mut brute = Map::new();
    let mut tokens = Map::new();
    let mut session = Map::new();
    let mut mfa = Map::new();
    let mut features = Map::new();
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
                password.extend(map_fields(
                    policies.get("password"),
                    "policies.password",
                    &PASSWORD,
                    &mut errors,
                ));
                lockout.extend(map_fields(
                    policies.get("account_blocking"),
                    "policies.account_blocking",
                    &ACCOUNT_BLOCKING,
                    &mut errors,
                ));
                brute.extend(map_fields(
                    policies.get("brute_force"),
                    "policies.brute_force",
                    &BRUTE_FORCE,
                    &mut errors,
                ));
            }
            "ttl" => {
                let Some(ttl) = value.as_object() else {
                    errors.push("ttl must be an object".into());
                    continue;
                };
                for (name, seconds) in ttl {
                    if !seconds.is_u64() {
                        errors.push(format!("ttl.{name} must be a whole number of seconds"));
                    } else if name == "session" {
                        session.insert("max_session_duration".into(), seconds.clone());
                    } else if TTL.contains(&name.as_str()) {
                        tokens.insert(name.clone(), seconds.clone());
                    } else {
                        errors.push(format!("ttl.{name} is not a known token lifetime"));
                    }
                }
            }
            "hash_function" => match value.as_str() {
                Some("argon2") => {
                    password.insert("hash_algorithm".into(), "argon2id".into());
                }
                Some("bcrypt") => {
                    password.insert("hash_algorithm".into(), "bcrypt".into());
                }
                _ => errors.push("hash_function must be \"bcrypt\" or \"argon2\"".into()),
            },
            "mfa_enforcement" => match value.as_str() {
                Some(level @ ("enforced" | "optional" | "never")) => {
                    mfa.insert("required".into(), (level == "enforced").into());
                    tenant.insert(key.clone(), level.into());
                }
                _ => errors
                    .push("mfa_enforcement must be \"enforced\", \"optional\" or \"never\"".into()),
            },
            "register_enabled" | "forgot_password_enabled" | "force_email_verification" => {
                match value.as_bool() {
                    Some(on) => {
                        features.insert(key.clone(), on.into());
                    }
                    None => errors.push(format!("{key} must be a boolean")),
                }
            }
            "user_self_deletion" => match value.get("enabled").and_then(Value::as_bool) {
                Some(on) => {
                    features.insert("user_self_deletion".into(), on.into());
                }
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
        features.insert("tenant_settings".into(), Value::Object(tenant));
    }
    Ok(common::non_empty([
        (SectionKind::Password, password),
        (SectionKind::Lockout, lockout),
        (SectionKind::BruteForce, brute),
        (SectionKind::Tokens, tokens),
        (SectionKind::Session, session),
        (SectionKind::Mfa, mfa),
        (SectionKind::Features, features),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_ranges_and_mapping() {
        let body = common::json_object(
            br#"{"policies":{"brute_force":{"enabled":true,"allowed_attempts":5}},"ttl":{"session":7200},
                 "branding":{"display_name":"Acme"}}"#,
        )
        .unwrap();
        let patches = to_patches(&body).unwrap();
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
            to_patches(&body).unwrap(),
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
            assert!(to_patches(&body).is_err(), "{bad}");
        }
    }
}
