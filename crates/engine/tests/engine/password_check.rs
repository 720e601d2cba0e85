//! Every password rule, table-driven, with its code.

use std::cell::Cell;
use std::collections::BTreeSet;

use portcullis_engine::password_age::{check_min_age, expires_at, warn_from};
use portcullis_engine::password_check::{
    AccountContext, CharClasses, check_password, check_rules, codes,
};
use portcullis_model::{AccountAttribute, HashAlgorithm, PasswordPolicy};

use crate::support::{T0, at};

fn lax() -> PasswordPolicy {
    PasswordPolicy {
        min_length: 1,
        check_blocklist: false,
        check_account_attributes: false,
        ..PasswordPolicy::default()
    }
}

fn alice() -> AccountContext {
    AccountContext::new(
        "Alice",
        Some("asmith.work@example.com"),
        Some("Bobby van Smithers"),
    )
}

fn codes_of(policy: &PasswordPolicy, password: &str) -> Vec<String> {
    check_rules(policy, password, &alice())
        .into_iter()
        .map(|v| v.code.into_owned())
        .collect()
}

#[test]
fn each_rule_fires_alone_with_its_code() {
    let with = |f: fn(&mut PasswordPolicy)| {
        let mut p = lax();
        f(&mut p);
        p
    };
    let (multibyte_40, ascii_72) = ("é".repeat(40), "e".repeat(72));
    #[rustfmt::skip]
    let cases: Vec<(PasswordPolicy, &str, Option<&str>)> = vec![
        (with(|p| p.min_length = 10), "short", Some(codes::TOO_SHORT)),
        (with(|p| p.min_length = 5), "fünf!", None), // 5 code points, 6 bytes
        (with(|p| p.max_length = 4), "fives", Some(codes::TOO_LONG)),
        (with(|p| p.max_length = 4), "日本語で", None),
        (with(|p| { p.hash_algorithm = HashAlgorithm::Bcrypt; p.max_length = 72 }), &multibyte_40, Some(codes::TOO_MANY_BYTES)),
        (with(|p| { p.hash_algorithm = HashAlgorithm::Bcrypt; p.max_length = 72 }), &ascii_72, None),
        (with(|p| p.min_lowercase = 2), "aBCD", Some(codes::MISSING_LOWERCASE)),
        (with(|p| p.min_lowercase = 2), "abCD", None),
        (with(|p| p.min_uppercase = 1), "abcd", Some(codes::MISSING_UPPERCASE)),
        (with(|p| p.min_uppercase = 1), "abcÉ", None),
        (with(|p| p.min_digits = 2), "abc1", Some(codes::MISSING_DIGITS)),
        (with(|p| p.min_digits = 2), "ab12", None),
        (with(|p| p.min_special = 1), "abc1", Some(codes::MISSING_SPECIAL)),
        (with(|p| p.min_special = 1), "ab c", None),
        (with(|p| p.min_letters = 3), "ab12", Some(codes::MISSING_LETTERS)),
        (with(|p| p.min_letters = 3), "日本語1", None),
        (with(|p| p.min_character_types = 3), "abcD", Some(codes::TOO_FEW_CHARACTER_TYPES)),
        (with(|p| p.min_character_types = 3), "abD!", None),
        (with(|p| p.max_repeated_chars = 2), "abbbc", Some(codes::REPEATED_CHARS)),
        (with(|p| p.max_repeated_chars = 2), "abbcbb", None),
        (with(|p| p.required_chars = "!?".into()), "abc", Some(codes::MISSING_REQUIRED_CHAR)),
        (with(|p| p.required_chars = "!?".into()), "ab?c", None),
        (with(|p| p.check_blocklist = true), "Password", Some(codes::IN_BLOCKLIST)),
        (with(|p| p.check_blocklist = true), "TRUSTNO1", Some(codes::IN_BLOCKLIST)),
        (with(|p| p.check_blocklist = true), "password!x", None),
        (with(|p| { p.check_blocklist = true; p.custom_blocklist = vec!["Acme Corp".into()] }), "acme CORP", Some(codes::IN_BLOCKLIST)),
        (with(|p| { p.check_blocklist = true; p.custom_blocklist = vec!["Acme".into()] }), "acme2026", None),
        (with(|p| p.check_account_attributes = true), "xx-ALICE-xx", Some(codes::CONTAINS_LOGIN)),
        (with(|p| p.check_account_attributes = true), "xxecilaxx", Some(codes::CONTAINS_LOGIN)),
        (with(|p| p.check_account_attributes = true), "1ASMITH.work1", Some(codes::CONTAINS_EMAIL)),
        (with(|p| p.check_account_attributes = true), "mr smithers!", Some(codes::CONTAINS_DISPLAY_NAME)),
        (with(|p| p.check_account_attributes = true), "van-van-van", None), // "van" < 4 code points
        (with(|p| { p.check_account_attributes = true; p.account_attributes = [AccountAttribute::Email].into() }), "xxalicexx", None),
        (with(|p| { p.check_account_attributes = true; p.attribute_min_word_length = 6 }), "xxalicexx", None),
    ];
    for (policy, password, expected) in cases {
        let found = codes_of(&policy, password);
        match expected {
            Some(code) => assert_eq!(found, [code], "{password:?}"),
            None => assert!(found.is_empty(), "{password:?}: {found:?}"),
        }
    }
}

#[test]
fn every_violation_comes_back_at_once_and_every_code_is_reachable() {
    let policy = PasswordPolicy {
        min_length: 30,
        min_lowercase: 1,
        min_uppercase: 1,
        min_digits: 1,
        min_special: 1,
        min_letters: 30,
        min_character_types: 4,
        max_repeated_chars: 1,
        required_chars: "#".into(),
        history: 3,
        ..PasswordPolicy::default()
    };
    let err = check_password(&policy, "aaaaaaalice", &alice(), |_, _| {
        panic!("history is not asked once a cheap rule fails")
    })
    .unwrap_err();
    let found: BTreeSet<&str> = err.codes().into_iter().collect();
    for code in [
        codes::TOO_SHORT,
        codes::MISSING_UPPERCASE,
        codes::MISSING_DIGITS,
        codes::MISSING_SPECIAL,
        codes::MISSING_LETTERS,
        codes::TOO_FEW_CHARACTER_TYPES,
        codes::REPEATED_CHARS,
        codes::MISSING_REQUIRED_CHAR,
        codes::CONTAINS_LOGIN,
    ] {
        assert!(found.contains(code), "{code} missing from {found:?}");
    }
    assert!(err.as_slice().iter().all(|v| v.field == "password"));
    assert!(
        !err.to_string().contains("aaaaaaalice"),
        "violations never echo the password"
    );

    // The codes not produced above are covered by each_rule_fires_alone_with_its_code and the
    // min-age test; this list keeps the two in step with codes::ALL.
    let elsewhere = [
        codes::TOO_LONG,
        codes::TOO_MANY_BYTES,
        codes::MISSING_LOWERCASE,
        codes::IN_BLOCKLIST,
        codes::CONTAINS_EMAIL,
        codes::CONTAINS_DISPLAY_NAME,
        codes::TOO_RECENT,
        codes::REUSED,
        // breached_passwords_are_judged_against_max_breaches
        codes::BREACHED,
        codes::BREACH_UNCHECKED,
    ];
    for code in codes::ALL {
        assert!(
            found.contains(code) || elsewhere.contains(code),
            "{code} has no test"
        );
    }
}

#[test]
fn history_is_asked_last_and_only_when_kept() {
    let asked = Cell::new(0);
    let policy = PasswordPolicy {
        history: 0,
        ..lax()
    };
    check_password(&policy, "whatever", &alice(), |_, _| {
        asked.set(asked.get() + 1);
        true
    })
    .unwrap();
    assert_eq!(asked.get(), 0);

    let policy = PasswordPolicy {
        history: 5,
        ..lax()
    };
    let err = check_password(&policy, "whatever", &alice(), |pw, n| {
        assert_eq!((pw, n), ("whatever", 5));
        true
    })
    .unwrap_err();
    assert_eq!(err.codes(), [codes::REUSED]);
    assert_eq!(err.as_slice()[0].params["history"], 5);
    check_password(&policy, "whatever", &alice(), |_, _| false).unwrap();
}

#[test]
fn history_is_not_asked_when_a_cheap_rule_fails() {
    let asked = Cell::new(0);
    let policy = PasswordPolicy {
        min_length: 12,
        history: 24,
        ..lax()
    };
    let err = check_password(&policy, "abc", &alice(), |_, _| {
        asked.set(asked.get() + 1);
        true
    })
    .unwrap_err();
    assert_eq!(err.codes(), [codes::TOO_SHORT]);
    assert_eq!(
        asked.get(),
        0,
        "no history verification for a too-short password"
    );
    check_password(&policy, "long enough password", &alice(), |_, _| {
        asked.set(asked.get() + 1);
        false
    })
    .unwrap();
    assert_eq!(
        asked.get(),
        1,
        "history still checked for a compliant password"
    );
}

#[test]
fn character_classes_count_code_points() {
    let c = CharClasses::of("aÉ1 !日ßß");
    assert_eq!(
        (
            c.length,
            c.lowercase,
            c.uppercase,
            c.letters,
            c.digits,
            c.special
        ),
        (8, 3, 1, 5, 1, 2)
    );
    assert_eq!((c.types(), c.longest_run), (4, 2));
}

#[test]
fn default_policy_accepts_a_long_passphrase_and_refuses_common_ones() {
    let policy = PasswordPolicy::default();
    assert!(codes_of(&policy, "lantern zebra copper mug").is_empty());
    assert_eq!(codes_of(&policy, "1234567887654321"), [codes::IN_BLOCKLIST]);
}

#[test]
fn age_rules() {
    let mut policy = PasswordPolicy {
        expiration_enabled: true,
        max_age_days: 10,
        expire_warn_days: 3,
        ..lax()
    };
    assert_eq!(expires_at(&policy, T0), Some(at(10 * 86_400)));
    assert_eq!(warn_from(&policy, T0), Some(at(7 * 86_400)));
    policy.expiration_enabled = false;
    assert_eq!(
        (expires_at(&policy, T0), warn_from(&policy, T0)),
        (None, None)
    );

    policy.min_age = 3600;
    let err = check_min_age(&policy, T0, false, at(3599)).unwrap_err();
    assert_eq!(err.code, codes::TOO_RECENT);
    assert_eq!(err.params["allowed_at"], "2026-11-23T10:00:00Z");
    check_min_age(&policy, T0, false, at(3600)).unwrap();
    check_min_age(&policy, T0, true, at(1)).unwrap();
}

#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/policy-reference.md"
    ))
    .unwrap();
    use portcullis_engine::api_key::codes as key;
    for code in codes::ALL.iter().chain(&[
        key::EXPIRY_IN_PAST,
        key::EXPIRY_REQUIRED,
        key::EXPIRY_TOO_LATE,
    ]) {
        assert!(
            doc.contains(&format!("`{code}`")),
            "docs/policy-reference.md lacks `{code}`"
        );
    }
}

#[test]
fn breached_passwords_are_judged_against_max_breaches() {
    use portcullis_engine::password_check::{BreachLookup, breach_violation};
    let off = PasswordPolicy::default();
    assert_eq!(
        breach_violation(&off, BreachLookup::Seen(1_000)),
        None,
        "off"
    );
    assert_eq!(breach_violation(&off, BreachLookup::NoSource), None, "off");
    let on = PasswordPolicy {
        check_breached: true,
        max_breaches: 2,
        ..PasswordPolicy::default()
    };
    assert_eq!(breach_violation(&on, BreachLookup::Seen(0)), None);
    assert_eq!(
        breach_violation(&on, BreachLookup::Seen(2)),
        None,
        "up to the maximum"
    );
    let found = breach_violation(&on, BreachLookup::Seen(3)).unwrap();
    assert_eq!(found.code, codes::BREACHED);
    assert_eq!(found.field, "password");
    assert_eq!(found.params["count"], 3);
    assert_eq!(found.params["max"], 2);
    let strict = PasswordPolicy {
        max_breaches: 0,
        ..on.clone()
    };
    assert!(
        breach_violation(&strict, BreachLookup::Seen(1)).is_some(),
        "0: none allowed"
    );
    assert_eq!(
        breach_violation(&on, BreachLookup::NoSource).unwrap().code,
        codes::BREACH_UNCHECKED
    );
}
