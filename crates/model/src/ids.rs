//! Identifiers chosen by callers: organization ids and password-policy ids.
//!
//! Invariant: an id matches `[A-Za-z0-9._-]{1,64}`; it is safe in a URL path segment and in logs.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::codes;
use crate::violation::Violation;

/// Whether `text` is a well-formed id.
pub fn is_valid_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn id_violation(field: &str) -> Violation {
    Violation::new(
        field,
        codes::INVALID_ID,
        "must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
    )
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl fmt::Debug for $name {
            /// As its text: an id reads the same in a log as in a request.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl $name {
            /// Parses an id, or answers an `id.invalid` violation on `field`.
            pub fn parse(text: &str, field: &str) -> Result<$name, Violation> {
                if is_valid_id(text) { Ok($name(text.to_owned())) } else { Err(id_violation(field)) }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = String::deserialize(d)?;
                $name::parse(&text, "").map_err(|v| serde::de::Error::custom(v.message))
            }
        }
    };
}

id_type!(
    /// An organization (tenant) id.
    OrgId
);
id_type!(
    /// A password policy's id, unique within its organization.
    PolicyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rules() {
        for (text, ok) in [
            ("acme", true),
            ("a.b_c-D9", true),
            (&"x".repeat(64), true),
            (&"x".repeat(65), false),
            ("", false),
            ("a/b", false),
            ("a b", false),
            ("é", false),
        ] {
            assert_eq!(OrgId::parse(text, "id").is_ok(), ok, "{text}");
        }
        assert_eq!(
            OrgId::parse("a b", "org").unwrap_err().code,
            codes::INVALID_ID
        );
    }
}
