//! Scaleway IAM organization security settings (`docs/dialects/scaleway.md`).
//!
//! `GET`/`PATCH /iam/v1alpha1/organizations/{organization_id}/security-settings`, credentials in
//! `x-auth-token`. Durations are `"<n>s"` strings on output; input accepts `<int>[.<frac>]s`,
//! a fraction rounding up to the next second. `login_attempts_before_locked: 0` means lockout
//! off. Ranges are the canonical ones: violations come back from the service and are renamed
//! to this dialect's fields, through a table of the model's field names. Writes are typed section
//! patches. Errors are Scaleway's `{type, message, ...}` bodies, never empty.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portcullis_http::AppState;
use portcullis_model::{
    ApiKeysPatch, EffectivePolicy, LockoutPatch, PasswordPolicyPatch, SectionKind, SectionPatch,
    SessionPatch,
};
use portcullis_service::{Caller, Context, PolicyScope, Precondition, ServiceError};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::common::{self, Class, DurationError, Rid};

const PATH: &str = "/iam/v1alpha1/organizations/{organization_id}/security-settings";

/// This dialect's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(get_settings).patch(patch_settings))
}

/// The canonical fields (section and field name) and the Scaleway fields they come from.
const FIELDS: [(SectionKind, &str, &str); 6] = [
    (
        SectionKind::Password,
        PasswordPolicyPatch::FIELDS.renew_on_first_login,
        "enforce_password_renewal",
    ),
    (
        SectionKind::Password,
        PasswordPolicyPatch::FIELDS.grace_period,
        "grace_period_duration",
    ),
    (
        SectionKind::Lockout,
        LockoutPatch::FIELDS.max_password_attempts,
        "login_attempts_before_locked",
    ),
    (
        SectionKind::Lockout,
        LockoutPatch::FIELDS.enabled,
        "login_attempts_before_locked",
    ),
    (
        SectionKind::Session,
        SessionPatch::FIELDS.max_session_duration,
        "max_login_session_duration",
    ),
    (
        SectionKind::ApiKeys,
        ApiKeysPatch::FIELDS.max_expiration,
        "max_api_key_expiration_duration",
    ),
];

/// The security settings as Scaleway shows them.
#[derive(Serialize)]
struct SecuritySettings {
    enforce_password_renewal: bool,
    grace_period_duration: String,
    login_attempts_before_locked: u64,
    max_login_session_duration: String,
    max_api_key_expiration_duration: String,
}

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
        .find(|(section, field, _)| {
            canonical.starts_with(section.as_str()) && canonical.ends_with(field)
        })
        .map_or_else(|| canonical.to_owned(), |(_, _, name)| (*name).to_owned())
}

/// The settings as Scaleway shows them.
fn view(policy: &EffectivePolicy) -> Value {
    let password = policy.password.value.default_policy();
    let lockout = &policy.lockout.value;
    let duration = |seconds: u64| format!("{seconds}s");
    common::to_json(&SecuritySettings {
        enforce_password_renewal: password.renew_on_first_login,
        grace_period_duration: duration(password.grace_period),
        login_attempts_before_locked: if lockout.enabled {
            lockout.max_password_attempts
        } else {
            0
        },
        max_login_session_duration: duration(policy.session.value.max_session_duration),
        max_api_key_expiration_duration: duration(policy.api_keys.value.max_expiration),
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
    let mut password = PasswordPolicyPatch::default();
    let mut lockout = LockoutPatch::default();
    let mut session = SessionPatch::default();
    let mut api_keys = ApiKeysPatch::default();
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
    password.grace_period = duration("grace_period_duration", &mut errors);
    session.max_session_duration = duration("max_login_session_duration", &mut errors);
    api_keys.max_expiration = duration("max_api_key_expiration_duration", &mut errors);
    match common::bool_field(fields, "enforce_password_renewal") {
        Ok(on) => password.renew_on_first_login = on,
        Err(e) => errors.push(("enforce_password_renewal".into(), e)),
    }
    match common::uint_field(fields, "login_attempts_before_locked", false) {
        Ok(Some(0)) => lockout.enabled = Some(false),
        Ok(Some(n)) => {
            lockout.enabled = Some(true);
            lockout.max_password_attempts = Some(n);
        }
        Ok(None) => {}
        Err(e) => errors.push(("login_attempts_before_locked".into(), e)),
    }
    for name in fields.keys() {
        if !FIELDS.iter().any(|(_, _, known)| known == name) {
            errors.push((name.clone(), "is not a security setting".into()));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(common::non_empty([
        SectionPatch::Password(password),
        SectionPatch::Lockout(lockout),
        SectionPatch::Session(session),
        SectionPatch::ApiKeys(api_keys),
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
