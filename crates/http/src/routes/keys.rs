//! `/v1/orgs/{org}/api-keys`, `/v1/orgs/{org}/access-keys`, `/v1/instance/keys` and the
//! event lists.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::AppState;
use crate::bodies::{NewAccessKey, NewApiKey, NewInstanceKey};
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, JsonBody, NumberPageQuery, NumberPaging, PageQuery, Paging};
use crate::service_views::{CreatedAccessKey, CreatedApiKey};
use crate::views::{ApiKeyList, EventList, next_after};

/// Creates an API key; the secret is in this answer only.
///
/// With `"format": "scaleway"`, the id and secret have the shapes Scaleway's clients require
/// (`SCW…` and a version-4 UUID with 122 random bits, instead of `key_…` and `pck_…` with 256).
#[utoipa::path(post, path = "/v1/orgs/{org}/api-keys", tag = "api-keys",
    params(("org" = String, Path, description = "Organization id")), request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = Problem)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<NewApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let key = state
        .service
        .create_api_key(&auth.caller, &auth.ctx, &org, body.into())
        .await?;
    Ok((StatusCode::CREATED, Json(key.into())))
}

/// Creates an access key for signed requests (id and secret; the secret is in this answer only,
/// and stored sealed with the instance master key). It is listed and deleted with the API keys.
#[utoipa::path(post, path = "/v1/orgs/{org}/access-keys", tag = "api-keys",
    params(("org" = String, Path, description = "Organization id")), request_body = NewAccessKey,
    responses((status = 201, body = CreatedAccessKey), (status = 400, body = Problem),
        (status = 409, body = Problem, description = "no master key is configured")))]
pub async fn create_access_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<NewAccessKey>,
) -> ApiResult<(StatusCode, Json<CreatedAccessKey>)> {
    let key = state
        .service
        .create_access_key(&auth.caller, &auth.ctx, &org, body.into())
        .await?;
    Ok((StatusCode::CREATED, Json(key.into())))
}

/// Lists API keys (all for administrators, one's own otherwise).
#[utoipa::path(get, path = "/v1/orgs/{org}/api-keys", tag = "api-keys", params(("org" = String, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ApiKeyList)))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    Paging(page): Paging,
) -> ApiResult<Json<ApiKeyList>> {
    let keys = state
        .service
        .list_api_keys(&auth.caller, &org, &page)
        .await?;
    let next_after = next_after(&keys, page.limit, |k| k.id.clone());
    Ok(Json(ApiKeyList {
        items: keys.into_iter().map(Into::into).collect(),
        next_after,
    }))
}

/// Deletes an API key.
#[utoipa::path(delete, path = "/v1/orgs/{org}/api-keys/{id}", tag = "api-keys",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Key id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_api_key(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .service
        .delete_api_key(&auth.caller, &auth.ctx, &org, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an instance administrator key (no organization, no expiry, never limited by a
/// policy); the secret is in this answer only.
#[utoipa::path(post, path = "/v1/instance/keys", tag = "instance-keys", request_body = NewInstanceKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = Problem),
        (status = 403, body = Problem, description = "not an instance administrator")))]
pub async fn create_instance_key(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<NewInstanceKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let key = state
        .service
        .create_instance_key(&auth.caller, &auth.ctx, body.into())
        .await?;
    Ok((StatusCode::CREATED, Json(key.into())))
}

/// Lists the instance administrator keys (never their secrets).
#[utoipa::path(get, path = "/v1/instance/keys", tag = "instance-keys", params(PageQuery),
    responses((status = 200, body = ApiKeyList),
        (status = 403, body = Problem, description = "not an instance administrator")))]
pub async fn list_instance_keys(
    State(state): State<AppState>,
    auth: Auth,
    Paging(page): Paging,
) -> ApiResult<Json<ApiKeyList>> {
    let keys = state
        .service
        .list_instance_keys(&auth.caller, &page)
        .await?;
    let next_after = next_after(&keys, page.limit, |k| k.id.clone());
    Ok(Json(ApiKeyList {
        items: keys.into_iter().map(Into::into).collect(),
        next_after,
    }))
}

/// Revokes an instance administrator key (rotation: create the new key, then revoke the old
/// one). The last instance key is never revoked.
#[utoipa::path(delete, path = "/v1/instance/keys/{id}", tag = "instance-keys",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 204),
        (status = 403, body = Problem, description = "not an instance administrator"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`last_instance_key`: it is the last instance key")))]
pub async fn delete_instance_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .service
        .delete_instance_key(&auth.caller, &auth.ctx, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Instance events (instance policy changes, bootstrap), oldest first.
#[utoipa::path(get, path = "/v1/instance/events", tag = "events", params(NumberPageQuery),
    responses((status = 200, body = EventList), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list_instance_events(
    State(state): State<AppState>,
    auth: Auth,
    NumberPaging { after, limit }: NumberPaging,
) -> ApiResult<Json<EventList>> {
    let events = state
        .service
        .list_instance_events(&auth.caller, after, limit)
        .await?;
    let next_after = next_after(&events, limit, |e| e.sequence.to_string());
    Ok(Json(EventList {
        items: events.into_iter().map(Into::into).collect(),
        next_after,
    }))
}

/// Events of an organization, oldest first.
#[utoipa::path(get, path = "/v1/orgs/{org}/events", tag = "events", params(("org" = String, Path, description = "Organization id"), NumberPageQuery),
    responses((status = 200, body = EventList), (status = 400, body = Problem)))]
pub async fn list_events(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    NumberPaging { after, limit }: NumberPaging,
) -> ApiResult<Json<EventList>> {
    let events = state
        .service
        .list_events(&auth.caller, &org, after, limit)
        .await?;
    let next_after = next_after(&events, limit, |e| e.sequence.to_string());
    Ok(Json(EventList {
        items: events.into_iter().map(Into::into).collect(),
        next_after,
    }))
}
