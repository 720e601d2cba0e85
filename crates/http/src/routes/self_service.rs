//! Self-service without a session: `/v1/unblock`, `/v1/orgs/{org}/password-reset`,
//! `/v1/password-reset/confirm`, `/v1/orgs/{org}/register`, `/v1/verify-email`; with one:
//! `DELETE /v1/self`. And the administrators' view of the mail outbox,
//! `/v1/orgs/{org}/outbox`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::AppState;
use crate::bodies::Registration;
use crate::error::{ApiResult, Problem};
use crate::extract::{Anonymous, Auth, ClientIp, JsonBody, NumberPageQuery, NumberPaging};
use crate::routes::mfa::PasswordBody;
use crate::service_views::UserView;
use crate::views::{OutboxList, next_after};

/// A mailed one-time token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The token from the mail.
    pub token: String,
}

/// A forgotten password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestBody {
    /// The login name of the account.
    pub login: String,
}

/// A new password set with a mailed reset token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmBody {
    /// The token from the mail.
    pub token: String,
    /// The new password; must satisfy the policy.
    pub password: String,
}

/// Lifts the lock a mailed self-unblock token names (once).
#[utoipa::path(post, path = "/v1/unblock", tag = "self-service", request_body = TokenBody, security(()),
    responses((status = 204), (status = 400, body = Problem, description = "token.invalid"),
              (status = 403, body = Problem, description = "self-unblock is off")))]
pub async fn unblock(
    State(state): State<AppState>,
    Anonymous(ctx): Anonymous,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult<StatusCode> {
    state.service.self_unblock(&ctx, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks for a password-reset mail. Answers 202 whether or not the login exists.
#[utoipa::path(post, path = "/v1/orgs/{org}/password-reset", tag = "self-service",
    params(("org" = String, Path, description = "Organization id")),
    request_body = ResetRequestBody, security(()),
    responses((status = 202), (status = 403, body = Problem, description = "password reset is off"),
              (status = 404, body = Problem),
              (status = 409, body = Problem, description = "no instance master key to sign reset tokens")))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    Anonymous(ctx): Anonymous,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<ResetRequestBody>,
) -> ApiResult<StatusCode> {
    state
        .service
        .request_password_reset(&ctx, &org, &body.login)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a mailed reset token (once); every session of the user ends.
#[utoipa::path(post, path = "/v1/password-reset/confirm", tag = "self-service",
    request_body = ResetConfirmBody, security(()),
    responses((status = 204),
              (status = 400, body = Problem, description = "token.invalid, or the password's violations")))]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    Anonymous(ctx): Anonymous,
    JsonBody(body): JsonBody<ResetConfirmBody>,
) -> ApiResult<StatusCode> {
    state
        .service
        .confirm_password_reset(&ctx, &body.token, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Registers a user (role `member`); with email verification forced, it logs in only after it
/// verified its address.
#[utoipa::path(post, path = "/v1/orgs/{org}/register", tag = "self-service",
    params(("org" = String, Path, description = "Organization id")),
    request_body = Registration, security(()),
    responses((status = 201, body = UserView), (status = 400, body = Problem),
              (status = 403, body = Problem, description = "registration is off"),
              (status = 409, body = Problem, description = "the login is taken, or email.taken"),
              (status = 429, body = Problem, description = "ip_blocked, with Retry-After")))]
pub async fn register(
    State(state): State<AppState>,
    Anonymous(ctx): Anonymous,
    ClientIp(ip): ClientIp,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<Registration>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = state.service.register(&ctx, &org, body.into(), ip).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Verifies a registered user's address with its mailed token (once).
#[utoipa::path(post, path = "/v1/verify-email", tag = "self-service", request_body = TokenBody,
    security(()),
    responses((status = 204), (status = 400, body = Problem, description = "token.invalid")))]
pub async fn verify_email(
    State(state): State<AppState>,
    Anonymous(ctx): Anonymous,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult<StatusCode> {
    state.service.verify_email(&ctx, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the caller's own account (the password is checked again).
#[utoipa::path(delete, path = "/v1/self", tag = "self-service", request_body = PasswordBody,
    responses((status = 204), (status = 400, body = Problem),
              (status = 403, body = Problem, description = "self-deletion is off")))]
pub async fn delete_self(
    State(state): State<AppState>,
    auth: Auth,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<PasswordBody>,
) -> ApiResult<StatusCode> {
    state
        .service
        .delete_self(&auth.caller, &auth.ctx, &body.password, ip)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organization's mails, oldest first (administrators). One-time tokens show as
/// `{token}`: they exist only in the sent message.
#[utoipa::path(get, path = "/v1/orgs/{org}/outbox", tag = "mail", params(("org" = String, Path, description = "Organization id"), NumberPageQuery),
    responses((status = 200, body = OutboxList), (status = 404, body = Problem)))]
pub async fn list_outbox(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    NumberPaging { after, limit }: NumberPaging,
) -> ApiResult<Json<OutboxList>> {
    let page = portcullis_store::Page {
        after: Some(after.to_string()),
        limit,
    };
    let mails = state.service.list_outbox(&auth.caller, &org, &page).await?;
    let next_after = next_after(&mails, page.limit, |m| m.id.to_string());
    Ok(Json(OutboxList {
        items: mails.into_iter().map(Into::into).collect(),
        next_after,
    }))
}
