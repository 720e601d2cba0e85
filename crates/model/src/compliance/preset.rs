//! Presets: the smallest section changes that make a policy meet a standard, and how to apply
//! changes to an effective policy without IO.
//!
//! Algorithm (rounds, at most [`MAX_ROUNDS`]): evaluate; stop when no rule fails. Otherwise fix
//! the failing rules whose field some rule's condition reads (so a preset first turns on what
//! makes other rules not applicable, such as MFA, and never raises a value those rules would
//! then no longer ask for); when there is none, fix every failing rule. A fix writes the passing
//! value nearest to the current one (the bound itself, the required value, a `present` rule's
//! preset) into every context the rule fails in, and only there; the cross-field rules of a
//! password policy are then restored with the smallest upward moves (`max_length` up to
//! `min_length` and the class minimums, `expire_warn_days` below `max_age_days`). The changes are
//! the typed differences between the original and the final policy.
//!
//! Invariants: pure; the changes name only fields whose value changes; applying them
//! ([`apply_changes`]) to the policy the preset was computed from gives valid sections on which
//! the standard reports no failure; a policy that already passes gets no change; every
//! `password` change names the password policy it patches (its id), the default one included,
//! which is what a `password` section patch of the service applies to.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::diff;
use super::evaluate::{Assessment, Status, assess};
use super::field::{Edits, Field, install, policy_order};
use super::standard::Standard;
use crate::codes;
use crate::{
    EffectivePolicy, PasswordPolicies, PasswordPolicyPatch, SectionKind, SectionPatch,
    SectionValue, Valid, Violation, Violations,
};

/// Most rounds a preset takes before it gives up (two suffice for the built-in standards).
pub const MAX_ROUNDS: usize = 8;

/// One section change: a typed merge patch, and for `password` the policy it patches.
///
/// Serialized as `{"section": "lockout", "patch": {...}}`, with `"password_policy": "<id>"` for a
/// `password` change.
#[derive(Clone, Debug, PartialEq)]
pub struct PresetChange {
    /// For a `password` change, the id of the password policy patched; `None` elsewhere (and, for
    /// a change built by hand, the default password policy).
    pub password_policy: Option<String>,
    /// The typed patch; its fields are exactly the ones that change.
    pub patch: SectionPatch,
}

/// One change of a preset: the section, for `password` the policy patched, and the JSON merge
/// patch (the serialized form of a [`PresetChange`]).
#[derive(Serialize, utoipa::ToSchema)]
struct PresetChangeWire {
    /// The section changed.
    section: SectionKind,
    /// For `password`, the id of the password policy patched.
    #[serde(skip_serializing_if = "Option::is_none")]
    password_policy: Option<String>,
    /// The JSON merge patch of the section (for `password`, of that password policy).
    #[schema(value_type = Object)]
    patch: Value,
}

impl Serialize for PresetChange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (section, patch) = self.patch.to_json();
        PresetChangeWire {
            section,
            password_policy: self.password_policy.clone(),
            patch,
        }
        .serialize(serializer)
    }
}

impl utoipa::PartialSchema for PresetChange {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        PresetChangeWire::schema()
    }
}

impl utoipa::ToSchema for PresetChange {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PresetChange")
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <PresetChangeWire as utoipa::ToSchema>::schemas(schemas);
    }
}

/// The changes that make a policy meet a standard.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Preset {
    /// The standard's id.
    pub standard: String,
    /// The changes, in section order (`password` first; its default policy first).
    pub changes: Vec<PresetChange>,
}

impl Preset {
    /// Whether the policy already meets the standard.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Why no preset could be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PresetError {
    /// The changes would leave a section invalid (e.g. a bcrypt policy asked to allow more than
    /// 72 characters); the violations say where.
    #[error("the changes would leave an invalid policy: {0}")]
    Invalid(Violations),
    /// No change found makes these rules pass (their requirements contradict one another).
    #[error("no change makes these rules pass: {}", .0.join(", "))]
    Unresolved(Vec<String>),
}

/// The smallest changes that make `policy` meet `standard` (see the module header).
pub fn preset(standard: &Standard, policy: &EffectivePolicy) -> Result<Preset, PresetError> {
    let conditions: Vec<Field> = standard
        .rules
        .iter()
        .filter_map(|rule| rule.when.as_ref())
        .filter_map(|when| Field::parse(&when.field))
        .collect();
    let mut current = policy.clone();
    let mut unresolved = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let failing: Vec<(&super::standard::Rule, Assessment)> = standard
            .rules
            .iter()
            .map(|rule| (rule, assess(rule, &current)))
            .filter(|(_, a)| a.outcome.status == Status::Fail)
            .collect();
        if failing.is_empty() {
            return Ok(Preset {
                standard: standard.id.clone(),
                changes: changes_between(policy, &current),
            });
        }
        unresolved = failing.iter().map(|(rule, _)| rule.id.clone()).collect();
        let reads_condition = |a: &Assessment| {
            a.field
                .as_ref()
                .is_some_and(|field| conditions.contains(field))
        };
        let first = failing.iter().any(|(_, a)| reads_condition(a));
        let mut edits = Edits::default();
        for (rule, a) in &failing {
            if first && !reads_condition(a) {
                continue;
            }
            if let Some(field) = &a.field {
                for &ctx in &a.failing {
                    edits.set(&current, field, ctx, rule.require.nearest());
                }
            }
        }
        let next = edits.apply(&current).map_err(PresetError::Invalid)?;
        if edits.is_empty() || same_values(&next, &current) {
            break;
        }
        current = next;
    }
    Err(PresetError::Unresolved(unresolved))
}

fn same_values(a: &EffectivePolicy, b: &EffectivePolicy) -> bool {
    SectionKind::ALL
        .into_iter()
        .all(|kind| a.section(kind) == b.section(kind))
}

/// The typed differences from `old` to `new` (same password policies, in the same places).
fn changes_between(old: &EffectivePolicy, new: &EffectivePolicy) -> Vec<PresetChange> {
    let mut changes = Vec::new();
    let (before, after) = (&old.password.value.policies, &new.password.value.policies);
    for i in policy_order(old) {
        if let (Some(a), Some(b)) = (before.get(i), after.get(i)) {
            let patch = diff::password_policy(a, b);
            if !patch.is_empty() {
                changes.push(PresetChange {
                    password_policy: Some(a.id.clone()),
                    patch: SectionPatch::Password(patch),
                });
            }
        }
    }
    let sections = [
        SectionPatch::from(diff::lockout(&old.lockout.value, &new.lockout.value)),
        diff::brute_force(&old.brute_force.value, &new.brute_force.value).into(),
        diff::session(&old.session.value, &new.session.value).into(),
        diff::tokens(&old.tokens.value, &new.tokens.value).into(),
        diff::api_keys(&old.api_keys.value, &new.api_keys.value).into(),
        diff::mfa(&old.mfa.value, &new.mfa.value).into(),
        diff::features(&old.features.value, &new.features.value).into(),
    ];
    changes.extend(
        sections
            .into_iter()
            .filter(|patch| !patch.is_empty())
            .map(|patch| PresetChange {
                password_policy: None,
                patch,
            }),
    );
    changes
}

/// The new value of every section `changes` touch, applied in order to `policy`'s values and
/// validated (violation paths start with the section, `password[<id>]` for a password policy):
/// what a service writes to carry out a preset.
pub fn changed_sections(
    policy: &EffectivePolicy,
    changes: &[PresetChange],
) -> Result<Vec<SectionValue>, Violations> {
    let mut values: BTreeMap<SectionKind, SectionValue> = BTreeMap::new();
    for change in changes {
        let kind = change.patch.kind();
        let current = values.remove(&kind).unwrap_or_else(|| policy.section(kind));
        let next = match (&change.patch, current) {
            (SectionPatch::Password(patch), SectionValue::Password(list)) => {
                patch_password(&list, change.password_policy.as_deref(), patch)?
            }
            (patch, current) => current
                .patch(&patch.to_json().1)
                .map_err(|found| found.under(kind.as_str()))?,
        };
        values.insert(kind, next);
    }
    Ok(values.into_values().collect())
}

/// `policy` with `changes` applied ([`changed_sections`]); each changed section becomes the
/// organization's own (`is_default: false`) and keeps its details.
pub fn apply_changes(
    policy: &EffectivePolicy,
    changes: &[PresetChange],
) -> Result<EffectivePolicy, Violations> {
    let mut out = policy.clone();
    for value in changed_sections(policy, changes)? {
        install(&mut out, value);
    }
    Ok(out)
}

fn patch_password(
    list: &Valid<PasswordPolicies>,
    id: Option<&str>,
    patch: &PasswordPolicyPatch,
) -> Result<SectionValue, Violations> {
    let mut policies = list.policies.clone();
    let at = match id {
        Some(id) => policies.iter().position(|p| p.id == id),
        None => policies.iter().position(|p| p.is_default),
    };
    let Some(slot) = at.and_then(|i| policies.get_mut(i)) else {
        return Err(Violations::one(Violation::new(
            "password",
            codes::INVALID_JSON,
            format!("no password policy `{}`", id.unwrap_or("(default)")),
        )));
    };
    let prefix = format!("password[{}]", slot.id);
    *slot = patch
        .apply(slot)
        .map_err(|found| found.under(&prefix))?
        .into_inner();
    Valid::new(PasswordPolicies { policies })
        .map(SectionValue::Password)
        .map_err(|found| found.under("password"))
}
