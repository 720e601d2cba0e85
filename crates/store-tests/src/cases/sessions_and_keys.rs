//! Sessions (create with events, lookup by token hash, last use that never moves back, delete
//! with its event only when one existed, listing per user) and API keys (lookup by hash, lists
//! per organization and for the instance, deletes scoped by organization, the bootstrap check,
//! and the last instance key that is never deleted).

use crate::support::oid;
use std::sync::Arc;

use portcullis_store::{ApiKey, InstanceKeyDeletion, Session, Store, StoreError};

use crate::support::{api_key, at, draft, events_of, ids, kinds, page, session, token_hash};

/// A session reads back exactly by its token hash; unique id and token hash; `touch_session`
/// only ever moves the last use forward.
pub async fn session_create_find_touch(store: Arc<dyn Store>) {
    let s1 = Session {
        password_change_only: true,
        stage: portcullis_store::SessionStage::Full,
        ..session("sk", "u1", "s-1")
    };
    store
        .create_session(
            &s1,
            vec![
                draft(Some("sk"), "login.succeeded", 10),
                draft(Some("sk"), "session.created", 10),
            ],
        )
        .await
        .unwrap();
    let found = |id: &str| {
        let store = Arc::clone(&store);
        let hash = token_hash("session", id);
        async move { store.find_session(&hash).await.unwrap() }
    };
    assert_eq!(found("s-1").await, Some(s1.clone()));
    assert_eq!(found("s-2").await, None);
    // Every stage reads back as written.
    for (id, stage) in [
        ("s-enroll", portcullis_store::SessionStage::MfaEnrollOnly),
        ("s-challenge", portcullis_store::SessionStage::MfaChallenge),
    ] {
        let staged = Session {
            stage,
            ..session("sk-stages", "u1", id)
        };
        store.create_session(&staged, Vec::new()).await.unwrap();
        assert_eq!(found(id).await, Some(staged));
    }
    assert_eq!(
        kinds(&events_of(&*store, Some("sk")).await),
        ["login.succeeded", "session.created"]
    );

    // Same token hash under another id, same id with another token hash: both taken.
    let same_token = Session {
        id: "s-2".to_owned(),
        ..s1.clone()
    };
    let same_id = Session {
        token_hash: token_hash("session", "s-3"),
        ..session("sk", "u2", "s-1")
    };
    for dup in [same_token, same_id] {
        let err = store
            .create_session(&dup, vec![draft(Some("sk"), "session.created.dup", 11)])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(_)),
            "got {err:?} for {dup:?}"
        );
    }
    assert_eq!(found("s-1").await, Some(s1.clone()));
    assert_eq!(found("s-3").await, None);
    assert_eq!(
        store
            .list_user_sessions(&oid("sk"), "u2", &crate::support::page(None, 500))
            .await
            .unwrap(),
        []
    );
    assert_eq!(
        events_of(&*store, Some("sk")).await.len(),
        2,
        "no event for a conflict"
    );

    // Forward only.
    for (to, expected) in [(100, 100), (50, 100), (100, 100), (150, 150), (19, 150)] {
        store.touch_session("s-1", at(to)).await.unwrap();
        assert_eq!(
            found("s-1").await,
            Some(Session {
                last_used_at: at(expected),
                ..s1.clone()
            }),
            "after touching at {to}"
        );
    }
}

/// `list_user_sessions` answers one user's sessions of one organization, ordered by id;
/// `delete_session` answers whether it existed and records its event only then.
pub async fn session_delete_and_list(store: Arc<dyn Store>) {
    for (org, user, id) in [
        ("sl", "u1", "s-3"),
        ("sl", "u1", "s-1"),
        ("sl", "u2", "s-0"),
        ("sl", "u1", "s-2"),
        ("sl-other", "u1", "s-9"),
    ] {
        store
            .create_session(&session(org, user, id), Vec::new())
            .await
            .unwrap();
    }
    let list = async |org: &str, user: &str| {
        store
            .list_user_sessions(&oid(org), user, &crate::support::page(None, 500))
            .await
            .unwrap()
    };
    assert_eq!(
        list("sl", "u1").await,
        [
            session("sl", "u1", "s-1"),
            session("sl", "u1", "s-2"),
            session("sl", "u1", "s-3"),
        ]
    );
    assert_eq!(ids(&list("sl", "u2").await, |s| &s.id), ["s-0"]);
    assert_eq!(ids(&list("sl-other", "u1").await, |s| &s.id), ["s-9"]);
    assert!(list("sl", "u9").await.is_empty());
    assert!(events_of(&*store, Some("sl")).await.is_empty());

    let deleted = draft(Some("sl"), "session.deleted", 20);
    assert!(store.delete_session("s-2", deleted.clone()).await.unwrap());
    assert_eq!(
        kinds(&events_of(&*store, Some("sl")).await),
        ["session.deleted"]
    );
    assert_eq!(
        store
            .find_session(&token_hash("session", "s-2"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(ids(&list("sl", "u1").await, |s| &s.id), ["s-1", "s-3"]);

    assert!(!store.delete_session("s-2", deleted.clone()).await.unwrap());
    assert!(!store.delete_session("s-404", deleted).await.unwrap());
    assert_eq!(
        events_of(&*store, Some("sl")).await.len(),
        1,
        "no event when none existed"
    );
    assert_eq!(ids(&list("sl", "u1").await, |s| &s.id), ["s-1", "s-3"]);
    assert_eq!(ids(&list("sl-other", "u1").await, |s| &s.id), ["s-9"]);
}

/// API keys read back exactly by hash; lists per organization (`None`: instance) ordered by
/// id with paging; unique id and hash; deletes scoped by organization.
pub async fn api_key_create_find_list_delete(store: Arc<dyn Store>) {
    let k1 = ApiKey {
        expires_at: None,
        roles: Vec::new(),
        ..api_key(Some("ka"), None, "k-1")
    };
    // An access key: its sealed secret reads back as written.
    let k2 = ApiKey {
        sealed_secret: Some("v1.sealed-secret".to_owned()),
        parent_id: Some("k-1".to_owned()),
        ..api_key(Some("ka"), Some("u1"), "k-2")
    };
    let k3 = api_key(Some("ka"), Some("u2"), "k-3");
    let i1 = api_key(None, None, "i-1");
    let i2 = ApiKey {
        roles: vec![portcullis_store::Role::InstanceAdmin],
        ..api_key(None, Some("admin"), "i-2")
    };
    let k9 = api_key(Some("kb"), None, "k-9");
    for key in [&k2, &i2, &k1, &k9, &k3, &i1] {
        store
            .create_api_key(key, draft(key.org_id.as_deref(), "key.created", 0))
            .await
            .unwrap();
    }

    for key in [&k1, &k2, &k3, &i1, &i2, &k9] {
        assert_eq!(
            store.find_api_key(&key.token_hash).await.unwrap().as_ref(),
            Some(key)
        );
    }
    assert_eq!(
        store.find_api_key(&token_hash("key", "k-4")).await.unwrap(),
        None
    );

    let list = async |org: Option<&str>, after: Option<&str>, limit: u32| {
        let org = org.map(oid);
        store
            .list_api_keys(org.as_ref(), &page(after, limit))
            .await
            .unwrap()
    };
    assert_eq!(list(Some("ka"), None, 2).await, [k1.clone(), k2.clone()]);
    assert_eq!(
        list(Some("ka"), Some("k-2"), 2).await,
        std::slice::from_ref(&k3)
    );
    assert_eq!(list(Some("ka"), Some("k-3"), 2).await, []);
    assert_eq!(list(None, None, 10).await, [i1.clone(), i2.clone()]);
    assert_eq!(list(None, Some("i-1"), 10).await, std::slice::from_ref(&i2));
    assert_eq!(list(Some("kb"), None, 10).await, std::slice::from_ref(&k9));
    assert_eq!(list(Some("kc"), None, 10).await, []);

    // Same hash under another id, same id with another hash: both taken.
    let same_hash = ApiKey {
        id: "k-4".to_owned(),
        ..k1.clone()
    };
    let same_id = ApiKey {
        token_hash: token_hash("key", "k-5"),
        ..api_key(Some("kb"), None, "k-1")
    };
    for dup in [same_hash, same_id] {
        let err = store
            .create_api_key(&dup, draft(dup.org_id.as_deref(), "key.created.dup", 1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(_)),
            "got {err:?} for {dup:?}"
        );
    }
    assert_eq!(
        store.find_api_key(&token_hash("key", "k-5")).await.unwrap(),
        None
    );
    assert_eq!(list(Some("kb"), None, 10).await, std::slice::from_ref(&k9));
    assert_eq!(
        store.find_api_key(&k1.token_hash).await.unwrap(),
        Some(k1.clone())
    );

    // Deletes are scoped by organization; instance keys are not an organization's. Only a
    // deletion that deleted moves the version processes drop their cached keys on.
    let version = store.policy_version().await.unwrap();
    let deleted = |org: &str| draft(Some(org), "key.deleted", 2);
    assert!(
        !store
            .delete_api_key(&oid("kb"), "k-1", deleted("kb"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_api_key(&oid("ka"), "i-1", deleted("ka"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_api_key(&oid("ka"), "k-404", deleted("ka"))
            .await
            .unwrap()
    );
    assert_eq!(
        store.find_api_key(&k1.token_hash).await.unwrap(),
        Some(k1.clone())
    );
    assert_eq!(
        store.find_api_key(&i1.token_hash).await.unwrap(),
        Some(i1.clone())
    );
    assert_eq!(store.policy_version().await.unwrap(), version);
    assert_eq!(
        kinds(&events_of(&*store, Some("kb")).await),
        ["key.created"]
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("ka")).await),
        ["key.created"; 3]
    );

    assert!(
        store
            .delete_api_key(&oid("ka"), "k-1", deleted("ka"))
            .await
            .unwrap()
    );
    assert_eq!(store.find_api_key(&k1.token_hash).await.unwrap(), None);
    assert!(store.policy_version().await.unwrap() > version);
    assert_eq!(list(Some("ka"), None, 10).await, [k2, k3]);
    assert!(
        !store
            .delete_api_key(&oid("ka"), "k-1", deleted("ka"))
            .await
            .unwrap()
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("ka")).await),
        ["key.created", "key.created", "key.created", "key.deleted"]
    );
    assert_eq!(list(None, None, 10).await, [i1, i2]);
    assert_eq!(list(Some("kb"), None, 10).await, [k9]);
}

/// `has_instance_key` is true exactly when an instance-level key exists; organization keys do
/// not count.
pub async fn api_key_has_instance_key(store: Arc<dyn Store>) {
    assert!(!store.has_instance_key().await.unwrap());
    store
        .create_api_key(
            &api_key(Some("hk"), None, "k-1"),
            draft(Some("hk"), "key.created", 0),
        )
        .await
        .unwrap();
    assert!(
        !store.has_instance_key().await.unwrap(),
        "an organization key is no instance key"
    );
    store
        .create_api_key(&api_key(None, None, "i-1"), draft(None, "key.created", 1))
        .await
        .unwrap();
    assert!(store.has_instance_key().await.unwrap());
}

/// An instance key is deleted with its event unless it is the last one; an organization's key
/// is no instance key; and concurrent deletions of every instance key leave exactly one.
pub async fn api_key_last_instance_key_stays(store: Arc<dyn Store>) {
    for key in [api_key(Some("lk"), None, "k-1"), api_key(None, None, "i-1")] {
        store
            .create_api_key(&key, draft(key.org_id.as_deref(), "key.created", 0))
            .await
            .unwrap();
    }
    let deleted = |n: i64| draft(None, "instance_key.revoked", n);
    assert_eq!(
        store.delete_instance_key("k-1", deleted(1)).await.unwrap(),
        InstanceKeyDeletion::NotFound,
        "an organization's key is no instance key"
    );
    assert_eq!(
        store
            .delete_instance_key("i-404", deleted(2))
            .await
            .unwrap(),
        InstanceKeyDeletion::NotFound
    );
    // A key issued from the last one (a console session) works only while its parent does:
    // it does not count as another instance key.
    let child = ApiKey {
        parent_id: Some("i-1".into()),
        ..api_key(None, None, "i-1-child")
    };
    store
        .create_api_key(&child, draft(None, "key.created", 2))
        .await
        .unwrap();
    assert_eq!(
        store.delete_instance_key("i-1", deleted(3)).await.unwrap(),
        InstanceKeyDeletion::LastKey
    );
    assert_eq!(
        store.get_instance_key("i-1").await.unwrap().unwrap().id,
        "i-1"
    );
    assert_eq!(
        store.get_instance_key("k-1").await.unwrap(),
        None,
        "an organization's key is no instance key"
    );
    assert!(
        kinds(&events_of(&*store, None).await)
            .iter()
            .all(|k| *k != "instance_key.revoked"),
        "a refused deletion writes no event"
    );
    assert_eq!(
        store
            .delete_instance_key("i-1-child", deleted(4))
            .await
            .unwrap(),
        InstanceKeyDeletion::Deleted,
        "an issued key can go while its parent stays"
    );
    let version = store.policy_version().await.unwrap();
    let i2 = api_key(None, None, "i-2");
    store
        .create_api_key(&i2, draft(None, "key.created", 4))
        .await
        .unwrap();
    assert_eq!(store.policy_version().await.unwrap(), version);
    assert_eq!(
        store.delete_instance_key("i-1", deleted(5)).await.unwrap(),
        InstanceKeyDeletion::Deleted
    );
    assert!(store.policy_version().await.unwrap() > version);
    assert_eq!(
        store.list_api_keys(None, &page(None, 10)).await.unwrap(),
        [i2]
    );
    assert!(
        store
            .find_api_key(&token_hash("key", "k-1"))
            .await
            .unwrap()
            .is_some()
    );

    // Several keys deleted at once: one always stays.
    let all: Vec<String> = (3..8).map(|n| format!("i-{n}")).collect();
    for (n, id) in all.iter().enumerate() {
        let key = api_key(None, None, id);
        store
            .create_api_key(&key, draft(None, "key.created", 10 + n as i64))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for (n, id) in all
        .iter()
        .chain(std::iter::once(&"i-2".to_owned()))
        .enumerate()
    {
        let store = store.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .delete_instance_key(&id, draft(None, "instance_key.revoked", 20 + n as i64))
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let refused = outcomes
        .iter()
        .filter(|o| **o == InstanceKeyDeletion::LastKey)
        .count();
    assert_eq!(refused, 1, "{outcomes:?}");
    assert_eq!(
        store
            .list_api_keys(None, &page(None, 10))
            .await
            .unwrap()
            .len(),
        1
    );
    let revoked = kinds(&events_of(&*store, None).await)
        .iter()
        .filter(|k| **k == "instance_key.revoked")
        .count();
    assert_eq!(
        revoked, 7,
        "one event per deleted key (the issued one, i-1, five of six)"
    );
}

/// Expired keys of one organization are deleted, by their own expiry only; keys of other
/// organizations and keys still valid (or without an expiry) stay. Expired instance keys issued
/// from another are deleted on their own.
pub async fn api_key_expired_deletion(store: Arc<dyn Store>) {
    let key = |org: &str, id: &str, created: i64, expires: Option<i64>| ApiKey {
        created_at: at(created),
        expires_at: expires.map(at),
        ..api_key(Some(org), None, id)
    };
    let soon = key("ke", "ke-soon", 10, Some(100));
    let later = key("ke", "ke-later", 50, Some(300));
    let forever = key("ke", "ke-forever", 60, None);
    let elsewhere = key("kf", "kf-soon", 10, Some(100));
    for k in [&soon, &later, &forever, &elsewhere] {
        store
            .create_api_key(k, draft(k.org_id.as_deref(), "key.created", 0))
            .await
            .unwrap();
    }
    let ids = async |org: &str| -> Vec<String> {
        let list = store
            .list_api_keys(Some(&oid(org)), &page(None, 10))
            .await
            .unwrap();
        list.into_iter().map(|k| k.id).collect()
    };
    assert_eq!(
        store
            .delete_expired_api_keys(&oid("ke"), at(99))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_api_keys(&oid("ke"), at(100))
            .await
            .unwrap(),
        1
    );
    assert_eq!(ids("ke").await, ["ke-forever", "ke-later"]);
    assert_eq!(
        ids("kf").await,
        ["kf-soon"],
        "another organization's keys stay"
    );
    assert_eq!(
        store
            .delete_expired_api_keys(&oid("ke"), at(10_000))
            .await
            .unwrap(),
        1
    );
    assert_eq!(ids("ke").await, ["ke-forever"]);
    assert!(
        store
            .find_api_key(&later.token_hash)
            .await
            .unwrap()
            .is_none()
    );

    // Instance keys: only the expired ones issued from another go; a key of its own stays,
    // even with an expiry past.
    let root = ApiKey {
        expires_at: Some(at(50)),
        ..api_key(None, None, "i-root")
    };
    let issued = |id: &str, expires: i64| ApiKey {
        parent_id: Some("i-root".into()),
        expires_at: Some(at(expires)),
        ..api_key(None, None, id)
    };
    for k in [&root, &issued("i-old", 100), &issued("i-new", 500)] {
        store
            .create_api_key(k, draft(None, "key.created", 0))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .delete_expired_issued_instance_keys(at(200))
            .await
            .unwrap(),
        1
    );
    let instance: Vec<String> = store
        .list_api_keys(None, &page(None, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(instance, ["i-new", "i-root"]);
    assert_eq!(
        ids("ke").await,
        ["ke-forever"],
        "organizations' keys untouched"
    );
}
