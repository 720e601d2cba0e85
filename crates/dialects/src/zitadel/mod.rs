//! ZITADEL lockout, password complexity, password age and login policies
//! (`docs/dialects/zitadel.md`).
//!
//! v1 REST: the management API (`/management/v1/policies/...`, organization from
//! `x-zitadel-orgid` or the caller's own) with get, get default, add (409 when the organization
//! has its own copy), update (404 without one, 400 when nothing changes) and reset (404 without
//! one); the admin API (`/admin/v1/policies/...`, instance defaults; the lockout update is at
//! `/admin/v1/policies/password/lockout`). The RPC paths of the same operations,
//! `POST /zitadel.management.v1.ManagementService/<Method>` and
//! `/zitadel.admin.v1.AdminService/<Method>`, and of v2's
//! `/zitadel.settings.v2.SettingsService/Get{Lockout,PasswordComplexity,PasswordExpiry,
//! Login}Settings` (with `ctx.orgId` or `ctx.instance` in the request; the same methods of
//! `zitadel.settings.v2beta`, whose messages are v2's), over gRPC, gRPC-web and Connect (`rpc`). Credentials: `Authorization: Bearer` (a header, or gRPC metadata).
//!
//! Invariants: every transport of a method calls the one handler of its REST route with the
//! same protojson body (`call`), so they share every decision and every answer; a v1 policy
//! message as a GET answers it can be written back and changes nothing: `details` is read-only
//! and ignored, `isDefault: true` is accepted only while the organization inherits the policy
//! as sent (nothing is written), and login switches that read as they stand are not stored
//! again.

mod errors;
mod policies;
mod proto;
mod rpc;

pub use proto::descriptor_pool;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use portcullis_http::AppState;
use portcullis_model::EffectivePolicy;
use portcullis_service::{
    Caller, Context, PatchError, PatchOutcome, PolicyScope, Precondition, ServiceError,
};
use serde_json::{Map, Value, json};

use errors::{Code, Envelope, ZitadelError};
use policies::Kind;
use proto::Rpc;
use rpc::Transport;

use crate::common::{self, Rid};

type Answer = Result<Json<Value>, ZitadelError>;

/// This dialect's routes.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for service in Service::ALL {
        router = router.route(
            &format!("/{}/{{method}}", service.full_name()),
            post(
                move |s: State<AppState>, m: Path<String>, h: HeaderMap, r: Rid, b: Bytes| {
                    rpc_route(s, m, h, r, b, service)
                },
            ),
        );
    }
    for (path, admin_get, admin_put, kind) in [
        ("lockout", "lockout", "password/lockout", Kind::Lockout),
        (
            "password/complexity",
            "password/complexity",
            "password/complexity",
            Kind::Complexity,
        ),
        ("password/age", "password/age", "password/age", Kind::Age),
        ("login", "login", "login", Kind::Login),
    ] {
        router = router
            .route(
                &format!("/management/v1/policies/{path}"),
                get(move |s: State<AppState>, h: HeaderMap, r: Rid| mgmt_get(s, h, r, kind))
                    .post(move |s: State<AppState>, h: HeaderMap, r: Rid, b: Bytes| {
                        mgmt_write(s, h, r, b, kind, Precondition::Inherited(kind.primary()))
                    })
                    .put(move |s: State<AppState>, h: HeaderMap, r: Rid, b: Bytes| {
                        mgmt_write(s, h, r, b, kind, Precondition::Custom(kind.primary()))
                    })
                    .delete(move |s: State<AppState>, h: HeaderMap, r: Rid| {
                        mgmt_reset(s, h, r, kind)
                    }),
            )
            .route(
                &format!("/management/v1/policies/default/{path}"),
                get(move |s: State<AppState>, h: HeaderMap, r: Rid| {
                    mgmt_get_default(s, h, r, kind)
                }),
            );
        // The admin lockout GET and PUT live at different paths; the others share one.
        let admin_read =
            get(move |s: State<AppState>, h: HeaderMap, r: Rid| admin_get_policy(s, h, r, kind));
        let admin_write = put(move |s: State<AppState>, h: HeaderMap, r: Rid, b: Bytes| {
            admin_update(s, h, r, b, kind)
        });
        router = if admin_get == admin_put {
            router.route(
                &format!("/admin/v1/policies/{admin_get}"),
                admin_read.merge(admin_write),
            )
        } else {
            router
                .route(&format!("/admin/v1/policies/{admin_get}"), admin_read)
                .route(&format!("/admin/v1/policies/{admin_put}"), admin_write)
        };
    }
    router
}

async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
    rid: &Rid,
) -> Result<(Caller, Context), ZitadelError> {
    common::authenticate(state, common::bearer(headers), rid)
        .await
        .map_err(ZitadelError::from_service)
}

/// The caller of a management call, its context and the organization the call acts on.
async fn mgmt_caller_of(
    state: &AppState,
    headers: &HeaderMap,
    rid: &Rid,
) -> Result<(Caller, Context, String), ZitadelError> {
    let (caller, ctx) = caller_of(state, headers, rid).await?;
    let org = org_of(&caller, headers)?;
    Ok((caller, ctx, org))
}

/// The organization a management call acts on.
fn org_of(caller: &Caller, headers: &HeaderMap) -> Result<String, ZitadelError> {
    common::header(headers, "x-zitadel-orgid")
        .filter(|org| !org.is_empty())
        .map(str::to_owned)
        .or_else(|| caller.org_id.as_ref().map(|org| org.to_string()))
        .ok_or_else(|| {
            ZitadelError::new(
                Code::InvalidArgument,
                "AUTHZ-orgid",
                "x-zitadel-orgid is required with instance credentials",
            )
        })
}

/// The policy of `org` as it stands, or (`default`) the instance defaults it would inherit.
async fn org_policy(
    state: &AppState,
    caller: &Caller,
    org: &str,
    default: bool,
) -> Result<Arc<EffectivePolicy>, ZitadelError> {
    let policy = if default {
        state.service.get_default_policy(caller, org).await
    } else {
        state.service.get_org_policy(caller, org).await
    };
    policy.map_err(ZitadelError::from_service)
}

/// A v1 policy message: the fields, `details` and `isDefault`, zero values omitted.
fn policy_message(kind: Kind, policy: &EffectivePolicy, is_default: bool) -> Value {
    let (_, details) = policy.section_meta(kind.primary());
    let mut fields = kind.fields(policy);
    fields.insert("details".into(), policies::details(details));
    fields.insert("isDefault".into(), is_default.into());
    policies::omit_zero(Value::Object(fields))
}

fn details_only(kind: Kind, policy: &EffectivePolicy) -> Json<Value> {
    let (_, details) = policy.section_meta(kind.primary());
    Json(json!({"details": policies::details(details)}))
}

async fn mgmt_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    kind: Kind,
) -> Answer {
    let (caller, _, org) = mgmt_caller_of(&state, &headers, &rid).await?;
    let policy = org_policy(&state, &caller, &org, false).await?;
    let (inherited, _) = policy.section_meta(kind.primary());
    Ok(Json(policies::omit_zero(json!({
        "policy": policy_message(kind, &policy, inherited),
        "isDefault": inherited,
    }))))
}

async fn mgmt_get_default(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    kind: Kind,
) -> Answer {
    let (caller, _, org) = mgmt_caller_of(&state, &headers, &rid).await?;
    let policy = org_policy(&state, &caller, &org, true).await?;
    Ok(Json(json!({"policy": policy_message(kind, &policy, true)})))
}

fn body_of(body: &[u8]) -> Result<Map<String, Value>, ZitadelError> {
    common::json_object(body)
        .map_err(|e| ZitadelError::new(Code::InvalidArgument, "POLICY-body", e))
}

fn not_changed(kind: Kind, scope: &PolicyScope) -> ZitadelError {
    let owner = match scope {
        PolicyScope::Instance => "IAM",
        PolicyScope::Org(_) => "Org",
    };
    ZitadelError::new(
        Code::FailedPrecondition,
        "POLICY-notchanged",
        format!("Errors.{owner}.{}.NotChanged", kind.message_name()),
    )
}

async fn write(
    state: &AppState,
    caller: &Caller,
    ctx: &Context,
    scope: &PolicyScope,
    body: &[u8],
    kind: Kind,
    precondition: Precondition,
) -> Result<Arc<EffectivePolicy>, ZitadelError> {
    let mut fields = body_of(body)?;
    // The read-only parts of a policy message, so the message a GET answers can be sent back.
    fields.remove("details");
    let is_default = common::bool_field(&fields, "isDefault")
        .map_err(|e| ZitadelError::new(Code::InvalidArgument, "POLICY-invalid", e))?;
    fields.remove("isDefault");
    if is_default == Some(true)
        && let PolicyScope::Org(org) = scope
    {
        return still_inherited(state, caller, org, &fields, kind).await;
    }
    // The patch is built from the policy each attempt reads (a class minimum that stays on
    // keeps its current value), so a concurrent write is never overwritten from a stale read.
    let outcome = state
        .service
        .patch_policy_with(caller, ctx, scope, precondition, |current| {
            kind.patches(&fields, current)
        })
        .await
        .map_err(|e| match e {
            PatchError::Input(e) => ZitadelError::new(Code::InvalidArgument, "POLICY-invalid", e),
            PatchError::Service(e) => ZitadelError::from_service(e),
        })?;
    // Adding a policy identical to the default still creates the organization's own copy; an
    // update that changes nothing is refused, as ZITADEL does.
    if outcome == PatchOutcome::Unchanged && !matches!(precondition, Precondition::Inherited(_)) {
        return Err(not_changed(kind, scope));
    }
    state
        .service
        .scoped_policy(caller, scope)
        .await
        .map_err(ZitadelError::from_service)
}

/// A write of a policy message that says `isDefault: true` for an organization: it keeps
/// inheriting the policy, so it is accepted (and writes nothing) only while the organization
/// inherits it and the fields are the ones it shows; anything else would make the policy the
/// organization's own while saying it is not.
async fn still_inherited(
    state: &AppState,
    caller: &Caller,
    org: &str,
    fields: &Map<String, Value>,
    kind: Kind,
) -> Result<Arc<EffectivePolicy>, ZitadelError> {
    let policy = org_policy(state, caller, org, false).await?;
    let (inherited, _) = policy.section_meta(kind.primary());
    let sent = policies::omit_zero(Value::Object(fields.clone()));
    let shown = policies::omit_zero(Value::Object(kind.fields(&policy)));
    if inherited && sent == shown {
        return Ok(policy);
    }
    Err(ZitadelError::new(
        Code::InvalidArgument,
        "POLICY-isdefault",
        "isDefault: true only says the organization inherits the policy as shown; \
         send the policy without isDefault to change it, or reset it to inherit again",
    ))
}

async fn mgmt_write(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
    kind: Kind,
    precondition: Precondition,
) -> Answer {
    let (caller, ctx, org) = mgmt_caller_of(&state, &headers, &rid).await?;
    let scope = PolicyScope::Org(org);
    let policy = write(&state, &caller, &ctx, &scope, &body, kind, precondition).await?;
    Ok(details_only(kind, &policy))
}

async fn mgmt_reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    kind: Kind,
) -> Answer {
    let (caller, ctx, org) = mgmt_caller_of(&state, &headers, &rid).await?;
    let default = org_policy(&state, &caller, &org, true).await?;
    // Only the fields this policy names go back to the default, and the sections it owns that
    // then equal the default inherit again: one service operation, one conditional write that
    // requires the organization's own copy (the service decides which sections inherit).
    let patches = kind.reset_patches(&default);
    state
        .service
        .reset_policy_fields(
            &caller,
            &ctx,
            &org,
            &patches,
            kind.primary(),
            kind.owned_sections(),
        )
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => ZitadelError::new(
                Code::NotFound,
                "POLICY-nocustom",
                "the organization has no policy of its own to reset",
            ),
            other => ZitadelError::from_service(other),
        })?;
    let policy = org_policy(&state, &caller, &org, false).await?;
    Ok(details_only(kind, &policy))
}

async fn admin_get_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    kind: Kind,
) -> Answer {
    let (caller, _) = caller_of(&state, &headers, &rid).await?;
    let policy = state
        .service
        .scoped_policy(&caller, &PolicyScope::Instance)
        .await
        .map_err(ZitadelError::from_service)?;
    Ok(Json(json!({"policy": policy_message(kind, &policy, true)})))
}

async fn admin_update(
    State(state): State<AppState>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
    kind: Kind,
) -> Answer {
    let (caller, ctx) = caller_of(&state, &headers, &rid).await?;
    let scope = PolicyScope::Instance;
    let policy = write(
        &state,
        &caller,
        &ctx,
        &scope,
        &body,
        kind,
        Precondition::Any,
    )
    .await?;
    Ok(details_only(kind, &policy))
}

async fn v2_settings(
    State(state): State<AppState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
) -> Answer {
    let v2 = |e: ZitadelError| e.in_envelope(Envelope::Connect);
    let (caller, _) = caller_of(&state, &headers, &rid).await.map_err(v2)?;
    let Some(kind) = settings_method(&method) else {
        return Err(v2(ZitadelError::new(
            Code::NotFound,
            "SETTINGS-method",
            format!("no method {method}"),
        )));
    };
    let fields = body_of(&body).map_err(v2)?;
    let ctx = fields.get("ctx").and_then(Value::as_object);
    let org = ctx
        .and_then(|c| c.get("orgId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let instance = ctx
        .and_then(|c| c.get("instance"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (policy, owner_is_org) = match (org, instance, &caller.org_id) {
        (Some(org), _, _) => (org_policy(&state, &caller, &org, false).await, true),
        (None, true, Some(own)) => (org_policy(&state, &caller, own, true).await, false),
        (None, false, Some(own)) => (org_policy(&state, &caller, own, false).await, true),
        (None, _, None) => (
            state
                .service
                .scoped_policy(&caller, &PolicyScope::Instance)
                .await
                .map_err(ZitadelError::from_service),
            false,
        ),
    };
    let policy = policy.map_err(v2)?;
    let (inherited, details) = policy.section_meta(kind.primary());
    let mut settings = kind.settings_v2(&policy);
    let owner_type = if owner_is_org && !inherited {
        "RESOURCE_OWNER_TYPE_ORG"
    } else {
        "RESOURCE_OWNER_TYPE_INSTANCE"
    };
    settings.insert("resourceOwnerType".into(), owner_type.into());
    Ok(Json(json!({
        "details": policies::details(details),
        "settings": policies::omit_zero(Value::Object(settings)),
    })))
}

/// The services whose RPC paths are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    /// `zitadel.management.v1.ManagementService`: the `/management/v1` routes.
    Management,
    /// `zitadel.admin.v1.AdminService`: the `/admin/v1` routes.
    Admin,
    /// `zitadel.settings.v2.SettingsService`: the v2 settings getters.
    Settings,
    /// `zitadel.settings.v2beta.SettingsService`: the same getters, messages and answers.
    SettingsBeta,
}

impl Service {
    const ALL: [Service; 4] = [
        Service::Management,
        Service::Admin,
        Service::Settings,
        Service::SettingsBeta,
    ];

    fn full_name(self) -> &'static str {
        match self {
            Service::Management => "zitadel.management.v1.ManagementService",
            Service::Admin => "zitadel.admin.v1.AdminService",
            Service::Settings => "zitadel.settings.v2.SettingsService",
            Service::SettingsBeta => "zitadel.settings.v2beta.SettingsService",
        }
    }
}

/// A v1 operation, as its REST route does it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum V1 {
    Get,
    GetDefault,
    Add,
    Update,
    Reset,
}

/// The operation and the policy of a management method (`Get{Policy}`, `GetDefault{Policy}`,
/// `AddCustom{Policy}`, `UpdateCustom{Policy}`, `Reset{Policy}ToDefault`).
fn management_method(method: &str) -> Option<(V1, Kind)> {
    Kind::ALL.into_iter().find_map(|kind| {
        let policy = kind.message_name();
        [
            (format!("Get{policy}"), V1::Get),
            (format!("GetDefault{policy}"), V1::GetDefault),
            (format!("AddCustom{policy}"), V1::Add),
            (format!("UpdateCustom{policy}"), V1::Update),
            (format!("Reset{policy}ToDefault"), V1::Reset),
        ]
        .into_iter()
        .find(|(name, _)| name == method)
        .map(|(_, op)| (op, kind))
    })
}

/// The policy of an admin method (`Get{Policy}`, `Update{Policy}`): whether it writes.
fn admin_method(method: &str) -> Option<(bool, Kind)> {
    Kind::ALL.into_iter().find_map(|kind| {
        let policy = kind.message_name();
        if method == format!("Get{policy}") {
            Some((false, kind))
        } else if method == format!("Update{policy}") {
            Some((true, kind))
        } else {
            None
        }
    })
}

/// The policy of a v2 settings method (`Get{Settings}`).
fn settings_method(method: &str) -> Option<Kind> {
    Kind::ALL
        .into_iter()
        .find(|kind| method.strip_prefix("Get") == Some(kind.settings_name()))
}

/// One call of an RPC path with its protojson request: the handler of the same REST route.
async fn call(
    state: AppState,
    service: Service,
    method: String,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
) -> Answer {
    let state = State(state);
    match service {
        Service::Management => match management_method(&method) {
            Some((V1::Get, kind)) => mgmt_get(state, headers, rid, kind).await,
            Some((V1::GetDefault, kind)) => mgmt_get_default(state, headers, rid, kind).await,
            Some((V1::Add, kind)) => {
                let precondition = Precondition::Inherited(kind.primary());
                mgmt_write(state, headers, rid, body, kind, precondition).await
            }
            Some((V1::Update, kind)) => {
                let precondition = Precondition::Custom(kind.primary());
                mgmt_write(state, headers, rid, body, kind, precondition).await
            }
            Some((V1::Reset, kind)) => mgmt_reset(state, headers, rid, kind).await,
            None => unknown_method(&state, &headers, &rid, &method).await,
        },
        Service::Admin => match admin_method(&method) {
            Some((false, kind)) => admin_get_policy(state, headers, rid, kind).await,
            Some((true, kind)) => admin_update(state, headers, rid, body, kind).await,
            None => unknown_method(&state, &headers, &rid, &method).await,
        },
        Service::Settings | Service::SettingsBeta => {
            v2_settings(state, Path(method), headers, rid, body).await
        }
    }
}

/// A method this facade does not serve: 404 to an authenticated caller (401 before that).
async fn unknown_method(state: &AppState, headers: &HeaderMap, rid: &Rid, method: &str) -> Answer {
    caller_of(state, headers, rid).await?;
    Err(ZitadelError::new(
        Code::NotFound,
        "RPC-method",
        format!("no method {method}"),
    ))
}

/// `POST /<service>/<method>` over every transport (`rpc`).
async fn rpc_route(
    State(state): State<AppState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    rid: Rid,
    body: Bytes,
    service: Service,
) -> Response {
    match Transport::of(&headers) {
        Transport::Json => match call(state, service, method, headers, rid, body).await {
            Ok(answer) => answer.into_response(),
            Err(e) => e.in_envelope(Envelope::Connect).into_response(),
        },
        Transport::Binary { framing, proto } => {
            let outcome = async {
                let message = framing.unframe(proto, body)?;
                let rpc = Rpc::find(service.full_name(), &method)?;
                // A method the definitions lack has no request message; its handler refuses it.
                let request = match &rpc {
                    Some(rpc) => rpc.request_json(&message)?,
                    None => Bytes::new(),
                };
                let Json(answer) = call(state, service, method, headers, rid, request).await?;
                rpc.ok_or_else(|| {
                    ZitadelError::new(Code::Internal, "SERVER-internal", "internal error")
                })?
                .response_bytes(answer)
            };
            framing.respond(outcome.await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The methods the definitions name are exactly the methods `call` serves.
    #[test]
    fn every_defined_method_is_served_and_only_those() {
        let pool = descriptor_pool().unwrap();
        for service in Service::ALL {
            let defined = pool.get_service_by_name(service.full_name()).unwrap();
            let mut count = 0;
            for method in defined.methods() {
                let served = match service {
                    Service::Management => management_method(method.name()).is_some(),
                    Service::Admin => admin_method(method.name()).is_some(),
                    Service::Settings | Service::SettingsBeta => {
                        settings_method(method.name()).is_some()
                    }
                };
                assert!(served, "{} is not served", method.full_name());
                count += 1;
            }
            let expected = match service {
                Service::Management => 5 * Kind::ALL.len(),
                Service::Admin => 2 * Kind::ALL.len(),
                Service::Settings | Service::SettingsBeta => Kind::ALL.len(),
            };
            assert_eq!(count, expected, "{service:?}");
        }
        assert_eq!(
            management_method("ResetLoginPolicyToDefault"),
            Some((V1::Reset, Kind::Login))
        );
        assert_eq!(
            admin_method("UpdateLockoutPolicy"),
            Some((true, Kind::Lockout))
        );
        assert_eq!(
            settings_method("GetPasswordExpirySettings"),
            Some(Kind::Age)
        );
        assert_eq!(settings_method("GetSecuritySettings"), None);
    }
}
