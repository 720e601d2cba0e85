//! Who calls: an access key's `SDK-HMAC-SHA256` signature (host and date signed, the date
//! within 15 minutes of the server's clock, the body hash checked), or an ordinary token in
//! `X-Auth-Token`, which comes first.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use portcullis_http::AppState;
use portcullis_service::{Caller, Context, ServiceError};

use super::errors::HuaweiError;
use super::signing;
use crate::common::{self, Rid};

/// Largest clock difference accepted in `X-Sdk-Date`, in seconds.
const MAX_CLOCK_SKEW: i64 = 15 * 60;

/// A request to `{domain_id}/{policy}`: the path, the request id and everything the signature
/// covers, extracted as the individual extractors would (with their rejections).
pub(super) struct PolicyRequest {
    pub(super) domain_id: String,
    pub(super) segment: String,
    pub(super) method: Method,
    pub(super) uri: Uri,
    pub(super) headers: HeaderMap,
    pub(super) rid: Rid,
    pub(super) body: Bytes,
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

pub(super) async fn caller_of(
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
