//! Users: exact round trips, unique keys (id store-wide, `login_key` per organization),
//! lookups scoped by organization, paging, profile updates, and deletes that take the user's
//! sessions and API keys along (password changes and recorded logins: `passwords.rs`).

use crate::support::oid;
use std::sync::Arc;

use portcullis_store::{Role, Session, Store, StoreError, User, UserProfile};

use crate::support::{
    api_key, at, bare_user, draft, events_of, ids, kinds, page, session, token_hash, user,
};

pub(crate) async fn create(store: &dyn Store, user: &User) {
    store
        .create_user(user, draft(Some(&user.org_id), "user.created", 0))
        .await
        .unwrap();
}

pub(crate) async fn get(store: &dyn Store, org: &str, id: &str) -> User {
    store
        .get_user(&oid(org), id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("user {id} of {org} is missing"))
}

/// A created user reads back exactly, by id and by login key, in its organization only.
pub async fn user_create_get_find(store: Arc<dyn Store>) {
    let alice = user("ua", "u1", "alice");
    let bob = bare_user("ua", "u2", "bob");
    let carol = user("ua", "u3", "  Carol ");
    for u in [&alice, &bob, &carol] {
        create(&*store, u).await;
    }

    assert_eq!(
        store.get_user(&oid("ua"), "u1").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store.get_user(&oid("ua"), "u2").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        get(&*store, "ua", "u3").await.login,
        "  Carol ",
        "login kept as given"
    );
    assert_eq!(
        store.get_user(&oid("ub"), "u1").await.unwrap(),
        None,
        "other organization"
    );
    assert_eq!(store.get_user(&oid("ua"), "u9").await.unwrap(), None);

    assert_eq!(
        store.find_user_by_login(&oid("ua"), "alice").await.unwrap(),
        Some(alice)
    );
    assert_eq!(
        store.find_user_by_login(&oid("ua"), "bob").await.unwrap(),
        Some(bob)
    );
    assert_eq!(
        store.find_user_by_login(&oid("ua"), "carol").await.unwrap(),
        Some(carol)
    );
    assert_eq!(
        store.find_user_by_login(&oid("ub"), "alice").await.unwrap(),
        None
    );
    assert_eq!(
        store.find_user_by_login(&oid("ua"), "alic").await.unwrap(),
        None
    );
    assert_eq!(
        store.find_user_by_login(&oid("ua"), "u1").await.unwrap(),
        None
    );

    assert_eq!(
        kinds(&events_of(&*store, Some("ua")).await),
        ["user.created"; 3]
    );
}

/// A login key is unique within an organization (`Conflict`, nothing written, no event) but
/// free in another; a user id is unique store-wide.
pub async fn user_unique_keys(store: Arc<dyn Store>) {
    create(&*store, &user("ua", "u1", "alice")).await;

    let same_key = user("ua", "u2", "alice");
    let err = store
        .create_user(&same_key, draft(Some("ua"), "user.created.dup", 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    // Uniqueness is by login_key, not by the login as given.
    let same_key_other_case = User {
        login: "ALICE".to_owned(),
        ..user("ua", "u3", "alice")
    };
    let err = store
        .create_user(
            &same_key_other_case,
            draft(Some("ua"), "user.created.dup", 2),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    assert_eq!(store.get_user(&oid("ua"), "u2").await.unwrap(), None);
    assert_eq!(store.get_user(&oid("ua"), "u3").await.unwrap(), None);
    assert_eq!(get(&*store, "ua", "u1").await.id, "u1");

    // The same login in another organization is another user.
    create(&*store, &user("ub", "u4", "alice")).await;
    assert_eq!(
        store
            .find_user_by_login(&oid("ub"), "alice")
            .await
            .unwrap()
            .map(|u| u.id),
        Some("u4".to_owned())
    );
    assert_eq!(
        store
            .find_user_by_login(&oid("ua"), "alice")
            .await
            .unwrap()
            .map(|u| u.id),
        Some("u1".to_owned())
    );

    // Ids are store-wide.
    let err = store
        .create_user(
            &user("uc", "u1", "zed"),
            draft(Some("uc"), "user.created.dup", 3),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    assert_eq!(store.get_user(&oid("uc"), "u1").await.unwrap(), None);
    assert_eq!(
        store.find_user_by_login(&oid("uc"), "zed").await.unwrap(),
        None
    );
    assert_eq!(get(&*store, "ua", "u1").await, user("ua", "u1", "alice"));

    assert_eq!(
        kinds(&events_of(&*store, Some("ua")).await),
        ["user.created"]
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("ub")).await),
        ["user.created"]
    );
    assert!(events_of(&*store, Some("uc")).await.is_empty());
}

/// `list_users` answers one organization's users ordered by id, after the cursor, at most
/// `limit`.
pub async fn user_list_paging(store: Arc<dyn Store>) {
    for id in ["u-3", "u-1", "u-5", "u-2", "u-4"] {
        create(&*store, &user("ul", id, &format!("login-{id}"))).await;
    }
    for id in ["u-0", "u-25", "u-6"] {
        create(&*store, &user("ul-other", id, &format!("login-{id}"))).await;
    }
    let list = async |after: Option<&str>, limit: u32| -> Vec<String> {
        let users = store
            .list_users(&oid("ul"), &page(after, limit))
            .await
            .unwrap();
        assert!(users.iter().all(|u| u.org_id == "ul"));
        ids(&users, |u| &u.id)
    };
    assert_eq!(list(None, 2).await, ["u-1", "u-2"]);
    assert_eq!(list(Some("u-2"), 2).await, ["u-3", "u-4"]);
    assert_eq!(list(Some("u-4"), 2).await, ["u-5"]);
    assert_eq!(list(Some("u-5"), 2).await, Vec::<String>::new());
    assert_eq!(list(Some("u-0"), 1).await, ["u-1"]);
    assert_eq!(
        list(None, u32::MAX).await,
        ["u-1", "u-2", "u-3", "u-4", "u-5"]
    );
    let full = store
        .list_users(&oid("ul"), &page(Some("u-3"), 1))
        .await
        .unwrap();
    assert_eq!(full, [user("ul", "u-4", "login-u-4")]);
    assert!(
        store
            .list_users(&oid("nobody"), &page(None, 10))
            .await
            .unwrap()
            .is_empty()
    );
}

/// `update_user_profile` replaces exactly the profile fields and `updated_at`; another
/// organization's user or a missing one is `NotFound`, with nothing changed and no event.
pub async fn user_update_profile(store: Arc<dyn Store>) {
    let original = user("up", "u1", "alice");
    create(&*store, &original).await;
    let profile = UserProfile {
        email: None,
        display_name: Some("Alice Liddell".to_owned()),
        source: Some("scim".to_owned()),
        roles: vec![Role::OrgAdmin],
        disabled: true,
    };
    let updated = store
        .update_user_profile(
            &oid("up"),
            "u1",
            &profile,
            at(500),
            draft(Some("up"), "user.updated", 500),
        )
        .await
        .unwrap();
    let expected = User {
        email: None,
        display_name: Some("Alice Liddell".to_owned()),
        source: Some("scim".to_owned()),
        roles: vec![Role::OrgAdmin],
        disabled: true,
        updated_at: at(500),
        ..original.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(get(&*store, "up", "u1").await, expected);

    for (org, id) in [("up-other", "u1"), ("up", "u9")] {
        let err = store
            .update_user_profile(
                &oid(org),
                id,
                &UserProfile {
                    disabled: false,
                    ..profile.clone()
                },
                at(600),
                draft(Some(org), "user.updated.bad", 600),
            )
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::NotFound, "{org}/{id}");
    }
    assert_eq!(get(&*store, "up", "u1").await, expected, "unchanged");
    assert_eq!(
        kinds(&events_of(&*store, Some("up")).await),
        ["user.created", "user.updated"]
    );
    assert!(events_of(&*store, Some("up-other")).await.is_empty());

    // Back to more roles, and empty ones: exact round trips.
    let profile = UserProfile {
        email: Some("a@example.test".to_owned()),
        display_name: None,
        source: None,
        roles: vec![
            Role::InstanceAdmin,
            Role::OrgAdmin,
            Role::OrgAuditor,
            Role::Member,
        ],
        disabled: false,
    };
    let updated = store
        .update_user_profile(
            &oid("up"),
            "u1",
            &profile,
            at(700),
            draft(Some("up"), "user.updated", 700),
        )
        .await
        .unwrap();
    assert_eq!(updated.roles, profile.roles);
    assert_eq!(updated.display_name, None);
    assert_eq!(get(&*store, "up", "u1").await, updated);
    let no_roles = UserProfile {
        roles: Vec::new(),
        ..profile
    };
    let updated = store
        .update_user_profile(
            &oid("up"),
            "u1",
            &no_roles,
            at(800),
            draft(Some("up"), "user.updated", 800),
        )
        .await
        .unwrap();
    assert!(updated.roles.is_empty());
    assert_eq!(get(&*store, "up", "u1").await, updated);
}

/// `delete_user` deletes the user with its sessions and API keys (not other users', not the
/// organization's service keys), records its event, and frees the login key; another
/// organization's id answers `false` and changes nothing.
pub async fn user_delete_cascades(store: Arc<dyn Store>) {
    create(&*store, &user("ud", "u1", "alice")).await;
    create(&*store, &user("ud", "u2", "bob")).await;
    for (user_id, sid) in [("u1", "s-1"), ("u1", "s-2"), ("u2", "s-3")] {
        store
            .create_session(&session("ud", user_id, sid), Vec::new())
            .await
            .unwrap();
    }
    for key in [
        api_key(Some("ud"), Some("u1"), "k-1"),
        api_key(Some("ud"), Some("u2"), "k-2"),
        api_key(Some("ud"), None, "k-3"),
    ] {
        store
            .create_api_key(&key, draft(Some("ud"), "key.created", 0))
            .await
            .unwrap();
    }
    let events_before = events_of(&*store, Some("ud")).await.len();
    let version = store.policy_version().await.unwrap();

    assert!(
        !store
            .delete_user(
                &oid("ud-other"),
                "u1",
                draft(Some("ud-other"), "user.deleted", 1)
            )
            .await
            .unwrap()
    );
    assert!(store.get_user(&oid("ud"), "u1").await.unwrap().is_some());
    assert_eq!(
        store
            .list_user_sessions(&oid("ud"), "u1", &crate::support::page(None, 500))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .find_api_key(&token_hash("key", "k-1"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(events_of(&*store, Some("ud-other")).await.is_empty());

    assert!(
        store
            .delete_user(&oid("ud"), "u1", draft(Some("ud"), "user.deleted", 2))
            .await
            .unwrap()
    );
    assert!(
        store.policy_version().await.unwrap() > version,
        "its keys' deletion moves the version processes drop their cached keys on"
    );
    assert_eq!(store.get_user(&oid("ud"), "u1").await.unwrap(), None);
    assert_eq!(
        store.find_user_by_login(&oid("ud"), "alice").await.unwrap(),
        None
    );
    assert!(
        store
            .list_user_sessions(&oid("ud"), "u1", &crate::support::page(None, 500))
            .await
            .unwrap()
            .is_empty()
    );
    for sid in ["s-1", "s-2"] {
        assert_eq!(
            store
                .find_session(&token_hash("session", sid))
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        store.find_api_key(&token_hash("key", "k-1")).await.unwrap(),
        None
    );
    // Everything else stays.
    assert!(store.get_user(&oid("ud"), "u2").await.unwrap().is_some());
    assert!(
        store
            .find_session(&token_hash("session", "s-3"))
            .await
            .unwrap()
            .is_some()
    );
    let keys = store
        .list_api_keys(Some(&oid("ud")), &page(None, 10))
        .await
        .unwrap();
    assert_eq!(ids(&keys, |k| &k.id), ["k-2", "k-3"]);
    let events = events_of(&*store, Some("ud")).await;
    assert_eq!(events.len(), events_before + 1);
    assert_eq!(events.last().map(|e| e.kind.as_str()), Some("user.deleted"));

    // Gone already: false, no event.
    assert!(
        !store
            .delete_user(&oid("ud"), "u1", draft(Some("ud"), "user.deleted", 3))
            .await
            .unwrap()
    );
    assert_eq!(
        events_of(&*store, Some("ud")).await.len(),
        events_before + 1
    );

    // The login key is free again.
    create(&*store, &user("ud", "u3", "alice")).await;
    assert_eq!(
        store
            .find_user_by_login(&oid("ud"), "alice")
            .await
            .unwrap()
            .map(|u| u.id),
        Some("u3".to_owned())
    );
}

/// Disabling a user deletes its sessions in the same write (re-enabling brings none back);
/// `end_user_sessions` deletes one user's sessions of every stage, with its event only when
/// there was one, and never another user's or organization's.
pub async fn user_disable_and_lock_end_sessions(store: Arc<dyn Store>) {
    create(&*store, &user("de", "u1", "alice")).await;
    create(&*store, &user("de", "u2", "bob")).await;
    create(&*store, &user("dx", "u3", "carol")).await;
    for (org, user_id, sid) in [
        ("de", "u1", "s-1"),
        ("de", "u1", "s-2"),
        ("de", "u2", "s-3"),
        ("dx", "u3", "s-4"),
    ] {
        store
            .create_session(&session(org, user_id, sid), Vec::new())
            .await
            .unwrap();
    }
    let challenge = Session {
        stage: portcullis_store::SessionStage::MfaChallenge,
        ..session("de", "u2", "s-5")
    };
    store.create_session(&challenge, Vec::new()).await.unwrap();
    let sessions_of = async |org: &str, user_id: &str| -> Vec<String> {
        let sessions = store
            .list_user_sessions(&oid(org), user_id, &crate::support::page(None, 500))
            .await
            .unwrap();
        ids(&sessions, |s| &s.id)
    };
    let u1 = store.get_user(&oid("de"), "u1").await.unwrap().unwrap();
    let mut profile = UserProfile {
        email: u1.email.clone(),
        display_name: u1.display_name.clone(),
        source: u1.source.clone(),
        roles: u1.roles.clone(),
        disabled: false,
    };
    // A profile change that does not disable keeps the sessions.
    store
        .update_user_profile(
            &oid("de"),
            "u1",
            &profile,
            at(10),
            draft(Some("de"), "user.changed", 10),
        )
        .await
        .unwrap();
    assert_eq!(sessions_of("de", "u1").await, ["s-1", "s-2"]);
    profile.disabled = true;
    store
        .update_user_profile(
            &oid("de"),
            "u1",
            &profile,
            at(20),
            draft(Some("de"), "user.changed", 20),
        )
        .await
        .unwrap();
    assert!(sessions_of("de", "u1").await.is_empty());
    profile.disabled = false;
    store
        .update_user_profile(
            &oid("de"),
            "u1",
            &profile,
            at(30),
            draft(Some("de"), "user.changed", 30),
        )
        .await
        .unwrap();
    assert!(sessions_of("de", "u1").await.is_empty(), "none come back");
    assert_eq!(
        store
            .find_session(&token_hash("session", "s-1"))
            .await
            .unwrap(),
        None
    );

    let ended = store
        .end_user_sessions(
            &oid("de"),
            "u2",
            None,
            draft(Some("de"), "user.sessions_ended", 40),
        )
        .await
        .unwrap();
    assert_eq!(ended, 2, "every stage");
    assert!(sessions_of("de", "u2").await.is_empty());
    assert_eq!(sessions_of("dx", "u3").await, ["s-4"]);
    assert_eq!(
        store
            .end_user_sessions(
                &oid("de"),
                "u2",
                None,
                draft(Some("de"), "user.sessions_ended", 50)
            )
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .end_user_sessions(
                &oid("de"),
                "u3",
                None,
                draft(Some("de"), "user.sessions_ended", 60)
            )
            .await
            .unwrap(),
        0,
        "another organization's user is out of reach"
    );
    assert_eq!(sessions_of("dx", "u3").await, ["s-4"]);
    let events = events_of(&*store, Some("de")).await;
    let ended: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "user.sessions_ended")
        .collect();
    assert_eq!(ended.len(), 1, "an event only when sessions ended");
    assert_eq!(ended[0].payload["sessions"], 2);
}
