//! `/v1/orgs/{org}/locks`, `/ip-blocks` and `/attack-summary`: what the enforcement did, and
//! the administrators' actions on it (lift, clear all, block).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use portcullis_model::{Timestamp, Violation, codes};
use portcullis_service::{LockFilter, NewIpBlock};
use serde::Deserialize;

use crate::AppState;
use crate::enforcement_views::{AttackSummary, Cleared, IpBlockEntry, LockEntry, LockKind};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Auth, JsonBody, PageQuery, Paging};
use crate::views::next_after;

crate::views::list_type!(LockList, LockEntry, "A page of locks in force.");
crate::views::list_type!(IpBlockList, IpBlockEntry, "A page of blocks in force.");

/// Reads a query string, answering problem+json when it does not fit.
pub(crate) fn query<T>(query: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    query.map(|Query(q)| q).map_err(|e| {
        ApiError::invalid(vec![Violation::new("", codes::INVALID_JSON, e.body_text())])
    })
}

/// `?login=&kind=` of the lock list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LockQuery {
    /// Only login names starting with this (compared in their normalized form: case, width
    /// and surrounding white space do not matter).
    pub login: Option<String>,
    /// Only locks of this kind.
    pub kind: Option<LockKind>,
}

/// Locks in force: every locked lockout key of the organization, in key order (the cursor is
/// the last entry's `key`).
#[utoipa::path(get, path = "/v1/orgs/{org}/locks", tag = "enforcement",
    params(("org" = String, Path, description = "Organization id"), PageQuery, LockQuery),
    responses((status = 200, body = LockList), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_locks(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    Paging(page): Paging,
    filter: Result<Query<LockQuery>, QueryRejection>,
) -> ApiResult<Json<LockList>> {
    let filter = query(filter)?;
    let filter = LockFilter {
        login: filter.login,
        kind: filter.kind.map(Into::into),
    };
    let locks = state
        .service
        .list_locks(&auth.caller, &org, &filter, &page)
        .await?;
    let next_after = next_after(&locks, page.limit, |l| l.key.clone());
    Ok(Json(LockList {
        items: locks.into_iter().map(Into::into).collect(),
        next_after,
    }))
}

/// Lifts every account lock (password and one-time code) of the organization, in one
/// transaction, with one `locks.cleared` event carrying the count.
#[utoipa::path(delete, path = "/v1/orgs/{org}/locks", tag = "enforcement",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = Cleared), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn clear_locks(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
) -> ApiResult<Json<Cleared>> {
    let count = state
        .service
        .clear_locks(&auth.caller, &auth.ctx, &org)
        .await?;
    Ok(Json(Cleared { count }))
}

/// Blocks in force: the counted blocks of source networks and the administrators' blocks, in
/// address order (the cursor is the last entry's `cursor`).
#[utoipa::path(get, path = "/v1/orgs/{org}/ip-blocks", tag = "enforcement",
    params(("org" = String, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = IpBlockList), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_ip_blocks(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    Paging(page): Paging,
) -> ApiResult<Json<IpBlockList>> {
    let blocks = state
        .service
        .list_ip_blocks(&auth.caller, &org, &page)
        .await?;
    let next_after = next_after(&blocks, page.limit, |b| b.cursor.clone());
    Ok(Json(IpBlockList {
        items: blocks.into_iter().map(Into::into).collect(),
        next_after,
    }))
}

/// An administrator's block to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIpBlockBody {
    /// An address (`192.0.2.7`) or a network in CIDR notation (`10.0.0.0/8`).
    #[schema(min_length = 2, max_length = 64)]
    pub address_or_network: String,
    /// When the block ends (RFC 3339, in the future); absent or `null`: permanent, until
    /// lifted.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
}

/// Blocks an address or a network (a denylist entry): logins, one-time codes and registrations
/// from it are refused with `429 ip_blocked` before any check, unless the brute-force
/// allow-list names the address. `201` for a new block, `200` when it replaced the block of the
/// same network.
#[utoipa::path(post, path = "/v1/orgs/{org}/ip-blocks", tag = "enforcement",
    params(("org" = String, Path, description = "Organization id")),
    request_body = NewIpBlockBody,
    responses((status = 201, body = IpBlockEntry), (status = 200, body = IpBlockEntry),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn add_ip_block(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<NewIpBlockBody>,
) -> ApiResult<(StatusCode, Json<IpBlockEntry>)> {
    let (entry, created) = state
        .service
        .add_ip_block(
            &auth.caller,
            &auth.ctx,
            &org,
            NewIpBlock {
                address_or_network: body.address_or_network,
                until: body.until,
            },
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry.into())))
}

/// Lifts the block of an address or network as listed (percent-encode the `/` of a network:
/// `10.0.0.0%2F8`): its counted block and the administrator's block of it, with `ip.unblocked`.
/// An address inside a counted source network (`2001:db8:1:2::5` in `2001:db8:1:2::/64`) lifts
/// that network's block. `404` when no block of it is in force.
#[utoipa::path(delete, path = "/v1/orgs/{org}/ip-blocks/{address}", tag = "enforcement",
    params(("org" = String, Path, description = "Organization id"),
        ("address" = String, Path, description = "The blocked address or network")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn lift_ip_block(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, address)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .service
        .lift_ip_block(&auth.caller, &auth.ctx, &org, &address)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts every block of the organization, counted and administrators', in one transaction,
/// with one `ip_blocks.cleared` event carrying the count.
#[utoipa::path(delete, path = "/v1/orgs/{org}/ip-blocks", tag = "enforcement",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = Cleared), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn clear_ip_blocks(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
) -> ApiResult<Json<Cleared>> {
    let count = state
        .service
        .clear_ip_blocks(&auth.caller, &auth.ctx, &org)
        .await?;
    Ok(Json(Cleared { count }))
}

/// `?since=` of the attack summary.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// The window's start (RFC 3339; cut to 168 hours back at most, and to the current hour; default: 23 hours before the
    /// current hour). The window begins at the start of that hour.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<Timestamp>,
}

/// Failed logins, account locks, counted IP blocks, distinct attacked login names and distinct
/// client addresses per hour, from the event log.
#[utoipa::path(get, path = "/v1/orgs/{org}/attack-summary", tag = "enforcement",
    params(("org" = String, Path, description = "Organization id"), SummaryQuery),
    responses((status = 200, body = AttackSummary), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_attack_summary(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    since: Result<Query<SummaryQuery>, QueryRejection>,
) -> ApiResult<Json<AttackSummary>> {
    let since = query(since)?.since;
    Ok(Json(
        state
            .service
            .attack_summary(&auth.caller, &org, since)
            .await?
            .into(),
    ))
}
