//! Huawei Cloud IAM security policies (`docs/dialects/huawei.md`).
//!
//! `GET`/`PUT /v3.0/OS-SECURITYPOLICY/domains/{domain_id}/login-policy`, `.../password-policy`
//! and `.../protect-policy`, bodies wrapped in `{login_policy|password_policy|protect_policy}`.
//! A PUT changes only the fields present. Authentication: an access key's AK/SK signature
//! (`SDK-HMAC-SHA256`, with `X-Sdk-Date` within 15 minutes and the body hash checked), or
//! `X-Auth-Token` with an ordinary token. Minutes and days are converted to seconds; reads
//! round up. Huawei's documented ranges are checked on write. Errors are
//! `{error_code, error_msg}`.

pub mod signing;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portcullis_http::AppState;
use portcullis_model::{AccountAttribute, EffectivePolicy, SectionKind};
use portcullis_service::{Caller, Context, PatchError, PolicyScope, Precondition, ServiceError};
use serde_json::{Map, Value, json};

use crate::common::{self, Class, Rid};

const BASE: &str = "/v3.0/OS-SECURITYPOLICY/domains/{domain_id}";
/// Largest clock difference accepted in `X-Sdk-Date`, in seconds.
const MAX_CLOCK_SKEW: i64 = 15 * 60;
/// Key of the protect policy in `features.dialect_settings`.
const PROTECT_KEY: &str = "huawei_protect_policy";

/// This dialect's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        &format!("{BASE}/{{policy}}"),
        get(get_policy).put(put_policy),
    )
}

/// A Huawei error answer.
#[derive(Debug)]
pub struct HuaweiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl HuaweiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> HuaweiError {
        HuaweiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn out_of_range(message: impl Into<String>) -> HuaweiError {
        HuaweiError::new(StatusCode::BAD_REQUEST, "IAM.0072", message)
    }

    fn malformed(message: impl Into<String>) -> HuaweiError {
        HuaweiError::new(StatusCode::BAD_REQUEST, "IAM.0073", message)
    }

    fn unauthenticated(message: impl Into<String>) -> HuaweiError {
        HuaweiError::new(StatusCode::UNAUTHORIZED, "IAM.0001", message)
    }

    fn from_service(error: ServiceError) -> HuaweiError {
        let (class, message) = common::classify(error);
        let (status, code) = match class {
            Class::Invalid => (StatusCode::BAD_REQUEST, "IAM.0072"),
            Class::NotFound => (StatusCode::NOT_FOUND, "IAM.0004"),
            Class::Conflict => (StatusCode::CONFLICT, "IAM.0009"),
            Class::Unauthenticated => (StatusCode::UNAUTHORIZED, "IAM.0001"),
            Class::Denied => (StatusCode::FORBIDDEN, "IAM.0002"),
            Class::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "IAM.0007"),
            Class::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "IAM.0006"),
        };
        HuaweiError::new(status, code, message)
    }
}

impl IntoResponse for HuaweiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error_code": self.code, "error_msg": self.message})),
        )
            .into_response()
    }
}

type Answer = Result<Json<Value>, HuaweiError>;

/// A request to `{domain_id}/{policy}`: the path, the request id and everything the signature
/// covers, extracted as the individual extractors would (with their rejections).
struct PolicyRequest {
    domain_id: String,
    segment: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
}

impl FromRequest<AppState> for PolicyRequest {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let Path((domain_id, segment)) =
            Path::<(String, String)>::from_request_parts(&mut parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let rid = Rid::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (method, uri, headers) = (
            parts.method.clone(),
            parts.uri.clone(),
            parts.headers.clone(),
        );
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(PolicyRequest {
            domain_id,
            segment,
            method,
            uri,
            headers,
            rid,
            body,
        })
    }
}

async fn caller_of(
    state: &AppState,
    request: &PolicyRequest,
) -> Result<(Caller, Context), HuaweiError> {
    let headers = &request.headers;
    // An ordinary token in X-Auth-Token is a full credential on its own (the SDK still signs
    // such a request, possibly with placeholder keys, so the token comes first).
    if let Some(token) = common::header(headers, "x-auth-token").filter(|t| !t.is_empty()) {
        return common::authenticate(state, Some(token), &request.rid)
            .await
            .map_err(HuaweiError::from_service);
    }
    let auth = common::header(headers, "authorization")
        .and_then(signing::parse_authorization)
        .ok_or_else(|| HuaweiError::unauthenticated("a signature or X-Auth-Token is required"))?;
    // The signature must bind the host and the date, or it could be replayed elsewhere.
    for required in ["host", "x-sdk-date"] {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(HuaweiError::unauthenticated(format!(
                "SignedHeaders must include {required}"
            )));
        }
    }
    let date = common::header(headers, "x-sdk-date")
        .ok_or_else(|| HuaweiError::unauthenticated("X-Sdk-Date is required"))?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let signed_at = time::PrimitiveDateTime::parse(date, format)
        .map_err(|_| HuaweiError::unauthenticated("X-Sdk-Date must look like 20260101T120000Z"))?
        .assume_utc();
    if (state.service.now() - signed_at).whole_seconds().abs() > MAX_CLOCK_SKEW {
        return Err(HuaweiError::unauthenticated(
            "X-Sdk-Date is more than 15 minutes off",
        ));
    }
    let string_to_sign = signing::string_to_sign(
        &request.method,
        request.uri.path(),
        request.uri.query(),
        headers,
        &auth.signed_headers,
        &request.body,
        date,
    )
    .ok_or_else(|| HuaweiError::unauthenticated("a signed header is missing"))?;
    // The key is looked up in the organization the credentials name (X-Domain-Id), else the
    // one in the path; the path is then checked against the caller like any other request.
    let key_org = common::header(headers, "x-domain-id").unwrap_or(&request.domain_id);
    let caller = state
        .service
        .authenticate_access_key(key_org, &auth.access, |secret| {
            signing::signature_matches(secret, &string_to_sign, &auth.signature)
        })
        .await
        .map_err(|e| match e {
            ServiceError::Unauthenticated => {
                HuaweiError::unauthenticated("the signature does not match")
            }
            other => HuaweiError::from_service(other),
        })?;
    let ctx = common::context(&caller, &request.rid);
    Ok((caller, ctx))
}

fn wrapped<'a>(
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
fn number(
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

fn flag(fields: &Map<String, Value>, name: &str, errors: &mut Vec<HuaweiError>) -> Option<bool> {
    common::bool_field(fields, name).unwrap_or_else(|e| {
        errors.push(HuaweiError::malformed(e));
        None
    })
}

fn known(fields: &Map<String, Value>, names: &[&str], errors: &mut Vec<HuaweiError>) {
    for name in fields.keys().filter(|k| !names.contains(&k.as_str())) {
        errors.push(HuaweiError::malformed(format!("unknown field `{name}`")));
    }
}

/// The first error (the envelope carries one), with the others appended to its message.
fn first_error(mut errors: Vec<HuaweiError>) -> Result<(), HuaweiError> {
    if errors.is_empty() {
        return Ok(());
    }
    let mut first = errors.remove(0);
    for more in errors {
        first.message.push_str("; ");
        first.message.push_str(&more.message);
    }
    Err(first)
}

// --- login policy

fn login_view(policy: &EffectivePolicy) -> Value {
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

fn login_patches(fields: &Map<String, Value>) -> Result<common::Patches, HuaweiError> {
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
fn requirements(policy: &EffectivePolicy) -> String {
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

fn password_view(policy: &EffectivePolicy) -> Value {
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

fn password_patches(
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

fn protect_stored(policy: &EffectivePolicy) -> Map<String, Value> {
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
fn merge_two_levels(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(inner)), Value::Object(over)) => inner.extend(over.clone()),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

fn protect_patch(
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

// --- handlers

async fn read_policy(
    state: &AppState,
    request: &PolicyRequest,
) -> Result<Arc<EffectivePolicy>, HuaweiError> {
    let (caller, _) = caller_of(state, request).await?;
    state
        .service
        .get_org_policy(&caller, &request.domain_id)
        .await
        .map_err(HuaweiError::from_service)
}

async fn write_policy(
    state: &AppState,
    request: &PolicyRequest,
    key: &str,
    patches: impl Fn(&Map<String, Value>, &EffectivePolicy) -> Result<common::Patches, HuaweiError>,
) -> Result<Arc<EffectivePolicy>, HuaweiError> {
    let domain_id = &request.domain_id;
    let (caller, ctx) = caller_of(state, request).await?;
    let fields = common::json_object(&request.body).map_err(HuaweiError::malformed)?;
    let inner = wrapped(&fields, key)?;
    let scope = PolicyScope::Org(domain_id.clone());
    // Built from the policy each attempt reads (the attribute list is extended, not replaced).
    state
        .service
        .patch_policy_with(&caller, &ctx, &scope, Precondition::Any, |current| {
            patches(inner, current)
        })
        .await
        .map_err(|e| match e {
            PatchError::Input(e) => e,
            PatchError::Service(e) => HuaweiError::from_service(e),
        })?;
    state
        .service
        .get_org_policy(&caller, domain_id)
        .await
        .map_err(HuaweiError::from_service)
}

/// The three policies behind `{domain_id}/{policy}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Login,
    Password,
    Protect,
}

impl Which {
    fn from_path(segment: &str) -> Option<Which> {
        match segment {
            "login-policy" => Some(Which::Login),
            "password-policy" => Some(Which::Password),
            "protect-policy" => Some(Which::Protect),
            _ => None,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Which::Login => "login_policy",
            Which::Password => "password_policy",
            Which::Protect => "protect_policy",
        }
    }

    fn view(self, policy: &EffectivePolicy) -> Value {
        match self {
            Which::Login => login_view(policy),
            Which::Password => password_view(policy),
            Which::Protect => json!({"protect_policy": protect_stored(policy)}),
        }
    }

    /// The answer to a PUT: the same object as a GET, but the protect policy's PUT answers
    /// only `allow_user`, `operation_protection`, `admin_check` and `scene`.
    fn put_answer(self, policy: &EffectivePolicy) -> Value {
        if self != Which::Protect {
            return self.view(policy);
        }
        let answer: Map<String, Value> = protect_stored(policy)
            .into_iter()
            .filter(|(k, _)| {
                ["allow_user", "operation_protection", "admin_check", "scene"].contains(&k.as_str())
            })
            .collect();
        json!({"protect_policy": answer})
    }

    fn patches(
        self,
        fields: &Map<String, Value>,
        current: &EffectivePolicy,
    ) -> Result<common::Patches, HuaweiError> {
        match self {
            Which::Login => login_patches(fields),
            Which::Password => password_patches(fields, current),
            Which::Protect => protect_patch(fields, current),
        }
    }
}

/// The policy a path segment names; the handlers answer an unknown one (404) before any
/// authentication.
fn which(segment: &str) -> Result<Which, HuaweiError> {
    Which::from_path(segment).ok_or_else(|| {
        HuaweiError::new(StatusCode::NOT_FOUND, "IAM.0004", "no such security policy")
    })
}

async fn get_policy(State(state): State<AppState>, request: PolicyRequest) -> Answer {
    let which = which(&request.segment)?;
    let policy = read_policy(&state, &request).await?;
    Ok(Json(which.view(&policy)))
}

async fn put_policy(State(state): State<AppState>, request: PolicyRequest) -> Answer {
    let which = which(&request.segment)?;
    let policy = write_policy(&state, &request, which.key(), |fields, current| {
        which.patches(fields, current)
    })
    .await?;
    Ok(Json(which.put_answer(&policy)))
}
