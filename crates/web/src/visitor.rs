//! Who is at the browser: the request's context, client address and CSRF token, and, when the
//! session cookie holds a credential the service accepts, the caller behind it.
//!
//! Invariant: the cookie's token is only handed to `Service::authenticate`; it is never logged,
//! never written into a page, and a token the service refuses counts as no token.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_http::AppState;
use portcullis_http::extract::{ClientIp, request_context};
use portcullis_service::{Caller, Context};

use crate::guard::{CsrfToken, SESSION_COOKIE, SecureCookies, cookie_value};

/// A request from a browser, signed in or not.
pub(crate) struct Visitor {
    /// The request's context (actor `anonymous` until a caller is known).
    pub ctx: Context,
    /// The client address.
    pub ip: IpAddr,
    /// The CSRF token for the page's forms.
    pub csrf: String,
    /// Whether cookies are set `Secure`.
    pub secure: bool,
    /// The caller behind the session cookie, if the service accepts it.
    pub caller: Option<Caller>,
}

impl Visitor {
    /// The context of an action by the signed-in caller (or anonymous).
    pub(crate) fn acting(&self) -> Context {
        match &self.caller {
            Some(caller) => Context {
                actor: caller.actor.clone(),
                ..self.ctx.clone()
            },
            None => self.ctx.clone(),
        }
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Visitor, Response> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let secure = parts.extensions.get::<SecureCookies>().is_some_and(|s| s.0);
        let caller = match cookie_value(&parts.headers, SESSION_COOKIE) {
            Some(token) if !token.is_empty() => state.service.authenticate(&token).await.ok(),
            _ => None,
        };
        Ok(Visitor {
            ctx: request_context("anonymous", parts),
            ip,
            csrf,
            secure,
            caller,
        })
    }
}

/// A console request: signed in with a caller that may use the console; anyone else is sent
/// to the console's sign-in page.
pub(crate) struct Admin {
    /// The caller.
    pub caller: Caller,
    /// The rest of the request.
    pub visitor: Visitor,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, Response> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        match visitor.caller.clone() {
            Some(caller) if !caller.password_change_only && !caller.mfa_enroll_only => {
                Ok(Admin { caller, visitor })
            }
            _ => Err(Redirect::to("/console/signin").into_response()),
        }
    }
}

impl Admin {
    /// The context of the administrator's actions.
    pub(crate) fn ctx(&self) -> Context {
        self.visitor.acting()
    }
}
