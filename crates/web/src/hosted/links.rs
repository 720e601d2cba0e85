//! The pages mailed links open (`/unblock`, `/reset-password`, `/verify-email`, each with
//! `?token=`), registration and the forgotten-password form.
//!
//! Invariants: opening a link changes nothing (a mail scanner may fetch it); only the button's
//! POST sends the token to the service, in the form body; a token is never echoed anywhere but
//! that form.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use portcullis_http::AppState;
use portcullis_service::{Registration, ServiceError};
use serde::Deserialize;

use super::account::{LiveLogin, new_password_input, password_errors};
use super::{org_page, rules_list};
use crate::failure::PageResult;
use crate::layout::{FormErrors, bare_page, csrf, form_errors, input, notice, shell};
use crate::visitor::Visitor;

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn link_page(title: &str, body: Markup) -> Markup {
    shell(
        title,
        html! { span.brand { "portcullis" } },
        html! { div.narrow { (body) } },
    )
}

fn token_form(
    v: &Visitor,
    id: &str,
    action: &str,
    token: &str,
    text: &str,
    button: &str,
) -> Markup {
    html! {
        form.card id=(id) method="post" action=(action) {
            p { (text) }
            (csrf(&v.csrf))
            input type="hidden" name="token" value=(token);
            button type="submit" { (button) }
        }
    }
}

/// A token the service refused: the same words for every reason.
fn token_refused(e: &ServiceError) -> bool {
    matches!(e, ServiceError::Invalid(_) | ServiceError::NotFound)
}

/// `GET /unblock?token=`.
pub(crate) async fn unblock_form(Query(q): Query<TokenQuery>, v: Visitor) -> impl IntoResponse {
    link_page(
        "Unlock your account",
        html! {
            h1 { "Unlock your account" }
            (token_form(&v, "unblock-form", "/unblock", &q.token,
                "Your account was locked after failed sign-in attempts. If they were yours, unlock it now.",
                "Unlock my account"))
        },
    )
}

/// `POST /unblock`.
pub(crate) async fn unblock_submit(
    State(state): State<AppState>,
    v: Visitor,
    Form(q): Form<TokenQuery>,
) -> PageResult {
    let done = state.service.self_unblock(&v.ctx, &q.token).await;
    token_outcome(
        done,
        "Account unlocked",
        "Your account is unlocked. You can sign in again.",
    )
}

/// The page after a mailed link's token was sent: `title` and `text` when the service took it,
/// the same "not valid" page for every token it refused.
fn token_outcome(done: Result<(), ServiceError>, title: &str, text: &str) -> PageResult {
    match done {
        Ok(()) => Ok(link_page(title, html! { h1 { (title) } (notice(text)) }).into_response()),
        Err(e) if token_refused(&e) => Ok(link_not_valid()),
        Err(e) => Err(e.into()),
    }
}

fn link_not_valid() -> Response {
    (
        StatusCode::BAD_REQUEST,
        bare_page(
            "Link not valid",
            "This link is not valid any more: it was used, or it expired.",
        ),
    )
        .into_response()
}

/// `GET /verify-email?token=`.
pub(crate) async fn verify_form(Query(q): Query<TokenQuery>, v: Visitor) -> impl IntoResponse {
    link_page(
        "Verify your email address",
        html! {
            h1 { "Verify your email address" }
            (token_form(&v, "verify-form", "/verify-email", &q.token,
                "Confirm that this address is yours.", "Verify my address"))
        },
    )
}

/// `POST /verify-email`.
pub(crate) async fn verify_submit(
    State(state): State<AppState>,
    v: Visitor,
    Form(q): Form<TokenQuery>,
) -> PageResult {
    let done = state.service.verify_email(&v.ctx, &q.token).await;
    token_outcome(
        done,
        "Address verified",
        "Your email address is verified. You can sign in.",
    )
}

fn reset_page(v: &Visitor, token: &str, errors: &FormErrors) -> Markup {
    link_page(
        "Choose a new password",
        html! {
            h1 { "Choose a new password" }
            form.card #reset-form method="post" action="/reset-password" {
                (form_errors(errors, &["new_password"]))
                (csrf(&v.csrf))
                input type="hidden" name="token" value=(token);
                div.field {
                    label for="f-new_password" { "New password" }
                    input #f-new_password name="new_password" type="password" autocomplete="new-password"
                        aria-describedby="f-new_password-error"
                        aria-invalid=(if errors.of("new_password").next().is_some() { "true" } else { "false" });
                    ul.errors #f-new_password-error { @for m in errors.of("new_password") { li { (m) } } }
                }
                button type="submit" #set-password { "Set password" }
            }
        },
    )
}

/// `GET /reset-password?token=`.
pub(crate) async fn reset_form(Query(q): Query<TokenQuery>, v: Visitor) -> impl IntoResponse {
    reset_page(&v, &q.token, &FormErrors::none())
}

#[derive(Deserialize)]
pub(crate) struct Reset {
    token: String,
    new_password: String,
}

/// `POST /reset-password`.
pub(crate) async fn reset_submit(
    State(state): State<AppState>,
    v: Visitor,
    Form(form): Form<Reset>,
) -> PageResult {
    match state
        .service
        .confirm_password_reset(&v.ctx, &form.token, &form.new_password)
        .await
    {
        Ok(()) => Ok(link_page(
            "Password set",
            html! { h1 { "Password set" } (notice("Your new password is set. You can sign in with it.")) },
        )
        .into_response()),
        Err(ServiceError::Invalid(list))
            if list.as_slice().iter().any(|x| x.field == "token") =>
        {
            Ok(link_not_valid())
        }
        Err(e) => match password_errors(&e) {
            Some(errors) => Ok((StatusCode::BAD_REQUEST, reset_page(&v, &form.token, &errors)).into_response()),
            None => Err(e.into()),
        },
    }
}

#[derive(Deserialize)]
pub(crate) struct Forgot {
    login: String,
}

/// `GET /orgs/{org}/forgot-password`.
pub(crate) async fn forgot_form(
    State(state): State<AppState>,
    Path(org): Path<String>,
    v: Visitor,
) -> PageResult {
    let hosted = state.service.hosted_org(&org).await?;
    if !hosted.forgot_password_enabled {
        return Err(ServiceError::NotFound.into());
    }
    Ok(org_page(
        &hosted,
        "Forgot your password?",
        false,
        html! {
            h1 { "Forgot your password?" }
            form.card #forgot-form method="post" action={"/orgs/" (hosted.id) "/forgot-password"} {
                p { "Type your login name: if the account has an email address, a link to choose a new password is mailed to it." }
                (csrf(&v.csrf))
                (input("Login name", "login", "text", "", "username", &FormErrors::none()))
                button type="submit" { "Send the link" }
            }
        },
    )
    .into_response())
}

/// `POST /orgs/{org}/forgot-password`: the same answer whether or not the account exists.
pub(crate) async fn forgot_submit(
    State(state): State<AppState>,
    Path(org): Path<String>,
    v: Visitor,
    Form(form): Form<Forgot>,
) -> PageResult {
    let hosted = state.service.hosted_org(&org).await?;
    if !hosted.forgot_password_enabled {
        return Err(ServiceError::NotFound.into());
    }
    state
        .service
        .request_password_reset(&v.ctx, &org, &form.login)
        .await?;
    Ok(org_page(
        &hosted,
        "Check your mail",
        false,
        html! {
            h1 { "Check your mail" }
            (notice("If this account exists and has an email address, a link is on its way. It works once."))
        },
    )
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct Register {
    login: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    new_password: String,
}

fn register_page(
    hosted: &portcullis_service::HostedOrg,
    v: &Visitor,
    form: Option<&Register>,
    errors: &FormErrors,
) -> Markup {
    let value = |f: fn(&Register) -> &str| form.map(f).unwrap_or_default().to_owned();
    org_page(
        hosted,
        "Create an account",
        true,
        html! {
            h1 { "Create an account" }
            form.card #register-form method="post" action={"/orgs/" (hosted.id) "/register"} {
                (form_errors(errors, &["login", "email", "display_name", "new_password"]))
                (csrf(&v.csrf))
                (input("Login name", "login", "text", &value(|r| &r.login), "username", errors))
                (input("Email", "email", "email", &value(|r| &r.email), "email", errors))
                (input("Display name", "display_name", "text", &value(|r| &r.display_name), "name", errors))
                (rules_list(hosted))
                (new_password_input(hosted, errors, LiveLogin::Field("f-login")))
                button type="submit" #register { "Create account" }
            }
        },
    )
}

/// `GET /orgs/{org}/register`.
pub(crate) async fn register_form(
    State(state): State<AppState>,
    Path(org): Path<String>,
    v: Visitor,
) -> PageResult {
    let hosted = state.service.hosted_org(&org).await?;
    if !hosted.register_enabled {
        return Err(ServiceError::NotFound.into());
    }
    Ok(register_page(&hosted, &v, None, &FormErrors::none()).into_response())
}

/// `POST /orgs/{org}/register`.
pub(crate) async fn register_submit(
    State(state): State<AppState>,
    Path(org): Path<String>,
    v: Visitor,
    Form(form): Form<Register>,
) -> PageResult {
    let hosted = state.service.hosted_org(&org).await?;
    let registration = Registration {
        login: form.login.clone(),
        password: form.new_password.clone(),
        email: Some(form.email.trim().to_owned()).filter(|e| !e.is_empty()),
        display_name: Some(form.display_name.trim().to_owned()).filter(|d| !d.is_empty()),
    };
    match state.service.register(&v.ctx, &org, registration, v.ip).await {
        Ok(user) => Ok(org_page(
            &hosted,
            "Account created",
            false,
            html! {
                h1 { "Account created" }
                @if user.email_verification_pending {
                    (notice("Your account is created. Open the link we mailed you to verify your address, then sign in."))
                } @else {
                    (notice("Your account is created. You can sign in."))
                }
                p { a.button href={"/orgs/" (hosted.id) "/login"} { "Sign in" } }
            },
        )
        .into_response()),
        Err(ServiceError::Invalid(list)) => {
            let errors = FormErrors::renamed(list.as_slice(), |field| {
                matches!(field, "" | "password").then_some("new_password")
            });
            Ok((StatusCode::BAD_REQUEST, register_page(&hosted, &v, Some(&form), &errors)).into_response())
        }
        Err(ServiceError::Conflict(_) | ServiceError::Taken { .. }) => {
            let errors = FormErrors::form("This login name or email address is taken.");
            Ok((StatusCode::CONFLICT, register_page(&hosted, &v, Some(&form), &errors)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
