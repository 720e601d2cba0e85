//! The events timeline (newest pages first read oldest-first by sequence, with a filter on the
//! event type) and the mail outbox.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use maud::html;
use portcullis_http::AppState;
use serde::Deserialize;

use super::{PAGE_SIZE, Tab, console_page};
use crate::failure::PageResult;
use crate::layout::when;
use crate::visitor::Admin;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/orgs/{org}/events", get(events))
        .route("/console/orgs/{org}/outbox", get(outbox))
}

#[derive(Deserialize, Default)]
pub(crate) struct EventsQuery {
    #[serde(default)]
    after: u64,
    /// Only types starting with this (`account.`, `policy.lockout.changed`…).
    #[serde(default)]
    kind: String,
}

/// Event type families offered by the filter.
const FAMILIES: &[&str] = &[
    "account.",
    "login.",
    "ip.",
    "policy.",
    "user.",
    "password.",
    "session.",
    "api_key.",
    "mfa.",
    "mail.",
];

/// `GET /console/orgs/{org}/events`.
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(q): Query<EventsQuery>,
    admin: Admin,
) -> PageResult {
    let list = state
        .service
        .list_events(&admin.caller, &org, q.after, PAGE_SIZE)
        .await?;
    let next = (list.len() == PAGE_SIZE as usize)
        .then(|| list.last().map(|e| e.sequence))
        .flatten();
    // Only the families offered: anything else shows every type.
    let kind = FAMILIES
        .iter()
        .find(|f| **f == q.kind.trim())
        .map_or(String::new(), |f| (*f).to_owned());
    let shown: Vec<_> = list.iter().filter(|e| e.kind.starts_with(&kind)).collect();
    Ok(console_page(
        &admin,
        Some(&org),
        Tab::Events,
        "Events",
        html! {
            h1 { "Events" }
            form.row #event-filter method="get" action={"/console/orgs/" (org) "/events"} {
                div.field {
                    label for="f-kind" { "Type" }
                    select #f-kind name="kind" {
                        option value="" selected[kind.is_empty()] { "every type" }
                        @for f in FAMILIES { option value=(f) selected[kind == *f] { (f) "*" } }
                    }
                }
                div.field { button type="submit" { "Filter" } }
            }
            p.muted { "Events " (q.after.saturating_add(1)) " onwards, " (PAGE_SIZE) " per page; the filter applies to the page shown." }
            table #events {
                thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Type" } th scope="col" { "Actor" } th scope="col" { "Details" } } }
                tbody {
                    @for e in &shown {
                        tr data-kind=(e.kind) {
                            td { (e.sequence) }
                            td { (when(e.at)) }
                            td { code { (e.kind) } }
                            td { (e.actor) }
                            td { code { (serde_json::to_string(&e.payload).unwrap_or_default()) } }
                        }
                    }
                }
            }
            @if let Some(last) = next {
                p.pager { a href={"/console/orgs/" (org) "/events?after=" (last) "&kind=" (kind)} { "Next page" } }
            }
        },
    )
    .into_response())
}

#[derive(Deserialize, Default)]
pub(crate) struct OutboxQuery {
    #[serde(default)]
    after: Option<String>,
}

/// `GET /console/orgs/{org}/outbox`.
pub(crate) async fn outbox(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(q): Query<OutboxQuery>,
    admin: Admin,
) -> PageResult {
    let page = super::page_after(&super::After { after: q.after });
    let list = state
        .service
        .list_outbox(&admin.caller, &org, &page)
        .await?;
    let next = (list.len() == PAGE_SIZE as usize)
        .then(|| list.last().map(|m| m.id))
        .flatten();
    Ok(console_page(
        &admin,
        Some(&org),
        Tab::Outbox,
        "Outbox",
        html! {
            h1 { "Outbox" }
            p.muted { "Mails waiting or sent. One-time links show as {token}: the signed token exists only in the mail handed to the mail server." }
            table #outbox {
                thead { tr { th scope="col" { "#" } th scope="col" { "Kind" } th scope="col" { "To" } th scope="col" { "Subject" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Queued" } } }
                tbody {
                    @for m in &list {
                        tr data-kind=(m.kind) {
                            td { (m.id) }
                            td { (m.kind) }
                            td { (m.recipient) }
                            td { (m.subject) }
                            td { (m.status) }
                            td { (m.attempts) }
                            td { (when(m.created_at)) }
                        }
                    }
                }
            }
            @if let Some(last) = next {
                p.pager { a href={"/console/orgs/" (org) "/outbox?after=" (last)} { "Next page" } }
            }
        },
    )
    .into_response())
}
