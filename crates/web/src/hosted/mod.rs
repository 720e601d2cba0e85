//! The hosted end-user pages of each organization, and the pages mailed links open.

mod account;
mod links;
mod login;
mod mfa;

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use portcullis_http::AppState;
use portcullis_service::{Caller, HostedOrg};

use crate::visitor::Visitor;

use crate::layout::shell;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/login", get(login::form).post(login::submit))
        .route("/orgs/{org}/login/code", post(login::code))
        .route("/orgs/{org}/account", get(account::page))
        .route(
            "/orgs/{org}/password",
            get(account::password_form).post(account::password_submit),
        )
        .route("/orgs/{org}/password-check", post(account::password_check))
        .route("/orgs/{org}/logout", post(account::logout))
        .route("/orgs/{org}/sessions/{id}/end", post(account::end_session))
        .route(
            "/orgs/{org}/sessions/end-others",
            post(account::end_other_sessions),
        )
        .route("/orgs/{org}/delete-account", post(account::delete))
        .route("/orgs/{org}/mfa", get(mfa::page))
        .route("/orgs/{org}/mfa/start", post(mfa::start))
        .route("/orgs/{org}/mfa/confirm", post(mfa::confirm))
        .route("/orgs/{org}/mfa/remove", post(mfa::remove))
        .route(
            "/orgs/{org}/register",
            get(links::register_form).post(links::register_submit),
        )
        .route(
            "/orgs/{org}/forgot-password",
            get(links::forgot_form).post(links::forgot_submit),
        )
        .route(
            "/unblock",
            get(links::unblock_form).post(links::unblock_submit),
        )
        .route(
            "/reset-password",
            get(links::reset_form).post(links::reset_submit),
        )
        .route(
            "/verify-email",
            get(links::verify_form).post(links::verify_submit),
        )
}

/// A signed-in user of the organization in the path (`/orgs/{org}/…`), on one of its hosted
/// pages; anyone else is sent to the organization's login page.
pub(crate) struct Member {
    /// The organization's public face.
    pub(crate) org: HostedOrg,
    /// The user's caller (a session of this organization).
    pub(crate) caller: Caller,
    /// The rest of the request.
    pub(crate) v: Visitor,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Member, Response> {
        let Path(params) =
            Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let org = params.get("org").cloned().unwrap_or_default();
        let v = Visitor::from_request_parts(parts, state).await?;
        let org = state
            .service
            .hosted_org(&org)
            .await
            .map_err(|e| crate::failure::Failure(e).into_response())?;
        let caller = user_of(&v, &org).cloned().ok_or_else(|| to_login(&org))?;
        Ok(Member { org, caller, v })
    }
}

/// The signed-in user of this organization, if the browser has one.
pub(crate) fn user_of<'a>(v: &'a Visitor, org: &HostedOrg) -> Option<&'a Caller> {
    v.caller
        .as_ref()
        .filter(|c| c.org_id.as_ref().is_some_and(|o| o.as_str() == org.id) && c.user_id.is_some())
}

/// The way to the organization's login page.
pub(crate) fn to_login(org: &HostedOrg) -> Response {
    Redirect::to(&format!("/orgs/{}/login", org.id)).into_response()
}

/// A hosted page: the organization's name on top, its banner when `with_banner`.
pub(crate) fn org_page(org: &HostedOrg, title: &str, with_banner: bool, body: Markup) -> Markup {
    shell(
        title,
        html! {
            span.brand { (org.name) }
            span.muted.org-id { "(" (org.id) ")" }
        },
        html! {
            div.narrow {
                @if with_banner && !org.banner.is_empty() {
                    div.banner role="note" { (org.banner) }
                }
                (body)
            }
        },
    )
}

/// The password rules of an organization, as a list people read.
pub(crate) fn rules_list(org: &HostedOrg) -> Markup {
    let rules = &org.password_rules;
    let mut items: Vec<String> = vec![format!(
        "between {} and {} characters",
        rules.min_length, rules.max_length
    )];
    for (count, what) in [
        (rules.min_lowercase, "lowercase letter"),
        (rules.min_uppercase, "uppercase letter"),
        (rules.min_digits, "digit"),
        (rules.min_special, "special character"),
        (rules.min_letters, "letter"),
    ] {
        if count > 0 {
            items.push(format!(
                "at least {count} {what}{}",
                if count == 1 { "" } else { "s" }
            ));
        }
    }
    if rules.min_character_types > 0 {
        items.push(format!(
            "at least {} kinds of characters",
            rules.min_character_types
        ));
    }
    if rules.max_repeated_chars > 0 {
        items.push(format!(
            "no character more than {} times in a row",
            rules.max_repeated_chars
        ));
    }
    if rules.check_blocklist {
        items.push("not a commonly used password".into());
    }
    if rules.check_breached {
        items.push("not found in known data breaches".into());
    }
    if rules.check_account_attributes {
        items.push("not containing your login name or other account details".into());
    }
    if rules.history > 0 {
        items.push(format!("not one of your last {} passwords", rules.history));
    }
    html! {
        p #rules-title { "Your password must be:" }
        ul.rules aria-labelledby="rules-title" { @for item in &items { li { (item) } } }
    }
}
