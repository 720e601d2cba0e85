//! Checking a candidate password against a password policy (docs/design.md §2.2).
//!
//! Invariants: every rule is evaluated and *all* violations are returned, each with a stable
//! `password.*` code; lengths count Unicode code points; the blocklist and account attributes
//! compare case-insensitively; the history verifier (which hashes, so is slow) is called last,
//! only when `history > 0` and only when every other rule passes (a password refused by a cheap
//! rule costs no hash). No violation ever echoes the password.

use portcullis_model::{
    AccountAttribute, BCRYPT_MAX_BYTES, HashAlgorithm, PasswordPolicy, Violation, Violations,
};

use crate::blocklist::is_common_password;

/// Stable codes of password-check violations.
pub mod codes {
    /// Fewer code points than `min_length`; param `min`.
    pub const TOO_SHORT: &str = "password.too_short";
    /// More code points than `max_length`; param `max`.
    pub const TOO_LONG: &str = "password.too_long";
    /// More than 72 bytes under bcrypt; param `max_bytes`.
    pub const TOO_MANY_BYTES: &str = "password.too_many_bytes";
    /// Fewer lowercase letters than `min_lowercase`; param `min`.
    pub const MISSING_LOWERCASE: &str = "password.missing_lowercase";
    /// Fewer uppercase letters than `min_uppercase`; param `min`.
    pub const MISSING_UPPERCASE: &str = "password.missing_uppercase";
    /// Fewer digits than `min_digits`; param `min`.
    pub const MISSING_DIGITS: &str = "password.missing_digits";
    /// Fewer special characters than `min_special`; param `min`.
    pub const MISSING_SPECIAL: &str = "password.missing_special";
    /// Fewer letters than `min_letters`; param `min`.
    pub const MISSING_LETTERS: &str = "password.missing_letters";
    /// Fewer character types than `min_character_types`; param `min`.
    pub const TOO_FEW_CHARACTER_TYPES: &str = "password.too_few_character_types";
    /// A run of one character longer than `max_repeated_chars`; param `max`.
    pub const REPEATED_CHARS: &str = "password.repeated_chars";
    /// None of `required_chars` appears; param `chars`.
    pub const MISSING_REQUIRED_CHAR: &str = "password.missing_required_char";
    /// A common password or one of the organization's words.
    pub const IN_BLOCKLIST: &str = "password.in_blocklist";
    /// Contains the login name or its reverse.
    pub const CONTAINS_LOGIN: &str = "password.contains_login";
    /// Contains the local part of the email address.
    pub const CONTAINS_EMAIL: &str = "password.contains_email";
    /// Contains a word of the display name.
    pub const CONTAINS_DISPLAY_NAME: &str = "password.contains_display_name";
    /// Equal to one of the last `history` passwords; param `history`.
    pub const REUSED: &str = "password.reused";
    /// Changed again before `min_age` passed; param `allowed_at`.
    pub const TOO_RECENT: &str = "password.too_recent";
    /// Seen in more breaches than `max_breaches`; params `count`, `max`.
    pub const BREACHED: &str = "password.breached";
    /// The policy checks breached passwords and the instance has no source to look in.
    pub const BREACH_UNCHECKED: &str = "password.breach_unchecked";

    /// Every code above.
    pub const ALL: &[&str] = &[
        TOO_SHORT,
        TOO_LONG,
        TOO_MANY_BYTES,
        MISSING_LOWERCASE,
        MISSING_UPPERCASE,
        MISSING_DIGITS,
        MISSING_SPECIAL,
        MISSING_LETTERS,
        TOO_FEW_CHARACTER_TYPES,
        REPEATED_CHARS,
        MISSING_REQUIRED_CHAR,
        IN_BLOCKLIST,
        CONTAINS_LOGIN,
        CONTAINS_EMAIL,
        CONTAINS_DISPLAY_NAME,
        REUSED,
        TOO_RECENT,
        BREACHED,
        BREACH_UNCHECKED,
    ];
}

/// The field name the violations of a password check carry.
pub const PASSWORD_FIELD: &str = "password";

/// The account a password is for, lowercased once so repeated checks allocate nothing for it.
#[derive(Clone, Debug, Default)]
pub struct AccountContext {
    login: String,
    login_reversed: String,
    email_local: String,
    display_words: Vec<String>,
}

impl AccountContext {
    /// From the account's login name, email and display name (any may be empty).
    pub fn new(login: &str, email: Option<&str>, display_name: Option<&str>) -> AccountContext {
        let login = login.trim().to_lowercase();
        let login_reversed = login.chars().rev().collect();
        let email_local = email
            .and_then(|e| e.split('@').next())
            .map(|l| l.trim().to_lowercase())
            .unwrap_or_default();
        let display_words = display_name
            .unwrap_or_default()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        AccountContext {
            login,
            login_reversed,
            email_local,
            display_words,
        }
    }
}

/// Counts of each character class in a password.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CharClasses {
    /// Code points.
    pub length: u64,
    /// Lowercase letters.
    pub lowercase: u64,
    /// Uppercase letters.
    pub uppercase: u64,
    /// Letters of any case, including uncased scripts.
    pub letters: u64,
    /// Numeric characters.
    pub digits: u64,
    /// Everything that is neither a letter nor numeric (punctuation, symbols, spaces, emoji).
    pub special: u64,
    /// Longest run of one repeated character.
    pub longest_run: u64,
}

impl CharClasses {
    /// Classifies every character of `password` in one pass.
    pub fn of(password: &str) -> CharClasses {
        let mut c = CharClasses::default();
        let mut previous = None;
        let mut run = 0;
        for ch in password.chars() {
            c.length += 1;
            if ch.is_alphabetic() {
                c.letters += 1;
                if ch.is_lowercase() {
                    c.lowercase += 1;
                } else if ch.is_uppercase() {
                    c.uppercase += 1;
                }
            } else if ch.is_numeric() {
                c.digits += 1;
            } else {
                c.special += 1;
            }
            run = if previous == Some(ch) { run + 1 } else { 1 };
            c.longest_run = c.longest_run.max(run);
            previous = Some(ch);
        }
        c
    }

    /// How many of lowercase, uppercase, digit and special are present.
    pub fn types(&self) -> u64 {
        [self.lowercase, self.uppercase, self.digits, self.special]
            .iter()
            .filter(|n| **n > 0)
            .count() as u64
    }
}

fn violation(code: &'static str, message: String) -> Violation {
    Violation::new(PASSWORD_FIELD, code, message)
}

/// What a breached-password lookup found, for [`breach_violation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreachLookup {
    /// The password was seen this many times (0: never).
    Seen(u32),
    /// The instance has no breached-password source.
    NoSource,
}

/// The violation of a password the lookup found in more breaches than `max_breaches` allows
/// (or that could not be looked up at all), when the policy checks breached passwords.
pub fn breach_violation(policy: &PasswordPolicy, lookup: BreachLookup) -> Option<Violation> {
    if !policy.check_breached {
        return None;
    }
    match lookup {
        BreachLookup::Seen(count) if u64::from(count) > policy.max_breaches => Some(
            violation(
                codes::BREACHED,
                format!("appears in {count} known data breaches; choose another password"),
            )
            .with("count", u64::from(count))
            .with("max", policy.max_breaches),
        ),
        BreachLookup::Seen(_) => None,
        BreachLookup::NoSource => Some(violation(
            codes::BREACH_UNCHECKED,
            "the policy checks breached passwords but this instance has no breached-password \
             source; ask its operator"
                .to_owned(),
        )),
    }
}

/// Checks `password` against every rule of `policy` except history.
pub fn check_rules(
    policy: &PasswordPolicy,
    password: &str,
    account: &AccountContext,
) -> Vec<Violation> {
    let mut found = Vec::new();
    let c = CharClasses::of(password);

    if c.length < policy.min_length {
        let min = policy.min_length;
        found.push(
            violation(
                codes::TOO_SHORT,
                format!("must be at least {min} characters"),
            )
            .with("min", min),
        );
    }
    if c.length > policy.max_length {
        let max = policy.max_length;
        found.push(
            violation(codes::TOO_LONG, format!("must be at most {max} characters"))
                .with("max", max),
        );
    }
    if policy.hash_algorithm == HashAlgorithm::Bcrypt && password.len() as u64 > BCRYPT_MAX_BYTES {
        found.push(
            violation(
                codes::TOO_MANY_BYTES,
                format!("must be at most {BCRYPT_MAX_BYTES} bytes"),
            )
            .with("max_bytes", BCRYPT_MAX_BYTES),
        );
    }
    for (code, have, min, what) in [
        (
            codes::MISSING_LOWERCASE,
            c.lowercase,
            policy.min_lowercase,
            "lowercase letters",
        ),
        (
            codes::MISSING_UPPERCASE,
            c.uppercase,
            policy.min_uppercase,
            "uppercase letters",
        ),
        (codes::MISSING_DIGITS, c.digits, policy.min_digits, "digits"),
        (
            codes::MISSING_SPECIAL,
            c.special,
            policy.min_special,
            "special characters",
        ),
        (
            codes::MISSING_LETTERS,
            c.letters,
            policy.min_letters,
            "letters",
        ),
    ] {
        if have < min {
            found.push(
                violation(code, format!("must contain at least {min} {what}")).with("min", min),
            );
        }
    }
    if c.types() < policy.min_character_types {
        let min = policy.min_character_types;
        found.push(
            violation(
                codes::TOO_FEW_CHARACTER_TYPES,
                format!(
                    "must mix at least {min} of lowercase, uppercase, digits and special characters"
                ),
            )
            .with("min", min),
        );
    }
    if policy.max_repeated_chars > 0 && c.longest_run > policy.max_repeated_chars {
        let max = policy.max_repeated_chars;
        found.push(
            violation(
                codes::REPEATED_CHARS,
                format!("must not repeat a character more than {max} times in a row"),
            )
            .with("max", max),
        );
    }
    if !policy.required_chars.is_empty()
        && !password
            .chars()
            .any(|ch| policy.required_chars.contains(ch))
    {
        found.push(
            violation(
                codes::MISSING_REQUIRED_CHAR,
                "must contain one of the required characters".into(),
            )
            .with("chars", policy.required_chars.as_str()),
        );
    }

    if policy.check_blocklist || policy.check_account_attributes {
        let lower = password.to_lowercase();
        if policy.check_blocklist && in_blocklist(&lower, &policy.custom_blocklist) {
            found.push(violation(codes::IN_BLOCKLIST, "is too common".into()));
        }
        if policy.check_account_attributes {
            check_attributes(policy, &lower, account, &mut found);
        }
    }
    found
}

fn in_blocklist(lower: &str, custom: &[String]) -> bool {
    is_common_password(lower)
        || custom.iter().any(|w| {
            w.trim()
                .chars()
                .flat_map(char::to_lowercase)
                .eq(lower.chars())
        })
}

fn check_attributes(
    policy: &PasswordPolicy,
    lower: &str,
    account: &AccountContext,
    found: &mut Vec<Violation>,
) {
    let min = policy.attribute_min_word_length as usize;
    let long_enough = |word: &str| !word.is_empty() && word.chars().count() >= min;
    let wants = |a| policy.account_attributes.contains(&a);
    if wants(AccountAttribute::Login)
        && long_enough(&account.login)
        && (lower.contains(&account.login) || lower.contains(&account.login_reversed))
    {
        found.push(violation(
            codes::CONTAINS_LOGIN,
            "must not contain the login name".into(),
        ));
    }
    if wants(AccountAttribute::Email)
        && long_enough(&account.email_local)
        && lower.contains(&account.email_local)
    {
        found.push(violation(
            codes::CONTAINS_EMAIL,
            "must not contain the email address".into(),
        ));
    }
    if wants(AccountAttribute::DisplayName)
        && account
            .display_words
            .iter()
            .any(|w| long_enough(w) && lower.contains(w.as_str()))
    {
        found.push(violation(
            codes::CONTAINS_DISPLAY_NAME,
            "must not contain the display name".into(),
        ));
    }
}

/// Checks `password` against every rule of `policy`, history included. `reused(password, n)`
/// answers whether the password equals one of the account's last `n` passwords; it is called
/// only when the policy keeps a history and every other rule passed, so a password the cheap
/// rules refuse is answered with their violations and never costs a hash.
pub fn check_password(
    policy: &PasswordPolicy,
    password: &str,
    account: &AccountContext,
    reused: impl FnOnce(&str, usize) -> bool,
) -> Result<(), Violations> {
    let mut found = check_rules(policy, password, account);
    if found.is_empty() && policy.history > 0 && reused(password, policy.history as usize) {
        let n = policy.history;
        found.push(
            violation(
                codes::REUSED,
                format!("must differ from the last {n} passwords"),
            )
            .with("history", n),
        );
    }
    match Violations::from_vec(found) {
        Some(found) => Err(found),
        None => Ok(()),
    }
}
