//! Users: exact round trips, unique keys (id store-wide, `login_key` per organization),
//! lookups scoped by organization, paging, profile updates, password changes (history, ending
//! sessions), recorded logins, and deletes that take the user's sessions and API keys along.

use std::sync::Arc;

use portcullis_store::{
    LoginRecord, PasswordUpdate, Role, Session, Store, StoreError, User, UserProfile,
};

use crate::support::{
    api_key, at, bare_user, draft, events_of, ids, kinds, page, session, token_hash, user,
};

async fn create(store: &dyn Store, user: &User) {
    store
        .create_user(user, draft(Some(&user.org_id), "user.created", 0))
        .await
        .unwrap();
}

async fn get(store: &dyn Store, org: &str, id: &str) -> User {
    store
        .get_user(org, id)
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
        store.get_user("ua", "u1").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.get_user("ua", "u2").await.unwrap(), Some(bob.clone()));
    assert_eq!(
        get(&*store, "ua", "u3").await.login,
        "  Carol ",
        "login kept as given"
    );
    assert_eq!(
        store.get_user("ub", "u1").await.unwrap(),
        None,
        "other organization"
    );
    assert_eq!(store.get_user("ua", "u9").await.unwrap(), None);

    assert_eq!(
        store.find_user_by_login("ua", "alice").await.unwrap(),
        Some(alice)
    );
    assert_eq!(
        store.find_user_by_login("ua", "bob").await.unwrap(),
        Some(bob)
    );
    assert_eq!(
        store.find_user_by_login("ua", "carol").await.unwrap(),
        Some(carol)
    );
    assert_eq!(store.find_user_by_login("ub", "alice").await.unwrap(), None);
    assert_eq!(store.find_user_by_login("ua", "alic").await.unwrap(), None);
    assert_eq!(store.find_user_by_login("ua", "u1").await.unwrap(), None);

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
    assert_eq!(store.get_user("ua", "u2").await.unwrap(), None);
    assert_eq!(store.get_user("ua", "u3").await.unwrap(), None);
    assert_eq!(get(&*store, "ua", "u1").await.id, "u1");

    // The same login in another organization is another user.
    create(&*store, &user("ub", "u4", "alice")).await;
    assert_eq!(
        store
            .find_user_by_login("ub", "alice")
            .await
            .unwrap()
            .map(|u| u.id),
        Some("u4".to_owned())
    );
    assert_eq!(
        store
            .find_user_by_login("ua", "alice")
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
    assert_eq!(store.get_user("uc", "u1").await.unwrap(), None);
    assert_eq!(store.find_user_by_login("uc", "zed").await.unwrap(), None);
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
        let users = store.list_users("ul", &page(after, limit)).await.unwrap();
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
    let full = store.list_users("ul", &page(Some("u-3"), 1)).await.unwrap();
    assert_eq!(full, [user("ul", "u-4", "login-u-4")]);
    assert!(
        store
            .list_users("nobody", &page(None, 10))
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
            "up",
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
                org,
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
            "up",
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
            "up",
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

/// `set_password`: the old hash goes to the front of the history, which is cut to
/// `keep_history`; the change records its events; another organization's user is `NotFound`.
pub async fn user_set_password_history(store: Arc<dyn Store>) {
    let original = User {
        password_hash: Some("h0".to_owned()),
        ..bare_user("pw", "u1", "alice")
    };
    create(&*store, &original).await;

    let steps: [(&str, usize, &[&str]); 7] = [
        ("h1", 3, &["h0"]),
        ("h2", 3, &["h1", "h0"]),
        ("h3", 3, &["h2", "h1", "h0"]),
        ("h4", 3, &["h3", "h2", "h1"]),
        ("h5", 1, &["h4"]),
        ("h6", 0, &[]),
        ("h7", 2, &["h6"]),
    ];
    let mut expected = original.clone();
    for (n, (hash, keep, history)) in (1i64..).zip(steps) {
        let update = PasswordUpdate {
            hash: hash.to_owned(),
            keep_history: keep,
            changed_at: at(n * 100),
            set_by_admin: n % 2 == 0,
            expected_hash: None,
        };
        store
            .set_password(
                "pw",
                "u1",
                &update,
                false,
                None,
                vec![
                    draft(Some("pw"), &format!("password.changed.{n}"), n * 100),
                    draft(Some("pw"), &format!("password.audit.{n}"), n * 100),
                ],
            )
            .await
            .unwrap();
        expected = User {
            password_hash: Some(hash.to_owned()),
            password_history: history.iter().map(|h| (*h).to_owned()).collect(),
            password_changed_at: Some(at(n * 100)),
            password_set_by_admin: n % 2 == 0,
            updated_at: at(n * 100),
            ..expected
        };
        assert_eq!(get(&*store, "pw", "u1").await, expected, "after {hash}");
    }
    let events = events_of(&*store, Some("pw")).await;
    assert_eq!(events.len(), 1 + 2 * steps.len());
    assert_eq!(
        kinds(&events[1..3]),
        ["password.changed.1", "password.audit.1"]
    );

    // Another organization's user (or a missing one): NotFound, nothing changed, no event.
    let update = PasswordUpdate {
        hash: "evil".to_owned(),
        keep_history: 5,
        changed_at: at(9_000),
        set_by_admin: true,
        expected_hash: None,
    };
    for (org, id) in [("pw-other", "u1"), ("pw", "u9")] {
        let err = store
            .set_password(
                org,
                id,
                &update,
                true,
                None,
                vec![draft(Some(org), "password.bad", 9_000)],
            )
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::NotFound, "{org}/{id}");
    }
    assert_eq!(get(&*store, "pw", "u1").await, expected);
    assert_eq!(events_of(&*store, Some("pw")).await.len(), events.len());
    assert!(events_of(&*store, Some("pw-other")).await.is_empty());

    // A user without a password has nothing to push to the history.
    create(&*store, &bare_user("pw", "u2", "bob")).await;
    let first = PasswordUpdate {
        hash: "b1".to_owned(),
        keep_history: 5,
        changed_at: at(10_000),
        set_by_admin: true,
        expected_hash: None,
    };
    store
        .set_password("pw", "u2", &first, false, None, Vec::new())
        .await
        .unwrap();
    let bob = get(&*store, "pw", "u2").await;
    assert_eq!(bob.password_hash.as_deref(), Some("b1"));
    assert!(
        bob.password_history.is_empty(),
        "got {:?}",
        bob.password_history
    );
    assert_eq!(bob.password_changed_at, Some(at(10_000)));
    assert!(bob.password_set_by_admin);
}

/// `set_password` with `end_sessions` deletes the user's sessions except `keep_session`, and
/// never another user's; without it every session stays.
pub async fn user_set_password_ends_sessions(store: Arc<dyn Store>) {
    create(&*store, &user("ps", "u1", "alice")).await;
    create(&*store, &user("ps", "u2", "bob")).await;
    for (user_id, sid) in [("u1", "s-1"), ("u1", "s-2"), ("u1", "s-3"), ("u2", "s-4")] {
        store
            .create_session(&session("ps", user_id, sid), Vec::new())
            .await
            .unwrap();
    }
    let sessions_of = async |user_id: &str| -> Vec<String> {
        let sessions = store.list_user_sessions("ps", user_id).await.unwrap();
        ids(&sessions, |s| &s.id)
    };
    let mut n = 0;
    let mut change = async |end_sessions: bool, keep: Option<&str>| {
        n += 1;
        let update = PasswordUpdate {
            hash: format!("h{n}"),
            keep_history: 5,
            changed_at: at(n * 100),
            set_by_admin: false,
            expected_hash: None,
        };
        store
            .set_password(
                "ps",
                "u1",
                &update,
                end_sessions,
                keep,
                vec![draft(Some("ps"), "password.changed", n * 100)],
            )
            .await
            .unwrap();
    };

    change(false, None).await;
    change(false, Some("s-2")).await;
    assert_eq!(sessions_of("u1").await, ["s-1", "s-2", "s-3"]);

    change(true, Some("s-2")).await;
    assert_eq!(sessions_of("u1").await, ["s-2"]);
    assert_eq!(sessions_of("u2").await, ["s-4"]);
    for gone in ["s-1", "s-3"] {
        assert_eq!(
            store
                .find_session(&token_hash("session", gone))
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        store
            .find_session(&token_hash("session", "s-2"))
            .await
            .unwrap(),
        Some(session("ps", "u1", "s-2")),
        "the kept session is untouched"
    );

    store
        .create_session(&session("ps", "u1", "s-5"), Vec::new())
        .await
        .unwrap();
    change(true, None).await;
    assert!(sessions_of("u1").await.is_empty());

    // Naming another user's session keeps nothing of this user, and ends nothing of the other.
    store
        .create_session(&session("ps", "u1", "s-6"), Vec::new())
        .await
        .unwrap();
    change(true, Some("s-4")).await;
    assert!(sessions_of("u1").await.is_empty());
    assert_eq!(sessions_of("u2").await, ["s-4"]);

    assert_eq!(
        get(&*store, "ps", "u1").await.password_hash.as_deref(),
        Some("h5")
    );
    assert_eq!(events_of(&*store, Some("ps")).await.len(), 2 + 5);
}

/// A login session records the last login's time and IP, and replaces the hash only when a
/// rehash is given (without touching the history); another organization's or a missing user
/// opens nothing and changes nothing.
pub async fn user_login_is_recorded_with_its_session(store: Arc<dyn Store>) {
    let original = user("rl", "u1", "alice");
    create(&*store, &original).await;
    let current = original.password_hash.clone().unwrap();
    let record = |rehash: Option<&str>, ip: &str| LoginRecord {
        verified_hash: current.clone(),
        ip: ip.to_owned(),
        rehash: rehash.map(str::to_owned),
    };
    let opened = |id: &str, seconds: i64| Session {
        created_at: at(seconds),
        last_used_at: at(seconds),
        ..session("rl", "u1", id)
    };

    assert!(
        store
            .open_login_session(&opened("s1", 900), &record(None, "203.0.113.7"), Vec::new())
            .await
            .unwrap()
    );
    let after_login = get(&*store, "rl", "u1").await;
    let expected = User {
        last_login_at: Some(at(900)),
        last_login_ip: Some("203.0.113.7".to_owned()),
        updated_at: after_login.updated_at,
        ..original.clone()
    };
    assert_eq!(after_login, expected);

    let rehash = record(Some("$argon2id$rehashed"), "2001:db8::1");
    assert!(
        store
            .open_login_session(&opened("s2", 1_000), &rehash, Vec::new())
            .await
            .unwrap()
    );
    let after_rehash = get(&*store, "rl", "u1").await;
    let expected = User {
        last_login_at: Some(at(1_000)),
        last_login_ip: Some("2001:db8::1".to_owned()),
        password_hash: Some("$argon2id$rehashed".to_owned()),
        updated_at: after_rehash.updated_at,
        ..original.clone()
    };
    assert_eq!(after_rehash, expected, "a rehash is no password change");

    for (org, user_id) in [("rl-other", "u1"), ("rl", "u9")] {
        let s = Session {
            org_id: org.to_owned(),
            user_id: user_id.to_owned(),
            ..opened("s3", 2_000)
        };
        let login = LoginRecord {
            verified_hash: "$argon2id$rehashed".to_owned(),
            ..record(Some("$evil"), "198.51.100.1")
        };
        assert!(
            !store
                .open_login_session(&s, &login, Vec::new())
                .await
                .unwrap(),
            "{org}/{user_id}"
        );
    }
    assert_eq!(get(&*store, "rl", "u1").await, after_rehash);
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

    assert!(
        !store
            .delete_user("ud-other", "u1", draft(Some("ud-other"), "user.deleted", 1))
            .await
            .unwrap()
    );
    assert!(store.get_user("ud", "u1").await.unwrap().is_some());
    assert_eq!(store.list_user_sessions("ud", "u1").await.unwrap().len(), 2);
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
            .delete_user("ud", "u1", draft(Some("ud"), "user.deleted", 2))
            .await
            .unwrap()
    );
    assert_eq!(store.get_user("ud", "u1").await.unwrap(), None);
    assert_eq!(store.find_user_by_login("ud", "alice").await.unwrap(), None);
    assert!(
        store
            .list_user_sessions("ud", "u1")
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
    assert!(store.get_user("ud", "u2").await.unwrap().is_some());
    assert!(
        store
            .find_session(&token_hash("session", "s-3"))
            .await
            .unwrap()
            .is_some()
    );
    let keys = store
        .list_api_keys(Some("ud"), &page(None, 10))
        .await
        .unwrap();
    assert_eq!(ids(&keys, |k| &k.id), ["k-2", "k-3"]);
    let events = events_of(&*store, Some("ud")).await;
    assert_eq!(events.len(), events_before + 1);
    assert_eq!(events.last().map(|e| e.kind.as_str()), Some("user.deleted"));

    // Gone already: false, no event.
    assert!(
        !store
            .delete_user("ud", "u1", draft(Some("ud"), "user.deleted", 3))
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
            .find_user_by_login("ud", "alice")
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
        let sessions = store.list_user_sessions(org, user_id).await.unwrap();
        ids(&sessions, |s| &s.id)
    };
    let u1 = store.get_user("de", "u1").await.unwrap().unwrap();
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
            "de",
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
            "de",
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
            "de",
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
        .end_user_sessions("de", "u2", draft(Some("de"), "user.sessions_ended", 40))
        .await
        .unwrap();
    assert_eq!(ended, 2, "every stage");
    assert!(sessions_of("de", "u2").await.is_empty());
    assert_eq!(sessions_of("dx", "u3").await, ["s-4"]);
    assert_eq!(
        store
            .end_user_sessions("de", "u2", draft(Some("de"), "user.sessions_ended", 50))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .end_user_sessions("de", "u3", draft(Some("de"), "user.sessions_ended", 60))
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
