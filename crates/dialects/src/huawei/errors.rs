//! The Huawei error envelope, `{error_code, error_msg}`, and the mapping of service errors to
//! Huawei's codes. Several input errors go out as one: the first, with the others appended.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_service::ServiceError;
use serde_json::{Value, json};

use crate::common::{self, Class};

/// A Huawei error answer.
#[derive(Debug)]
pub struct HuaweiError {
    status: StatusCode,
    code: &'static str,
    pub(super) message: String,
}

impl HuaweiError {
    pub(super) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> HuaweiError {
        HuaweiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn out_of_range(message: impl Into<String>) -> HuaweiError {
        HuaweiError::new(StatusCode::BAD_REQUEST, "IAM.0072", message)
    }

    pub(super) fn malformed(message: impl Into<String>) -> HuaweiError {
        HuaweiError::new(StatusCode::BAD_REQUEST, "IAM.0073", message)
    }

    pub(super) fn unauthenticated(message: impl Into<String>) -> HuaweiError {
        HuaweiError::new(StatusCode::UNAUTHORIZED, "IAM.0001", message)
    }

    pub(super) fn from_service(error: ServiceError) -> HuaweiError {
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

pub(super) type Answer = Result<Json<Value>, HuaweiError>;

/// The first error (the envelope carries one), with the others appended to its message.
pub(super) fn first_error(mut errors: Vec<HuaweiError>) -> Result<(), HuaweiError> {
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
