//! Tenant isolation: two organizations holding look-alike data (same login names, same
//! section names, same counter keys; one id a prefix of the other) never see or change each
//! other's users, sessions, keys, sections, events or counters.

use crate::support::oid;
use std::sync::Arc;

use portcullis_engine::counter::{CounterLimits, CounterState};
use portcullis_store::{CounterChange, Owner, PasswordUpdate, Store, StoreError, UserProfile};
use serde_json::json;

use crate::support::{
    api_key, at, draft, events_of, ids, kinds, org, page, section_draft, sections_of, session,
    token_hash, user,
};

const A: &str = "tenant";
const B: &str = "tenant2";
const KEY: &str = "password|alice|";

async fn populate(store: &dyn Store, o: &str, tag: &str) {
    store
        .create_org(&org(o), draft(None, "org.created", 0))
        .await
        .unwrap();
    store
        .create_user(
            &user(o, &format!("{tag}-alice"), "alice"),
            draft(Some(o), &format!("{tag}.user.created"), 1),
        )
        .await
        .unwrap();
    store
        .create_session(
            &session(o, &format!("{tag}-alice"), &format!("{tag}-s")),
            vec![draft(Some(o), &format!("{tag}.session.created"), 2)],
        )
        .await
        .unwrap();
    store
        .create_api_key(
            &api_key(Some(o), None, &format!("{tag}-k")),
            draft(Some(o), &format!("{tag}.key.created"), 3),
        )
        .await
        .unwrap();
    let owner = Owner::Org(oid(o));
    store
        .write_section(
            &owner,
            "lockout",
            &json!({ "tag": tag }),
            None,
            section_draft(&owner, "lockout", 4),
        )
        .await
        .unwrap();
}

/// Everything organization A holds stays invisible and untouchable through organization B,
/// whose id has A's as a prefix.
pub async fn org_data_never_crosses_organizations(store: Arc<dyn Store>) {
    populate(&*store, A, "a").await;
    populate(&*store, B, "b").await;
    // A's only: one more section, and a counter.
    let a_owner = Owner::Org(oid(A));
    store
        .write_section(
            &a_owner,
            "password",
            &json!({ "min_length": 20 }),
            None,
            section_draft(&a_owner, "password", 5),
        )
        .await
        .unwrap();
    let limits = CounterLimits {
        max_failures: 10,
        window: None,
        lock_for: None,
        reset_after_success: true,
        escalation: portcullis_model::Escalation::NONE,
    };
    let mut fail = |state: &mut CounterState| {
        state.record_failure(&limits, at(6));
        CounterChange::default()
    };
    for _ in 0..3 {
        store.update_counter(&oid(A), KEY, &mut fail).await.unwrap();
    }

    // Reads through B.
    assert_eq!(store.get_user(&oid(B), "a-alice").await.unwrap(), None);
    assert_eq!(
        store
            .find_user_by_login(&oid(B), "alice")
            .await
            .unwrap()
            .map(|u| u.id),
        Some("b-alice".to_owned())
    );
    assert_eq!(
        ids(
            &store.list_users(&oid(B), &page(None, 100)).await.unwrap(),
            |u| { &u.id }
        ),
        ["b-alice"]
    );
    assert_eq!(
        ids(
            &store.list_users(&oid(A), &page(None, 100)).await.unwrap(),
            |u| { &u.id }
        ),
        ["a-alice"]
    );
    assert!(
        store
            .list_user_sessions(&oid(B), "a-alice", &crate::support::page(None, 500))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(
            &store
                .list_api_keys(Some(&oid(B)), &page(None, 100))
                .await
                .unwrap(),
            |k| &k.id
        ),
        ["b-k"]
    );
    assert!(
        store
            .list_api_keys(None, &page(None, 100))
            .await
            .unwrap()
            .is_empty()
    );
    let b_sections = sections_of(&*store, &Owner::Org(oid(B))).await;
    assert_eq!(b_sections.len(), 1);
    assert_eq!(b_sections[0].value, json!({ "tag": "b" }));
    assert_eq!(sections_of(&*store, &a_owner).await.len(), 2);
    let b_events = events_of(&*store, Some(B)).await;
    assert!(b_events.iter().all(|e| e.org_id.as_deref() == Some(B)));
    assert_eq!(
        kinds(&b_events),
        [
            "b.user.created",
            "b.session.created",
            "b.key.created",
            "policy.lockout.changed"
        ]
    );
    assert_eq!(
        kinds(&events_of(&*store, None).await),
        ["org.created", "org.created"]
    );
    assert_eq!(
        store.get_counter(&oid(B), KEY).await.unwrap(),
        CounterState::default()
    );
    assert_eq!(store.get_counter(&oid(A), KEY).await.unwrap().failures, 3);
    // Tokens carry their organization.
    let a_session = store
        .find_session(&token_hash("session", "a-s"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a_session.org_id, A);
    let a_key = store
        .find_api_key(&token_hash("key", "a-k"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a_key.org_id.as_deref(), Some(A));

    // Writes through B.
    let profile = UserProfile {
        email: None,
        display_name: None,
        source: None,
        roles: Vec::new(),
        disabled: true,
    };
    assert_eq!(
        store
            .update_user_profile(
                &oid(B),
                "a-alice",
                &profile,
                at(10),
                draft(Some(B), "x", 10)
            )
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    let update = PasswordUpdate {
        hash: "evil".to_owned(),
        keep_history: 0,
        changed_at: at(11),
        set_by_admin: true,
        expected_hash: None,
    };
    assert_eq!(
        store
            .set_password(
                &oid(B),
                "a-alice",
                &update,
                true,
                None,
                vec![draft(Some(B), "x", 11)]
            )
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    let alice_hash = store
        .get_user(&oid(A), "a-alice")
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    let b_session = portcullis_store::Session {
        org_id: oid(B),
        ..session(B, "a-alice", "b-s-x")
    };
    let login = portcullis_store::LoginRecord {
        verified_hash: alice_hash,
        ip: "192.0.2.1".to_owned(),
        rehash: Some("evil".to_owned()),
    };
    assert!(
        !store
            .open_login_session(&b_session, &login, Vec::new())
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_user(&oid(B), "a-alice", draft(Some(B), "x", 13))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_api_key(&oid(B), "a-k", draft(Some(B), "x", 14))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_section(&oid(B), "password", draft(Some(B), "x", 15))
            .await
            .unwrap()
    );
    let mut fail_b = |state: &mut CounterState| {
        state.record_failure(&limits, at(16));
        CounterChange::default()
    };
    store
        .update_counter(&oid(B), KEY, &mut fail_b)
        .await
        .unwrap();

    // A is as it was.
    assert_eq!(
        store.get_user(&oid(A), "a-alice").await.unwrap(),
        Some(user(A, "a-alice", "alice"))
    );
    assert_eq!(
        store
            .find_session(&token_hash("session", "a-s"))
            .await
            .unwrap(),
        Some(a_session)
    );
    assert_eq!(
        store.find_api_key(&token_hash("key", "a-k")).await.unwrap(),
        Some(a_key)
    );
    assert_eq!(sections_of(&*store, &a_owner).await.len(), 2);
    assert_eq!(store.get_counter(&oid(A), KEY).await.unwrap().failures, 3);
    assert_eq!(store.get_counter(&oid(B), KEY).await.unwrap().failures, 1);
    assert_eq!(
        kinds(&events_of(&*store, Some(A)).await),
        [
            "a.user.created",
            "a.session.created",
            "a.key.created",
            "policy.lockout.changed",
            "policy.password.changed"
        ]
    );
    assert_eq!(
        events_of(&*store, Some(B)).await,
        b_events,
        "no event for refused writes"
    );
}
