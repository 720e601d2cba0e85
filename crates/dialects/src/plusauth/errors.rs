//! The PlusAuth error envelope, `{error, error_description, status}`, and the mapping of service
//! errors to PlusAuth's error names. A role that is too weak answers 401 `missing_scope`, as
//! PlusAuth does.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_service::ServiceError;
use serde::Serialize;

use crate::common::{self, Class};

/// A PlusAuth error answer.
#[derive(Debug)]
pub struct PlusAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

/// The envelope as it goes out.
#[derive(Serialize)]
struct Envelope<'a> {
    error: &'a str,
    error_description: &'a str,
    status: u16,
}

impl PlusAuthError {
    pub(super) fn invalid(description: impl Into<String>) -> PlusAuthError {
        PlusAuthError {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
        }
    }

    pub(super) fn missing_token() -> PlusAuthError {
        PlusAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "missing_token",
            description: "an Authorization: Bearer token is required".into(),
        }
    }

    pub(super) fn from_service(error: ServiceError) -> PlusAuthError {
        let (class, description) = common::classify(error);
        let (status, error) = match class {
            Class::Invalid => (StatusCode::BAD_REQUEST, "invalid_request"),
            Class::NotFound => (StatusCode::NOT_FOUND, "entity_not_found"),
            Class::Conflict => (StatusCode::CONFLICT, "already_exists"),
            Class::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthorized_user"),
            Class::Denied => (StatusCode::UNAUTHORIZED, "missing_scope"),
            Class::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "server_error"),
            Class::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        PlusAuthError {
            status,
            error,
            description,
        }
    }
}

impl IntoResponse for PlusAuthError {
    fn into_response(self) -> Response {
        let body = common::to_json(&Envelope {
            error: self.error,
            error_description: &self.description,
            status: self.status.as_u16(),
        });
        (self.status, Json(body)).into_response()
    }
}
