//! What every dialect shares: credentials from headers, the request context, JSON bodies, and
//! unit conversions that round up.
//!
//! Invariant: conversions to a coarser unit round up (a 61-second value reads as 2 minutes), so
//! a dialect never reports a limit looser than the one enforced.

use axum::http::HeaderMap;
use portcullis_http::AppState;
use portcullis_http::extract::RequestId;
use portcullis_service::{Caller, Context, ServiceError, ServiceResult};
use serde_json::Value;

/// Canonical merge patches, one per section, as the service's `patch_policy` takes them.
pub(crate) type Patches = Vec<(portcullis_model::SectionKind, Value)>;

/// The patches that name at least one field, as `patch_policy` takes them.
pub(crate) fn non_empty<const N: usize>(
    patches: [(
        portcullis_model::SectionKind,
        serde_json::Map<String, Value>,
    ); N],
) -> Patches {
    patches
        .into_iter()
        .filter(|(_, patch)| !patch.is_empty())
        .map(|(kind, patch)| (kind, Value::Object(patch)))
        .collect()
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
    request_id: Option<&RequestId>,
) -> ServiceResult<(Caller, Context)> {
    let token = token.ok_or(ServiceError::Unauthenticated)?;
    let caller = state.service.authenticate(token).await?;
    let ctx = context(&caller, request_id);
    Ok((caller, ctx))
}

/// The event context of `caller` in this request.
pub(crate) fn context(caller: &Caller, request_id: Option<&RequestId>) -> Context {
    Context::new(caller.actor.clone(), request_id.map(|r| r.0.clone()))
}

/// A JSON object body; an empty body is `{}`.
pub(crate) fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(e) => Err(format!("the body is not valid JSON: {e}")),
    }
}

/// `seconds` in whole `unit`s, rounded up.
pub(crate) fn ceil_div(seconds: u64, unit: u64) -> u64 {
    seconds.div_ceil(unit)
}

/// Seconds since the Unix epoch of a timestamp, in milliseconds.
pub(crate) fn epoch_ms(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The text of a service error that may be shown to a client (never internal details).
pub(crate) fn public_message(error: &ServiceError) -> String {
    match error {
        ServiceError::Invalid(violations) => violations.to_string(),
        ServiceError::NotFound => "not found".into(),
        ServiceError::Conflict(what) => what.clone(),
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
pub(crate) fn log_if_server_side(error: &ServiceError) {
    match error {
        ServiceError::Internal(m) => tracing::error!(error = %m, "internal error"),
        ServiceError::Unavailable(m) => tracing::warn!(error = %m, "store unavailable"),
        _ => {}
    }
}

/// A number field of a JSON object: `Ok(None)` when absent (or null), an error text when not a
/// non-negative integer. `strings` also accepts decimal digits in a string (protojson).
pub(crate) fn uint_field(
    fields: &serde_json::Map<String, Value>,
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
pub(crate) fn bool_field(
    fields: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<bool>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{name} must be a boolean")),
    }
}

/// A string field of a JSON object: `Ok(None)` when absent (or null).
pub(crate) fn string_field(
    fields: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<String>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{name} must be a string")),
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
}
