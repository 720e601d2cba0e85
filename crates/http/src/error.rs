//! Errors at the HTTP edge: RFC 9457 `application/problem+json`, mapped once from the service's
//! error. Internal causes are logged here and never sent; violation lists are sent whole.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_model::Violation;
use portcullis_service::ServiceError;
use serde::Serialize;

/// A problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code (`validation_failed`, `invalid_credentials`, ...).
    pub code: String,
    /// Human explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every violated rule, for `validation_failed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub violations: Vec<Violation>,
    /// When a revealed lock ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<String>,
}

/// An error answered as problem+json.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    problem: Box<Problem>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// A problem with a status, code and title.
    pub fn new(status: StatusCode, code: &str, title: &str) -> ApiError {
        ApiError {
            status,
            problem: Box::new(Problem {
                kind: format!("https://portcullis.dev/problems/{code}"),
                title: title.to_owned(),
                status: status.as_u16(),
                code: code.to_owned(),
                detail: None,
                violations: Vec::new(),
                locked_until: None,
            }),
            retry_after: None,
        }
    }

    /// Adds a detail text.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> ApiError {
        self.problem.detail = Some(detail.into());
        self
    }

    /// A 400 listing every violation.
    pub fn invalid(violations: Vec<Violation>) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "The request is not valid",
        );
        e.problem.violations = violations;
        e
    }

    /// 404.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found")
    }

    /// Sets `locked_until`.
    #[must_use]
    pub fn locked_until(mut self, until: Option<String>) -> ApiError {
        self.problem.locked_until = until;
        self
    }

    /// Sets `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::Invalid(v) => ApiError::invalid(v.into_vec()),
            ServiceError::NotFound => ApiError::not_found(),
            ServiceError::Conflict(what) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(what)
            }
            ServiceError::LastInstanceKey => ApiError::new(
                StatusCode::CONFLICT,
                "last_instance_key",
                "The last instance key cannot be revoked",
            )
            .detail("create another instance key first (rotation: create the new key, then revoke the old one)"),
            ServiceError::PreconditionFailed => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "The resource changed since the version named in If-Match",
            )
            .detail("read it again (its ETag), compare, and retry"),
            ServiceError::Taken { code, detail } => {
                ApiError::new(StatusCode::CONFLICT, code, "Conflict").detail(detail)
            }
            ServiceError::AddressBlocked { retry_after } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ip_blocked",
                "Too many failed attempts from this address",
            )
            .retry_after(retry_after),
            ServiceError::Unauthenticated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Valid credentials are required",
            ),
            ServiceError::Forbidden(why) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").detail(why)
            }
            ServiceError::PasswordChangeRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "The password must be changed first",
            ),
            ServiceError::MfaEnrollmentRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "mfa_enrollment_required",
                "A second factor must be enrolled first",
            ),
            ServiceError::Unavailable(cause) => {
                tracing::warn!(%cause, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The service is temporarily unavailable",
                )
                .retry_after(1)
            }
            ServiceError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
