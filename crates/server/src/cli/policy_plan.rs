//! The plan of `policy plan` and `policy apply`: what a policy document changes against the live
//! policy of each scope (the instance, each organization), as printable lines and as the body of
//! the one `PUT …/policy` that makes the scope match. Pure: the live state is an argument.
//!
//! Invariants: a scope without a change has an empty plan and is never written; the PUT body
//! lists exactly the sections the scope must have as its own after the write (without `--prune`
//! the scope's own sections the file does not list are added to it unchanged, so nothing is
//! reset); lines come in section order (password … features), fields in the order of the
//! file's value; the password list is compared by policy id.

use portcullis_model::SectionKind;
use serde_json::{Map, Value};

use crate::cli::output::compact;
use crate::cli::policy_document::Sections;

/// One section of a live scope.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LiveSection {
    /// The scope's own value (an organization's custom section; an instance section written
    /// at least once).
    pub(crate) custom: bool,
    /// The value in force (inherited or own).
    pub(crate) value: Value,
}

/// A scope's live policy: its version (`ETag`) and every section.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LiveScope {
    pub(crate) version: Option<String>,
    pub(crate) sections: Vec<(SectionKind, LiveSection)>,
}

impl LiveScope {
    fn section(&self, kind: SectionKind) -> Option<&LiveSection> {
        self.sections
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s)
    }
}

/// The plan of one scope.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ScopePlan {
    /// `None` for the instance, else the organization's id.
    pub(crate) org: Option<String>,
    /// The name of an organization to create first.
    pub(crate) create: Option<String>,
    /// The version the plan was computed on (for `If-Match`).
    pub(crate) version: Option<String>,
    /// The printable changes.
    pub(crate) lines: Vec<String>,
    /// Sections that change (become own, or change value).
    pub(crate) changed: Vec<SectionKind>,
    /// Sections reset (to inherited, or the instance's to the built-in default).
    pub(crate) reset: Vec<SectionKind>,
    /// The body of the scope's `PUT …/policy`: `{"sections": {…}}`.
    pub(crate) body: Value,
}

impl ScopePlan {
    /// Whether applying the plan writes anything.
    pub(crate) fn has_changes(&self) -> bool {
        self.create.is_some() || !self.changed.is_empty() || !self.reset.is_empty()
    }

    /// The scope's name in lines: `instance` or the organization's id.
    pub(crate) fn label(&self) -> &str {
        self.org.as_deref().unwrap_or("instance")
    }
}

/// One changed field: its path below the section, and the old and new values (`None`: absent).
type FieldChange = (String, Option<Value>, Option<Value>);

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Every field that differs, recursing into objects (keys of `new` first, in order).
fn diff_fields(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (key, value) in b {
                diff_fields(&join(path, key), a.get(key), Some(value), out);
            }
            for (key, value) in a {
                if !b.contains_key(key) {
                    diff_fields(&join(path, key), Some(value), None, out);
                }
            }
        }
        (a, b) if a != b => out.push((path.to_owned(), a.cloned(), b.cloned())),
        _ => {}
    }
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), compact)
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|p| p.get("id").and_then(Value::as_str).unwrap_or("").to_owned())
        .collect()
}

/// The lines of a section's value change: per field, and for the password list per policy id.
fn value_lines(label: &str, kind: SectionKind, old: &Value, new: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    if let (SectionKind::Password, Value::Array(a), Value::Array(b)) = (kind, old, new) {
        let (old_ids, new_ids) = (ids(a), ids(b));
        for (policy, id) in b.iter().zip(&new_ids) {
            match old_ids.iter().position(|x| x == id) {
                None => lines.push(format!("+ {label} password[{id}]: added")),
                Some(i) => {
                    let mut fields = Vec::new();
                    diff_fields("", a.get(i), Some(policy), &mut fields);
                    for (path, was, now) in fields {
                        lines.push(format!(
                            "~ {label} password[{id}].{path}: {} → {}",
                            shown(was.as_ref()),
                            shown(now.as_ref())
                        ));
                    }
                }
            }
        }
        for id in &old_ids {
            if !new_ids.contains(id) {
                lines.push(format!("- {label} password[{id}]: removed"));
            }
        }
        let kept_old: Vec<&String> = old_ids.iter().filter(|x| new_ids.contains(x)).collect();
        let kept_new: Vec<&String> = new_ids.iter().filter(|x| old_ids.contains(x)).collect();
        if kept_old != kept_new {
            lines.push(format!(
                "~ {label} password: order {} → {}",
                old_ids.join(","),
                new_ids.join(",")
            ));
        }
        return lines;
    }
    let mut fields = Vec::new();
    diff_fields("", Some(old), Some(new), &mut fields);
    for (path, was, now) in fields {
        let at = if path.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{path}")
        };
        lines.push(format!(
            "~ {label} {at}: {} → {}",
            shown(was.as_ref()),
            shown(now.as_ref())
        ));
    }
    lines
}

fn body(sections: Map<String, Value>) -> Value {
    let mut body = Map::new();
    body.insert("sections".into(), Value::Object(sections));
    Value::Object(body)
}

/// The plan of the instance: `file` against `live`.
pub(crate) fn plan_instance(file: &Sections, live: &LiveScope, prune: bool) -> ScopePlan {
    let label = "instance";
    let mut plan = ScopePlan {
        org: None,
        create: None,
        version: live.version.clone(),
        lines: Vec::new(),
        changed: Vec::new(),
        reset: Vec::new(),
        body: Value::Null,
    };
    let mut sections = Map::new();
    for kind in SectionKind::ALL {
        let current = live.section(kind);
        let builtin = Sections::builtin(kind);
        match file.get(kind) {
            Some(wanted) => {
                let old = current.map_or(&builtin, |s| &s.value);
                let lines = value_lines(label, kind, old, &wanted);
                if !lines.is_empty() {
                    plan.changed.push(kind);
                    plan.lines.extend(lines);
                }
                sections.insert(kind.to_string(), wanted);
            }
            None => {
                let Some(current) = current else { continue };
                let differs = current.value != builtin;
                if prune {
                    if differs {
                        plan.reset.push(kind);
                        plan.lines
                            .push(format!("- {label} {kind}: reset to the built-in default"));
                        plan.lines.extend(
                            value_lines(label, kind, &current.value, &builtin)
                                .into_iter()
                                .map(|l| format!("  {l}")),
                        );
                    }
                } else if differs || current.custom {
                    sections.insert(kind.to_string(), current.value.clone());
                }
            }
        }
    }
    plan.body = body(sections);
    plan
}

/// The plan of an organization: its sections in the file against its live policy (`None`: it
/// does not exist yet and is created with `name`).
pub(crate) fn plan_org(
    id: &str,
    name: Option<&str>,
    file: &Sections,
    live: Option<&LiveScope>,
    prune: bool,
) -> ScopePlan {
    let mut plan = ScopePlan {
        org: Some(id.to_owned()),
        create: None,
        version: live.and_then(|l| l.version.clone()),
        lines: Vec::new(),
        changed: Vec::new(),
        reset: Vec::new(),
        body: Value::Null,
    };
    if live.is_none() {
        let name = name.unwrap_or(id).to_owned();
        plan.lines
            .push(format!("+ create organization {id} (name {name:?})"));
        plan.create = Some(name);
    }
    let mut sections = Map::new();
    for kind in SectionKind::ALL {
        let current = live.and_then(|l| l.section(kind));
        match (file.get(kind), current) {
            (Some(wanted), Some(current)) if current.custom => {
                let lines = value_lines(id, kind, &current.value, &wanted);
                if !lines.is_empty() {
                    plan.changed.push(kind);
                    plan.lines.extend(lines);
                }
                sections.insert(kind.to_string(), wanted);
            }
            (Some(wanted), current) => {
                plan.changed.push(kind);
                plan.lines
                    .push(format!("+ {id} {kind}: becomes the organization's own"));
                if let Some(current) = current {
                    plan.lines.extend(
                        value_lines(id, kind, &current.value, &wanted)
                            .into_iter()
                            .map(|l| format!("  {l}")),
                    );
                }
                sections.insert(kind.to_string(), wanted);
            }
            (None, Some(current)) if current.custom => {
                if prune {
                    plan.reset.push(kind);
                    plan.lines
                        .push(format!("- {id} {kind}: reset to inherited"));
                } else {
                    sections.insert(kind.to_string(), current.value.clone());
                }
            }
            (None, _) => {}
        }
    }
    plan.body = body(sections);
    plan
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn live(sections: &[(SectionKind, bool, Value)]) -> LiveScope {
        LiveScope {
            version: Some("v1".into()),
            sections: SectionKind::ALL
                .iter()
                .map(|kind| {
                    let found = sections.iter().find(|(k, _, _)| k == kind);
                    (
                        *kind,
                        LiveSection {
                            custom: found.is_some_and(|(_, c, _)| *c),
                            value: found
                                .map_or_else(|| Sections::builtin(*kind), |(_, _, v)| v.clone()),
                        },
                    )
                })
                .collect(),
        }
    }

    fn lockout(attempts: u64) -> Value {
        let mut value = Sections::builtin(SectionKind::Lockout);
        value["max_password_attempts"] = json!(attempts);
        value
    }

    fn sections(kinds: &[(SectionKind, Value)]) -> Sections {
        let mut s = Sections::default();
        for (kind, value) in kinds {
            s.set(*kind, value.clone()).unwrap();
        }
        s
    }

    #[test]
    fn a_custom_section_changes_field_by_field() {
        let file = sections(&[(SectionKind::Lockout, lockout(5))]);
        let plan = plan_org(
            "acme",
            None,
            &file,
            Some(&live(&[(SectionKind::Lockout, true, lockout(10))])),
            false,
        );
        assert_eq!(plan.lines, ["~ acme lockout.max_password_attempts: 10 → 5"]);
        assert_eq!(plan.changed, [SectionKind::Lockout]);
        assert_eq!(plan.version.as_deref(), Some("v1"));
        assert_eq!(plan.body, json!({"sections": {"lockout": lockout(5)}}));
    }

    #[test]
    fn the_same_values_plan_nothing() {
        let file = sections(&[(SectionKind::Lockout, lockout(5))]);
        let state = live(&[(SectionKind::Lockout, true, lockout(5))]);
        let plan = plan_org("acme", None, &file, Some(&state), true);
        assert!(!plan.has_changes(), "{:?}", plan.lines);
        assert!(plan.lines.is_empty());
    }

    #[test]
    fn unlisted_own_sections_are_kept_or_pruned() {
        let file = Sections::default();
        let state = live(&[(SectionKind::Mfa, true, Sections::builtin(SectionKind::Mfa))]);
        let kept = plan_org("acme", None, &file, Some(&state), false);
        assert!(!kept.has_changes());
        assert_eq!(
            kept.body,
            json!({"sections": {"mfa": Sections::builtin(SectionKind::Mfa)}})
        );
        let pruned = plan_org("acme", None, &file, Some(&state), true);
        assert_eq!(pruned.lines, ["- acme mfa: reset to inherited"]);
        assert_eq!(pruned.reset, [SectionKind::Mfa]);
        assert_eq!(pruned.body, json!({"sections": {}}));
    }

    #[test]
    fn an_inherited_section_becomes_own_even_with_the_same_value() {
        let file = sections(&[(SectionKind::Lockout, lockout(10))]);
        let plan = plan_org("acme", None, &file, Some(&live(&[])), false);
        assert_eq!(
            plan.lines,
            ["+ acme lockout: becomes the organization's own"]
        );
        assert!(plan.has_changes());
    }

    #[test]
    fn a_missing_organization_is_created() {
        let file = sections(&[(SectionKind::Lockout, lockout(3))]);
        let plan = plan_org("new", Some("New Co"), &file, None, false);
        assert_eq!(
            plan.lines,
            [
                "+ create organization new (name \"New Co\")",
                "+ new lockout: becomes the organization's own"
            ]
        );
        assert_eq!(plan.create.as_deref(), Some("New Co"));
    }

    #[test]
    fn password_policies_are_compared_by_id() {
        let mut default = Sections::builtin(SectionKind::Password)[0].clone();
        let mut strict = default.clone();
        strict["id"] = json!("strict");
        strict["name"] = json!("Strict");
        strict["is_default"] = json!(false);
        let old = json!([default.clone(), strict.clone()]);
        default["min_length"] = json!(12);
        let mut legacy = strict.clone();
        legacy["id"] = json!("legacy");
        let new = json!([default, legacy]);
        assert_eq!(
            value_lines("acme", SectionKind::Password, &old, &new),
            [
                "~ acme password[default].min_length: 15 → 12",
                "+ acme password[legacy]: added",
                "- acme password[strict]: removed",
            ]
        );
    }

    #[test]
    fn the_instance_resets_to_the_builtin_default_only_with_prune() {
        let state = live(&[(SectionKind::Lockout, true, lockout(4))]);
        let kept = plan_instance(&Sections::default(), &state, false);
        assert!(!kept.has_changes());
        assert_eq!(kept.body, json!({"sections": {"lockout": lockout(4)}}));
        let pruned = plan_instance(&Sections::default(), &state, true);
        assert_eq!(
            pruned.lines,
            [
                "- instance lockout: reset to the built-in default",
                "  ~ instance lockout.max_password_attempts: 4 → 10"
            ]
        );
        let file = sections(&[(SectionKind::Lockout, lockout(4))]);
        assert!(!plan_instance(&file, &state, true).has_changes());
    }
}
