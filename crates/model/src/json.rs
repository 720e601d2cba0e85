//! JSON in, validated sections out: strict reading of request bodies, parsing with field paths,
//! and RFC 7396 merge patches.
//!
//! Invariants: a body is read strictly by [`from_slice`], the one reader of every API (native and
//! dialects): exactly one JSON value, nothing but whitespace after it, and no object with the same
//! key twice at any depth (typed or `Value` bodies alike), nesting bounded by serde_json's depth
//! limit (a clean error, never a crash); every failure comes back as [`Violations`] (shape errors as `value.invalid` with
//! the JSON path serde stopped at, rule errors as the section's own codes); nothing is half-applied.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::codes;
use crate::validate::{Valid, Validate};
use crate::violation::{Violation, Violations};

/// Reads a request body strictly (see the module header); the violation names the JSON path.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Violation> {
    let invalid = |field: String, message: String| {
        let field = if field == "." { String::new() } else { field };
        Violation::new(field, codes::INVALID_JSON, message)
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|err| invalid(err.path().to_string(), err.into_inner().to_string()))?;
    de.end()
        .map_err(|err| invalid(String::new(), format!("data after the JSON value: {err}")))?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Unique(String::new())
        .deserialize(&mut de)
        .map_err(|err| invalid(String::new(), err.to_string()))?;
    Ok(value)
}

/// Walks a JSON value and refuses an object that names a key twice; holds the path so far.
struct Unique(String);

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while seq
            .next_element_seed(Unique(format!("{}[{i}]", self.0)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.0.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.0)
            };
            if !seen.insert(key) {
                return Err(de::Error::custom(format_args!("duplicate key `{path}`")));
            }
            map.next_value_seed(Unique(path))?;
        }
        Ok(())
    }
}

/// Parses a whole section from JSON and validates it. Missing fields take built-in defaults.
pub fn parse_section<T: DeserializeOwned + Validate>(json: Value) -> Result<Valid<T>, Violations> {
    let value: T = serde_path_to_error::deserialize(json).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { String::new() } else { path };
        Violations::one(Violation::new(
            field,
            codes::INVALID_JSON,
            err.into_inner().to_string(),
        ))
    })?;
    Valid::new(value)
}

/// Applies a patch to `current` and validates the result. Fields in the patch replace the
/// current ones; a top-level `null` sets an optional field to none (`lock_duration: null` = lock
/// until unlocked) and is refused for a required one; nested objects merge as RFC 7396 says.
pub fn patch_section<T>(current: &T, patch: &Value) -> Result<Valid<T>, Violations>
where
    T: Serialize + DeserializeOwned + Validate,
{
    let mut merged = serde_json::to_value(current)
        .map_err(|err| Violations::one(Violation::new("", codes::INVALID_JSON, err.to_string())))?;
    match (&mut merged, patch) {
        (Value::Object(fields), Value::Object(changes)) => {
            for (key, change) in changes {
                match change {
                    Value::Null => {
                        fields.insert(key.clone(), Value::Null);
                    }
                    change => merge_patch(fields.entry(key.clone()).or_insert(Value::Null), change),
                }
            }
        }
        (merged, patch) => merge_patch(merged, patch),
    }
    parse_section(merged)
}

/// RFC 7396 JSON merge patch, in place.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::LockoutPolicy;

    #[test]
    fn bodies_are_read_strictly() {
        let ok: Value = from_slice(br#" {"a": [1, {"b": 2}], "c": {"b": 3}} "#).unwrap();
        assert_eq!(ok["c"]["b"], 3);
        for (bad, words) in [
            (&br#"{"login": "a", "password": "b"} junk"#[..], "after"),
            (br#"{"max_password_attempts": 5}{"window": 1}"#, "after"),
            (br#"{"a": 1, "a": 2}"#, "duplicate key `a`"),
            (
                br#"{"x": [{"y": {"a": 1, "a": 1}}]}"#,
                "duplicate key `x[0].y.a`",
            ),
        ] {
            let err = from_slice::<Value>(bad).unwrap_err();
            assert_eq!(err.code, codes::INVALID_JSON);
            assert!(err.message.contains(words), "{}", err.message);
        }
        let err = from_slice::<LockoutPolicy>(br#"{"window": 1, "window": 2}"#).unwrap_err();
        assert_eq!(err.code, codes::INVALID_JSON);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(from_slice::<Value>(deep.as_bytes()).is_err());
    }

    #[test]
    fn merge_patch_follows_rfc_7396_examples() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!(["a"]), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected);
        }
    }

    #[test]
    fn patch_changes_only_named_fields_and_validates() {
        let current = LockoutPolicy::default();
        let patched = patch_section(&current, &json!({"max_password_attempts": 3})).unwrap();
        assert_eq!(patched.max_password_attempts, 3);
        assert_eq!(patched.lock_duration, current.lock_duration);

        let cleared = patch_section(&current, &json!({"lock_duration": null})).unwrap();
        assert_eq!(cleared.lock_duration, None, "null clears an optional field");
        let err = patch_section(&current, &json!({"max_otp_attempts": null})).unwrap_err();
        assert_eq!(
            err.as_slice()[0].field,
            "max_otp_attempts",
            "null is refused for a number"
        );

        let err =
            patch_section(&current, &json!({"max_password_attempts": 0, "window": 0})).unwrap_err();
        assert!(err.contains("max_password_attempts", codes::OUT_OF_RANGE));
        assert!(err.contains("window", codes::OUT_OF_RANGE));
    }

    #[test]
    fn shape_errors_name_the_field() {
        let err =
            parse_section::<LockoutPolicy>(json!({"max_password_attempts": "x"})).unwrap_err();
        assert_eq!(err.codes(), [codes::INVALID_JSON]);
        assert_eq!(err.as_slice()[0].field, "max_password_attempts");

        let err = parse_section::<LockoutPolicy>(json!({"max_pasword_attempts": 3})).unwrap_err();
        assert_eq!(
            err.codes(),
            [codes::INVALID_JSON],
            "unknown fields are refused"
        );
    }
}
