//! Field paths of the compliance rules: which value of an effective policy a path names, in which
//! context it is read, how it is shown in a report, and how a preset writes it.
//!
//! Paths: `<section>.<field>` with the canonical names (`lockout.max_password_attempts`); in the
//! `password` section, `password.<field>` names that field of *each* password policy (read in the
//! context of one policy, shown as `password[<id>].<field>`). Two derived paths exist:
//! - `mfa_required`: whether MFA is required of every user: `mfa.required`, or `require_mfa` on
//!   every password policy; in the context of one password policy, `mfa.required` or that
//!   policy's `require_mfa` (MFA only off trusted networks does not count). A preset that needs
//!   it sets `mfa.required`.
//! - `password.letters_required`: the letters a policy asks for, `max(min_letters, min_lowercase +
//!   min_uppercase)` (as validation counts them). A preset that needs more sets `min_letters`.
//!
//! Invariants: reading never fails on a valid policy for a path [`Field::parse`] accepted (a
//! `None` means the name is unknown); [`Edits::apply`] changes only the fields it holds, plus the
//! fields a password policy's validity then needs (see [`repair`]), and returns valid sections.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::codes;
use crate::{
    EffectivePolicy, PasswordPolicies, PasswordPolicy, Resolved, SectionKind, SectionValue, Valid,
    Violation, Violations,
};

/// The derived path of "MFA required".
pub(crate) const MFA_REQUIRED: &str = "mfa_required";
/// The derived path of the letters a password policy asks for.
pub(crate) const LETTERS_REQUIRED: &str = "password.letters_required";

/// A parsed field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    /// A field of a section other than `password`.
    Section { kind: SectionKind, name: String },
    /// A field of each password policy.
    Password { name: String },
    /// `mfa_required`.
    MfaRequired,
    /// `password.letters_required`.
    LettersRequired,
}

impl Field {
    /// Parses a path; `None` for a malformed one (whether the field exists is [`read`]'s answer).
    pub(crate) fn parse(path: &str) -> Option<Field> {
        match path {
            MFA_REQUIRED => return Some(Field::MfaRequired),
            LETTERS_REQUIRED => return Some(Field::LettersRequired),
            _ => {}
        }
        let (section, name) = path.split_once('.')?;
        if name.is_empty() || name.contains('.') {
            return None;
        }
        let name = name.to_owned();
        Some(match section.parse::<SectionKind>().ok()? {
            SectionKind::Password => Field::Password { name },
            kind => Field::Section { kind, name },
        })
    }

    /// Whether the path is read once per password policy.
    pub(crate) fn per_policy(&self) -> bool {
        matches!(self, Field::Password { .. } | Field::LettersRequired)
    }
}

/// Where a field is read: the policy as a whole, or one password policy (its index in the list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ctx {
    Global,
    Policy(usize),
}

/// The indexes of the password policies, the default first, then the others in list order.
pub(crate) fn policy_order(policy: &EffectivePolicy) -> Vec<usize> {
    let list = &policy.password.value.policies;
    let defaults = list.iter().enumerate().filter(|(_, p)| p.is_default);
    let others = list.iter().enumerate().filter(|(_, p)| !p.is_default);
    defaults.chain(others).map(|(i, _)| i).collect()
}

fn password_policy(policy: &EffectivePolicy, ctx: Ctx) -> Option<&PasswordPolicy> {
    match ctx {
        Ctx::Policy(i) => policy.password.value.policies.get(i),
        Ctx::Global => None,
    }
}

/// The value at `field` in `ctx`; `None` when the name is unknown (or a per-policy field is read
/// outside a policy).
pub(crate) fn read(policy: &EffectivePolicy, field: &Field, ctx: Ctx) -> Option<Value> {
    match field {
        Field::Section { kind, name } => policy.section(*kind).to_json().get(name).cloned(),
        Field::Password { name } => serde_json::to_value(password_policy(policy, ctx)?)
            .ok()?
            .get(name)
            .cloned(),
        Field::MfaRequired => {
            let list = &policy.password.value.policies;
            let own = match password_policy(policy, ctx) {
                Some(p) => p.require_mfa,
                None => !list.is_empty() && list.iter().all(|p| p.require_mfa),
            };
            Some(Value::Bool(policy.mfa.value.required || own))
        }
        Field::LettersRequired => {
            let p = password_policy(policy, ctx)?;
            let cased = p.min_lowercase.saturating_add(p.min_uppercase);
            Some(Value::from(p.min_letters.max(cased)))
        }
    }
}

/// The path of `field` as a report shows it: `password[<id>].min_length` in a policy's context.
pub(crate) fn shown_path(policy: &EffectivePolicy, path: &str, field: &Field, ctx: Ctx) -> String {
    match (field, password_policy(policy, ctx)) {
        (Field::Password { name }, Some(p)) => format!("password[{}].{name}", p.id),
        (Field::LettersRequired, Some(p)) => format!("password[{}].letters_required", p.id),
        _ => path.to_owned(),
    }
}

/// Field values a preset writes, per section and per password policy (by index).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Edits {
    sections: BTreeMap<SectionKind, Map<String, Value>>,
    password: BTreeMap<usize, Map<String, Value>>,
}

impl Edits {
    /// Whether nothing is to be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.sections.is_empty() && self.password.is_empty()
    }

    /// Records that `field`, in `ctx`, becomes `value` (derived paths: see the module header).
    pub(crate) fn set(&mut self, policy: &EffectivePolicy, field: &Field, ctx: Ctx, value: Value) {
        match field {
            Field::Section { kind, name } => self.section(*kind, name, value),
            Field::Password { name } => self.password_field(policy, ctx, name, value),
            Field::MfaRequired => {
                let on = value.as_bool().unwrap_or(false);
                self.section(SectionKind::Mfa, "required", Value::Bool(on));
                if !on {
                    self.password_field(policy, ctx, "require_mfa", Value::Bool(false));
                }
            }
            Field::LettersRequired => self.password_field(policy, ctx, "min_letters", value),
        }
    }

    fn section(&mut self, kind: SectionKind, name: &str, value: Value) {
        self.sections
            .entry(kind)
            .or_default()
            .insert(name.to_owned(), value);
    }

    /// One policy's field in a policy's context; every policy's outside one.
    fn password_field(&mut self, policy: &EffectivePolicy, ctx: Ctx, name: &str, value: Value) {
        let indexes = match ctx {
            Ctx::Policy(i) => vec![i],
            Ctx::Global => (0..policy.password.value.policies.len()).collect(),
        };
        for i in indexes {
            self.password
                .entry(i)
                .or_default()
                .insert(name.to_owned(), value.clone());
        }
    }

    /// `base` with the edits written and validated (violation paths start with the section name).
    pub(crate) fn apply(&self, base: &EffectivePolicy) -> Result<EffectivePolicy, Violations> {
        let mut out = base.clone();
        for (kind, fields) in &self.sections {
            let mut json = base.section(*kind).to_json();
            if let Value::Object(current) = &mut json {
                current.extend(fields.clone());
            }
            let value =
                SectionValue::parse(*kind, json).map_err(|found| found.under(kind.as_str()))?;
            install(&mut out, value);
        }
        if !self.password.is_empty() {
            let mut list = base.password.value.policies.clone();
            for (i, fields) in &self.password {
                let Some(slot) = list.get_mut(*i) else {
                    continue;
                };
                let mut json = serde_json::to_value(&*slot).unwrap_or(Value::Null);
                if let Value::Object(current) = &mut json {
                    current.extend(fields.clone());
                }
                let mut edited: PasswordPolicy = serde_json::from_value(json).map_err(|err| {
                    Violations::one(Violation::new(
                        format!("password[{i}]"),
                        codes::INVALID_JSON,
                        err.to_string(),
                    ))
                })?;
                repair(&mut edited);
                *slot = edited;
            }
            let list = Valid::new(PasswordPolicies { policies: list })
                .map_err(|found| found.under("password"))?;
            install(&mut out, SectionValue::Password(list));
        }
        Ok(out)
    }
}

/// Restores the cross-field rules of a password policy after a change, with the smallest moves
/// upward: `max_length` rises to `min_length` and to the sum of the class minimums, and
/// `expire_warn_days` falls below `max_age_days`. (A bcrypt policy whose length would pass 72
/// stays invalid: validation then refuses it, and the preset says so.)
pub(crate) fn repair(policy: &mut PasswordPolicy) {
    policy.max_length = policy
        .max_length
        .max(policy.min_length)
        .max(policy.class_minimum_total());
    if policy.expiration_enabled
        && policy.expire_warn_days > 0
        && policy.expire_warn_days >= policy.max_age_days
    {
        policy.expire_warn_days = policy.max_age_days.saturating_sub(1);
    }
}

/// Puts a section value into an effective policy. A what-if: the section becomes the
/// organization's own (`is_default: false`, as a write would make it) and keeps its details until
/// the store writes real ones.
pub(crate) fn install(policy: &mut EffectivePolicy, value: SectionValue) {
    fn put<T>(slot: &mut Resolved<T>, value: Valid<T>) {
        slot.value = value;
        slot.is_default = false;
    }
    match value {
        SectionValue::Password(v) => put(&mut policy.password, v),
        SectionValue::Lockout(v) => put(&mut policy.lockout, v),
        SectionValue::BruteForce(v) => put(&mut policy.brute_force, v),
        SectionValue::Session(v) => put(&mut policy.session, v),
        SectionValue::Tokens(v) => put(&mut policy.tokens, v),
        SectionValue::ApiKeys(v) => put(&mut policy.api_keys, v),
        SectionValue::Mfa(v) => put(&mut policy.mfa, v),
        SectionValue::Features(v) => put(&mut policy.features, v),
    }
}
