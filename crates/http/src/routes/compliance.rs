//! `/v1/compliance/standards`, `…/compliance` and `…/compliance/{standard}/apply`: a policy
//! checked against a published standard, and the preset that makes it pass.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use portcullis_model::compliance::{PresetChange, Report};
use portcullis_service::{ComplianceApply, PolicyScope};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::Auth;
use crate::routes::enforcement::query;

/// A standard compliance can be checked against.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StandardView {
    /// Stable id, for `?standard=` (`nist-800-63b-4-aal2`, `pci-dss-4.0.1`, …).
    pub id: String,
    /// Short title.
    pub title: String,
    /// The document and the parts of it the rules come from.
    pub source: String,
    /// How many rules it has.
    pub rules: usize,
}

/// The standards.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StandardList {
    /// Every standard.
    pub items: Vec<StandardView>,
}

/// The id of a standard (`GET /v1/compliance/standards` lists them).
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = StandardId)]
pub enum StandardIdSchema {
    /// NIST SP 800-63B-4, AAL1.
    #[schema(rename = "nist-800-63b-4-aal1")]
    NistAal1,
    /// NIST SP 800-63B-4, AAL2.
    #[schema(rename = "nist-800-63b-4-aal2")]
    NistAal2,
    /// PCI DSS v4.0.1, requirement 8.
    #[schema(rename = "pci-dss-4.0.1")]
    Pci,
    /// OWASP ASVS 5.0, level 1.
    #[schema(rename = "owasp-asvs-5.0-l1")]
    AsvsL1,
    /// OWASP ASVS 5.0, level 2.
    #[schema(rename = "owasp-asvs-5.0-l2")]
    AsvsL2,
}

/// `?standard=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StandardQuery {
    /// The standard's id (`GET /v1/compliance/standards` lists them).
    #[param(value_type = StandardIdSchema, inline)]
    pub standard: String,
}

/// `?dry_run=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DryRunQuery {
    /// `true` (the default): only show the changes; `false`: write them.
    pub dry_run: Option<bool>,
}

/// What applying a preset did, or would do.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ComplianceApplyView {
    /// The standard's id.
    pub standard: String,
    /// Nothing was to be written.
    pub dry_run: bool,
    /// The smallest section changes that make every applicable rule pass (each a typed merge
    /// patch of one section; for `password`, of the named password policy); empty when the
    /// policy passes already.
    pub changes: Vec<PresetChange>,
    /// Whether they were written (one transaction, one `policy.<section>.changed` event per
    /// section).
    pub written: bool,
    /// The report of the policy with the changes.
    pub report: Report,
}

impl From<ComplianceApply> for ComplianceApplyView {
    fn from(a: ComplianceApply) -> ComplianceApplyView {
        let ComplianceApply {
            standard,
            dry_run,
            changes,
            written,
            report,
        } = a;
        ComplianceApplyView {
            standard,
            dry_run,
            changes,
            written,
            report,
        }
    }
}

/// The standards compliance can be checked against (any authenticated caller).
#[utoipa::path(get, path = "/v1/compliance/standards", tag = "compliance",
    responses((status = 200, body = StandardList), (status = 401, body = Problem)))]
pub async fn list_standards(
    State(state): State<AppState>,
    _auth: Auth,
) -> ApiResult<Json<StandardList>> {
    let items = state
        .service
        .compliance_standards()?
        .into_iter()
        .map(|s| StandardView {
            id: s.id,
            title: s.title,
            source: s.source,
            rules: s.rules,
        })
        .collect();
    Ok(Json(StandardList { items }))
}

/// An organization's effective policy checked against a standard: every rule with `pass`,
/// `fail` or `not_applicable`, its field, current and required values, clause, reason and the
/// other standards it conflicts with; a summary count.
#[utoipa::path(get, path = "/v1/orgs/{org}/compliance", tag = "compliance",
    params(("org" = String, Path, description = "Organization id"), StandardQuery),
    responses((status = 200, body = Report), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_org_compliance(
    State(state): State<AppState>,
    auth: Auth,
    Path(org): Path<String>,
    standard: Result<Query<StandardQuery>, QueryRejection>,
) -> ApiResult<Json<Report>> {
    let standard = query(standard)?.standard;
    Ok(Json(
        state
            .service
            .compliance_report(&auth.caller, &PolicyScope::Org(org), &standard)
            .await?,
    ))
}

/// The instance defaults checked against a standard (instance administrators).
#[utoipa::path(get, path = "/v1/instance/compliance", tag = "compliance",
    params(StandardQuery),
    responses((status = 200, body = Report), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn get_instance_compliance(
    State(state): State<AppState>,
    auth: Auth,
    standard: Result<Query<StandardQuery>, QueryRejection>,
) -> ApiResult<Json<Report>> {
    let standard = query(standard)?.standard;
    Ok(Json(
        state
            .service
            .compliance_report(&auth.caller, &PolicyScope::Instance, &standard)
            .await?,
    ))
}

/// The smallest section changes that make an organization meet a standard: shown with
/// `dry_run=true` (the default), written atomically with `dry_run=false`.
#[utoipa::path(post, path = "/v1/orgs/{org}/compliance/{standard}/apply", tag = "compliance",
    params(("org" = String, Path, description = "Organization id"),
        ("standard" = String, Path, description = "The standard's id"), DryRunQuery),
    responses((status = 200, body = ComplianceApplyView), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn apply_org_compliance(
    State(state): State<AppState>,
    auth: Auth,
    Path((org, standard)): Path<(String, String)>,
    dry_run: Result<Query<DryRunQuery>, QueryRejection>,
) -> ApiResult<Json<ComplianceApplyView>> {
    let dry_run = query(dry_run)?.dry_run.unwrap_or(true);
    Ok(Json(
        state
            .service
            .apply_compliance(
                &auth.caller,
                &auth.ctx,
                &PolicyScope::Org(org),
                &standard,
                dry_run,
            )
            .await?
            .into(),
    ))
}

/// The same for the instance defaults (instance administrators): every organization that
/// inherits a changed section follows at once.
#[utoipa::path(post, path = "/v1/instance/compliance/{standard}/apply", tag = "compliance",
    params(("standard" = String, Path, description = "The standard's id"), DryRunQuery),
    responses((status = 200, body = ComplianceApplyView), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn apply_instance_compliance(
    State(state): State<AppState>,
    auth: Auth,
    Path(standard): Path<String>,
    dry_run: Result<Query<DryRunQuery>, QueryRejection>,
) -> ApiResult<Json<ComplianceApplyView>> {
    let dry_run = query(dry_run)?.dry_run.unwrap_or(true);
    Ok(Json(
        state
            .service
            .apply_compliance(
                &auth.caller,
                &auth.ctx,
                &PolicyScope::Instance,
                &standard,
                dry_run,
            )
            .await?
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    #[test]
    fn the_documented_standard_ids_are_the_catalogs() {
        let schema = serde_json::to_value(StandardIdSchema::schema()).unwrap();
        let documented: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(documented, portcullis_model::compliance::STANDARD_IDS);
    }
}
