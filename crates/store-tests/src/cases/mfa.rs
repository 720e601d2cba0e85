//! Second factors: a factor belongs to a user of its organization; a TOTP step is used once,
//! however many requests race for it; a recovery code is used once; a challenge completes into
//! a session once; deleting the user deletes the factor.

use crate::support::oid;
use std::sync::Arc;

use portcullis_store::{FactorCondition, MfaFactor, Session, SessionStage, Store, StoreError};

use crate::support::{at, draft, events_of, kinds, session, token_hash, user};

fn factor(org: &str, user_id: &str, confirmed: bool) -> MfaFactor {
    MfaFactor {
        org_id: oid(org),
        user_id: user_id.to_owned(),
        secret_sealed: "v1.sealed".to_owned(),
        confirmed_at: confirmed.then(|| at(20)),
        last_step: 0,
        recovery_codes: vec!["r1".to_owned(), "r2".to_owned()],
        created_at: at(10),
    }
}

async fn with_user(store: &dyn Store, org: &str, id: &str) {
    store
        .create_user(&user(org, id, id), draft(Some(org), "user.created", 0))
        .await
        .unwrap();
}

/// A factor is stored for a user of its organization only, read back exactly, replaced by a
/// new write (with its event), and deleted with its user.
pub async fn mfa_factor_belongs_to_a_user(store: Arc<dyn Store>) {
    with_user(&*store, "ma", "u1").await;
    with_user(&*store, "mb", "u2").await;
    for stray in [factor("ma", "u2", false), factor("ma", "nobody", false)] {
        let err = store
            .put_mfa_factor(
                &stray,
                FactorCondition::NotConfirmed,
                draft(Some("ma"), "mfa.enrolling", 1),
            )
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::NotFound);
    }
    let enrolling = factor("ma", "u1", false);
    store
        .put_mfa_factor(
            &enrolling,
            FactorCondition::NotConfirmed,
            draft(Some("ma"), "mfa.enrolling", 1),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_mfa_factor(&oid("ma"), "u1").await.unwrap(),
        Some(enrolling)
    );
    assert_eq!(store.get_mfa_factor(&oid("mb"), "u1").await.unwrap(), None);
    let confirmed = factor("ma", "u1", true);
    store
        .put_mfa_factor(
            &confirmed,
            FactorCondition::NotConfirmed,
            draft(Some("ma"), "mfa.enrolled", 2),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_mfa_factor(&oid("ma"), "u1").await.unwrap(),
        Some(confirmed)
    );
    assert_eq!(
        kinds(&events_of(&*store, Some("ma")).await),
        ["user.created", "mfa.enrolling", "mfa.enrolled"]
    );
    store
        .put_mfa_factor(
            &factor("mb", "u2", true),
            FactorCondition::NotConfirmed,
            draft(Some("mb"), "mfa.enrolled", 5),
        )
        .await
        .unwrap();
    assert!(
        store
            .delete_user(&oid("mb"), "u2", draft(Some("mb"), "user.deleted", 6))
            .await
            .unwrap()
    );
    assert_eq!(store.get_mfa_factor(&oid("mb"), "u2").await.unwrap(), None);
}

/// A step is accepted only for a confirmed factor and only when later than the last one; of
/// many requests racing with the same step, exactly one wins.
pub async fn mfa_step_is_used_once(store: Arc<dyn Store>) {
    with_user(&*store, "ms", "u1").await;
    store
        .put_mfa_factor(
            &factor("ms", "u1", false),
            FactorCondition::NotConfirmed,
            draft(Some("ms"), "mfa.enrolling", 1),
        )
        .await
        .unwrap();
    assert!(
        !store.use_mfa_step(&oid("ms"), "u1", 5).await.unwrap(),
        "not confirmed"
    );
    store
        .put_mfa_factor(
            &factor("ms", "u1", true),
            FactorCondition::NotConfirmed,
            draft(Some("ms"), "mfa.enrolled", 1),
        )
        .await
        .unwrap();
    assert!(store.use_mfa_step(&oid("ms"), "u1", 10).await.unwrap());
    assert!(
        !store.use_mfa_step(&oid("ms"), "u1", 10).await.unwrap(),
        "a replay"
    );
    assert!(
        !store.use_mfa_step(&oid("ms"), "u1", 9).await.unwrap(),
        "an older step"
    );
    assert!(
        !store.use_mfa_step(&oid("mx"), "u1", 11).await.unwrap(),
        "another organization"
    );
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.use_mfa_step(&oid("ms"), "u1", 11).await.unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    assert_eq!(
        store
            .get_mfa_factor(&oid("ms"), "u1")
            .await
            .unwrap()
            .unwrap()
            .last_step,
        11
    );
}

/// A recovery code is removed by its first use only, with its event; racing uses of one code
/// let exactly one through.
pub async fn mfa_recovery_code_is_used_once(store: Arc<dyn Store>) {
    with_user(&*store, "mr", "u1").await;
    // An enrollment in progress has no usable recovery code yet.
    with_user(&*store, "mq", "u9").await;
    store
        .put_mfa_factor(
            &factor("mq", "u9", false),
            FactorCondition::NotConfirmed,
            draft(Some("mq"), "mfa.enrollment_started", 1),
        )
        .await
        .unwrap();
    let unconfirmed = store
        .use_recovery_code(
            &oid("mq"),
            "u9",
            "r1",
            draft(Some("mq"), "mfa.recovery_used", 1),
        )
        .await
        .unwrap();
    assert!(!unconfirmed);
    assert_eq!(
        kinds(&events_of(&*store, Some("mq")).await),
        ["user.created", "mfa.enrollment_started"]
    );
    store
        .put_mfa_factor(
            &factor("mr", "u1", true),
            FactorCondition::NotConfirmed,
            draft(Some("mr"), "mfa.enrolled", 1),
        )
        .await
        .unwrap();
    assert!(
        !store
            .use_recovery_code(
                &oid("mr"),
                "u1",
                "nope",
                draft(Some("mr"), "mfa.recovery_used", 2)
            )
            .await
            .unwrap()
    );
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .use_recovery_code(
                    &oid("mr"),
                    "u1",
                    "r1",
                    draft(Some("mr"), "mfa.recovery_used", 2),
                )
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    let left = store
        .get_mfa_factor(&oid("mr"), "u1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(left.recovery_codes, ["r2"]);
    assert_eq!(
        kinds(&events_of(&*store, Some("mr")).await),
        ["user.created", "mfa.enrolled", "mfa.recovery_used"]
    );
}

/// A challenge becomes a full session once, under a new token, starting at the completion;
/// racing completions let exactly one through; a full session is not a challenge.
pub async fn mfa_challenge_completes_once(store: Arc<dyn Store>) {
    with_user(&*store, "mc", "u1").await;
    let challenge = Session {
        stage: SessionStage::MfaChallenge,
        ..session("mc", "u1", "s-challenge")
    };
    store
        .create_session(
            &challenge,
            vec![draft(Some("mc"), "login.mfa_challenged", 1)],
        )
        .await
        .unwrap();
    let full = session("mc", "u1", "s-full");
    store.create_session(&full, Vec::new()).await.unwrap();
    assert!(
        !store
            .complete_mfa_challenge("s-full", &token_hash("ses", "new-0"), at(500), Vec::new())
            .await
            .unwrap(),
        "not a challenge"
    );
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .complete_mfa_challenge(
                    "s-challenge",
                    &token_hash("ses", &format!("new-{}", n + 1)),
                    at(500),
                    vec![draft(Some("mc"), "login.succeeded", 500)],
                )
                .await
                .unwrap()
        }));
    }
    let mut winners = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        if task.await.unwrap() {
            winners.push(n + 1);
        }
    }
    assert_eq!(winners.len(), 1);
    let token = token_hash("ses", &format!("new-{}", winners[0]));
    let opened = store.find_session(&token).await.unwrap().unwrap();
    assert_eq!(opened.stage, SessionStage::Full);
    assert_eq!((opened.created_at, opened.last_used_at), (at(500), at(500)));
    assert_eq!(opened.id, "s-challenge");
    assert!(
        store
            .find_session(&challenge.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    let all = events_of(&*store, Some("mc")).await;
    let events = kinds(&all);
    assert_eq!(
        events.iter().filter(|k| **k == "login.succeeded").count(),
        1
    );
}

/// A factor write happens only when the factor in place meets its condition: no new enrollment
/// over a confirmed factor, a confirmation only of the very enrollment it read, a removal only
/// of a factor with a secret; a refused write writes no event.
pub async fn mfa_factor_writes_are_conditional(store: Arc<dyn Store>) {
    with_user(&*store, "mw", "u1").await;
    let put = async |f: &MfaFactor, c: FactorCondition| {
        store
            .put_mfa_factor(f, c, draft(Some("mw"), "mfa.write", 1))
            .await
            .unwrap()
    };
    let enrolling = factor("mw", "u1", false);
    assert!(
        !put(&enrolling, FactorCondition::Present).await,
        "nothing to remove"
    );
    assert!(
        !put(&enrolling, FactorCondition::Enrolling("v1.sealed".into())).await,
        "nothing to confirm"
    );
    assert!(put(&enrolling, FactorCondition::NotConfirmed).await);
    let confirmed = factor("mw", "u1", true);
    assert!(
        !put(&confirmed, FactorCondition::Enrolling("v1.other".into())).await,
        "another enrollment's secret"
    );
    assert!(put(&confirmed, FactorCondition::Enrolling("v1.sealed".into())).await);
    assert!(
        !put(&enrolling, FactorCondition::NotConfirmed).await,
        "a confirmed factor is not replaced by a new enrollment"
    );
    let removed = MfaFactor {
        secret_sealed: String::new(),
        confirmed_at: None,
        ..factor("mw", "u1", false)
    };
    assert!(put(&removed, FactorCondition::Present).await);
    assert!(
        !put(&removed, FactorCondition::Present).await,
        "removed already"
    );
    assert_eq!(
        store.get_mfa_factor(&oid("mw"), "u1").await.unwrap(),
        Some(removed)
    );
    let writes = events_of(&*store, Some("mw")).await;
    assert_eq!(
        kinds(&writes).iter().filter(|k| **k == "mfa.write").count(),
        3
    );
}
