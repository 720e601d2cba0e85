//! The SailPoint error envelope: `{detailCode, trackingId, messages: [{locale, localeOrigin,
//! text}], causes}`, except a 401, which is `{error: "JWT validation failed: ..."}` as
//! SailPoint's gateway answers it. The tracking id is the request id.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_service::ServiceError;
use serde::Serialize;
use serde_json::Value;

use crate::common::{self, Class, Rid};

/// A SailPoint error answer.
#[derive(Debug)]
pub struct SailPointError {
    status: StatusCode,
    message: String,
    tracking_id: String,
}

/// The error body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    detail_code: &'static str,
    tracking_id: &'a str,
    messages: [Message<'a>; 1],
    causes: [Value; 0],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    locale: &'static str,
    locale_origin: &'static str,
    text: &'a str,
}

/// The body of a 401.
#[derive(Serialize)]
struct GatewayError {
    error: String,
}

impl SailPointError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>, rid: &Rid) -> SailPointError {
        SailPointError {
            status,
            message: message.into(),
            tracking_id: rid.as_ref().map(|r| r.0.0.clone()).unwrap_or_default(),
        }
    }

    pub(super) fn from_service(error: ServiceError, rid: &Rid) -> SailPointError {
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

    /// Every problem of a request body, in one 400.
    pub(super) fn invalid(errors: Vec<String>, rid: &Rid) -> SailPointError {
        SailPointError::new(StatusCode::BAD_REQUEST, errors.join("; "), rid)
    }
}

impl IntoResponse for SailPointError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            let body = GatewayError {
                error: format!("JWT validation failed: {}", self.message),
            };
            return (self.status, Json(common::to_json(&body))).into_response();
        }
        let detail_code = match self.status.as_u16() {
            400 => "400.1 Bad request content",
            403 => "403 Forbidden",
            404 => "404 Not found",
            409 => "409 Conflict",
            503 => "503 Service unavailable",
            _ => "500.0 Internal fault",
        };
        let body = Envelope {
            detail_code,
            tracking_id: &self.tracking_id,
            messages: [Message {
                locale: "en-US",
                locale_origin: "DEFAULT",
                text: &self.message,
            }],
            causes: [],
        };
        (self.status, Json(common::to_json(&body))).into_response()
    }
}
