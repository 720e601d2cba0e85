//! SailPoint Identity Security Cloud password policies (`docs/dialects/sailpoint.md`).
//!
//! The collection is served at both `/password-policies/v1[/{id}]` (SDK 2.x) and
//! `/v3/password-policies[/{id}]` (SDK 1.x): list (a bare array; `limit` 0–250, default 250,
//! `offset`, `count=true` → `X-Total-Count`), get, create (200), replace (PUT), delete (204; the
//! default policy cannot be deleted). The organization is the caller's. `POST /oauth/token`
//! exchanges an API key's id and secret (client credentials) for an access token.
//!
//! A policy object maps to one named canonical password policy. A write replaces the fields
//! SailPoint names: absent counts take the canonical defaults, absent booleans are false,
//! except that an absent `passwordExpiration` or word length keeps the current value, and
//! `defaultPolicy: false` never takes the flag from the current default (make another policy
//! the default instead). It keeps the canonical fields SailPoint does not name (history, hash
//! algorithm, grace period, ...). `-1` means "off" for `minCharacterTypes`,
//! `maxRepeatedChars` and the word-length fields.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis_http::AppState;
use portcullis_model::{AccountAttribute, PasswordPolicy, SectionDetails, SectionKind};
use portcullis_service::{Caller, Context, ServiceError};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::common::{self, Class, Rid};

/// Largest page.
const MAX_LIMIT: u64 = 250;

/// This dialect's routes.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/oauth/token", post(token));
    for base in ["/password-policies/v1", "/v3/password-policies"] {
        router = router.route(base, get(list).post(create)).route(
            &format!("{base}/{{id}}"),
            get(read).put(replace).delete(remove),
        );
    }
    router
}

/// A SailPoint error answer.
#[derive(Debug)]
pub struct SailPointError {
    status: StatusCode,
    message: String,
    tracking_id: String,
}

impl SailPointError {
    fn new(status: StatusCode, message: impl Into<String>, rid: &Rid) -> SailPointError {
        SailPointError {
            status,
            message: message.into(),
            tracking_id: rid.as_ref().map(|r| r.0.0.clone()).unwrap_or_default(),
        }
    }

    fn from_service(error: ServiceError, rid: &Rid) -> SailPointError {
        let (class, message) = common::classify(error);
        let status = match class {
            Class::Invalid => StatusCode::BAD_REQUEST,
            Class::NotFound => StatusCode::NOT_FOUND,
            Class::Conflict => StatusCode::CONFLICT,
            Class::Unauthenticated => StatusCode::UNAUTHORIZED,
            Class::Denied => StatusCode::FORBIDDEN,
            Class::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Class::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        SailPointError::new(status, message, rid)
    }
}

impl IntoResponse for SailPointError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            return (
                self.status,
                Json(json!({"error": format!("JWT validation failed: {}", self.message)})),
            )
                .into_response();
        }
        let detail_code = match self.status.as_u16() {
            400 => "400.1 Bad request content",
            403 => "403 Forbidden",
            404 => "404 Not found",
            409 => "409 Conflict",
            503 => "503 Service unavailable",
            _ => "500.0 Internal fault",
        };
        let body = json!({
            "detailCode": detail_code,
            "trackingId": self.tracking_id,
            "messages": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": self.message}],
            "causes": [],
        });
        (self.status, Json(body)).into_response()
    }
}

async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
    rid: &Rid,
) -> Result<(Caller, Context, String), SailPointError> {
    let (caller, ctx) = common::authenticate(state, common::bearer(headers), rid)
        .await
        .map_err(|e| SailPointError::from_service(e, rid))?;
    let org = caller.org_id.clone().ok_or_else(|| {
        SailPointError::new(
            StatusCode::BAD_REQUEST,
            "password policies belong to an organization: use an organization's credentials",
            rid,
        )
    })?;
    Ok((caller, ctx, org))
}

/// The SailPoint object of a canonical policy; dates are the password section's.
fn to_dto(policy: &PasswordPolicy, details: &SectionDetails) -> Value {
    let check = policy.check_account_attributes;
    let has = |a: AccountAttribute| check && policy.account_attributes.contains(&a);
    let all = policy.account_attributes.len() == 3;
    let word = |a: AccountAttribute| {
        if has(a) {
            i64::try_from(policy.attribute_min_word_length).unwrap_or(i64::MAX)
        } else {
            -1
        }
    };
    let off_is_minus_one = |v: u64| {
        if v == 0 {
            -1
        } else {
            i64::try_from(v).unwrap_or(i64::MAX)
        }
    };
    let rfc3339 = |at: time::OffsetDateTime| Some(portcullis_model::rfc3339(at));
    json!({
        "id": policy.id,
        "name": policy.name,
        "description": if policy.description.is_empty() { Value::Null } else { policy.description.clone().into() },
        "dateCreated": common::epoch_ms(details.created_at),
        "lastUpdated": common::epoch_ms(details.changed_at),
        "created": rfc3339(details.created_at),
        "modified": rfc3339(details.changed_at),
        "firstExpirationReminder": policy.expire_warn_days,
        "accountIdMinWordLength": word(AccountAttribute::Login),
        "accountNameMinWordLength": word(AccountAttribute::DisplayName),
        "minAlpha": policy.min_letters,
        "minCharacterTypes": off_is_minus_one(policy.min_character_types),
        "maxLength": policy.max_length,
        "minLength": policy.min_length,
        "maxRepeatedChars": off_is_minus_one(policy.max_repeated_chars),
        "minLower": policy.min_lowercase,
        "minNumeric": policy.min_digits,
        "minSpecial": policy.min_special,
        "minUpper": policy.min_uppercase,
        "passwordExpiration": policy.max_age_days,
        "defaultPolicy": policy.is_default,
        "enablePasswdExpiration": policy.expiration_enabled,
        "requireStrongAuthn": policy.require_mfa,
        "requireStrongAuthOffNetwork": policy.require_mfa_off_network,
        "requireStrongAuthUntrustedGeographies": policy.require_mfa_untrusted_geographies,
        "useAccountAttributes": check && all,
        "useDictionary": policy.check_blocklist,
        "useIdentityAttributes": has(AccountAttribute::Email),
        "validateAgainstAccountId": has(AccountAttribute::Login),
        "validateAgainstAccountName": has(AccountAttribute::DisplayName),
        "sourceIds": policy.sources,
    })
}

const BOOLEANS: [&str; 10] = [
    "defaultPolicy",
    "enablePasswdExpiration",
    "requireStrongAuthn",
    "requireStrongAuthOffNetwork",
    "requireStrongAuthUntrustedGeographies",
    "useAccountAttributes",
    "useDictionary",
    "useIdentityAttributes",
    "validateAgainstAccountId",
    "validateAgainstAccountName",
];
const INTEGERS: [&str; 13] = [
    "firstExpirationReminder",
    "accountIdMinWordLength",
    "accountNameMinWordLength",
    "minAlpha",
    "minCharacterTypes",
    "maxLength",
    "minLength",
    "maxRepeatedChars",
    "minLower",
    "minNumeric",
    "minSpecial",
    "minUpper",
    "passwordExpiration",
];
const READ_ONLY: [&str; 4] = ["dateCreated", "lastUpdated", "created", "modified"];

/// The canonical policy JSON of a SailPoint object written over `base` (the policy replaced,
/// or the canonical defaults for a new one). Every problem is listed.
fn from_dto(body: &Map<String, Value>, base: &PasswordPolicy) -> Result<Value, Vec<String>> {
    let mut errors = Vec::new();
    let defaults = PasswordPolicy::default();
    let mut int = |name: &str| -> Option<i64> {
        match body.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
            Some(_) => {
                errors.push(format!("{name} must be an integer"));
                None
            }
        }
    };
    let values: Vec<(&str, Option<i64>)> = INTEGERS.iter().map(|n| (*n, int(n))).collect();
    let get = |name: &str| {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| *v)
    };
    let mut flags = Map::new();
    for name in BOOLEANS {
        match body.get(name) {
            None | Some(Value::Null) => {
                flags.insert(name.into(), false.into());
            }
            Some(Value::Bool(b)) => {
                flags.insert(name.into(), (*b).into());
            }
            Some(_) => errors.push(format!("{name} must be a boolean")),
        }
    }
    let flag = |name: &str| flags.get(name).and_then(Value::as_bool).unwrap_or(false);
    for name in body.keys() {
        let known = INTEGERS.contains(&name.as_str())
            || BOOLEANS.contains(&name.as_str())
            || READ_ONLY.contains(&name.as_str())
            || ["id", "name", "description", "sourceIds"].contains(&name.as_str());
        if !known {
            errors.push(format!("unknown field `{name}`"));
        }
    }
    let mut out = serde_json::to_value(base).unwrap_or(Value::Null);
    let Value::Object(fields) = &mut out else {
        return Err(vec!["internal: policy is not an object".into()]);
    };
    let mut set = |key: &str, value: Value| {
        fields.insert(key.to_owned(), value);
    };
    // Counts: absent → the canonical default; negative → refused (only the "off" fields take -1).
    let count = |name: &str, default: u64, errors: &mut Vec<String>| -> u64 {
        match get(name) {
            None => default,
            Some(v) if v >= 0 => v.unsigned_abs(),
            Some(_) => {
                errors.push(format!("{name} must be 0 or more"));
                default
            }
        }
    };
    let off = |name: &str, errors: &mut Vec<String>| -> u64 {
        match get(name) {
            None | Some(-1) | Some(0) => 0,
            Some(v) if v > 0 => v.unsigned_abs(),
            Some(_) => {
                errors.push(format!("{name} must be -1 (off) or more"));
                0
            }
        }
    };
    set(
        "min_length",
        count("minLength", defaults.min_length, &mut errors).into(),
    );
    set(
        "max_length",
        count("maxLength", defaults.max_length, &mut errors).into(),
    );
    set("min_letters", count("minAlpha", 0, &mut errors).into());
    set("min_lowercase", count("minLower", 0, &mut errors).into());
    set("min_uppercase", count("minUpper", 0, &mut errors).into());
    set("min_digits", count("minNumeric", 0, &mut errors).into());
    set("min_special", count("minSpecial", 0, &mut errors).into());
    set(
        "min_character_types",
        off("minCharacterTypes", &mut errors).into(),
    );
    set(
        "max_repeated_chars",
        off("maxRepeatedChars", &mut errors).into(),
    );
    set(
        "expire_warn_days",
        count("firstExpirationReminder", 0, &mut errors).into(),
    );
    let expiration = flag("enablePasswdExpiration");
    set("expiration_enabled", expiration.into());
    match get("passwordExpiration") {
        Some(days) if days > 0 => set("max_age_days", days.into()),
        Some(days) if days < 0 => errors.push("passwordExpiration must be 0 or more".into()),
        Some(_) if expiration => set("max_age_days", 0.into()),
        _ => {}
    }
    let words: Vec<u64> = ["accountIdMinWordLength", "accountNameMinWordLength"]
        .iter()
        .map(|n| off(n, &mut errors))
        .filter(|v| *v > 0)
        .collect();
    if let Some(longest) = words.iter().max() {
        set("attribute_min_word_length", (*longest).into());
    }
    let mut attributes = BTreeSet::new();
    if flag("useAccountAttributes") {
        attributes.extend([
            AccountAttribute::Login,
            AccountAttribute::Email,
            AccountAttribute::DisplayName,
        ]);
    }
    if flag("validateAgainstAccountId") {
        attributes.insert(AccountAttribute::Login);
    }
    if flag("validateAgainstAccountName") {
        attributes.insert(AccountAttribute::DisplayName);
    }
    if flag("useIdentityAttributes") {
        attributes.insert(AccountAttribute::Email);
    }
    set("check_account_attributes", (!attributes.is_empty()).into());
    if !attributes.is_empty() {
        set(
            "account_attributes",
            serde_json::to_value(&attributes).unwrap_or(Value::Null),
        );
    }
    set("check_blocklist", flag("useDictionary").into());
    set("require_mfa", flag("requireStrongAuthn").into());
    set(
        "require_mfa_off_network",
        flag("requireStrongAuthOffNetwork").into(),
    );
    set(
        "require_mfa_untrusted_geographies",
        flag("requireStrongAuthUntrustedGeographies").into(),
    );
    set(
        "is_default",
        (flag("defaultPolicy") || base.is_default).into(),
    );
    for (from, to) in [
        ("id", "id"),
        ("name", "name"),
        ("description", "description"),
    ] {
        match body.get(from) {
            None | Some(Value::Null) if from == "description" => set(to, "".into()),
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => set(to, s.clone().into()),
            Some(_) => errors.push(format!("{from} must be a string")),
        }
    }
    match body.get("sourceIds") {
        None | Some(Value::Null) => set("sources", json!([])),
        Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => {
            set("sources", Value::Array(ids.clone()))
        }
        Some(_) => errors.push("sourceIds must be an array of strings".into()),
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<String>,
    offset: Option<String>,
    count: Option<String>,
}

async fn section_details(
    state: &AppState,
    caller: &Caller,
    org: &str,
    rid: &Rid,
) -> Result<(Vec<PasswordPolicy>, SectionDetails), SailPointError> {
    let policy = state
        .service
        .get_org_policy(caller, org)
        .await
        .map_err(|e| SailPointError::from_service(e, rid))?;
    let (_, details) = policy.section_meta(SectionKind::Password);
    Ok((policy.password.value.policies.clone(), details.clone()))
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    Query(query): Query<ListQuery>,
) -> Result<Response, SailPointError> {
    let (caller, _, org) = caller_of(&state, &headers, &rid).await?;
    let number = |text: &Option<String>, name: &str, max: u64, default: u64| match text {
        None => Ok(default),
        Some(t) => t.parse::<u64>().ok().filter(|v| *v <= max).ok_or_else(|| {
            SailPointError::new(
                StatusCode::BAD_REQUEST,
                format!("{name} must be an integer from 0 to {max}"),
                &rid,
            )
        }),
    };
    let limit = number(&query.limit, "limit", MAX_LIMIT, MAX_LIMIT)?;
    let offset = number(&query.offset, "offset", u64::MAX, 0)?;
    let count = match query.count.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(SailPointError::new(
                StatusCode::BAD_REQUEST,
                "count must be true or false",
                &rid,
            ));
        }
    };
    let (policies, details) = section_details(&state, &caller, &org, &rid).await?;
    let total = policies.len();
    let page: Vec<Value> = policies
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|p| to_dto(p, &details))
        .collect();
    let mut response = Json(Value::Array(page)).into_response();
    if count {
        response
            .headers_mut()
            .insert("x-total-count", HeaderValue::from(total));
    }
    Ok(response)
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    Path(id): Path<String>,
) -> Result<Json<Value>, SailPointError> {
    let (caller, _, org) = caller_of(&state, &headers, &rid).await?;
    answer(&state, &caller, &org, &id, &rid).await
}

fn body_of(body: &[u8], rid: &Rid) -> Result<Map<String, Value>, SailPointError> {
    common::json_object(body).map_err(|e| SailPointError::new(StatusCode::BAD_REQUEST, e, rid))
}

fn invalid(errors: Vec<String>, rid: &Rid) -> SailPointError {
    SailPointError::new(StatusCode::BAD_REQUEST, errors.join("; "), rid)
}

/// The SailPoint object of the policy `id` as it now stands.
async fn answer(
    state: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
    rid: &Rid,
) -> Result<Json<Value>, SailPointError> {
    let (policies, details) = section_details(state, caller, org, rid).await?;
    let policy = policies
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| SailPointError::from_service(ServiceError::NotFound, rid))?;
    Ok(Json(to_dto(policy, &details)))
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
) -> Result<Json<Value>, SailPointError> {
    let (caller, ctx, org) = caller_of(&state, &headers, &rid).await?;
    let fields = body_of(&body, &rid)?;
    let base = PasswordPolicy {
        id: String::new(),
        name: String::new(),
        is_default: false,
        ..PasswordPolicy::default()
    };
    let canonical = from_dto(&fields, &base).map_err(|e| invalid(e, &rid))?;
    let created = state
        .service
        .create_password_policy(&caller, &ctx, &org, canonical)
        .await
        .map_err(|e| SailPointError::from_service(e, &rid))?;
    answer(&state, &caller, &org, &created.id, &rid).await
}

async fn replace(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SailPointError> {
    let (caller, ctx, org) = caller_of(&state, &headers, &rid).await?;
    let mut fields = body_of(&body, &rid)?;
    fields.entry("id").or_insert_with(|| id.clone().into());
    state
        .service
        .replace_password_policy_with(&caller, &ctx, &org, &id, |existing| {
            from_dto(&fields, existing).map_err(|errors| {
                let violations = errors
                    .into_iter()
                    .map(|e| portcullis_model::Violation::new("", "sailpoint.invalid", e))
                    .collect();
                portcullis_model::Violations::from_vec(violations).map_or_else(
                    || ServiceError::Internal("no error".into()),
                    ServiceError::Invalid,
                )
            })
        })
        .await
        .map_err(|e| SailPointError::from_service(e, &rid))?;
    answer(&state, &caller, &org, &id, &rid).await
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    Path(id): Path<String>,
) -> Result<StatusCode, SailPointError> {
    let (caller, ctx, org) = caller_of(&state, &headers, &rid).await?;
    state
        .service
        .delete_password_policy(&caller, &ctx, &org, &id)
        .await
        .map_err(|e| SailPointError::from_service(e, &rid))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /oauth/token`, client credentials in the form body (or HTTP Basic).
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
) -> Response {
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if field("grant_type").as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let basic = common::basic_credentials(&headers);
    let (Some(id), Some(secret)) = (
        field("client_id").or_else(|| basic.as_ref().map(|b| b.0.clone())),
        field("client_secret").or_else(|| basic.as_ref().map(|b| b.1.clone())),
    ) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        );
    };
    let ctx = Context::new(format!("key:{id}"), rid.as_ref().map(|r| r.0.0.clone()));
    match state
        .service
        .exchange_client_credentials(&ctx, &id, &secret)
        .await
    {
        Ok(issued) => Json(json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
        }))
        .into_response(),
        Err(ServiceError::Unauthenticated) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        ),
        Err(other) => SailPointError::from_service(other, &rid).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dto_round_trip_and_sentinels() {
        let base = PasswordPolicy::default();
        let body = common::json_object(
            br#"{"id":"p2","name":"P2","minLength":10,"minCharacterTypes":-1,"maxRepeatedChars":3,
                 "validateAgainstAccountId":true,"useDictionary":true,"accountIdMinWordLength":5,
                 "enablePasswdExpiration":true,"passwordExpiration":30,"firstExpirationReminder":5}"#,
        )
        .unwrap();
        let canonical = from_dto(&body, &base).unwrap();
        let policy: PasswordPolicy = serde_json::from_value(canonical).unwrap();
        assert_eq!(policy.min_length, 10);
        assert_eq!(policy.min_character_types, 0);
        assert_eq!(policy.max_repeated_chars, 3);
        assert!(policy.check_account_attributes && policy.check_blocklist);
        assert_eq!(policy.attribute_min_word_length, 5);
        assert_eq!(policy.max_age_days, 30);
        assert_eq!(
            policy.history, base.history,
            "fields SailPoint does not name are kept"
        );
        let dto = to_dto(&policy, &SectionDetails::builtin("i"));
        assert_eq!(dto["minCharacterTypes"], -1);
        assert_eq!(dto["validateAgainstAccountId"], true);
        assert_eq!(dto["validateAgainstAccountName"], false);
        assert_eq!(dto["accountIdMinWordLength"], 5);
        assert_eq!(dto["accountNameMinWordLength"], -1);

        let bad =
            common::json_object(br#"{"minLength":"10","maxRepeatedChars":-2,"x":1}"#).unwrap();
        assert_eq!(from_dto(&bad, &base).unwrap_err().len(), 3);
    }
}
