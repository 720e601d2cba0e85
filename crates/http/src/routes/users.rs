//! `/v1/orgs/{org}/users`: users, administrator password set and expiry, unlock, lock state.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use portcullis_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::bodies::{NewUser, UserPatch};
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, JsonBody, PageQuery, Paging};
use crate::service_views::{LockView, UserView};
use crate::views::{UnlockResponse, UserList, next_after};

/// Creates a user.
#[utoipa::path(post, path = "/v1/orgs/{org}/users", tag = "users",
    params(("org" = String, Path, description = "Organization id")), request_body = NewUser,
    responses((status = 201, body = UserView), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = state
        .service
        .create_user(&auth.caller, &auth.ctx, &org, body.into())
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// `?locked=` of the user list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// `true`: only the users locked now (a password or one-time-code lock of their login name
    /// in force). `false` is the same as leaving it out.
    pub locked: Option<bool>,
}

/// Lists users, each with its lock state.
#[utoipa::path(get, path = "/v1/orgs/{org}/users", tag = "users", params(("org" = String, Path, description = "Organization id"), PageQuery, UserQuery),
    responses((status = 200, body = UserList), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    Paging(page): Paging,
    filter: Result<Query<UserQuery>, QueryRejection>,
) -> ApiResult<Json<UserList>> {
    let locked = crate::routes::enforcement::query(filter)?.locked == Some(true);
    let users = state
        .service
        .list_users(&auth.caller, &org, &page, locked)
        .await?;
    let next_after = next_after(&users, page.limit, |u| u.id.clone());
    Ok(Json(UserList {
        items: users.into_iter().map(Into::into).collect(),
        next_after,
    }))
}

/// One user.
#[utoipa::path(get, path = "/v1/orgs/{org}/users/{id}", tag = "users",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404, body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        state
            .service
            .get_user(&auth.caller, &org, &id)
            .await?
            .into(),
    ))
}

/// Changes a user's profile (`null` clears an optional field).
#[utoipa::path(patch, path = "/v1/orgs/{org}/users/{id}", tag = "users",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "User id")), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UserPatch>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        state
            .service
            .update_user(&auth.caller, &auth.ctx, &org, &id, body.into())
            .await?
            .into(),
    ))
}

/// Deletes a user with its sessions and keys.
#[utoipa::path(delete, path = "/v1/orgs/{org}/users/{id}", tag = "users",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "User id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_user(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .service
        .delete_user(&auth.caller, &auth.ctx, &org, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An administrator's password set.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// The new password.
    pub password: String,
    /// The user must change it at its next login (default true; applies under
    /// `renew_on_first_login`).
    #[serde(default = "yes")]
    pub change_required: bool,
}

fn yes() -> bool {
    true
}

/// Sets a user's password (policy and history checked; sessions end; the lock is lifted).
#[utoipa::path(put, path = "/v1/orgs/{org}/users/{id}/password", tag = "users",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "User id")), request_body = SetPassword,
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn set_user_password(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<SetPassword>,
) -> ApiResult<StatusCode> {
    state
        .service
        .admin_set_password(
            &auth.caller,
            &auth.ctx,
            &org,
            &id,
            &body.password,
            body.change_required,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a user's lock.
#[utoipa::path(post, path = "/v1/orgs/{org}/users/{id}/unlock", tag = "users",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "User id")),
    responses((status = 200, body = UnlockResponse), (status = 404, body = Problem)))]
pub async fn unlock_user(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<UnlockResponse>> {
    let unlocked = state
        .service
        .unlock_user(&auth.caller, &auth.ctx, &org, &id)
        .await?;
    Ok(Json(UnlockResponse { unlocked }))
}

/// A user's lock state.
#[utoipa::path(get, path = "/v1/orgs/{org}/users/{id}/lock", tag = "users",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "User id")),
    responses((status = 200, body = LockView), (status = 404, body = Problem)))]
pub async fn get_user_lock(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<LockView>> {
    Ok(Json(
        state
            .service
            .user_lock(&auth.caller, &org, &id)
            .await?
            .into(),
    ))
}

/// Expires a user's password now: its next login opens a session limited to changing it (no
/// new password is needed); a new password clears the expiry. Answers the user.
#[utoipa::path(post, path = "/v1/orgs/{org}/users/{id}/password/expire", tag = "users",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn expire_user_password(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        state
            .service
            .expire_user_password(&auth.caller, &auth.ctx, &org, &id)
            .await?
            .into(),
    ))
}

/// Which passwords of an organization to expire: exactly one of the two.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpirePasswords {
    /// `true`: every user's password.
    #[serde(default)]
    pub all: bool,
    /// Only the passwords set before this time (RFC 3339); a user who never changed its
    /// password counts from its creation.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub changed_before: Option<Timestamp>,
}

/// How many passwords were expired.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordsExpired {
    /// The count (passwords already expired, and users without one, are not counted).
    pub expired: u64,
}

/// Expires passwords of the organization now (every one, or those set before a date): the
/// next login of each such user is limited to a change. One `org.passwords_expired` event.
#[utoipa::path(post, path = "/v1/orgs/{org}/passwords/expire", tag = "users",
    params(("org" = String, Path, description = "Organization id")), request_body = ExpirePasswords,
    responses((status = 200, body = PasswordsExpired), (status = 400, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn expire_org_passwords(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<ExpirePasswords>,
) -> ApiResult<Json<PasswordsExpired>> {
    let expired = state
        .service
        .expire_org_passwords(&auth.caller, &auth.ctx, &org, body.all, body.changed_before)
        .await?;
    Ok(Json(PasswordsExpired { expired }))
}
