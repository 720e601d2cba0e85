//! Compliance: every rule of every built-in standard with a failing and a passing policy, the
//! catalog's consistency (conflicts name real clauses, a shared rule id means one rule), how `null`
//! and `0` are read, conflicts between standards, and presets (the built-in default made to pass,
//! minimal and valid changes, nothing for a passing policy, other password policies, errors).

use std::collections::{BTreeMap, BTreeSet};

use portcullis_model::compliance::*;
use portcullis_model::*;
use serde_json::{Value, json};

/// The built-in default policy with the top-level fields of `setup` set per section
/// (`{"lockout": {"lock_duration": null}}`; `password` sets fields of the default policy, or is a
/// whole list). Fields are replaced, not merged, so `null` clears an optional value.
fn policy(setup: Value) -> EffectivePolicy {
    let mut instance = InstancePolicy::builtin("instance");
    for (name, fields) in setup.as_object().unwrap() {
        let kind: SectionKind = name.parse().unwrap();
        let json = if kind == SectionKind::Password && fields.is_array() {
            fields.clone()
        } else {
            let mut base = if kind == SectionKind::Password {
                serde_json::to_value(PasswordPolicy::default()).unwrap()
            } else {
                SectionValue::parse(kind, json!({})).unwrap().to_json()
            };
            for (key, value) in fields.as_object().unwrap() {
                base[key] = value.clone();
            }
            if kind == SectionKind::Password {
                json!([base])
            } else {
                base
            }
        };
        let value = SectionValue::parse(kind, json).unwrap_or_else(|e| panic!("{setup}: {e}"));
        instance.set(value, SectionDetails::builtin("instance"));
    }
    resolve(&instance, &OrgOverrides::default())
}

fn builtin() -> EffectivePolicy {
    policy(json!({}))
}

fn by_id(id: &str) -> &'static Standard {
    standard(id).unwrap()
}

/// Every section of `policy` passes validation again from its JSON.
fn assert_valid(policy: &EffectivePolicy) {
    for kind in SectionKind::ALL {
        let value = policy.section(kind);
        SectionValue::parse(kind, value.to_json()).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
}

#[test]
fn the_catalog_loads_and_is_consistent() {
    let all = standards().unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, STANDARD_IDS);
    let clauses: BTreeMap<&str, BTreeSet<&str>> = all
        .iter()
        .map(|s| {
            let cited = s.rules.iter().map(|r| r.clause.as_str()).collect();
            (s.id.as_str(), cited)
        })
        .collect();
    let mut seen: BTreeMap<&str, &Rule> = BTreeMap::new();
    for s in all {
        assert!(!s.source.is_empty() && !s.rules.is_empty(), "{}", s.id);
        for rule in &s.rules {
            if let Some(before) = seen.insert(&rule.id, rule) {
                assert_eq!(before, rule, "rule `{}` differs between standards", rule.id);
            }
            for conflict in &rule.conflicts {
                assert!(
                    clauses
                        .get(conflict.standard.as_str())
                        .is_some_and(|c| c.contains(conflict.clause.as_str())),
                    "{}: conflict names {} {}, which no rule cites",
                    rule.id,
                    conflict.standard,
                    conflict.clause
                );
            }
        }
    }
    assert_eq!(
        standard("iso-27001"),
        Err(StandardError::Unknown("iso-27001".into()))
    );
    assert_eq!(by_id("pci-dss-4.0.1").rules.len(), 14);
}

/// Every rule of every standard, with a policy that fails it and one that passes it. A rule id
/// shared by two standards is checked in both.
#[test]
fn every_rule_fails_and_passes() {
    let comp = |field: &str, value: Value| Some(json!({"password": { field: value }}));
    #[rustfmt::skip]
    let cases: Vec<(&str, Option<Value>, Value)> = vec![
        // NIST SP 800-63B-4
        ("nist-3.1.1.2-min-length-single-factor", Some(json!({"password": {"min_length": 14}})), json!({"password": {"min_length": 15}})),
        ("nist-3.1.1.2-min-length-multi-factor", Some(json!({"password": {"min_length": 7, "require_mfa": true}})), json!({"mfa": {"required": true}, "password": {"min_length": 8}})),
        ("nist-3.1.1.2-min-length-aal2", Some(json!({"password": {"min_length": 7}})), json!({"password": {"min_length": 8}})),
        ("nist-3.1.1.2-max-length", Some(json!({"password": {"max_length": 63}})), json!({"password": {"max_length": 64}})),
        ("nist-3.1.1.2-no-min-lowercase", comp("min_lowercase", json!(1)), json!({})),
        ("nist-3.1.1.2-no-min-uppercase", comp("min_uppercase", json!(1)), json!({})),
        ("nist-3.1.1.2-no-min-digits", comp("min_digits", json!(1)), json!({})),
        ("nist-3.1.1.2-no-min-special", comp("min_special", json!(1)), json!({})),
        ("nist-3.1.1.2-no-min-letters", comp("min_letters", json!(1)), json!({})),
        ("nist-3.1.1.2-no-min-character-types", comp("min_character_types", json!(2)), json!({})),
        ("nist-3.1.1.2-no-required-chars", comp("required_chars", json!("!?")), json!({})),
        ("nist-3.1.1.2-no-periodic-change", comp("expiration_enabled", json!(true)), json!({})),
        ("nist-3.1.1.2-blocklist", comp("check_blocklist", json!(false)), json!({})),
        ("nist-3.1.1.2-context-words", comp("check_account_attributes", json!(false)), json!({})),
        ("nist-3.2.2-lockout-enabled", Some(json!({"lockout": {"enabled": false}})), json!({})),
        ("nist-3.2.2-max-password-attempts", Some(json!({"lockout": {"max_password_attempts": 101}})), json!({"lockout": {"max_password_attempts": 100}})),
        ("nist-3.2.2-max-otp-attempts", Some(json!({"lockout": {"max_otp_attempts": 0}})), json!({"lockout": {"max_otp_attempts": 100}})),
        ("nist-2.1.3-session-lifetime", Some(json!({"session": {"max_session_duration": 2_592_001}})), json!({"session": {"max_session_duration": 2_592_000}})),
        ("nist-2.2.1-mfa", Some(json!({"mfa": {"required_off_network": true}})), json!({"password": {"require_mfa": true}})),
        ("nist-2.2.3-session-lifetime", Some(json!({"session": {"max_session_duration": 86_401}})), json!({"session": {"max_session_duration": 86_400}})),
        ("nist-2.2.3-idle-timeout", Some(json!({"session": {"idle_timeout": null}})), json!({"session": {"idle_timeout": 3600}})),
        // PCI DSS v4.0.1
        ("pci-8.2.6-inactive-accounts", Some(json!({"session": {"account_validity_days": 0}})), json!({"session": {"account_validity_days": 90}})),
        ("pci-8.2.8-idle-timeout", Some(json!({"session": {"idle_timeout": 901}})), json!({"session": {"idle_timeout": 900}})),
        ("pci-8.3.4-lockout-enabled", Some(json!({"lockout": {"enabled": false}})), json!({})),
        ("pci-8.3.4-max-password-attempts", Some(json!({"lockout": {"max_password_attempts": 11}})), json!({"lockout": {"max_password_attempts": 10}})),
        ("pci-8.3.4-lock-duration", Some(json!({"lockout": {"lock_duration": 1799}})), json!({"lockout": {"lock_duration": null}})),
        ("pci-8.3.4-max-otp-attempts", Some(json!({"lockout": {"max_otp_attempts": 11}})), json!({"lockout": {"max_otp_attempts": 10}})),
        ("pci-8.3.5-change-at-first-use", Some(json!({})), json!({"password": {"renew_on_first_login": true}})),
        ("pci-8.3.6-min-length", Some(json!({"password": {"min_length": 11}})), json!({"password": {"min_length": 12}})),
        ("pci-8.3.6-letters", Some(json!({})), json!({"password": {"min_lowercase": 1}})),
        ("pci-8.3.6-digits", Some(json!({})), json!({"password": {"min_digits": 1}})),
        ("pci-8.3.7-history", Some(json!({"password": {"history": 3}})), json!({"password": {"history": 4}})),
        ("pci-8.3.9-expiry", Some(json!({})), json!({"password": {"expiration_enabled": true}})),
        ("pci-8.3.9-max-age", Some(json!({"password": {"max_age_days": 91}})), json!({"password": {"max_age_days": 90}})),
        ("pci-8.4.2-mfa", Some(json!({})), json!({"mfa": {"required": true}})),
        // OWASP ASVS 5.0
        ("asvs-v6.2.1-min-length", Some(json!({"password": {"min_length": 7}})), json!({"password": {"min_length": 8}})),
        ("asvs-v6.2.4-common-passwords", comp("check_blocklist", json!(false)), json!({})),
        ("asvs-v6.2.5-no-min-lowercase", comp("min_lowercase", json!(1)), json!({})),
        ("asvs-v6.2.5-no-min-uppercase", comp("min_uppercase", json!(1)), json!({})),
        ("asvs-v6.2.5-no-min-digits", comp("min_digits", json!(1)), json!({})),
        ("asvs-v6.2.5-no-min-special", comp("min_special", json!(1)), json!({})),
        ("asvs-v6.2.5-no-min-letters", comp("min_letters", json!(1)), json!({})),
        ("asvs-v6.2.5-no-min-character-types", comp("min_character_types", json!(1)), json!({})),
        ("asvs-v6.2.5-no-required-chars", comp("required_chars", json!("#")), json!({})),
        ("asvs-v6.3.1-lockout", Some(json!({"lockout": {"enabled": false}})), json!({})),
        ("asvs-v6.3.1-ip-blocking", Some(json!({"brute_force": {"enabled": false}})), json!({})),
        ("asvs-v6.2.9-max-length", Some(json!({"password": {"max_length": 63}})), json!({"password": {"max_length": 64}})),
        ("asvs-v6.2.10-no-periodic-rotation", comp("expiration_enabled", json!(true)), json!({})),
        ("asvs-v6.2.11-context-words", comp("check_account_attributes", json!(false)), json!({})),
        ("asvs-v6.2.12-breached-passwords", comp("check_blocklist", json!(false)), json!({})),
        ("asvs-v6.3.3-mfa", Some(json!({})), json!({"mfa": {"required": true}})),
        ("asvs-v7.3.1-idle-timeout", Some(json!({"session": {"idle_timeout": null}})), json!({"session": {"idle_timeout": 60}})),
        // Cannot fail: the model's absolute session lifetime is never off (600 s to 180 days).
        ("asvs-v7.3.2-session-lifetime", None, json!({"session": {"max_session_duration": 15_552_000}})),
    ];

    let mut covered = BTreeSet::new();
    for (id, failing, passing) in &cases {
        let holders: Vec<&Standard> = standards()
            .unwrap()
            .iter()
            .filter(|s| s.rule(id).is_some())
            .collect();
        assert!(!holders.is_empty(), "no standard has rule `{id}`");
        for s in holders {
            let rule = s.rule(id).unwrap();
            if let Some(failing) = failing {
                let outcome = evaluate(s, &policy(failing.clone()))
                    .outcome(id)
                    .cloned()
                    .unwrap();
                assert_eq!(outcome.status, Status::Fail, "{} {id} {failing}", s.id);
                assert_eq!(outcome.reason, rule.reason);
                let field = rule.field.strip_prefix("password.");
                if let Some(name) = field {
                    assert_eq!(outcome.field, format!("password[default].{name}"));
                } else {
                    assert_eq!(outcome.field, rule.field);
                }
            }
            let outcome = evaluate(s, &policy(passing.clone()))
                .outcome(id)
                .cloned()
                .unwrap();
            assert_eq!(outcome.status, Status::Pass, "{} {id} {passing}", s.id);
            assert_eq!(
                (&outcome.clause, &outcome.requirement),
                (&rule.clause, &rule.require)
            );
        }
        assert!(covered.insert(*id), "`{id}` listed twice");
    }
    let all: BTreeSet<&str> = standards()
        .unwrap()
        .iter()
        .flat_map(|s| s.rules.iter().map(|r| r.id.as_str()))
        .collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(missing.is_empty(), "rules without a case: {missing:?}");
}

/// `null` and `0` are read as the policy reference says: a lock until unlocked is the longest
/// lock, an idle timeout that is off is no limit, and 0 days or attempts mean "off".
#[test]
fn null_and_zero_are_read_as_no_limit() {
    let status = |standard: &str, rule: &str, setup: Value| {
        evaluate(by_id(standard), &policy(setup))
            .outcome(rule)
            .unwrap()
            .status
    };
    use Status::*;
    #[rustfmt::skip]
    let cases = [
        ("pci-dss-4.0.1", "pci-8.3.4-lock-duration", json!({"lockout": {"lock_duration": null}}), Pass),
        ("pci-dss-4.0.1", "pci-8.3.4-lock-duration", json!({"lockout": {"lock_duration": 1800}}), Pass),
        ("pci-dss-4.0.1", "pci-8.2.8-idle-timeout", json!({"session": {"idle_timeout": null}}), Fail),
        ("pci-dss-4.0.1", "pci-8.2.6-inactive-accounts", json!({"session": {"account_validity_days": 91}}), Fail),
        ("pci-dss-4.0.1", "pci-8.3.4-max-otp-attempts", json!({"lockout": {"max_otp_attempts": 0}}), Fail),
        ("owasp-asvs-5.0-l2", "asvs-v7.3.1-idle-timeout", json!({"session": {"idle_timeout": null}}), Fail),
        ("nist-800-63b-4-aal2", "nist-2.2.3-idle-timeout", json!({"session": {"idle_timeout": 3601}}), Fail),
    ];
    for (standard, rule, setup, expected) in cases {
        assert_eq!(
            status(standard, rule, setup.clone()),
            expected,
            "{rule} {setup}"
        );
    }
    let outcome = evaluate(
        by_id("pci-dss-4.0.1"),
        &policy(json!({"lockout": {"lock_duration": null}})),
    );
    let lock = outcome.outcome("pci-8.3.4-lock-duration").unwrap();
    assert_eq!(lock.current, Value::Null);
    assert_eq!(lock.required, "null (no limit) or at least 1800");
}

/// PCI's expiry applies only where the password is the only factor; NIST's length depends on it.
#[test]
fn conditions_make_rules_not_applicable_with_a_reason() {
    let pci = by_id("pci-dss-4.0.1");
    let with_mfa = evaluate(pci, &policy(json!({"mfa": {"required": true}})));
    for id in ["pci-8.3.9-expiry", "pci-8.3.9-max-age"] {
        let outcome = with_mfa.outcome(id).unwrap();
        assert_eq!(outcome.status, Status::NotApplicable, "{id}");
        assert_eq!(
            outcome.reason,
            pci.rule(id).unwrap().when.as_ref().unwrap().otherwise
        );
    }
    assert_eq!(
        evaluate(pci, &builtin())
            .outcome("pci-8.3.9-expiry")
            .unwrap()
            .status,
        Status::Fail
    );

    let aal1 = by_id("nist-800-63b-4-aal1");
    let report = evaluate(aal1, &builtin());
    assert_eq!(
        report
            .outcome("nist-3.1.1.2-min-length-multi-factor")
            .unwrap()
            .status,
        Status::NotApplicable
    );
    assert_eq!(report.summary.not_applicable, 1);
    assert!(report.passes(), "the built-in default meets AAL1");
    assert_eq!(
        report.summary.pass + report.summary.fail + report.summary.not_applicable,
        aal1.rules.len()
    );

    // Per password policy: the default (single factor) needs 15, a policy whose users must pass
    // MFA may go down to 8.
    let list = json!([
        {"id": "default", "is_default": true, "min_length": 15},
        {"id": "staff", "is_default": false, "sources": ["ldap"], "min_length": 8, "require_mfa": true},
    ]);
    let report = evaluate(aal1, &policy(json!({"password": list})));
    assert!(
        report.passes(),
        "{:?}",
        report.failures().collect::<Vec<_>>()
    );
    let multi = report
        .outcome("nist-3.1.1.2-min-length-multi-factor")
        .unwrap();
    assert_eq!(
        (multi.status, multi.field.as_str()),
        (Status::Pass, "password[staff].min_length")
    );
}

#[test]
fn a_failing_non_default_policy_is_named_and_patched() {
    let list = json!([
        {"id": "legacy", "is_default": false, "sources": ["ldap"], "min_length": 10, "max_length": 32},
        {"id": "default", "is_default": true},
    ]);
    let start = policy(json!({"password": list}));
    let aal1 = by_id("nist-800-63b-4-aal1");
    let report = evaluate(aal1, &start);
    let length = report
        .outcome("nist-3.1.1.2-min-length-single-factor")
        .unwrap();
    assert_eq!(length.status, Status::Fail);
    assert_eq!(length.field, "password[legacy].min_length");
    assert_eq!(length.current, json!(10));

    let found = preset(aal1, &start).unwrap();
    assert_eq!(found.changes.len(), 1, "{:?}", found.changes);
    let change = &found.changes[0];
    assert_eq!(change.password_policy.as_deref(), Some("legacy"));
    assert_eq!(
        change.patch,
        SectionPatch::Password(PasswordPolicyPatch {
            min_length: Some(15),
            max_length: Some(64),
            ..PasswordPolicyPatch::default()
        })
    );
    let after = apply_changes(&start, &found.changes).unwrap();
    assert!(evaluate(aal1, &after).passes());
    assert_eq!(
        after.password.value.get("default"),
        start.password.value.get("default"),
        "the default policy is untouched"
    );
}

/// For every standard, the preset of the built-in default makes it pass, validates, names only
/// what changes, and asks nothing more once applied.
#[test]
fn presets_make_the_builtin_default_pass() {
    let start = builtin();
    for s in standards().unwrap() {
        let found = preset(s, &start).unwrap_or_else(|e| panic!("{}: {e}", s.id));
        assert_eq!(found.standard, s.id);
        let after = apply_changes(&start, &found.changes).unwrap();
        let report = evaluate(s, &after);
        assert!(
            report.passes(),
            "{}: {:?}",
            s.id,
            report.failures().collect::<Vec<_>>()
        );
        assert_valid(&after);
        for change in &found.changes {
            assert!(!change.patch.is_empty());
        }
        assert!(
            preset(s, &after).unwrap().is_empty(),
            "{}: a passing policy needs no change",
            s.id
        );
        let written = changed_sections(&start, &found.changes).unwrap();
        assert_eq!(written.len(), {
            let kinds: BTreeSet<_> = found.changes.iter().map(|c| c.patch.kind()).collect();
            kinds.len()
        });
    }

    let json_of =
        |id: &str| serde_json::to_value(preset(by_id(id), &start).unwrap().changes).unwrap();
    assert_eq!(json_of("nist-800-63b-4-aal1"), json!([]));
    assert_eq!(json_of("owasp-asvs-5.0-l1"), json!([]));
    let mfa_only = json!([{"section": "mfa", "patch": {"required": true}}]);
    assert_eq!(json_of("nist-800-63b-4-aal2"), mfa_only);
    assert_eq!(json_of("owasp-asvs-5.0-l2"), mfa_only);
    // MFA first: PCI's 90-day expiry then no longer applies, so it is not turned on.
    assert_eq!(
        json_of("pci-dss-4.0.1"),
        json!([
            {"section": "password", "password_policy": "default",
             "patch": {"min_digits": 1, "min_letters": 1, "history": 4, "renew_on_first_login": true}},
            {"section": "lockout", "patch": {"lock_duration": 1800}},
            {"section": "session", "patch": {"idle_timeout": 900, "account_validity_days": 90}},
            {"section": "mfa", "patch": {"required": true}},
        ])
    );
}

#[test]
fn presets_change_failing_fields_to_the_nearest_passing_value() {
    let start = policy(json!({
        "password": {"min_length": 10},
        "lockout": {"max_password_attempts": 200, "lock_duration": null},
        "session": {"idle_timeout": null},
    }));
    let aal1 = preset(by_id("nist-800-63b-4-aal1"), &start).unwrap();
    assert_eq!(
        aal1.changes,
        vec![
            PresetChange {
                password_policy: Some("default".into()),
                patch: PasswordPolicyPatch {
                    min_length: Some(15),
                    ..Default::default()
                }
                .into(),
            },
            PresetChange {
                password_policy: None,
                patch: LockoutPatch {
                    max_password_attempts: Some(100),
                    ..Default::default()
                }
                .into(),
            },
        ]
    );
    // A lock until unlocked already passes PCI 8.3.4; an idle timeout that is off becomes 15 min.
    let pci = preset(by_id("pci-dss-4.0.1"), &start).unwrap();
    let lockout = pci
        .changes
        .iter()
        .find(|c| c.patch.kind() == SectionKind::Lockout)
        .unwrap();
    assert_eq!(
        lockout.patch.to_json().1,
        json!({"max_password_attempts": 10}),
        "lock_duration null is kept"
    );
    let session = pci
        .changes
        .iter()
        .find(|c| c.patch.kind() == SectionKind::Session)
        .unwrap();
    assert_eq!(session.patch.to_json().1["idle_timeout"], json!(900));
    let asvs = preset(by_id("owasp-asvs-5.0-l2"), &start).unwrap();
    let session = asvs
        .changes
        .iter()
        .find(|c| c.patch.kind() == SectionKind::Session)
        .unwrap();
    assert_eq!(session.patch.to_json().1, json!({"idle_timeout": 3600}));
}

/// A policy that meets PCI DSS fails NIST's and ASVS's composition and expiry rules, and those
/// outcomes carry the conflict with PCI's clauses.
#[test]
fn conflicting_standards_are_reported() {
    let start = builtin();
    let pci = by_id("pci-dss-4.0.1");
    let mut compliant = apply_changes(&start, &preset(pci, &start).unwrap().changes).unwrap();
    // Without MFA on some users, PCI 8.3.9 asks for a 90-day expiry too.
    compliant = apply_changes(
        &compliant,
        &[PresetChange {
            password_policy: None,
            patch: PasswordPolicyPatch {
                expiration_enabled: Some(true),
                max_age_days: Some(90),
                ..Default::default()
            }
            .into(),
        }],
    )
    .unwrap();
    assert!(evaluate(pci, &compliant).passes());

    for (standard, rule, clause) in [
        (
            "nist-800-63b-4-aal1",
            "nist-3.1.1.2-no-min-letters",
            "8.3.6",
        ),
        ("nist-800-63b-4-aal1", "nist-3.1.1.2-no-min-digits", "8.3.6"),
        (
            "nist-800-63b-4-aal1",
            "nist-3.1.1.2-no-periodic-change",
            "8.3.9",
        ),
        ("nist-800-63b-4-aal2", "nist-3.1.1.2-no-min-digits", "8.3.6"),
        ("owasp-asvs-5.0-l1", "asvs-v6.2.5-no-min-letters", "8.3.6"),
        (
            "owasp-asvs-5.0-l2",
            "asvs-v6.2.10-no-periodic-rotation",
            "8.3.9",
        ),
    ] {
        let report = evaluate(by_id(standard), &compliant);
        let outcome = report.outcome(rule).unwrap();
        assert_eq!(outcome.status, Status::Fail, "{standard} {rule}");
        assert!(
            outcome
                .conflicts
                .iter()
                .any(|c| c.standard == "pci-dss-4.0.1" && c.clause == clause),
            "{rule}: {:?}",
            outcome.conflicts
        );
        let json = serde_json::to_value(outcome).unwrap();
        assert_eq!(json["conflicts"][0]["standard"], "pci-dss-4.0.1");
    }

    // And the other way: PCI's composition rule names NIST's and ASVS's clauses.
    let outcome = evaluate(pci, &start);
    let letters = outcome.outcome("pci-8.3.6-letters").unwrap();
    let named: BTreeSet<(&str, &str)> = letters
        .conflicts
        .iter()
        .map(|c| (c.standard.as_str(), c.clause.as_str()))
        .collect();
    assert!(named.contains(&("nist-800-63b-4-aal1", "§3.1.1.2")));
    assert!(named.contains(&("owasp-asvs-5.0-l1", "V6.2.5")));
}

#[test]
fn reports_and_changes_serialize_as_documented() {
    let report = evaluate(by_id("pci-dss-4.0.1"), &builtin());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["standard"], "pci-dss-4.0.1");
    let summary = &json["summary"];
    assert_eq!(
        summary["pass"].as_u64().unwrap()
            + summary["fail"].as_u64().unwrap()
            + summary["not_applicable"].as_u64().unwrap(),
        14
    );
    let attempts = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "pci-8.3.4-lock-duration")
        .unwrap();
    assert_eq!(
        *attempts,
        json!({
            "rule": "pci-8.3.4-lock-duration",
            "status": "fail",
            "field": "lockout.lock_duration",
            "current": 900,
            "required": "null (no limit) or at least 1800",
            "requirement": {"op": "null_or_ge", "value": 1800},
            "clause": "8.3.4",
            "reason": by_id("pci-dss-4.0.1").rule("pci-8.3.4-lock-duration").unwrap().reason,
        })
    );
    let letters = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "pci-8.3.6-letters")
        .unwrap();
    assert_eq!(letters["field"], "password[default].letters_required");
    assert_eq!(letters["current"], 0);

    // The instance defaults are evaluated like an organization that inherits everything.
    assert_eq!(
        evaluate_instance(by_id("pci-dss-4.0.1"), &InstancePolicy::builtin("instance")),
        report
    );

    // The OpenAPI schemas exist and describe the wire forms.
    use utoipa::PartialSchema;
    let schema = serde_json::to_value(PresetChange::schema()).unwrap();
    for key in ["section", "password_policy", "patch"] {
        assert!(schema["properties"].get(key).is_some(), "{schema}");
    }
    let schema = serde_json::to_value(RuleOutcome::schema()).unwrap();
    for key in [
        "rule", "status", "field", "current", "required", "clause", "reason",
    ] {
        assert!(schema["properties"].get(key).is_some(), "{key}: {schema}");
    }
    serde_json::to_value(Standard::schema()).unwrap();
    serde_json::to_value(Preset::schema()).unwrap();
}

/// A standard read from JSON is checked: a field the policy lacks, a requirement that cannot read
/// its field, repeated ids, a condition without its reason and a conflict with itself are refused.
#[test]
fn standards_are_checked_when_read() {
    let standard = |rule: Value| {
        json!({"id": "custom", "title": "Custom", "source": "tests", "rules": [rule]}).to_string()
    };
    let rule = |field: &str, require: Value| json!({"id": "r", "clause": "1", "field": field, "require": require, "reason": "why"});
    Standard::from_json(&standard(rule(
        "lockout.window",
        json!({"op": "le", "value": 60}),
    )))
    .unwrap();
    Standard::from_json(&standard(rule(
        "password.require_mfa",
        json!({"op": "eq", "value": true}),
    )))
    .unwrap();
    let mut with_condition = rule("password.history", json!({"op": "ge", "value": 1}));
    with_condition["when"] =
        json!({"field": "mfa_required", "require": {"op": "eq", "value": false}});
    let mut self_conflict = rule("password.history", json!({"op": "ge", "value": 1}));
    self_conflict["conflicts"] = json!([{"standard": "custom", "clause": "1", "note": "n"}]);
    let twice = json!({"id": "custom", "title": "Custom", "source": "tests", "rules": [
        rule("lockout.enabled", json!({"op": "eq", "value": true})),
        rule("lockout.enabled", json!({"op": "eq", "value": true})),
    ]})
    .to_string();
    for bad in [
        standard(rule(
            "lockout.max_attempts",
            json!({"op": "le", "value": 5}),
        )),
        standard(rule(
            "passwords.min_length",
            json!({"op": "ge", "value": 5}),
        )),
        standard(rule(
            "password.min_length.x",
            json!({"op": "ge", "value": 5}),
        )),
        standard(rule("lockout.enabled", json!({"op": "le", "value": 5}))),
        standard(rule(
            "password.required_chars",
            json!({"op": "eq", "value": 0}),
        )),
        standard(rule(
            "lockout.enabled",
            json!({"op": "between", "value": 5}),
        )),
        standard(rule(
            "lockout.enabled",
            json!({"op": "eq", "value": true, "extra": 1}),
        )),
        standard(with_condition),
        standard(self_conflict),
        twice,
        json!({"id": "custom", "title": "Custom", "source": "tests", "rules": []}).to_string(),
    ] {
        assert!(
            matches!(
                Standard::from_json(&bad),
                Err(StandardError::Invalid { .. })
            ),
            "accepted {bad}"
        );
    }
}

/// The preset is generic: custom standards exercise the repair of cross-field rules and the
/// errors when no change can work.
#[test]
fn presets_keep_policies_valid_or_say_why_not() {
    let custom = |rules: Value| {
        Standard::from_json(
            &json!({"id": "custom", "title": "Custom", "source": "tests", "rules": rules})
                .to_string(),
        )
        .unwrap()
    };
    let rule = |id: &str, field: &str, require: Value| json!({"id": id, "clause": "1", "field": field, "require": require, "reason": "why"});

    // min_length above max_length raises max_length; expiry on keeps warn days below max age.
    let strict = custom(json!([
        rule("a", "password.min_length", json!({"op": "ge", "value": 20})),
        rule(
            "b",
            "password.expiration_enabled",
            json!({"op": "eq", "value": true})
        ),
        rule(
            "c",
            "password.max_age_days",
            json!({"op": "le", "value": 30})
        ),
        rule("d", "password.min_digits", json!({"op": "ge", "value": 20})),
    ]));
    let start = policy(json!({"password": {
        "min_length": 12, "max_length": 16, "max_age_days": 120, "expire_warn_days": 60,
    }}));
    let changes = preset(&strict, &start).unwrap().changes;
    assert_eq!(
        changes[0].patch,
        SectionPatch::Password(PasswordPolicyPatch {
            min_length: Some(20),
            max_length: Some(20),
            min_digits: Some(20),
            expiration_enabled: Some(true),
            max_age_days: Some(30),
            expire_warn_days: Some(29),
            ..Default::default()
        })
    );
    let after = apply_changes(&start, &changes).unwrap();
    assert_valid(&after);
    assert!(evaluate(&strict, &after).passes());

    // bcrypt cannot allow more than 72 characters: the preset says which field breaks.
    let long = custom(json!([rule(
        "a",
        "password.max_length",
        json!({"op": "ge", "value": 100})
    )]));
    let bcrypt = policy(json!({"password": {"hash_algorithm": "bcrypt", "max_length": 72}}));
    match preset(&long, &bcrypt) {
        Err(PresetError::Invalid(found)) => assert!(
            found.contains("password[0].max_length", codes::BCRYPT_MAX_LENGTH),
            "{found}"
        ),
        other => panic!("{other:?}"),
    }

    // Contradictory rules cannot both pass.
    let contradiction = custom(json!([
        rule(
            "low",
            "lockout.max_password_attempts",
            json!({"op": "le", "value": 3})
        ),
        rule(
            "high",
            "lockout.max_password_attempts",
            json!({"op": "ge", "value": 5})
        ),
    ]));
    assert!(matches!(
        preset(&contradiction, &builtin()),
        Err(PresetError::Unresolved(ids)) if !ids.is_empty()
    ));

    // Changes naming an unknown password policy, or breaking a section, are refused.
    let unknown = PresetChange {
        password_policy: Some("nope".into()),
        patch: PasswordPolicyPatch::default().into(),
    };
    assert!(apply_changes(&builtin(), &[unknown]).is_err());
    let breaking = PresetChange {
        password_policy: None,
        patch: SessionPatch {
            idle_timeout: Some(Some(5)),
            ..Default::default()
        }
        .into(),
    };
    let err = apply_changes(&builtin(), &[breaking]).unwrap_err();
    assert!(
        err.contains("session.idle_timeout", codes::OUT_OF_RANGE),
        "{err}"
    );
}

/// docs/compliance.md names every standard and every rule.
#[test]
fn the_compliance_doc_lists_every_rule() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/compliance.md"
    ))
    .unwrap();
    for s in standards().unwrap() {
        assert!(
            doc.contains(&format!("### `{}`", s.id)),
            "no section for {}",
            s.id
        );
        for rule in &s.rules {
            assert!(
                doc.contains(&format!("`{}`", rule.id)),
                "docs lack `{}`",
                rule.id
            );
        }
    }
}
