//! Policy sections: a write's row carries its event's sequence, keeps its first write time and
//! moves its change time; conditional writes (`expected_sequence`); deletes that record an
//! event only when a row went; instance defaults and organizations' copies kept apart.

use crate::support::oid;
use std::sync::Arc;

use portcullis_store::{Owner, SectionChange, SectionRow, Store, StoreError};
use serde_json::{Value, json};

use crate::support::{at, draft, events_of, kinds, section_draft, sections_of};

fn lockout_value(max: u32) -> Value {
    json!({
        "enabled": true,
        "max_password_attempts": max,
        "lock_duration": 900,
        "scope": "login",
        "note": "ünïcödé \"quoted\" ✓",
        "list": [1, 2, { "deep": null }],
        "flag": false
    })
}

/// The row a write answers carries the sequence of the event written with it; `created_at`
/// stays that of the first write, `changed_at` follows each write.
pub async fn section_write_sequence_and_timestamps(store: Arc<dyn Store>) {
    let owner = Owner::Org(oid("s1"));
    let first = store
        .write_section(
            &owner,
            "lockout",
            &lockout_value(5),
            None,
            section_draft(&owner, "lockout", 100),
        )
        .await
        .unwrap();
    assert_eq!(
        first,
        SectionRow {
            section: "lockout".to_owned(),
            value: lockout_value(5),
            sequence: first.sequence,
            created_at: at(100),
            changed_at: at(100),
        }
    );
    let events = events_of(&*store, Some("s1")).await;
    assert_eq!(kinds(&events), ["policy.lockout.changed"]);
    assert_eq!(first.sequence, events[0].sequence);
    assert_eq!(
        sections_of(&*store, &owner).await,
        std::slice::from_ref(&first)
    );

    // Other events in between: a section's sequence is the instance-wide event sequence.
    store
        .append_events(vec![
            draft(None, "unrelated", 150),
            draft(Some("x"), "x", 150),
        ])
        .await
        .unwrap();

    let second = store
        .write_section(
            &owner,
            "lockout",
            &lockout_value(7),
            None,
            section_draft(&owner, "lockout", 200),
        )
        .await
        .unwrap();
    let events = events_of(&*store, Some("s1")).await;
    assert_eq!(events.len(), 2);
    assert_eq!(second.sequence, events[1].sequence);
    assert!(
        second.sequence > first.sequence + 2,
        "sequences are shared with other events"
    );
    assert_eq!(second.value, lockout_value(7));
    assert_eq!(second.created_at, at(100), "created_at is kept");
    assert_eq!(second.changed_at, at(200), "changed_at moves");
    assert_eq!(sections_of(&*store, &owner).await, [second]);

    // Instance sections work alike, with instance events.
    let instance = store
        .write_section(
            &Owner::Instance,
            "brute_force",
            &json!({ "enabled": true }),
            None,
            section_draft(&Owner::Instance, "brute_force", 300),
        )
        .await
        .unwrap();
    let instance_events = events_of(&*store, None).await;
    assert_eq!(
        kinds(&instance_events),
        ["unrelated", "policy.brute_force.changed"]
    );
    assert_eq!(instance.sequence, instance_events[1].sequence);
    assert_eq!(instance.created_at, at(300));
    assert_eq!(sections_of(&*store, &Owner::Instance).await, [instance]);
}

/// With `expected_sequence`, a write happens only on that exact current sequence (0: the row
/// must not exist); otherwise `VersionMismatch`, with nothing written and no event.
pub async fn section_expected_sequence(store: Arc<dyn Store>) {
    let owner = Owner::Org(oid("s2"));
    let write = async |value: u32, expected: Option<u64>, seconds: i64| {
        store
            .write_section(
                &owner,
                "lockout",
                &lockout_value(value),
                expected,
                section_draft(&owner, "lockout", seconds),
            )
            .await
    };

    // A missing row has sequence 0 only.
    let err = write(1, Some(3), 10).await.unwrap_err();
    assert_eq!(err, StoreError::VersionMismatch);
    assert!(sections_of(&*store, &owner).await.is_empty());
    assert!(events_of(&*store, Some("s2")).await.is_empty());

    let first = write(2, Some(0), 20).await.unwrap();
    assert_eq!(first.value, lockout_value(2));

    // Must-not-exist on an existing row, a wrong value, a value from the future: all refused.
    for expected in [0, first.sequence + 1, first.sequence - 1, u64::MAX] {
        let err = write(3, Some(expected), 30).await.unwrap_err();
        assert_eq!(
            err,
            StoreError::VersionMismatch,
            "expected_sequence {expected}"
        );
    }
    assert_eq!(
        sections_of(&*store, &owner).await,
        std::slice::from_ref(&first)
    );
    assert_eq!(events_of(&*store, Some("s2")).await.len(), 1, "no event");

    let second = write(4, Some(first.sequence), 40).await.unwrap();
    assert!(second.sequence > first.sequence);
    assert_eq!(second.created_at, at(20));
    assert_eq!(second.changed_at, at(40));

    // The old sequence is stale now.
    let err = write(5, Some(first.sequence), 50).await.unwrap_err();
    assert_eq!(err, StoreError::VersionMismatch);
    assert_eq!(
        sections_of(&*store, &owner).await,
        std::slice::from_ref(&second)
    );
    let events = events_of(&*store, Some("s2")).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].sequence, second.sequence);
    assert_eq!(events[1].at, at(40));

    // Another section of the same owner is checked on its own row.
    let other = store
        .write_section(
            &owner,
            "brute_force",
            &json!({ "enabled": false }),
            Some(0),
            section_draft(&owner, "brute_force", 60),
        )
        .await
        .unwrap();
    assert_eq!(sections_of(&*store, &owner).await, [other, second]);
}

/// `delete_section` answers whether a row went, and records its event only then.
pub async fn section_delete(store: Arc<dyn Store>) {
    let a = Owner::Org(oid("s3"));
    let b = Owner::Org(oid("s3b"));
    let delete_draft = |org: &str, seconds| draft(Some(org), "policy.lockout.reset", seconds);

    assert!(
        !store
            .delete_section(&oid("s3"), "lockout", delete_draft("s3", 1))
            .await
            .unwrap()
    );
    assert!(events_of(&*store, Some("s3")).await.is_empty());

    for owner in [&a, &b, &Owner::Instance] {
        store
            .write_section(
                owner,
                "lockout",
                &lockout_value(3),
                None,
                section_draft(owner, "lockout", 10),
            )
            .await
            .unwrap();
    }
    let a_password = store
        .write_section(
            &a,
            "password",
            &json!({ "min_length": 12 }),
            None,
            section_draft(&a, "password", 11),
        )
        .await
        .unwrap();

    assert!(
        store
            .delete_section(&oid("s3"), "lockout", delete_draft("s3", 20))
            .await
            .unwrap()
    );
    assert_eq!(sections_of(&*store, &a).await, [a_password]);
    assert_eq!(
        sections_of(&*store, &b).await.len(),
        1,
        "other organization untouched"
    );
    assert_eq!(
        sections_of(&*store, &Owner::Instance).await.len(),
        1,
        "default untouched"
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("s3")).await),
        [
            "policy.lockout.changed",
            "policy.password.changed",
            "policy.lockout.reset"
        ]
    );

    // Gone already: false, no event.
    assert!(
        !store
            .delete_section(&oid("s3"), "lockout", delete_draft("s3", 30))
            .await
            .unwrap()
    );
    assert_eq!(events_of(&*store, Some("s3")).await.len(), 3);

    // After a delete, the row is missing again: a must-not-exist write succeeds.
    let again = store
        .write_section(
            &a,
            "lockout",
            &lockout_value(9),
            Some(0),
            section_draft(&a, "lockout", 40),
        )
        .await
        .unwrap();
    assert_eq!(again.created_at, at(40), "a new row after a delete");
}

/// Instance defaults and each organization's copies are separate rows: loads, conditional
/// writes and deletes of one owner never see another's.
pub async fn section_owners_are_separate(store: Arc<dyn Store>) {
    let a = Owner::Org(oid("s4"));
    let b = Owner::Org(oid("s4b"));
    let instance = store
        .write_section(
            &Owner::Instance,
            "lockout",
            &lockout_value(10),
            None,
            section_draft(&Owner::Instance, "lockout", 1),
        )
        .await
        .unwrap();
    let instance_pw = store
        .write_section(
            &Owner::Instance,
            "password",
            &json!({ "min_length": 8 }),
            None,
            section_draft(&Owner::Instance, "password", 2),
        )
        .await
        .unwrap();
    // The instance row exists, yet the organization's row does not: 0 is right for it.
    let a_row = store
        .write_section(
            &a,
            "lockout",
            &lockout_value(3),
            Some(0),
            section_draft(&a, "lockout", 3),
        )
        .await
        .unwrap();
    // And the organization's sequence is not the instance row's.
    let err = store
        .write_section(
            &b,
            "lockout",
            &lockout_value(4),
            Some(instance.sequence),
            section_draft(&b, "lockout", 4),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::VersionMismatch);

    assert_eq!(
        sections_of(&*store, &Owner::Instance).await,
        [instance.clone(), instance_pw.clone()]
    );
    assert_eq!(sections_of(&*store, &a).await, std::slice::from_ref(&a_row));
    assert!(sections_of(&*store, &b).await.is_empty());
    assert_eq!(instance.value, lockout_value(10));
    assert_eq!(a_row.value, lockout_value(3));

    // Writing the instance default leaves the organization's copy alone, and vice versa.
    let instance2 = store
        .write_section(
            &Owner::Instance,
            "lockout",
            &lockout_value(11),
            Some(instance.sequence),
            section_draft(&Owner::Instance, "lockout", 5),
        )
        .await
        .unwrap();
    assert_eq!(sections_of(&*store, &a).await, std::slice::from_ref(&a_row));
    // Deleting a section the organization does not have never touches the default.
    assert!(
        !store
            .delete_section(
                &oid("s4b"),
                "lockout",
                draft(Some("s4b"), "policy.lockout.reset", 6)
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_section(
                &oid("s4"),
                "password",
                draft(Some("s4"), "policy.password.reset", 6)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        sections_of(&*store, &Owner::Instance).await,
        [instance2, instance_pw]
    );
    assert_eq!(sections_of(&*store, &a).await, [a_row]);

    // Each write's event went to its owner's stream.
    assert_eq!(
        kinds(&events_of(&*store, None).await),
        [
            "policy.lockout.changed",
            "policy.password.changed",
            "policy.lockout.changed"
        ]
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("s4")).await),
        ["policy.lockout.changed"]
    );
    assert!(events_of(&*store, Some("s4b")).await.is_empty());
}

/// The policy version grows with every committed write and reset, of the instance or of an
/// organization, and not with a refused write or a reset of nothing.
pub async fn section_writes_bump_the_policy_version(store: Arc<dyn Store>) {
    let v0 = store.policy_version().await.unwrap();
    let org = Owner::Org(oid("pv"));
    store
        .write_section(
            &org,
            "lockout",
            &json!({"a": 1}),
            None,
            section_draft(&org, "lockout", 1),
        )
        .await
        .unwrap();
    let v1 = store.policy_version().await.unwrap();
    assert!(v1 > v0);
    store
        .write_section(
            &Owner::Instance,
            "session",
            &json!({}),
            None,
            section_draft(&Owner::Instance, "session", 2),
        )
        .await
        .unwrap();
    let v2 = store.policy_version().await.unwrap();
    assert!(v2 > v1);
    let refused = store
        .write_section(
            &org,
            "lockout",
            &json!({"a": 2}),
            Some(999),
            section_draft(&org, "lockout", 3),
        )
        .await;
    assert_eq!(refused.unwrap_err(), StoreError::VersionMismatch);
    assert_eq!(
        store.policy_version().await.unwrap(),
        v2,
        "a refused write changes nothing"
    );
    assert!(
        !store
            .delete_section(&oid("pv"), "mfa", draft(Some("pv"), "policy.mfa.reset", 4))
            .await
            .unwrap()
    );
    assert_eq!(
        store.policy_version().await.unwrap(),
        v2,
        "resetting nothing changes nothing"
    );
    assert!(
        store
            .delete_section(
                &oid("pv"),
                "lockout",
                draft(Some("pv"), "policy.lockout.reset", 5)
            )
            .await
            .unwrap()
    );
    assert!(store.policy_version().await.unwrap() > v2);
}

/// A batch writes every section with its own event, or none: one stale `expected_sequence`
/// fails the whole batch and leaves rows, events and the policy version as they were.
pub async fn section_batches_are_all_or_nothing(store: Arc<dyn Store>) {
    let owner = Owner::Org(oid("sb"));
    let change = |section: &str, max: u32, expected: Option<u64>, at_secs: i64| SectionChange {
        section: section.to_owned(),
        value: Some(lockout_value(max)),
        expected_sequence: expected,
        event: section_draft(&owner, section, at_secs),
    };
    let rows = store
        .write_sections(
            &owner,
            vec![
                change("lockout", 3, Some(0), 100),
                change("session", 4, Some(0), 100),
            ],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let events = events_of(&*store, Some("sb")).await;
    assert_eq!(
        kinds(&events),
        ["policy.lockout.changed", "policy.session.changed"]
    );
    assert_eq!(rows[0].sequence, events[0].sequence);
    assert_eq!(rows[1].sequence, events[1].sequence);
    assert_eq!(sections_of(&*store, &owner).await.len(), 2);

    let version = store.policy_version().await.unwrap();
    // The second change expects a sequence the row no longer has: nothing is written.
    let err = store
        .write_sections(
            &owner,
            vec![
                change("lockout", 9, Some(rows[0].sequence), 200),
                change("session", 9, Some(0), 200),
                change("mfa", 9, None, 200),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::VersionMismatch);
    assert_eq!(sections_of(&*store, &owner).await, rows);
    assert_eq!(events_of(&*store, Some("sb")).await.len(), 2);
    assert_eq!(store.policy_version().await.unwrap(), version);
}

/// A conditional delete happens only while the row keeps the sequence it was read with; a
/// miss writes no event and leaves the row.
pub async fn section_delete_at_a_sequence(store: Arc<dyn Store>) {
    let owner = Owner::Org(oid("sd"));
    let row = store
        .write_section(
            &owner,
            "lockout",
            &lockout_value(3),
            None,
            section_draft(&owner, "lockout", 100),
        )
        .await
        .unwrap();
    let events = events_of(&*store, Some("sd")).await.len();
    let stale = row.sequence + 1000;
    assert!(
        !store
            .delete_section_at(
                &oid("sd"),
                "lockout",
                stale,
                section_draft(&owner, "lockout", 200)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        sections_of(&*store, &owner).await,
        std::slice::from_ref(&row)
    );
    assert_eq!(events_of(&*store, Some("sd")).await.len(), events);
    assert!(
        store
            .delete_section_at(
                &oid("sd"),
                "lockout",
                row.sequence,
                section_draft(&owner, "lockout", 200)
            )
            .await
            .unwrap()
    );
    assert!(sections_of(&*store, &owner).await.is_empty());
    assert_eq!(events_of(&*store, Some("sd")).await.len(), events + 1);
    assert!(
        !store
            .delete_section_at(
                &oid("sd"),
                "lockout",
                row.sequence,
                section_draft(&owner, "lockout", 300)
            )
            .await
            .unwrap(),
        "gone already"
    );
}

/// Batches naming the same sections in opposite orders, written at once, all succeed: the
/// stores take their locks in one order (no deadlock, no lost batch).
pub async fn section_batches_in_crossing_orders_all_commit(store: Arc<dyn Store>) {
    let owner = Owner::Org(oid("sx"));
    let batch = |sections: [&str; 3], n: u32| {
        sections
            .iter()
            .map(|section| SectionChange {
                section: (*section).to_owned(),
                value: Some(lockout_value(n)),
                expected_sequence: None,
                event: section_draft(&owner, section, 100),
            })
            .collect::<Vec<_>>()
    };
    let mut tasks = Vec::new();
    for n in 0..24u32 {
        let store = store.clone();
        let owner = owner.clone();
        let sections = if n % 2 == 0 {
            ["features", "mfa", "password"]
        } else {
            ["password", "mfa", "features"]
        };
        let changes = batch(sections, n);
        tasks.push(tokio::spawn(async move {
            store.write_sections(&owner, changes).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().len(), 3);
    }
    assert_eq!(sections_of(&*store, &owner).await.len(), 3);
    assert_eq!(events_of(&*store, Some("sx")).await.len(), 24 * 3);
}

/// A batch may reset sections (a change without a value) with the writes: the reset rows go,
/// with their events, in the same transaction and under the same conditions; a stale reset
/// fails the whole batch; the instance's sections cannot be reset.
pub async fn section_batches_reset_and_write_together(store: Arc<dyn Store>) {
    let owner = Owner::Org(oid("sr"));
    let write = |section: &str, max: u32, expected: Option<u64>| SectionChange {
        section: section.to_owned(),
        value: Some(lockout_value(max)),
        expected_sequence: expected,
        event: section_draft(&owner, section, 100),
    };
    let reset = |section: &str, expected: Option<u64>| SectionChange {
        section: section.to_owned(),
        value: None,
        expected_sequence: expected,
        event: draft(Some("sr"), &format!("policy.{section}.reset"), 200),
    };
    let rows = store
        .write_sections(
            &owner,
            vec![write("lockout", 3, Some(0)), write("mfa", 4, Some(0))],
        )
        .await
        .unwrap();
    let (lockout_seq, mfa_seq) = (rows[0].sequence, rows[1].sequence);
    let version = store.policy_version().await.unwrap();

    // A stale reset: nothing happens.
    let err = store
        .write_sections(
            &owner,
            vec![
                write("lockout", 5, Some(lockout_seq)),
                reset("mfa", Some(mfa_seq + 1000)),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::VersionMismatch);
    assert_eq!(sections_of(&*store, &owner).await, rows);

    // Write one, reset the other: one row left, both events, one policy version step.
    let written = store
        .write_sections(
            &owner,
            vec![
                reset("mfa", Some(mfa_seq)),
                write("lockout", 5, Some(lockout_seq)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].section, "lockout");
    let left = sections_of(&*store, &owner).await;
    assert_eq!(left, written);
    let events = events_of(&*store, Some("sr")).await;
    assert_eq!(
        kinds(&events),
        [
            "policy.lockout.changed",
            "policy.mfa.changed",
            "policy.mfa.reset",
            "policy.lockout.changed"
        ]
    );
    assert!(store.policy_version().await.unwrap() > version);

    let instance = store
        .write_sections(
            &Owner::Instance,
            vec![SectionChange {
                event: draft(None, "policy.mfa.reset", 300),
                ..reset("mfa", None)
            }],
        )
        .await;
    assert!(matches!(instance, Err(StoreError::Internal(_))));
}

/// A guarded batch commits only while the whole scope is as the caller read it: a change of a
/// section the batch does not touch (written or reset since) fails it, and nothing is written.
pub async fn section_batches_guard_the_whole_scope(store: Arc<dyn Store>) {
    let owner = Owner::Org(oid("sg"));
    let write = |section: &str, max: u32, expected: Option<u64>| SectionChange {
        section: section.to_owned(),
        value: Some(lockout_value(max)),
        expected_sequence: expected,
        event: section_draft(&owner, section, 100),
    };
    let rows = store
        .write_sections(
            &owner,
            vec![write("lockout", 3, Some(0)), write("mfa", 4, Some(0))],
        )
        .await
        .unwrap();
    let scope: Vec<(String, u64)> = rows
        .iter()
        .map(|r| (r.section.clone(), r.sequence))
        .collect();
    // Someone writes `mfa` after the read; the batch touches only `session`.
    store
        .write_sections(&owner, vec![write("mfa", 5, Some(rows[1].sequence))])
        .await
        .unwrap();
    let before = sections_of(&*store, &owner).await;
    let stale = store
        .write_sections_guarded(&owner, vec![write("session", 6, Some(0))], Some(&scope))
        .await;
    assert_eq!(stale.unwrap_err(), StoreError::VersionMismatch);
    assert_eq!(
        sections_of(&*store, &owner).await,
        before,
        "nothing written"
    );
    // With the scope as it is now, the same batch commits.
    let now: Vec<(String, u64)> = before
        .iter()
        .map(|r| (r.section.clone(), r.sequence))
        .collect();
    let done = store
        .write_sections_guarded(&owner, vec![write("session", 6, Some(0))], Some(&now))
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    // A reset of an untouched section since the read fails it as well.
    let read: Vec<(String, u64)> = sections_of(&*store, &owner)
        .await
        .iter()
        .map(|r| (r.section.clone(), r.sequence))
        .collect();
    assert!(
        store
            .delete_section(
                &oid("sg"),
                "lockout",
                draft(Some("sg"), "policy.lockout.reset", 200)
            )
            .await
            .unwrap()
    );
    let after_reset = store
        .write_sections_guarded(&owner, vec![write("tokens", 1, Some(0))], Some(&read))
        .await;
    assert_eq!(after_reset.unwrap_err(), StoreError::VersionMismatch);
}
