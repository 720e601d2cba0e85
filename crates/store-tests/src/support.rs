//! Builders and helpers shared by the cases: fixed timestamps, records with every field filled,
//! event drafts, and readers that fetch whole event streams.
//!
//! Invariant: everything here is deterministic (no clock, no randomness), with whole-second
//! timestamps, so a database adapter reads back exactly what was written.

use portcullis_engine::counter::CounterEvent;
use portcullis_model::{OrgId, Timestamp};
use portcullis_store::{
    ApiKey, Event, EventDraft, MAX_PAGE, Org, Owner, Page, Role, SectionRow, Session, Store, User,
};
use serde_json::json;
use time::Duration;
use time::macros::datetime;

/// The instant every case starts from.
pub const T0: Timestamp = datetime!(2026-11-23 09:00 UTC);

/// An organization id for a test (panics on an invalid one: a test's ids are fixed).
pub fn oid(id: &str) -> OrgId {
    OrgId::parse(id, "org_id").expect("a valid organization id")
}

/// `T0` plus `seconds`.
pub fn at(seconds: i64) -> Timestamp {
    T0 + Duration::seconds(seconds)
}

/// An event draft of `kind` for `org` (`None`: instance), at `T0 + seconds`, with a payload
/// that names it.
pub fn draft(org: Option<&str>, kind: &str, seconds: i64) -> EventDraft {
    EventDraft {
        org_id: org.map(oid),
        kind: kind.to_owned(),
        actor: "key:k-test".to_owned(),
        request_id: Some(format!("req-{kind}-{seconds}")),
        at: at(seconds),
        payload: json!({ "kind": kind, "n": seconds, "nested": { "list": [1, "two", null] } }),
        mail: None,
    }
}

/// The event draft an owner's section write records (`None` org for the instance).
pub fn section_draft(owner: &Owner, section: &str, seconds: i64) -> EventDraft {
    draft(
        owner.org_id().map(|org| org.as_str()),
        &format!("policy.{section}.changed"),
        seconds,
    )
}

/// The event draft a counter transition records (`account.locked`, `account.unlocked`, ...).
pub fn counter_draft(org: &str, event: CounterEvent, at: Timestamp) -> EventDraft {
    let (kind, payload) = match event {
        CounterEvent::Locked(lock) => (
            "account.locked",
            json!({ "since": lock.since.unix_timestamp(), "until": lock.until.map(|u| u.unix_timestamp()) }),
        ),
        CounterEvent::LockExpired(lock) => (
            "account.lock_expired",
            json!({ "since": lock.since.unix_timestamp() }),
        ),
        CounterEvent::Unlocked(lock) => (
            "account.unlocked",
            json!({ "since": lock.since.unix_timestamp() }),
        ),
        CounterEvent::ReservationExpired { id } => {
            ("account.reservation_expired", json!({ "reservation": id }))
        }
    };
    EventDraft {
        org_id: Some(oid(org)),
        kind: kind.to_owned(),
        actor: "system".to_owned(),
        request_id: None,
        at,
        payload,
        mail: None,
    }
}

/// An organization created at `T0`.
pub fn org(id: &str) -> Org {
    Org {
        id: oid(id),
        name: format!("Organization {id}"),
        created_at: T0,
    }
}

/// A user with every optional field filled, so a lost column shows.
pub fn user(org: &str, id: &str, login: &str) -> User {
    User {
        id: id.to_owned(),
        org_id: oid(org),
        login: login.to_owned(),
        login_key: login.trim().to_lowercase(),
        email: Some(format!("{id}@example.test")),
        display_name: Some(format!("User {login}")),
        source: Some("ldap".to_owned()),
        roles: vec![Role::OrgAuditor, Role::Member],
        disabled: false,
        password_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${id}-h0")),
        password_history: vec![format!("{id}-old-1"), format!("{id}-old-2")],
        password_changed_at: Some(at(-86_400)),
        password_set_by_admin: true,
        created_at: at(-172_800),
        updated_at: at(-86_400),
        last_login_at: Some(at(-3_600)),
        last_login_ip: Some("192.0.2.10".to_owned()),
        verification_pending: true,
        password_expired_at: None,
    }
}

/// A user with every optional field empty.
pub fn bare_user(org: &str, id: &str, login: &str) -> User {
    User {
        email: None,
        display_name: None,
        source: None,
        roles: Vec::new(),
        password_hash: None,
        password_history: Vec::new(),
        password_changed_at: None,
        password_set_by_admin: false,
        last_login_at: None,
        last_login_ip: None,
        verification_pending: false,
        created_at: T0,
        updated_at: T0,
        ..user(org, id, login)
    }
}

/// A session of `user` in `org` whose token hash derives from `id`.
pub fn session(org: &str, user: &str, id: &str) -> Session {
    Session {
        id: id.to_owned(),
        token_hash: token_hash("session", id),
        org_id: oid(org),
        user_id: user.to_owned(),
        created_at: at(10),
        last_used_at: at(20),
        password_change_only: false,
        stage: portcullis_store::SessionStage::Full,
        client_ip: Some("192.0.2.10".to_owned()),
        user_agent: Some(format!("conformance/1.0 ({id})")),
    }
}

/// An API key of `org` (`None`: instance) whose token hash derives from `id`.
pub fn api_key(org: Option<&str>, user: Option<&str>, id: &str) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        token_hash: token_hash("key", id),
        org_id: org.map(oid),
        user_id: user.map(str::to_owned),
        name: format!("key {id}"),
        roles: vec![Role::OrgAdmin, Role::OrgAuditor],
        created_at: at(30),
        expires_at: Some(at(86_400 * 30)),
        sealed_secret: None,
        parent_id: None,
    }
}

/// A 64-hex-digit stand-in for a SHA-256 digest, distinct per `(kind, id)`.
pub fn token_hash(kind: &str, id: &str) -> String {
    let hex: String = format!("{kind}:{id}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(hex.len() <= 64, "id too long for a token hash: {id}");
    format!("{hex:0>64}")
}

/// A page of at most `limit` items after `after`.
pub fn page(after: Option<&str>, limit: u32) -> Page {
    Page {
        after: after.map(str::to_owned),
        limit,
    }
}

/// Every event of `org` (`None`: instance), oldest first, fetched page by page.
pub async fn events_of(store: &dyn Store, org: Option<&str>) -> Vec<Event> {
    let mut all: Vec<Event> = Vec::new();
    loop {
        let after = all.last().map_or(0, |e| e.sequence);
        let org = org.map(oid);
        let batch = store
            .list_events(org.as_ref(), after, MAX_PAGE)
            .await
            .unwrap();
        assert!(
            batch.len() <= MAX_PAGE as usize,
            "more than a page of events"
        );
        assert!(
            batch.iter().all(|e| e.sequence > after),
            "list_events answered events at or before the cursor {after}"
        );
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

/// The kinds of `events`, in order.
pub fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// The ids of `items`, in order.
pub fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|item| id(item).to_owned()).collect()
}

/// The rows of `owner`, sorted by section name (the port promises no order).
pub async fn sections_of(store: &dyn Store, owner: &Owner) -> Vec<SectionRow> {
    let mut rows = store.load_sections(owner).await.unwrap();
    rows.sort_by(|a, b| a.section.cmp(&b.section));
    rows
}

/// Asserts that `events` have strictly increasing sequences, all above 0.
pub fn assert_strictly_increasing(events: &[Event]) {
    let mut last = 0;
    for event in events {
        assert!(
            event.sequence > last,
            "sequence {} of `{}` does not follow {last}",
            event.sequence,
            event.kind
        );
        last = event.sequence;
    }
}
