//! `POST /oauth/token`: client credentials (an organization API key's id and secret, in the
//! form body or HTTP Basic) exchanged for a bearer access token, apart from the policy CRUD.
//! Errors are OAuth 2.0's `{error, error_description}`, except the service's own failures,
//! which use the SailPoint envelope.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_http::AppState;
use portcullis_service::{Context, ServiceError};
use serde::Serialize;

use super::errors::SailPointError;
use crate::common::{self, Rid};

/// A token answer.
#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

/// An OAuth 2.0 error answer.
#[derive(Serialize)]
struct OAuthError<'a> {
    error: &'a str,
    error_description: &'a str,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = OAuthError {
        error,
        error_description: description,
    };
    (status, Json(common::to_json(&body))).into_response()
}

/// `POST /oauth/token`, client credentials in the form body (or HTTP Basic).
pub(super) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if field("grant_type").as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let basic = common::basic_credentials(&headers);
    let (Some(id), Some(secret)) = (
        field("client_id").or_else(|| basic.as_ref().map(|b| b.0.clone())),
        field("client_secret").or_else(|| basic.as_ref().map(|b| b.1.clone())),
    ) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        );
    };
    let ctx = Context::new(format!("key:{id}"), rid.as_ref().map(|r| r.0.0.clone()));
    match state
        .service
        .exchange_client_credentials(&ctx, &id, &secret)
        .await
    {
        Ok(issued) => Json(common::to_json(&TokenAnswer {
            access_token: issued.access_token,
            token_type: "bearer",
            expires_in: issued.expires_in,
        }))
        .into_response(),
        Err(ServiceError::Unauthenticated) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        ),
        Err(other) => SailPointError::from_service(other, &rid).into_response(),
    }
}
