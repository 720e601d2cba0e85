//! Session inventory and revocation: the caller's own sessions (`/v1/self/sessions`), a user's
//! sessions for an administrator (`/v1/orgs/{org}/users/{id}/sessions`), and signing a whole
//! organization out (`/v1/orgs/{org}/sessions`). Tokens are never shown, only ids.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, PageQuery, Paging};
use crate::service_views::{SessionList, SessionsEnded};

/// The calling user's live sessions, by id (never a token); `current` marks the one of this
/// request. Only a user's session may ask (`403` for a key).
#[utoipa::path(get, path = "/v1/self/sessions", tag = "sessions", params(PageQuery),
    responses((status = 200, body = SessionList), (status = 400, body = Problem),
              (status = 403, body = Problem)))]
pub async fn list_own_sessions(
    State(state): State<AppState>,
    auth: Auth,
    Paging(page): Paging,
) -> ApiResult<Json<SessionList>> {
    let sessions = state.service.list_own_sessions(&auth.caller, &page).await?;
    Ok(Json(sessions.into()))
}

/// Ends every session of the calling user but this one (one `user.sessions_ended` event with
/// the count, reason `self`).
#[utoipa::path(delete, path = "/v1/self/sessions", tag = "sessions",
    responses((status = 200, body = SessionsEnded), (status = 403, body = Problem)))]
pub async fn end_other_sessions(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<SessionsEnded>> {
    let ended = state
        .service
        .end_other_sessions(&auth.caller, &auth.ctx)
        .await?;
    Ok(Json(SessionsEnded { ended }))
}

/// Ends one session of the calling user (this one too: a logout); another user's, or one
/// already ended, is `404`.
#[utoipa::path(delete, path = "/v1/self/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn end_own_session(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .service
        .end_own_session(&auth.caller, &auth.ctx, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's live sessions, by id: when each was opened and last used, when it ends, the
/// client's address and user agent (never the token). Administrators and auditors.
#[utoipa::path(get, path = "/v1/orgs/{org}/users/{id}/sessions", tag = "sessions",
    params(("org" = String, Path, description = "Organization id"),
           ("id" = String, Path, description = "User id"), PageQuery),
    responses((status = 200, body = SessionList), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_user_sessions(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
    Paging(page): Paging,
) -> ApiResult<Json<SessionList>> {
    let sessions = state
        .service
        .list_user_sessions(&auth.caller, &org, &id, &page)
        .await?;
    Ok(Json(sessions.into()))
}

/// Ends every session of a user (the caller's own excepted): one `user.sessions_ended` event
/// with the count, reason `admin`.
#[utoipa::path(delete, path = "/v1/orgs/{org}/users/{id}/sessions", tag = "sessions",
    params(("org" = String, Path, description = "Organization id"),
           ("id" = String, Path, description = "User id")),
    responses((status = 200, body = SessionsEnded), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
pub async fn end_user_sessions(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<SessionsEnded>> {
    let ended = state
        .service
        .end_user_sessions(&auth.caller, &auth.ctx, &org, &id)
        .await?;
    Ok(Json(SessionsEnded { ended }))
}

/// Ends one session of a user (`session.revoked`); a session of another user, or one already
/// ended, is `404`.
#[utoipa::path(delete, path = "/v1/orgs/{org}/users/{id}/sessions/{sid}", tag = "sessions",
    params(("org" = String, Path, description = "Organization id"),
           ("id" = String, Path, description = "User id"),
           ("sid" = String, Path, description = "Session id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn end_user_session(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id, sid)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    state
        .service
        .end_user_session(&auth.caller, &auth.ctx, &org, &id, &sid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs the whole organization out: ends every session of every user (the caller's own
/// excepted), with one `org.sessions_ended` event carrying the count.
#[utoipa::path(delete, path = "/v1/orgs/{org}/sessions", tag = "sessions",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = SessionsEnded), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
pub async fn end_org_sessions(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
) -> ApiResult<Json<SessionsEnded>> {
    let ended = state
        .service
        .end_org_sessions(&auth.caller, &auth.ctx, &org)
        .await?;
    Ok(Json(SessionsEnded { ended }))
}
