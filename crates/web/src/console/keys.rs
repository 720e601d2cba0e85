//! The API keys page: the organization's keys, a new key shown once, and deletion.

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use maud::html;
use portcullis_http::AppState;
use portcullis_model::Violation;
use portcullis_service::{ApiKeyView, CreatedApiKey, KeyFormat, NewApiKey, ServiceError};
use portcullis_store::Role;
use serde::Deserialize;

use super::{PAGE_SIZE, Tab, console_page};
use crate::failure::PageResult;
use crate::layout::{FormErrors, csrf, form_errors, input, notice, when};
use crate::visitor::Admin;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/orgs/{org}/keys", get(page).post(create))
        .route("/console/orgs/{org}/keys/{id}/delete", post(delete))
}

fn render(
    admin: &Admin,
    org: &str,
    list: &[ApiKeyView],
    created: Option<&CreatedApiKey>,
    errors: &FormErrors,
    next: Option<&str>,
) -> maud::Markup {
    let csrf_token = &admin.visitor.csrf;
    console_page(
        admin,
        Some(org),
        Tab::Keys,
        "API keys",
        html! {
            h1 { "API keys" }
            @if let Some(created) = created {
                section.card #new-key role="status" {
                    h2 { "Your new key" }
                    p { "Copy it now: it is shown only once." }
                    p.secret #new-key-value { (created.key) }
                }
            }
            table #keys {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Roles" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "Action" } } }
                tbody {
                    @for k in list {
                        tr data-key=(k.id) {
                            td { (k.name) }
                            td { (k.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                            td { (when(k.created_at)) }
                            td { (k.expires_at.map(when).unwrap_or_else(|| "never".into())) }
                            td {
                                form method="post" action={"/console/orgs/" (org) "/keys/" (k.id) "/delete"} {
                                    (csrf(csrf_token))
                                    button.danger type="submit" aria-label={"Delete the key " (k.name)} { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(last) = next {
                p.pager { a href={"/console/orgs/" (org) "/keys?after=" (last)} { "Next page" } }
            }
            form.card #create-key method="post" action={"/console/orgs/" (org) "/keys"} {
                h2 { "New key" }
                (form_errors(errors, &["name", "role", "expires_on"]))
                (csrf(csrf_token))
                (input("Name", "name", "text", "", "off", errors))
                div.field {
                    label for="f-role" { "Role" }
                    select #f-role name="role" {
                        option value="org_admin" { "organization administrator" }
                        option value="org_auditor" { "auditor (read only)" }
                        option value="member" { "member" }
                    }
                }
                (input("Expires on (UTC date, optional; the policy may require one)", "expires_on", "date", "", "off", errors))
                button type="submit" #create-key-button { "Create key" }
            }
            @if created.is_none() { (notice("A key is shown once, when it is created; only its digest is kept.")) }
        },
    )
}

/// `GET /console/orgs/{org}/keys`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(after): Query<super::After>,
    admin: Admin,
) -> PageResult {
    let list = state
        .service
        .list_api_keys(&admin.caller, &org, &super::page_after(&after))
        .await?;
    let next = (list.len() == PAGE_SIZE as usize)
        .then(|| list.last().map(|k| k.id.clone()))
        .flatten();
    Ok(render(
        &admin,
        &org,
        &list,
        None,
        &FormErrors::none(),
        next.as_deref(),
    )
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct KeyForm {
    name: String,
    role: String,
    #[serde(default)]
    expires_on: String,
}

/// The form as the service's request; what cannot be read is a violation of its field.
fn key_request(form: KeyForm) -> Result<NewApiKey, Vec<Violation>> {
    let mut wrong = Vec::new();
    let role: Option<Role> = serde_json::from_value(serde_json::Value::String(form.role)).ok();
    if role.is_none() {
        wrong.push(Violation::new(
            "role",
            "value.invalid",
            "choose one of the roles offered",
        ));
    }
    let expires_at = match form.expires_on.trim() {
        "" => None,
        day => match time::Date::parse(
            day,
            time::macros::format_description!("[year]-[month]-[day]"),
        ) {
            Ok(date) => Some(date.midnight().assume_utc()),
            Err(_) => {
                wrong.push(Violation::new(
                    "expires_on",
                    "value.invalid",
                    "must be a date (YYYY-MM-DD)",
                ));
                None
            }
        },
    };
    if !wrong.is_empty() {
        return Err(wrong);
    }
    Ok(NewApiKey {
        name: form.name,
        roles: role.map(|r| vec![r]),
        expires_at,
        format: KeyFormat::Native,
    })
}

/// `POST /console/orgs/{org}/keys`: the new key, shown once in the answer to this POST.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(org): Path<String>,
    admin: Admin,
    Form(form): Form<KeyForm>,
) -> PageResult {
    let outcome = match key_request(form) {
        Ok(request) => {
            state
                .service
                .create_api_key(&admin.caller, &admin.ctx(), &org, request)
                .await
        }
        Err(wrong) => Err(ServiceError::Invalid(
            portcullis_model::Violations::from_vec(wrong).unwrap_or_else(|| {
                portcullis_model::Violations::one(Violation::new("", "value.invalid", "invalid"))
            }),
        )),
    };
    let first = super::page_after(&super::After::default());
    let (created, errors, status) = match outcome {
        Ok(created) => (Some(created), FormErrors::none(), StatusCode::CREATED),
        Err(ServiceError::Invalid(v)) => {
            let errors = FormErrors::renamed(v.as_slice(), |f| {
                (f == "expires_at").then_some("expires_on")
            });
            (None, errors, StatusCode::BAD_REQUEST)
        }
        Err(e) => return Err(e.into()),
    };
    let list = state
        .service
        .list_api_keys(&admin.caller, &org, &first)
        .await?;
    Ok((
        status,
        render(&admin, &org, &list, created.as_ref(), &errors, None),
    )
        .into_response())
}

/// `POST /console/orgs/{org}/keys/{id}/delete`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    admin: Admin,
) -> PageResult {
    state
        .service
        .delete_api_key(&admin.caller, &admin.ctx(), &org, &id)
        .await?;
    Ok(Redirect::to(&format!("/console/orgs/{org}/keys")).into_response())
}
