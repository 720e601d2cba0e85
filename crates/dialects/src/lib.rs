//! Vendor dialects: wire-compatible facades of five vendors' security-settings APIs
//! (`docs/dialects/`), each over the same service operations as the native API.
//!
//! Invariants: a dialect translates and never decides — it converts names and units, checks
//! the vendor's documented ranges, calls the service, and maps the service's answer (and
//! errors, once, in its own envelope) back; every rule and every enforcement is the service's.
//! A write names only the canonical fields the dialect carries. A caller from another
//! organization gets the dialect's not-found, exactly like a missing organization.

mod common;
pub mod huawei;
pub mod plusauth;
pub mod sailpoint;
pub mod scaleway;
pub mod zitadel;

use axum::Router;
use portcullis_http::AppState;

/// Every dialect's routes, to merge with the native API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(scaleway::routes())
        .merge(zitadel::routes())
        .merge(huawei::routes())
        .merge(sailpoint::routes())
        .merge(plusauth::routes())
}
