//! JSON in, validated sections out: parsing with field paths, and RFC 7396 merge patches.
//!
//! Invariant: every failure comes back as [`Violations`] (shape errors as `value.invalid` with
//! the JSON path serde stopped at, rule errors as the section's own codes); nothing is half-applied.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::codes;
use crate::validate::{Valid, Validate};
use crate::violation::{Violation, Violations};

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
