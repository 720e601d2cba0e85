//! Login, the caller's own account, logout.
//!
//! Invariant: the body of an `invalid_credentials` answer is one constant, so an unknown user, a
//! wrong password and a hidden lock are byte-identical.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portcullis_service::{LoginAnswer, LoginRequest, ServiceError};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Anonymous, Auth, ClientIp, JsonBody};
use crate::views::{LoginResponse, SelfView, SessionToken, rfc3339};

/// Login credentials.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Login name.
    pub login: String,
    /// Password.
    pub password: String,
}

/// A password change by its owner.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The current password.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

pub(crate) fn answer(answer: LoginAnswer) -> ApiResult<Json<LoginResponse>> {
    match answer {
        LoginAnswer::MfaChallenge(c) => Ok(Json(LoginResponse {
            session: None,
            challenge: Some(c.challenge),
            challenge_expires_at: Some(rfc3339(c.expires_at)),
            user_id: c.user_id,
            password_change_required: c.password_change_required,
            mfa_required: true,
            mfa_enroll_by: None,
            password_expires_at: None,
            last_login: None,
            banner: None,
        })),
        LoginAnswer::Granted(g) => Ok(Json(LoginResponse {
            session: Some(SessionToken {
                token: g.token,
                expires_at: rfc3339(g.expires_at),
                idle_expires_at: g.idle_expires_at.map(rfc3339),
            }),
            challenge: None,
            challenge_expires_at: None,
            user_id: g.user_id,
            password_change_required: g.password_change_required,
            mfa_required: false,
            mfa_enroll_by: g.mfa_enroll_by.map(rfc3339),
            password_expires_at: g.password_expires_at.map(rfc3339),
            last_login: g.last_login.map(Into::into),
            banner: g.banner,
        })),
        LoginAnswer::InvalidCredentials => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid login name or password",
        )),
        LoginAnswer::Locked { until } => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_locked",
            "The account is locked",
        )
        .locked_until(until.map(rfc3339))),
        LoginAnswer::Disabled => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "The account is disabled",
        )),
        LoginAnswer::EmailNotVerified => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "email_not_verified",
            "The email address is not verified yet; use the link in the verification mail",
        )),
        LoginAnswer::PasswordExpired => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "password_expired",
            "The password has expired; an administrator must set a new one",
        )),
        LoginAnswer::MfaEnrollmentOverdue => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "mfa_enrollment_overdue",
            "A second factor is required and was not enrolled in time",
        )),
        LoginAnswer::InvalidCode => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_code",
            "The code is not valid",
        )),
        LoginAnswer::InvalidChallenge => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_challenge",
            "The challenge is unknown, expired or already used; log in again",
        )),
        LoginAnswer::IpBlocked { retry_after } => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ip_blocked",
            "Too many failed logins from this address",
        )
        .retry_after(retry_after)),
    }
}

/// Logs in with a password.
#[utoipa::path(post, path = "/v1/orgs/{org}/login", tag = "sessions",
    params(("org" = String, Path, description = "Organization id")), request_body = LoginBody,
    security(()),
    responses((status = 200, body = LoginResponse),
              (status = 401, body = Problem, description = "invalid_credentials"),
              (status = 403, body = Problem, description = "account_locked, account_disabled, password_expired, mfa_enrollment_overdue, email_not_verified"),
              (status = 429, body = Problem, description = "ip_blocked, with Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    Anonymous(ctx): Anonymous,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<LoginBody>,
) -> ApiResult<Json<LoginResponse>> {
    let request = LoginRequest {
        login: body.login,
        password: body.password,
        ip,
    };
    answer(state.service.login(&ctx, &org, request).await?)
}

/// Changes the caller's own password; answers a fresh session (all others end).
#[utoipa::path(post, path = "/v1/self/password", tag = "sessions", request_body = ChangePassword,
    responses((status = 200, body = LoginResponse), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn change_own_password(
    State(state): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<ChangePassword>,
) -> ApiResult<Json<LoginResponse>> {
    let result = state
        .service
        .change_own_password(
            &auth.caller,
            &auth.ctx,
            &body.current_password,
            &body.new_password,
            ip,
        )
        .await?;
    answer(result)
}

/// The caller.
#[utoipa::path(get, path = "/v1/self", tag = "sessions",
    responses((status = 200, body = SelfView), (status = 401, body = Problem)))]
pub async fn get_self(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<SelfView>> {
    let user = state.service.whoami(&auth.caller).await?;
    Ok(Json(SelfView {
        actor: auth.caller.actor,
        org_id: auth.caller.org_id.map(|org| org.to_string()),
        roles: auth.caller.roles,
        password_change_only: auth.caller.password_change_only,
        user: user.map(Into::into),
    }))
}

/// Ends the calling session.
#[utoipa::path(post, path = "/v1/logout", tag = "sessions",
    responses((status = 204), (status = 400, body = Problem, description = "The token is an API key, not a session (`not_a_session`)"),
        (status = 401, body = Problem)))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    match state.service.logout(&auth.caller, &auth.ctx).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(ServiceError::Forbidden(why)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_a_session",
            "Only a session can log out",
        )
        .detail(why)),
        Err(e) => Err(e.into()),
    }
}
