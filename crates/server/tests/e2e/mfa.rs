//! The TOTP second factor over the real server: enrollment with recovery codes, the login's
//! second step (a code works once, a replay fails, a recovery code works once), the one-time
//! code counter's exactness under 64 concurrent wrong codes, the enrollment grace on the test
//! clock, and removal.

use portcullis_engine::totp::{code_at, secret_from_base32};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Answer, App, GOOD, T0, spawn_app};

const ORG: &str = "acme";

/// The server's clock at the start of a test, in seconds (tests add what they advanced).
fn t0() -> u64 {
    u64::try_from(T0.unix_timestamp()).unwrap()
}

impl App {
    async fn login_token(&self, login: &str) -> String {
        let a = self.login(ORG, login, GOOD).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        a.body["session"]["token"].as_str().unwrap().to_owned()
    }

    /// Enrolls `login`'s TOTP; answers its secret and recovery codes.
    async fn enroll(&self, login: &str) -> (Vec<u8>, Vec<String>) {
        let token = self.login_token(login).await;
        let started = self.post("/v1/self/mfa/totp", &token, json!({})).await;
        assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
        assert!(
            started.body["otpauth_uri"]
                .as_str()
                .unwrap()
                .starts_with("otpauth://totp/")
        );
        let secret = secret_from_base32(started.body["secret"].as_str().unwrap()).unwrap();
        let confirmed = self
            .post(
                "/v1/self/mfa/totp/confirm",
                &token,
                json!({"code": code_at(&secret, t0())}),
            )
            .await;
        assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
        let codes: Vec<String> = confirmed.body["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        (secret, codes)
    }

    async fn challenge(&self, login: &str) -> String {
        let a = self.login(ORG, login, GOOD).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.body["mfa_required"], true);
        assert!(
            a.body.get("session").is_none(),
            "no session before the second step"
        );
        a.body["challenge"].as_str().unwrap().to_owned()
    }

    async fn second_step(&self, challenge: &str, code: &str) -> Answer {
        self.call(
            Method::POST,
            &format!("/v1/orgs/{ORG}/login/mfa"),
            None,
            Some(json!({"challenge": challenge, "code": code})),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enrollment_second_step_replay_and_recovery_codes() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    app.user(ORG, &admin, "alice", GOOD).await;

    // Enrollment: a wrong code is refused with its field; a second start is refused once done.
    let token = app.login_token("alice").await;
    let started = app.post("/v1/self/mfa/totp", &token, json!({})).await;
    let secret = secret_from_base32(started.body["secret"].as_str().unwrap()).unwrap();
    let now = code_at(&secret, t0());
    let wrong = if now == "000000" { "111111" } else { "000000" };
    let refused = app
        .post("/v1/self/mfa/totp/confirm", &token, json!({"code": wrong}))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.body["violations"][0]["code"], "mfa.code_invalid",
        "{:?}",
        refused.body
    );
    let confirmed = app
        .post("/v1/self/mfa/totp/confirm", &token, json!({"code": now}))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    let recovery: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let again = app.post("/v1/self/mfa/totp", &token, json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // The password step now answers a challenge, which is no credential.
    let challenge = app.challenge("alice").await;
    assert_eq!(
        app.get("/v1/self", &challenge).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The code shown at confirmation is used: a replay.
    assert_eq!(
        app.second_step(&challenge, &now).await.body["code"],
        "invalid_code"
    );
    app.clock.advance(30);
    let next = code_at(&secret, t0() + 30);
    let granted = app.second_step(&challenge, &next).await;
    assert_eq!(granted.status, StatusCode::OK, "{:?}", granted.body);
    let session = granted.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get("/v1/self", &session).await.status, StatusCode::OK);
    // The challenge completed once; the same code on a new challenge is a replay.
    assert_eq!(
        app.second_step(&challenge, &next).await.body["code"],
        "invalid_challenge"
    );
    let fresh = app.challenge("alice").await;
    assert_eq!(
        app.second_step(&fresh, &next).await.body["code"],
        "invalid_code"
    );

    // A recovery code works once, typed loosely.
    let typed = recovery[3].to_uppercase().replace('-', " ");
    assert_eq!(app.second_step(&fresh, &typed).await.status, StatusCode::OK);
    let other = app.challenge("alice").await;
    assert_eq!(
        app.second_step(&other, &recovery[3]).await.body["code"],
        "invalid_code"
    );

    // A challenge expires after five minutes.
    app.clock.advance(301);
    let late = code_at(&secret, t0() + 331);
    assert_eq!(
        app.second_step(&other, &late).await.body["code"],
        "invalid_challenge"
    );

    // Removal needs the password; then the password alone logs in again.
    let session = {
        let c = app.challenge("alice").await;
        let a = app.second_step(&c, &recovery[0]).await;
        a.body["session"]["token"].as_str().unwrap().to_owned()
    };
    let bad = app
        .call(
            Method::DELETE,
            "/v1/self/mfa/totp",
            Some(&session),
            Some(json!({"password": "nope"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let removed = app
        .call(
            Method::DELETE,
            "/v1/self/mfa/totp",
            Some(&session),
            Some(json!({"password": GOOD})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert!(app.login(ORG, "alice", GOOD).await.body["session"]["token"].is_string());

    // An administrator cannot remove its own factor without its password.
    let admin_user = app
        .post(
            &format!("/v1/orgs/{ORG}/users"),
            &admin,
            json!({"login": "dana", "password": GOOD, "roles": ["org_admin"]}),
        )
        .await;
    let dana = admin_user.body["id"].as_str().unwrap().to_owned();
    let dana_session = app.login_token("dana").await;
    let own = app
        .delete(&format!("/v1/orgs/{ORG}/users/{dana}/mfa"), &dana_session)
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{:?}", own.body);

    let events = app.event_types(ORG, &admin).await;
    for kind in [
        "mfa.enrollment_started",
        "mfa.enrolled",
        "mfa.recovery_code_used",
        "mfa.removed",
    ] {
        assert!(events.iter().any(|e| e == kind), "{kind} in {events:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_wrong_codes_count_exactly_max_otp_attempts() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let bob = app.user(ORG, &admin, "bob", GOOD).await;
    let a = app
        .patch(
            &format!("/v1/orgs/{ORG}/users/{bob}"),
            &admin,
            json!({"email": "bob@example.test"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    app.set_section(
        ORG,
        &admin,
        "lockout",
        json!({"max_otp_attempts": 5, "lock_duration": null, "notify_user": true,
               "allow_self_unblock": true}),
    )
    .await;
    let (secret, _) = app.enroll("bob").await;
    app.clock.advance(30);
    let right = code_at(&secret, t0() + 30);
    let wrong: &str = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let challenge = app.challenge("bob").await;

    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (base, http, challenge) = (app.base.clone(), app.http.clone(), challenge.clone());
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/v1/orgs/{ORG}/login/mfa"))
                .json(&json!({"challenge": challenge, "code": wrong}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let (mut counted, mut locked) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::UNAUTHORIZED => counted += 1,
            StatusCode::FORBIDDEN => locked += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((counted, locked), (5, 59));
    let events = app.event_types(ORG, &admin).await;
    assert_eq!(
        events.iter().filter(|e| *e == "login.mfa_failed").count(),
        5
    );
    assert_eq!(events.iter().filter(|e| *e == "account.locked").count(), 1);
    // One lock, one mail to the user, with no unblock link: a one-time-code lock is never
    // lifted by mail (the second factor would be no stronger than the mailbox).
    let outbox = app.get(&format!("/v1/orgs/{ORG}/outbox"), &admin).await;
    let mails = outbox.body["items"].as_array().unwrap();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["kind"], "account_locked");
    assert_eq!(mails[0]["recipient"], "bob@example.test");
    assert!(!mails[0]["body"].as_str().unwrap().contains("{token}"));
    // The lock ended the user's sessions, the pending challenge among them
    // (`end_sessions_on_lock`): even the right code finds no challenge.
    let refused = app.second_step(&challenge, &right).await;
    assert_eq!(
        (refused.status, refused.body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_challenge"))
    );
    // Locked: on a fresh challenge, even the right code is refused without being looked at.
    let challenge = app.challenge("bob").await;
    let refused = app.second_step(&challenge, &right).await;
    assert_eq!(
        (refused.status, refused.body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("account_locked"))
    );
    // An administrator's unlock lifts the one-time-code lock too.
    let unlocked = app
        .post(
            &format!("/v1/orgs/{ORG}/users/{bob}/unlock"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(unlocked.status, StatusCode::OK, "{:?}", unlocked.body);
    assert_eq!(unlocked.body["unlocked"], true);
    assert_eq!(
        app.second_step(&challenge, &right).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enrollment_grace_allows_only_enrolling_then_refuses() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    let carol = app.user(ORG, &admin, "carol", GOOD).await;
    app.set_section(ORG, &admin, "mfa", json!({"required": true}))
        .await;
    app.patch(
        &format!("/v1/orgs/{ORG}/password-policies/default"),
        &admin,
        json!({"grace_period": 3600}),
    )
    .await;
    let policies = app
        .get(&format!("/v1/orgs/{ORG}/password-policies/default"), &admin)
        .await;
    if policies.body["grace_period"] != 3600 {
        let put = app
            .put(
                &format!("/v1/orgs/{ORG}/password-policies/default"),
                &admin,
                {
                    let mut p: Value = policies.body.clone();
                    p["grace_period"] = json!(3600);
                    p
                },
            )
            .await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    }

    // Inside the grace: a session limited to enrolling.
    let login = app.login(ORG, "carol", GOOD).await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert!(login.body["mfa_enroll_by"].is_string());
    let token = login.body["session"]["token"].as_str().unwrap().to_owned();
    let other = app.get(&format!("/v1/orgs/{ORG}/api-keys"), &token).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(other.body["code"], "mfa_enrollment_required");
    // It cannot change the password either (that would answer a fresh session).
    let change = app
        .post(
            "/v1/self/password",
            &token,
            json!({"current_password": GOOD, "new_password": "another long passphrase 42"}),
        )
        .await;
    assert_eq!(
        change.body["code"], "mfa_enrollment_required",
        "{:?}",
        change.body
    );
    let started = app.post("/v1/self/mfa/totp", &token, json!({})).await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    let secret = secret_from_base32(started.body["secret"].as_str().unwrap()).unwrap();
    let confirmed = app
        .post(
            "/v1/self/mfa/totp/confirm",
            &token,
            json!({"code": code_at(&secret, t0())}),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    // Enrolled: the session limited to enrolling has ended; logins take the second step.
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.challenge("carol").await;

    // An administrator resets the factor (a lost device) late in the grace: the grace runs
    // again from the reset, so carol can still enroll; past that, she is refused.
    app.clock.advance(3000);
    let own = app
        .delete(&format!("/v1/orgs/{ORG}/users/{carol}/mfa"), &admin)
        .await;
    assert_eq!(own.status, StatusCode::NO_CONTENT, "{:?}", own.body);
    // Removing it again is what the first call left: 204, and still one removal on record.
    let twice = app
        .delete(&format!("/v1/orgs/{ORG}/users/{carol}/mfa"), &admin)
        .await;
    assert_eq!(twice.status, StatusCode::NO_CONTENT, "{:?}", twice.body);
    let events = app
        .get(&format!("/v1/orgs/{ORG}/events?limit=500"), &admin)
        .await;
    let removals = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "mfa.removed")
        .count();
    assert_eq!(removals, 1, "{:?}", events.body);
    app.clock.advance(1000);
    let again = app.login(ORG, "carol", GOOD).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert!(again.body["mfa_enroll_by"].is_string(), "{:?}", again.body);
    app.clock.advance(2601);
    let late = app.login(ORG, "carol", GOOD).await;
    assert_eq!(
        (late.status, late.body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("mfa_enrollment_overdue"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_codes_count_on_the_address_and_a_blocked_address_is_refused() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    app.user(ORG, &admin, "erin", GOOD).await;
    // OTP lockout off: only IP blocking limits guessing.
    app.set_section(ORG, &admin, "lockout", json!({"max_otp_attempts": 0}))
        .await;
    app.set_section(
        ORG,
        &admin,
        "brute_force",
        json!({"enabled": true, "max_attempts": 3}),
    )
    .await;
    let (secret, _) = app.enroll("erin").await;
    app.clock.advance(30);
    let right = code_at(&secret, t0() + 30);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let login = app.login_from(ORG, "erin", GOOD, "198.51.100.7").await;
    let challenge = login.body["challenge"].as_str().unwrap().to_owned();
    let step = |code: String| {
        let (base, http, challenge) = (app.base.clone(), app.http.clone(), challenge.clone());
        async move {
            let response = http
                .post(format!("{base}/v1/orgs/{ORG}/login/mfa"))
                .header("x-forwarded-for", "198.51.100.7")
                .json(&json!({"challenge": challenge, "code": code}))
                .send()
                .await
                .unwrap();
            Answer::read(response).await
        }
    };
    for _ in 0..3 {
        assert_eq!(step(wrong.to_owned()).await.body["code"], "invalid_code");
    }
    let events = app.event_types(ORG, &admin).await;
    assert_eq!(
        events.iter().filter(|e| *e == "login.mfa_failed").count(),
        3
    );
    assert_eq!(events.iter().filter(|e| *e == "ip.blocked").count(), 1);
    let blocked = step(right.clone()).await;
    assert_eq!(
        (blocked.status, blocked.body["code"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!("ip_blocked"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_with_a_second_factor_changes_its_password_and_is_challenged_again() {
    let app = spawn_app().await;
    let admin = app.org_with_admin(ORG).await;
    app.user(ORG, &admin, "dora", GOOD).await;
    let (secret, _) = app.enroll("dora").await;
    app.clock.advance(30);
    let challenge = app.challenge("dora").await;
    let session = app
        .second_step(&challenge, &code_at(&secret, t0() + 30))
        .await;
    assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
    let token = session.body["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let new = "a fresh passphrase for her 5";
    let changed = app
        .post(
            "/v1/self/password",
            &token,
            json!({"current_password": GOOD, "new_password": new}),
        )
        .await;
    // The answer is the next login's: a challenge, never a session that skips the code.
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["mfa_required"], true);
    assert!(changed.body.get("session").is_none(), "{:?}", changed.body);
    assert!(changed.body["challenge"].is_string());
    assert_eq!(
        app.get("/v1/self", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(ORG, "dora", GOOD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.login(ORG, "dora", new).await.body["mfa_required"], true);
}
