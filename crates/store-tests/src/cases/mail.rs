//! The mail outbox and the writes self-service needs: a mail is queued with the event that
//! causes it and only then (a failed write leaves no mail); mails are listed per organization;
//! a claimed mail is not claimed again before its lease ends, a sent one never again; a
//! reminder queued once stays one; a conditional password write and an email confirmation
//! happen once; a verified address belongs to one user of an organization.

use crate::support::oid;
use std::sync::Arc;

use portcullis_store::{
    EmailConfirmation, MailDraft, MailOutcome, Owner, PasswordUpdate, SectionChange, Store,
    StoreError, UserProfile,
};
use serde_json::json;

use crate::support::{at, draft, events_of, kinds, page, section_draft, user};

fn mail(kind: &str, to: &str, dedupe: Option<&str>) -> MailDraft {
    MailDraft {
        kind: kind.to_owned(),
        recipient: to.to_owned(),
        subject: format!("About {kind}"),
        body: "Hello,\nuse {token} once.\n".to_owned(),
        token_claims: Some(json!({"purpose": kind, "n": [1, 2]})),
        dedupe_key: dedupe.map(str::to_owned),
    }
}

/// A mail is written with its event (same sequence), read back exactly, and listed only for its
/// organization, in id order, with paging.
pub async fn mail_is_queued_with_its_event(store: Arc<dyn Store>) {
    let mut first = draft(Some("oa"), "account.locked", 5);
    first.mail = Some(mail("account_locked", "alice@example.test", None));
    let mut second = draft(Some("oa"), "ip.blocked", 6);
    second.mail = Some(mail("ip_blocked", portcullis_store::ORG_ADMINS, None));
    let mut other = draft(Some("ob"), "account.locked", 7);
    other.mail = Some(mail("account_locked", "bob@example.test", None));
    store
        .append_events(vec![first, draft(Some("oa"), "login.failed", 5), second])
        .await
        .unwrap();
    store.append_events(vec![other]).await.unwrap();

    let events = events_of(&*store, Some("oa")).await;
    let mails = store
        .list_outbox(&oid("oa"), &page(None, 10))
        .await
        .unwrap();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[0].event_sequence, events[0].sequence);
    assert_eq!(mails[1].event_sequence, events[2].sequence);
    assert!(mails[0].id < mails[1].id);
    assert_eq!(
        mails[0].draft,
        mail("account_locked", "alice@example.test", None)
    );
    assert_eq!(mails[0].org_id.as_deref(), Some("oa"));
    assert_eq!((mails[0].attempts, mails[0].sent_at), (0, None));
    assert_eq!(mails[0].created_at, at(5));
    assert_eq!(mails[0].next_attempt_at, at(5), "due at once");

    let next = store
        .list_outbox(&oid("oa"), &page(Some(&mails[0].id.to_string()), 10))
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, mails[1].id);
    let theirs = store
        .list_outbox(&oid("ob"), &page(None, 10))
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].draft.recipient, "bob@example.test");
    assert!(
        store
            .list_outbox(&oid("oc"), &page(None, 10))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A write that fails leaves neither its event nor its mail.
pub async fn failed_write_queues_no_mail(store: Arc<dyn Store>) {
    let owner = Owner::Org(oid("oa"));
    let mut event = section_draft(&owner, "lockout", 1);
    event.mail = Some(mail("policy_changed", "admin@example.test", None));
    let err = store
        .write_sections(
            &owner,
            vec![SectionChange {
                section: "lockout".to_owned(),
                value: Some(json!({"enabled": true})),
                expected_sequence: Some(42),
                event,
            }],
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::VersionMismatch);
    assert!(
        store
            .list_outbox(&oid("oa"), &page(None, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(events_of(&*store, Some("oa")).await.is_empty());
}

/// Claims: due mails oldest first, each attempt counted; a claimed mail is not due again before
/// its lease ends; a failed one comes back at its retry time with its error; a sent one never.
pub async fn claimed_mail_is_sent_once(store: Arc<dyn Store>) {
    assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));
    for n in 0..3 {
        let mut event = draft(Some("oa"), "account.locked", n);
        event.mail = Some(mail("account_locked", &format!("u{n}@example.test"), None));
        store.append_events(vec![event]).await.unwrap();
    }
    assert_eq!(store.outbox_backlog().await.unwrap(), (3, Some(at(0))));
    assert!(
        store
            .claim_mail(at(-1), at(100), 10)
            .await
            .unwrap()
            .is_empty(),
        "none due yet"
    );
    let claimed = store.claim_mail(at(1), at(61), 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    assert!(
        claimed
            .iter()
            .all(|m| m.attempts == 1 && m.next_attempt_at == at(61))
    );
    assert!(claimed[0].id < claimed[1].id);
    let third = store.claim_mail(at(2), at(62), 10).await.unwrap();
    assert_eq!(third.len(), 1, "the claimed two are leased: {third:?}");
    assert_eq!(third[0].draft.recipient, "u2@example.test");

    store
        .finish_mail(claimed[0].id, 1, &MailOutcome::Sent(at(3)))
        .await
        .unwrap();
    store
        .finish_mail(
            claimed[1].id,
            1,
            &MailOutcome::Failed {
                retry_at: at(30),
                error: "connection refused".to_owned(),
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_mail(at(29), at(90), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store.claim_mail(at(30), at(90), 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, claimed[1].id);
    assert_eq!(retried[0].attempts, 2);
    assert_eq!(retried[0].last_error.as_deref(), Some("connection refused"));
    // Claimed and failed mails still wait; the sent one (the oldest) does not.
    assert_eq!(store.outbox_backlog().await.unwrap(), (2, Some(at(1))));
    // The third mail's sender died: its lease ended, so it is due again.
    let after_lease = store.claim_mail(at(62), at(200), 10).await.unwrap();
    assert_eq!(after_lease.len(), 1);
    assert_eq!(after_lease[0].id, third[0].id);

    let listed = store
        .list_outbox(&oid("oa"), &page(None, 10))
        .await
        .unwrap();
    assert_eq!(listed[0].sent_at, Some(at(3)));
    assert_eq!(listed[0].last_error, None);
    assert!(
        store
            .claim_mail(at(10_000), at(10_060), 10)
            .await
            .unwrap()
            .iter()
            .all(|m| m.id != listed[0].id)
    );
    // A late failure report does not undo a delivery.
    store
        .finish_mail(
            listed[0].id,
            1,
            &MailOutcome::Failed {
                retry_at: at(5),
                error: "late".to_owned(),
            },
        )
        .await
        .unwrap();
    let listed = store.list_outbox(&oid("oa"), &page(None, 1)).await.unwrap();
    assert_eq!(
        (listed[0].sent_at, listed[0].last_error.as_deref()),
        (Some(at(3)), None)
    );

    // The third mail was claimed twice more (attempts 2 and 3, the last until 10 060): a late
    // report of an older claim changes nothing; the current claim's does.
    let stale = MailOutcome::Failed {
        retry_at: at(63),
        error: "stale".to_owned(),
    };
    store.finish_mail(third[0].id, 2, &stale).await.unwrap();
    let third_now = |store: Arc<dyn Store>| async move {
        let all = store
            .list_outbox(&oid("oa"), &page(None, 10))
            .await
            .unwrap();
        all.into_iter()
            .find(|m| m.draft.recipient == "u2@example.test")
            .unwrap()
    };
    let mail = third_now(store.clone()).await;
    assert_eq!(
        (mail.attempts, mail.next_attempt_at, mail.last_error),
        (3, at(10_060), None)
    );
    // Given up for good: never claimed again, and a later report changes nothing.
    let gave_up = MailOutcome::GaveUp {
        at: at(70),
        error: "550 no such mailbox".to_owned(),
    };
    store.finish_mail(third[0].id, 3, &gave_up).await.unwrap();
    let mail = third_now(store.clone()).await;
    assert_eq!(mail.given_up_at, Some(at(70)));
    assert_eq!(mail.last_error.as_deref(), Some("550 no such mailbox"));
    assert_eq!(mail.sent_at, None);
    let later = store
        .claim_mail(at(100_000), at(100_060), 10)
        .await
        .unwrap();
    assert!(later.iter().all(|m| m.id != mail.id), "{later:?}");
    let late = MailOutcome::Failed {
        retry_at: at(1),
        error: "late".to_owned(),
    };
    store.finish_mail(third[0].id, 3, &late).await.unwrap();
    assert_eq!(
        third_now(store.clone()).await.last_error.as_deref(),
        Some("550 no such mailbox")
    );
}

/// A claim takes at most `limit` mails, the longest due first (then by id).
pub async fn claims_take_the_longest_due_first(store: Arc<dyn Store>) {
    for n in [5, 3, 4] {
        let mut event = draft(Some("oa"), "account.locked", n);
        event.mail = Some(mail("account_locked", &format!("u{n}@example.test"), None));
        store.append_events(vec![event]).await.unwrap();
    }
    let first = store.claim_mail(at(10), at(100), 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].draft.recipient, "u3@example.test");
    let next = store.claim_mail(at(10), at(100), 2).await.unwrap();
    let to: Vec<&str> = next.iter().map(|m| m.draft.recipient.as_str()).collect();
    assert_eq!(
        to,
        ["u5@example.test", "u4@example.test"],
        "by id once both are claimed"
    );
}

/// Concurrent reminders with one key: exactly one writes its event and mail.
pub async fn concurrent_reminders_queue_one(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut event = draft(Some("oa"), "user.password.expiring", 1);
            event.mail = Some(mail("password_expiring", "a@example.test", Some("k")));
            store.queue_mail_once(event).await.unwrap()
        }));
    }
    let mut written = 0;
    for task in tasks {
        written += u32::from(task.await.unwrap());
    }
    assert_eq!(written, 1);
    assert_eq!(events_of(&*store, Some("oa")).await.len(), 1);
    assert_eq!(
        store
            .list_outbox(&oid("oa"), &page(None, 10))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A reminder with a dedupe key is queued once per organization: the second call writes
/// neither event nor mail; another key or another organization is queued.
pub async fn reminder_is_queued_once(store: Arc<dyn Store>) {
    let reminder = |org: &str, key: &str| {
        let mut event = draft(Some(org), "user.password.expiring", 1);
        event.mail = Some(mail("password_expiring", "a@example.test", Some(key)));
        event
    };
    assert!(store.queue_mail_once(reminder("oa", "k1")).await.unwrap());
    assert!(!store.queue_mail_once(reminder("oa", "k1")).await.unwrap());
    assert!(store.queue_mail_once(reminder("oa", "k2")).await.unwrap());
    assert!(store.queue_mail_once(reminder("ob", "k1")).await.unwrap());
    assert_eq!(events_of(&*store, Some("oa")).await.len(), 2);
    assert_eq!(
        store
            .list_outbox(&oid("oa"), &page(None, 10))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_outbox(&oid("ob"), &page(None, 10))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A password write conditional on the current hash happens only while that hash is current
/// (so a one-time reset token sets a password once); `Some(None)` means "no password yet".
pub async fn conditional_password_write(store: Arc<dyn Store>) {
    let alice = user("oa", "u1", "alice");
    store
        .create_user(&alice, draft(Some("oa"), "user.created", 0))
        .await
        .unwrap();
    let update = |hash: &str, expected: Option<Option<String>>| PasswordUpdate {
        hash: hash.to_owned(),
        keep_history: 5,
        changed_at: at(10),
        set_by_admin: false,
        expected_hash: expected,
    };
    let stale = update("h-new", Some(Some("not-the-hash".to_owned())));
    let none = update("h-new", Some(None));
    for wrong in [stale, none] {
        let err = store
            .set_password(
                &oid("oa"),
                "u1",
                &wrong,
                true,
                None,
                vec![draft(Some("oa"), "x", 10)],
            )
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::VersionMismatch);
    }
    let current = store.get_user(&oid("oa"), "u1").await.unwrap().unwrap();
    assert_eq!(current, alice, "nothing changed");
    assert_eq!(
        kinds(&events_of(&*store, Some("oa")).await),
        ["user.created"]
    );

    let right = update("h-new", Some(alice.password_hash.clone()));
    store
        .set_password(
            &oid("oa"),
            "u1",
            &right,
            true,
            None,
            vec![draft(Some("oa"), "user.password.reset", 10)],
        )
        .await
        .unwrap();
    let again = store
        .set_password(
            &oid("oa"),
            "u1",
            &right,
            true,
            None,
            vec![draft(Some("oa"), "x", 11)],
        )
        .await
        .unwrap_err();
    assert_eq!(
        again,
        StoreError::VersionMismatch,
        "the same condition holds once"
    );
    let changed = store.get_user(&oid("oa"), "u1").await.unwrap().unwrap();
    assert_eq!(changed.password_hash.as_deref(), Some("h-new"));
    assert_eq!(changed.password_history[0], alice.password_hash.unwrap());
}

/// An email confirmation clears the pending flag once, only for the address still on record,
/// only in the user's organization, with its event.
pub async fn email_confirmation_happens_once(store: Arc<dyn Store>) {
    let alice = user("oa", "u1", "alice");
    assert!(alice.verification_pending);
    store
        .create_user(&alice, draft(Some("oa"), "user.created", 0))
        .await
        .unwrap();
    let email = alice.email.clone().unwrap();
    let confirm = |org: &'static str, address: String| {
        let store = store.clone();
        async move {
            store
                .confirm_email(
                    &oid(org),
                    "u1",
                    &address,
                    at(9),
                    draft(Some(org), "user.email.verified", 9),
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(
        confirm("ob", email.clone()).await,
        EmailConfirmation::NotPending,
        "another organization"
    );
    assert_eq!(
        confirm("oa", "old@example.test".to_owned()).await,
        EmailConfirmation::NotPending,
        "another address"
    );
    assert!(
        store
            .get_user(&oid("oa"), "u1")
            .await
            .unwrap()
            .unwrap()
            .verification_pending
    );
    assert_eq!(
        confirm("oa", email.clone()).await,
        EmailConfirmation::Confirmed
    );
    assert_eq!(
        confirm("oa", email).await,
        EmailConfirmation::NotPending,
        "once"
    );
    let done = store.get_user(&oid("oa"), "u1").await.unwrap().unwrap();
    assert!(!done.verification_pending);
    assert_eq!(done.updated_at, at(9));
    assert_eq!(
        kinds(&events_of(&*store, Some("oa")).await),
        ["user.created", "user.email.verified"]
    );
    assert!(events_of(&*store, Some("ob")).await.is_empty());
}

/// A verified address belongs to one user of an organization (compared trimmed and without
/// case): a second confirmation of it is refused and changes nothing, even when both race; another
/// organization, a changed address or a deleted user frees it.
pub async fn verified_address_is_unique_per_organization(store: Arc<dyn Store>) {
    let mut first = user("oa", "u1", "alice");
    first.email = Some("Shared@Example.test".into());
    let mut second = user("oa", "u2", "bob");
    second.email = Some("shared@example.TEST".into());
    let mut third = user("oa", "u3", "carol");
    third.email = Some("shared@example.test".into());
    let mut elsewhere = user("ob", "u4", "dave");
    elsewhere.email = Some("shared@example.test".into());
    for u in [&first, &second, &third, &elsewhere] {
        store
            .create_user(u, draft(Some(&u.org_id), "user.created", 0))
            .await
            .unwrap();
    }
    let confirm = |u: &portcullis_store::User| {
        let store = store.clone();
        let (org, id, email) = (u.org_id.clone(), u.id.clone(), u.email.clone().unwrap());
        async move {
            store
                .confirm_email(
                    &org,
                    &id,
                    &email,
                    at(9),
                    draft(Some(&org), "user.email.verified", 9),
                )
                .await
                .unwrap()
        }
    };
    assert!(
        !store
            .verified_email_taken(&oid("oa"), "shared@example.test")
            .await
            .unwrap()
    );
    // Two confirmations of one address race: exactly one wins.
    let (a, b) = tokio::join!(confirm(&first), confirm(&second));
    let mut outcomes = [a, b];
    outcomes.sort_by_key(|o| *o == EmailConfirmation::Taken);
    assert_eq!(
        outcomes,
        [EmailConfirmation::Confirmed, EmailConfirmation::Taken]
    );
    let (winner, loser) = if a == EmailConfirmation::Confirmed {
        (&first, &second)
    } else {
        (&second, &first)
    };
    let refused = store
        .get_user(&oid("oa"), &loser.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        refused.verification_pending,
        "the refused one changed nothing"
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("oa")).await)
            .iter()
            .filter(|k| **k == "user.email.verified")
            .count(),
        1
    );
    assert!(
        store
            .verified_email_taken(&oid("oa"), " SHARED@example.test")
            .await
            .unwrap()
    );
    assert!(
        !store
            .verified_email_taken(&oid("oc"), "shared@example.test")
            .await
            .unwrap()
    );
    assert_eq!(
        confirm(&elsewhere).await,
        EmailConfirmation::Confirmed,
        "another organization"
    );

    // A changed address is no longer verified: the old one is free again.
    let profile = UserProfile {
        email: Some("other@example.test".into()),
        display_name: winner.display_name.clone(),
        source: winner.source.clone(),
        roles: winner.roles.clone(),
        disabled: false,
    };
    store
        .update_user_profile(
            &oid("oa"),
            &winner.id,
            &profile,
            at(10),
            draft(Some("oa"), "user.updated", 10),
        )
        .await
        .unwrap();
    assert!(
        !store
            .verified_email_taken(&oid("oa"), "shared@example.test")
            .await
            .unwrap()
    );
    assert_eq!(confirm(&third).await, EmailConfirmation::Confirmed);
    assert_eq!(confirm(loser).await, EmailConfirmation::Taken);

    // A deleted user frees its address.
    store
        .delete_user(&oid("oa"), &third.id, draft(Some("oa"), "user.deleted", 11))
        .await
        .unwrap();
    assert_eq!(confirm(loser).await, EmailConfirmation::Confirmed);
}

/// An event with a mail queued at most once per key is written in every case: with its mail the
/// first time (under the key given), alone after that, alone when it has no mail (which takes
/// no key); another organization is queued.
pub async fn event_is_written_and_its_mail_queued_once(store: Arc<dyn Store>) {
    let request = |org: &str, with_mail: bool| {
        let mut event = draft(Some(org), "user.password.reset_requested", 1);
        event.mail = with_mail.then(|| mail("password_reset", "a@example.test", None));
        event
    };
    let outbox = |org: &'static str| {
        let store = store.clone();
        async move { store.list_outbox(&oid(org), &page(None, 10)).await.unwrap() }
    };
    for (org, with_mail, key, queued) in [
        ("oa", false, "k1", false),
        ("oa", true, "k1", true),
        ("oa", true, "k1", false),
        ("oa", false, "k2", false),
        ("oa", true, "k2", true),
        ("ob", true, "k1", true),
    ] {
        assert_eq!(
            store
                .append_event_mail_once(request(org, with_mail), key)
                .await
                .unwrap(),
            queued,
            "{org} {with_mail} {key}"
        );
    }
    assert_eq!(
        events_of(&*store, Some("oa")).await.len(),
        5,
        "every request recorded"
    );
    let keys: Vec<_> = outbox("oa")
        .await
        .into_iter()
        .map(|m| m.draft.dedupe_key)
        .collect();
    assert_eq!(keys, [Some("k1".to_owned()), Some("k2".to_owned())]);
    assert_eq!(outbox("ob").await.len(), 1);
}
