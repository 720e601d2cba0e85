//! `/v1/self/mfa/totp` (enrollment, confirmation, removal), `/v1/orgs/{org}/login/mfa` (the
//! login's second step) and `/v1/orgs/{org}/users/{id}/mfa` (an administrator's reset).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portcullis_service::MfaLoginRequest;
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{Anonymous, Auth, ClientIp, JsonBody};
use crate::routes::session::answer;
use crate::service_views::{RecoveryCodes, TotpEnrollment};
use crate::views::LoginResponse;

/// A TOTP code.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The 6-digit code the authenticator app shows now.
    pub code: String,
}

/// The account's password, to confirm a removal.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// The current password.
    pub password: String,
}

/// The second step of a login.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaLoginBody {
    /// The `challenge` of the password step's answer.
    pub challenge: String,
    /// A TOTP code, or one of the recovery codes.
    pub code: String,
}

/// Starts a TOTP enrollment: the secret and `otpauth://` URI, shown once.
#[utoipa::path(post, path = "/v1/self/mfa/totp", tag = "mfa",
    responses((status = 201, body = TotpEnrollment), (status = 409, body = Problem)))]
pub async fn start_totp(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<(StatusCode, Json<TotpEnrollment>)> {
    let enrollment = state
        .service
        .start_totp_enrollment(&auth.caller, &auth.ctx)
        .await?;
    Ok((StatusCode::CREATED, Json(enrollment.into())))
}

/// Confirms the enrollment with a current code; answers ten single-use recovery codes, once.
#[utoipa::path(post, path = "/v1/self/mfa/totp/confirm", tag = "mfa", request_body = CodeBody,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = Problem),
              (status = 404, body = Problem, description = "no enrollment in progress")))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CodeBody>,
) -> ApiResult<Json<RecoveryCodes>> {
    let codes = state
        .service
        .confirm_totp(&auth.caller, &auth.ctx, &body.code)
        .await?;
    Ok(Json(codes.into()))
}

/// Removes the caller's second factor (the password is checked again).
#[utoipa::path(delete, path = "/v1/self/mfa/totp", tag = "mfa", request_body = PasswordBody,
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_totp(
    State(state): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<PasswordBody>,
) -> ApiResult<StatusCode> {
    state
        .service
        .remove_own_totp(&auth.caller, &auth.ctx, &body.password, ip)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Completes a login with a TOTP or recovery code.
#[utoipa::path(post, path = "/v1/orgs/{org}/login/mfa", tag = "sessions",
    params(("org" = String, Path, description = "Organization id")), request_body = MfaLoginBody,
    security(()),
    responses((status = 200, body = LoginResponse),
              (status = 401, body = Problem, description = "invalid_code, invalid_challenge"),
              (status = 403, body = Problem, description = "account_locked: the one-time-code counter is exhausted"),
              (status = 404, body = Problem),
              (status = 429, body = Problem, description = "ip_blocked, with Retry-After")))]
pub async fn login_mfa(
    State(state): State<AppState>,
    Anonymous(ctx): Anonymous,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<MfaLoginBody>,
) -> ApiResult<Json<LoginResponse>> {
    let request = MfaLoginRequest {
        challenge: body.challenge,
        code: body.code,
        ip,
    };
    answer(
        state
            .service
            .complete_mfa_login(&ctx, &org, request)
            .await?,
    )
}

/// Removes a user's second factor (administrators; e.g. a lost device).
#[utoipa::path(delete, path = "/v1/orgs/{org}/users/{id}/mfa", tag = "mfa",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "User id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn reset_user_mfa(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .service
        .reset_user_mfa(&auth.caller, &auth.ctx, &org, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
