//! Service errors as pages: mapped once, here. A form's own violations are shown next to its
//! fields by the form's handler; what reaches this module is shown as a page.
//!
//! Invariant: `Internal` and `Unavailable` details are logged with the request id, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_service::ServiceError;

use crate::layout::bare_page;

/// A failed page.
#[derive(Debug)]
pub(crate) struct Failure(pub ServiceError);

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Failure {
        Failure(e)
    }
}

/// What page handlers answer.
pub(crate) type PageResult = Result<Response, Failure>;

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, title, text) = match &self.0 {
            ServiceError::Unauthenticated => {
                return Redirect::to("/console/signin").into_response();
            }
            ServiceError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it belongs to another organization.".to_owned(),
            ),
            ServiceError::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                format!("Your role does not allow this: {why}."),
            ),
            ServiceError::PasswordChangeRequired => (
                StatusCode::FORBIDDEN,
                "Password change required",
                "Change your password before you go on.".to_owned(),
            ),
            ServiceError::MfaEnrollmentRequired => (
                StatusCode::FORBIDDEN,
                "Second factor required",
                "Set up a second factor before you go on.".to_owned(),
            ),
            ServiceError::Invalid(v) => (
                StatusCode::BAD_REQUEST,
                "Invalid request",
                v.as_slice()
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ServiceError::Conflict(what) => (StatusCode::CONFLICT, "Conflict", what.clone()),
            ServiceError::LastInstanceKey => (
                StatusCode::CONFLICT,
                "Last instance key",
                "The last instance key cannot be revoked.".to_owned(),
            ),
            ServiceError::Taken { detail, .. } => {
                (StatusCode::CONFLICT, "Already taken", (*detail).to_owned())
            }
            ServiceError::AddressBlocked { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                format!(
                    "Too many attempts from your address. Try again in {}.",
                    crate::layout::duration(*retry_after)
                ),
            ),
            ServiceError::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "Changed meanwhile",
                "Someone changed this meanwhile. Reload the page and try again.".to_owned(),
            ),
            ServiceError::Unavailable(detail) => {
                tracing::warn!(%detail, "page: the store is unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    "The service is unavailable right now. Try again in a moment.".to_owned(),
                )
            }
            ServiceError::Internal(detail) => {
                tracing::error!(%detail, "page: internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side; it has been logged.".to_owned(),
                )
            }
        };
        (status, bare_page(title, &text)).into_response()
    }
}
