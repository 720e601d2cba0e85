//! The account page of a signed-in user, the password change (also the form a session limited
//! to a change is sent to), the live password check, sign-out and self-deletion.

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use portcullis_http::AppState;
use portcullis_service::{HostedOrg, PasswordCheckRequest, ServiceError};
use portcullis_store::{MAX_PAGE, Page};
use serde::Deserialize;

use super::login::{Next, NextQuery, after_password};
use super::{Member, org_page, rules_list};
use crate::failure::PageResult;
use crate::guard::{SESSION_COOKIE, with_cookie};
use crate::layout::{FormErrors, csrf, form_errors, input, notice, when};
use crate::visitor::Visitor;

/// `GET /orgs/{org}/account`.
pub(crate) async fn page(State(state): State<AppState>, m: Member) -> PageResult {
    account(&state, m, &FormErrors::none()).await
}

/// The account page; `delete_errors` are the deletion form's (a wrong password).
async fn account(state: &AppState, m: Member, delete_errors: &FormErrors) -> PageResult {
    let Member {
        org: hosted,
        caller,
        v,
    } = m;
    let caller = &caller;
    let status = if delete_errors.of("password").next().is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    if caller.password_change_only {
        return Ok(Redirect::to(&format!("/orgs/{}/password", hosted.id)).into_response());
    }
    if caller.mfa_enroll_only {
        return Ok(Redirect::to(&format!("/orgs/{}/mfa", hosted.id)).into_response());
    }
    let Some(user) = state.service.whoami(caller).await? else {
        return Err(ServiceError::Unauthenticated.into());
    };
    // The first page (the most a page holds); a user with more sessions ends the others.
    let first = Page {
        after: None,
        limit: MAX_PAGE,
    };
    let mut sessions = state.service.list_own_sessions(caller, &first).await?.items;
    // Oldest first on the page (the API pages them by id).
    sessions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok((
        status,
        org_page(
        &hosted,
        "Your account",
        false,
        html! {
            h1 { "Your account" }
            section.card #profile {
                dl {
                    dt { "Login name" } dd #account-login { (user.login) }
                    @if let Some(email) = &user.email { dt { "Email" } dd { (email) } }
                    dt { "Last sign-in" }
                    dd #last-sign-in {
                        @match user.last_login_at {
                            Some(at) => { (when(at)) @if let Some(ip) = &user.last_login_ip { " from " (ip) } },
                            None => "never",
                        }
                    }
                    @if let Some(changed) = user.password_changed_at {
                        dt { "Password changed" } dd { (when(changed)) }
                    }
                }
            }
            section.card {
                h2 { "Security" }
                p { a href={"/orgs/" (hosted.id) "/password"} { "Change your password" } }
                p { a href={"/orgs/" (hosted.id) "/mfa"} { "Second factor (authenticator app)" } }
            }
            section.card #sessions aria-labelledby="sessions-title" {
                h2 #sessions-title { "Your sessions" }
                table {
                    thead { tr { th scope="col" { "Opened" } th scope="col" { "From" } th scope="col" { "Last used" } th scope="col" { "Ends" } th scope="col" { "" } } }
                    tbody {
                        @for s in &sessions {
                            tr data-session=(s.id) {
                                td { (when(s.created_at)) }
                                td.client {
                                    (s.client_ip.as_deref().unwrap_or("unknown address"))
                                    @if let Some(agent) = &s.user_agent { br; small { (agent) } }
                                }
                                td { (when(s.last_used_at)) }
                                td { (when(s.idle_expires_at.map_or(s.expires_at, |idle| idle.min(s.expires_at)))) }
                                td {
                                    @if s.current { strong { "this session" } } @else {
                                        form method="post" action={"/orgs/" (hosted.id) "/sessions/" (s.id) "/end"} {
                                            (csrf(&v.csrf))
                                            button.secondary type="submit" aria-label={"End the session opened " (when(s.created_at))} { "End" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if sessions.len() > 1 {
                    form method="post" action={"/orgs/" (hosted.id) "/sessions/end-others"} {
                        (csrf(&v.csrf))
                        button.secondary type="submit" #end-others { "End every other session" }
                    }
                }
            }
            form #logout-form method="post" action={"/orgs/" (hosted.id) "/logout"} {
                (csrf(&v.csrf))
                button.secondary type="submit" { "Sign out" }
            }
            @if hosted.self_deletion {
                section.card #delete-account {
                    h2 { "Delete your account" }
                    form method="post" action={"/orgs/" (hosted.id) "/delete-account"} {
                        (csrf(&v.csrf))
                        (input("Your password, to confirm", "password", "password", "", "current-password", delete_errors))
                        button.danger type="submit" { "Delete my account" }
                    }
                }
            }
        },
    ),
    )
        .into_response())
}

fn password_page(
    org: &HostedOrg,
    v: &Visitor,
    next: Next,
    (login, required): (&str, bool),
    errors: &FormErrors,
) -> Markup {
    org_page(
        org,
        "Change your password",
        false,
        html! {
            h1 { "Change your password" }
            @if required {
                (notice("Your password must be changed before you go on."))
            }
            form.card #password-form method="post" action={"/orgs/" (org.id) "/password"} {
                (form_errors(errors, &["current_password", "new_password"]))
                (csrf(&v.csrf))
                input type="hidden" name="next" value=(match next { Next::Console => "console", Next::Account => "account" });
                (input("Current password", "current_password", "password", "", "current-password", errors))
                (rules_list(org))
                (new_password_input(org, errors, LiveLogin::Known(login)))
                button type="submit" #change-password { "Change password" }
            }
        },
    )
}

/// The new-password input: its server-side errors, and the list the page's script fills while
/// it is typed.
/// Where the live check finds the login name its attribute rules compare with.
pub(crate) enum LiveLogin<'a> {
    /// The signed-in user's.
    Known(&'a str),
    /// What is typed in the input with this id (a registration).
    Field(&'a str),
}

pub(crate) fn new_password_input(
    org: &HostedOrg,
    errors: &FormErrors,
    login: LiveLogin<'_>,
) -> Markup {
    let (known, field) = match login {
        LiveLogin::Known(login) => (Some(login), None),
        LiveLogin::Field(id) => (None, Some(id)),
    };
    let messages: Vec<&str> = errors.of("new_password").collect();
    html! {
        div.field {
            label for="f-new_password" { "New password" }
            input #f-new_password name="new_password" type="password" autocomplete="new-password"
                aria-describedby="f-new_password-error f-new_password-live"
                aria-invalid=(if messages.is_empty() { "false" } else { "true" })
                data-password-check={"/orgs/" (org.id) "/password-check"}
                data-login=[known] data-login-field=[field];
            ul.errors #f-new_password-error { @for m in &messages { li { (m) } } }
            ul.errors #f-new_password-live aria-live="polite" {}
        }
    }
}

/// `GET /orgs/{org}/password`.
pub(crate) async fn password_form(
    State(state): State<AppState>,
    m: Member,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let login = own_login(&state, &m.caller).await?;
    let shape = (login.as_str(), m.caller.password_change_only);
    Ok(password_page(&m.org, &m.v, q.next, shape, &FormErrors::none()).into_response())
}

/// The signed-in user's login name.
async fn own_login(
    state: &AppState,
    caller: &portcullis_service::Caller,
) -> Result<String, crate::failure::Failure> {
    match state.service.whoami(caller).await? {
        Some(user) => Ok(user.login),
        None => Err(ServiceError::Unauthenticated.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct PasswordChange {
    current_password: String,
    new_password: String,
    #[serde(default)]
    next: Next,
}

/// Violations of a new password name the field `password` (or none): shown next to the new
/// password's input.
pub(crate) fn password_errors(e: &ServiceError) -> Option<FormErrors> {
    let ServiceError::Invalid(violations) = e else {
        return None;
    };
    Some(FormErrors::renamed(violations.as_slice(), |field| {
        matches!(field, "" | "password" | "new").then_some("new_password")
    }))
}

/// `POST /orgs/{org}/password`.
pub(crate) async fn password_submit(
    State(state): State<AppState>,
    m: Member,
    Form(change): Form<PasswordChange>,
) -> PageResult {
    let Member {
        org: hosted,
        caller,
        v,
    } = m;
    let login = own_login(&state, &caller).await?;
    let required = caller.password_change_only;
    let answer = state
        .service
        .change_own_password(
            &caller,
            &v.acting(),
            &change.current_password,
            &change.new_password,
            v.ip,
        )
        .await;
    let again = |status: StatusCode, errors: FormErrors| {
        (
            status,
            password_page(&hosted, &v, change.next, (&login, required), &errors),
        )
            .into_response()
    };
    match answer {
        Ok(answer) => Ok(match after_password(&hosted, &v, change.next, answer) {
            Ok(response) => response,
            Err((StatusCode::UNAUTHORIZED, _)) => again(
                StatusCode::UNAUTHORIZED,
                FormErrors::form("The current password is wrong."),
            ),
            Err((status, message)) => again(status, FormErrors::form(message)),
        }),
        Err(e) => match password_errors(&e) {
            Some(errors) => Ok(again(StatusCode::BAD_REQUEST, errors)),
            None => match e {
                ServiceError::AddressBlocked { retry_after } => Ok(again(
                    StatusCode::TOO_MANY_REQUESTS,
                    FormErrors::form(format!(
                        "Too many attempts from your address. Try again in {}.",
                        crate::layout::duration(retry_after)
                    )),
                )),
                other => Err(other.into()),
            },
        },
    }
}

#[derive(Deserialize)]
pub(crate) struct LiveCheck {
    password: String,
    login: Option<String>,
}

/// `POST /orgs/{org}/password-check`: the dry run the page's script calls while a new password
/// is typed (JSON; the CSRF token in its header).
pub(crate) async fn password_check(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Json(body): Json<LiveCheck>,
) -> PageResult {
    let request = PasswordCheckRequest {
        password: body.password,
        login: body.login,
        email: None,
        display_name: None,
        source: None,
    };
    let result = state
        .service
        .check_candidate_password(&org, &request)
        .await?;
    let violations: Vec<serde_json::Value> = result
        .violations
        .iter()
        .map(|v| serde_json::json!({"code": v.code, "message": v.message}))
        .collect();
    Ok(Json(serde_json::json!({"valid": result.valid, "violations": violations})).into_response())
}

/// `POST /orgs/{org}/sessions/{id}/end`.
pub(crate) async fn end_session(
    State(state): State<AppState>,
    m: Member,
    Path((_, id)): Path<(String, String)>,
) -> PageResult {
    state
        .service
        .end_own_session(&m.caller, &m.v.acting(), &id)
        .await?;
    Ok(Redirect::to(&format!("/orgs/{}/account#sessions", m.org.id)).into_response())
}

/// `POST /orgs/{org}/sessions/end-others`.
pub(crate) async fn end_other_sessions(State(state): State<AppState>, m: Member) -> PageResult {
    state
        .service
        .end_other_sessions(&m.caller, &m.v.acting())
        .await?;
    Ok(Redirect::to(&format!("/orgs/{}/account#sessions", m.org.id)).into_response())
}

/// `POST /orgs/{org}/logout`: ends the session on the server, then forgets the cookie.
pub(crate) async fn logout(
    State(state): State<AppState>,
    Path(org): Path<String>,
    v: Visitor,
) -> PageResult {
    if let Some(caller) = &v.caller {
        state
            .service
            .close_console_session(caller, &v.acting())
            .await?;
    }
    let mut response = Redirect::to(&format!("/orgs/{org}/login")).into_response();
    response = with_cookie(response, SESSION_COOKIE, None, v.secure);
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct Deletion {
    password: String,
}

/// `POST /orgs/{org}/delete-account`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    m: Member,
    Form(form): Form<Deletion>,
) -> PageResult {
    match state
        .service
        .delete_self(&m.caller, &m.v.acting(), &form.password, m.v.ip)
        .await
    {
        Ok(()) => {}
        Err(ServiceError::Invalid(violations)) => {
            // A wrong password: the page again, the message under the password.
            let errors = FormErrors::renamed(violations.as_slice(), |_| Some("password"));
            return account(&state, m, &errors).await;
        }
        Err(other) => return Err(other.into()),
    }
    let Member { org: hosted, v, .. } = m;
    let mut response = org_page(
        &hosted,
        "Account deleted",
        false,
        html! { h1 { "Account deleted" } (notice("Your account is gone.")) },
    )
    .into_response();
    response = with_cookie(response, SESSION_COOKIE, None, v.secure);
    Ok(response)
}
