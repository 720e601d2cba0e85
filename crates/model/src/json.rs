//! JSON in, validated sections out: strict reading of request bodies, parsing with field paths,
//! and RFC 7396 merge patches.
//!
//! Invariants: a body is read strictly by [`from_slice`], the one reader of every API (native and
//! dialects): exactly one JSON value, nothing but whitespace after it, and no object with the same
//! key twice at any depth (typed or `Value` bodies alike), nesting bounded by serde_json's depth
//! limit (a clean error, never a crash); every failure comes back as [`Violations`] (shape errors as `value.invalid` with
//! the JSON path serde stopped at, rule errors as the section's own codes); nothing is half-applied.

use std::fmt;

use serde::Serialize;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::codes;
use crate::validate::{Valid, Validate};
use crate::violation::{Violation, Violations};

/// Reads a request body strictly (see the module header); the violation names the JSON path.
///
/// The body is first read into a [`Value`] by [`Strict`] (one value, no key twice, integral
/// numbers as integers), then the typed value is read from it: JSON has one number type, so
/// `28.0` is the integer 28 (as JSON Schema's `integer` says) and a count field takes it.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Violation> {
    let invalid = |field: String, message: String| {
        let field = if field == "." { String::new() } else { field };
        Violation::new(field, codes::INVALID_JSON, message)
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict(String::new())
        .deserialize(&mut de)
        .map_err(|err| invalid(String::new(), err.to_string()))?;
    de.end()
        .map_err(|err| invalid(String::new(), format!("data after the JSON value: {err}")))?;
    serde_path_to_error::deserialize(value)
        .map_err(|err| invalid(err.path().to_string(), err.into_inner().to_string()))
}

/// Reads a JSON value, refusing an object that names a key twice and writing a number with no
/// fraction that fits 64 bits as an integer; holds the path so far.
struct Strict(String);

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// `f` as an integer when it has no fraction and fits `i64` or `u64`.
fn integral(f: f64) -> Option<Value> {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() != 0.0 || !f.is_finite() {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    if (0.0..2.0 * TWO_POW_63).contains(&f) {
        Some(Value::from(f as u64))
    } else if (-TWO_POW_63..0.0).contains(&f) {
        Some(Value::from(f as i64))
    } else {
        None
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        match integral(f) {
            Some(n) => Ok(n),
            None => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| E::custom("a number that is not finite")),
        }
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(Strict(format!("{}[{}]", self.0, items.len())))?
        {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.0.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.0)
            };
            if fields.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{path}`")));
            }
            let value = map.next_value_seed(Strict(path))?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
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
        // JSON has one number type: a number with no fraction is an integer, whatever its form.
        let lockout: LockoutPolicy = from_slice(br#"{"max_password_attempts": 7.0}"#).unwrap();
        assert_eq!(
            parse_section::<LockoutPolicy>(from_slice(br#"{"window": 60.0}"#).unwrap())
                .unwrap()
                .into_inner()
                .window,
            Some(60)
        );
        assert_eq!(lockout.max_password_attempts, 7);
        let err = from_slice::<LockoutPolicy>(br#"{"max_password_attempts": 7.5}"#).unwrap_err();
        assert_eq!(err.field, "max_password_attempts");
        let big: Value = from_slice(b"[1e19, -9.2e18, 1e20, 0.5]").unwrap();
        assert_eq!(
            big,
            json!([
                10_000_000_000_000_000_000_u64,
                -9_200_000_000_000_000_000_i64,
                1e20,
                0.5
            ])
        );
        assert!(from_slice::<Value>(deep.as_bytes()).is_err());
    }

    #[test]
    fn a_set_that_names_an_item_twice_is_refused() {
        let once = parse_section::<crate::PasswordPolicy>(
            json!({"account_attributes": ["email", "login"]}),
        );
        assert_eq!(once.unwrap().into_inner().account_attributes.len(), 2);
        let twice = parse_section::<crate::PasswordPolicy>(
            json!({"account_attributes": ["email", "email"]}),
        )
        .unwrap_err();
        let v = &twice.as_slice()[0];
        assert_eq!(
            (v.field.as_str(), v.code.as_ref()),
            ("account_attributes", codes::INVALID_JSON)
        );
        assert!(v.message.contains("twice"), "{}", v.message);
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
