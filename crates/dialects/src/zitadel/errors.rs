//! ZITADEL error bodies: v1 (grpc-gateway) `{code: <number>, message, details}` with the
//! standard gRPC-to-HTTP status mapping, and v2 (Connect) `{code: "<name>", message}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_service::ServiceError;
use serde_json::json;

use crate::common::{self, Class};

/// The gRPC status codes this dialect answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    /// 3, HTTP 400.
    InvalidArgument,
    /// 5, HTTP 404.
    NotFound,
    /// 6, HTTP 409.
    AlreadyExists,
    /// 7, HTTP 403.
    PermissionDenied,
    /// 9, HTTP 400.
    FailedPrecondition,
    /// 13, HTTP 500.
    Internal,
    /// 14, HTTP 503.
    Unavailable,
    /// 16, HTTP 401.
    Unauthenticated,
}

impl Code {
    fn number(self) -> u16 {
        match self {
            Code::InvalidArgument => 3,
            Code::NotFound => 5,
            Code::AlreadyExists => 6,
            Code::PermissionDenied => 7,
            Code::FailedPrecondition => 9,
            Code::Internal => 13,
            Code::Unavailable => 14,
            Code::Unauthenticated => 16,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Code::InvalidArgument => "invalid_argument",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::FailedPrecondition => "failed_precondition",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition => StatusCode::BAD_REQUEST,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists => StatusCode::CONFLICT,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        }
    }
}

/// Which API generation answers: the body shapes differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Generation {
    /// grpc-gateway (`/management/v1`, `/admin/v1`).
    V1,
    /// Connect (`/zitadel.settings.v2.SettingsService/...`).
    V2,
}

/// A ZITADEL error answer.
#[derive(Debug)]
pub(crate) struct ZitadelError {
    code: Code,
    id: &'static str,
    message: String,
    generation: Generation,
}

impl ZitadelError {
    /// An error with its code, a stable id and a message.
    pub(crate) fn new(code: Code, id: &'static str, message: impl Into<String>) -> ZitadelError {
        ZitadelError {
            code,
            id,
            message: message.into(),
            generation: Generation::V1,
        }
    }

    /// The same error in the shape of `generation`.
    pub(crate) fn in_generation(mut self, generation: Generation) -> ZitadelError {
        self.generation = generation;
        self
    }

    /// A service error, mapped once.
    pub(crate) fn from_service(error: ServiceError) -> ZitadelError {
        let (class, message) = common::classify(error);
        let (code, id) = match class {
            Class::Invalid => (Code::InvalidArgument, "POLICY-invalid"),
            Class::NotFound => (Code::NotFound, "POLICY-notfound"),
            Class::Conflict => (Code::AlreadyExists, "POLICY-exists"),
            Class::Unauthenticated => (Code::Unauthenticated, "AUTH-unauthenticated"),
            Class::Denied => (Code::PermissionDenied, "AUTH-denied"),
            Class::Unavailable => (Code::Unavailable, "STORE-unavailable"),
            Class::Internal => (Code::Internal, "SERVER-internal"),
        };
        ZitadelError::new(code, id, message)
    }
}

impl IntoResponse for ZitadelError {
    fn into_response(self) -> Response {
        let message = format!("{} ({})", self.message, self.id);
        let body = match self.generation {
            Generation::V1 => json!({
                "code": self.code.number(),
                "message": message,
                "details": [{"@type": "type.googleapis.com/zitadel.v1.ErrorDetail",
                             "id": self.id, "message": self.message}],
            }),
            Generation::V2 => json!({"code": self.code.name(), "message": message}),
        };
        (self.code.status(), Json(body)).into_response()
    }
}
