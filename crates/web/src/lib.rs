//! The admin console (`/console/`) and the hosted end-user pages (`/orgs/{org}/login`, the
//! mailed links `/unblock`, `/reset-password`, `/verify-email`, registration, forgotten
//! password, the account page), server-rendered and served by the same binary
//! (docs/console.md).
//!
//! Invariants:
//! - a facade, like the API and the dialects: every page calls the service operations the
//!   native API calls, with the caller its cookie authenticates, and decides nothing itself
//!   (the hosted login is `Service::login`, so lockout, IP blocking and timing are the API's);
//! - every answer carries the security headers and every form the CSRF token of [`guard`];
//! - no secret appears in a URL the pages build, in a log line or in a page, but for the ones
//!   shown once on purpose (a new key, a TOTP secret and its QR code, recovery codes).

mod assets;
mod console;
mod failure;
mod guard;
mod hosted;
mod layout;
mod visitor;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use portcullis_http::AppState;

/// Every page and asset, behind the security headers and the CSRF rule.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(console::home))
        .route("/assets/{name}", get(assets::asset))
        .merge(hosted::routes())
        .merge(console::routes())
        .route("/console/signout", post(console::signout))
        .layer(middleware::from_fn_with_state(state, guard::guard))
}
