//! The login permutations at the service: counting to the lock, the lock's end to the instant,
//! the reset after a success, the `login_and_ip` scope, a blocked address refused before any
//! hash, and a disabled user — each with its answer and the events it wrote.

use portcullis_model::{SectionKind, rfc3339};
use portcullis_service::{LoginAnswer, UserPatch};
use serde_json::json;

use crate::support::{GOOD, ORG, T0, WRONG, World, granted_token, types};

const A: &str = "192.0.2.7";
const B: &str = "198.51.100.9";

#[tokio::test]
async fn wrong_passwords_count_up_to_the_lock_and_the_lock_costs_no_hash() {
    let w = World::new().await;
    w.patch(
        SectionKind::Lockout,
        json!({"max_password_attempts": 3, "lock_duration": 600}),
    )
    .await;
    let id = w.user("alice", GOOD).await;
    let start = w.last_sequence().await;

    for _ in 0..3 {
        assert_eq!(
            w.login("alice", WRONG, A).await,
            LoginAnswer::InvalidCredentials
        );
    }
    let events = w.events_after(start).await;
    assert_eq!(
        types(&events),
        [
            "login.failed",
            "login.failed",
            "login.failed",
            "account.locked"
        ]
    );
    assert_eq!(
        events[0].1,
        json!({"login": "alice", "ip": A, "user_id": id})
    );
    let until = T0 + time::Duration::seconds(600);
    assert_eq!(
        events[3].1,
        json!({"login": "alice", "ip": A, "until": rfc3339(until)})
    );
    let lock = w.service.user_lock(&w.admin, ORG, &id).await.unwrap();
    assert!(lock.locked);
    assert_eq!(lock.failures, 3);
    assert_eq!(lock.locked_until, Some(until));

    // The right password now: the revealed lock, answered from a read, before any hash.
    let hashes = w.verifications();
    let seen = w.last_sequence().await;
    assert_eq!(
        w.login("alice", GOOD, A).await,
        LoginAnswer::Locked { until: Some(until) }
    );
    assert_eq!(w.verifications(), hashes, "a revealed lock costs no hash");
    assert!(
        w.events_after(seen).await.is_empty(),
        "nothing recorded on the account"
    );
}

#[tokio::test]
async fn a_lock_ends_at_its_instant_exactly() {
    let w = World::new().await;
    w.patch(
        SectionKind::Lockout,
        json!({"max_password_attempts": 2, "lock_duration": 60}),
    )
    .await;
    w.user("bob", GOOD).await;
    w.login("bob", WRONG, A).await;
    w.login("bob", WRONG, A).await;
    let until = T0 + time::Duration::seconds(60);

    w.clock.set(until - time::Duration::nanoseconds(1));
    assert_eq!(
        w.login("bob", GOOD, A).await,
        LoginAnswer::Locked { until: Some(until) },
        "still locked a nanosecond before its end"
    );
    let seen = w.last_sequence().await;
    w.clock.set(until);
    granted_token(&w.login("bob", GOOD, A).await);
    let events = w.events_after(seen).await;
    assert_eq!(
        types(&events),
        ["account.lock_expired", "login.succeeded"],
        "the lock's end is recorded with the login that finds it"
    );
    assert_eq!(events[0].1["until"], json!(rfc3339(until)));
}

#[tokio::test]
async fn a_success_resets_the_count_unless_the_policy_keeps_it() {
    let w = World::new().await;
    w.patch(
        SectionKind::Lockout,
        json!({"max_password_attempts": 3, "reset_after_success": true}),
    )
    .await;
    w.patch(
        SectionKind::Session,
        json!({"show_recent_login_info": true}),
    )
    .await;
    w.user("carol", GOOD).await;
    w.login("carol", WRONG, A).await;
    w.login("carol", WRONG, A).await;
    let LoginAnswer::Granted(granted) = w.login("carol", GOOD, A).await else {
        panic!("the right password logs in");
    };
    assert_eq!(
        granted.last_login.unwrap().failed_attempts,
        2,
        "the failures before this success are shown"
    );
    w.login("carol", WRONG, A).await;
    w.login("carol", WRONG, A).await;
    granted_token(&w.login("carol", GOOD, A).await);

    // Without the reset, the earlier failures still count towards the lock.
    w.patch(SectionKind::Lockout, json!({"reset_after_success": false}))
        .await;
    let dave = w.user("dave", GOOD).await;
    w.login("dave", WRONG, A).await;
    w.login("dave", WRONG, A).await;
    granted_token(&w.login("dave", GOOD, A).await);
    let seen = w.last_sequence().await;
    assert_eq!(
        w.login("dave", WRONG, A).await,
        LoginAnswer::InvalidCredentials
    );
    let events = w.events_after(seen).await;
    assert_eq!(
        types(&events),
        ["login.failed", "account.locked", "user.sessions_ended"],
        "the lock of the whole login ends the session just opened"
    );
    assert_eq!(
        events[2].1,
        json!({"user_id": dave, "reason": "locked", "sessions": 1})
    );
    assert!(matches!(
        w.login("dave", GOOD, A).await,
        LoginAnswer::Locked { .. }
    ));
}

#[tokio::test]
async fn under_login_and_ip_a_lock_holds_only_for_its_source() {
    let w = World::new().await;
    w.patch(
        SectionKind::Lockout,
        json!({"max_password_attempts": 2, "scope": "login_and_ip"}),
    )
    .await;
    let id = w.user("erin", GOOD).await;
    let tok = w.login("erin", GOOD, A).await;
    let session = granted_token(&tok);
    w.login("erin", WRONG, A).await;
    w.login("erin", WRONG, A).await;
    assert!(matches!(
        w.login("erin", GOOD, A).await,
        LoginAnswer::Locked { .. }
    ));
    granted_token(&w.login("erin", GOOD, B).await);
    // Wrong passwords from elsewhere count on their own source.
    assert_eq!(
        w.login("erin", WRONG, B).await,
        LoginAnswer::InvalidCredentials
    );
    granted_token(&w.login("erin", GOOD, B).await);
    let events = w.events().await;
    let locks: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "account.locked")
        .collect();
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0].payload["ip"], A);
    assert!(
        !events.iter().any(|e| e.kind == "user.sessions_ended"),
        "a lock of one source ends no session"
    );
    assert!(w.service.authenticate(&session).await.is_ok());
    let lock = w.service.user_lock(&w.admin, ORG, &id).await.unwrap();
    assert!(lock.locked, "the lock of source A is reported");
}

#[tokio::test]
async fn a_blocked_address_is_refused_before_any_lookup_or_hash() {
    let w = World::new().await;
    w.patch(
        SectionKind::BruteForce,
        json!({"max_attempts": 2, "block_duration": 300}),
    )
    .await;
    w.user("frank", GOOD).await;
    let start = w.last_sequence().await;
    // Two failures on different names: no account counts to a lock, the address does.
    w.login("frank", WRONG, A).await;
    w.login("nobody", WRONG, A).await;
    let events = w.events_after(start).await;
    assert_eq!(
        types(&events),
        ["login.failed", "login.failed", "ip.blocked"]
    );
    assert_eq!(
        events[2].1,
        json!({"ip": A, "network": A,
               "until": rfc3339(T0 + time::Duration::seconds(300))})
    );

    let hashes = w.verifications();
    let seen = w.last_sequence().await;
    assert_eq!(
        w.login("frank", GOOD, A).await,
        LoginAnswer::IpBlocked { retry_after: 300 }
    );
    assert_eq!(w.verifications(), hashes, "no hash for a blocked address");
    assert!(w.events_after(seen).await.is_empty());
    assert_eq!(
        w.service
            .metrics
            .logins_with(portcullis_service::LoginResult::IpBlocked),
        1
    );
    // Another address logs in, with one verification.
    granted_token(&w.login("frank", GOOD, B).await);
    assert_eq!(w.verifications(), hashes + 1);
}

#[tokio::test]
async fn a_disabled_user_is_refused_after_the_right_password_only() {
    let w = World::new().await;
    let id = w.user("grace", GOOD).await;
    w.service
        .update_user(
            &w.admin,
            &w.ctx,
            ORG,
            &id,
            UserPatch {
                disabled: Some(true),
                ..UserPatch::default()
            },
        )
        .await
        .unwrap();
    let seen = w.last_sequence().await;
    assert_eq!(
        w.login("grace", WRONG, A).await,
        LoginAnswer::InvalidCredentials,
        "a wrong password tells nothing about the account"
    );
    assert_eq!(w.login("grace", GOOD, A).await, LoginAnswer::Disabled);
    let events = w.events_after(seen).await;
    assert_eq!(types(&events), ["login.failed", "login.refused"]);
    assert_eq!(
        events[1].1,
        json!({"user_id": id, "reason": "account_disabled", "ip": A})
    );
}

/// An organization id that no organization can have is an unknown organization: `NotFound`,
/// no hash, no event, and no counter touched.
#[tokio::test]
async fn an_impossible_organization_id_is_not_found_and_costs_nothing() {
    let world = World::new().await;
    world.user("alice", GOOD).await;
    let before = (world.verifications(), world.last_sequence().await);
    for org in ["a/b", "", "x".repeat(65).as_str(), "nope"] {
        let answer = world
            .service
            .login(
                &portcullis_service::Context::new("anonymous", None),
                org,
                portcullis_service::LoginRequest {
                    login: "alice".into(),
                    password: GOOD.into(),
                    ip: crate::support::ip(A),
                },
            )
            .await;
        assert!(
            matches!(answer, Err(portcullis_service::ServiceError::NotFound)),
            "{org:?}: {answer:?}"
        );
    }
    assert_eq!((world.verifications(), world.last_sequence().await), before);
}
