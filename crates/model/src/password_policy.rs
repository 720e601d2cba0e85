//! One named password policy: composition rules, dictionary and context checks, history, age,
//! MFA requirements of its users and the hash algorithm.
//!
//! Units: lengths and per-class minimums count Unicode code points; `min_age` and `grace_period`
//! are seconds; `max_age_days` and `expire_warn_days` are days.
//! Invariants (checked by [`Validate`]): `min_length <= max_length`; the per-class minimums fit in
//! `max_length`; with `bcrypt`, `max_length <= 72` (bcrypt reads 72 bytes); with expiration on,
//! `expire_warn_days < max_age_days`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::codes;
use crate::ids::is_valid_id;
use crate::validate::{Checker, Validate};
use crate::violation::Violation;

/// Longest password any policy may allow.
pub const MAX_PASSWORD_LENGTH: u64 = 4096;
/// bcrypt ignores input past this many bytes, so a bcrypt policy may not allow longer.
pub const BCRYPT_MAX_BYTES: u64 = 72;
/// Most history entries a policy may keep.
pub const MAX_HISTORY: u64 = 24;
/// Most breaches a policy may tolerate for a password (`max_breaches`).
pub(crate) const MAX_BREACHES: u64 = 100;
/// Most entries in `custom_blocklist`.
pub const MAX_CUSTOM_BLOCKLIST: usize = 1000;
const YEAR: u64 = 365 * 86_400;

/// How passwords of this policy's users are hashed.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgorithm {
    /// argon2id, m = 19 MiB, t = 2, p = 1.
    #[default]
    Argon2id,
    /// bcrypt, cost 12; reads at most 72 bytes of the password.
    Bcrypt,
}

/// An account attribute a password must not contain.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccountAttribute {
    /// The login name, and the login name reversed.
    Login,
    /// The local part of the email address (before `@`).
    Email,
    /// Each word of the display name of at least `attribute_min_word_length` characters.
    DisplayName,
}

fn all_attributes() -> BTreeSet<AccountAttribute> {
    [
        AccountAttribute::Login,
        AccountAttribute::Email,
        AccountAttribute::DisplayName,
    ]
    .into()
}

/// Reads a set from a JSON array that names each item once (its schema says `uniqueItems`): a
/// repeat is refused, never folded away in silence.
fn unique_items<'de, D, T>(d: D) -> Result<BTreeSet<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Ord,
{
    let items = Vec::<T>::deserialize(d)?;
    let count = items.len();
    let set: BTreeSet<T> = items.into_iter().collect();
    if set.len() != count {
        return Err(serde::de::Error::custom("must not name an item twice"));
    }
    Ok(set)
}

/// One named password policy (docs/design.md §2.2). Serde names are the canonical API names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Identifier, unique in the organization (`[A-Za-z0-9._-]{1,64}`). In a request, empty or
    /// absent means the path's id (a replacement) or a generated one (a creation).
    #[schema(max_length = 64, pattern = "^[A-Za-z0-9._-]{0,64}$")]
    pub id: String,
    /// Display name, 1–128 characters.
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// Free text, at most 1024 characters.
    #[schema(max_length = 1024)]
    pub description: String,
    /// Whether this is the organization's default policy (exactly one is).
    pub is_default: bool,
    /// User sources this policy applies to (at most 100, each 1–128 characters, no repeats).
    #[schema(max_items = 100)]
    pub sources: Vec<String>,

    /// Shortest allowed password, code points (1–4096, default 15).
    #[schema(minimum = 1, maximum = 4096)]
    pub min_length: u64,
    /// Longest allowed password, code points (1–4096, default 128; at most 72 with bcrypt).
    #[schema(minimum = 1, maximum = 4096)]
    pub max_length: u64,
    /// Minimum lowercase letters (0–64).
    #[schema(minimum = 0, maximum = 64)]
    pub min_lowercase: u64,
    /// Minimum uppercase letters (0–64).
    #[schema(minimum = 0, maximum = 64)]
    pub min_uppercase: u64,
    /// Minimum digits (0–64).
    #[schema(minimum = 0, maximum = 64)]
    pub min_digits: u64,
    /// Minimum special characters: anything that is neither a letter nor a digit (0–64).
    #[schema(minimum = 0, maximum = 64)]
    pub min_special: u64,
    /// Minimum letters of any case, cased or not (0–64).
    #[schema(minimum = 0, maximum = 64)]
    pub min_letters: u64,
    /// Minimum number of character types among lowercase, uppercase, digit, special (0–4).
    #[schema(minimum = 0, maximum = 4)]
    pub min_character_types: u64,
    /// Longest run of one repeated character; 0 = unlimited (0–128).
    #[schema(minimum = 0, maximum = 128)]
    pub max_repeated_chars: u64,
    /// At least one of these characters must appear; empty = no requirement (≤ 256).
    #[schema(max_length = 256)]
    pub required_chars: String,

    /// Reject common and breached passwords and `custom_blocklist` (whole password, any case).
    pub check_blocklist: bool,
    /// Organization words to reject in addition to the shipped list (≤ 1000, each 1–256).
    #[schema(max_items = 1000)]
    pub custom_blocklist: Vec<String>,
    /// Reject a new password seen in breaches more than `max_breaches` times, looked up in
    /// the instance's breached-password source (an offline index, or a range endpoint);
    /// without a configured source every new password is refused
    /// (`password.breach_unchecked`).
    pub check_breached: bool,
    /// How many breaches a password may appear in and still be accepted (0–100, default 0:
    /// none).
    #[schema(minimum = 0, maximum = 100)]
    pub max_breaches: u64,
    /// With `check_breached`, a login whose password is found breached opens a session
    /// limited to changing it (the grace rules of a non-compliant password).
    pub check_breached_at_login: bool,
    /// Reject passwords containing account attributes (see `account_attributes`).
    pub check_account_attributes: bool,
    /// Which attributes are checked (default: all).
    #[serde(deserialize_with = "unique_items")]
    pub account_attributes: BTreeSet<AccountAttribute>,
    /// Shortest display-name word that is checked (1–64, default 4).
    #[schema(minimum = 1, maximum = 64)]
    pub attribute_min_word_length: u64,
    /// A new password must differ from the last N (0–24).
    #[schema(minimum = 0, maximum = 24)]
    pub history: u64,

    /// Seconds a password must be kept before its owner may change it again (0–1 year).
    #[schema(minimum = 0, maximum = 31_536_000)]
    pub min_age: u64,
    /// Whether passwords expire after `max_age_days`.
    pub expiration_enabled: bool,
    /// Days after which a password expires, when enabled (1–3650, default 90).
    #[schema(minimum = 1, maximum = 3650)]
    pub max_age_days: u64,
    /// Days before expiry from which the user is warned; 0 = no warning (0–3650).
    #[schema(minimum = 0, maximum = 3650)]
    pub expire_warn_days: u64,
    /// A password set by an administrator must be changed at first login.
    pub renew_on_first_login: bool,
    /// Seconds an expired (or first-login) password still logs in, restricted to changing it;
    /// also the time allowed to enroll MFA once it becomes required (0–1 year).
    #[schema(minimum = 0, maximum = 31_536_000)]
    pub grace_period: u64,

    /// Users of this policy must pass MFA.
    pub require_mfa: bool,
    /// Users of this policy must pass MFA when outside `mfa.trusted_networks`.
    pub require_mfa_off_network: bool,
    /// Users of this policy must pass MFA from untrusted geographies (needs a GeoIP database).
    pub require_mfa_untrusted_geographies: bool,

    /// How passwords are hashed; a login re-hashes a password stored otherwise.
    pub hash_algorithm: HashAlgorithm,
}

impl Default for PasswordPolicy {
    fn default() -> PasswordPolicy {
        PasswordPolicy {
            id: "default".into(),
            name: "Default".into(),
            description: String::new(),
            is_default: true,
            sources: Vec::new(),
            min_length: 15,
            max_length: 128,
            min_lowercase: 0,
            min_uppercase: 0,
            min_digits: 0,
            min_special: 0,
            min_letters: 0,
            min_character_types: 0,
            max_repeated_chars: 0,
            required_chars: String::new(),
            check_blocklist: true,
            custom_blocklist: Vec::new(),
            check_breached: false,
            max_breaches: 0,
            check_breached_at_login: false,
            check_account_attributes: true,
            account_attributes: all_attributes(),
            attribute_min_word_length: 4,
            history: 0,
            min_age: 0,
            expiration_enabled: false,
            max_age_days: 90,
            expire_warn_days: 0,
            renew_on_first_login: false,
            grace_period: 0,
            require_mfa: false,
            require_mfa_off_network: false,
            require_mfa_untrusted_geographies: false,
            hash_algorithm: HashAlgorithm::Argon2id,
        }
    }
}

impl PasswordPolicy {
    /// The fewest code points that satisfy every per-class minimum at once. Letters overlap
    /// lowercase and uppercase, so they count as `max(min_letters, min_lowercase + min_uppercase)`.
    pub fn class_minimum_total(&self) -> u64 {
        self.min_letters
            .max(self.min_lowercase + self.min_uppercase)
            + self.min_digits
            + self.min_special
    }
}

impl Validate for PasswordPolicy {
    fn check(&self, c: &mut Checker) {
        if !is_valid_id(&self.id) {
            c.push(Violation::new(
                "id",
                codes::INVALID_ID,
                "must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
            ));
        }
        c.required("name", &self.name);
        c.max_chars("name", &self.name, 128);
        c.max_chars("description", &self.description, 1024);
        c.max_items("sources", self.sources.len(), 100);
        let mut seen = BTreeSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            let field = format!("sources[{i}]");
            c.required(&field, source);
            c.max_chars(&field, source, 128);
            if !seen.insert(source.as_str()) {
                c.push(
                    Violation::new(field, codes::DUPLICATE, "appears more than once")
                        .with("value", source.as_str()),
                );
            }
        }

        c.range("min_length", self.min_length, 1, MAX_PASSWORD_LENGTH);
        c.range("max_length", self.max_length, 1, MAX_PASSWORD_LENGTH);
        for (field, value) in [
            ("min_lowercase", self.min_lowercase),
            ("min_uppercase", self.min_uppercase),
            ("min_digits", self.min_digits),
            ("min_special", self.min_special),
            ("min_letters", self.min_letters),
        ] {
            c.range(field, value, 0, 64);
        }
        c.range("min_character_types", self.min_character_types, 0, 4);
        c.range("max_repeated_chars", self.max_repeated_chars, 0, 128);
        c.max_chars("required_chars", &self.required_chars, 256);

        c.max_items(
            "custom_blocklist",
            self.custom_blocklist.len(),
            MAX_CUSTOM_BLOCKLIST,
        );
        for (i, word) in self.custom_blocklist.iter().enumerate() {
            let field = format!("custom_blocklist[{i}]");
            c.required(&field, word);
            c.max_chars(&field, word, 256);
        }
        c.range(
            "attribute_min_word_length",
            self.attribute_min_word_length,
            1,
            64,
        );
        c.range("history", self.history, 0, MAX_HISTORY);
        c.range("max_breaches", self.max_breaches, 0, MAX_BREACHES);

        c.range("min_age", self.min_age, 0, YEAR);
        c.range("max_age_days", self.max_age_days, 1, 3650);
        c.range("expire_warn_days", self.expire_warn_days, 0, 3650);
        c.range("grace_period", self.grace_period, 0, YEAR);

        // Cross-field rules.
        if self.min_length > self.max_length {
            c.push(
                Violation::new(
                    "min_length",
                    codes::MIN_LENGTH_EXCEEDS_MAX,
                    "must not be greater than max_length",
                )
                .with("max_length", self.max_length),
            );
        }
        let required = self.class_minimum_total();
        if required > self.max_length {
            c.push(
                Violation::new(
                    "max_length",
                    codes::CLASS_MINIMUMS_EXCEED_MAX,
                    format!("the per-class minimums need {required} characters"),
                )
                .with("required", required)
                .with("max_length", self.max_length),
            );
        }
        if self.hash_algorithm == HashAlgorithm::Bcrypt && self.max_length > BCRYPT_MAX_BYTES {
            c.push(
                Violation::new(
                    "max_length",
                    codes::BCRYPT_MAX_LENGTH,
                    "must be at most 72 when hash_algorithm is bcrypt",
                )
                .with("max", BCRYPT_MAX_BYTES),
            );
        }
        if self.expiration_enabled
            && self.expire_warn_days > 0
            && self.expire_warn_days >= self.max_age_days
        {
            c.push(
                Violation::new(
                    "expire_warn_days",
                    codes::WARN_EXCEEDS_MAX_AGE,
                    "must be less than max_age_days",
                )
                .with("max_age_days", self.max_age_days),
            );
        }
    }
}

crate::patch::section_patch! {
    /// A merge patch of one password policy; the `password` section's patch applies to the
    /// organization's default policy.
    PasswordPolicy => PasswordPolicyPatch, PasswordPolicyFields {
        id: String,
        name: String,
        description: String,
        is_default: bool,
        sources: Vec<String>,
        min_length: u64,
        max_length: u64,
        min_lowercase: u64,
        min_uppercase: u64,
        min_digits: u64,
        min_special: u64,
        min_letters: u64,
        min_character_types: u64,
        max_repeated_chars: u64,
        required_chars: String,
        check_blocklist: bool,
        custom_blocklist: Vec<String>,
        check_breached: bool,
        max_breaches: u64,
        check_breached_at_login: bool,
        check_account_attributes: bool,
        account_attributes: BTreeSet<AccountAttribute>,
        attribute_min_word_length: u64,
        history: u64,
        min_age: u64,
        expiration_enabled: bool,
        max_age_days: u64,
        expire_warn_days: u64,
        renew_on_first_login: bool,
        grace_period: u64,
        require_mfa: bool,
        require_mfa_off_network: bool,
        require_mfa_untrusted_geographies: bool,
        hash_algorithm: HashAlgorithm,
    }
}
