//! Operations: liveness, readiness, Prometheus metrics, the OpenAPI document.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use portcullis_service::{LoginResult, Metrics};

use crate::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, description = "ready"), (status = 503, description = "database unreachable")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.service.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus metrics")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.service.metrics;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP portcullis_logins_total Logins by result.\n# TYPE portcullis_logins_total counter"
    );
    for result in LoginResult::ALL {
        let _ = writeln!(
            out,
            "portcullis_logins_total{{result=\"{}\"}} {}",
            result.as_str(),
            m.logins_with(result)
        );
    }
    for (name, help, value) in [
        (
            "portcullis_account_locks_total",
            "Accounts locked.",
            Metrics::get(&m.locks),
        ),
        (
            "portcullis_ip_blocks_total",
            "Client IPs blocked.",
            Metrics::get(&m.blocks),
        ),
        (
            "portcullis_password_hashes_total",
            "Password hash computations and verifications, dummy ones included.",
            Metrics::get(&m.password_hashes),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP portcullis_password_hash_seconds_total Time spent hashing.\n# TYPE portcullis_password_hash_seconds_total counter\nportcullis_password_hash_seconds_total {}",
        Metrics::get(&m.hash_micros) as f64 / 1e6
    );
    state.http_metrics.render(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", security(()),
    responses((status = 200, description = "This document", content_type = "application/json")))]
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document_json(),
    )
}
