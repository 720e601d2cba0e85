//! The evaluator: one standard against one effective policy, rule by rule, as data.
//!
//! A rule on a `password.*` path is read in every password policy of the list (the default first,
//! then the others in list order); it applies where its condition holds for that policy, fails if
//! it fails for any policy it applies to, and is `not_applicable` only when it applies to none.
//! The outcome shows one policy: the first failing one, else the first it applies to. A rule on
//! any other path is read once. A condition on a `password.*` path, read for a rule that is not,
//! holds when it holds for every password policy.
//!
//! Invariants: pure (no IO, no clock); every rule of the standard yields exactly one outcome, in
//! the standard's order; the summary counts the outcomes.

use serde::Serialize;
use serde_json::Value;

use super::field::{Ctx, Field, policy_order, read, shown_path};
use super::standard::{Conflict, Requirement, Rule, Standard, instance_effective};
use crate::{EffectivePolicy, InstancePolicy};

/// The outcome of one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The policy meets the rule.
    Pass,
    /// The policy does not meet the rule.
    Fail,
    /// The rule's condition does not hold (the reason says why).
    NotApplicable,
}

/// One rule, evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleOutcome {
    /// The rule's id.
    pub rule: String,
    /// Pass, fail or not applicable.
    pub status: Status,
    /// The path read; in the `password` section it names the policy shown
    /// (`password[default].min_length`).
    pub field: String,
    /// The effective value at `field` (`null` for an optional value that is off or unlimited).
    pub current: Value,
    /// The requirement in words (`at most 10`).
    pub required: String,
    /// The requirement as data.
    pub requirement: Requirement,
    /// The clause of the standard.
    pub clause: String,
    /// One line: the rule's reason, or why it does not apply.
    pub reason: String,
    /// Clauses of other standards this rule contradicts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
}

/// How many rules passed, failed, and did not apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Rules met.
    pub pass: usize,
    /// Rules not met.
    pub fail: usize,
    /// Rules whose condition did not hold.
    pub not_applicable: usize,
}

/// A standard evaluated against a policy.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// The standard's id.
    pub standard: String,
    /// The standard's title.
    pub title: String,
    /// Counts of the outcomes.
    pub summary: Summary,
    /// One outcome per rule, in the standard's order.
    pub rules: Vec<RuleOutcome>,
}

impl Report {
    /// Whether no rule fails.
    pub fn passes(&self) -> bool {
        self.summary.fail == 0
    }

    /// The outcome of the rule with this id.
    pub fn outcome(&self, rule: &str) -> Option<&RuleOutcome> {
        self.rules.iter().find(|o| o.rule == rule)
    }

    /// The outcomes that fail.
    pub fn failures(&self) -> impl Iterator<Item = &RuleOutcome> {
        self.rules.iter().filter(|o| o.status == Status::Fail)
    }
}

/// Evaluates every rule of `standard` against `policy`.
pub fn evaluate(standard: &Standard, policy: &EffectivePolicy) -> Report {
    let rules: Vec<RuleOutcome> = standard
        .rules
        .iter()
        .map(|rule| assess(rule, policy).outcome)
        .collect();
    let mut summary = Summary::default();
    for outcome in &rules {
        match outcome.status {
            Status::Pass => summary.pass += 1,
            Status::Fail => summary.fail += 1,
            Status::NotApplicable => summary.not_applicable += 1,
        }
    }
    Report {
        standard: standard.id.clone(),
        title: standard.title.clone(),
        summary,
        rules,
    }
}

/// Evaluates `standard` against the instance defaults (an organization that inherits every
/// section).
pub fn evaluate_instance(standard: &Standard, instance: &InstancePolicy) -> Report {
    evaluate(standard, &instance_effective(instance))
}

/// One rule's outcome, with every context it fails in (what a preset must change).
pub(crate) struct Assessment {
    pub(crate) outcome: RuleOutcome,
    pub(crate) field: Option<Field>,
    pub(crate) failing: Vec<Ctx>,
}

/// Whether `require` holds for `field` in `ctx` (a per-policy field outside a policy: in every one).
pub(crate) fn holds(
    policy: &EffectivePolicy,
    field: &Field,
    require: &Requirement,
    ctx: Ctx,
) -> bool {
    let check = |ctx| require.check(&read(policy, field, ctx).unwrap_or(Value::Null));
    match ctx {
        Ctx::Global if field.per_policy() => policy_order(policy)
            .into_iter()
            .all(|i| check(Ctx::Policy(i))),
        ctx => check(ctx),
    }
}

pub(crate) fn assess(rule: &Rule, policy: &EffectivePolicy) -> Assessment {
    let outcome = |status, field: String, current, reason: &str| RuleOutcome {
        rule: rule.id.clone(),
        status,
        field,
        current,
        required: rule.require.describe(),
        requirement: rule.require.clone(),
        clause: rule.clause.clone(),
        reason: reason.to_owned(),
        conflicts: rule.conflicts.clone(),
    };
    let parsed = Field::parse(&rule.field);
    let condition = rule
        .when
        .as_ref()
        .map(|when| (when, Field::parse(&when.field)));
    let (Some(field), None | Some((_, Some(_)))) = (&parsed, &condition) else {
        // Standard::from_json refuses such a rule; one built by hand fails, saying why.
        return Assessment {
            outcome: outcome(
                Status::Fail,
                rule.field.clone(),
                Value::Null,
                "the rule names a field the policy does not have",
            ),
            field: None,
            failing: Vec::new(),
        };
    };
    let contexts: Vec<Ctx> = if field.per_policy() {
        policy_order(policy).into_iter().map(Ctx::Policy).collect()
    } else {
        vec![Ctx::Global]
    };
    let mut passing = None;
    let mut failing = Vec::new();
    for &ctx in &contexts {
        let applies = match &condition {
            Some((when, Some(on))) => holds(policy, on, &when.require, ctx),
            _ => true,
        };
        if !applies {
            continue;
        }
        if holds(policy, field, &rule.require, ctx) {
            passing.get_or_insert(ctx);
        } else {
            failing.push(ctx);
        }
    }
    let (status, shown, reason) = match (failing.first(), passing) {
        (Some(&ctx), _) => (Status::Fail, ctx, rule.reason.as_str()),
        (None, Some(ctx)) => (Status::Pass, ctx, rule.reason.as_str()),
        (None, None) => (
            Status::NotApplicable,
            contexts.first().copied().unwrap_or(Ctx::Global),
            rule.when
                .as_ref()
                .map_or(rule.reason.as_str(), |when| when.otherwise.as_str()),
        ),
    };
    let current = read(policy, field, shown).unwrap_or(Value::Null);
    Assessment {
        outcome: outcome(
            status,
            shown_path(policy, &rule.field, field, shown),
            current,
            reason,
        ),
        field: parsed.clone(),
        failing,
    }
}
