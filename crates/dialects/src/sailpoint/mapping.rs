//! A SailPoint policy object mapped to one named canonical password policy and back.
//!
//! A write replaces the fields SailPoint names: absent counts take the canonical defaults,
//! absent booleans are false, except that an absent `passwordExpiration` or word length keeps
//! the current value, and `defaultPolicy: false` never takes the flag from the current default.
//! It keeps the canonical fields SailPoint does not name (history, hash algorithm, grace period,
//! ...). `-1` means "off" for `minCharacterTypes`, `maxRepeatedChars` and the word-length fields.
//! Invariant: every problem of a body is listed, in a fixed order (counts, switches, unknown
//! fields, then the values), and nothing is built when there is one.

use std::collections::BTreeSet;

use portcullis_model::{AccountAttribute, PasswordPolicy, SectionDetails};
use serde_json::{Map, Value};

use super::wire::{PolicyDto, PolicyObject};
use crate::common;

/// The SailPoint object of a canonical policy; dates are the password section's.
pub(super) fn to_dto(policy: &PasswordPolicy, details: &SectionDetails) -> Value {
    let check = policy.check_account_attributes;
    let has = |a: AccountAttribute| check && policy.account_attributes.contains(&a);
    let all = policy.account_attributes.len() == 3;
    let word = |a: AccountAttribute| {
        if has(a) {
            i64::try_from(policy.attribute_min_word_length).unwrap_or(i64::MAX)
        } else {
            -1
        }
    };
    let off_is_minus_one = |v: u64| {
        if v == 0 {
            -1
        } else {
            i64::try_from(v).unwrap_or(i64::MAX)
        }
    };
    common::to_json(&PolicyDto {
        id: &policy.id,
        name: &policy.name,
        description: Some(policy.description.as_str()).filter(|d| !d.is_empty()),
        date_created: common::epoch_ms(details.created_at),
        last_updated: common::epoch_ms(details.changed_at),
        created: portcullis_model::rfc3339(details.created_at),
        modified: portcullis_model::rfc3339(details.changed_at),
        first_expiration_reminder: policy.expire_warn_days,
        account_id_min_word_length: word(AccountAttribute::Login),
        account_name_min_word_length: word(AccountAttribute::DisplayName),
        min_alpha: policy.min_letters,
        min_character_types: off_is_minus_one(policy.min_character_types),
        max_length: policy.max_length,
        min_length: policy.min_length,
        max_repeated_chars: off_is_minus_one(policy.max_repeated_chars),
        min_lower: policy.min_lowercase,
        min_numeric: policy.min_digits,
        min_special: policy.min_special,
        min_upper: policy.min_uppercase,
        password_expiration: policy.max_age_days,
        default_policy: policy.is_default,
        enable_passwd_expiration: policy.expiration_enabled,
        require_strong_authn: policy.require_mfa,
        require_strong_auth_off_network: policy.require_mfa_off_network,
        require_strong_auth_untrusted_geographies: policy.require_mfa_untrusted_geographies,
        use_account_attributes: check && all,
        use_dictionary: policy.check_blocklist,
        use_identity_attributes: has(AccountAttribute::Email),
        validate_against_account_id: has(AccountAttribute::Login),
        validate_against_account_name: has(AccountAttribute::DisplayName),
        source_ids: &policy.sources,
    })
}

/// An integer as sent: `None` when absent, an error when not an integer.
fn integer(value: &Option<Value>, name: &str, errors: &mut Vec<String>) -> Option<i64> {
    match value {
        None => None,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(_) => {
            errors.push(format!("{name} must be an integer"));
            None
        }
    }
}

/// A switch as sent: absent is false.
fn switch(value: &Option<Value>, name: &str, errors: &mut Vec<String>) -> bool {
    match value {
        None => false,
        Some(Value::Bool(on)) => *on,
        Some(_) => {
            errors.push(format!("{name} must be a boolean"));
            false
        }
    }
}

/// A count: absent → `default`; negative → refused (only the "off" fields take -1).
fn count(value: Option<i64>, name: &str, default: u64, errors: &mut Vec<String>) -> u64 {
    match value {
        None => default,
        Some(v) if v >= 0 => v.unsigned_abs(),
        Some(_) => {
            errors.push(format!("{name} must be 0 or more"));
            default
        }
    }
}

/// A count where `-1` (and absent, and 0) means off, which is 0.
fn off(value: Option<i64>, name: &str, errors: &mut Vec<String>) -> u64 {
    match value {
        None | Some(-1) | Some(0) => 0,
        Some(v) if v > 0 => v.unsigned_abs(),
        Some(_) => {
            errors.push(format!("{name} must be -1 (off) or more"));
            0
        }
    }
}

/// A text field as sent: `None` when absent.
fn text(value: &Option<Value>, name: &str, errors: &mut Vec<String>) -> Option<String> {
    match value {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(format!("{name} must be a string"));
            None
        }
    }
}

/// The canonical policy of a SailPoint object written over `base` (the policy replaced, or the
/// canonical defaults for a new one), as the service takes it. Every problem is listed.
pub(super) fn from_dto(
    body: &Map<String, Value>,
    base: &PasswordPolicy,
) -> Result<Value, Vec<String>> {
    let object = PolicyObject::of(body);
    let mut errors = Vec::new();
    let defaults = PasswordPolicy::default();
    let e = &mut errors;

    let first_expiration_reminder = integer(
        &object.first_expiration_reminder,
        "firstExpirationReminder",
        e,
    );
    let account_id_min_word_length = integer(
        &object.account_id_min_word_length,
        "accountIdMinWordLength",
        e,
    );
    let account_name_min_word_length = integer(
        &object.account_name_min_word_length,
        "accountNameMinWordLength",
        e,
    );
    let min_alpha = integer(&object.min_alpha, "minAlpha", e);
    let min_character_types = integer(&object.min_character_types, "minCharacterTypes", e);
    let max_length = integer(&object.max_length, "maxLength", e);
    let min_length = integer(&object.min_length, "minLength", e);
    let max_repeated_chars = integer(&object.max_repeated_chars, "maxRepeatedChars", e);
    let min_lower = integer(&object.min_lower, "minLower", e);
    let min_numeric = integer(&object.min_numeric, "minNumeric", e);
    let min_special = integer(&object.min_special, "minSpecial", e);
    let min_upper = integer(&object.min_upper, "minUpper", e);
    let password_expiration = integer(&object.password_expiration, "passwordExpiration", e);

    let default_policy = switch(&object.default_policy, "defaultPolicy", e);
    let enable_passwd_expiration = switch(
        &object.enable_passwd_expiration,
        "enablePasswdExpiration",
        e,
    );
    let require_strong_authn = switch(&object.require_strong_authn, "requireStrongAuthn", e);
    let require_strong_auth_off_network = switch(
        &object.require_strong_auth_off_network,
        "requireStrongAuthOffNetwork",
        e,
    );
    let require_strong_auth_untrusted_geographies = switch(
        &object.require_strong_auth_untrusted_geographies,
        "requireStrongAuthUntrustedGeographies",
        e,
    );
    let use_account_attributes = switch(&object.use_account_attributes, "useAccountAttributes", e);
    let use_dictionary = switch(&object.use_dictionary, "useDictionary", e);
    let use_identity_attributes =
        switch(&object.use_identity_attributes, "useIdentityAttributes", e);
    let validate_against_account_id = switch(
        &object.validate_against_account_id,
        "validateAgainstAccountId",
        e,
    );
    let validate_against_account_name = switch(
        &object.validate_against_account_name,
        "validateAgainstAccountName",
        e,
    );
    for name in object.unknown.keys() {
        e.push(format!("unknown field `{name}`"));
    }

    let mut out = base.clone();
    out.min_length = count(min_length, "minLength", defaults.min_length, e);
    out.max_length = count(max_length, "maxLength", defaults.max_length, e);
    out.min_letters = count(min_alpha, "minAlpha", 0, e);
    out.min_lowercase = count(min_lower, "minLower", 0, e);
    out.min_uppercase = count(min_upper, "minUpper", 0, e);
    out.min_digits = count(min_numeric, "minNumeric", 0, e);
    out.min_special = count(min_special, "minSpecial", 0, e);
    out.min_character_types = off(min_character_types, "minCharacterTypes", e);
    out.max_repeated_chars = off(max_repeated_chars, "maxRepeatedChars", e);
    out.expire_warn_days = count(first_expiration_reminder, "firstExpirationReminder", 0, e);
    out.expiration_enabled = enable_passwd_expiration;
    match password_expiration {
        Some(days) if days > 0 => out.max_age_days = days.unsigned_abs(),
        Some(days) if days < 0 => e.push("passwordExpiration must be 0 or more".into()),
        Some(_) if enable_passwd_expiration => out.max_age_days = 0,
        _ => {}
    }
    let words = [
        off(account_id_min_word_length, "accountIdMinWordLength", e),
        off(account_name_min_word_length, "accountNameMinWordLength", e),
    ];
    if let Some(longest) = words.into_iter().filter(|v| *v > 0).max() {
        out.attribute_min_word_length = longest;
    }
    let mut attributes = BTreeSet::new();
    if use_account_attributes {
        attributes.extend([
            AccountAttribute::Login,
            AccountAttribute::Email,
            AccountAttribute::DisplayName,
        ]);
    }
    if validate_against_account_id {
        attributes.insert(AccountAttribute::Login);
    }
    if validate_against_account_name {
        attributes.insert(AccountAttribute::DisplayName);
    }
    if use_identity_attributes {
        attributes.insert(AccountAttribute::Email);
    }
    out.check_account_attributes = !attributes.is_empty();
    if !attributes.is_empty() {
        out.account_attributes = attributes;
    }
    out.check_blocklist = use_dictionary;
    out.require_mfa = require_strong_authn;
    out.require_mfa_off_network = require_strong_auth_off_network;
    out.require_mfa_untrusted_geographies = require_strong_auth_untrusted_geographies;
    out.is_default = default_policy || base.is_default;
    if let Some(id) = text(&object.id, "id", e) {
        out.id = id;
    }
    if let Some(name) = text(&object.name, "name", e) {
        out.name = name;
    }
    out.description = text(&object.description, "description", e).unwrap_or_default();
    match &object.source_ids {
        None => out.sources = Vec::new(),
        Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => {
            out.sources = ids
                .iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect();
        }
        Some(_) => e.push("sourceIds must be an array of strings".into()),
    }
    if errors.is_empty() {
        Ok(common::to_json(&out))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dto_round_trip_and_sentinels() {
        let base = PasswordPolicy::default();
        let body = common::json_object(
            br#"{"id":"p2","name":"P2","minLength":10,"minCharacterTypes":-1,"maxRepeatedChars":3,
                 "validateAgainstAccountId":true,"useDictionary":true,"accountIdMinWordLength":5,
                 "enablePasswdExpiration":true,"passwordExpiration":30,"firstExpirationReminder":5}"#,
        )
        .unwrap();
        let canonical = from_dto(&body, &base).unwrap();
        let policy: PasswordPolicy = serde_json::from_value(canonical).unwrap();
        assert_eq!(policy.min_length, 10);
        assert_eq!(policy.min_character_types, 0);
        assert_eq!(policy.max_repeated_chars, 3);
        assert!(policy.check_account_attributes && policy.check_blocklist);
        assert_eq!(policy.attribute_min_word_length, 5);
        assert_eq!(policy.max_age_days, 30);
        assert_eq!(
            policy.history, base.history,
            "fields SailPoint does not name are kept"
        );
        let dto = to_dto(&policy, &SectionDetails::builtin("i"));
        assert_eq!(dto["minCharacterTypes"], -1);
        assert_eq!(dto["validateAgainstAccountId"], true);
        assert_eq!(dto["validateAgainstAccountName"], false);
        assert_eq!(dto["accountIdMinWordLength"], 5);
        assert_eq!(dto["accountNameMinWordLength"], -1);

        let bad =
            common::json_object(br#"{"minLength":"10","maxRepeatedChars":-2,"x":1}"#).unwrap();
        assert_eq!(from_dto(&bad, &base).unwrap_err().len(), 3);
    }

    #[test]
    fn problems_come_in_a_fixed_order_and_read_only_fields_are_ignored() {
        let base = PasswordPolicy::default();
        let body = common::json_object(
            br#"{"useDictionary":1,"minLength":"x","zzz":0,"aaa":0,"minUpper":-1,"name":7,
                 "created":"2020-01-01T00:00:00Z","dateCreated":1,"description":null}"#,
        )
        .unwrap();
        assert_eq!(
            from_dto(&body, &base).unwrap_err(),
            [
                "minLength must be an integer",
                "useDictionary must be a boolean",
                "unknown field `aaa`",
                "unknown field `zzz`",
                "minUpper must be 0 or more",
                "name must be a string",
            ]
        );
        let fine =
            common::json_object(br#"{"modified":"x","lastUpdated":2,"sourceIds":null}"#).unwrap();
        let policy: PasswordPolicy =
            serde_json::from_value(from_dto(&fine, &base).unwrap()).unwrap();
        assert!(policy.sources.is_empty() && policy.description.is_empty());
    }
}
