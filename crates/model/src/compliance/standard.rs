//! Standards as data: the rule types, how a requirement reads a value, and the built-in catalog
//! embedded from `crates/model/standards/*.json`.
//!
//! Invariants: a [`Standard`] returned by [`Standard::from_json`] (and so every standard of the
//! catalog) has a non-empty id, title and rule list; its rule ids are unique; every rule cites a
//! clause and gives a reason; every field path (the rule's and its condition's) names a value of
//! the built-in default policy, and each requirement fits the kind of value it reads. A
//! requirement reads `null` as "no limit" (the model's optional numbers: lock until unlocked, no
//! idle timeout); only `null_or_ge` and `present` say what `null` does explicitly, every other
//! numeric operator fails on it.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::field::{Ctx, Field, read};
use crate::{EffectivePolicy, InstancePolicy, OrgOverrides, resolve};

/// What a rule requires of the value it reads. `null` is the model's "no limit" or "off".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Requirement {
    /// The value equals `value` (booleans, numbers, text).
    Eq {
        /// The required value.
        value: Value,
    },
    /// A number at most `value`; `null` (no limit) fails.
    Le {
        /// The upper bound, inclusive.
        value: u64,
    },
    /// A number at least `value`; `null` fails.
    Ge {
        /// The lower bound, inclusive.
        value: u64,
    },
    /// `null` (no limit, e.g. a lock until unlocked) or a number at least `value`.
    NullOrGe {
        /// The lower bound, inclusive.
        value: u64,
    },
    /// A number from 1 to `value`, for fields where 0 means "off" or "unlimited" (which fails).
    NonzeroLe {
        /// The upper bound, inclusive.
        value: u64,
    },
    /// Any value but `null` (which turns the setting off).
    Present {
        /// The value a preset sets when the field is `null`.
        preset: Value,
    },
}

impl Requirement {
    /// Whether `value` meets the requirement.
    pub fn check(&self, value: &Value) -> bool {
        let number = value.as_u64();
        match self {
            Requirement::Eq { value: want } => value == want,
            Requirement::Le { value: max } => number.is_some_and(|n| n <= *max),
            Requirement::Ge { value: min } => number.is_some_and(|n| n >= *min),
            Requirement::NullOrGe { value: min } => {
                value.is_null() || number.is_some_and(|n| n >= *min)
            }
            Requirement::NonzeroLe { value: max } => {
                number.is_some_and(|n| (1..=*max).contains(&n))
            }
            Requirement::Present { .. } => !value.is_null(),
        }
    }

    /// The requirement in words, e.g. `at most 10`.
    pub fn describe(&self) -> String {
        match self {
            Requirement::Eq { value } => format!("exactly {value}"),
            Requirement::Le { value } => format!("at most {value}"),
            Requirement::Ge { value } => format!("at least {value}"),
            Requirement::NullOrGe { value } => format!("null (no limit) or at least {value}"),
            Requirement::NonzeroLe { value } => format!("from 1 to {value} (0, off, fails)"),
            Requirement::Present { .. } => "set (null, off, fails)".to_owned(),
        }
    }

    /// The passing value nearest to any failing one: the bound itself, the required value, or
    /// the preset of `present`.
    pub(crate) fn nearest(&self) -> Value {
        match self {
            Requirement::Eq { value } | Requirement::Present { preset: value } => value.clone(),
            Requirement::Le { value }
            | Requirement::Ge { value }
            | Requirement::NullOrGe { value }
            | Requirement::NonzeroLe { value } => Value::from(*value),
        }
    }

    /// Whether the requirement can read a value shaped like `sample` (the built-in default).
    fn fits(&self, sample: &Value) -> bool {
        let numeric = sample.is_u64() || sample.is_null();
        match self {
            Requirement::Eq { value } => {
                sample.is_null() || value.is_null() || same_kind(value, sample)
            }
            Requirement::Le { .. }
            | Requirement::Ge { .. }
            | Requirement::NullOrGe { .. }
            | Requirement::NonzeroLe { .. } => numeric,
            Requirement::Present { preset } => {
                !preset.is_null() && (sample.is_null() || same_kind(preset, sample))
            }
        }
    }
}

fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// When a rule applies: the value at `field` meets `require`; otherwise the rule is
/// `not_applicable` and the outcome's reason is `otherwise`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Field path read, like a rule's (`mfa_required`, `password.require_mfa`, ...).
    pub field: String,
    /// What the value must meet for the rule to apply.
    pub require: Requirement,
    /// One line: why the rule does not apply when the condition does not hold.
    pub otherwise: String,
}

/// A clause of another standard that a rule contradicts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conflict {
    /// The other standard's id.
    pub standard: String,
    /// The clause of the other standard, as its rules cite it.
    pub clause: String,
    /// One line: what the other clause asks.
    pub note: String,
}

/// One rule of a standard: a field of the effective policy, what it must meet, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id (`pci-8.3.4-max-password-attempts`); the same id in two standards is the same rule.
    pub id: String,
    /// The clause of the standard the rule comes from (`8.3.4`, `§3.1.1.2`, `V6.2.5`).
    pub clause: String,
    /// Field path read (`lockout.max_password_attempts`, `password.min_length`, `mfa_required`;
    /// see docs/compliance.md).
    pub field: String,
    /// What the value must meet.
    pub require: Requirement,
    /// When the rule applies; always when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// One line: what the clause asks, in this project's words.
    pub reason: String,
    /// Clauses of other standards this rule contradicts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
}

/// A standard: an id, where it comes from, and its rules in report order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Standard {
    /// Stable id (`pci-dss-4.0.1`).
    pub id: String,
    /// Short human title.
    pub title: String,
    /// The document and the parts of it the rules come from.
    pub source: String,
    /// The rules, in report order.
    pub rules: Vec<Rule>,
}

/// Why a standard cannot be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StandardError {
    /// No standard has this id.
    #[error("unknown compliance standard `{0}`")]
    Unknown(String),
    /// The standard's data is not valid (a built-in one never is: a test loads them all).
    #[error("compliance standard `{id}` is not valid: {message}")]
    Invalid {
        /// The standard's id, as far as it could be read.
        id: String,
        /// What is wrong.
        message: String,
    },
}

impl Standard {
    /// Reads and checks a standard from JSON (see the module header for what is checked).
    pub fn from_json(text: &str) -> Result<Standard, StandardError> {
        let standard: Standard =
            serde_json::from_str(text).map_err(|err| StandardError::Invalid {
                id: String::new(),
                message: err.to_string(),
            })?;
        standard.check().map_err(|message| StandardError::Invalid {
            id: standard.id.clone(),
            message,
        })?;
        Ok(standard)
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    fn check(&self) -> Result<(), String> {
        if self.id.trim().is_empty() || self.title.trim().is_empty() {
            return Err("id and title must not be empty".into());
        }
        if self.rules.is_empty() {
            return Err("a standard needs at least one rule".into());
        }
        let sample = builtin_policy();
        let mut ids = std::collections::BTreeSet::new();
        for rule in &self.rules {
            let at = |message: String| format!("rule `{}`: {message}", rule.id);
            if rule.id.trim().is_empty() || !ids.insert(rule.id.as_str()) {
                return Err(at("ids must be present and unique".into()));
            }
            if rule.clause.trim().is_empty() || rule.reason.trim().is_empty() {
                return Err(at("clause and reason must not be empty".into()));
            }
            check_field(&sample, &rule.field, &rule.require).map_err(at)?;
            if let Some(when) = &rule.when {
                check_field(&sample, &when.field, &when.require).map_err(at)?;
                if when.otherwise.trim().is_empty() {
                    return Err(at("a condition needs its `otherwise` reason".into()));
                }
            }
            for conflict in &rule.conflicts {
                if conflict.standard == self.id
                    || conflict.clause.trim().is_empty()
                    || conflict.note.trim().is_empty()
                {
                    return Err(at(
                        "a conflict names another standard, a clause and a note".into()
                    ));
                }
            }
        }
        Ok(())
    }
}

fn check_field(sample: &EffectivePolicy, path: &str, require: &Requirement) -> Result<(), String> {
    let field = Field::parse(path).ok_or_else(|| format!("unknown field `{path}`"))?;
    let ctx = if field.per_policy() {
        Ctx::Policy(0)
    } else {
        Ctx::Global
    };
    let value = read(sample, &field, ctx).ok_or_else(|| format!("unknown field `{path}`"))?;
    if require.fits(&value) {
        Ok(())
    } else {
        Err(format!(
            "`{path}` holds {value}, which the requirement cannot read"
        ))
    }
}

/// The effective policy of an organization that inherits every built-in default.
pub(crate) fn builtin_policy() -> EffectivePolicy {
    instance_effective(&InstancePolicy::builtin("instance"))
}

/// The instance defaults, resolved as an organization with no section of its own.
pub(crate) fn instance_effective(instance: &InstancePolicy) -> EffectivePolicy {
    resolve(instance, &OrgOverrides::default())
}

/// The ids of the built-in standards, in the order [`standards`] lists them.
pub const STANDARD_IDS: [&str; 5] = [
    "nist-800-63b-4-aal1",
    "nist-800-63b-4-aal2",
    "pci-dss-4.0.1",
    "owasp-asvs-5.0-l1",
    "owasp-asvs-5.0-l2",
];

const SOURCES: [&str; 5] = [
    include_str!("../../standards/nist-800-63b-4-aal1.json"),
    include_str!("../../standards/nist-800-63b-4-aal2.json"),
    include_str!("../../standards/pci-dss-4.0.1.json"),
    include_str!("../../standards/owasp-asvs-5.0-l1.json"),
    include_str!("../../standards/owasp-asvs-5.0-l2.json"),
];

/// Every built-in standard, read once (ids in [`STANDARD_IDS`] order).
pub fn standards() -> Result<&'static [Standard], StandardError> {
    static CATALOG: OnceLock<Result<Vec<Standard>, StandardError>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            STANDARD_IDS
                .iter()
                .zip(SOURCES)
                .map(|(id, text)| {
                    let standard = Standard::from_json(text).map_err(|err| match err {
                        StandardError::Invalid { message, .. } => StandardError::Invalid {
                            id: (*id).to_owned(),
                            message,
                        },
                        other => other,
                    })?;
                    if standard.id == *id {
                        Ok(standard)
                    } else {
                        Err(StandardError::Invalid {
                            id: (*id).to_owned(),
                            message: format!("the file holds `{}`", standard.id),
                        })
                    }
                })
                .collect()
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// The built-in standard with this id.
pub fn standard(id: &str) -> Result<&'static Standard, StandardError> {
    standards()?
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| StandardError::Unknown(id.to_owned()))
}
