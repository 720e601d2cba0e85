//! Compliance reports and presets (docs/compliance.md): an organization's effective policy, or
//! the instance defaults, checked against a published standard, and the smallest section changes
//! that make it pass, shown (dry run) or written.
//!
//! Invariants:
//! - the rules and the evaluation are the model's (`portcullis_model::compliance`), pure; this
//!   module only reads the policy, checks the caller and writes;
//! - a preset is written as **one** conditional `PolicyStore::write_sections` batch, each
//!   section with its `policy.<section>.changed` event, all or nothing; when another write got
//!   in between, the preset is computed again from the new policy, never written from a stale
//!   read (the policy is read from the store, not the cache);
//! - a dry run writes nothing; an organization that already passes writes nothing.

use portcullis_model::codes::INVALID_JSON;
use portcullis_model::compliance::{
    Preset, PresetChange, PresetError, Report, Standard, StandardError, apply_changes,
    changed_sections, evaluate, evaluate_instance, preset,
};
use portcullis_model::{Violation, Violations};
use portcullis_store::{SectionChange, StoreError};

use crate::caller::Caller;
use crate::error::{ServiceError, ServiceResult};
use crate::policy_patch::{PolicyScope, section_write};
use crate::service::{Context, Service};

/// A standard's identity, as the list of standards shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandardInfo {
    /// Stable id (`pci-dss-4.0.1`).
    pub id: String,
    /// Short title.
    pub title: String,
    /// The document and the parts of it the rules come from.
    pub source: String,
    /// How many rules it has.
    pub rules: usize,
}

/// What applying a preset did (or, in a dry run, would do).
#[derive(Clone, Debug, PartialEq)]
pub struct ComplianceApply {
    /// The standard's id.
    pub standard: String,
    /// Nothing was to be written.
    pub dry_run: bool,
    /// The smallest changes that make every applicable rule pass (empty: it passes already).
    pub changes: Vec<PresetChange>,
    /// Whether they were written.
    pub written: bool,
    /// The report of the policy with the changes (written or not).
    pub report: Report,
}

fn catalog_error(e: StandardError) -> ServiceError {
    match e {
        StandardError::Unknown(_) => ServiceError::NotFound,
        StandardError::Invalid { .. } => ServiceError::Internal(e.to_string()),
    }
}

/// The standard `id` names; an unknown id is a violation of `field` listing the known ones.
pub fn standard_named(id: &str, field: &str) -> ServiceResult<&'static Standard> {
    portcullis_model::compliance::standard(id).map_err(|e| match e {
        StandardError::Unknown(_) => ServiceError::Invalid(Violations::one(Violation::new(
            field,
            INVALID_JSON,
            format!(
                "unknown standard; the standards are {}",
                portcullis_model::compliance::STANDARD_IDS.join(", ")
            ),
        ))),
        other => catalog_error(other),
    })
}

fn preset_error(e: PresetError) -> ServiceError {
    match e {
        PresetError::Invalid(violations) => ServiceError::Invalid(violations),
        PresetError::Unresolved(rules) => ServiceError::Conflict(format!(
            "no change of this policy makes these rules pass: {}",
            rules.join(", ")
        )),
    }
}

impl Service {
    /// The standards compliance can be checked against (any authenticated caller).
    pub fn compliance_standards(&self) -> ServiceResult<Vec<StandardInfo>> {
        Ok(portcullis_model::compliance::standards()
            .map_err(catalog_error)?
            .iter()
            .map(|s| StandardInfo {
                id: s.id.clone(),
                title: s.title.clone(),
                source: s.source.clone(),
                rules: s.rules.len(),
            })
            .collect())
    }

    /// The policy of `scope` checked against the standard `standard_id` (readers of the
    /// organization; the instance defaults: instance administrators).
    pub async fn compliance_report(
        &self,
        caller: &Caller,
        scope: &PolicyScope,
        standard_id: &str,
    ) -> ServiceResult<Report> {
        let standard = standard_named(standard_id, "standard")?;
        match scope {
            PolicyScope::Instance => {
                let instance = self.get_instance_policy(caller).await?;
                Ok(evaluate_instance(standard, &instance))
            }
            PolicyScope::Org(org_id) => {
                let policy = self.get_org_policy(caller, org_id).await?;
                Ok(evaluate(standard, &policy))
            }
        }
    }

    /// The preset of `standard_id` for `scope`: shown (`dry_run`), or written in one
    /// conditional transaction (administrators of the organization; the instance defaults:
    /// instance administrators). An unknown standard is `NotFound`.
    pub async fn apply_compliance(
        &self,
        caller: &Caller,
        ctx: &Context,
        scope: &PolicyScope,
        standard_id: &str,
        dry_run: bool,
    ) -> ServiceResult<ComplianceApply> {
        let standard =
            portcullis_model::compliance::standard(standard_id).map_err(catalog_error)?;
        let owner = self.writable_owner(caller, scope).await?;
        for _ in 0..5 {
            // Read from the store, not the cache: a preset copies inherited values, and a copy
            // of a value another replica changed a moment ago would undo that change.
            let policy = self.fresh_policy(owner.org_id()).await?;
            let Preset { changes, .. } = preset(standard, &policy).map_err(preset_error)?;
            let after = apply_changes(&policy, &changes).map_err(ServiceError::Invalid)?;
            let answer = |written| ComplianceApply {
                standard: standard.id.clone(),
                dry_run,
                changes: changes.clone(),
                written,
                report: evaluate(standard, &after),
            };
            if dry_run || changes.is_empty() {
                return Ok(answer(false));
            }
            let now = self.now();
            let batch: Vec<SectionChange> = changed_sections(&policy, &changes)
                .map_err(ServiceError::Invalid)?
                .iter()
                .map(|value| section_write(ctx, &owner, &policy, value, now))
                .collect();
            match self.store.write_sections(&owner, batch).await {
                Ok(_) => {
                    self.cache.invalidate();
                    return Ok(answer(true));
                }
                Err(StoreError::VersionMismatch) => self.cache.invalidate(),
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Conflict(
            "the policy kept changing meanwhile; retry".into(),
        ))
    }
}
