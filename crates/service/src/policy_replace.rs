//! A whole scope's policy replaced at once (policy as code, docs/policy-as-code.md): every
//! section of an organization (or of the instance defaults) set to a document's values in one
//! conditional store write, and the scope's version that makes the write conditional.
//!
//! Invariants:
//! - every listed section is validated before anything is written; one violation anywhere
//!   answers every violation (paths `sections.<section>.<field>`) and writes nothing;
//! - the write is one `PolicyStore::write_sections_guarded` batch: listed sections whose value
//!   differs are written (`policy.<section>.changed`), an organization's unlisted own sections
//!   are reset (inherited again) and the instance's unlisted sections return to the built-in
//!   default (both `policy.<section>.reset`) — all or nothing, conditional on the whole scope
//!   being as read (every section, touched or not), so a version checked here is the version
//!   the write commits over;
//! - nothing that would not change is written: an unchanged document writes nothing and records
//!   no event;
//! - the version of a scope is a digest of its stored rows' (section, sequence) pairs, read from
//!   the store (never the cache): any write or reset of the scope changes it, and a write that
//!   names a version (`If-Match`) is refused (`PreconditionFailed`) when the scope moved since;
//!   the version a write answers is the one of the rows it committed, never a later read.

use std::collections::BTreeMap;

use portcullis_model::codes::INVALID_JSON;
use portcullis_model::{
    EffectivePolicy, InstancePolicy, SectionKind, SectionValue, Violation, Violations, resolve,
};
use portcullis_store::{Owner, SectionChange, SectionRow, StoreError};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::caller::{Action, Caller};
use crate::error::{ServiceError, ServiceResult};
use crate::events::{DomainEvent, PolicyChanged, PolicyReset};
use crate::policy_patch::PolicyScope;
use crate::service::{Context, INSTANCE_ID, Service, readable_section};

/// What a replacement did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplaceOutcome {
    /// The scope's version after it (the same as before when nothing changed).
    pub version: String,
    /// Sections written, in canonical order.
    pub changed: Vec<SectionKind>,
    /// Sections reset to inherited (organizations) or to the built-in default (instance).
    pub reset: Vec<SectionKind>,
}

/// The digest of a scope's (section, sequence) pairs: its version.
fn digest(pairs: impl Iterator<Item = (SectionKind, u64)>) -> String {
    let mut sorted: Vec<(&str, u64)> = pairs.map(|(k, s)| (k.as_str(), s)).collect();
    sorted.sort();
    let mut digest = Sha256::new();
    for (section, sequence) in sorted {
        digest.update(format!("{section}:{sequence}\n"));
    }
    let hash = digest.finalize();
    hash.iter().take(10).map(|b| format!("{b:02x}")).collect()
}

/// The version of a scope with these stored rows (the readable ones: an unreadable row is
/// ignored, as the policy ignores it).
fn version_of(rows: &[SectionRow], owner: &Owner) -> String {
    let owner_id = owner.org_id().map_or(INSTANCE_ID, |o| o.as_str());
    digest(rows.iter().filter_map(|row| {
        let kind = row.section.parse::<SectionKind>().ok()?;
        readable_section(row, owner_id).map(|_| (kind, row.sequence))
    }))
}

/// The version of an organization's policy as `policy` shows it: its own sections' sequences.
/// The same as the version of the rows `policy` was resolved from.
pub fn org_policy_version(policy: &EffectivePolicy) -> String {
    digest(SectionKind::ALL.into_iter().filter_map(|kind| {
        let (inherited, details) = policy.section_meta(kind);
        (!inherited).then_some((kind, details.sequence))
    }))
}

/// The version of the instance defaults as `policy` shows them: the written sections'
/// sequences (a built-in default has none).
pub fn instance_policy_version(policy: &InstancePolicy) -> String {
    let seen = resolve(policy, &Default::default());
    digest(SectionKind::ALL.into_iter().filter_map(|kind| {
        let (_, details) = seen.section_meta(kind);
        (details.sequence > 0).then_some((kind, details.sequence))
    }))
}

/// Reads a scope document's sections: every listed section parsed as a whole (missing fields
/// take their built-in defaults), every violation collected.
fn parse_sections(
    sections: &BTreeMap<String, Value>,
) -> Result<BTreeMap<SectionKind, Value>, Violations> {
    let mut found = Vec::new();
    let mut parsed = BTreeMap::new();
    for (name, value) in sections {
        let path = format!("sections.{name}");
        match name.parse::<SectionKind>() {
            Err(_) => found.push(Violation::new(
                path,
                INVALID_JSON,
                format!(
                    "unknown section; the sections are {}",
                    SectionKind::ALL.map(SectionKind::as_str).join(", ")
                ),
            )),
            Ok(kind) => match SectionValue::parse(kind, value.clone()) {
                Ok(value) => {
                    parsed.insert(kind, value.to_json());
                }
                Err(violations) => found.extend(violations.under(&path)),
            },
        }
    }
    match Violations::from_vec(found) {
        Some(violations) => Err(violations),
        None => Ok(parsed),
    }
}

impl Service {
    /// The version of `scope`'s policy, for callers who may read it.
    pub async fn policy_version_of(
        &self,
        caller: &Caller,
        scope: &PolicyScope,
    ) -> ServiceResult<String> {
        let owner = match scope {
            PolicyScope::Instance => {
                caller.allow_instance()?;
                Owner::Instance
            }
            PolicyScope::Org(org_id) => {
                let grant = caller.allow(org_id, Action::Read)?;
                self.require_known_org(&grant.org_id).await?;
                Owner::Org(grant.org_id)
            }
        };
        Ok(version_of(&self.store.load_sections(&owner).await?, &owner))
    }

    /// Replaces every section of `scope` with `sections` (see the module header), only while
    /// the scope is still at `if_match` when one is given.
    pub async fn replace_policy(
        &self,
        caller: &Caller,
        ctx: &Context,
        scope: &PolicyScope,
        sections: &BTreeMap<String, Value>,
        if_match: Option<&str>,
    ) -> ServiceResult<ReplaceOutcome> {
        let owner = self.writable_owner(caller, scope).await?;
        let wanted = parse_sections(sections).map_err(ServiceError::Invalid)?;
        let builtin = resolve(
            &portcullis_model::InstancePolicy::builtin(INSTANCE_ID),
            &Default::default(),
        );
        for _ in 0..5 {
            let rows = self.store.load_sections(&owner).await?;
            let version = version_of(&rows, &owner);
            if if_match.is_some_and(|expected| expected != version) {
                return Err(ServiceError::PreconditionFailed);
            }
            let now = self.now();
            let mut changes = Vec::new();
            let mut outcome = ReplaceOutcome {
                version: version.clone(),
                changed: Vec::new(),
                reset: Vec::new(),
            };
            let owner_id = owner.org_id().map_or(INSTANCE_ID, |o| o.as_str());
            for kind in SectionKind::ALL {
                let stored = rows.iter().find(|r| r.section == kind.as_str());
                let expected = stored.map_or(0, |r| r.sequence);
                // The stored value as the policy reads it (a row that no longer reads is
                // rewritten or reset, never kept as "unchanged").
                let current = stored
                    .and_then(|row| readable_section(row, owner_id))
                    .map(|(value, _)| value.to_json());
                let builtin_value = builtin.section(kind).to_json();
                let (value, reset) = match (wanted.get(&kind), &owner) {
                    (Some(value), Owner::Org(_)) => (Some(value.clone()), false),
                    (Some(value), Owner::Instance) => (Some(value.clone()), false),
                    (None, Owner::Org(_)) => (None, true),
                    (None, Owner::Instance) => (Some(builtin_value.clone()), true),
                };
                let unchanged = match (&value, stored) {
                    (Some(v), Some(_)) => current.as_ref() == Some(v),
                    // The instance without a row holds the built-in default.
                    (Some(v), None) => matches!(owner, Owner::Instance) && *v == builtin_value,
                    (None, stored) => stored.is_none(),
                };
                if unchanged {
                    continue;
                }
                let event = if reset {
                    DomainEvent::PolicyReset(PolicyReset { section: kind })
                } else {
                    DomainEvent::PolicyChanged(PolicyChanged {
                        section: kind,
                        value: value.clone().unwrap_or_default(),
                    })
                };
                changes.push(SectionChange {
                    section: kind.as_str().to_owned(),
                    value,
                    expected_sequence: Some(expected),
                    event: event.draft(ctx, owner.org_id(), now),
                });
                if reset {
                    outcome.reset.push(kind);
                } else {
                    outcome.changed.push(kind);
                }
            }
            if changes.is_empty() {
                return Ok(outcome);
            }
            // The whole scope as read is the write's condition, sections it does not touch
            // included: a change anywhere in the scope since the read fails it.
            let guard: Vec<(String, u64)> = rows
                .iter()
                .map(|r| (r.section.clone(), r.sequence))
                .collect();
            let touched: Vec<String> = changes.iter().map(|c| c.section.clone()).collect();
            match self
                .store
                .write_sections_guarded(&owner, changes, Some(&guard))
                .await
            {
                Ok(written) => {
                    self.cache.invalidate();
                    // The version of what this write committed: the untouched rows as read
                    // (the guard proved them current) and the rows written.
                    let after: Vec<SectionRow> = rows
                        .into_iter()
                        .filter(|r| !touched.contains(&r.section))
                        .chain(written)
                        .collect();
                    outcome.version = version_of(&after, &owner);
                    return Ok(outcome);
                }
                Err(StoreError::VersionMismatch) => {
                    self.cache.invalidate();
                    if if_match.is_some() {
                        return Err(ServiceError::PreconditionFailed);
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(ServiceError::Conflict(
            "the policy kept changing meanwhile; retry".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_version_moves_with_every_write_and_reset_and_ignores_order() {
        let v = |pairs: &[(SectionKind, u64)]| digest(pairs.iter().copied());
        let (lockout, mfa) = (SectionKind::Lockout, SectionKind::Mfa);
        let base = v(&[(lockout, 5), (mfa, 9)]);
        assert_eq!(base, v(&[(mfa, 9), (lockout, 5)]));
        assert_ne!(base, v(&[(lockout, 5), (mfa, 10)]));
        assert_ne!(base, v(&[(mfa, 9)]), "a reset");
        assert_ne!(base, v(&[(lockout, 5)]), "a reset of the newest");
        assert_eq!(base.len(), 20);
    }

    #[test]
    fn every_section_violation_is_collected_under_its_path() {
        let mut sections = BTreeMap::new();
        sections.insert(
            "lockout".into(),
            serde_json::json!({"max_password_attempts": 0}),
        );
        sections.insert("nope".into(), serde_json::json!({}));
        sections.insert("session".into(), serde_json::json!({"idle_timeout": "x"}));
        let violations = parse_sections(&sections).unwrap_err();
        let fields: Vec<&str> = violations
            .as_slice()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields.len(), 3, "{fields:?}");
        assert!(fields.iter().any(|f| f.starts_with("sections.lockout")));
        assert!(fields.contains(&"sections.nope"));
        assert!(fields.iter().any(|f| f.starts_with("sections.session")));
    }
}
