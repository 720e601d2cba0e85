//! What every dialect shares: credentials from headers, the request context, JSON bodies and
//! fields, typed section patches turned into the service's merge patches, typed answers turned
//! into JSON, durations, unit conversions that round up, and the classes of service errors each
//! dialect maps to its own envelope.
//!
//! Invariants: conversions to a coarser unit round up (a 61-second value reads as 2 minutes), so
//! a dialect never reports a limit looser than the one enforced; a typed answer goes out through
//! [`to_json`], so its keys are sorted exactly as a `json!` literal's are; a write field sent
//! with exactly the value the dialect's read shows now is "unchanged" ([`changed_fields`]), so a
//! body read and written back never goes through a rounding, a range or a sentinel again.

use axum::Extension;
use axum::http::HeaderMap;
use portcullis_http::AppState;
use portcullis_http::extract::RequestId;
use portcullis_model::{SectionKind, SectionPatch};
use portcullis_service::{Caller, Context, ServiceError, ServiceResult};
use serde::Serialize;
use serde_json::{Map, Value};

/// The request id the HTTP layer attaches, when it does.
pub(crate) type Rid = Option<Extension<RequestId>>;

/// Canonical merge patches, one per section, as the service's `patch_policy` takes them.
pub(crate) type Patches = Vec<(SectionKind, Value)>;

/// The typed patches that name at least one field, as `patch_policy` takes them.
pub(crate) fn non_empty(patches: impl IntoIterator<Item = SectionPatch>) -> Patches {
    patches
        .into_iter()
        .filter(|patch| !patch.is_empty())
        .map(|patch| patch.to_json())
        .collect()
}

/// A typed response body as JSON, every object's keys in sorted order (the order of
/// `serde_json`'s map, which every dialect answer has always had).
pub(crate) fn to_json<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

/// The fields of a serde body, to extend with more (an answer that is not an object has none).
pub(crate) fn to_object<T: Serialize>(body: &T) -> Map<String, Value> {
    object(to_json(body))
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The id and secret of an `Authorization: Basic` header.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// A header's value as text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The caller behind `token` and the context of this request.
pub(crate) async fn authenticate(
    state: &AppState,
    token: Option<&str>,
    rid: &Rid,
) -> ServiceResult<(Caller, Context)> {
    let token = token.ok_or(ServiceError::Unauthenticated)?;
    let caller = state.service.authenticate(token).await?;
    let ctx = context(&caller, rid);
    Ok((caller, ctx))
}

/// The event context of `caller` in this request.
pub(crate) fn context(caller: &Caller, rid: &Rid) -> Context {
    Context::new(caller.actor.clone(), rid.as_ref().map(|r| r.0.0.clone()))
}

/// A JSON object body, read strictly (one value, no duplicate keys); an empty body is `{}`.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match portcullis_model::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(e) => Err(format!("the body is not valid JSON: {}", e.message)),
    }
}

/// The fields of a JSON object literal (empty for any other value).
pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

/// The fields of `sent` whose value differs from the one `shown` (the dialect's answer to a read
/// of the same policy, from the policy the write is computed over) has: a field read and sent
/// back as it was keeps the canonical value behind it, whatever unit, range or sentinel the
/// dialect shows it with.
pub(crate) fn changed_fields(
    sent: &Map<String, Value>,
    shown: &Map<String, Value>,
) -> Map<String, Value> {
    sent.iter()
        .filter(|(name, value)| shown.get(name.as_str()) != Some(*value))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// `seconds` in whole `unit`s, rounded up.
pub(crate) fn ceil_div(seconds: u64, unit: u64) -> u64 {
    seconds.div_ceil(unit)
}

/// Seconds since the Unix epoch of a timestamp, in milliseconds.
pub(crate) fn epoch_ms(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// What a service error means to a client; each dialect has its own status and code for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// The input breaks a rule.
    Invalid,
    /// Missing, or in another organization.
    NotFound,
    /// A conflicting write or an existing resource.
    Conflict,
    /// No valid credentials.
    Unauthenticated,
    /// Not allowed, including a session that may only change its password or enroll a factor.
    Denied,
    /// The store is unavailable.
    Unavailable,
    /// Anything else on the server's side.
    Internal,
}

/// The class of a service error and the text that may be shown to a client; an internal or
/// unavailable error is logged here, once.
pub(crate) fn classify(error: ServiceError) -> (Class, String) {
    log_if_server_side(&error);
    let message = public_message(&error);
    let class = match error {
        ServiceError::Invalid(_) => Class::Invalid,
        ServiceError::NotFound => Class::NotFound,
        ServiceError::Conflict(_)
        | ServiceError::LastInstanceKey
        | ServiceError::Taken { .. }
        | ServiceError::PreconditionFailed => Class::Conflict,
        ServiceError::Unauthenticated => Class::Unauthenticated,
        ServiceError::AddressBlocked { .. }
        | ServiceError::Forbidden(_)
        | ServiceError::PasswordChangeRequired
        | ServiceError::MfaEnrollmentRequired => Class::Denied,
        ServiceError::Unavailable(_) => Class::Unavailable,
        ServiceError::Internal(_) => Class::Internal,
    };
    (class, message)
}

/// The text of a service error that may be shown to a client (never internal details).
fn public_message(error: &ServiceError) -> String {
    match error {
        ServiceError::Invalid(violations) => violations.to_string(),
        ServiceError::NotFound => "not found".into(),
        ServiceError::Conflict(what) => what.clone(),
        ServiceError::LastInstanceKey => "the last instance key cannot be revoked".into(),
        ServiceError::PreconditionFailed => "the resource changed meanwhile; retry".into(),
        ServiceError::Taken { detail, .. } => (*detail).to_owned(),
        ServiceError::AddressBlocked { .. } => "too many failed attempts from this address".into(),
        ServiceError::Unauthenticated => "authentication required".into(),
        ServiceError::Forbidden(what) => (*what).to_owned(),
        ServiceError::PasswordChangeRequired => "this session may only change its password".into(),
        ServiceError::MfaEnrollmentRequired => {
            "this session may only enroll a second factor".into()
        }
        ServiceError::Unavailable(_) => "the service is unavailable; retry".into(),
        ServiceError::Internal(_) => "internal error".into(),
    }
}

/// Logs an internal or unavailable error once, at the edge (its text is never sent).
fn log_if_server_side(error: &ServiceError) {
    match error {
        ServiceError::Internal(m) => tracing::error!(error = %m, "internal error"),
        ServiceError::Unavailable(m) => tracing::warn!(error = %m, "store unavailable"),
        _ => {}
    }
}

/// A number field of a JSON object: `Ok(None)` when absent (or null), an error text when not a
/// non-negative integer. `strings` also accepts decimal digits in a string (protojson).
pub(crate) fn uint_field(
    fields: &Map<String, Value>,
    name: &str,
    strings: bool,
) -> Result<Option<u64>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{name} must be a non-negative integer")),
        Some(Value::String(s)) if strings => s
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("{name} must be a non-negative integer")),
        Some(_) => Err(format!("{name} must be a non-negative integer")),
    }
}

/// A boolean field of a JSON object: `Ok(None)` when absent (or null).
pub(crate) fn bool_field(fields: &Map<String, Value>, name: &str) -> Result<Option<bool>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{name} must be a boolean")),
    }
}

/// A string field of a JSON object: `Ok(None)` when absent (or null).
pub(crate) fn string_field(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

/// Parses a duration as Scaleway and protojson write it (`<int>[.<frac>]s`) into whole
/// seconds, rounding a fraction up.
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
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

/// Why a duration field was refused (each dialect words it its own way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// A string that is not a duration.
    Malformed,
    /// Not a string.
    NotAString,
}

/// A duration field of a JSON object (see [`parse_duration`]), in seconds: `Ok(None)` when
/// absent (or null).
pub(crate) fn duration_field(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<u64>, DurationError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_duration(text)
            .map(Some)
            .ok_or(DurationError::Malformed),
        Some(_) => Err(DurationError::NotAString),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_up_and_fields() {
        assert_eq!(ceil_div(0, 60), 0);
        assert_eq!(ceil_div(60, 60), 1);
        assert_eq!(ceil_div(61, 60), 2);
        let fields = json_object(br#"{"a": 3, "b": "4", "c": -1, "d": true}"#).unwrap();
        assert_eq!(uint_field(&fields, "a", false), Ok(Some(3)));
        assert!(uint_field(&fields, "b", false).is_err());
        assert_eq!(uint_field(&fields, "b", true), Ok(Some(4)));
        assert!(uint_field(&fields, "c", true).is_err());
        assert_eq!(uint_field(&fields, "z", true), Ok(None));
        assert_eq!(bool_field(&fields, "d"), Ok(Some(true)));
        assert!(bool_field(&fields, "a").is_err());
        assert!(json_object(b"[1]").is_err());
        assert!(json_object(b"{").is_err());
        assert!(json_object(b"  ").unwrap().is_empty());
    }

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
        let fields = json_object(br#"{"a": "2.5s", "b": "2", "c": 2, "d": null}"#).unwrap();
        assert_eq!(duration_field(&fields, "a"), Ok(Some(3)));
        assert_eq!(duration_field(&fields, "b"), Err(DurationError::Malformed));
        assert_eq!(duration_field(&fields, "c"), Err(DurationError::NotAString));
        assert_eq!(duration_field(&fields, "d"), Ok(None));
        assert_eq!(duration_field(&fields, "z"), Ok(None));
    }

    #[test]
    fn errors_fold_into_classes() {
        assert_eq!(
            classify(ServiceError::MfaEnrollmentRequired),
            (
                Class::Denied,
                "this session may only enroll a second factor".into()
            )
        );
        assert_eq!(
            classify(ServiceError::Internal("secret".into())),
            (Class::Internal, "internal error".into())
        );
        assert_eq!(object(serde_json::json!([1])), Map::new());
    }
}
