//! Opening a login session conditionally (the verified hash must still be current and the user
//! enabled; with the login's reservation completed in the same transaction), keys of one user,
//! one key by id, and counter keys by prefix.

use crate::support::oid;
use std::sync::Arc;

use portcullis_engine::counter::CounterState;
use portcullis_store::{CounterChange, LoginRecord, Store, UserProfile};

use crate::support::{api_key, at, draft, events_of, ids, kinds, org, page, session, user};

fn record(verified: &str, rehash: Option<&str>) -> LoginRecord {
    LoginRecord {
        verified_hash: verified.to_owned(),
        ip: "203.0.113.9".to_owned(),
        rehash: rehash.map(str::to_owned),
    }
}

/// Creates the organization `o` with the user `u1`, login `alice`; answers the user and its hash.
async fn org_with_alice(store: &dyn Store, o: &str) -> (portcullis_store::User, String) {
    store
        .create_org(&org(o), draft(Some(o), "org.created", 0))
        .await
        .unwrap();
    let u = user(o, "u1", "alice");
    store
        .create_user(&u, draft(Some(o), "user.created", 1))
        .await
        .unwrap();
    let current = u.password_hash.clone().unwrap();
    (u, current)
}

/// The session opens, with the login recorded, only while the verified hash is current and the
/// user enabled; otherwise nothing at all is written.
pub async fn login_session_opens_only_for_the_current_hash(store: Arc<dyn Store>) {
    let (u, current) = org_with_alice(&*store, "ls").await;

    // A stale hash (the password changed meanwhile): refused, nothing written.
    let s0 = session("ls", "u1", "s-0");
    let opened = store
        .open_login_session(
            &s0,
            &record("stale", None),
            vec![draft(Some("ls"), "login.succeeded", 2)],
        )
        .await
        .unwrap();
    assert!(!opened);
    assert_eq!(store.find_session(&s0.token_hash).await.unwrap(), None);
    assert_eq!(
        store.get_user(&oid("ls"), "u1").await.unwrap().unwrap(),
        u,
        "user untouched"
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("ls")).await),
        ["org.created", "user.created"]
    );

    // Current hash: opened, login recorded, rehash stored, event written.
    let s1 = session("ls", "u1", "s-1");
    let opened = store
        .open_login_session(
            &s1,
            &record(&current, Some("rehashed")),
            vec![draft(Some("ls"), "login.succeeded", 3)],
        )
        .await
        .unwrap();
    assert!(opened);
    assert_eq!(
        store.find_session(&s1.token_hash).await.unwrap(),
        Some(s1.clone())
    );
    let after = store.get_user(&oid("ls"), "u1").await.unwrap().unwrap();
    assert_eq!(after.last_login_at, Some(s1.created_at));
    assert_eq!(after.last_login_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(after.password_hash.as_deref(), Some("rehashed"));
    assert_eq!(
        kinds(&events_of(&*store, Some("ls")).await),
        ["org.created", "user.created", "login.succeeded"]
    );

    // Disabled: refused even with the current hash.
    let profile = UserProfile {
        email: after.email.clone(),
        display_name: after.display_name.clone(),
        source: after.source.clone(),
        roles: after.roles.clone(),
        disabled: true,
    };
    store
        .update_user_profile(
            &oid("ls"),
            "u1",
            &profile,
            at(4),
            draft(Some("ls"), "user.changed", 4),
        )
        .await
        .unwrap();
    let s2 = session("ls", "u1", "s-2");
    assert!(
        !store
            .open_login_session(&s2, &record("rehashed", None), Vec::new())
            .await
            .unwrap()
    );
    assert_eq!(store.find_session(&s2.token_hash).await.unwrap(), None);

    // Another organization's user, or a missing one: refused.
    let s3 = session("other", "u1", "s-3");
    assert!(
        !store
            .open_login_session(&s3, &record("rehashed", None), Vec::new())
            .await
            .unwrap()
    );
}

/// A login's reservation completes in the transaction that opens its session: the counter's
/// change is written whatever follows, the session only when the completion allows it and the
/// verified hash is current; a completion that changes nothing leaves no counter row behind.
pub async fn login_completion_and_session_commit_together(store: Arc<dyn Store>) {
    let (u, current) = org_with_alice(&*store, "lc").await;
    let key = "password|alice";
    let set_failures = |failures: u32, allow: bool, kind: &'static str| {
        move |s: &mut CounterState| {
            s.failures = failures;
            let events = if failures == 0 {
                Vec::new()
            } else {
                vec![draft(Some("lc"), kind, 2)]
            };
            (CounterChange::from(events), allow)
        }
    };
    let failures = |store: Arc<dyn Store>| async move {
        store.get_counter(&oid("lc"), key).await.unwrap().failures
    };

    // The completion refuses: its change commits, no session, the user untouched.
    let s0 = session("lc", "u1", "lc-0");
    let mut refuse = set_failures(7, false, "counter.refused");
    let opened = store
        .complete_login(
            key,
            &mut refuse,
            &s0,
            &record(&current, None),
            vec![draft(Some("lc"), "login.succeeded", 3)],
        )
        .await
        .unwrap();
    assert!(!opened);
    assert_eq!(failures(store.clone()).await, 7);
    assert_eq!(store.find_session(&s0.token_hash).await.unwrap(), None);
    assert_eq!(store.get_user(&oid("lc"), "u1").await.unwrap().unwrap(), u);

    // Allowed, but the verified hash is stale: the counter's change commits, no session.
    let s1 = session("lc", "u1", "lc-1");
    let mut stale = set_failures(8, true, "counter.stale");
    assert!(
        !store
            .complete_login(key, &mut stale, &s1, &record("stale", None), Vec::new())
            .await
            .unwrap()
    );
    assert_eq!(failures(store.clone()).await, 8);
    assert_eq!(store.find_session(&s1.token_hash).await.unwrap(), None);

    // Allowed with the current hash: the counter back to the default (no row) and the session,
    // the login and its event, all at once.
    let s2 = session("lc", "u1", "lc-2");
    let mut succeed = |s: &mut CounterState| {
        *s = CounterState::default();
        (CounterChange::default(), true)
    };
    assert!(
        store
            .complete_login(
                key,
                &mut succeed,
                &s2,
                &record(&current, None),
                vec![draft(Some("lc"), "login.succeeded", 4)],
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.find_session(&s2.token_hash).await.unwrap(),
        Some(s2.clone())
    );
    assert_eq!(failures(store.clone()).await, 0);
    assert_eq!(
        store
            .counter_keys(&oid("lc"), "password|", None)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("lc")).await),
        [
            "org.created",
            "user.created",
            "counter.refused",
            "counter.stale",
            "login.succeeded"
        ]
    );

    // A completion that changes nothing on a missing counter: the session opens and no
    // placeholder row is left behind.
    let s3 = session("lc", "u1", "lc-3");
    let mut nothing = |_: &mut CounterState| (CounterChange::default(), true);
    assert!(
        store
            .complete_login(
                "password|bob",
                &mut nothing,
                &s3,
                &record(&current, None),
                Vec::new()
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .counter_keys(&oid("lc"), "password|", None)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert!(store.find_session(&s3.token_hash).await.unwrap().is_some());
}

/// Keys of one user, paged; one key by id, scoped by organization.
pub async fn api_keys_of_a_user_and_by_id(store: Arc<dyn Store>) {
    for (o, u, id) in [
        ("ku", Some("u1"), "k-1"),
        ("ku", Some("u2"), "k-2"),
        ("ku", Some("u1"), "k-3"),
        ("ku", None, "k-4"),
        ("kv", Some("u1"), "k-5"),
    ] {
        store
            .create_api_key(
                &api_key(Some(o), u, id),
                draft(Some(o), "api_key.created", 1),
            )
            .await
            .unwrap();
    }
    let mine = store
        .list_user_api_keys(&oid("ku"), "u1", &page(None, 10))
        .await
        .unwrap();
    assert_eq!(ids(&mine, |k| &k.id), ["k-1", "k-3"]);
    let first = store
        .list_user_api_keys(&oid("ku"), "u1", &page(None, 1))
        .await
        .unwrap();
    assert_eq!(ids(&first, |k| &k.id), ["k-1"]);
    let next = store
        .list_user_api_keys(&oid("ku"), "u1", &page(Some("k-1"), 1))
        .await
        .unwrap();
    assert_eq!(ids(&next, |k| &k.id), ["k-3"]);
    assert_eq!(
        store
            .get_api_key(&oid("ku"), "k-2")
            .await
            .unwrap()
            .map(|k| k.id),
        Some("k-2".to_owned())
    );
    assert_eq!(
        store.get_api_key(&oid("kv"), "k-2").await.unwrap(),
        None,
        "scoped by organization"
    );
    assert_eq!(store.get_api_key(&oid("ku"), "nope").await.unwrap(), None);
}

/// Counter keys by prefix: only that organization's, only that prefix, in key order.
pub async fn counter_keys_by_prefix(store: Arc<dyn Store>) {
    for (o, key) in [
        ("cp", "password|alice|"),
        ("cp", "password|alice|192.0.2.1"),
        ("cp", "password|alice|2001:db8::1"),
        ("cp", "password|alicia|"),
        ("cp", "otp|alice|"),
        ("cq", "password|alice|"),
    ] {
        store
            .update_counter(&oid(o), key, &mut |s: &mut CounterState| {
                s.failures = 1;
                CounterChange::default()
            })
            .await
            .unwrap();
    }
    let keys = store
        .counter_keys(&oid("cp"), "password|alice|", None)
        .await
        .unwrap();
    assert_eq!(
        keys,
        [
            "password|alice|",
            "password|alice|192.0.2.1",
            "password|alice|2001:db8::1"
        ]
    );
    assert!(
        store
            .counter_keys(&oid("cp"), "password|bob|", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .counter_keys(&oid("cq"), "password|", None)
            .await
            .unwrap(),
        ["password|alice|"]
    );
}

/// Expired sessions go, by absolute or idle deadline, in one organization only.
pub async fn expired_sessions_are_deleted(store: Arc<dyn Store>) {
    let make = |org: &str, id: &str, created: i64, used: i64| {
        let mut s = session(org, "u1", id);
        s.created_at = at(created);
        s.last_used_at = at(used);
        s
    };
    for s in [
        make("xs", "old", 0, 500),
        make("xs", "idle", 100, 150),
        make("xs", "live", 400, 900),
        make("xt", "other-org-old", 0, 0),
    ] {
        store.create_session(&s, Vec::new()).await.unwrap();
    }
    // Absolute: created at or before 50; idle: last used at or before 200.
    let gone = store
        .delete_expired_sessions(&oid("xs"), at(50), Some(at(200)))
        .await
        .unwrap();
    assert_eq!(gone, 2);
    let left = store
        .list_user_sessions(&oid("xs"), "u1", &crate::support::page(None, 500))
        .await
        .unwrap();
    assert_eq!(ids(&left, |s| &s.id), ["live"]);
    assert_eq!(
        store
            .list_user_sessions(&oid("xt"), "u1", &crate::support::page(None, 500))
            .await
            .unwrap()
            .len(),
        1,
        "other org untouched"
    );
    assert_eq!(
        store
            .delete_expired_sessions(&oid("xs"), at(50), None)
            .await
            .unwrap(),
        0
    );
}

/// A lease goes to one holder at a time, is renewed by its holder, and changes hands only
/// after it ended.
pub async fn a_lease_has_one_holder_at_a_time(store: Arc<dyn Store>) {
    assert!(store.try_lease("sweep", "a", at(0), at(60)).await.unwrap());
    assert!(!store.try_lease("sweep", "b", at(10), at(70)).await.unwrap());
    assert!(
        store.try_lease("sweep", "a", at(30), at(90)).await.unwrap(),
        "renewed"
    );
    assert!(
        !store
            .try_lease("sweep", "b", at(89), at(149))
            .await
            .unwrap()
    );
    assert!(
        store
            .try_lease("sweep", "b", at(90), at(150))
            .await
            .unwrap(),
        "ended: taken over"
    );
    assert!(
        !store
            .try_lease("sweep", "a", at(100), at(160))
            .await
            .unwrap()
    );
    assert!(
        store
            .try_lease("other", "a", at(100), at(160))
            .await
            .unwrap(),
        "leases are named"
    );
}

/// Every method, one scenario, the recorded answers (the same on every database).
pub async fn answers_like_the_recorded_log(store: Arc<dyn Store>) {
    crate::scenario::answers_like_the_recorded_log(store).await;
}
