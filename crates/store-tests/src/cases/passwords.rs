//! Users' passwords and logins: a password change pushes the old hash to the front of the
//! history and cuts it, ends sessions when asked, and records its events; a login is recorded
//! with the session it opens.

use std::sync::Arc;

use portcullis_store::{LoginRecord, PasswordUpdate, Session, Store, StoreError, User};

use super::users::{create, get};
use crate::support::{at, bare_user, draft, events_of, ids, kinds, oid, session, token_hash, user};

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
                &oid("pw"),
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
                &oid(org),
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
        .set_password(&oid("pw"), "u2", &first, false, None, Vec::new())
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
        let sessions = store
            .list_user_sessions(&oid("ps"), user_id, &crate::support::page(None, 500))
            .await
            .unwrap();
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
                &oid("ps"),
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
            org_id: oid(org),
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
