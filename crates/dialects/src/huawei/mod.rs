//! Huawei Cloud IAM security policies (`docs/dialects/huawei.md`).
//!
//! `GET`/`PUT /v3.0/OS-SECURITYPOLICY/domains/{domain_id}/login-policy`, `.../password-policy`
//! and `.../protect-policy`, bodies wrapped in `{login_policy|password_policy|protect_policy}`.
//! A PUT changes only the fields present. Authentication: an access key's AK/SK signature
//! (`SDK-HMAC-SHA256`, with `X-Sdk-Date` within 15 minutes and the body hash checked), or
//! `X-Auth-Token` with an ordinary token. Minutes and days are converted to seconds; reads
//! round up. Huawei's documented ranges are checked on write. Errors are
//! `{error_code, error_msg}`.

mod auth;
mod errors;
mod mapping;
pub mod signing;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use portcullis_http::AppState;
use portcullis_model::EffectivePolicy;
use portcullis_service::{PatchError, PolicyScope, Precondition};
use serde_json::{Map, Value, json};

use crate::common;
use auth::{PolicyRequest, caller_of};
use errors::Answer;
pub use errors::HuaweiError;
use mapping::{
    login_patches, login_view, password_patches, password_view, protect_patch, protect_stored,
    wrapped,
};

const BASE: &str = "/v3.0/OS-SECURITYPOLICY/domains/{domain_id}";

/// This dialect's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        &format!("{BASE}/{{policy}}"),
        get(get_policy).put(put_policy),
    )
}

// --- handlers

async fn read_policy(
    state: &AppState,
    request: &PolicyRequest,
) -> Result<Arc<EffectivePolicy>, HuaweiError> {
    let (caller, _) = caller_of(state, request).await?;
    state
        .service
        .get_org_policy(&caller, &request.domain_id)
        .await
        .map_err(HuaweiError::from_service)
}

async fn write_policy(
    state: &AppState,
    request: &PolicyRequest,
    key: &str,
    patches: impl Fn(&Map<String, Value>, &EffectivePolicy) -> Result<common::Patches, HuaweiError>,
) -> Result<Arc<EffectivePolicy>, HuaweiError> {
    let domain_id = &request.domain_id;
    let (caller, ctx) = caller_of(state, request).await?;
    let fields = common::json_object(&request.body).map_err(HuaweiError::malformed)?;
    let inner = wrapped(&fields, key)?;
    let scope = PolicyScope::Org(domain_id.clone());
    // Built from the policy each attempt reads (the attribute list is extended, not replaced).
    state
        .service
        .patch_policy_with(&caller, &ctx, &scope, Precondition::Any, |current| {
            patches(inner, current)
        })
        .await
        .map_err(|e| match e {
            PatchError::Input(e) => e,
            PatchError::Service(e) => HuaweiError::from_service(e),
        })?;
    state
        .service
        .get_org_policy(&caller, domain_id)
        .await
        .map_err(HuaweiError::from_service)
}

/// The three policies behind `{domain_id}/{policy}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Login,
    Password,
    Protect,
}

impl Which {
    fn from_path(segment: &str) -> Option<Which> {
        match segment {
            "login-policy" => Some(Which::Login),
            "password-policy" => Some(Which::Password),
            "protect-policy" => Some(Which::Protect),
            _ => None,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Which::Login => "login_policy",
            Which::Password => "password_policy",
            Which::Protect => "protect_policy",
        }
    }

    fn view(self, policy: &EffectivePolicy) -> Value {
        match self {
            Which::Login => login_view(policy),
            Which::Password => password_view(policy),
            Which::Protect => json!({"protect_policy": protect_stored(policy)}),
        }
    }

    /// The answer to a PUT: the same object as a GET, but the protect policy's PUT answers
    /// only `allow_user`, `operation_protection`, `admin_check` and `scene`.
    fn put_answer(self, policy: &EffectivePolicy) -> Value {
        if self != Which::Protect {
            return self.view(policy);
        }
        let answer: Map<String, Value> = protect_stored(policy)
            .into_iter()
            .filter(|(k, _)| {
                ["allow_user", "operation_protection", "admin_check", "scene"].contains(&k.as_str())
            })
            .collect();
        json!({"protect_policy": answer})
    }

    fn patches(
        self,
        fields: &Map<String, Value>,
        current: &EffectivePolicy,
    ) -> Result<common::Patches, HuaweiError> {
        match self {
            Which::Login => login_patches(fields),
            Which::Password => password_patches(fields, current),
            Which::Protect => protect_patch(fields, current),
        }
    }
}

/// The policy a path segment names; the handlers answer an unknown one (404) before any
/// authentication.
fn which(segment: &str) -> Result<Which, HuaweiError> {
    Which::from_path(segment).ok_or_else(|| {
        HuaweiError::new(StatusCode::NOT_FOUND, "IAM.0004", "no such security policy")
    })
}

async fn get_policy(State(state): State<AppState>, request: PolicyRequest) -> Answer {
    let which = which(&request.segment)?;
    let policy = read_policy(&state, &request).await?;
    Ok(Json(which.view(&policy)))
}

async fn put_policy(State(state): State<AppState>, request: PolicyRequest) -> Answer {
    let which = which(&request.segment)?;
    // A field sent as the GET shows it now is unchanged: the GET's body written back writes
    // nothing (no minutes rounded to seconds again, no range refusing a value set elsewhere).
    let policy = write_policy(&state, &request, which.key(), |fields, current| {
        let shown = which.view(current);
        let shown = shown
            .get(which.key())
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        which.patches(&common::changed_fields(fields, &shown), current)
    })
    .await?;
    Ok(Json(which.put_answer(&policy)))
}
