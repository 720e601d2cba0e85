//! What every page answers with, and what every form must carry (docs/console.md, "Web
//! security").
//!
//! Invariants:
//! - every answer carries a `Content-Security-Policy` without `unsafe-inline` (scripts, styles
//!   and images from this server only; QR codes are inline SVG markup, not scripts), with
//!   `frame-ancestors 'none'`, and is never cached or sent on as a referrer (a token in a mailed
//!   link stays in the address bar);
//! - every `POST` carries a `csrf` form field equal to the `portcullis_csrf` cookie (compared in
//!   constant time): the double-submit rule, on top of `SameSite=Strict` cookies; a request
//!   without the cookie gets a fresh one and fails, so no form can be posted from elsewhere; and
//!   a browser's `Sec-Fetch-Site` must be `same-origin` (or, without it, a named `Origin` this
//!   server's host): a sibling subdomain could plant a cookie, it cannot forge those headers;
//! - both cookies are `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` when the public URL
//!   is https.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use portcullis_http::AppState;
use subtle::ConstantTimeEq;

/// The cookie holding the credential of a signed-in browser (a session token, or a console
/// session's issued key).
pub(crate) const SESSION_COOKIE: &str = "portcullis_session";
/// The cookie holding a second-factor challenge between the two login steps.
pub(crate) const CHALLENGE_COOKIE: &str = "portcullis_challenge";
/// The double-submit CSRF cookie.
pub(crate) const CSRF_COOKIE: &str = "portcullis_csrf";
/// The form field that must repeat [`CSRF_COOKIE`].
pub(crate) const CSRF_FIELD: &str = "csrf";
/// The header the page's script sends the token in (the live password check).
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// Most bytes of a form body.
const MAX_FORM_BYTES: usize = 64 * 1024;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The CSRF token of this request, for the forms of its page.
#[derive(Clone, Debug)]
pub(crate) struct CsrfToken(pub String);

/// Whether cookies are marked `Secure` (the public URL is https).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SecureCookies(pub bool);

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Path=/`; `Secure` when asked; removed
/// (expired) when `value` is `None`.
pub(crate) fn set_cookie(name: &str, value: Option<&str>, secure: bool) -> HeaderValue {
    let mut cookie = Cookie::build((name, value.unwrap_or_default()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(secure);
    if value.is_none() {
        cookie = cookie.max_age(cookie::time::Duration::ZERO);
    }
    // The names are constants and the values tokens of visible ASCII: a value that is not
    // (which cannot happen) sets nothing rather than a broken header.
    HeaderValue::from_str(&cookie.build().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("portcullis_unset=; Max-Age=0"))
}

/// `response` with a `Set-Cookie` of [`set_cookie`] added.
pub(crate) fn with_cookie(
    mut response: Response,
    name: &str,
    value: Option<&str>,
    secure: bool,
) -> Response {
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(name, value, secure));
    response
}

fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The security headers of every page, and the CSRF rule of every form (see the module header).
pub(crate) async fn guard(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let secure = state.service.public_url().is_some_and(|url| {
        url.get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    });
    let existing = cookie_value(request.headers(), CSRF_COOKIE).filter(|t| well_formed(t));
    let token = existing.clone().unwrap_or_else(new_csrf_token);
    request.extensions_mut().insert(CsrfToken(token.clone()));
    request.extensions_mut().insert(SecureCookies(secure));

    let mut response = if request.method() == Method::POST {
        match check_csrf(request, existing.as_deref(), state.service.public_url()).await {
            Ok(request) => next.run(request).await,
            Err(refusal) => refusal,
        }
    } else {
        next.run(request).await
    };

    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if existing.is_none() {
        headers.append(
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, Some(&token), secure),
        );
    }
    response
}

/// Whether a POST comes from a page of this server, as far as the browser tells: its
/// `Sec-Fetch-Site` (when sent) is `same-origin`; without it, its `Origin` (when sent and not
/// `null`) names the host
/// the request was sent to or the public URL's host (a proxy may rewrite `Host`). A sibling site that planted a CSRF cookie of its own choosing (same
/// site, other origin) is refused here. Clients that send neither header (not browsers) are
/// left to the token alone.
fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    // Decisive when sent (every current browser sends it).
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    // Our pages' `Referrer-Policy: no-referrer` makes a browser send `Origin: null` even for its
    // own forms: only a named origin tells something.
    let Some(origin) = headers
        .get(header::ORIGIN)
        .filter(|o| o.as_bytes() != b"null")
    else {
        return true;
    };
    let authority = |url: &str| {
        url.split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_owned())
    };
    let Some(origin) = origin.to_str().ok().and_then(authority) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let public = public_url.and_then(authority);
    [host.map(str::to_owned), public]
        .into_iter()
        .flatten()
        .any(|allowed| allowed.eq_ignore_ascii_case(&origin))
}

/// Passes the request on when its form (or, for a script's JSON call, its header) repeats the
/// CSRF cookie; refuses it with `403` otherwise.
async fn check_csrf(
    request: Request,
    cookie: Option<&str>,
    public_url: Option<&str>,
) -> Result<Request, Response> {
    let refused = || {
        (
            StatusCode::FORBIDDEN,
            crate::layout::bare_page(
                "This form expired",
                "The page was open too long or came from elsewhere. Go back, reload the page and send it again.",
            ),
        )
            .into_response()
    };
    let Some(cookie) = cookie else {
        return Err(refused());
    };
    if !same_origin(request.headers(), public_url) {
        return Err(refused());
    }
    let header_token = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                crate::layout::bare_page("Too large", "This form is too large to be sent."),
            )
                .into_response()
        })?;
    let sent = header_token.or_else(|| {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v)
    });
    let matches = sent.is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(cookie.as_bytes())));
    if !matches {
        return Err(refused());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
