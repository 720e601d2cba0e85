//! One organization on a fresh SQLite `:memory:` store (a pool of one connection: each new
//! connection would open an empty database), a manual clock, and a hasher that counts its
//! verifications, so a test can tell which answers cost a hash.

use std::net::IpAddr;
use std::sync::Arc;

use portcullis_engine::hashing::{CountingHasher, HashParams, Hasher};
use portcullis_model::SectionKind;
use portcullis_service::{
    Caller, Context, LoginAnswer, LoginRequest, ManualClock, MasterKey, NewOrg, NewUser,
    SectionWrite, Service,
};
use portcullis_store::Event;
use serde_json::Value;

pub(crate) const T0: time::OffsetDateTime = time::macros::datetime!(2026-11-23 09:00 UTC);
pub(crate) const ORG: &str = "acme";
/// A password the default policy accepts.
pub(crate) const GOOD: &str = "Plum-Tractor-4417-Quasar";
/// Another one.
pub(crate) const OTHER_GOOD: &str = "Violet-Harbour-2290-Nimbus";
pub(crate) const WRONG: &str = "not the password at all";

pub(crate) struct World {
    pub(crate) service: Service,
    pub(crate) clock: ManualClock,
    pub(crate) admin: Caller,
    pub(crate) ctx: Context,
    hasher: CountingHasher,
}

pub(crate) fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

impl World {
    /// A store with the organization `acme`, and an instance administrator.
    pub(crate) async fn new() -> World {
        let store = portcullis_store_sqlite::open("sqlite::memory:", 1)
            .await
            .unwrap();
        let clock = ManualClock::new(T0);
        let hasher = CountingHasher::new(Hasher::new(HashParams::insecure_for_tests()).unwrap());
        let service = Service::new(
            Arc::new(store),
            Arc::new(clock.clone()),
            Arc::new(hasher.clone()),
            1,
        )
        .with_master_key(MasterKey::generate());
        let token = service.bootstrap(None).await.unwrap().unwrap();
        let admin = service.authenticate(&token).await.unwrap();
        let ctx = Context::new(admin.actor.clone(), None);
        service
            .create_org(
                &admin,
                &ctx,
                NewOrg {
                    id: Some(ORG.into()),
                    name: None,
                },
            )
            .await
            .unwrap();
        World {
            service,
            clock,
            admin,
            ctx,
            hasher,
        }
    }

    /// Password verifications so far.
    pub(crate) fn verifications(&self) -> u64 {
        self.hasher.verifications()
    }

    /// Patches an organization section.
    pub(crate) async fn patch(&self, kind: SectionKind, patch: Value) {
        self.service
            .write_org_section(
                &self.admin,
                &self.ctx,
                ORG,
                kind,
                SectionWrite::Patch(patch),
            )
            .await
            .unwrap();
    }

    /// Changes fields of the organization's default password policy.
    pub(crate) async fn password_policy(&self, changes: Value) {
        let current = self
            .service
            .get_password_policy(&self.admin, ORG, "default")
            .await
            .unwrap();
        let mut body = serde_json::to_value(current).unwrap();
        for (field, value) in changes.as_object().unwrap() {
            body[field] = value.clone();
        }
        self.service
            .replace_password_policy(&self.admin, &self.ctx, ORG, "default", body)
            .await
            .unwrap();
    }

    /// Creates a user with a password; answers its id.
    pub(crate) async fn user(&self, login: &str, password: &str) -> String {
        self.service
            .create_user(
                &self.admin,
                &self.ctx,
                ORG,
                NewUser {
                    login: login.into(),
                    password: Some(password.into()),
                    email: None,
                    display_name: None,
                    source: None,
                    roles: None,
                },
            )
            .await
            .unwrap()
            .id
    }

    pub(crate) async fn login(&self, login: &str, password: &str, from: &str) -> LoginAnswer {
        self.service
            .login(
                &Context::new("anonymous", None),
                ORG,
                LoginRequest {
                    login: login.into(),
                    password: password.into(),
                    ip: ip(from),
                },
            )
            .await
            .unwrap()
    }

    /// The organization's events so far.
    pub(crate) async fn events(&self) -> Vec<Event> {
        self.service
            .list_events(&self.admin, ORG, 0, 1000)
            .await
            .unwrap()
    }

    /// The organization's events after `sequence`, as (type, payload).
    pub(crate) async fn events_after(&self, sequence: u64) -> Vec<(String, Value)> {
        self.service
            .list_events(&self.admin, ORG, sequence, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.payload))
            .collect()
    }

    /// The sequence of the last event so far.
    pub(crate) async fn last_sequence(&self) -> u64 {
        self.events().await.last().map_or(0, |e| e.sequence)
    }
}

/// The types of `events`.
pub(crate) fn types(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(kind, _)| kind.as_str()).collect()
}

/// The session token of a granted login.
pub(crate) fn granted_token(answer: &LoginAnswer) -> String {
    match answer {
        LoginAnswer::Granted(granted) => granted.token.clone(),
        other => panic!("expected a granted login, got {other:?}"),
    }
}
