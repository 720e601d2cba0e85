//! The service's test binary, on an in-memory SQLite store: what only the service can show, with
//! the login and password permutations in the modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "service/login.rs"]
mod login;
#[path = "service/mfa.rs"]
mod mfa;
#[path = "service/passwords.rs"]
mod passwords;
#[path = "service/support.rs"]
mod support;

use std::sync::Arc;

use portcullis_engine::hashing::{HashParams, Hasher};
use portcullis_model::OrgId;
use portcullis_model::SectionKind;
use portcullis_service::{ManualClock, Service};
use portcullis_store::prelude::*;
use portcullis_store::sql::SqlStore;
use portcullis_store::{EventDraft, Org, Owner};
use serde_json::json;

const T0: time::OffsetDateTime = time::macros::datetime!(2026-11-23 09:00 UTC);

fn service(store: Arc<SqlStore>) -> Service {
    let hasher = Hasher::new(HashParams::insecure_for_tests()).unwrap();
    Service::new(store, Arc::new(ManualClock::new(T0)), Arc::new(hasher), 1)
}

/// An organization id of the tests.
fn oid(id: &str) -> OrgId {
    OrgId::parse(id, "org").unwrap()
}

/// A fresh store in memory.
async fn memory_store() -> SqlStore {
    portcullis_store_sqlite::open("sqlite::memory:", 1)
        .await
        .unwrap()
}

fn draft(kind: &str) -> EventDraft {
    EventDraft {
        org_id: Some(oid("acme")),
        kind: kind.into(),
        actor: "test".into(),
        request_id: None,
        at: T0,
        payload: json!({}),
        mail: None,
    }
}

/// A change written by another replica (straight into the shared store) is picked up by the
/// next policy-version check, and not before.
#[tokio::test]
async fn another_replicas_policy_change_is_seen_after_the_version_check() {
    let store = Arc::new(memory_store().await);
    let org = Org {
        id: oid("acme"),
        name: "Acme".into(),
        created_at: T0,
    };
    store.create_org(&org, draft("org.created")).await.unwrap();
    let here = service(store.clone());
    here.refresh_policies().await.unwrap();
    let before = here.effective_policy("acme").await.unwrap();
    assert_eq!(before.lockout.value.max_password_attempts, 10);

    // "Replica B" writes the lockout section.
    let owner = Owner::Org(oid("acme"));
    store
        .write_section(
            &owner,
            "lockout",
            &json!({"max_password_attempts": 3}),
            None,
            draft("policy.lockout.changed"),
        )
        .await
        .unwrap();
    let cached = here.effective_policy("acme").await.unwrap();
    assert_eq!(
        cached.lockout.value.max_password_attempts, 10,
        "still cached before the check"
    );
    here.refresh_policies().await.unwrap();
    let fresh = here.effective_policy("acme").await.unwrap();
    assert_eq!(fresh.lockout.value.max_password_attempts, 3);
    assert!(
        !fresh.section_meta(SectionKind::Lockout).0,
        "now a custom section"
    );

    // A reset by "replica B" too.
    store
        .delete_section(&oid("acme"), "lockout", draft("policy.lockout.reset"))
        .await
        .unwrap();
    here.refresh_policies().await.unwrap();
    assert_eq!(
        here.effective_policy("acme")
            .await
            .unwrap()
            .lockout
            .value
            .max_password_attempts,
        10
    );
}

/// Two replicas on one store: one sweeps while its lease lasts; the other takes over after.
#[tokio::test]
async fn one_replica_sweeps_at_a_time() {
    let store = Arc::new(memory_store().await);
    let clock = ManualClock::new(T0);
    let make = || {
        let hasher = Hasher::new(HashParams::insecure_for_tests()).unwrap();
        Service::new(store.clone(), Arc::new(clock.clone()), Arc::new(hasher), 1)
    };
    let (a, b) = (make(), make());
    assert!(a.sweep("a", 60).await.unwrap().is_some());
    assert!(b.sweep("b", 60).await.unwrap().is_none());
    clock.advance(30);
    assert!(
        a.sweep("a", 60).await.unwrap().is_some(),
        "the holder renews"
    );
    clock.advance(59);
    assert!(b.sweep("b", 60).await.unwrap().is_none());
    clock.advance(1);
    assert!(
        b.sweep("b", 60).await.unwrap().is_some(),
        "taken over once the lease ended"
    );
    assert!(a.sweep("a", 60).await.unwrap().is_none());
}

/// A stored section that no longer reads back is ignored (the organization inherits it) rather
/// than failing the organization: its policy, logins and sweep keep working, and the sweep still
/// reaches the organizations after it.
#[tokio::test]
async fn an_unreadable_section_does_not_take_its_organization_down() {
    let store = Arc::new(memory_store().await);
    for id in ["a-broken", "b-fine"] {
        let org = Org {
            id: oid(id),
            name: id.into(),
            created_at: T0,
        };
        store.create_org(&org, draft("org.created")).await.unwrap();
    }
    // A section that no longer validates (as after a careless manual edit).
    store
        .write_section(
            &Owner::Org(oid("a-broken")),
            "lockout",
            &json!({"max_password_attempts": 0}),
            None,
            draft("policy.lockout.changed"),
        )
        .await
        .unwrap();
    let session = portcullis_store::Session {
        id: "s1".into(),
        token_hash: "h1".into(),
        org_id: oid("b-fine"),
        user_id: "u1".into(),
        created_at: T0 - time::Duration::days(400),
        last_used_at: T0 - time::Duration::days(400),
        password_change_only: false,
        stage: portcullis_store::SessionStage::Full,
        client_ip: None,
        user_agent: None,
    };
    store.create_session(&session, Vec::new()).await.unwrap();
    // And one that is not JSON the reader accepts (as the SQL stores hand it over).
    store
        .write_section(
            &Owner::Org(oid("a-broken")),
            "features",
            &serde_json::Value::Null,
            None,
            draft("policy.features.changed"),
        )
        .await
        .unwrap();
    let here = service(store.clone());
    let policy = here.effective_policy("a-broken").await.unwrap();
    assert_eq!(policy.lockout.value.max_password_attempts, 10);
    assert!(policy.section_meta(SectionKind::Lockout).0, "inherited");
    assert!(policy.section_meta(SectionKind::Features).0, "inherited");
    let report = here.sweep("me", 60).await.unwrap().unwrap();
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(
        report.sessions_deleted, 1,
        "the next organization was swept: {report:?}"
    );
}

/// An access key is never a bearer credential: even a record whose stored digest matches a
/// presented token is refused by bearer authentication and by the client-credentials
/// exchange, because it carries a sealed secret. The same record without one is accepted.
#[tokio::test]
async fn a_key_with_a_sealed_secret_never_authenticates_as_a_bearer() {
    let store = Arc::new(memory_store().await);
    let org = Org {
        id: oid("acme"),
        name: "Acme".into(),
        created_at: T0,
    };
    store.create_org(&org, draft("org.created")).await.unwrap();
    let service = service(store.clone());
    let token = "pck_presented-token";
    let key = |id: &str, sealed: Option<&str>| portcullis_store::ApiKey {
        id: id.into(),
        token_hash: portcullis_service::token_hash(&format!("{token}-{id}")),
        org_id: Some(oid("acme")),
        user_id: None,
        name: id.into(),
        roles: vec![portcullis_store::Role::OrgAdmin],
        created_at: T0,
        expires_at: None,
        sealed_secret: sealed.map(str::to_owned),
        parent_id: None,
    };
    store
        .create_api_key(
            &key("PCAKSEALED", Some("v1.00")),
            draft("access_key.created"),
        )
        .await
        .unwrap();
    store
        .create_api_key(&key("key_plain", None), draft("api_key.created"))
        .await
        .unwrap();
    let ctx = portcullis_service::Context::new("test", None);
    let sealed_token = format!("{token}-PCAKSEALED");
    assert!(matches!(
        service.authenticate(&sealed_token).await,
        Err(portcullis_service::ServiceError::Unauthenticated)
    ));
    assert!(matches!(
        service
            .exchange_client_credentials(&ctx, "PCAKSEALED", &sealed_token)
            .await,
        Err(portcullis_service::ServiceError::Unauthenticated)
    ));
    let plain_token = format!("{token}-key_plain");
    assert!(service.authenticate(&plain_token).await.is_ok());
    let issued = service
        .exchange_client_credentials(&ctx, "key_plain", &plain_token)
        .await
        .unwrap();
    assert!(service.authenticate(&issued.access_token).await.is_ok());
}
