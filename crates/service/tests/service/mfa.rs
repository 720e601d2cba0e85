//! The second factor at the service: an enrolled user's password step answers a challenge, not
//! a session; a wrong code is counted; the right code completes the login.

use portcullis_engine::totp::{code_at, secret_from_base32};
use portcullis_service::{Context, LoginAnswer, MfaLoginRequest};
use serde_json::json;

use crate::support::{GOOD, ORG, World, granted_token, ip, types};

const A: &str = "192.0.2.7";

fn unix(w: &World) -> u64 {
    w.service.now().unix_timestamp() as u64
}

#[tokio::test]
async fn an_enrolled_user_must_pass_the_second_step() {
    let w = World::new().await;
    let id = w.user("alice", GOOD).await;
    let session = granted_token(&w.login("alice", GOOD, A).await);
    let caller = w.service.authenticate(&session).await.unwrap();
    let enrollment = w
        .service
        .start_totp_enrollment(&caller, &w.ctx)
        .await
        .unwrap();
    let secret = secret_from_base32(&enrollment.secret).unwrap();
    w.service
        .confirm_totp(&caller, &w.ctx, &code_at(&secret, unix(&w)))
        .await
        .unwrap();
    w.clock.advance(30);

    let seen = w.last_sequence().await;
    let LoginAnswer::MfaChallenge(challenge) = w.login("alice", GOOD, A).await else {
        panic!("an enrolled user gets a challenge");
    };
    assert_eq!(challenge.user_id, id);
    assert!(
        w.service.authenticate(&challenge.challenge).await.is_err(),
        "a challenge is no session"
    );
    let events = w.events_after(seen).await;
    assert_eq!(types(&events), ["login.succeeded"]);
    assert_eq!(events[0].1["stage"], "mfa_challenge");

    let anonymous = Context::new("anonymous", None);
    let step = |code: String| MfaLoginRequest {
        challenge: challenge.challenge.clone(),
        code,
        ip: ip(A),
    };
    let seen = w.last_sequence().await;
    let wrong = if code_at(&secret, unix(&w)) == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        w.service
            .complete_mfa_login(&anonymous, ORG, step(wrong.into()))
            .await
            .unwrap(),
        LoginAnswer::InvalidCode
    );
    let events = w.events_after(seen).await;
    assert_eq!(types(&events), ["login.mfa_failed"]);
    assert_eq!(events[0].1, json!({"user_id": id, "ip": A}));

    let seen = w.last_sequence().await;
    let answer = w
        .service
        .complete_mfa_login(&anonymous, ORG, step(code_at(&secret, unix(&w))))
        .await
        .unwrap();
    let token = granted_token(&answer);
    assert!(w.service.authenticate(&token).await.is_ok());
    let events = w.events_after(seen).await;
    let succeeded = events
        .iter()
        .find(|(kind, _)| kind == "login.succeeded")
        .unwrap();
    assert_eq!(succeeded.1["mfa"], true);
    assert_eq!(succeeded.1["user_id"], json!(id));

    // The challenge is spent.
    assert_eq!(
        w.service
            .complete_mfa_login(&anonymous, ORG, step(code_at(&secret, unix(&w) + 30)))
            .await
            .unwrap(),
        LoginAnswer::InvalidChallenge
    );
}
