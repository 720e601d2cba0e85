//! Sessions and passwords an administrator revokes from the console: a user's sessions (where
//! each was opened, when it ends; end one or all), a user's password expired now, and for the
//! whole organization: everyone signed out, every password expired.
//!
//! Invariant: every action is the service operation the API's route calls, with the console's
//! caller; the organization-wide ones need their confirmation box ticked (a form without it
//! changes nothing and says why).

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use maud::html;
use portcullis_http::AppState;
use portcullis_service::Action;
use serde::Deserialize;

use super::{After, Tab, console_page, page_after};
use crate::failure::PageResult;
use crate::layout::{csrf, notice, when};
use crate::visitor::Admin;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console/orgs/{org}/users/{id}/sessions",
            get(sessions_page),
        )
        .route(
            "/console/orgs/{org}/users/{id}/sessions/end",
            post(end_user_sessions),
        )
        .route(
            "/console/orgs/{org}/users/{id}/sessions/{sid}/end",
            post(end_user_session),
        )
        .route(
            "/console/orgs/{org}/users/{id}/password/expire",
            post(expire_user_password),
        )
        .route("/console/orgs/{org}/sessions/end", post(end_org_sessions))
        .route(
            "/console/orgs/{org}/passwords/expire",
            post(expire_org_passwords),
        )
}

/// `GET /console/orgs/{org}/users/{id}/sessions`.
pub(crate) async fn sessions_page(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Query(after): Query<After>,
    admin: Admin,
) -> PageResult {
    let user = state.service.get_user(&admin.caller, &org, &id).await?;
    let mut page = state
        .service
        .list_user_sessions(&admin.caller, &org, &id, &page_after(&after))
        .await?;
    // Oldest first on the page (pages follow the ids).
    page.items
        .sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let csrf_token = &admin.visitor.csrf;
    let base = format!("/console/orgs/{org}/users/{id}/sessions");
    Ok(console_page(
        &admin,
        Some(&org),
        Tab::Users,
        "Sessions",
        html! {
            h1 { "Sessions of " (user.login) }
            p { a href={"/console/orgs/" (org) "/users"} { "Back to the users" } }
            @if page.items.is_empty() {
                (notice("No live session."))
            } @else {
                table #sessions {
                    thead { tr {
                        th scope="col" { "Opened" } th scope="col" { "From" }
                        th scope="col" { "Last used" } th scope="col" { "Ends" } th scope="col" { "Actions" }
                    } }
                    tbody {
                        @for s in &page.items {
                            tr data-session=(s.id) {
                                td { (when(s.created_at)) }
                                td {
                                    (s.client_ip.as_deref().unwrap_or("unknown address"))
                                    @if let Some(agent) = &s.user_agent { br; small { (agent) } }
                                    @if s.restricted { " " span.tag { "restricted" } }
                                }
                                td { (when(s.last_used_at)) }
                                td { (when(s.idle_expires_at.map_or(s.expires_at, |idle| idle.min(s.expires_at)))) }
                                td {
                                    form method="post" action={(base) "/" (s.id) "/end"} {
                                        (csrf(csrf_token))
                                        button.secondary type="submit" aria-label={"End the session opened " (when(s.created_at))} { "End" }
                                    }
                                }
                            }
                        }
                    }
                }
                form method="post" action={(base) "/end"} {
                    (csrf(csrf_token))
                    button type="submit" #end-all { "End every session of " (user.login) }
                }
            }
            @if let Some(next) = &page.next_after {
                p.pager { a href={(base) "?after=" (next)} { "Next page" } }
            }
        },
    )
    .into_response())
}

fn to_sessions(org: &str, id: &str) -> axum::response::Response {
    Redirect::to(&format!("/console/orgs/{org}/users/{id}/sessions")).into_response()
}

fn to_users(org: &str) -> axum::response::Response {
    Redirect::to(&format!("/console/orgs/{org}/users")).into_response()
}

/// `POST …/users/{id}/sessions/{sid}/end`.
pub(crate) async fn end_user_session(
    State(state): State<AppState>,
    Path((org, id, sid)): Path<(String, String, String)>,
    admin: Admin,
) -> PageResult {
    state
        .service
        .end_user_session(&admin.caller, &admin.ctx(), &org, &id, &sid)
        .await?;
    Ok(to_sessions(&org, &id))
}

/// `POST …/users/{id}/sessions/end`.
pub(crate) async fn end_user_sessions(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    admin: Admin,
) -> PageResult {
    state
        .service
        .end_user_sessions(&admin.caller, &admin.ctx(), &org, &id)
        .await?;
    Ok(to_sessions(&org, &id))
}

/// `POST …/users/{id}/password/expire`.
pub(crate) async fn expire_user_password(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    admin: Admin,
) -> PageResult {
    state
        .service
        .expire_user_password(&admin.caller, &admin.ctx(), &org, &id)
        .await?;
    Ok(to_users(&org))
}

/// The confirmation box of an organization-wide action.
#[derive(Deserialize, Default)]
pub(crate) struct Confirm {
    #[serde(default)]
    confirm: Option<String>,
}

/// Back to the users page, which says what was not done (`unconfirmed`: `sessions` or
/// `passwords`).
fn unconfirmed(org: &str, what: &str) -> axum::response::Response {
    Redirect::to(&format!("/console/orgs/{org}/users?unconfirmed={what}")).into_response()
}

/// `POST /console/orgs/{org}/sessions/end`: everyone signed out (the console's own session,
/// if it is one, stays).
pub(crate) async fn end_org_sessions(
    State(state): State<AppState>,
    Path(org): Path<String>,
    admin: Admin,
    Form(form): Form<Confirm>,
) -> PageResult {
    // Only a caller who may do it is told to confirm it.
    let org = admin.caller.allow(&org, Action::Manage)?.org_id.to_string();
    if form.confirm.as_deref() != Some("yes") {
        return Ok(unconfirmed(&org, "sessions"));
    }
    state
        .service
        .end_org_sessions(&admin.caller, &admin.ctx(), &org)
        .await?;
    Ok(to_users(&org))
}

/// `POST /console/orgs/{org}/passwords/expire`: every password expired now.
pub(crate) async fn expire_org_passwords(
    State(state): State<AppState>,
    Path(org): Path<String>,
    admin: Admin,
    Form(form): Form<Confirm>,
) -> PageResult {
    // Only a caller who may do it is told to confirm it.
    let org = admin.caller.allow(&org, Action::Manage)?.org_id.to_string();
    if form.confirm.as_deref() != Some("yes") {
        return Ok(unconfirmed(&org, "passwords"));
    }
    state
        .service
        .expire_org_passwords(&admin.caller, &admin.ctx(), &org, true, None)
        .await?;
    Ok(to_users(&org))
}
