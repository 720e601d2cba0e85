//! `POST /oauth/token`: client credentials (an organization API key's id and secret, in the
//! body or HTTP Basic) exchanged for a bearer access token, apart from the policy CRUD.
//!
//! Invariants: the body is read as its `Content-Type` says — `application/x-www-form-urlencoded`
//! (also when no type is given) or `multipart/form-data` (what the npm client sends); any other
//! type, or a body that cannot be read as its type, is an `invalid_request` that names the
//! problem, never a grant-type error. Errors are OAuth 2.0's `{error, error_description}`,
//! except the service's own failures, which use the SailPoint envelope. No description ever
//! repeats a submitted value.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
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

fn invalid_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// The media types a token request may have.
const FORM: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";

/// The fields of a token request's body, in order, read as its media type says.
async fn body_fields(request: Request) -> Result<Vec<(String, String)>, Response> {
    let media_type = match request.headers().get(header::CONTENT_TYPE) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .map(|essence| essence.trim().to_ascii_lowercase())
                .ok_or_else(|| invalid_request("the Content-Type header is not readable"))?,
        ),
    };
    match media_type.as_deref() {
        None | Some(FORM) => {
            let body = Bytes::from_request(request, &()).await.map_err(|_| {
                invalid_request("the request body could not be read (at most 2 MiB)")
            })?;
            Ok(form_urlencoded::parse(&body).into_owned().collect())
        }
        Some(MULTIPART) => {
            let unreadable = || invalid_request("the multipart/form-data body is malformed");
            let mut multipart = Multipart::from_request(request, &())
                .await
                .map_err(|_| unreadable())?;
            let mut fields = Vec::new();
            while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
                let name = field.name().map(str::to_owned);
                let value = field.text().await.map_err(|_| unreadable())?;
                if let Some(name) = name {
                    fields.push((name, value));
                }
            }
            Ok(fields)
        }
        Some(other) => {
            // The type is echoed only when it is short and plain (it is no secret).
            let shown = if other.len() <= 64
                && other
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/+-.".contains(&b))
            {
                other
            } else {
                "another type"
            };
            Err(invalid_request(&format!(
                "the body must be {FORM} or {MULTIPART}, not {shown}"
            )))
        }
    }
}

/// `POST /oauth/token`, client credentials in the body (or HTTP Basic).
pub(super) async fn token(State(state): State<AppState>, rid: Rid, request: Request) -> Response {
    let headers = request.headers().clone();
    let form = match body_fields(request).await {
        Ok(fields) => fields,
        Err(refused) => return refused,
    };
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match field("grant_type").as_deref() {
        Some("client_credentials") => {}
        None => return invalid_request("grant_type is required (client_credentials)"),
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be client_credentials",
            );
        }
    }
    let basic = common::basic_credentials(&headers);
    let (Some(id), Some(secret)) = (
        field("client_id").or_else(|| basic.as_ref().map(|b| b.0.clone())),
        field("client_secret").or_else(|| basic.as_ref().map(|b| b.1.clone())),
    ) else {
        return invalid_request("client_id and client_secret are required");
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
