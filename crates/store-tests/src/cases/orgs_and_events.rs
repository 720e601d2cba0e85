//! Organizations (create, conflict, get, paging by id) and the event log (instance-wide,
//! strictly increasing sequences; per-organization and instance streams; the `after` cursor).

use crate::support::oid;
use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_store::{Event, MAX_PAGE, Org, Owner, Store, StoreError, UserProfile};
use serde_json::json;

use crate::scenario::{T0, api_key, event as scenario_event, session, user};
use crate::support::{assert_strictly_increasing, at, draft, events_of, ids, kinds, org, page};

/// Creating an organization stores it with its event; a taken id is a `Conflict` that changes
/// nothing and records nothing.
pub async fn org_create_get_and_conflict(store: Arc<dyn Store>) {
    let acme = org("acme");
    store
        .create_org(&acme, draft(None, "org.created", 1))
        .await
        .unwrap();
    assert_eq!(
        store.get_org(&oid("acme")).await.unwrap(),
        Some(acme.clone())
    );
    assert_eq!(store.get_org(&oid("acme2")).await.unwrap(), None);
    assert_eq!(store.get_org(&oid("acm")).await.unwrap(), None);

    let imposter = Org {
        id: oid("acme"),
        name: "Another name".to_owned(),
        created_at: at(60),
    };
    let err = store
        .create_org(&imposter, draft(None, "org.created.again", 2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    assert_eq!(store.get_org(&oid("acme")).await.unwrap(), Some(acme));

    let events = events_of(&*store, None).await;
    assert_eq!(kinds(&events), ["org.created"]);
    let expected = Event::from_draft(events[0].sequence, draft(None, "org.created", 1));
    assert_eq!(events[0], expected, "the event must round-trip exactly");
    assert_eq!(
        store.list_orgs(&page(None, 10)).await.unwrap().len(),
        1,
        "a conflicting create must not add a row"
    );
}

/// `list_orgs` answers organizations ordered by id, strictly after `after`, at most `limit`.
pub async fn org_list_paging(store: Arc<dyn Store>) {
    for id in ["o-c", "o-a", "o-e", "o-b", "o-d"] {
        store
            .create_org(&org(id), draft(None, "org.created", 0))
            .await
            .unwrap();
    }
    let list = async |after: Option<&str>, limit: u32| -> Vec<String> {
        let orgs = store.list_orgs(&page(after, limit)).await.unwrap();
        ids(&orgs, |o| &o.id)
    };
    assert_eq!(list(None, 2).await, ["o-a", "o-b"]);
    assert_eq!(list(Some("o-b"), 2).await, ["o-c", "o-d"]);
    assert_eq!(list(Some("o-d"), 2).await, ["o-e"]);
    assert_eq!(list(Some("o-e"), 2).await, Vec::<String>::new());
    assert_eq!(list(None, 1).await, ["o-a"]);
    // The cursor need not be an existing id.
    assert_eq!(list(Some("o-bb"), 10).await, ["o-c", "o-d", "o-e"]);
    assert_eq!(
        list(Some(""), 10).await,
        ["o-a", "o-b", "o-c", "o-d", "o-e"]
    );
    // Limits above the cap are capped, not an error.
    assert_eq!(list(None, MAX_PAGE).await.len(), 5);
    assert_eq!(list(None, u32::MAX).await.len(), 5);
    // Full records, not only ids.
    let orgs = store.list_orgs(&page(Some("o-c"), 1)).await.unwrap();
    assert_eq!(orgs, [org("o-d")]);
}

/// Walking `list_orgs` page by page visits every id exactly once, whatever ordering the
/// database uses for mixed-case ids, as long as its order and its `after` filter agree.
pub async fn org_list_paging_walks_every_id_once(store: Arc<dyn Store>) {
    let all = ["B", "a", "c-1", "C.2", "_x", "0", "a_", "A", "b.b"];
    for id in all {
        store
            .create_org(&org(id), draft(None, "org.created", 0))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = store.list_orgs(&page(after.as_deref(), 2)).await.unwrap();
        assert!(batch.len() <= 2, "limit 2 answered {} rows", batch.len());
        let Some(last) = batch.last() else { break };
        after = Some(last.id.to_string());
        seen.extend(batch.into_iter().map(|o| o.id.to_string()));
        assert!(seen.len() <= all.len(), "paging does not end: {seen:?}");
    }
    let unique: BTreeSet<&str> = seen.iter().map(|id| id.as_str()).collect();
    assert_eq!(unique.len(), seen.len(), "an id came twice: {seen:?}");
    assert_eq!(unique, all.into_iter().collect(), "paging lost ids");
    let one_page = store.list_orgs(&page(None, 100)).await.unwrap();
    assert_eq!(
        ids(&one_page, |o| &o.id),
        seen,
        "pages disagree with one page"
    );
}

/// Event sequences grow strictly across calls and streams; each stream (per organization,
/// instance) holds only its events, oldest first, from the `after` cursor, at most `limit`.
pub async fn events_sequences_and_cursor(store: Arc<dyn Store>) {
    assert!(events_of(&*store, None).await.is_empty());
    store.append_events(Vec::new()).await.unwrap();

    let e1 = Some("e1");
    let e2 = Some("e2");
    let batches = [
        vec![
            draft(e1, "e1.one", 1),
            draft(e1, "e1.two", 2),
            draft(e1, "e1.three", 3),
        ],
        vec![draft(None, "instance.one", 4), draft(e2, "e2.one", 5)],
        vec![draft(None, "instance.two", 6)],
        vec![draft(e1, "e1.four", 7), draft(e1, "e1.five", 8)],
    ];
    let written: Vec<_> = batches.iter().flatten().cloned().collect();
    for batch in batches {
        store.append_events(batch).await.unwrap();
    }

    let of_e1 = events_of(&*store, e1).await;
    let of_e2 = events_of(&*store, e2).await;
    let of_instance = events_of(&*store, None).await;
    assert_eq!(
        kinds(&of_e1),
        ["e1.one", "e1.two", "e1.three", "e1.four", "e1.five"]
    );
    assert_eq!(kinds(&of_e2), ["e2.one"]);
    assert_eq!(kinds(&of_instance), ["instance.one", "instance.two"]);
    assert!(of_e1.iter().all(|e| e.org_id.as_deref() == e1));
    assert!(of_instance.iter().all(|e| e.org_id.is_none()));
    assert_strictly_increasing(&of_e1);
    assert_strictly_increasing(&of_instance);

    // Across streams, sequences follow the order of writing, instance-wide.
    let mut merged: Vec<Event> = [of_e1.clone(), of_e2, of_instance].concat();
    merged.sort_by_key(|e| e.sequence);
    assert_strictly_increasing(&merged);
    let expected: Vec<Event> = merged
        .iter()
        .zip(written)
        .map(|(e, d)| Event::from_draft(e.sequence, d))
        .collect();
    assert_eq!(
        merged, expected,
        "events must round-trip in the order written"
    );

    // The cursor.
    let after_two = store
        .list_events(Some(&oid("e1")), of_e1[1].sequence, 2)
        .await
        .unwrap();
    assert_eq!(kinds(&after_two), ["e1.three", "e1.four"]);
    let one = store.list_events(Some(&oid("e1")), 0, 1).await.unwrap();
    assert_eq!(kinds(&one), ["e1.one"]);
    let last = store
        .list_events(Some(&oid("e1")), of_e1[4].sequence, 10)
        .await
        .unwrap();
    assert!(last.is_empty());
    // A cursor between two of the stream's sequences (another stream's event) works too.
    let between = of_e1[2].sequence + 1;
    assert!(between < of_e1[3].sequence, "test setup: a gap is expected");
    let rest = store
        .list_events(Some(&oid("e1")), between, 10)
        .await
        .unwrap();
    assert_eq!(kinds(&rest), ["e1.four", "e1.five"]);
    assert_eq!(
        store
            .list_events(Some(&oid("e1")), 0, u32::MAX)
            .await
            .unwrap()
            .len(),
        5,
        "a limit above the cap is capped, not an error"
    );
    assert!(
        store
            .list_events(Some(&oid("e")), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Concurrent appends get distinct sequences, and the events of one call keep their order.
pub async fn events_concurrent_appends_get_unique_sequences(store: Arc<dyn Store>) {
    const CALLS: i64 = 32;
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let org = if i % 2 == 0 { Some("even") } else { None };
                store
                    .append_events(vec![
                        draft(org, &format!("call-{i}.first"), i),
                        draft(org, &format!("call-{i}.second"), i),
                    ])
                    .await
                    .unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let even = events_of(&*store, Some("even")).await;
    let instance = events_of(&*store, None).await;
    assert_eq!(even.len(), CALLS as usize);
    assert_eq!(instance.len(), CALLS as usize);
    assert_strictly_increasing(&even);
    assert_strictly_increasing(&instance);
    let mut all: Vec<Event> = [even, instance].concat();
    all.sort_by_key(|e| e.sequence);
    assert_strictly_increasing(&all);
    for i in 0..CALLS {
        let seq = |kind: String| {
            all.iter()
                .find(|e| e.kind == kind)
                .unwrap_or_else(|| panic!("event {kind} lost"))
                .sequence
        };
        assert!(
            seq(format!("call-{i}.first")) < seq(format!("call-{i}.second")),
            "the events of one call must keep their order"
        );
    }
}

/// Event retention: only events recorded before the cut are deleted, the oldest first, at most
/// `limit` a call, across organizations and the instance; later events and sequences stay.
pub async fn events_deleted_before_a_time_in_batches(store: Arc<dyn Store>) {
    for (org, n) in [
        (Some("er-a"), 1),
        (None, 2),
        (Some("er-b"), 3),
        (Some("er-a"), 4),
    ] {
        store
            .append_events(vec![draft(org, "old", n)])
            .await
            .unwrap();
    }
    store
        .append_events(vec![draft(Some("er-a"), "new", 100)])
        .await
        .unwrap();
    let kinds_of = async |org: Option<&str>| -> Vec<String> {
        let events = events_of(&*store, org).await;
        kinds(&events).into_iter().map(str::to_owned).collect()
    };
    assert_eq!(store.delete_events_before(at(50), 3).await.unwrap(), 3);
    assert_eq!(
        kinds_of(Some("er-a")).await,
        ["old", "new"],
        "the oldest went first"
    );
    assert!(kinds_of(Some("er-b")).await.is_empty());
    assert!(kinds_of(None).await.is_empty());
    assert_eq!(store.delete_events_before(at(50), 3).await.unwrap(), 1);
    assert_eq!(store.delete_events_before(at(50), 3).await.unwrap(), 0);
    let left = events_of(&*store, Some("er-a")).await;
    assert_eq!(kinds(&left), ["new"]);
    // Sequences go on growing after a deletion.
    store
        .append_events(vec![draft(Some("er-a"), "newer", 101)])
        .await
        .unwrap();
    let after = events_of(&*store, Some("er-a")).await;
    assert!(after[1].sequence > left[0].sequence);
}

/// Every unique key answers `Conflict` naming the key (the labels the HTTP layer maps), a
/// conditional write that finds another version answers `VersionMismatch`, a missing record
/// `NotFound`; none of these leaves a row or an event behind.
pub async fn refused_writes_are_typed_and_leave_nothing(store: Arc<dyn Store>) {
    let org = Org {
        id: oid("acme"),
        name: "Acme".to_owned(),
        created_at: T0,
    };
    store
        .create_org(&org, scenario_event(None, "org.created", 0))
        .await
        .unwrap();
    assert_eq!(
        store
            .create_org(&org, scenario_event(None, "org.created", 1))
            .await,
        Err(StoreError::Conflict("organization id".to_owned()))
    );
    store
        .create_user(
            &user("acme", "u1", "Alice"),
            scenario_event(Some("acme"), "user.created", 2),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .create_user(
                &user("acme", "u2", "alice"),
                scenario_event(Some("acme"), "user.created", 3)
            )
            .await,
        Err(StoreError::Conflict("login".to_owned()))
    );
    assert_eq!(
        store
            .create_user(
                &user("acme", "u1", "other"),
                scenario_event(Some("acme"), "user.created", 3)
            )
            .await,
        Err(StoreError::Conflict("user id".to_owned()))
    );
    store
        .create_session(&session("s1", "u1", 4), vec![])
        .await
        .unwrap();
    let mut same_token = session("s2", "u1", 4);
    same_token.token_hash = "session-hash-s1".to_owned();
    assert_eq!(
        store.create_session(&same_token, vec![]).await,
        Err(StoreError::Conflict("session".to_owned()))
    );
    store
        .create_api_key(
            &api_key("k1", Some("acme"), None),
            scenario_event(None, "key", 4),
        )
        .await
        .unwrap();
    let mut same_hash = api_key("k2", Some("acme"), None);
    same_hash.token_hash = "key-hash-k1".to_owned();
    assert_eq!(
        store
            .create_api_key(&same_hash, scenario_event(None, "key", 4))
            .await,
        Err(StoreError::Conflict("api key".to_owned()))
    );
    assert_eq!(
        store
            .write_section(
                &Owner::Instance,
                "lockout",
                &json!({}),
                Some(1),
                scenario_event(None, "policy", 4)
            )
            .await,
        Err(StoreError::VersionMismatch)
    );
    // The refused write left no placeholder row behind.
    assert_eq!(store.load_sections(&Owner::Instance).await.unwrap(), vec![]);
    assert_eq!(
        store
            .update_user_profile(
                &oid("acme"),
                "zz",
                &UserProfile {
                    email: None,
                    display_name: None,
                    source: None,
                    roles: vec![],
                    disabled: false,
                },
                T0,
                scenario_event(Some("acme"), "user.changed", 5)
            )
            .await,
        Err(StoreError::NotFound)
    );
    // Failed calls wrote no event.
    let instance = events_of(&*store, None).await;
    assert_eq!(kinds(&instance), ["org.created", "key"]);
    assert_eq!(
        store
            .list_events(Some(&oid("acme")), 0, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}
