//! `PUT /v1/orgs/{org}/policy` and `PUT /v1/instance/policy`: a whole scope's sections replaced
//! at once, conditional on the version its `GET` answered as `ETag` (policy as code).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use portcullis_service::{PolicyScope, ReplaceOutcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Auth, JsonBody};
use crate::routes::policy::with_etag;
use portcullis_model::{Violation, codes};

/// Every section of one scope. A listed section becomes exactly this value (fields left out
/// take their built-in defaults, as with `PUT …/policy/{section}`); an organization's unlisted
/// sections are inherited again, the instance's return to the built-in default.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopePolicy {
    /// Section name → value (`password`, `lockout`, `brute_force`, `session`, `tokens`,
    /// `api_keys`, `mfa`, `features`).
    #[schema(value_type = crate::schemas::ScopeSectionsSchema)]
    pub sections: BTreeMap<String, Value>,
}

/// What a replacement did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplaceAnswer {
    /// The scope's version now (also the `ETag` header).
    pub version: String,
    /// Sections written.
    pub changed: Vec<String>,
    /// Sections reset: inherited again (an organization) or back to the built-in default (the
    /// instance).
    pub reset: Vec<String>,
}

impl From<ReplaceOutcome> for ReplaceAnswer {
    fn from(o: ReplaceOutcome) -> ReplaceAnswer {
        let ReplaceOutcome {
            version,
            changed,
            reset,
        } = o;
        ReplaceAnswer {
            version,
            changed: changed.iter().map(|k| k.as_str().to_owned()).collect(),
            reset: reset.iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }
}

/// The version an `If-Match` header names (`"v"`, `W/"v"` or `v`); `None` without one or for
/// `*` (any version). A header that is not text is refused, never read as "no condition".
fn if_match(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::invalid(vec![Violation::new(
            "If-Match",
            codes::INVALID_JSON,
            "must be a version as `GET …/policy` answered it in ETag",
        )])
    })?;
    let text = text.trim();
    if text == "*" {
        return Ok(None);
    }
    let text = text.strip_prefix("W/").unwrap_or(text);
    Ok(Some(text.trim_matches('"').to_owned()))
}

async fn replace(
    state: AppState,
    auth: Auth,
    headers: &HeaderMap,
    scope: PolicyScope,
    body: ScopePolicy,
) -> ApiResult<Response> {
    let expected = if_match(headers)?;
    let outcome = state
        .service
        .replace_policy(
            &auth.caller,
            &auth.ctx,
            &scope,
            &body.sections,
            expected.as_deref(),
        )
        .await?;
    let version = outcome.version.clone();
    Ok(with_etag(
        axum::Json(ReplaceAnswer::from(outcome)).into_response(),
        &version,
    ))
}

/// Replaces every section of an organization at once, atomically: listed sections get these
/// values, unlisted ones are inherited again; every section is validated first (one invalid
/// field anywhere → `400` with every violation, nothing written). With `If-Match: "<version>"`
/// (the `ETag` of `GET …/policy`) the write happens only while the organization's sections are
/// still at that version (`412 precondition_failed` otherwise). An unchanged body writes
/// nothing and records no event.
#[utoipa::path(put, path = "/v1/orgs/{org}/policy", tag = "policy",
    params(("org" = String, Path, description = "Organization id"),
        ("If-Match" = Option<String>, Header, description = "The version the change was planned against")),
    request_body = ScopePolicy,
    responses((status = 200, body = ReplaceAnswer,
        headers(("ETag" = String, description = "The organization's policy version now"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 412, body = Problem),
        (status = 409, body = Problem, description = "Other writes kept changing the policy meanwhile; retry")))]
pub async fn replace_org_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ScopePolicy>,
) -> ApiResult<Response> {
    replace(state, auth, &headers, PolicyScope::Org(org), body).await
}

/// Replaces every instance default at once, atomically (instance administrators): listed
/// sections get these values, unlisted ones return to the built-in defaults; the same
/// validation, `If-Match` and no-op rules as for an organization.
#[utoipa::path(put, path = "/v1/instance/policy", tag = "policy",
    params(("If-Match" = Option<String>, Header, description = "The version the change was planned against")),
    request_body = ScopePolicy,
    responses((status = 200, body = ReplaceAnswer,
        headers(("ETag" = String, description = "The instance defaults' version now"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 412, body = Problem),
        (status = 409, body = Problem, description = "Other writes kept changing the policy meanwhile; retry")))]
pub async fn replace_instance_policy(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ScopePolicy>,
) -> ApiResult<Response> {
    replace(state, auth, &headers, PolicyScope::Instance, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_reads_strong_weak_and_bare_versions() {
        let with = |v: &str| -> ApiResult<Option<String>> {
            let mut h = HeaderMap::new();
            h.insert(header::IF_MATCH, v.parse().unwrap());
            if_match(&h)
        };
        assert_eq!(with("\"abc\"").unwrap().as_deref(), Some("abc"));
        assert_eq!(with("W/\"abc\"").unwrap().as_deref(), Some("abc"));
        assert_eq!(with("abc").unwrap().as_deref(), Some("abc"));
        assert_eq!(with("*").unwrap(), None);
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        let mut bytes = HeaderMap::new();
        bytes.insert(
            header::IF_MATCH,
            header::HeaderValue::from_bytes(b"\"caf\xe9\"").unwrap(),
        );
        assert!(if_match(&bytes).is_err(), "never unconditional");
    }
}
