//! The second factor of a signed-in user: set up an authenticator app (a QR code drawn here, the
//! secret to type in, a code to confirm, recovery codes shown once) or remove it.
//!
//! Invariant: the secret, its QR code and the recovery codes are in the page that answers the
//! POST that made them, never in a URL and never in a page a GET can fetch again.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use maud::{Markup, PreEscaped, html};
use portcullis_http::AppState;
use portcullis_service::{HostedOrg, ServiceError};
use serde::Deserialize;

use super::{Member, org_page};
use crate::failure::PageResult;
use crate::layout::{FormErrors, csrf, form_errors, input, notice};
use crate::visitor::Visitor;

/// The QR code of `uri` as SVG markup (drawn here; the XML prolog dropped for inline use).
fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(224, 224)
        .quiet_zone(true)
        .build();
    Some(match svg.find("<svg") {
        Some(at) => svg[at..].to_owned(),
        None => svg,
    })
}

/// `GET /orgs/{org}/mfa`.
pub(crate) async fn page(m: Member) -> PageResult {
    Ok(mfa_page(&m, &FormErrors::none()).into_response())
}

/// The second-factor page; `remove_errors` are the removal form's (a wrong password).
fn mfa_page(m: &Member, remove_errors: &FormErrors) -> maud::Markup {
    let (hosted, caller, v) = (&m.org, &m.caller, &m.v);
    org_page(
        hosted,
        "Second factor",
        false,
        html! {
            h1 { "Second factor" }
            @if caller.mfa_enroll_only {
                (notice("Your organization requires a second factor: set one up to go on."))
            }
            section.card {
                h2 { "Set up an authenticator app" }
                p { "You will scan a QR code with an app such as FreeOTP, Aegis or Google Authenticator, then type the code it shows." }
                form method="post" action={"/orgs/" (hosted.id) "/mfa/start"} {
                    (csrf(&v.csrf))
                    button type="submit" #start-totp { "Set up" }
                }
            }
            @if !caller.mfa_enroll_only {
                section.card {
                    h2 { "Remove your second factor" }
                    form #remove-totp method="post" action={"/orgs/" (hosted.id) "/mfa/remove"} {
                        (csrf(&v.csrf))
                        (input("Your password, to confirm", "password", "password", "", "current-password", remove_errors))
                        button.danger type="submit" { "Remove" }
                    }
                }
                p { a href={"/orgs/" (hosted.id) "/account"} { "Back to your account" } }
            }
        },
    )
}

fn enrollment_page(
    org: &HostedOrg,
    v: &Visitor,
    secret: &str,
    uri: &str,
    errors: &FormErrors,
) -> Markup {
    html! {
        h1 { "Scan this code" }
        section.card {
            @if let Some(svg) = qr_svg(uri) {
                div.qr #totp-qr role="img" aria-label="QR code to scan with your authenticator app" {
                    (PreEscaped(svg))
                }
            }
            p { "Or type this key into the app:" }
            p.secret #totp-secret { (secret) }
        }
        form.card #confirm-form method="post" action={"/orgs/" (org.id) "/mfa/confirm"} {
            (form_errors(errors, &["code"]))
            (csrf(&v.csrf))
            input type="hidden" name="secret" value=(secret);
            input type="hidden" name="uri" value=(uri);
            (input("Code from the app", "code", "text", "", "one-time-code", errors))
            button type="submit" #confirm-totp { "Confirm" }
        }
    }
}

/// `POST /orgs/{org}/mfa/start`: a new secret, shown once.
pub(crate) async fn start(State(state): State<AppState>, m: Member) -> PageResult {
    let Member {
        org: hosted,
        caller,
        v,
    } = m;
    let caller = &caller;
    let enrollment = state
        .service
        .start_totp_enrollment(caller, &v.acting())
        .await?;
    Ok(org_page(
        &hosted,
        "Scan this code",
        false,
        enrollment_page(
            &hosted,
            &v,
            &enrollment.secret,
            &enrollment.otpauth_uri,
            &FormErrors::none(),
        ),
    )
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct Confirmation {
    code: String,
    secret: String,
    uri: String,
}

/// `POST /orgs/{org}/mfa/confirm`: the recovery codes, shown once.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    m: Member,
    Form(form): Form<Confirmation>,
) -> PageResult {
    let Member {
        org: hosted,
        caller,
        v,
    } = m;
    let caller = &caller;
    let restricted = caller.mfa_enroll_only;
    match state
        .service
        .confirm_totp(caller, &v.acting(), form.code.trim())
        .await
    {
        Ok(codes) => Ok(org_page(
            &hosted,
            "Second factor ready",
            false,
            html! {
                h1 { "Your second factor is ready" }
                section.card {
                    h2 { "Recovery codes" }
                    p { "Keep these codes somewhere safe. Each one signs you in once if you lose your app. They are shown only now." }
                    ul #recovery-codes { @for c in &codes.recovery_codes { li.secret { (c) } } }
                }
                @if restricted {
                    p { a.button href={"/orgs/" (hosted.id) "/login"} { "Sign in again" } }
                } @else {
                    p { a.button href={"/orgs/" (hosted.id) "/account"} { "Back to your account" } }
                }
            },
        )
        .into_response()),
        Err(ServiceError::Invalid(violations)) => {
            let errors = FormErrors::renamed(violations.as_slice(), |_| Some("code"));
            Ok((
                StatusCode::BAD_REQUEST,
                org_page(
                    &hosted,
                    "Scan this code",
                    false,
                    enrollment_page(&hosted, &v, &form.secret, &form.uri, &errors),
                ),
            )
                .into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct Removal {
    password: String,
}

/// `POST /orgs/{org}/mfa/remove`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    m: Member,
    Form(form): Form<Removal>,
) -> PageResult {
    match state
        .service
        .remove_own_totp(&m.caller, &m.v.acting(), &form.password, m.v.ip)
        .await
    {
        Ok(()) => {}
        Err(ServiceError::Invalid(violations)) => {
            // A wrong password: the page again, the message under the password.
            let errors = FormErrors::renamed(violations.as_slice(), |_| Some("password"));
            return Ok((StatusCode::BAD_REQUEST, mfa_page(&m, &errors)).into_response());
        }
        Err(other) => return Err(other.into()),
    }
    let hosted = &m.org;
    Ok(org_page(
        hosted,
        "Second factor removed",
        false,
        html! {
            h1 { "Second factor removed" }
            p { a href={"/orgs/" (hosted.id) "/account"} { "Back to your account" } }
        },
    )
    .into_response())
}
