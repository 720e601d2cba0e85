//! The hosted login: the password step, the second-factor step, and what a granted login leads
//! to. Both steps are the service's login operations, so the page has the API's lockout, IP
//! blocking, timing and answers: an unknown user, a wrong password and a hidden lock read alike.
//!
//! Invariants: the session token goes only into the `HttpOnly` session cookie and the
//! second-factor challenge only into its own cookie (ended when the step completes); where the
//! browser goes after signing in is one of two fixed places (no open redirect).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portcullis_http::AppState;
use portcullis_service::{HostedOrg, LoginAnswer, LoginGranted, LoginRequest, MfaLoginRequest};
use serde::Deserialize;

use super::org_page;
use crate::failure::PageResult;
use crate::guard::{CHALLENGE_COOKIE, SESSION_COOKIE, cookie_value, with_cookie};
use crate::layout::{FormErrors, csrf, form_errors, input, when};
use crate::visitor::Visitor;

/// Where a login leads.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Next {
    /// The account page.
    #[default]
    Account,
    /// The console.
    Console,
}

impl Next {
    fn as_str(self) -> &'static str {
        match self {
            Next::Account => "account",
            Next::Console => "console",
        }
    }

    pub(crate) fn target(self, org: &str) -> String {
        match self {
            Next::Account => format!("/orgs/{org}/account"),
            Next::Console => format!("/console/orgs/{org}"),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    #[serde(default)]
    pub(crate) next: Next,
}

#[derive(Deserialize)]
pub(crate) struct PasswordStep {
    login: String,
    password: String,
    #[serde(default)]
    next: Next,
}

#[derive(Deserialize)]
pub(crate) struct CodeStep {
    code: String,
    #[serde(default)]
    next: Next,
}

fn password_form(
    org: &HostedOrg,
    v: &Visitor,
    next: Next,
    login: &str,
    errors: &FormErrors,
) -> Markup {
    org_page(
        org,
        "Sign in",
        true,
        html! {
            h1 { "Sign in to " (org.name) }
            form.card #login-form method="post" action={"/orgs/" (org.id) "/login"} {
                (form_errors(errors, &["login", "password"]))
                (csrf(&v.csrf))
                input type="hidden" name="next" value=(next.as_str());
                (input("Login name", "login", "text", login, "username", errors))
                (input("Password", "password", "password", "", "current-password", errors))
                button type="submit" #sign-in { "Sign in" }
            }
            p {
                @if org.forgot_password_enabled {
                    a href={"/orgs/" (org.id) "/forgot-password"} { "Forgot your password?" }
                    " "
                }
                @if org.register_enabled {
                    a href={"/orgs/" (org.id) "/register"} { "Create an account" }
                }
            }
        },
    )
}

fn code_form(org: &HostedOrg, v: &Visitor, next: Next, errors: &FormErrors) -> Markup {
    org_page(
        org,
        "Second factor",
        false,
        html! {
            h1 { "Enter your code" }
            form.card #code-form method="post" action={"/orgs/" (org.id) "/login/code"} {
                (form_errors(errors, &["code"]))
                p { "Open your authenticator app and enter the 6-digit code, or one of your recovery codes." }
                (csrf(&v.csrf))
                input type="hidden" name="next" value=(next.as_str());
                (input("Code", "code", "text", "", "one-time-code", errors))
                button type="submit" #verify { "Verify" }
            }
        },
    )
}

/// `GET /orgs/{org}/login`.
pub(crate) async fn form(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(q): Query<NextQuery>,
    v: Visitor,
) -> PageResult {
    let org = state.service.hosted_org(&org).await?;
    Ok(password_form(&org, &v, q.next, "", &FormErrors::none()).into_response())
}

/// `POST /orgs/{org}/login`: the password step.
pub(crate) async fn submit(
    State(state): State<AppState>,
    Path(org): Path<String>,
    v: Visitor,
    Form(step): Form<PasswordStep>,
) -> PageResult {
    let hosted = state.service.hosted_org(&org).await?;
    let request = LoginRequest {
        login: step.login.clone(),
        password: step.password,
        ip: v.ip,
    };
    let answer = state.service.login(&v.ctx, &org, request).await;
    let refused = |status: StatusCode, message: String| {
        let errors = FormErrors::form(message);
        (
            status,
            password_form(&hosted, &v, step.next, &step.login, &errors),
        )
            .into_response()
    };
    Ok(match answer {
        Ok(answer) => {
            end_previous(&state, &v, &answer).await?;
            match after_password(&hosted, &v, step.next, answer) {
                Ok(response) => response,
                Err((status, message)) => refused(status, message),
            }
        }
        Err(portcullis_service::ServiceError::AddressBlocked { retry_after }) => {
            refused(StatusCode::TOO_MANY_REQUESTS, blocked(retry_after))
        }
        Err(other) => return Err(other.into()),
    })
}

/// `POST /orgs/{org}/login/code`: the second-factor step.
pub(crate) async fn code(
    State(state): State<AppState>,
    Path(org): Path<String>,
    v: Visitor,
    headers: axum::http::HeaderMap,
    Form(step): Form<CodeStep>,
) -> PageResult {
    let hosted = state.service.hosted_org(&org).await?;
    let Some(challenge) = cookie_value(&headers, CHALLENGE_COOKIE).filter(|c| !c.is_empty()) else {
        return Ok(Redirect::to(&format!("/orgs/{}/login", hosted.id)).into_response());
    };
    let request = MfaLoginRequest {
        challenge,
        code: step.code,
        ip: v.ip,
    };
    let answer = state
        .service
        .complete_mfa_login(&v.ctx, &org, request)
        .await;
    let again = |status: StatusCode, message: String| {
        (
            status,
            code_form(&hosted, &v, step.next, &FormErrors::form(message)),
        )
            .into_response()
    };
    let mut response = match answer {
        Ok(LoginAnswer::InvalidCode) => {
            return Ok(again(
                StatusCode::UNAUTHORIZED,
                "That code is not valid. Try the current one.".into(),
            ));
        }
        Ok(LoginAnswer::InvalidChallenge) => {
            let errors = FormErrors::form("The sign-in took too long. Start again.");
            (
                StatusCode::UNAUTHORIZED,
                password_form(&hosted, &v, step.next, "", &errors),
            )
                .into_response()
        }
        Ok(answer) => {
            end_previous(&state, &v, &answer).await?;
            match outcome(&hosted, &v, step.next, answer) {
                Ok(response) => response,
                Err((status, message)) => again(status, message),
            }
        }
        Err(portcullis_service::ServiceError::AddressBlocked { retry_after }) => {
            // The code form again, with its challenge: the step may be tried once unblocked.
            return Ok(again(StatusCode::TOO_MANY_REQUESTS, blocked(retry_after)));
        }
        Err(other) => return Err(other.into()),
    };
    // The step is over (a session, a refusal, or back to the password): its challenge goes.
    response = with_cookie(response, CHALLENGE_COOKIE, None, v.secure);
    Ok(response)
}

/// A granted login replaces the browser's session: the one its cookie held (a session or a
/// console key) is ended on the server first, so it does not live on unseen.
async fn end_previous(
    state: &AppState,
    v: &Visitor,
    answer: &LoginAnswer,
) -> Result<(), crate::failure::Failure> {
    if let (LoginAnswer::Granted(_), Some(previous)) = (answer, &v.caller) {
        state
            .service
            .close_console_session(previous, &v.acting())
            .await?;
    }
    Ok(())
}

fn blocked(retry_after: u64) -> String {
    format!(
        "Too many attempts from your address. Try again in {}.",
        crate::layout::duration(retry_after)
    )
}

/// What a password step's answer leads to: the second-factor step (its challenge in its
/// cookie), or [`outcome`].
pub(crate) fn after_password(
    org: &HostedOrg,
    v: &Visitor,
    next: Next,
    answer: LoginAnswer,
) -> Result<Response, (StatusCode, String)> {
    if let LoginAnswer::MfaChallenge(challenge) = answer {
        let mut response = code_form(org, v, next, &FormErrors::none()).into_response();
        response = with_cookie(
            response,
            CHALLENGE_COOKIE,
            Some(&challenge.challenge),
            v.secure,
        );
        return Ok(response);
    }
    outcome(org, v, next, answer)
}

/// What a login answer leads to: a granted one sets the session cookie and goes on; a refused
/// one is the message to show on the form.
fn outcome(
    org: &HostedOrg,
    v: &Visitor,
    next: Next,
    answer: LoginAnswer,
) -> Result<Response, (StatusCode, String)> {
    let refusal = match answer {
        LoginAnswer::Granted(granted) => return Ok(granted_page(org, v, next, &granted)),
        LoginAnswer::InvalidCredentials | LoginAnswer::MfaChallenge(_) => (
            StatusCode::UNAUTHORIZED,
            "The login name or the password is wrong.".to_owned(),
        ),
        LoginAnswer::Locked { until } => (
            StatusCode::FORBIDDEN,
            match until {
                Some(at) => format!(
                    "This account is locked after too many failed attempts, until {}.",
                    when(at)
                ),
                None => "This account is locked after too many failed attempts.".to_owned(),
            },
        ),
        LoginAnswer::Disabled => (
            StatusCode::FORBIDDEN,
            "This account is disabled. Ask your administrator.".to_owned(),
        ),
        LoginAnswer::EmailNotVerified => (
            StatusCode::FORBIDDEN,
            "Verify your email address first: open the link we mailed you.".to_owned(),
        ),
        LoginAnswer::PasswordExpired => (
            StatusCode::FORBIDDEN,
            "Your password has expired. Reset it with “Forgot your password?”, or ask your administrator."
                .to_owned(),
        ),
        LoginAnswer::MfaEnrollmentOverdue => (
            StatusCode::FORBIDDEN,
            "A second factor was required and not set up in time. Ask your administrator.".to_owned(),
        ),
        LoginAnswer::InvalidCode | LoginAnswer::InvalidChallenge => (
            StatusCode::UNAUTHORIZED,
            "The sign-in did not complete. Start again.".to_owned(),
        ),
        LoginAnswer::IpBlocked { retry_after } => (StatusCode::TOO_MANY_REQUESTS, blocked(retry_after)),
    };
    Err(refusal)
}

/// A granted login: the session cookie, then the password change or the second-factor
/// enrollment the session is limited to, or the page it leads to — first shown with the last
/// login and the banner when the policy shows them.
fn granted_page(org: &HostedOrg, v: &Visitor, next: Next, granted: &LoginGranted) -> Response {
    let target = if granted.password_change_required {
        format!("/orgs/{}/password?next={}", org.id, next.as_str())
    } else if granted.mfa_enroll_by.is_some() {
        format!("/orgs/{}/mfa", org.id)
    } else {
        next.target(&org.id)
    };
    let mut response = match &granted.last_login {
        None if granted.banner.is_none() => Redirect::to(&target).into_response(),
        _ => org_page(
            org,
            "Signed in",
            false,
            html! {
                h1 { "Signed in" }
                @if let Some(banner) = &granted.banner {
                    div.banner role="note" { (banner) }
                }
                @if let Some(last) = &granted.last_login {
                    section.card #last-login {
                        h2 { "Your previous sign-in" }
                        @match last.at {
                            Some(at) => p { (when(at)) @if let Some(ip) = &last.ip { " from " (ip) } },
                            None => p { "This is your first sign-in." },
                        }
                        @if last.failed_attempts > 0 {
                            p.alert { (last.failed_attempts) " failed attempts since." }
                        }
                    }
                }
                p { a.button #continue href=(target) { "Continue" } }
            },
        )
        .into_response(),
    };
    response = with_cookie(response, SESSION_COOKIE, Some(&granted.token), v.secure);
    response
}
