//! Validation: the [`Validate`] trait, the [`Valid`] proof wrapper and the [`Checker`] that
//! collects every violation of a value.
//!
//! Invariant: a `Valid<T>` only exists for a `T` whose `validate` returned no violation, so code
//! that holds one (the store, the engine) never re-checks it. Deserializing a `Valid<T>` validates.

use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize};

use crate::codes;
use crate::violation::{Violation, Violations, join_path};

/// A value with rules. `check` records every broken rule; it never stops at the first one.
pub trait Validate {
    /// Records this value's violations into `checker`, with paths relative to this value.
    fn check(&self, checker: &mut Checker);

    /// All violations of this value, or `Ok` when there is none.
    fn validate(&self) -> Result<(), Violations> {
        let mut checker = Checker::default();
        self.check(&mut checker);
        checker.finish()
    }
}

/// Proof that the wrapped value passed validation ("parse, don't validate").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Valid<T>(T);

impl<T: Validate> Valid<T> {
    /// Validates `value`, returning every violation when it is not valid.
    pub fn new(value: T) -> Result<Valid<T>, Violations> {
        value.validate()?;
        Ok(Valid(value))
    }
}

impl<T> Valid<T> {
    /// The validated value, to modify and validate again.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: Validate + Default> Default for Valid<T> {
    /// The built-in default. Every section's default is valid (a test per section proves it).
    fn default() -> Valid<T> {
        Valid(T::default())
    }
}

impl<T> Deref for Valid<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> AsRef<T> for Valid<T> {
    fn as_ref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de> + Validate> Deserialize<'de> for Valid<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Valid<T>, D::Error> {
        let value = T::deserialize(deserializer)?;
        Valid::new(value).map_err(serde::de::Error::custom)
    }
}

/// Collects violations while a value is checked.
#[derive(Debug, Default)]
pub struct Checker {
    prefix: String,
    found: Vec<Violation>,
}

impl Checker {
    /// Records a violation (its field is taken relative to the current prefix).
    pub fn push(&mut self, violation: Violation) {
        self.found.push(violation.under(&self.prefix));
    }

    /// Checks a nested value under `field` (`[2]`, `allowlist`...).
    pub fn nested(&mut self, field: &str, value: &dyn Validate) {
        let saved = std::mem::take(&mut self.prefix);
        self.prefix = join_path(&saved, field);
        value.check(self);
        self.prefix = saved;
    }

    /// `min <= value <= max`, else `value.out_of_range` with `min` and `max`.
    pub fn range(&mut self, field: &str, value: u64, min: u64, max: u64) {
        if value < min || value > max {
            self.push(
                Violation::new(
                    field,
                    codes::OUT_OF_RANGE,
                    format!("must be between {min} and {max}"),
                )
                .with("min", min)
                .with("max", max)
                .with("value", value),
            );
        }
    }

    /// Like [`Checker::range`] for an optional number; `None` is always allowed.
    pub fn range_opt(&mut self, field: &str, value: Option<u64>, min: u64, max: u64) {
        if let Some(value) = value {
            self.range(field, value, min, max);
        }
    }

    /// At most `max` Unicode code points.
    pub fn max_chars(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.push(
                Violation::new(
                    field,
                    codes::TOO_LONG,
                    format!("must be at most {max} characters"),
                )
                .with("max", max),
            );
        }
    }

    /// Not empty (after trimming white space).
    pub fn required(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(Violation::new(field, codes::REQUIRED, "must not be empty"));
        }
    }

    /// At most `max` entries.
    pub fn max_items(&mut self, field: &str, len: usize, max: usize) {
        if len > max {
            self.push(
                Violation::new(
                    field,
                    codes::TOO_MANY,
                    format!("must have at most {max} entries"),
                )
                .with("max", max),
            );
        }
    }

    /// Each entry is an IP address or CIDR network; at most `max` entries.
    pub fn ip_list(&mut self, field: &str, entries: &[String], max: usize) {
        self.max_items(field, entries.len(), max);
        for (i, entry) in entries.iter().enumerate() {
            if crate::net::parse_network(entry).is_none() {
                self.push(
                    Violation::new(
                        format!("{field}[{i}]"),
                        codes::INVALID_IP,
                        "must be an IPv4 or IPv6 address or CIDR network",
                    )
                    .with("value", entry.as_str()),
                );
            }
        }
    }

    /// Ends the check: `Ok` when nothing was found.
    pub fn finish(self) -> Result<(), Violations> {
        match Violations::from_vec(self.found) {
            Some(found) => Err(found),
            None => Ok(()),
        }
    }
}
