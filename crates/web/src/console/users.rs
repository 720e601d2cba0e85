//! The users page: the organization's users with their lock state (all, or the locked ones), a
//! search by login name on the page shown, and per user: its sessions, expire its password,
//! unlock, set a password the user must change, remove the second factor, disable or enable;
//! below, the organization-wide sign-out and password expiry (`revocation.rs`).

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use maud::html;
use portcullis_http::AppState;
use portcullis_service::UserPatch;
use serde::Deserialize;

use super::{PAGE_SIZE, Tab, console_page};
use crate::failure::PageResult;
use crate::layout::{csrf, notice, when};
use crate::visitor::Admin;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/orgs/{org}/users", get(page))
        .route("/console/orgs/{org}/users/{id}/unlock", post(unlock))
        .route(
            "/console/orgs/{org}/users/{id}/password",
            post(set_password),
        )
        .route(
            "/console/orgs/{org}/users/{id}/mfa/remove",
            post(remove_mfa),
        )
        .route(
            "/console/orgs/{org}/users/{id}/disabled",
            post(set_disabled),
        )
}

#[derive(Deserialize, Default)]
pub(crate) struct UsersQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    locked: Option<String>,
    #[serde(default)]
    q: Option<String>,
    /// An organization-wide action sent back unconfirmed: `sessions` or `passwords`.
    #[serde(default)]
    unconfirmed: Option<String>,
}

/// `GET /console/orgs/{org}/users`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(query): Query<UsersQuery>,
    admin: Admin,
) -> PageResult {
    let locked_only = query.locked.as_deref() == Some("on");
    let page = super::page_after(&super::After {
        after: query.after.clone(),
    });
    let list = state
        .service
        .list_users(&admin.caller, &org, &page, locked_only)
        .await?;
    let more = (list.len() == PAGE_SIZE as usize)
        .then(|| list.last().map(|u| u.id.clone()))
        .flatten();
    let needle = query.q.clone().unwrap_or_default().trim().to_lowercase();
    let shown: Vec<_> = list
        .iter()
        .filter(|u| needle.is_empty() || u.login.to_lowercase().contains(&needle))
        .collect();
    let csrf_token = &admin.visitor.csrf;
    Ok(console_page(
        &admin,
        Some(&org),
        Tab::Users,
        "Users",
        html! {
            h1 { "Users" }
            @match query.unconfirmed.as_deref() {
                Some("sessions") => (notice("Nobody was signed out: tick the box to confirm.")),
                Some("passwords") => (notice("No password was expired: tick the box to confirm.")),
                _ => {}
            }
            form.row #user-search method="get" action={"/console/orgs/" (org) "/users"} {
                div.field {
                    label for="f-q" { "Login name contains" }
                    input #f-q type="text" name="q" value=(needle);
                }
                div.field.check {
                    input #f-locked type="checkbox" name="locked" value="on" checked[locked_only];
                    label for="f-locked" { "Locked only" }
                }
                div.field { button type="submit" { "Search" } }
            }
            table #users {
                thead { tr {
                    th scope="col" { "Login" } th scope="col" { "Email" } th scope="col" { "Roles" }
                    th scope="col" { "State" } th scope="col" { "Last sign-in" } th scope="col" { "Actions" }
                } }
                tbody {
                    @for u in &shown {
                        tr data-login=(u.login) {
                            td { (u.login) }
                            td { (u.email.clone().unwrap_or_default()) }
                            td { (u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                            td {
                                @if u.disabled { span.tag.fail { "disabled" } " " }
                                @if let Some(lock) = &u.lock {
                                    @if lock.locked {
                                        span.tag.fail { "locked" }
                                        @if let Some(until) = lock.until { " until " (when(until)) }
                                    }
                                }
                            }
                            td { (u.last_login_at.map(when).unwrap_or_else(|| "never".into())) }
                            td {
                                a href={"/console/orgs/" (org) "/users/" (u.id) "/sessions"} aria-label={"Sessions of " (u.login)} { "Sessions" }
                                @if u.has_password && u.password_expired_at.is_none() {
                                    form method="post" action={"/console/orgs/" (org) "/users/" (u.id) "/password/expire"} {
                                        (csrf(csrf_token))
                                        button.secondary type="submit" aria-label={"Expire password of " (u.login)} { "Expire password" }
                                    }
                                }
                                form method="post" action={"/console/orgs/" (org) "/users/" (u.id) "/unlock"} {
                                    (csrf(csrf_token))
                                    button.secondary type="submit" aria-label={"Unlock " (u.login)} { "Unlock" }
                                }
                                form method="post" action={"/console/orgs/" (org) "/users/" (u.id) "/mfa/remove"} {
                                    (csrf(csrf_token))
                                    button.secondary type="submit" aria-label={"Remove second factor of " (u.login)} { "Remove second factor" }
                                }
                                form method="post" action={"/console/orgs/" (org) "/users/" (u.id) "/disabled"} {
                                    (csrf(csrf_token))
                                    input type="hidden" name="disabled" value=(if u.disabled { "false" } else { "true" });
                                    button.secondary type="submit" aria-label={(if u.disabled { "Enable " } else { "Disable " }) (u.login)} {
                                        (if u.disabled { "Enable" } else { "Disable" })
                                    }
                                }
                                details {
                                    summary { "Set a password" }
                                    form method="post" action={"/console/orgs/" (org) "/users/" (u.id) "/password"} {
                                        (csrf(csrf_token))
                                        div.field {
                                            label for={"pw-" (u.id)} { "New password for " (u.login) " (to change at the next sign-in when the password policy renews on first login)" }
                                            input id={"pw-" (u.id)} type="password" name="password" autocomplete="new-password";
                                        }
                                        button type="submit" { "Set password" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(last) = more {
                p.pager { a href={"/console/orgs/" (org) "/users?after=" (last) (if locked_only { "&locked=on" } else { "" })} { "Next page" } }
            }
            section.card #org-wide aria-labelledby="org-wide-title" {
                h2 #org-wide-title { "Everyone in the organization" }
                form method="post" action={"/console/orgs/" (org) "/sessions/end"} {
                    (csrf(csrf_token))
                    div.field.check {
                        input #confirm-sessions type="checkbox" name="confirm" value="yes";
                        label for="confirm-sessions" { "Yes, end every session of every user" }
                    }
                    button type="submit" #sign-everyone-out { "Sign everyone out" }
                }
                form method="post" action={"/console/orgs/" (org) "/passwords/expire"} {
                    (csrf(csrf_token))
                    div.field.check {
                        input #confirm-passwords type="checkbox" name="confirm" value="yes";
                        label for="confirm-passwords" { "Yes, expire every password: each user must change it at the next sign-in" }
                    }
                    button type="submit" #expire-every-password { "Expire every password" }
                }
            }
        },
    )
    .into_response())
}

fn back(org: &str) -> axum::response::Response {
    Redirect::to(&format!("/console/orgs/{org}/users")).into_response()
}

/// `POST …/users/{id}/unlock`.
pub(crate) async fn unlock(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    admin: Admin,
) -> PageResult {
    state
        .service
        .unlock_user(&admin.caller, &admin.ctx(), &org, &id)
        .await?;
    Ok(back(&org))
}

#[derive(Deserialize)]
pub(crate) struct NewPassword {
    password: String,
}

/// `POST …/users/{id}/password`: a password the user must change at the next sign-in.
pub(crate) async fn set_password(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    admin: Admin,
    Form(form): Form<NewPassword>,
) -> PageResult {
    state
        .service
        .admin_set_password(&admin.caller, &admin.ctx(), &org, &id, &form.password, true)
        .await?;
    Ok(back(&org))
}

/// `POST …/users/{id}/mfa/remove`.
pub(crate) async fn remove_mfa(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    admin: Admin,
) -> PageResult {
    state
        .service
        .reset_user_mfa(&admin.caller, &admin.ctx(), &org, &id)
        .await?;
    Ok(back(&org))
}

#[derive(Deserialize)]
pub(crate) struct Disabled {
    disabled: bool,
}

/// `POST …/users/{id}/disabled`.
pub(crate) async fn set_disabled(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    admin: Admin,
    Form(form): Form<Disabled>,
) -> PageResult {
    let patch = UserPatch {
        disabled: Some(form.disabled),
        ..UserPatch::default()
    };
    state
        .service
        .update_user(&admin.caller, &admin.ctx(), &org, &id, patch)
        .await?;
    Ok(back(&org))
}
