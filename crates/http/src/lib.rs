//! The native HTTP API of portcullis (docs/design.md §7): axum routes under `/v1`, bearer
//! authentication, RFC 9457 problem+json errors, the OpenAPI 3.1 document, health and metrics.
//!
//! Invariants: handlers translate HTTP to service calls and back, nothing else — every decision
//! is the service's; errors are mapped once ([`error::ApiError`]); every request carries a request
//! id (taken from a sane `X-Request-Id` or generated) that is echoed and logged; no header or body
//! that carries a secret is logged.

pub mod bodies;
pub mod enforcement_views;
pub mod error;
pub mod extract;
mod http_metrics;
pub mod openapi;
pub mod routes;
pub mod schemas;
pub mod service_views;
pub mod views;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use portcullis_service::Service;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use http_metrics::HttpMetrics;
use http_metrics::{MethodLabel, RouteLabel};

use crate::extract::RequestId;
use crate::routes::{
    compliance, enforcement, keys, mfa, ops, orgs, policy, policy_document, self_service, session,
    sessions, users,
};

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The service.
    pub service: Arc<Service>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// Request latency.
    pub http_metrics: Arc<HttpMetrics>,
    /// Every metric `/metrics` exposes: the service's and the request latencies.
    pub metrics_registry: Arc<prometheus_client::registry::Registry>,
}

impl AppState {
    /// State over a service.
    pub fn new(service: Arc<Service>, trusted_proxies: Vec<ipnet::IpNet>) -> AppState {
        let http_metrics = Arc::new(HttpMetrics::default());
        let mut registry = prometheus_client::registry::Registry::default();
        service.metrics.register(&mut registry);
        http_metrics.register(&mut registry);
        AppState {
            service,
            trusted_proxies: Arc::new(trusted_proxies),
            http_metrics,
            metrics_registry: Arc::new(registry),
        }
    }
}

/// The native API.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// Every native route with its OpenAPI operation: one list, so a route cannot be served
/// without its path in the document, nor documented without being served. Each `routes!` call
/// holds the handlers of one path (their annotations give the path and the method).
pub(crate) fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base_document())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
        .routes(routes!(orgs::create_org, orgs::list_orgs))
        .routes(routes!(orgs::get_org))
        .routes(routes!(
            policy::get_instance_policy,
            policy_document::replace_instance_policy
        ))
        .routes(routes!(
            policy::put_instance_section,
            policy::patch_instance_section
        ))
        .routes(routes!(
            policy::get_org_policy,
            policy_document::replace_org_policy
        ))
        .routes(routes!(
            policy::put_org_section,
            policy::patch_org_section,
            policy::reset_org_section
        ))
        .routes(routes!(
            policy::list_password_policies,
            policy::create_password_policy
        ))
        .routes(routes!(
            policy::get_password_policy,
            policy::replace_password_policy,
            policy::delete_password_policy
        ))
        .routes(routes!(policy::check_password))
        .routes(routes!(users::create_user, users::list_users))
        .routes(routes!(
            users::get_user,
            users::update_user,
            users::delete_user
        ))
        .routes(routes!(users::set_user_password))
        .routes(routes!(users::unlock_user))
        .routes(routes!(users::get_user_lock))
        .routes(routes!(enforcement::list_locks, enforcement::clear_locks))
        .routes(routes!(
            enforcement::list_ip_blocks,
            enforcement::add_ip_block,
            enforcement::clear_ip_blocks
        ))
        .routes(routes!(enforcement::lift_ip_block))
        .routes(routes!(enforcement::get_attack_summary))
        .routes(routes!(compliance::list_standards))
        .routes(routes!(compliance::get_org_compliance))
        .routes(routes!(compliance::get_instance_compliance))
        .routes(routes!(compliance::apply_org_compliance))
        .routes(routes!(compliance::apply_instance_compliance))
        .routes(routes!(session::login))
        .routes(routes!(mfa::login_mfa))
        .routes(routes!(mfa::start_totp, mfa::remove_totp))
        .routes(routes!(mfa::confirm_totp))
        .routes(routes!(mfa::reset_user_mfa))
        .routes(routes!(session::get_self, self_service::delete_self))
        .routes(routes!(self_service::unblock))
        .routes(routes!(self_service::request_password_reset))
        .routes(routes!(self_service::confirm_password_reset))
        .routes(routes!(self_service::register))
        .routes(routes!(self_service::verify_email))
        .routes(routes!(self_service::list_outbox))
        .routes(routes!(session::change_own_password))
        .routes(routes!(session::logout))
        .routes(routes!(
            sessions::list_own_sessions,
            sessions::end_other_sessions
        ))
        .routes(routes!(sessions::end_own_session))
        .routes(routes!(
            sessions::list_user_sessions,
            sessions::end_user_sessions
        ))
        .routes(routes!(sessions::end_user_session))
        .routes(routes!(sessions::end_org_sessions))
        .routes(routes!(users::expire_user_password))
        .routes(routes!(users::expire_org_passwords))
        .routes(routes!(keys::create_api_key, keys::list_api_keys))
        .routes(routes!(keys::create_access_key))
        .routes(routes!(keys::delete_api_key))
        .routes(routes!(keys::list_events))
        .routes(routes!(keys::list_instance_events))
        .routes(routes!(keys::create_instance_key, keys::list_instance_keys))
        .routes(routes!(keys::delete_instance_key))
}

/// The native API plus `extra` routes (the vendor dialects), all behind the same request-id,
/// tracing and metrics layer.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let (native, _) = api_routes().split_for_parts();
    native
        .merge(extra)
        .fallback(|| async { error::ApiError::not_found() })
        // A JSON body for a known path with another method too (some vendor clients parse every
        // error body as JSON).
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    (!text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    .then(|| text.to_owned())
}

/// Whether a raw path encodes a control character (`%00`–`%1F`, `%7F`): no id, name or login
/// holds one, and some stores refuse them, so such a path names nothing.
fn path_has_control(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1].to_ascii_uppercase(), w[2].to_ascii_uppercase()),
                (b'0' | b'1', b'0'..=b'9' | b'A'..=b'F') | (b'7', b'F')
            )
    })
}

/// An error answered without a JSON body (a request the framework refused before any handler,
/// such as a malformed query string or an oversized body) becomes a problem+json document:
/// every error this server sends is JSON, which some vendor clients require.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        // The hosted pages answer their errors as pages.
        .is_some_and(|v| v.contains("json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (_, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let code = match status.as_u16() {
        413 => "body_too_large",
        415 => "unsupported_media_type",
        _ => "request_rejected",
    };
    let reason = status.canonical_reason().unwrap_or("Request rejected");
    let mut problem = error::ApiError::new(status, code, reason);
    let text = String::from_utf8_lossy(&text);
    if !text.trim().is_empty() {
        problem = problem.detail(text.trim().to_owned());
    }
    problem.into_response()
}

/// Request id, tracing span, latency metric.
async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if path_has_control(request.uri().path()) {
        return error::ApiError::not_found().into_response();
    }
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(sane_request_id)
        .unwrap_or_else(portcullis_service::new_request_id);
    request.extensions_mut().insert(RequestId(id.clone()));
    let route = RouteLabel::of(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let method = MethodLabel::of(request.method());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = method.as_str(),
        route = route.as_str(),
        raw_method = tracing::field::Empty,
        path = tracing::field::Empty
    );
    // An unusual method or an unmatched path is logged, but only a bounded prefix of it.
    if method == MethodLabel::Other {
        span.record("raw_method", prefix(request.method().as_str()));
    }
    if route == RouteLabel::Unmatched {
        span.record("path", prefix(request.uri().path()));
    }
    #[allow(clippy::disallowed_methods)] // measures latency for metrics, not policy time
    let started = Instant::now();
    let mut response = json_errors(next.run(request).instrument(span.clone()).await).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.http_metrics.observe(method, route, status, elapsed);
    span.in_scope(|| tracing::info!(status, latency_ms = elapsed * 1000.0, "request"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// At most the first 32 characters of a client-chosen text, for logs.
fn prefix(text: &str) -> &str {
    text.char_indices()
        .nth(32)
        .map_or(text, |(i, _)| &text[..i])
}

#[cfg(test)]
mod tests {
    use super::path_has_control;

    #[test]
    fn encoded_control_characters_in_paths_are_spotted() {
        assert!(path_has_control("/v1/orgs/a%00b/users"));
        assert!(path_has_control("/v1/orgs/a%1fb"));
        assert!(path_has_control("/v1/orgs/a%7Fb"));
        assert!(!path_has_control("/v1/orgs/acme/users/usr_1"));
        assert!(!path_has_control("/v1/orgs/a%20b"));
        assert!(!path_has_control("/v1/orgs/a%2Fb"));
    }
}
