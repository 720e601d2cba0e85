//! The model's one integration-test binary: every validation rule with its code, defaults,
//! effective-policy resolution, and compliance with the built-in standards (`model/compliance.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use portcullis_model::*;
use serde_json::{Value, json};

#[path = "model/compliance.rs"]
mod compliance;
#[path = "model/schema_ranges.rs"]
mod schema_ranges;

/// Parses `patch` merged over the default of `kind` (for `password`, over the default policy
/// inside a one-element list, unless the patch is itself a list).
fn check(kind: SectionKind, patch: Value) -> Result<SectionValue, Violations> {
    let base = if kind == SectionKind::Password && !patch.is_array() {
        let mut policy = serde_json::to_value(PasswordPolicy::default()).unwrap();
        merge_patch(&mut policy, &patch);
        Value::Array(vec![policy])
    } else if patch.is_array() {
        patch
    } else {
        let mut base = SectionValue::parse(kind, json!({})).unwrap().to_json();
        merge_patch(&mut base, &patch);
        base
    };
    SectionValue::parse(kind, base)
}

fn policy_list(n: usize, defaults: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                let mut p = serde_json::to_value(PasswordPolicy::default()).unwrap();
                p["id"] = json!(format!("p{i}"));
                p["is_default"] = json!(i < defaults);
                p
            })
            .collect(),
    )
}

#[test]
fn every_rule_reports_its_code_on_its_field() {
    use SectionKind::*;
    let long = |n: usize| "x".repeat(n);
    let ips = |n: usize| {
        json!(
            (0..n)
                .map(|i| format!("10.0.{}.{}", i / 250, i % 250))
                .collect::<Vec<_>>()
        )
    };
    let p = |f: &str| format!("[0].{f}");
    #[rustfmt::skip]
    let cases: Vec<(SectionKind, Value, String, &str)> = vec![
        // password: ranges
        (Password, json!({"min_length": 0}), p("min_length"), codes::OUT_OF_RANGE),
        (Password, json!({"min_length": 4097, "max_length": 4096}), p("min_length"), codes::OUT_OF_RANGE),
        (Password, json!({"max_length": 4097}), p("max_length"), codes::OUT_OF_RANGE),
        (Password, json!({"min_lowercase": 65}), p("min_lowercase"), codes::OUT_OF_RANGE),
        (Password, json!({"min_uppercase": 65}), p("min_uppercase"), codes::OUT_OF_RANGE),
        (Password, json!({"min_digits": 65}), p("min_digits"), codes::OUT_OF_RANGE),
        (Password, json!({"min_special": 65}), p("min_special"), codes::OUT_OF_RANGE),
        (Password, json!({"min_letters": 65}), p("min_letters"), codes::OUT_OF_RANGE),
        (Password, json!({"min_character_types": 5}), p("min_character_types"), codes::OUT_OF_RANGE),
        (Password, json!({"max_repeated_chars": 129}), p("max_repeated_chars"), codes::OUT_OF_RANGE),
        (Password, json!({"required_chars": long(257)}), p("required_chars"), codes::TOO_LONG),
        (Password, json!({"custom_blocklist": vec!["w"; 1001]}), p("custom_blocklist"), codes::TOO_MANY),
        (Password, json!({"custom_blocklist": ["ok", " "]}), p("custom_blocklist[1]"), codes::REQUIRED),
        (Password, json!({"custom_blocklist": [long(257)]}), p("custom_blocklist[0]"), codes::TOO_LONG),
        (Password, json!({"attribute_min_word_length": 0}), p("attribute_min_word_length"), codes::OUT_OF_RANGE),
        (Password, json!({"history": 25}), p("history"), codes::OUT_OF_RANGE),
        (Password, json!({"min_age": 31_536_001}), p("min_age"), codes::OUT_OF_RANGE),
        (Password, json!({"max_age_days": 0}), p("max_age_days"), codes::OUT_OF_RANGE),
        (Password, json!({"max_age_days": 3651}), p("max_age_days"), codes::OUT_OF_RANGE),
        (Password, json!({"expire_warn_days": 3651}), p("expire_warn_days"), codes::OUT_OF_RANGE),
        (Password, json!({"grace_period": 31_536_001}), p("grace_period"), codes::OUT_OF_RANGE),
        // password: identity
        (Password, json!({"id": "a b"}), p("id"), codes::INVALID_ID),
        (Password, json!({"name": ""}), p("name"), codes::REQUIRED),
        (Password, json!({"name": long(129)}), p("name"), codes::TOO_LONG),
        (Password, json!({"description": long(1025)}), p("description"), codes::TOO_LONG),
        (Password, json!({"sources": vec!["s"; 101]}), p("sources"), codes::TOO_MANY),
        (Password, json!({"sources": ["ldap", "ldap"]}), p("sources[1]"), codes::DUPLICATE),
        (Password, json!({"sources": [""]}), p("sources[0]"), codes::REQUIRED),
        (Password, json!({"sources": [long(129)]}), p("sources[0]"), codes::TOO_LONG),
        // password: cross-field
        (Password, json!({"min_length": 20, "max_length": 16}), p("min_length"), codes::MIN_LENGTH_EXCEEDS_MAX),
        (Password, json!({"max_length": 64, "min_lowercase": 40, "min_uppercase": 30}), p("max_length"), codes::CLASS_MINIMUMS_EXCEED_MAX),
        (Password, json!({"min_length": 8, "max_length": 20, "min_letters": 15, "min_digits": 6}), p("max_length"), codes::CLASS_MINIMUMS_EXCEED_MAX),
        (Password, json!({"hash_algorithm": "bcrypt"}), p("max_length"), codes::BCRYPT_MAX_LENGTH),
        (Password, json!({"expiration_enabled": true, "max_age_days": 30, "expire_warn_days": 30}), p("expire_warn_days"), codes::WARN_EXCEEDS_MAX_AGE),
        // password: the list
        (Password, policy_list(2, 0), String::new(), codes::DEFAULT_COUNT),
        (Password, policy_list(2, 2), String::new(), codes::DEFAULT_COUNT),
        (Password, policy_list(51, 1), String::new(), codes::TOO_MANY),
        (Password, json!([{"id": "a", "is_default": true}, {"id": "a", "is_default": false}]), "[1].id".into(), codes::DUPLICATE),
        (Password, json!({"min_length": "15"}), p("min_length"), codes::INVALID_JSON),
        // lockout
        (Lockout, json!({"max_password_attempts": 0}), "max_password_attempts".into(), codes::OUT_OF_RANGE),
        (Lockout, json!({"max_password_attempts": 1001}), "max_password_attempts".into(), codes::OUT_OF_RANGE),
        (Lockout, json!({"max_otp_attempts": 1001}), "max_otp_attempts".into(), codes::OUT_OF_RANGE),
        (Lockout, json!({"window": 0}), "window".into(), codes::OUT_OF_RANGE),
        (Lockout, json!({"lock_duration": 630_720_001u64}), "lock_duration".into(), codes::OUT_OF_RANGE),
        (Lockout, json!({"scope": "ip"}), "scope".into(), codes::INVALID_JSON),
        (Lockout, json!({"unknown": 1}), "unknown".into(), codes::INVALID_JSON),
        // brute force
        (BruteForce, json!({"max_attempts": 0}), "max_attempts".into(), codes::OUT_OF_RANGE),
        (BruteForce, json!({"window": 0}), "window".into(), codes::OUT_OF_RANGE),
        (BruteForce, json!({"block_duration": 0}), "block_duration".into(), codes::OUT_OF_RANGE),
        (BruteForce, json!({"allowlist": ["10.0.0.1", "10.0.0.300"]}), "allowlist[1]".into(), codes::INVALID_IP),
        (BruteForce, json!({"allowlist": ["2001:db8::/129"]}), "allowlist[0]".into(), codes::INVALID_IP),
        (BruteForce, json!({"allowlist": ips(101)}), "allowlist".into(), codes::TOO_MANY),
        // session
        (Session, json!({"max_session_duration": 599}), "max_session_duration".into(), codes::OUT_OF_RANGE),
        (Session, json!({"max_session_duration": 15_552_001}), "max_session_duration".into(), codes::OUT_OF_RANGE),
        (Session, json!({"idle_timeout": 59}), "idle_timeout".into(), codes::OUT_OF_RANGE),
        (Session, json!({"account_validity_days": 3651}), "account_validity_days".into(), codes::OUT_OF_RANGE),
        (Session, json!({"login_banner": long(1025)}), "login_banner".into(), codes::TOO_LONG),
        // api keys
        (ApiKeys, json!({"max_expiration": 315_360_001u64}), "max_expiration".into(), codes::OUT_OF_RANGE),
        // mfa
        (Mfa, json!({"trusted_networks": ["nope"]}), "trusted_networks[0]".into(), codes::INVALID_IP),
        (Mfa, json!({"trusted_networks": ips(101)}), "trusted_networks".into(), codes::TOO_MANY),
        // features
        (Features, json!({"tenant_settings": {"big": long(70_000)}}), "tenant_settings".into(), codes::TOO_LARGE),
        (Features, json!({"tenant_settings": {"branding": nested(32)}}), "tenant_settings".into(), codes::TOO_DEEP),
        (Features, json!({"dialect_settings": {"x": nested(40)}}), "dialect_settings".into(), codes::TOO_DEEP),
        (BruteForce, json!({"ipv6_prefix": 31}), "ipv6_prefix".into(), codes::OUT_OF_RANGE),
        (BruteForce, json!({"ipv4_prefix": 33}), "ipv4_prefix".into(), codes::OUT_OF_RANGE),
    ];

    // At the limit: accepted.
    check(
        Features,
        json!({"tenant_settings": {"branding": nested(31)}}),
    )
    .unwrap();
    let mut seen = BTreeSet::new();
    for (kind, patch, field, code) in cases {
        let err = check(kind, patch.clone()).expect_err(&format!("{kind} {patch} should fail"));
        assert!(
            err.contains(&field, code),
            "{kind} {patch}: expected {code} on `{field}`, got {err}"
        );
        seen.insert(code);
    }
    // The token lifetimes, each just outside both ends of its range.
    for (field, min, max) in TOKEN_RANGES {
        for bad in [min - 1, max + 1] {
            let err = check(SectionKind::Tokens, json!({ field: bad })).unwrap_err();
            assert!(
                err.contains(field, codes::OUT_OF_RANGE),
                "tokens.{field}={bad}: {err}"
            );
        }
        for good in [min, max] {
            check(SectionKind::Tokens, json!({ field: good })).unwrap();
        }
    }
    let untested: Vec<_> = codes::ALL.iter().filter(|c| !seen.contains(*c)).collect();
    assert!(
        untested.is_empty(),
        "codes without a test case: {untested:?}"
    );
}

#[test]
fn boundaries_are_inclusive() {
    use SectionKind::*;
    #[rustfmt::skip]
    let ok: Vec<(SectionKind, Value)> = vec![
        (Password, json!({"min_length": 1, "max_length": 1})),
        (Password, json!({"min_length": 4096, "max_length": 4096})),
        (Password, json!({"hash_algorithm": "bcrypt", "max_length": 72})),
        (Password, json!({"max_length": 64, "min_lowercase": 32, "min_uppercase": 32, "min_length": 64})),
        (Password, json!({"min_letters": 10, "min_lowercase": 5, "min_uppercase": 5, "max_length": 10, "min_length": 10})),
        (Password, json!({"expiration_enabled": true, "max_age_days": 30, "expire_warn_days": 29})),
        (Password, json!({"expiration_enabled": false, "max_age_days": 30, "expire_warn_days": 60})),
        (Password, json!({"history": 24, "min_character_types": 4, "max_repeated_chars": 128})),
        (Lockout, json!({"max_password_attempts": 1, "max_otp_attempts": 0, "window": null, "lock_duration": null})),
        (Lockout, json!({"max_password_attempts": 1000, "window": 630_720_000u64, "lock_duration": 1})),
        (BruteForce, json!({"allowlist": ["10.0.0.0/8", "2001:db8::/32", "::1", "192.168.1.7"]})),
        (Session, json!({"max_session_duration": 600, "idle_timeout": null, "account_validity_days": 3650})),
        (Session, json!({"max_session_duration": 15_552_000, "idle_timeout": 60})),
        (ApiKeys, json!({"max_expiration": 0})),
        (Mfa, json!({"required": true, "trusted_networks": ["10.0.0.0/8"]})),
        (Features, json!({"tenant_settings": {"branding": {"display_name": "Acme"}}})),
    ];
    for (kind, patch) in ok {
        check(kind, patch.clone()).unwrap_or_else(|e| panic!("{kind} {patch}: {e}"));
    }
}

#[test]
fn all_violations_come_back_together() {
    let err = check(
        SectionKind::Password,
        json!({"min_length": 0, "history": 99, "name": "", "hash_algorithm": "bcrypt"}),
    )
    .unwrap_err();
    for (field, code) in [
        ("[0].min_length", codes::OUT_OF_RANGE),
        ("[0].history", codes::OUT_OF_RANGE),
        ("[0].name", codes::REQUIRED),
        ("[0].max_length", codes::BCRYPT_MAX_LENGTH),
    ] {
        assert!(
            err.contains(field, code),
            "missing {code} on {field}: {err}"
        );
    }
    let v = err
        .as_slice()
        .iter()
        .find(|v| v.field == "[0].min_length")
        .unwrap();
    assert_eq!(
        (&v.params["min"], &v.params["max"]),
        (&json!(1), &json!(4096)),
        "bounds are params"
    );
}

#[test]
fn every_default_is_valid_and_matches_design() {
    for kind in SectionKind::ALL {
        check(kind, json!({})).unwrap_or_else(|e| panic!("default {kind}: {e}"));
    }
    let p = PasswordPolicy::default();
    assert_eq!(
        (
            p.min_length,
            p.max_length,
            p.history,
            p.attribute_min_word_length
        ),
        (15, 128, 0, 4)
    );
    assert!(p.check_blocklist && p.check_account_attributes && !p.expiration_enabled);
    assert_eq!(
        (p.max_age_days, p.hash_algorithm),
        (90, HashAlgorithm::Argon2id)
    );
    let l = LockoutPolicy::default();
    assert!(l.enabled && l.reset_after_success && l.reveal_lock);
    assert_eq!((l.max_password_attempts, l.max_otp_attempts), (10, 10));
    assert_eq!(BruteForcePolicy::default().max_attempts, 10);
}

#[test]
fn canonical_names_round_trip() {
    let json = serde_json::to_value(PasswordPolicy::default()).unwrap();
    for field in [
        "min_length",
        "max_length",
        "min_lowercase",
        "min_uppercase",
        "min_digits",
        "min_special",
        "min_letters",
        "min_character_types",
        "max_repeated_chars",
        "required_chars",
        "check_blocklist",
        "custom_blocklist",
        "check_account_attributes",
        "account_attributes",
        "attribute_min_word_length",
        "history",
        "min_age",
        "expiration_enabled",
        "max_age_days",
        "expire_warn_days",
        "renew_on_first_login",
        "grace_period",
        "require_mfa",
        "require_mfa_off_network",
        "require_mfa_untrusted_geographies",
        "hash_algorithm",
        "sources",
        "is_default",
        "name",
        "description",
        "id",
    ] {
        assert!(json.get(field).is_some(), "password policy lacks `{field}`");
    }
    assert_eq!(
        json["account_attributes"],
        json!(["login", "email", "display_name"])
    );
    let lockout = serde_json::to_value(LockoutPolicy::default()).unwrap();
    assert_eq!(lockout["scope"], json!("login"));
    assert_eq!(lockout["window"], Value::Null);
    for kind in SectionKind::ALL {
        let value = check(kind, json!({})).unwrap();
        assert_eq!(
            SectionValue::parse(kind, value.to_json()).unwrap(),
            value,
            "{kind}"
        );
        assert_eq!(kind.as_str().parse::<SectionKind>().unwrap(), kind);
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
    }
    assert!("passwords".parse::<SectionKind>().is_err());
}

#[test]
fn valid_wrapper_refuses_invalid_values_when_deserialized() {
    let bad = json!({"value": {"max_password_attempts": 0}, "details": details(1, "o")});
    assert!(serde_json::from_value::<Stored<LockoutPolicy>>(bad).is_err());
}

fn details(sequence: u64, owner: &str) -> Value {
    serde_json::to_value(SectionDetails {
        sequence,
        created_at: time::macros::datetime!(2026-01-01 0:00 UTC),
        changed_at: time::macros::datetime!(2026-01-02 0:00 UTC),
        resource_owner: owner.into(),
    })
    .unwrap()
}

fn details_of(sequence: u64, owner: &str) -> SectionDetails {
    serde_json::from_value(details(sequence, owner)).unwrap()
}

#[test]
fn resolution_inherits_overrides_and_resets() {
    let mut instance = InstancePolicy::builtin("instance");
    let mut org = OrgOverrides::default();

    let eff = resolve(&instance, &org);
    assert!(eff.lockout.is_default);
    assert_eq!(eff.lockout.details.resource_owner, "instance");
    assert_eq!(eff.lockout.value.max_password_attempts, 10);

    // A change of the instance default reaches every organization that inherits.
    let five =
        SectionValue::parse(SectionKind::Lockout, json!({"max_password_attempts": 5})).unwrap();
    instance.set(five, details_of(7, "instance"));
    let eff = resolve(&instance, &org);
    assert_eq!(eff.lockout.value.max_password_attempts, 5);
    assert!(eff.lockout.is_default);
    assert_eq!(eff.lockout.details.sequence, 7);

    // Writing the section gives the organization its own copy; the instance no longer matters.
    let three = eff
        .section(SectionKind::Lockout)
        .patch(&json!({"max_password_attempts": 3}))
        .unwrap();
    org.set(three, details_of(8, "acme"));
    let eff = resolve(&instance, &org);
    assert!(!eff.lockout.is_default);
    assert_eq!(eff.lockout.value.max_password_attempts, 3);
    assert_eq!(
        eff.lockout.value.lock_duration,
        Some(900),
        "the copy starts from what was inherited"
    );
    assert_eq!(
        eff.section_meta(SectionKind::Lockout),
        (false, &details_of(8, "acme"))
    );
    assert!(eff.session.is_default, "other sections still inherit");
    assert!(org.has_custom(SectionKind::Lockout));

    instance.set(
        SectionValue::parse(SectionKind::Lockout, json!({"max_password_attempts": 9})).unwrap(),
        details_of(9, "instance"),
    );
    assert_eq!(
        resolve(&instance, &org).lockout.value.max_password_attempts,
        3
    );

    // Reset: inherit again.
    assert!(org.reset(SectionKind::Lockout));
    assert!(
        !org.reset(SectionKind::Lockout),
        "a second reset finds nothing to delete"
    );
    let eff = resolve(&instance, &org);
    assert!(eff.lockout.is_default);
    assert_eq!(eff.lockout.value.max_password_attempts, 9);
}

#[test]
fn user_policy_follows_its_source() {
    let list = json!([
        {"id": "default", "is_default": true, "min_length": 15},
        {"id": "ldap", "is_default": false, "sources": ["ldap", "ad"], "min_length": 10},
        {"id": "ad2", "is_default": false, "sources": ["ad"], "min_length": 20},
    ]);
    let SectionValue::Password(list) = SectionValue::parse(SectionKind::Password, list).unwrap()
    else {
        unreachable!()
    };
    assert_eq!(list.for_source(None).id, "default");
    assert_eq!(list.for_source(Some("ldap")).id, "ldap");
    assert_eq!(
        list.for_source(Some("ad")).id,
        "ldap",
        "the first listing policy wins"
    );
    assert_eq!(list.for_source(Some("saml")).id, "default");
    assert_eq!(list.get("ad2").unwrap().min_length, 20);
}

#[test]
fn violation_paths_and_display() {
    assert_eq!(join_path("", "a"), "a");
    assert_eq!(join_path("a", ""), "a");
    assert_eq!(join_path("a", "b"), "a.b");
    assert_eq!(join_path("a", "[1]"), "a[1]");
    let v =
        Violations::one(Violation::new("x", codes::REQUIRED, "must not be empty")).under("lockout");
    assert_eq!(
        v.to_string(),
        "lockout.x: must not be empty (value.required)"
    );
    assert!(Violations::from_vec(vec![]).is_none());
}

/// docs/policy-reference.md must name every field of every section and every violation code.
#[test]
fn policy_reference_lists_every_field() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/policy-reference.md"
    ))
    .expect("docs/policy-reference.md");
    let mut fields: Vec<String> = serde_json::to_value(PasswordPolicy::default())
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for kind in SectionKind::ALL
        .into_iter()
        .filter(|k| *k != SectionKind::Password)
    {
        let value = SectionValue::parse(kind, json!({})).unwrap().to_json();
        fields.extend(value.as_object().unwrap().keys().cloned());
        assert!(
            doc.contains(&format!("## `{kind}`")),
            "no section heading for {kind}"
        );
    }
    for field in fields {
        assert!(
            doc.contains(&format!("| `{field}` |")),
            "docs/policy-reference.md lacks `{field}`"
        );
    }
    for code in codes::ALL {
        assert!(
            doc.contains(&format!("`{code}`")),
            "docs/policy-reference.md lacks code `{code}`"
        );
    }
}

/// An object nesting `levels` objects deep (`{"a": {"a": … {}}}` with `levels` braces).
fn nested(levels: usize) -> serde_json::Value {
    let mut v = json!({});
    for _ in 1..levels {
        v = json!({ "a": v });
    }
    v
}
