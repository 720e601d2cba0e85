//! SailPoint Identity Security Cloud password policies (`docs/dialects/sailpoint.md`).
//!
//! The collection is served at `/password-policies/v1[/{id}]` (SDK 2.x) and at
//! `/v3/password-policies[/{id}]`, `/beta/password-policies[/{id}]` and
//! `/v2024/password-policies[/{id}]` (SDK 1.x and the npm client's three API generations), every
//! base by the same handlers: list (a bare array; `limit` 0–250, default 250, `offset`,
//! `count=true` → `X-Total-Count`), get, create (200), replace (PUT), delete (204; the default
//! policy cannot be deleted). The organization is the caller's. `POST /oauth/token` exchanges an
//! API key's id and secret (client credentials) for an access token.
//!
//! Invariant: a replacement that leaves the policy as it is writes nothing, so an object read
//! and written back changes nothing (an inherited `password` section stays inherited).
//!
//! Files: this one has the routes and the policy handlers; `mapping.rs` maps a policy object to
//! a canonical password policy and back, `wire.rs` holds the object as it goes out and comes
//! in, `errors.rs` the error envelope, `auth.rs` the token endpoint.

mod auth;
mod errors;
mod mapping;
mod wire;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis_http::AppState;
use portcullis_model::{PasswordPolicy, SectionDetails, SectionKind};
use portcullis_service::{Caller, Context, ServiceError};
use serde::Deserialize;
use serde_json::{Map, Value};

pub use errors::SailPointError;
use mapping::{from_dto, to_dto};

use crate::common::{self, Rid};

/// Largest page.
const MAX_LIMIT: u64 = 250;

/// The bases the password-policy collection is served under, one set of handlers for all.
const BASES: [&str; 4] = [
    "/password-policies/v1",
    "/v3/password-policies",
    "/beta/password-policies",
    "/v2024/password-policies",
];

/// This dialect's routes.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/oauth/token", post(auth::token));
    for base in BASES {
        router = router.route(base, get(list).post(create)).route(
            &format!("{base}/{{id}}"),
            get(read).put(replace).delete(remove),
        );
    }
    router
}

async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
    rid: &Rid,
) -> Result<(Caller, Context, String), SailPointError> {
    let (caller, ctx) = common::authenticate(state, common::bearer(headers), rid)
        .await
        .map_err(|e| SailPointError::from_service(e, rid))?;
    let org = caller
        .org_id
        .as_ref()
        .map(|org| org.to_string())
        .ok_or_else(|| {
            SailPointError::new(
                StatusCode::BAD_REQUEST,
                "password policies belong to an organization: use an organization's credentials",
                rid,
            )
        })?;
    Ok((caller, ctx, org))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<String>,
    offset: Option<String>,
    count: Option<String>,
}

async fn section_details(
    state: &AppState,
    caller: &Caller,
    org: &str,
    rid: &Rid,
) -> Result<(Vec<PasswordPolicy>, SectionDetails), SailPointError> {
    let policy = state
        .service
        .get_org_policy(caller, org)
        .await
        .map_err(|e| SailPointError::from_service(e, rid))?;
    let (_, details) = policy.section_meta(SectionKind::Password);
    Ok((policy.password.value.policies.clone(), details.clone()))
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    Query(query): Query<ListQuery>,
) -> Result<Response, SailPointError> {
    let (caller, _, org) = caller_of(&state, &headers, &rid).await?;
    let number = |text: &Option<String>, name: &str, max: u64, default: u64| match text {
        None => Ok(default),
        Some(t) => t.parse::<u64>().ok().filter(|v| *v <= max).ok_or_else(|| {
            SailPointError::new(
                StatusCode::BAD_REQUEST,
                format!("{name} must be an integer from 0 to {max}"),
                &rid,
            )
        }),
    };
    let limit = number(&query.limit, "limit", MAX_LIMIT, MAX_LIMIT)?;
    let offset = number(&query.offset, "offset", u64::MAX, 0)?;
    let count = match query.count.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(SailPointError::new(
                StatusCode::BAD_REQUEST,
                "count must be true or false",
                &rid,
            ));
        }
    };
    let (policies, details) = section_details(&state, &caller, &org, &rid).await?;
    let total = policies.len();
    let page: Vec<Value> = policies
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|p| to_dto(p, &details))
        .collect();
    let mut response = Json(Value::Array(page)).into_response();
    if count {
        response
            .headers_mut()
            .insert("x-total-count", HeaderValue::from(total));
    }
    Ok(response)
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    Path(id): Path<String>,
) -> Result<Json<Value>, SailPointError> {
    let (caller, _, org) = caller_of(&state, &headers, &rid).await?;
    answer(&state, &caller, &org, &id, &rid).await
}

fn body_of(body: &[u8], rid: &Rid) -> Result<Map<String, Value>, SailPointError> {
    common::json_object(body).map_err(|e| SailPointError::new(StatusCode::BAD_REQUEST, e, rid))
}

/// The SailPoint object of the policy `id` as it now stands.
async fn answer(
    state: &AppState,
    caller: &Caller,
    org: &str,
    id: &str,
    rid: &Rid,
) -> Result<Json<Value>, SailPointError> {
    let (policies, details) = section_details(state, caller, org, rid).await?;
    let policy = policies
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| SailPointError::from_service(ServiceError::NotFound, rid))?;
    Ok(Json(to_dto(policy, &details)))
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
) -> Result<Json<Value>, SailPointError> {
    let (caller, ctx, org) = caller_of(&state, &headers, &rid).await?;
    let fields = body_of(&body, &rid)?;
    let base = PasswordPolicy {
        id: String::new(),
        name: String::new(),
        is_default: false,
        ..PasswordPolicy::default()
    };
    let canonical = from_dto(&fields, &base).map_err(|e| SailPointError::invalid(e, &rid))?;
    let created = state
        .service
        .create_password_policy(&caller, &ctx, &org, canonical)
        .await
        .map_err(|e| SailPointError::from_service(e, &rid))?;
    answer(&state, &caller, &org, &created.id, &rid).await
}

async fn replace(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SailPointError> {
    let (caller, ctx, org) = caller_of(&state, &headers, &rid).await?;
    let mut fields = body_of(&body, &rid)?;
    fields.entry("id").or_insert_with(|| id.clone().into());
    state
        .service
        .replace_password_policy_with(&caller, &ctx, &org, &id, true, |existing| {
            from_dto(&fields, existing).map_err(|errors| {
                let violations = errors
                    .into_iter()
                    .map(|e| portcullis_model::Violation::new("", "sailpoint.invalid", e))
                    .collect();
                portcullis_model::Violations::from_vec(violations).map_or_else(
                    || ServiceError::Internal("no error".into()),
                    ServiceError::Invalid,
                )
            })
        })
        .await
        .map_err(|e| SailPointError::from_service(e, &rid))?;
    answer(&state, &caller, &org, &id, &rid).await
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    Path(id): Path<String>,
) -> Result<StatusCode, SailPointError> {
    let (caller, ctx, org) = caller_of(&state, &headers, &rid).await?;
    state
        .service
        .delete_password_policy(&caller, &ctx, &org, &id)
        .await
        .map_err(|e| SailPointError::from_service(e, &rid))?;
    Ok(StatusCode::NO_CONTENT)
}
