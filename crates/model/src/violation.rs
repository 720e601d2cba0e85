//! Violations: validation failures as data.
//!
//! Invariants: a `code` is stable (clients and tests match on it; never reword one), `field` is a
//! path relative to the value that was validated (`max_length`, `[1].min_length`,
//! `allowlist[3]`), and `params` carries the numbers a UI needs to explain the failure. A
//! [`Violations`] list is never empty.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One failed rule: where, which rule (stable code), a human message and the rule's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Path of the offending field, relative to the validated value; empty for the value itself.
    pub field: String,
    /// Stable machine-readable code, e.g. `value.out_of_range` or `password.too_short`.
    pub code: Cow<'static, str>,
    /// English explanation for humans; may change between versions.
    pub message: String,
    /// Parameters of the rule (`min`, `max`, ...), for clients that render their own message.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
}

impl Violation {
    /// A violation without parameters.
    pub fn new(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Violation {
        Violation {
            field: field.into(),
            code: Cow::Borrowed(code),
            message: message.into(),
            params: BTreeMap::new(),
        }
    }

    /// Adds one parameter.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Violation {
        self.params.insert(name.to_owned(), value.into());
        self
    }

    /// Re-roots the field path under `prefix` (`max_length` under `[2]` gives `[2].max_length`).
    #[must_use]
    pub fn under(mut self, prefix: &str) -> Violation {
        self.field = join_path(prefix, &self.field);
        self
    }
}

/// Joins two path fragments: `a` + `b` = `a.b`, `a` + `[1]` = `a[1]`, `` + `b` = `b`.
pub fn join_path(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (_, true) => prefix.to_owned(),
        _ if field.starts_with('[') => format!("{prefix}{field}"),
        _ => format!("{prefix}.{field}"),
    }
}

/// A non-empty list of violations, returned whole so a client can show every problem at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// Wraps a list; `None` when it is empty (there is nothing wrong).
    pub fn from_vec(list: Vec<Violation>) -> Option<Violations> {
        (!list.is_empty()).then_some(Violations(list))
    }

    /// A list of exactly one violation.
    pub fn one(violation: Violation) -> Violations {
        Violations(vec![violation])
    }

    /// The violations, in the order the rules were checked.
    pub fn as_slice(&self) -> &[Violation] {
        &self.0
    }

    /// The violations, owned.
    pub fn into_vec(self) -> Vec<Violation> {
        self.0
    }

    /// The codes, in order (handy for tests and logs).
    pub fn codes(&self) -> Vec<&str> {
        self.0.iter().map(|v| v.code.as_ref()).collect()
    }

    /// Whether some violation has this code on this field.
    pub fn contains(&self, field: &str, code: &str) -> bool {
        self.0.iter().any(|v| v.field == field && v.code == code)
    }

    /// Re-roots every field path under `prefix`.
    #[must_use]
    pub fn under(self, prefix: &str) -> Violations {
        Violations(self.0.into_iter().map(|v| v.under(prefix)).collect())
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for v in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            if v.field.is_empty() {
                write!(f, "{} ({})", v.message, v.code)?;
            } else {
                write!(f, "{}: {} ({})", v.field, v.message, v.code)?;
            }
        }
        Ok(())
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
