//! Session inventory and revocation (a user's sessions paged by id with where they came from;
//! one session of one user; all of a user's but one; a whole organization's but one) and
//! passwords expired by an administrator (one user, everyone, those set before a time; a new
//! password clears it). Each write is one transaction with one counted event, and reaches no
//! other organization.

use std::sync::Arc;

use portcullis_store::{ExpiryTarget, LoginRecord, PasswordUpdate, Session, Store};

use crate::support::{
    at, bare_user, draft, events_of, ids, kinds, oid, page, session, token_hash, user,
};

async fn open(store: &dyn Store, sessions: &[(&str, &str, &str)]) {
    for (org, user, id) in sessions {
        store
            .create_session(&session(org, user, id), Vec::new())
            .await
            .unwrap();
    }
}

async fn session_ids(store: &dyn Store, org: &str, user: &str) -> Vec<String> {
    let list = store
        .list_user_sessions(&oid(org), user, &page(None, 500))
        .await
        .unwrap();
    list.into_iter().map(|s| s.id).collect()
}

/// A user's sessions read back page by page, in id order, each with its client address and
/// user agent.
pub async fn session_list_pages_with_client(store: Arc<dyn Store>) {
    open(
        &*store,
        &[
            ("rp", "u1", "s-4"),
            ("rp", "u1", "s-2"),
            ("rp", "u1", "s-3"),
            ("rp", "u1", "s-1"),
            ("rp", "u2", "s-0"),
        ],
    )
    .await;
    let first = store
        .list_user_sessions(&oid("rp"), "u1", &page(None, 3))
        .await
        .unwrap();
    assert_eq!(ids(&first, |s| &s.id), ["s-1", "s-2", "s-3"]);
    assert_eq!(
        first[0],
        session("rp", "u1", "s-1"),
        "client and agent kept"
    );
    assert_eq!(first[0].client_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(
        first[0].user_agent.as_deref(),
        Some("conformance/1.0 (s-1)")
    );
    let rest = store
        .list_user_sessions(&oid("rp"), "u1", &page(Some("s-3"), 3))
        .await
        .unwrap();
    assert_eq!(ids(&rest, |s| &s.id), ["s-4"]);
    let mut anonymous = session("rp", "u3", "s-9");
    anonymous.client_ip = None;
    anonymous.user_agent = None;
    store.create_session(&anonymous, Vec::new()).await.unwrap();
    assert_eq!(
        store
            .find_session(&token_hash("session", "s-9"))
            .await
            .unwrap(),
        Some(anonymous),
        "a session without client facts reads back without them"
    );
}

/// `delete_user_session` deletes only a session of that user of that organization.
pub async fn session_delete_is_scoped_to_its_user(store: Arc<dyn Store>) {
    open(
        &*store,
        &[
            ("rd", "u1", "s-1"),
            ("rd", "u2", "s-2"),
            ("rd-x", "u1", "s-3"),
        ],
    )
    .await;
    let revoke = |id: &'static str, org: &'static str, user: &'static str| {
        let store = store.clone();
        async move {
            store
                .delete_user_session(&oid(org), user, id, draft(Some(org), "session.revoked", 5))
                .await
                .unwrap()
        }
    };
    assert!(!revoke("s-2", "rd", "u1").await, "another user's session");
    assert!(!revoke("s-3", "rd", "u1").await, "another organization's");
    assert!(events_of(&*store, Some("rd")).await.is_empty());
    assert!(revoke("s-1", "rd", "u1").await);
    assert!(!revoke("s-1", "rd", "u1").await, "already gone");
    assert_eq!(
        kinds(&events_of(&*store, Some("rd")).await),
        ["session.revoked"]
    );
    assert_eq!(session_ids(&*store, "rd", "u2").await, ["s-2"]);
    assert_eq!(session_ids(&*store, "rd-x", "u1").await, ["s-3"]);
}

/// `end_user_sessions` keeps the one named; `end_org_sessions` ends every user's session of
/// one organization but the one named, with one event carrying the count.
pub async fn sessions_end_all_but_one(store: Arc<dyn Store>) {
    open(
        &*store,
        &[
            ("re", "u1", "s-1"),
            ("re", "u1", "s-2"),
            ("re", "u1", "s-3"),
            ("re", "u2", "s-4"),
            ("re", "u3", "s-5"),
            ("re-x", "u1", "s-6"),
        ],
    )
    .await;
    let ended = store
        .end_user_sessions(
            &oid("re"),
            "u1",
            Some("s-2"),
            draft(Some("re"), "user.sessions_ended", 5),
        )
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert_eq!(session_ids(&*store, "re", "u1").await, ["s-2"]);

    let ended = store
        .end_org_sessions(
            &oid("re"),
            Some("s-4"),
            draft(Some("re"), "org.sessions_ended", 6),
        )
        .await
        .unwrap();
    assert_eq!(ended, 2, "s-2 and s-5");
    assert!(session_ids(&*store, "re", "u1").await.is_empty());
    assert_eq!(session_ids(&*store, "re", "u2").await, ["s-4"]);
    assert_eq!(
        session_ids(&*store, "re-x", "u1").await,
        ["s-6"],
        "isolated"
    );
    let events = events_of(&*store, Some("re")).await;
    assert_eq!(
        kinds(&events),
        ["user.sessions_ended", "org.sessions_ended"]
    );
    assert_eq!(events[0].payload["sessions"], 2);
    assert_eq!(events[1].payload["sessions"], 2);

    assert_eq!(
        store
            .end_org_sessions(&oid("re"), Some("s-4"), draft(Some("re"), "none", 7))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .end_org_sessions(&oid("re"), None, draft(Some("re"), "org.sessions_ended", 8))
            .await
            .unwrap(),
        1,
        "without an exception, every session"
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("re")).await),
        [
            "user.sessions_ended",
            "org.sessions_ended",
            "org.sessions_ended"
        ],
        "no event when nothing ended"
    );
}

/// `expire_passwords`: one user, those set before a time, everyone; never a user without a
/// password or one already expired (the first expiry stands); while expired, a login opens only
/// a limited session; a new password clears it.
pub async fn passwords_expire_and_clear(store: Arc<dyn Store>) {
    let mut old = user("rx", "u-old", "old");
    old.password_changed_at = Some(at(-1000));
    let mut recent = user("rx", "u-new", "new");
    recent.password_changed_at = Some(at(-10));
    let mut never_changed = user("rx", "u-never", "never");
    never_changed.password_changed_at = None;
    never_changed.created_at = at(-2000);
    let without = bare_user("rx", "u-none", "none");
    let elsewhere = user("rx-x", "u-x", "x");
    for u in [&old, &recent, &never_changed, &without, &elsewhere] {
        store
            .create_user(u, draft(Some(u.org_id.as_str()), "user.created", 0))
            .await
            .unwrap();
    }
    let expire = |target: ExpiryTarget, seconds: i64| {
        let store = store.clone();
        async move {
            store
                .expire_passwords(
                    &oid("rx"),
                    &target,
                    at(seconds),
                    draft(Some("rx"), "passwords.expired", seconds),
                )
                .await
                .unwrap()
        }
    };
    let expired_at = async |id: &str| {
        store
            .get_user(&oid("rx"), id)
            .await
            .unwrap()
            .unwrap()
            .password_expired_at
    };
    let before = events_of(&*store, Some("rx")).await.len();

    assert_eq!(
        expire(ExpiryTarget::User("u-x".into()), 1).await,
        0,
        "isolated"
    );
    assert_eq!(
        expire(ExpiryTarget::User("u-none".into()), 1).await,
        0,
        "no password"
    );
    assert_eq!(expire(ExpiryTarget::User("u-new".into()), 2).await, 1);
    assert_eq!(expired_at("u-new").await, Some(at(2)));
    assert_eq!(
        expire(ExpiryTarget::User("u-new".into()), 3).await,
        0,
        "already"
    );
    assert_eq!(
        expired_at("u-new").await,
        Some(at(2)),
        "the first expiry stands"
    );

    assert_eq!(expire(ExpiryTarget::ChangedBefore(at(-500)), 4).await, 2);
    assert_eq!(expired_at("u-old").await, Some(at(4)));
    assert_eq!(
        expired_at("u-never").await,
        Some(at(4)),
        "counted from its creation"
    );
    assert_eq!(expire(ExpiryTarget::All, 5).await, 0, "everyone already");
    assert_eq!(expired_at("u-none").await, None);
    let other = store.get_user(&oid("rx-x"), "u-x").await.unwrap().unwrap();
    assert_eq!(other.password_expired_at, None);

    let events = events_of(&*store, Some("rx")).await;
    assert_eq!(
        events.len() - before,
        2,
        "an event only when something expired"
    );
    assert_eq!(events[before].payload["users"], 1);
    assert_eq!(events[before + 1].payload["users"], 2);

    let update = PasswordUpdate {
        hash: "$argon2id$new".into(),
        keep_history: 3,
        changed_at: at(6),
        set_by_admin: false,
        expected_hash: None,
    };
    // While it is expired, a login opens only a session limited to a change: a full one,
    // decided before the expiry was written, is refused (nothing written).
    let login = LoginRecord {
        verified_hash: old.password_hash.clone().unwrap(),
        ip: "192.0.2.1".into(),
        rehash: None,
    };
    let full = session("rx", "u-old", "s-full");
    assert!(
        !store
            .open_login_session(&full, &login, Vec::new())
            .await
            .unwrap()
    );
    let limited = Session {
        password_change_only: true,
        ..session("rx", "u-old", "s-limited")
    };
    assert!(
        store
            .open_login_session(&limited, &login, Vec::new())
            .await
            .unwrap()
    );
    assert_eq!(session_ids(&*store, "rx", "u-old").await, ["s-limited"]);
    store
        .set_password(&oid("rx"), "u-old", &update, false, None, Vec::new())
        .await
        .unwrap();
    assert_eq!(expired_at("u-old").await, None, "a new password clears it");
    assert_eq!(expire(ExpiryTarget::All, 7).await, 1);
    assert_eq!(expired_at("u-old").await, Some(at(7)));
}
