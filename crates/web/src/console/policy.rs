//! The policy page: one form per section with its fields, "custom" or "inherited from the
//! instance" with a reset, the violations of a refused change next to their fields; the password
//! section as its list of password policies.
//!
//! Invariant: a form sends a JSON merge patch of the fields it shows to
//! `Service::write_org_section` (the API's `PATCH …/policy/{section}`); the page converts what
//! was typed to the field's JSON type and nothing else: ranges and rules are the service's.

use std::collections::BTreeMap;

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use maud::{Markup, html};
use portcullis_http::AppState;
use portcullis_model::{SectionKind, Violation};
use portcullis_service::{SectionWrite, ServiceError};
use serde_json::{Map, Value};

use super::{Tab, console_page};
use crate::failure::PageResult;
use crate::layout::{FormErrors, csrf, duration, form_errors};
use crate::visitor::Admin;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/orgs/{org}/policy", get(page))
        .route("/console/orgs/{org}/policy/{section}", post(write))
        .route("/console/orgs/{org}/policy/{section}/reset", post(reset))
        .route(
            "/console/orgs/{org}/password-policies/{id}",
            post(write_password_policy),
        )
}

/// A refused form: its section, what was typed, and the errors.
struct Refused<'a> {
    section: SectionKind,
    typed: &'a BTreeMap<String, String>,
    errors: FormErrors,
}

/// Field names that hold seconds: shown with their value in minutes, hours or days.
fn holds_seconds(section: SectionKind, field: &str) -> bool {
    matches!(
        section,
        SectionKind::Lockout
            | SectionKind::BruteForce
            | SectionKind::Session
            | SectionKind::Tokens
            | SectionKind::ApiKeys
    ) && [
        "duration",
        "window",
        "lifetime",
        "timeout",
        "seconds",
        "expiration",
        "idle",
        "absolute",
        "token",
        "reset_after",
        "observation",
        "period",
    ]
    .iter()
    .any(|w| field.contains(w))
}

fn field_input(
    section: SectionKind,
    name: &str,
    value: &Value,
    form: Option<&BTreeMap<String, String>>,
    errors: &FormErrors,
) -> Markup {
    // What was typed, when the page shows a refused form (an unchecked box sends nothing).
    let typed = form.and_then(|f| f.get(name));
    let id = format!("{}-{name}", section.as_str());
    let error_id = format!("{id}-error");
    let messages: Vec<&str> = errors.of(name).collect();
    let invalid = if messages.is_empty() { "false" } else { "true" };
    let described = (!messages.is_empty()).then_some(error_id.clone());
    let label = name.replace('_', " ");
    html! {
        div.field {
            @match value {
                Value::Bool(on) => {
                    span.check {
                        input type="checkbox" id=(id) name=(name) value="on"
                            checked[form.map_or(*on, |_| typed.is_some_and(|t| t == "on"))]
                            aria-invalid=(invalid) aria-describedby=[described.as_deref()];
                        label for=(id) { (label) }
                    }
                }
                Value::Number(n) => {
                    label for=(id) { (label) }
                    input type="number" id=(id) name=(name) step="any"
                        value=(typed.cloned().unwrap_or_else(|| n.to_string()))
                        aria-invalid=(invalid) aria-describedby=[described.as_deref()];
                    @if holds_seconds(section, name) {
                        span.hint { "seconds" @if let Some(s) = n.as_u64() { @if s >= 60 { " (" (duration(s)) ")" } } }
                    }
                }
                Value::Null => {
                    label for=(id) { (label) }
                    input type="text" id=(id) name=(name) value=(typed.cloned().unwrap_or_default())
                        aria-invalid=(invalid) aria-describedby=[described.as_deref()];
                    span.hint { "empty: none" @if holds_seconds(section, name) { "; otherwise seconds" } }
                }
                Value::String(s) => {
                    label for=(id) { (label) }
                    input type="text" id=(id) name=(name) value=(typed.cloned().unwrap_or_else(|| s.clone()))
                        aria-invalid=(invalid) aria-describedby=[described.as_deref()];
                }
                other => {
                    label for=(id) { (label) " (JSON)" }
                    textarea id=(id) name=(name) aria-invalid=(invalid) aria-describedby=[described.as_deref()] {
                        (typed.cloned().unwrap_or_else(|| serde_json::to_string_pretty(other).unwrap_or_default()))
                    }
                }
            }
            @if !messages.is_empty() {
                ul.errors id=(error_id) { @for m in &messages { li { (m) } } }
            }
        }
    }
}

async fn render(
    state: &AppState,
    admin: &Admin,
    org: &str,
    refused: Option<Refused<'_>>,
) -> Result<Markup, ServiceError> {
    let policy = state.service.get_org_policy(&admin.caller, org).await?;
    let passwords = state
        .service
        .list_password_policies(&admin.caller, org)
        .await?;
    let csrf_token = &admin.visitor.csrf;
    Ok(console_page(
        admin,
        Some(org),
        Tab::Policy,
        "Policy",
        html! {
            h1 { "Policy" }
            p.muted { "Each section is either inherited from the instance defaults or the organization's own. Saving a form makes the section the organization's own." }
            @for kind in SectionKind::ALL {
                @let (inherited, details) = policy.section_meta(kind);
                @let none = FormErrors::none();
                @let (typed, errors) = match &refused {
                    Some(r) if r.section == kind => (Some(r.typed).filter(|t| !t.is_empty()), &r.errors),
                    _ => (None, &none),
                };
                section.card id={"section-" (kind.as_str())} aria-labelledby={"title-" (kind.as_str())} {
                    h2 id={"title-" (kind.as_str())} {
                        (kind.as_str()) " "
                        @if inherited { span.tag.inherited { "inherited from instance" } }
                        @else { span.tag.custom { "custom" } }
                    }
                    @if !inherited { p.muted { "Changed " (crate::layout::when(details.changed_at)) } }
                    @if kind == SectionKind::Password {
                        (password_section(org, csrf_token, &passwords.value.to_json()))
                    } @else {
                        @let value = policy.section(kind).to_json();
                        form.policy-form id={"form-" (kind.as_str())} method="post"
                            action={"/console/orgs/" (org) "/policy/" (kind.as_str())} {
                            @let names: Vec<&str> = value.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
                            (form_errors(errors, &names))
                            (csrf(csrf_token))
                            @if let Some(fields) = value.as_object() {
                                input type="hidden" name="__fields" value=(names.join(","));
                                input type="hidden" name="__sequence" value=(if inherited { 0 } else { details.sequence });
                                @for (name, v) in fields {
                                    (field_input(kind, name, v, typed, errors))
                                }
                            }
                            button type="submit" id={"save-" (kind.as_str())} { "Save " (kind.as_str()) }
                        }
                    }
                    @if !inherited {
                        form method="post" action={"/console/orgs/" (org) "/policy/" (kind.as_str()) "/reset"} {
                            (csrf(csrf_token))
                            button.secondary type="submit" id={"reset-" (kind.as_str())} { "Reset to inherited" }
                        }
                    }
                }
            }
        },
    ))
}

fn password_section(org: &str, csrf_token: &str, value: &Value) -> Markup {
    let list: Vec<&Value> = value
        .get("policies")
        .and_then(Value::as_array)
        .map(|l| l.iter().collect())
        .or_else(|| value.as_array().map(|l| l.iter().collect()))
        .unwrap_or_default();
    html! {
        table #password-policies {
            thead { tr { th scope="col" { "Id" } th scope="col" { "Name" } th scope="col" { "Default" } th scope="col" { "Sources" } th scope="col" { "Length" } } }
            tbody {
                @for p in &list {
                    tr {
                        td { (p["id"].as_str().unwrap_or_default()) }
                        td { (p["name"].as_str().unwrap_or_default()) }
                        td { @if p["is_default"].as_bool().unwrap_or(false) { "default" } }
                        td { (p["sources"].as_array().map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                        td { (p["min_length"]) "–" (p["max_length"]) }
                    }
                }
            }
        }
        @for p in &list {
            @let id = p["id"].as_str().unwrap_or_default();
            details {
                summary { "Edit password policy " (id) }
                form method="post" action={"/console/orgs/" (org) "/password-policies/" (id)} {
                    (csrf(csrf_token))
                    div.field {
                        label for={"pp-" (id)} { "Password policy " (id) " (JSON)" }
                        textarea id={"pp-" (id)} name="json" { (serde_json::to_string_pretty(p).unwrap_or_default()) }
                    }
                    button type="submit" { "Save password policy " (id) }
                }
            }
        }
    }
}

/// `GET /console/orgs/{org}/policy`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Path(org): Path<String>,
    admin: Admin,
) -> PageResult {
    Ok(render(&state, &admin, &org, None).await?.into_response())
}

/// The typed fields as a JSON merge patch, typed like the current values; what cannot be read
/// as its type is a violation of that field.
fn patch_from(
    current: &Map<String, Value>,
    typed: &BTreeMap<String, String>,
) -> Result<Value, portcullis_model::Violations> {
    let shown: Vec<&str> = typed
        .get("__fields")
        .map(|f| f.split(',').collect())
        .unwrap_or_default();
    let mut patch = Map::new();
    let mut wrong = Vec::new();
    for name in shown {
        let Some(now) = current.get(name) else {
            continue;
        };
        let text = typed.get(name).map(|s| s.trim());
        let value = match now {
            Value::Bool(_) => Some(Value::Bool(text == Some("on"))),
            Value::Number(_) | Value::Null if text.is_none_or(str::is_empty) => Some(Value::Null),
            Value::Number(_) | Value::Null => {
                match text.map(serde_json::from_str::<serde_json::Number>) {
                    Some(Ok(n)) => Some(Value::Number(n)),
                    _ => {
                        wrong.push(Violation::new(name, "value.invalid", "must be a number"));
                        None
                    }
                }
            }
            Value::String(_) => Some(Value::String(text.unwrap_or_default().to_owned())),
            _ => match text.map(serde_json::from_str::<Value>) {
                Some(Ok(v)) => Some(v),
                _ => {
                    wrong.push(Violation::new(name, "value.invalid", "must be valid JSON"));
                    None
                }
            },
        };
        if let Some(value) = value {
            patch.insert(name.to_owned(), value);
        }
    }
    match portcullis_model::Violations::from_vec(wrong) {
        Some(wrong) => Err(wrong),
        None => Ok(Value::Object(patch)),
    }
}

/// `POST /console/orgs/{org}/policy/{section}`.
pub(crate) async fn write(
    State(state): State<AppState>,
    Path((org, section)): Path<(String, String)>,
    admin: Admin,
    Form(typed): Form<BTreeMap<String, String>>,
) -> PageResult {
    let kind: SectionKind = section.parse().map_err(|_| ServiceError::NotFound)?;
    let policy = state.service.get_org_policy(&admin.caller, &org).await?;
    let current = policy.section(kind).to_json();
    let empty = Map::new();
    let current = current.as_object().unwrap_or(&empty);
    // The form was filled from the section at this sequence: a change made since is not undone.
    let sequence = typed
        .get("__sequence")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let outcome = match patch_from(current, &typed) {
        Ok(patch) => state
            .service
            .write_org_section_at(
                &admin.caller,
                &admin.ctx(),
                &org,
                kind,
                SectionWrite::Patch(patch),
                sequence,
            )
            .await
            .map(|_| ()),
        Err(wrong) => Err(ServiceError::Invalid(wrong)),
    };
    match outcome {
        Ok(()) => Ok(
            Redirect::to(&format!("/console/orgs/{org}/policy#section-{section}")).into_response(),
        ),
        Err(ServiceError::PreconditionFailed) => {
            let errors = FormErrors::form(
                "Someone changed this section meanwhile: the form now shows the values in force. Make your change again.",
            );
            let none = BTreeMap::new();
            let refused = Refused {
                section: kind,
                typed: &none,
                errors,
            };
            let page = render(&state, &admin, &org, Some(refused)).await?;
            Ok((StatusCode::PRECONDITION_FAILED, page).into_response())
        }
        Err(ServiceError::Invalid(violations)) => {
            let errors = FormErrors::from_violations(violations.as_slice(), kind.as_str());
            let refused = Refused {
                section: kind,
                typed: &typed,
                errors,
            };
            Ok((
                StatusCode::BAD_REQUEST,
                render(&state, &admin, &org, Some(refused)).await?,
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /console/orgs/{org}/policy/{section}/reset`.
pub(crate) async fn reset(
    State(state): State<AppState>,
    Path((org, section)): Path<(String, String)>,
    admin: Admin,
) -> PageResult {
    let kind: SectionKind = section.parse().map_err(|_| ServiceError::NotFound)?;
    state
        .service
        .reset_org_section(&admin.caller, &admin.ctx(), &org, kind)
        .await?;
    Ok(Redirect::to(&format!("/console/orgs/{org}/policy#section-{section}")).into_response())
}

#[derive(serde::Deserialize)]
pub(crate) struct PolicyJson {
    json: String,
}

/// `POST /console/orgs/{org}/password-policies/{id}`: replaces one password policy.
pub(crate) async fn write_password_policy(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    admin: Admin,
    Form(form): Form<PolicyJson>,
) -> PageResult {
    let body: Value = serde_json::from_str(&form.json).map_err(|e| {
        ServiceError::invalid(Violation::new(
            "json",
            "value.invalid",
            format!("not JSON: {e}"),
        ))
    })?;
    state
        .service
        .replace_password_policy(&admin.caller, &admin.ctx(), &org, &id, body)
        .await?;
    Ok(Redirect::to(&format!("/console/orgs/{org}/policy#section-password")).into_response())
}
