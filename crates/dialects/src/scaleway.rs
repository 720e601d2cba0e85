//! Scaleway IAM organization security settings (`../shared/dialects/README.md` §1, §6).
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
use axum::{Extension, Json, Router};
use portcullis_http::AppState;
use portcullis_http::extract::RequestId;
use portcullis_model::{EffectivePolicy, SectionKind};
use portcullis_service::{Caller, Context, PolicyScope, Precondition, ServiceError};
use serde_json::{Map, Value, json};

use crate::common;

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
        common::log_if_server_side(&error);
        let message = common::public_message(&error);
        let (status, body) = match error {
            ServiceError::Invalid(violations) => {
                let details = violations
                    .into_iter()
                    .map(|v| (scaleway_name(&v.field), v.message))
                    .collect();
                return ScalewayError::invalid(details);
            }
            ServiceError::NotFound => (
                StatusCode::NOT_FOUND,
                json!({"type": "not_found", "message": "resource is not found",
                       "resource": "organization", "resource_id": organization_id}),
            ),
            ServiceError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                json!({"type": "denied_authentication", "message": "invalid or missing x-auth-token",
                       "method": "api_key", "reason": "invalid_argument"}),
            ),
            ServiceError::Forbidden(_)
            | ServiceError::PasswordChangeRequired
            | ServiceError::MfaEnrollmentRequired => (
                StatusCode::FORBIDDEN,
                json!({"type": "permissions_denied", "message": "insufficient permissions",
                       "details": [{"resource": "security_settings", "action": action}]}),
            ),
            ServiceError::Conflict(_) => (
                StatusCode::CONFLICT,
                json!({"type": "transient_state", "message": message}),
            ),
            ServiceError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"type": "unavailable", "message": message}),
            ),
            ServiceError::Internal(_) => (
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

/// Parses a Scaleway duration (`<int>[.<frac>]s`) into whole seconds, rounding a fraction up.
pub fn parse_duration(text: &str) -> Option<u64> {
    let number = text.strip_suffix('s')?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || (number.contains('.') && fraction.is_empty())
    {
        return None;
    }
    let seconds: u64 = whole.parse().ok()?;
    let round_up = fraction.bytes().any(|b| b != b'0');
    seconds.checked_add(u64::from(round_up))
}

async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
    request_id: Option<Extension<RequestId>>,
    organization_id: &str,
) -> Result<(Caller, Context), ScalewayError> {
    let token = common::header(headers, "x-auth-token").or_else(|| common::bearer(headers));
    common::authenticate(state, token, request_id.as_ref().map(|e| &e.0))
        .await
        .map_err(|e| ScalewayError::from_service(e, organization_id, "read"))
}

async fn get_settings(
    State(state): State<AppState>,
    Path(organization_id): Path<String>,
    request_id: Option<Extension<RequestId>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ScalewayError> {
    let (caller, _) = caller_of(&state, &headers, request_id, &organization_id).await?;
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
    request_id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ScalewayError> {
    let (caller, ctx) = caller_of(&state, &headers, request_id, &organization_id).await?;
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
    let duration = |name: &str, errors: &mut Vec<(String, String)>| match fields.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match parse_duration(text) {
            Some(seconds) => Some(seconds),
            None => {
                errors.push((
                    name.to_owned(),
                    "must be a duration such as \"3600s\"".into(),
                ));
                None
            }
        },
        Some(_) => {
            errors.push((
                name.to_owned(),
                "must be a duration string such as \"3600s\"".into(),
            ));
            None
        }
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
    fn durations_parse_and_round_up() {
        assert_eq!(parse_duration("3600s"), Some(3600));
        assert_eq!(parse_duration("2.5s"), Some(3));
        assert_eq!(parse_duration("3.000000000s"), Some(3));
        assert_eq!(parse_duration("0s"), Some(0));
        for bad in [
            "",
            "s",
            "3600",
            "-1s",
            "1.s",
            ".5s",
            "1e3s",
            "3600 s",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

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
