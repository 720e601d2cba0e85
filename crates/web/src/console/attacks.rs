//! The attacks page: accounts locked and addresses blocked now, each with its lift and a "clear
//! all", and the attack summary of the last day as a bar chart drawn here as SVG.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use maud::{Markup, html};
use portcullis_http::AppState;
use portcullis_service::{AttackSummary, LockFilter};
use portcullis_store::Page;

use super::{PAGE_SIZE, Tab, console_page};
use crate::failure::PageResult;
use crate::layout::{csrf, when};
use crate::visitor::Admin;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/orgs/{org}/attacks", get(page))
        .route("/console/orgs/{org}/locks/clear", post(clear_locks))
        .route("/console/orgs/{org}/locks/{user}/lift", post(lift_lock))
        .route("/console/orgs/{org}/ip-blocks/clear", post(clear_blocks))
        .route("/console/orgs/{org}/ip-blocks/lift", post(lift_block))
}

/// The summary's hours as bars: failed logins (red) and locks placed (blue) per hour.
fn chart(summary: &AttackSummary) -> Markup {
    let hours = &summary.hours;
    let (width, height, top, bottom, left) = (720.0_f64, 220.0_f64, 12.0, 28.0, 40.0);
    let peak = hours
        .iter()
        .map(|h| h.failed_logins.max(h.locks))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = (width - left) / hours.len().max(1) as f64;
    let bar = (slot / 2.0 - 1.0).max(1.0);
    let scale = |n: u64| (n as f64 / peak) * (height - top - bottom);
    let label = format!(
        "Failed logins and locks per hour from {} to {}: {} failed logins, {} locks in all",
        when(summary.since),
        when(summary.until),
        summary.total.failed_logins,
        summary.total.locks
    );
    html! {
        figure.chart #attack-chart {
            svg viewBox={"0 0 " (width) " " (height)} role="img" aria-label=(label) {
                text x="0" y=(top + 4.0) { (peak as u64) }
                text x="0" y=(height - bottom) { "0" }
                @for (i, h) in hours.iter().enumerate() {
                    @let x = left + i as f64 * slot;
                    @let f = scale(h.failed_logins);
                    @let l = scale(h.locks);
                    rect.bar-failed x=(format!("{x:.1}")) y=(format!("{:.1}", height - bottom - f)) width=(format!("{bar:.1}")) height=(format!("{f:.1}")) {
                        title { (when(h.hour)) ": " (h.failed_logins) " failed logins" }
                    }
                    rect.bar-locks x=(format!("{:.1}", x + bar + 1.0)) y=(format!("{:.1}", height - bottom - l)) width=(format!("{bar:.1}")) height=(format!("{l:.1}")) {
                        title { (when(h.hour)) ": " (h.locks) " locks" }
                    }
                    @if i % 6 == 0 {
                        text x=(format!("{x:.1}")) y=(height - 8.0) { (h.hour.hour()) ":00" }
                    }
                }
            }
            figcaption {
                "Per hour (UTC): " span.legend-failed { "failed logins" } " (red) and " span.legend-locks { "locks placed" } " (blue). "
                "In all: " (summary.total.failed_logins) " failed logins, " (summary.total.locks) " locks, "
                (summary.total.ip_blocks) " address blocks, " (summary.total.distinct_logins) " login names, "
                (summary.total.distinct_sources) " sources."
            }
        }
    }
}

/// `GET /console/orgs/{org}/attacks`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Path(org): Path<String>,
    admin: Admin,
) -> PageResult {
    let first = Page {
        after: None,
        limit: PAGE_SIZE,
    };
    let locks = state
        .service
        .list_locks(&admin.caller, &org, &LockFilter::default(), &first)
        .await?;
    let blocks = state
        .service
        .list_ip_blocks(&admin.caller, &org, &first)
        .await?;
    let summary = state
        .service
        .attack_summary(&admin.caller, &org, None)
        .await?;
    let csrf_token = &admin.visitor.csrf;
    Ok(console_page(
        &admin,
        Some(&org),
        Tab::Attacks,
        "Attacks",
        html! {
            h1 { "Attacks" }
            section.card aria-labelledby="locks-title" {
                h2 #locks-title { "Locked accounts" }
                @if locks.is_empty() { p #no-locks { "No account is locked." } } @else {
                    table #locks {
                        thead { tr { th scope="col" { "Login" } th scope="col" { "Kind" } th scope="col" { "Failures" } th scope="col" { "Since" } th scope="col" { "Until" } th scope="col" { "Action" } } }
                        tbody {
                            @for lock in &locks {
                                tr data-login=(lock.login) {
                                    td { (lock.login) }
                                    td { (format!("{:?}", lock.kind).to_lowercase()) }
                                    td { (lock.failures) }
                                    td { (when(lock.locked_at)) }
                                    td { (lock.until.map(when).unwrap_or_else(|| "until unlocked".into())) }
                                    td {
                                        @if let Some(user) = &lock.user_id {
                                            form method="post" action={"/console/orgs/" (org) "/locks/" (user) "/lift"} {
                                                (csrf(csrf_token))
                                                button.secondary type="submit" aria-label={"Lift the lock of " (lock.login)} { "Lift" }
                                            }
                                        } @else { span.muted { "no such user" } }
                                    }
                                }
                            }
                        }
                    }
                    form method="post" action={"/console/orgs/" (org) "/locks/clear"} {
                        (csrf(csrf_token))
                        button.danger type="submit" #clear-locks { "Lift every lock" }
                    }
                }
            }
            section.card aria-labelledby="blocks-title" {
                h2 #blocks-title { "Blocked addresses" }
                @if blocks.is_empty() { p #no-blocks { "No address is blocked." } } @else {
                    table #ip-blocks {
                        thead { tr { th scope="col" { "Address" } th scope="col" { "By" } th scope="col" { "Since" } th scope="col" { "Until" } th scope="col" { "Action" } } }
                        tbody {
                            @for block in &blocks {
                                tr data-address=(block.address) {
                                    td { (block.address) }
                                    td { (format!("{:?}", block.origin).to_lowercase()) }
                                    td { (when(block.blocked_at)) }
                                    td { (block.until.map(when).unwrap_or_else(|| "until lifted".into())) }
                                    td {
                                        form method="post" action={"/console/orgs/" (org) "/ip-blocks/lift"} {
                                            (csrf(csrf_token))
                                            input type="hidden" name="address" value=(block.address);
                                            button.secondary type="submit" aria-label={"Lift the block of " (block.address)} { "Lift" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    form method="post" action={"/console/orgs/" (org) "/ip-blocks/clear"} {
                        (csrf(csrf_token))
                        button.danger type="submit" #clear-blocks { "Lift every block" }
                    }
                }
            }
            section.card aria-labelledby="summary-title" {
                h2 #summary-title { "The last 24 hours" }
                (chart(&summary))
            }
        },
    )
    .into_response())
}

fn back(org: &str) -> axum::response::Response {
    Redirect::to(&format!("/console/orgs/{org}/attacks")).into_response()
}

/// `POST …/locks/{user}/lift`: unlocks one user (the API's `POST …/users/{id}/unlock`).
pub(crate) async fn lift_lock(
    State(state): State<AppState>,
    Path((org, user)): Path<(String, String)>,
    admin: Admin,
) -> PageResult {
    state
        .service
        .unlock_user(&admin.caller, &admin.ctx(), &org, &user)
        .await?;
    Ok(back(&org))
}

/// `POST …/locks/clear`.
pub(crate) async fn clear_locks(
    State(state): State<AppState>,
    Path(org): Path<String>,
    admin: Admin,
) -> PageResult {
    state
        .service
        .clear_locks(&admin.caller, &admin.ctx(), &org)
        .await?;
    Ok(back(&org))
}

/// `POST …/ip-blocks/clear`.
pub(crate) async fn clear_blocks(
    State(state): State<AppState>,
    Path(org): Path<String>,
    admin: Admin,
) -> PageResult {
    state
        .service
        .clear_ip_blocks(&admin.caller, &admin.ctx(), &org)
        .await?;
    Ok(back(&org))
}

#[derive(serde::Deserialize)]
pub(crate) struct Address {
    address: String,
}

/// `POST …/ip-blocks/lift` (the address in the form: it may hold a `/`).
pub(crate) async fn lift_block(
    State(state): State<AppState>,
    Path(org): Path<String>,
    admin: Admin,
    axum::Form(form): axum::Form<Address>,
) -> PageResult {
    state
        .service
        .lift_ip_block(&admin.caller, &admin.ctx(), &org, &form.address)
        .await?;
    Ok(back(&org))
}
