//! The admin console: sign-in (an API key, exchanged for a console session, or an organization
//! administrator's login through the hosted login), organizations, and per organization its
//! policy, compliance, users, attacks, events, outbox and API keys.
//!
//! Invariant: every page is one or a few service calls with the signed-in caller; what the
//! caller may see and do is the service's answer (an organization administrator reaches only
//! its own organization, an auditor reads only).

mod activity;
mod attacks;
mod compliance;
mod keys;
mod policy;
mod revocation;
mod users;

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use portcullis_http::AppState;
use portcullis_service::{Caller, NewOrg, ServiceError};
use portcullis_store::Page;
use serde::Deserialize;

use crate::failure::PageResult;
use crate::guard::{SESSION_COOKIE, with_cookie};
use crate::layout::{FormErrors, csrf, form_errors, input, shell};
use crate::visitor::{Admin, Visitor};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(home))
        .route("/console/signin", get(signin_form).post(signin_submit))
        .route("/console/signin/org", get(signin_org))
        .route("/console/orgs", get(orgs).post(create_org))
        .route("/console/orgs/{org}", get(org_home))
        .merge(policy::routes())
        .merge(compliance::routes())
        .merge(users::routes())
        .merge(revocation::routes())
        .merge(attacks::routes())
        .merge(activity::routes())
        .merge(keys::routes())
}

/// Which page of an organization is open (for the navigation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    Orgs,
    Policy,
    Compliance,
    Users,
    Attacks,
    Events,
    Outbox,
    Keys,
}

/// A console page; `org` adds the organization's navigation.
pub(crate) fn console_page(
    admin: &Admin,
    org: Option<&str>,
    tab: Tab,
    title: &str,
    body: Markup,
) -> Markup {
    let link = |t: Tab, href: String, text: &str| {
        html! {
            li { a href=(href) aria-current=[(t == tab).then_some("page")] { (text) } }
        }
    };
    shell(
        title,
        html! {
            a.brand href="/console/" { "portcullis console" }
            nav aria-label="Console" {
                ul {
                    @if admin.caller.is_instance_admin() {
                        (link(Tab::Orgs, "/console/orgs".into(), "Organizations"))
                    }
                    @if let Some(org) = org {
                        (link(Tab::Policy, format!("/console/orgs/{org}/policy"), "Policy"))
                        (link(Tab::Compliance, format!("/console/orgs/{org}/compliance"), "Compliance"))
                        (link(Tab::Users, format!("/console/orgs/{org}/users"), "Users"))
                        (link(Tab::Attacks, format!("/console/orgs/{org}/attacks"), "Attacks"))
                        (link(Tab::Events, format!("/console/orgs/{org}/events"), "Events"))
                        (link(Tab::Outbox, format!("/console/orgs/{org}/outbox"), "Outbox"))
                        (link(Tab::Keys, format!("/console/orgs/{org}/keys"), "API keys"))
                    }
                }
            }
            form method="post" action="/console/signout" {
                (csrf(&admin.visitor.csrf))
                span.muted { (admin.caller.actor) " " }
                button.secondary type="submit" #sign-out { "Sign out" }
            }
        },
        html! {
            @if let Some(org) = org { p.muted { "Organization " strong { (org) } } }
            (body)
        },
    )
}

/// Where a signed-in caller starts.
fn start_of(caller: &Caller) -> String {
    match &caller.org_id {
        Some(org) => format!("/console/orgs/{org}/policy"),
        None => "/console/orgs".into(),
    }
}

/// `GET /` and `GET /console/`.
pub(crate) async fn home(v: Visitor) -> Response {
    match &v.caller {
        Some(c) if !c.password_change_only && !c.mfa_enroll_only => {
            Redirect::to(&start_of(c)).into_response()
        }
        _ => Redirect::to("/console/signin").into_response(),
    }
}

fn signin_page(v: &Visitor, errors: &FormErrors) -> Markup {
    shell(
        "Sign in to the console",
        html! { span.brand { "portcullis console" } },
        html! {
            div.narrow {
                h1 { "Sign in to the console" }
                form.card #key-signin method="post" action="/console/signin" {
                    h2 { "With an API key" }
                    p.muted { "An instance key (the bootstrap key printed at the first start) or an organization key. It is exchanged for a console session of at most 8 hours; the key itself is not kept." }
                    (form_errors(errors, &["key"]))
                    (csrf(&v.csrf))
                    (input("API key", "key", "password", "", "off", errors))
                    button type="submit" #key-sign-in { "Sign in" }
                }
                form.card #org-signin method="get" action="/console/signin/org" {
                    h2 { "As an organization administrator" }
                    p.muted { "With your login name, password and second factor, on your organization's sign-in page." }
                    (input("Organization id", "org", "text", "", "organization", &FormErrors::none()))
                    button.secondary type="submit" { "Continue" }
                }
            }
        },
    )
}

/// `GET /console/signin`.
pub(crate) async fn signin_form(v: Visitor) -> Response {
    signin_page(&v, &FormErrors::none()).into_response()
}

#[derive(Deserialize)]
pub(crate) struct KeySignin {
    key: String,
}

/// `POST /console/signin`: the typed key buys a console session key, kept in the cookie.
pub(crate) async fn signin_submit(
    State(state): State<AppState>,
    v: Visitor,
    Form(form): Form<KeySignin>,
) -> PageResult {
    match state
        .service
        .open_console_session(&v.ctx, form.key.trim())
        .await
    {
        Ok(issued) => {
            // The session the browser had before is ended, not left behind.
            if let Some(previous) = &v.caller {
                state
                    .service
                    .close_console_session(previous, &v.acting())
                    .await?;
            }
            let mut response = Redirect::to("/console/").into_response();
            response = with_cookie(
                response,
                SESSION_COOKIE,
                Some(&issued.access_token),
                v.secure,
            );
            Ok(response)
        }
        Err(ServiceError::Unauthenticated) => {
            let errors = FormErrors::from_violations(
                &[portcullis_model::Violation::new(
                    "key",
                    "key.invalid",
                    "This key is not valid: unknown, expired or revoked.",
                )],
                "",
            );
            Ok((StatusCode::UNAUTHORIZED, signin_page(&v, &errors)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct OrgSignin {
    #[serde(default)]
    org: String,
}

/// `GET /console/signin/org?org=`: on to that organization's hosted login, back to the console.
pub(crate) async fn signin_org(
    State(state): State<AppState>,
    Query(q): Query<OrgSignin>,
) -> PageResult {
    let org = state.service.hosted_org(q.org.trim()).await?;
    Ok(Redirect::to(&format!("/orgs/{}/login?next=console", org.id)).into_response())
}

/// `POST /console/signout`: ends the console session on the server, then forgets the cookie.
pub(crate) async fn signout(State(state): State<AppState>, v: Visitor) -> PageResult {
    if let Some(caller) = &v.caller {
        state
            .service
            .close_console_session(caller, &v.acting())
            .await?;
    }
    let mut response = Redirect::to("/console/signin").into_response();
    response = with_cookie(response, SESSION_COOKIE, None, v.secure);
    Ok(response)
}

/// A page cursor from a query (`?after=`).
#[derive(Deserialize, Default)]
pub(crate) struct After {
    #[serde(default)]
    pub(crate) after: Option<String>,
}

/// Rows per page of every console list.
pub(crate) const PAGE_SIZE: u32 = 50;

pub(crate) fn page_after(after: &After) -> Page {
    Page {
        after: after.after.clone().filter(|a| !a.is_empty()),
        limit: PAGE_SIZE,
    }
}

fn orgs_page(
    admin: &Admin,
    list: &[portcullis_store::Org],
    errors: &FormErrors,
    more: Option<&str>,
) -> Markup {
    console_page(
        admin,
        None,
        Tab::Orgs,
        "Organizations",
        html! {
            h1 { "Organizations" }
            table #orgs {
                caption.muted { "Every organization of the instance" }
                thead { tr { th scope="col" { "Id" } th scope="col" { "Name" } th scope="col" { "Created" } } }
                tbody {
                    @for org in list {
                        tr {
                            td { a href={"/console/orgs/" (org.id) "/policy"} { (org.id) } }
                            td { (org.name) }
                            td { (crate::layout::when(org.created_at)) }
                        }
                    }
                }
            }
            @if let Some(last) = more {
                p.pager { a href={"/console/orgs?after=" (last)} { "Next page" } }
            }
            form.card #create-org method="post" action="/console/orgs" {
                h2 { "New organization" }
                (form_errors(errors, &["id", "name"]))
                (csrf(&admin.visitor.csrf))
                (input("Id (letters, digits, - and _)", "id", "text", "", "off", errors))
                (input("Name", "name", "text", "", "off", errors))
                button type="submit" { "Create" }
            }
        },
    )
}

/// `GET /console/orgs`.
pub(crate) async fn orgs(
    State(state): State<AppState>,
    Query(after): Query<After>,
    admin: Admin,
) -> PageResult {
    let list = state
        .service
        .list_orgs(&admin.caller, &page_after(&after))
        .await?;
    let more = (list.len() == PAGE_SIZE as usize)
        .then(|| list.last().map(|o| o.id.as_str().to_owned()))
        .flatten();
    Ok(orgs_page(&admin, &list, &FormErrors::none(), more.as_deref()).into_response())
}

#[derive(Deserialize)]
pub(crate) struct OrgForm {
    id: String,
    name: String,
}

/// `POST /console/orgs`.
pub(crate) async fn create_org(
    State(state): State<AppState>,
    admin: Admin,
    Form(form): Form<OrgForm>,
) -> PageResult {
    let request = NewOrg {
        id: Some(form.id.trim().to_owned()).filter(|i| !i.is_empty()),
        name: Some(form.name.trim().to_owned()).filter(|n| !n.is_empty()),
    };
    match state
        .service
        .create_org(&admin.caller, &admin.ctx(), request)
        .await
    {
        Ok(org) => Ok(Redirect::to(&format!("/console/orgs/{}/policy", org.id)).into_response()),
        Err(ServiceError::Invalid(v)) => {
            let list = state
                .service
                .list_orgs(&admin.caller, &page_after(&After::default()))
                .await?;
            let errors = FormErrors::from_violations(v.as_slice(), "");
            Ok((
                StatusCode::BAD_REQUEST,
                orgs_page(&admin, &list, &errors, None),
            )
                .into_response())
        }
        Err(ServiceError::Conflict(what)) => {
            let list = state
                .service
                .list_orgs(&admin.caller, &page_after(&After::default()))
                .await?;
            let errors = FormErrors::form(what);
            Ok((
                StatusCode::CONFLICT,
                orgs_page(&admin, &list, &errors, None),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /console/orgs/{org}`.
pub(crate) async fn org_home(Path(org): Path<String>) -> Response {
    Redirect::to(&format!("/console/orgs/{org}/policy")).into_response()
}
