//! Policy endpoints: instance defaults, organization sections (write, patch, reset), named
//! password policies and the password dry run.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_model::{PasswordPolicy, SectionKind};
use portcullis_service::SectionWrite;
use serde_json::Value;

use crate::AppState;
use crate::bodies::PasswordCheckRequest;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Auth, JsonBody};
use crate::schemas::{EffectivePolicySchema, InstancePolicySchema, SectionSchema};
use crate::service_views::{PasswordCheckResult, SectionView};

fn section(name: &str) -> ApiResult<SectionKind> {
    name.parse()
        .map_err(|_| ApiError::not_found().detail(format!("no policy section `{name}`")))
}

/// The instance defaults, every section with its details (instance administrators). The
/// `ETag` header is the instance defaults' version, for `PUT /v1/instance/policy`'s `If-Match`.
#[utoipa::path(get, path = "/v1/instance/policy", tag = "policy",
    responses((status = 200, body = InstancePolicySchema,
        headers(("ETag" = String, description = "The version of the instance defaults"))),
        (status = 403, body = Problem)))]
pub async fn get_instance_policy(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let policy = state.service.get_instance_policy(&auth.caller).await?;
    let version = portcullis_service::instance_policy_version(&policy);
    Ok(with_etag(json_response(&*policy), &version))
}

/// Writes an instance default section.
async fn write_instance(
    state: AppState,
    auth: Auth,
    name: &str,
    write: SectionWrite,
) -> ApiResult<Json<SectionView>> {
    let kind = section(name)?;
    Ok(Json(
        state
            .service
            .write_instance_section(&auth.caller, &auth.ctx, kind, write)
            .await?
            .into(),
    ))
}

/// Replaces an instance default section.
#[utoipa::path(put, path = "/v1/instance/policy/{section}", tag = "policy",
    params(("section" = String, Path, description = "Policy section: password, lockout, brute_force, session, tokens, api_keys, mfa or features")), request_body = SectionSchema,
    responses((status = 200, body = SectionView), (status = 400, body = Problem), (status = 409, body = Problem, description = "Other writes kept changing the section meanwhile; retry")))]
pub async fn put_instance_section(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<SectionView>> {
    write_instance(state, auth, &name, SectionWrite::Replace(body)).await
}

/// Patches an instance default section (JSON merge patch).
#[utoipa::path(patch, path = "/v1/instance/policy/{section}", tag = "policy",
    params(("section" = String, Path, description = "Policy section: password, lockout, brute_force, session, tokens, api_keys, mfa or features")), request_body = SectionSchema,
    responses((status = 200, body = SectionView), (status = 400, body = Problem), (status = 409, body = Problem, description = "Other writes kept changing the section meanwhile; retry")))]
pub async fn patch_instance_section(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<SectionView>> {
    write_instance(state, auth, &name, SectionWrite::Patch(body)).await
}

/// The effective policy of an organization: each section with `is_default` and `details`. The
/// `ETag` header is the version of the organization's own sections, for `PUT …/policy`'s
/// `If-Match`.
#[utoipa::path(get, path = "/v1/orgs/{org}/policy", tag = "policy",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = EffectivePolicySchema,
        headers(("ETag" = String, description = "The version of the organization's own sections"))),
        (status = 404, body = Problem)))]
pub async fn get_org_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
) -> ApiResult<Response> {
    let policy = state.service.get_org_policy(&auth.caller, &org).await?;
    let version = portcullis_service::org_policy_version(&policy);
    Ok(with_etag(json_response(&*policy), &version))
}

/// An answer with the scope's version as its entity tag (what `If-Match` names).
pub(crate) fn with_etag(mut response: Response, version: &str) -> Response {
    if let Ok(value) = header::HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// A JSON answer of a shared (cached) value, serialized without copying it first.
fn json_response<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => ApiError::from(portcullis_service::ServiceError::Internal(e.to_string()))
            .into_response(),
    }
}

/// Writes an organization's section.
async fn write_org(
    state: AppState,
    auth: Auth,
    org: &str,
    name: &str,
    write: SectionWrite,
) -> ApiResult<Json<SectionView>> {
    let kind = section(name)?;
    Ok(Json(
        state
            .service
            .write_org_section(&auth.caller, &auth.ctx, org, kind, write)
            .await?
            .into(),
    ))
}

/// Replaces an organization's section (it now has its own copy).
#[utoipa::path(put, path = "/v1/orgs/{org}/policy/{section}", tag = "policy",
    params(("org" = String, Path, description = "Organization id"), ("section" = String, Path, description = "Policy section: password, lockout, brute_force, session, tokens, api_keys, mfa or features")), request_body = SectionSchema,
    responses((status = 200, body = SectionView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "Other writes kept changing the section meanwhile; retry")))]
pub async fn put_org_section(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<SectionView>> {
    write_org(state, auth, &org, &name, SectionWrite::Replace(body)).await
}

/// Patches an organization's section (JSON merge patch over the value in force).
#[utoipa::path(patch, path = "/v1/orgs/{org}/policy/{section}", tag = "policy",
    params(("org" = String, Path, description = "Organization id"), ("section" = String, Path, description = "Policy section: password, lockout, brute_force, session, tokens, api_keys, mfa or features")), request_body = SectionSchema,
    responses((status = 200, body = SectionView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "Other writes kept changing the section meanwhile; retry")))]
pub async fn patch_org_section(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<SectionView>> {
    write_org(state, auth, &org, &name, SectionWrite::Patch(body)).await
}

/// Resets an organization's section to the instance default.
#[utoipa::path(delete, path = "/v1/orgs/{org}/policy/{section}", tag = "policy",
    params(("org" = String, Path, description = "Organization id"), ("section" = String, Path, description = "Policy section: password, lockout, brute_force, session, tokens, api_keys, mfa or features")),
    responses((status = 200, body = SectionView), (status = 404, body = Problem)))]
pub async fn reset_org_section(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, name)): Path<(String, String)>,
) -> ApiResult<Json<SectionView>> {
    let kind = section(&name)?;
    Ok(Json(
        state
            .service
            .reset_org_section(&auth.caller, &auth.ctx, &org, kind)
            .await?
            .into(),
    ))
}

/// The organization's password policies.
#[utoipa::path(get, path = "/v1/orgs/{org}/password-policies", tag = "password-policies",
    params(("org" = String, Path, description = "Organization id")),
    responses((status = 200, body = SectionView), (status = 404, body = Problem)))]
pub async fn list_password_policies(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
) -> ApiResult<Json<SectionView>> {
    Ok(Json(
        state
            .service
            .list_password_policies(&auth.caller, &org)
            .await?
            .into(),
    ))
}

/// Adds a password policy.
#[utoipa::path(post, path = "/v1/orgs/{org}/password-policies", tag = "password-policies",
    params(("org" = String, Path, description = "Organization id")), request_body = PasswordPolicy,
    responses((status = 201, body = PasswordPolicy), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create_password_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<PasswordPolicy>)> {
    let policy = state
        .service
        .create_password_policy(&auth.caller, &auth.ctx, &org, body)
        .await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

/// One password policy.
#[utoipa::path(get, path = "/v1/orgs/{org}/password-policies/{id}", tag = "password-policies",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Password policy id")),
    responses((status = 200, body = PasswordPolicy), (status = 404, body = Problem)))]
pub async fn get_password_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<PasswordPolicy>> {
    Ok(Json(
        state
            .service
            .get_password_policy(&auth.caller, &org, &id)
            .await?,
    ))
}

/// Replaces a password policy.
#[utoipa::path(put, path = "/v1/orgs/{org}/password-policies/{id}", tag = "password-policies",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Password policy id")), request_body = PasswordPolicy,
    responses((status = 200, body = PasswordPolicy), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "Other writes kept changing the section meanwhile; retry")))]
pub async fn replace_password_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<PasswordPolicy>> {
    Ok(Json(
        state
            .service
            .replace_password_policy(&auth.caller, &auth.ctx, &org, &id, body)
            .await?,
    ))
}

/// Deletes a password policy (not the default).
#[utoipa::path(delete, path = "/v1/orgs/{org}/password-policies/{id}", tag = "password-policies",
    params(("org" = String, Path, description = "Organization id"), ("id" = String, Path, description = "Password policy id")),
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "Other writes kept changing the section meanwhile; retry")))]
pub async fn delete_password_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .service
        .delete_password_policy(&auth.caller, &auth.ctx, &org, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks a candidate password against the policy (dry run; nothing is stored).
#[utoipa::path(post, path = "/v1/orgs/{org}/password-check", tag = "password-policies",
    params(("org" = String, Path, description = "Organization id")), request_body = PasswordCheckRequest,
    responses((status = 200, body = PasswordCheckResult), (status = 400, body = Problem)))]
pub async fn check_password(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    JsonBody(body): JsonBody<PasswordCheckRequest>,
) -> ApiResult<Json<PasswordCheckResult>> {
    Ok(Json(
        state
            .service
            .check_password(&auth.caller, &org, &body.into())
            .await?
            .into(),
    ))
}
