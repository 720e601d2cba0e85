//! Password changes at the service: an expired password logs in restricted to changing it, the
//! cheap rules refuse before any history hash on every path, and a wrong current password costs
//! no history hash.

use portcullis_service::{LoginAnswer, ServiceError};
use serde_json::json;

use crate::support::{GOOD, ORG, OTHER_GOOD, T0, WRONG, World, granted_token, types};

const A: &str = "192.0.2.7";

/// A password policy whose passwords expire after a day, with an hour of grace.
async fn expiring(w: &World) {
    w.password_policy(
        json!({"expiration_enabled": true, "max_age_days": 1, "grace_period": 3600, "history": 3}),
    )
    .await;
}

#[tokio::test]
async fn an_expired_password_logs_in_restricted_to_changing_it() {
    let w = World::new().await;
    expiring(&w).await;
    let id = w.user("alice", GOOD).await;
    w.user("bob", GOOD).await;
    w.clock
        .set(T0 + time::Duration::days(1) + time::Duration::seconds(1));

    let LoginAnswer::Granted(granted) = w.login("alice", GOOD, A).await else {
        panic!("an expired password within its grace logs in");
    };
    assert!(granted.password_change_required);
    let caller = w.service.authenticate(&granted.token).await.unwrap();
    assert!(caller.password_change_only);
    let events = w.events().await;
    let succeeded = events.last().unwrap();
    assert_eq!(succeeded.kind, "login.succeeded");
    assert_eq!(succeeded.payload["password_change_required"], true);
    assert_eq!(succeeded.payload["stage"], "full");

    // The restricted session changes the password, which ends it; the answer is a full session.
    let seen = w.last_sequence().await;
    let answer = w
        .service
        .change_own_password(&caller, &w.ctx, GOOD, OTHER_GOOD, crate::support::ip(A))
        .await
        .unwrap();
    let LoginAnswer::Granted(fresh) = answer else {
        panic!("a changed password answers a fresh session, got {answer:?}");
    };
    assert!(!fresh.password_change_required);
    assert!(w.service.authenticate(&granted.token).await.is_err());
    assert!(
        !w.service
            .authenticate(&fresh.token)
            .await
            .unwrap()
            .password_change_only
    );
    let events = w.events_after(seen).await;
    assert!(
        types(&events).contains(&"user.password.changed"),
        "{events:?}"
    );
    let changed = events
        .iter()
        .find(|(kind, _)| kind == "user.password.changed")
        .unwrap();
    assert_eq!(changed.1, json!({"user_id": id}));

    // Past the grace, a password no longer logs in at all.
    w.clock
        .set(T0 + time::Duration::days(1) + time::Duration::seconds(3601));
    let seen = w.last_sequence().await;
    assert_eq!(w.login("bob", GOOD, A).await, LoginAnswer::PasswordExpired);
    let events = w.events_after(seen).await;
    assert_eq!(types(&events), ["login.refused"]);
    assert_eq!(events[0].1["reason"], "password_expired");
}

#[tokio::test]
async fn the_cheap_rules_refuse_before_any_history_hash_on_every_path() {
    let w = World::new().await;
    w.password_policy(json!({"history": 5, "min_length": 15}))
        .await;
    let id = w.user("carol", GOOD).await;
    let short = "Sh0rt!";

    // An administrator's password.
    let before = w.verifications();
    let err = w
        .service
        .admin_set_password(&w.admin, &w.ctx, ORG, &id, short, false)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
    assert_eq!(
        w.verifications(),
        before,
        "no hash for a too short password"
    );

    // The user's own change: the login verifies the current password (one hash), the history
    // none.
    let session = granted_token(&w.login("carol", GOOD, A).await);
    let caller = w.service.authenticate(&session).await.unwrap();
    let before = w.verifications();
    let err = w
        .service
        .change_own_password(&caller, &w.ctx, GOOD, short, crate::support::ip(A))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)), "{err:?}");
    assert_eq!(w.verifications(), before + 1, "only the current password");

    // A compliant new password after a wrong current one: the login refuses, the history is
    // never looked at.
    let before = w.verifications();
    let answer = w
        .service
        .change_own_password(&caller, &w.ctx, WRONG, OTHER_GOOD, crate::support::ip(A))
        .await
        .unwrap();
    assert_eq!(answer, LoginAnswer::InvalidCredentials);
    assert_eq!(
        w.verifications(),
        before + 1,
        "a wrong current password costs no history hash"
    );

    // A compliant password is checked against the history (the current one included).
    let before = w.verifications();
    let err = w
        .service
        .admin_set_password(&w.admin, &w.ctx, ORG, &id, GOOD, false)
        .await
        .unwrap_err();
    let ServiceError::Invalid(found) = err else {
        panic!("a reused password is refused");
    };
    assert_eq!(found.codes(), ["password.reused"]);
    assert!(w.verifications() > before);

    // A new user's initial password has no history to hash.
    let before = w.verifications();
    w.user("dave", OTHER_GOOD).await;
    assert_eq!(w.verifications(), before);
}
