//! `/v1/orgs`: create, list, read organizations.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::AppState;
use crate::bodies::NewOrg;
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, JsonBody, PageQuery, Paging};
use crate::views::{OrgList, OrgView, next_after};

/// Creates an organization (instance administrators).
#[utoipa::path(post, path = "/v1/orgs", tag = "orgs", request_body = NewOrg,
    responses((status = 201, body = OrgView), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<NewOrg>,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    let org = state
        .service
        .create_org(&auth.caller, &auth.ctx, body.into())
        .await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

/// Lists the organizations the caller may see.
#[utoipa::path(get, path = "/v1/orgs", tag = "orgs", params(PageQuery),
    responses((status = 200, body = OrgList)))]
pub async fn list_orgs(
    State(state): State<AppState>,
    auth: Auth,
    Paging(page): Paging,
) -> ApiResult<Json<OrgList>> {
    let orgs = state.service.list_orgs(&auth.caller, &page).await?;
    let next_after = next_after(&orgs, page.limit, |o| o.id.to_string());
    Ok(Json(OrgList {
        items: orgs.into_iter().map(OrgView::from).collect(),
        next_after,
    }))
}

/// One organization.
#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "orgs",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = OrgView), (status = 404, body = Problem)))]
pub async fn get_org(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
) -> ApiResult<Json<OrgView>> {
    let org = state.service.get_org(&auth.caller, &org).await?;
    Ok(Json(org.into()))
}
