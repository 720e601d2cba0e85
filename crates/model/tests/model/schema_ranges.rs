//! The OpenAPI schema of every section states the ranges its validation enforces: a documented
//! `minimum`/`maximum` is accepted at the bound and refused one past it, and a number documented
//! without bounds is never refused as out of range.

use portcullis_model::codes::OUT_OF_RANGE;
use portcullis_model::*;
use serde_json::{Map, Value, json};
use utoipa::PartialSchema;

/// Far past every bound any section enforces.
const HUGE: u64 = 1_000_000_000_000;

/// The properties of an object schema.
fn properties<T: PartialSchema>() -> Map<String, Value> {
    let schema = serde_json::to_value(T::schema()).unwrap();
    schema["properties"].as_object().unwrap().clone()
}

fn is_integer(property: &Value) -> bool {
    match &property["type"] {
        Value::String(t) => t == "integer",
        Value::Array(types) => types.iter().any(|t| t == "integer"),
        _ => false,
    }
}

/// Whether `field` set to `value` in the default of `kind` is refused as out of range.
fn out_of_range(kind: SectionKind, field: &str, value: u64) -> bool {
    let (json, path) = if kind == SectionKind::Password {
        let mut policy = serde_json::to_value(PasswordPolicy::default()).unwrap();
        policy[field] = json!(value);
        (Value::Array(vec![policy]), format!("[0].{field}"))
    } else {
        let mut section = SectionValue::parse(kind, json!({})).unwrap().to_json();
        section[field] = json!(value);
        (section, field.to_owned())
    };
    match SectionValue::parse(kind, json) {
        Ok(_) => false,
        Err(found) => found.contains(&path, OUT_OF_RANGE),
    }
}

fn check_section(kind: SectionKind, properties: Map<String, Value>) -> usize {
    let mut bounded = 0;
    for (field, property) in properties.iter().filter(|(_, p)| is_integer(p)) {
        let min = property["minimum"].as_u64();
        let max = property["maximum"].as_u64();
        if let Some(max) = max {
            assert!(!out_of_range(kind, field, max), "{kind}.{field} = {max}");
            assert!(
                out_of_range(kind, field, max + 1),
                "{kind}.{field} = {max}+1"
            );
            bounded += 1;
        } else {
            assert!(
                !out_of_range(kind, field, HUGE),
                "{kind}.{field} has a maximum its schema does not state"
            );
        }
        match min {
            Some(0) | None => assert!(
                !out_of_range(kind, field, 0),
                "{kind}.{field} has a minimum its schema does not state"
            ),
            Some(min) => {
                assert!(!out_of_range(kind, field, min), "{kind}.{field} = {min}");
                assert!(
                    out_of_range(kind, field, min - 1),
                    "{kind}.{field} = {min}-1"
                );
            }
        }
    }
    bounded
}

#[test]
fn every_section_schema_states_the_ranges_its_validation_enforces() {
    let sections = [
        (SectionKind::Password, properties::<PasswordPolicy>(), 16),
        (SectionKind::Lockout, properties::<LockoutPolicy>(), 4),
        (SectionKind::BruteForce, properties::<BruteForcePolicy>(), 5),
        (SectionKind::Session, properties::<SessionPolicy>(), 3),
        (SectionKind::Tokens, properties::<TokensPolicy>(), 7),
        (SectionKind::ApiKeys, properties::<ApiKeysPolicy>(), 1),
        (SectionKind::Mfa, properties::<MfaPolicy>(), 0),
        (SectionKind::Features, properties::<FeaturesPolicy>(), 0),
    ];
    for (kind, properties, expected) in sections {
        assert_eq!(check_section(kind, properties), expected, "{kind}");
    }
}

#[test]
fn every_section_field_is_in_its_schema() {
    let fields =
        |value: Value| -> Vec<String> { value.as_object().unwrap().keys().cloned().collect() };
    let keys = |p: Map<String, Value>| -> Vec<String> { p.keys().cloned().collect() };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(keys(properties::<PasswordPolicy>())),
        sorted(fields(
            serde_json::to_value(PasswordPolicy::default()).unwrap()
        ))
    );
    for kind in SectionKind::ALL
        .into_iter()
        .filter(|k| *k != SectionKind::Password)
    {
        let schema = match kind {
            SectionKind::Lockout => properties::<LockoutPolicy>(),
            SectionKind::BruteForce => properties::<BruteForcePolicy>(),
            SectionKind::Session => properties::<SessionPolicy>(),
            SectionKind::Tokens => properties::<TokensPolicy>(),
            SectionKind::ApiKeys => properties::<ApiKeysPolicy>(),
            SectionKind::Mfa => properties::<MfaPolicy>(),
            SectionKind::Features => properties::<FeaturesPolicy>(),
            SectionKind::Password => unreachable!(),
        };
        let value = SectionValue::parse(kind, json!({})).unwrap().to_json();
        assert_eq!(sorted(keys(schema)), sorted(fields(value)), "{kind}");
    }
}

/// The nested `escalation` of `lockout` and `brute_force`: its schema's bounds are the ones its
/// validation enforces, under the section's `escalation.` path.
#[test]
fn the_escalation_schema_states_the_ranges_its_validation_enforces() {
    let refused = |kind: SectionKind, field: &str, value: u64| {
        let mut section = SectionValue::parse(kind, json!({})).unwrap().to_json();
        section["escalation"][field] = json!(value);
        match SectionValue::parse(kind, section) {
            Ok(_) => false,
            Err(found) => found.contains(&format!("escalation.{field}"), OUT_OF_RANGE),
        }
    };
    for kind in [SectionKind::Lockout, SectionKind::BruteForce] {
        let mut bounded = 0;
        for (field, property) in properties::<Escalation>()
            .iter()
            .filter(|(_, p)| is_integer(p))
        {
            let max = property["maximum"].as_u64().unwrap();
            let min = property["minimum"].as_u64().unwrap();
            assert!(
                !refused(kind, field, max),
                "{kind}.escalation.{field} = {max}"
            );
            assert!(
                refused(kind, field, max + 1),
                "{kind}.escalation.{field} = {max}+1"
            );
            assert!(
                !refused(kind, field, min),
                "{kind}.escalation.{field} = {min}"
            );
            assert!(
                refused(kind, field, min - 1),
                "{kind}.escalation.{field} = {min}-1"
            );
            bounded += 1;
        }
        assert_eq!(bounded, 4, "{kind}");
    }
}
