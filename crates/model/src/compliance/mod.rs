//! Compliance with published standards (NIST SP 800-63B-4, PCI DSS v4.0.1, OWASP ASVS 5.0): the
//! standards as data, a generic evaluator of an effective policy against one, and presets, the
//! smallest section changes that make a policy meet one. docs/compliance.md lists the rules.
//!
//! Owns: the rule model ([`Standard`], [`Rule`], [`Requirement`], [`Condition`], [`Conflict`]),
//! the built-in catalog (`crates/model/standards/*.json`, embedded, read once by [`standards`]),
//! [`evaluate`] and its [`Report`], [`preset`] and [`apply_changes`].
//!
//! Invariants: pure (no IO, no clock); a standard is data only (a new rule needs no code unless
//! it reads a new derived path, see `field.rs`); a report has one outcome per rule; the changes
//! of a preset, applied, leave valid sections on which the standard reports no failure.

mod diff;
mod evaluate;
mod field;
mod preset;
mod standard;

pub use evaluate::{Report, RuleOutcome, Status, Summary, evaluate, evaluate_instance};
pub use preset::{
    MAX_ROUNDS, Preset, PresetChange, PresetError, apply_changes, changed_sections, preset,
};
pub use standard::{
    Condition, Conflict, Requirement, Rule, STANDARD_IDS, Standard, StandardError, standard,
    standards,
};
