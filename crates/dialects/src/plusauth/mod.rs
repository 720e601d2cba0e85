//! PlusAuth tenant settings (`docs/dialects/plusauth.md`).
//!
//! `GET`/`PATCH /api/v1/tenants/{tenant_id}/settings`, `Authorization: Bearer`. GET answers the
//! whole `TenantSettings` object; PATCH deep-merges a partial object and answers the merged
//! whole. Fields with a canonical home (password rules, account blocking, brute force, token
//! lifetimes, hash function, MFA enforcement, self-service switches) are written there, after
//! PlusAuth's documented ranges are checked; every other tenant setting is stored in
//! `features.tenant_settings` and returned as set. A PATCH field sent with the value the GET
//! shows now is unchanged, so the GET's answer written back writes nothing (a malformed body is
//! refused first, with all its problems; a well-formed one has its ranges checked on what
//! changes). Errors are `{error, error_description,
//! status}`. Reading needs `read:tenant` (an auditor or administrator), writing `write:tenant`
//! (an administrator).
//!
//! Files: this one has the routes and handlers; `mapping.rs` turns a PATCH body into typed
//! canonical patches, `view.rs` builds the answer, `errors.rs` is the error envelope.

mod errors;
mod mapping;
mod view;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use portcullis_http::AppState;
use portcullis_service::{Caller, Context, PatchError, PolicyScope, Precondition};
use serde_json::Value;

pub use errors::PlusAuthError;
use mapping::{changed_only, to_patches};
use view::view;

use crate::common::{self, Rid};

const PATH: &str = "/api/v1/tenants/{tenant_id}/settings";

/// This dialect's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(read).patch(update))
}

async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
    rid: &Rid,
) -> Result<(Caller, Context), PlusAuthError> {
    let Some(token) = common::bearer(headers) else {
        return Err(PlusAuthError::missing_token());
    };
    common::authenticate(state, Some(token), rid)
        .await
        .map_err(PlusAuthError::from_service)
}

async fn read(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    rid: Rid,
) -> Result<Json<Value>, PlusAuthError> {
    let (caller, _) = caller_of(&state, &headers, &rid).await?;
    let policy = state
        .service
        .get_org_policy(&caller, &tenant_id)
        .await
        .map_err(PlusAuthError::from_service)?;
    Ok(Json(view(&policy)))
}

async fn update(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
) -> Result<Json<Value>, PlusAuthError> {
    let (caller, ctx) = caller_of(&state, &headers, &rid).await?;
    let fields = common::json_object(&body).map_err(PlusAuthError::invalid)?;
    // The body's shape (types, names) is checked on the whole body before the organization is
    // read, and a malformed body answers every problem at once, its ranges included; a
    // well-formed one has PlusAuth's ranges checked only on what changes.
    if to_patches(&fields, false).is_err() {
        let errors = to_patches(&fields, true).err().unwrap_or_default();
        return Err(PlusAuthError::invalid(errors.join("; ")));
    }
    let scope = PolicyScope::Org(tenant_id.clone());
    // Built from the policy each attempt reads: a field equal to what the GET shows is left out.
    state
        .service
        .patch_policy_with(&caller, &ctx, &scope, Precondition::Any, |current| {
            let shown = common::object(view(current));
            to_patches(&changed_only(&fields, &shown), true)
        })
        .await
        .map_err(|e| match e {
            PatchError::Input(errors) => PlusAuthError::invalid(errors.join("; ")),
            PatchError::Service(e) => PlusAuthError::from_service(e),
        })?;
    let policy = state
        .service
        .get_org_policy(&caller, &tenant_id)
        .await
        .map_err(PlusAuthError::from_service)?;
    Ok(Json(view(&policy)))
}
