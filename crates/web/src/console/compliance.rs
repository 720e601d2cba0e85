//! The compliance page: each standard's report with its failing rules first, and "apply the
//! preset" as a dry run whose changes are shown before the administrator confirms them.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use maud::html;
use portcullis_http::AppState;
use portcullis_model::compliance::Status;
use portcullis_service::PolicyScope;

use super::{Tab, console_page};
use crate::failure::PageResult;
use crate::layout::{csrf, notice};
use crate::visitor::Admin;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/orgs/{org}/compliance", get(page))
        .route(
            "/console/orgs/{org}/compliance/{standard}/preview",
            post(preview),
        )
        .route(
            "/console/orgs/{org}/compliance/{standard}/apply",
            post(apply),
        )
}

fn status_tag(status: &Status) -> maud::Markup {
    match status {
        Status::Pass => html! { span.tag.pass { "pass" } },
        Status::Fail => html! { span.tag.fail { "fail" } },
        Status::NotApplicable => html! { span.tag.inherited { "not applicable" } },
    }
}

/// `GET /console/orgs/{org}/compliance`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Path(org): Path<String>,
    admin: Admin,
) -> PageResult {
    let scope = PolicyScope::Org(org.clone());
    let mut reports = Vec::new();
    for standard in state.service.compliance_standards()? {
        let mut report = state
            .service
            .compliance_report(&admin.caller, &scope, &standard.id)
            .await?;
        // Failing rules first, then passing, then the ones that do not apply.
        report.rules.sort_by_key(|r| match r.status {
            Status::Fail => 0,
            Status::Pass => 1,
            Status::NotApplicable => 2,
        });
        reports.push((standard, report));
    }
    Ok(console_page(
        &admin,
        Some(&org),
        Tab::Compliance,
        "Compliance",
        html! {
            h1 { "Compliance" }
            @for (standard, report) in &reports {
                @let rules = &report.rules;
                section.card id={"standard-" (standard.id)} aria-labelledby={"std-" (standard.id)} {
                    h2 id={"std-" (standard.id)} {
                        (standard.title) " "
                        @if report.passes() { span.tag.pass { "passes" } } @else { span.tag.fail { "fails" } }
                    }
                    p.muted { (standard.source) }
                    table {
                        thead { tr { th scope="col" { "Rule" } th scope="col" { "Status" } th scope="col" { "Field" } th scope="col" { "Now" } th scope="col" { "Required" } } }
                        tbody {
                            @for rule in rules {
                                tr.rule data-status=(format!("{:?}", rule.status).to_lowercase()) {
                                    td { (rule.rule) }
                                    td { (status_tag(&rule.status)) }
                                    td { code { (rule.field) } }
                                    td { code { (rule.current) } }
                                    td { (rule.required) }
                                }
                            }
                        }
                    }
                    @if !report.passes() {
                        form method="post" action={"/console/orgs/" (org) "/compliance/" (standard.id) "/preview"} {
                            (csrf(&admin.visitor.csrf))
                            button type="submit" id={"preview-" (standard.id)} { "Apply the " (standard.title) " preset…" }
                        }
                    }
                }
            }
        },
    )
    .into_response())
}

async fn run(
    state: &AppState,
    admin: &Admin,
    org: &str,
    standard: &str,
    dry_run: bool,
    changed_since: bool,
) -> PageResult {
    let scope = PolicyScope::Org(org.to_owned());
    // The version the preview was computed from: the confirmation applies only to it.
    let version = state
        .service
        .policy_version_of(&admin.caller, &scope)
        .await?;
    let outcome = state
        .service
        .apply_compliance(&admin.caller, &admin.ctx(), &scope, standard, dry_run)
        .await?;
    let status = if changed_since {
        StatusCode::PRECONDITION_FAILED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        console_page(
        admin,
        Some(org),
        Tab::Compliance,
        "Apply a preset",
        html! {
            h1 { @if dry_run { "Changes the " (standard) " preset would make" } @else { "Preset applied" } }
            @if changed_since {
                div.alert role="alert" { "The policy changed since the preview: these are the changes it would make now." }
            }
            @if outcome.changes.is_empty() {
                (notice("Nothing to change: the policy already meets the standard."))
            } @else {
                table #preset-changes {
                    thead { tr { th scope="col" { "Section" } th scope="col" { "Password policy" } th scope="col" { "Change" } } }
                    tbody {
                        @for change in &outcome.changes {
                            @let json = serde_json::to_value(change).unwrap_or_default();
                            tr {
                                td { (json["section"].as_str().unwrap_or_default()) }
                                td { (change.password_policy.clone().unwrap_or_default()) }
                                td { code { (serde_json::to_string(&json["patch"]).unwrap_or_default()) } }
                            }
                        }
                    }
                }
            }
            @if dry_run && !outcome.changes.is_empty() {
                form method="post" action={"/console/orgs/" (org) "/compliance/" (standard) "/apply"} {
                    (csrf(&admin.visitor.csrf))
                    input type="hidden" name="version" value=(version);
                    button type="submit" #confirm-apply { "Confirm: apply these changes" }
                }
            }
            @if !dry_run {
                (notice(if outcome.report.passes() { "The policy now meets the standard." } else { "Applied; some rules still fail (see the report)." }))
            }
            p { a href={"/console/orgs/" (org) "/compliance"} { "Back to the reports" } }
        },
    )
    )
        .into_response())
}

/// `POST /console/orgs/{org}/compliance/{standard}/preview`: the dry run.
pub(crate) async fn preview(
    State(state): State<AppState>,
    Path((org, standard)): Path<(String, String)>,
    admin: Admin,
) -> PageResult {
    run(&state, &admin, &org, &standard, true, false).await
}

#[derive(serde::Deserialize)]
pub(crate) struct Confirmation {
    version: String,
}

/// `POST /console/orgs/{org}/compliance/{standard}/apply`.
pub(crate) async fn apply(
    State(state): State<AppState>,
    Path((org, standard)): Path<(String, String)>,
    admin: Admin,
    axum::Form(form): axum::Form<Confirmation>,
) -> PageResult {
    // Changed since the preview: show the changes as they stand instead of applying others.
    let now = state
        .service
        .policy_version_of(&admin.caller, &PolicyScope::Org(org.clone()))
        .await?;
    let changed = now != form.version;
    run(&state, &admin, &org, &standard, changed, changed).await
}
