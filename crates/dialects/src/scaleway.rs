//! Scaleway IAM organization security settings (`docs/dialects/scaleway.md`).
//!
//! `GET`/`PATCH /iam/v1alpha1/organizations/{organization_id}/security-settings`, credentials in
//! `x-auth-token`. Durations are `"<n>s"` strings on output; input accepts `<int>[.<frac>]s`,
//! a fraction rounding up to the next second. `login_attempts_before_locked: 0` means lockout
//! off. Ranges are the canonical ones: violations come back from the service and are renamed
//! to this dialect's fields. Errors are Scaleway's `{type, message, ...}` bodies, never empty.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portcullis_http::AppState;
use portcullis_model::{EffectivePolicy, SectionKind};
use portcullis_service::{Caller, Context, PolicyScope, Precondition, ServiceError};
use serde_json::{Map, Value, json};

use crate::common::{self, Class, DurationError, Rid};

const PATH: &str = "/iam/v1alpha1/organizations/{organization_id}/security-settings";

/// This dialect's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(get_settings).patch(patch_settings))
}

/// Canonical field paths and the Scaleway fields they come from.
const FIELDS: [(&str, &str); 6] = [
    ("password.renew_on_first_login", "enforce_password_renewal"),
    ("password.grace_period", "grace_period_duration"),
    (
        "lockout.max_password_attempts",
        "login_attempts_before_locked",
    ),
    ("lockout.enabled", "login_attempts_before_locked"),
    ("session.max_session_duration", "max_login_session_duration"),
    ("api_keys.max_expiration", "max_api_key_expiration_duration"),
];

/// A Scaleway error answer.
#[derive(Debug)]
pub struct ScalewayError {
    status: StatusCode,
    body: Value,
}

impl ScalewayError {
    fn invalid(details: Vec<(String, String)>) -> ScalewayError {
        let details: Vec<Value> = details
            .into_iter()
            .map(|(argument, help)| {
                json!({"argument_name": argument, "reason": "constraint", "help_message": help})
            })
            .collect();
        ScalewayError {
            status: StatusCode::BAD_REQUEST,
            body: json!({"type": "invalid_arguments", "message": "invalid argument(s)",
                         "details": details}),
        }
    }

    fn from_service(error: ServiceError, organization_id: &str, action: &str) -> ScalewayError {
        // Violations come back one detail each, renamed to this dialect's fields.
        if let ServiceError::Invalid(violations) = error {
            let details = violations
                .into_iter()
                .map(|v| (scaleway_name(&v.field), v.message))
                .collect();
            return ScalewayError::invalid(details);
        }
        let (class, message) = common::classify(error);
        let (status, body) = match class {
            // Answered above, with each violation's field.
            Class::Invalid => return ScalewayError::invalid(vec![(String::new(), message)]),
            Class::NotFound => (
                StatusCode::NOT_FOUND,
                json!({"type": "not_found", "message": "resource is not found",
                       "resource": "organization", "resource_id": organization_id}),
            ),
            Class::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                json!({"type": "denied_authentication", "message": "invalid or missing x-auth-token",
                       "method": "api_key", "reason": "invalid_argument"}),
            ),
            Class::Denied => (
                StatusCode::FORBIDDEN,
                json!({"type": "permissions_denied", "message": "insufficient permissions",
                       "details": [{"resource": "security_settings", "action": action}]}),
            ),
            Class::Conflict => (
                StatusCode::CONFLICT,
                json!({"type": "transient_state", "message": message}),
            ),
            Class::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"type": "unavailable", "message": message}),
            ),
            Class::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"type": "internal", "message": message}),
            ),
        };
        ScalewayError { status, body }
    }
}

impl IntoResponse for ScalewayError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// The Scaleway field behind a canonical violation path (`password.grace_period`, or a path
/// inside the section such as `password.policies[0].grace_period`).
fn scaleway_name(canonical: &str) -> String {
    FIELDS
        .iter()
        .find(|(path, _)| {
            let (section, field) = path.split_once('.').unwrap_or(("", path));
            canonical.starts_with(section) && canonical.ends_with(field)
        })
        .map_or_else(|| canonical.to_owned(), |(_, name)| (*name).to_owned())
}

/// The settings as Scaleway shows them.
fn view(policy: &EffectivePolicy) -> Value {
    let password = policy.password.value.default_policy();
    let lockout = &policy.lockout.value;
    json!({
        "enforce_password_renewal": password.renew_on_first_login,
        "grace_period_duration": format!("{}s", password.grace_period),
        "login_attempts_before_locked":
            if lockout.enabled { lockout.max_password_attempts } else { 0 },
        "max_login_session_duration": format!("{}s", policy.session.value.max_session_duration),
        "max_api_key_expiration_duration": format!("{}s", policy.api_keys.value.max_expiration),
    })
}

async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
    rid: &Rid,
    organization_id: &str,
) -> Result<(Caller, Context), ScalewayError> {
    let token = common::header(headers, "x-auth-token").or_else(|| common::bearer(headers));
    common::authenticate(state, token, rid)
        .await
        .map_err(|e| ScalewayError::from_service(e, organization_id, "read"))
}

async fn get_settings(
    State(state): State<AppState>,
    Path(organization_id): Path<String>,
    rid: Rid,
    headers: HeaderMap,
) -> Result<Json<Value>, ScalewayError> {
    let (caller, _) = caller_of(&state, &headers, &rid, &organization_id).await?;
    let policy = state
        .service
        .get_org_policy(&caller, &organization_id)
        .await
        .map_err(|e| ScalewayError::from_service(e, &organization_id, "read"))?;
    Ok(Json(view(&policy)))
}

async fn patch_settings(
    State(state): State<AppState>,
    Path(organization_id): Path<String>,
    rid: Rid,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ScalewayError> {
    let (caller, ctx) = caller_of(&state, &headers, &rid, &organization_id).await?;
    let fields =
        common::json_object(&body).map_err(|e| ScalewayError::invalid(vec![("body".into(), e)]))?;
    let patches = to_patches(&fields).map_err(ScalewayError::invalid)?;
    let scope = PolicyScope::Org(organization_id.clone());
    state
        .service
        .patch_policy(&caller, &ctx, &scope, &patches, Precondition::Any)
        .await
        .map_err(|e| ScalewayError::from_service(e, &organization_id, "write"))?;
    let policy = state
        .service
        .get_org_policy(&caller, &organization_id)
        .await
        .map_err(|e| ScalewayError::from_service(e, &organization_id, "write"))?;
    Ok(Json(view(&policy)))
}

/// The canonical merge patches of a Scaleway PATCH body, or every argument error.
fn to_patches(fields: &Map<String, Value>) -> Result<common::Patches, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut password = Map::new();
    let mut lockout = Map::new();
    let mut session = Map::new();
    let mut api_keys = Map::new();
    let duration = |name: &str, errors: &mut Vec<(String, String)>| {
        common::duration_field(fields, name).unwrap_or_else(|e| {
            let help = match e {
                DurationError::Malformed => "must be a duration such as \"3600s\"",
                DurationError::NotAString => "must be a duration string such as \"3600s\"",
            };
            errors.push((name.to_owned(), help.into()));
            None
        })
    };
    if let Some(seconds) = duration("grace_period_duration", &mut errors) {
        password.insert("grace_period".into(), seconds.into());
    }
    if let Some(seconds) = duration("max_login_session_duration", &mut errors) {
        session.insert("max_session_duration".into(), seconds.into());
    }
    if let Some(seconds) = duration("max_api_key_expiration_duration", &mut errors) {
        api_keys.insert("max_expiration".into(), seconds.into());
    }
    match common::bool_field(fields, "enforce_password_renewal") {
        Ok(Some(on)) => {
            password.insert("renew_on_first_login".into(), on.into());
        }
        Ok(None) => {}
        Err(e) => errors.push(("enforce_password_renewal".into(), e)),
    }
    match common::uint_field(fields, "login_attempts_before_locked", false) {
        Ok(Some(0)) => {
            lockout.insert("enabled".into(), false.into());
        }
        Ok(Some(n)) => {
            lockout.insert("enabled".into(), true.into());
            lockout.insert("max_password_attempts".into(), n.into());
        }
        Ok(None) => {}
        Err(e) => errors.push(("login_attempts_before_locked".into(), e)),
    }
    for name in fields.keys() {
        if !FIELDS.iter().any(|(_, known)| known == name) {
            errors.push((name.clone(), "is not a security setting".into()));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(common::non_empty([
        (SectionKind::Password, password),
        (SectionKind::Lockout, lockout),
        (SectionKind::Session, session),
        (SectionKind::ApiKeys, api_keys),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_back() {
        assert_eq!(
            scaleway_name("session.max_session_duration"),
            "max_login_session_duration"
        );
        assert_eq!(
            scaleway_name("password.grace_period"),
            "grace_period_duration"
        );
        assert_eq!(
            scaleway_name("lockout.max_password_attempts"),
            "login_attempts_before_locked"
        );
        assert_eq!(scaleway_name("other.thing"), "other.thing");
    }

    #[test]
    fn patches_name_only_given_fields() {
        let body = common::json_object(br#"{"login_attempts_before_locked": 0}"#).unwrap();
        assert_eq!(
            to_patches(&body).unwrap(),
            [(SectionKind::Lockout, json!({"enabled": false}))]
        );
        let body = common::json_object(br#"{"grace_period_duration": 5, "x": 1}"#).unwrap();
        let errors = to_patches(&body).unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
