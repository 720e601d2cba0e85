//! ZITADEL errors: one gRPC code, id and message per error, shown in each transport's envelope —
//! the grpc-gateway body of the REST routes `{code: <number>, message, details}` with the
//! standard gRPC-to-HTTP status mapping, Connect's `{code: "<name>", message}` with the same HTTP
//! status, and gRPC's `grpc-status` and `grpc-message` (the same number and message).

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
    /// 12, HTTP 501.
    Unimplemented,
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
            Code::Unimplemented => 12,
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
            Code::Unimplemented => "unimplemented",
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
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        }
    }
}

/// The JSON error body an answer has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Envelope {
    /// grpc-gateway: the REST routes (`/management/v1`, `/admin/v1`).
    Gateway,
    /// Connect: the RPC paths (`/zitadel.<package>.<Service>/<Method>`).
    Connect,
}

/// A ZITADEL error answer.
#[derive(Debug)]
pub(crate) struct ZitadelError {
    code: Code,
    id: &'static str,
    message: String,
    envelope: Envelope,
}

impl ZitadelError {
    /// An error with its code, a stable id and a message.
    pub(crate) fn new(code: Code, id: &'static str, message: impl Into<String>) -> ZitadelError {
        ZitadelError {
            code,
            id,
            message: message.into(),
            envelope: Envelope::Gateway,
        }
    }

    /// The same error in the body of `envelope`.
    pub(crate) fn in_envelope(mut self, envelope: Envelope) -> ZitadelError {
        self.envelope = envelope;
        self
    }

    /// The gRPC status: the code's number and the message (`grpc-status`, `grpc-message`).
    pub(crate) fn grpc_status(&self) -> (u16, String) {
        (self.code.number(), self.text())
    }

    /// The message every envelope shows: the text and the id.
    fn text(&self) -> String {
        format!("{} ({})", self.message, self.id)
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
        let message = self.text();
        let body = match self.envelope {
            Envelope::Gateway => json!({
                "code": self.code.number(),
                "message": message,
                "details": [{"@type": "type.googleapis.com/zitadel.v1.ErrorDetail",
                             "id": self.id, "message": self.message}],
            }),
            Envelope::Connect => json!({"code": self.code.name(), "message": message}),
        };
        (self.code.status(), Json(body)).into_response()
    }
}
