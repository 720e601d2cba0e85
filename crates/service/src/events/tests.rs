//! The event catalogue against the documentation, and the payloads against their wire form.

use std::collections::BTreeSet;

use portcullis_model::SectionKind;
use portcullis_store::Role;
use serde_json::json;

use super::*;

/// The event types `docs/api.md` lists in its Events section.
fn documented_types() -> BTreeSet<String> {
    let api = include_str!("../../../../docs/api.md");
    let start = api
        .find("\n## Events\n")
        .expect("docs/api.md has an Events section");
    let section = &api[start + 1..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3)];
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| {
            name.contains('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || matches!(c, '_' | '.' | '<' | '>'))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_documented_types_are_exactly_the_enums() {
    let kinds: BTreeSet<String> = EventKind::ALL
        .iter()
        .map(|k| k.documented_name().to_owned())
        .collect();
    assert_eq!(documented_types(), kinds);
}

#[test]
fn every_kind_is_listed_once_and_policy_types_name_their_section() {
    let mut seen = std::collections::HashSet::new();
    for kind in EventKind::ALL {
        assert!(seen.insert(*kind), "{kind:?} listed twice");
    }
    let changed = DomainEvent::PolicyChanged(PolicyChanged {
        section: SectionKind::BruteForce,
        value: json!({"enabled": true}),
    });
    assert_eq!(changed.type_name(), "policy.brute_force.changed");
    let reset = DomainEvent::PolicyReset(PolicyReset {
        section: SectionKind::Lockout,
    });
    assert_eq!(reset.type_name(), "policy.lockout.reset");
    assert_eq!(
        DomainEvent::AccessKeyCreated(OrgKeyCreated {
            key_id: "key_1".into(),
            name: "n".into(),
            roles: vec![],
            user_id: None,
            manage: false,
        })
        .type_name(),
        "access_key.created"
    );
}

#[test]
fn payloads_keep_their_wire_form() {
    let subject = CounterSubject::login("alice", "192.0.2.7");
    let cases = [
        (
            DomainEvent::AccountLocked(LockChange {
                subject: subject.clone(),
                until: None,
            }),
            json!({"login": "alice", "ip": "192.0.2.7", "until": null}),
        ),
        (
            DomainEvent::LoginFailed(AttemptFailed {
                subject: subject.clone(),
                user_id: Some("usr_1".into()),
            }),
            json!({"login": "alice", "ip": "192.0.2.7", "user_id": "usr_1"}),
        ),
        (
            DomainEvent::AttemptExpired(AttemptFailed {
                subject: CounterSubject {
                    key: Some("password|alice|".into()),
                    sweep: true,
                    ..CounterSubject::default()
                },
                user_id: None,
            }),
            json!({"key": "password|alice|", "sweep": true}),
        ),
        (
            DomainEvent::IpBlocked(LockChange {
                subject: CounterSubject {
                    ip: Some("192.0.2.7".into()),
                    network: Some("192.0.2.7".into()),
                    ..CounterSubject::default()
                },
                until: Some("2030-01-01T00:00:00Z".into()),
            }),
            json!({"ip": "192.0.2.7", "network": "192.0.2.7", "until": "2030-01-01T00:00:00Z"}),
        ),
        (
            DomainEvent::LoginSucceeded(LoginSucceeded {
                user_id: "usr_1".into(),
                session_id: "ses_1".into(),
                ip: "::1".into(),
                password_change_required: false,
                stage: Some("full"),
                mfa: false,
            }),
            json!({"user_id": "usr_1", "session_id": "ses_1", "ip": "::1",
                   "password_change_required": false, "stage": "full"}),
        ),
        (
            DomainEvent::LoginSucceeded(LoginSucceeded {
                user_id: "usr_1".into(),
                session_id: "ses_1".into(),
                ip: "::1".into(),
                password_change_required: true,
                stage: None,
                mfa: true,
            }),
            json!({"user_id": "usr_1", "session_id": "ses_1", "ip": "::1",
                   "mfa": true, "password_change_required": true}),
        ),
        (
            DomainEvent::PasswordResetRequested(PasswordResetRequested {
                login: None,
                user_id: None,
            }),
            json!({"login": null, "user_id": null}),
        ),
        (
            DomainEvent::UserDeleted(UserDeleted {
                user_id: "usr_1".into(),
                by: None,
            }),
            json!({"user_id": "usr_1"}),
        ),
        (
            DomainEvent::InstanceKeyCreated(InstanceKeyCreated {
                key_id: "key_1".into(),
                name: "ops".into(),
                roles: vec![Role::InstanceAdmin],
                recovery: true,
            }),
            json!({"key_id": "key_1", "name": "ops", "roles": ["instance_admin"], "recovery": true}),
        ),
        (
            DomainEvent::ApiKeyCreated(OrgKeyCreated {
                key_id: "key_1".into(),
                name: "ci".into(),
                roles: vec![Role::Member],
                user_id: None,
                manage: true,
            }),
            json!({"key_id": "key_1", "name": "ci", "roles": ["member"], "user_id": null,
                   "manage": true}),
        ),
        (
            DomainEvent::PolicyReset(PolicyReset {
                section: SectionKind::ApiKeys,
            }),
            json!({"section": "api_keys"}),
        ),
    ];
    for (event, wire) in cases {
        assert_eq!(event.payload(), wire, "{:?}", event.kind());
    }
}

#[test]
fn a_draft_carries_the_context_and_no_mail() {
    let ctx = Context::new("key:key_1", Some("req-1".into()));
    let at = time::macros::datetime!(2030-01-01 00:00 UTC);
    let draft = DomainEvent::OrgCreated(OrgCreated {
        name: "Acme".into(),
    })
    .draft(&ctx, Some(&OrgId::parse("acme", "org").unwrap()), at);
    assert_eq!(draft.kind, "org.created");
    assert_eq!(draft.org_id.as_deref(), Some("acme"));
    assert_eq!(draft.actor, "key:key_1");
    assert_eq!(draft.request_id.as_deref(), Some("req-1"));
    assert_eq!(draft.at, at);
    assert_eq!(draft.payload, json!({"name": "Acme"}));
    assert!(draft.mail.is_none());
}
