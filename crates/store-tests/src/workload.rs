//! A store seeded with enough rows that a query planner prefers its indexes, and one call of
//! every method of the port with the arguments the service passes: the workload under which the
//! adapters capture the statements they run and check each one's plan (see [`crate::plans`]).
//!
//! Invariants: everything is deterministic (fixed timestamps from [`T0`], fixed ids); every call
//! succeeds (a failure is a bug of the workload, reported by a panic); every statement form the
//! store builds is reached at least once (both arms of `Option` cursors, one and two key
//! prefixes, instance and organization lists, the deletes of the sweep).

use portcullis_engine::counter::{CounterState, Lock};
use portcullis_engine::ip_block::parse_source;
use portcullis_model::Timestamp;
use portcullis_store::{
    ApiKey, BulkChange, CounterChange, DueCounter, EventDraft, ExpiryTarget, FactorCondition,
    IpDenial, LoginRecord, MailDraft, MailOutcome, MfaFactor, Owner, PasswordUpdate, Role,
    SectionChange, Session, SessionStage, Store, User, UserProfile,
};
use serde_json::json;

use crate::support::{T0, at, oid, org, page, token_hash};

/// How many rows [`seed`] writes.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    /// Organizations (`plan-org-00`, `plan-org-01`, ...); at least 3.
    pub orgs: usize,
    /// Users of each organization.
    pub users_per_org: usize,
    /// Lockout counters of each organization (one in 25 locked), plus one address counter in
    /// ten.
    pub counters_per_org: usize,
    /// Events of each organization besides the ones the seeding writes.
    pub events_per_org: usize,
}

impl Size {
    /// Rows enough for a planner's statistics to tell a selective index from a wide one: many
    /// organizations of a few dozen users each, as on an instance with many tenants.
    pub const PLANNER: Size = Size {
        orgs: 40,
        users_per_org: 50,
        counters_per_org: 100,
        events_per_org: 60,
    };
}

/// The organization id of seeded organization `n`.
pub fn org_id(n: usize) -> String {
    format!("plan-org-{n:02}")
}

/// The organization the workload reads and changes (seeded, with every kind of row).
const ORG: &str = "plan-org-01";
/// The organization whose locks and denials the workload clears at once.
const CLEARED: &str = "plan-org-02";

fn user_id(org: &str, n: usize) -> String {
    format!("usr_{org}_{n:05}")
}

fn login(n: usize) -> String {
    format!("User{n:05}")
}

fn login_key(n: usize) -> String {
    login(n).to_lowercase()
}

fn event(org: Option<&str>, kind: &str, at: Timestamp) -> EventDraft {
    EventDraft {
        org_id: org.map(oid),
        kind: kind.to_owned(),
        actor: "system".to_owned(),
        request_id: None,
        at,
        payload: json!({ "kind": kind }),
        mail: None,
    }
}

fn user(org: &str, n: usize) -> User {
    User {
        id: user_id(org, n),
        org_id: oid(org),
        login: login(n),
        login_key: login_key(n),
        email: Some(format!("user{n}@{org}.example.test")),
        display_name: None,
        source: None,
        roles: vec![Role::Member],
        disabled: false,
        password_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${n}")),
        password_history: Vec::new(),
        password_changed_at: Some(T0),
        password_set_by_admin: true,
        created_at: T0,
        updated_at: T0,
        last_login_at: None,
        last_login_ip: None,
        verification_pending: n.is_multiple_of(7),
        password_expired_at: None,
    }
}

fn session(org: &str, user: &str, id: &str, stage: SessionStage) -> Session {
    Session {
        id: id.to_owned(),
        token_hash: token_hash("s", id),
        org_id: oid(org),
        user_id: user.to_owned(),
        created_at: at(10),
        last_used_at: at(20),
        password_change_only: false,
        stage,
        client_ip: None,
        user_agent: None,
    }
}

fn api_key(org: Option<&str>, user: Option<&str>, id: &str) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        token_hash: token_hash("k", id),
        org_id: org.map(oid),
        user_id: user.map(str::to_owned),
        name: format!("key {id}"),
        roles: vec![Role::OrgAdmin],
        created_at: T0,
        expires_at: Some(at(86_400)),
        sealed_secret: None,
        parent_id: None,
    }
}

fn mail(to: &str, dedupe: &str) -> MailDraft {
    MailDraft {
        kind: "password_expiring".to_owned(),
        recipient: to.to_owned(),
        subject: "Your password expires".to_owned(),
        body: "Change it.".to_owned(),
        token_claims: None,
        dedupe_key: Some(dedupe.to_owned()),
    }
}

fn denial(org: &str, network: &str, until: Option<Timestamp>) -> IpDenial {
    IpDenial {
        org_id: oid(org),
        network: parse_source(network).expect("a valid network"),
        created_at: T0,
        until,
        actor: "key:plan".to_owned(),
    }
}

/// A counter state with `failures` counted since `T0`, locked when `locked`.
fn counted(failures: u32, locked: bool) -> CounterState {
    CounterState {
        failures,
        window_started_at: Some(T0),
        lock: locked.then_some(Lock {
            since: at(5),
            until: Some(at(905)),
        }),
        reservations: Vec::new(),
        series_locks: 0,
        series_ends_at: None,
    }
}

/// Stores `state` under (`org`, `key`) as a transition does.
async fn put_counter(
    store: &dyn Store,
    org: &str,
    key: &str,
    state: &CounterState,
    login_key: Option<String>,
) {
    let due_at = match state.lock {
        Some(lock) => lock.until,
        None => Some(at(30 * 86_400)),
    };
    let label = login_key.clone();
    store
        .update_counter(&oid(org), key, &mut |stored: &mut CounterState| {
            *stored = state.clone();
            CounterChange {
                events: Vec::new(),
                due_at,
                login_key: login_key.clone(),
                label: label.clone(),
            }
        })
        .await
        .expect("a seeded counter");
}

/// Writes `size` rows of every kind, then refreshes the planner's statistics as a sweep does.
pub async fn seed(store: &dyn Store, size: Size) {
    assert!(size.orgs >= 3, "the workload reads organizations 1 and 2");
    for o in 0..size.orgs {
        let name = org_id(o);
        let org_name = name.as_str();
        store
            .create_org(&org(org_name), event(None, "org.created", T0))
            .await
            .unwrap();
        store
            .write_section(
                &Owner::Org(oid(org_name)),
                "lockout",
                &json!({ "max_password_attempts": 5 }),
                None,
                event(Some(org_name), "policy.changed", T0),
            )
            .await
            .unwrap();
        for n in 0..size.users_per_org {
            let u = user(org_name, n);
            store
                .create_user(&u, event(Some(org_name), "user.created", T0))
                .await
                .unwrap();
            if n.is_multiple_of(4) {
                let id = format!("ses_{org_name}_{n:05}");
                let s = session(org_name, &u.id, &id, SessionStage::Full);
                store.create_session(&s, Vec::new()).await.unwrap();
            }
            if n.is_multiple_of(25) {
                let id = format!("key_{org_name}_{n:05}");
                let key = api_key(Some(org_name), Some(&u.id), &id);
                store
                    .create_api_key(&key, event(Some(org_name), "key.created", T0))
                    .await
                    .unwrap();
            }
            if n.is_multiple_of(20) {
                let factor = MfaFactor {
                    org_id: oid(org_name),
                    user_id: u.id.clone(),
                    secret_sealed: format!("sealed-{n}"),
                    confirmed_at: Some(T0),
                    last_step: 1,
                    recovery_codes: vec!["code-a".to_owned(), "code-b".to_owned()],
                    created_at: T0,
                };
                store
                    .put_mfa_factor(
                        &factor,
                        FactorCondition::NotConfirmed,
                        event(Some(org_name), "mfa.enrolled", T0),
                    )
                    .await
                    .unwrap();
            }
        }
        for n in 0..size.counters_per_org {
            let state = counted(1 + (n % 4) as u32, n.is_multiple_of(25));
            let key = format!("password|{}|", login_key(n));
            put_counter(store, org_name, &key, &state, Some(login_key(n))).await;
            if n.is_multiple_of(10) {
                let key = format!("ip|198.51.{}.{}", n / 250, n % 250);
                put_counter(
                    store,
                    org_name,
                    &key,
                    &counted(2, n.is_multiple_of(50)),
                    None,
                )
                .await;
            }
        }
        for n in 0..20_i64 {
            let until = (n % 2 == 0).then(|| at(60 * (n - 10)));
            let network = format!("10.{o}.{n}.0/24");
            store
                .put_ip_denial(
                    &denial(org_name, &network, until),
                    event(Some(org_name), "ip.denied", T0),
                )
                .await
                .unwrap();
        }
        for n in 0..10 {
            let mut reminder = event(Some(org_name), "password.expiring", at(n));
            reminder.mail = Some(mail(
                &format!("user{n}@{org_name}.example.test"),
                &format!("expiring-{n}"),
            ));
            assert!(store.queue_mail_once(reminder).await.unwrap());
        }
        let events: Vec<EventDraft> = (0..size.events_per_org)
            .map(|n| {
                let kind = ["login.failed", "login.succeeded", "account.locked"][n % 3];
                event(Some(org_name), kind, at(n as i64))
            })
            .collect();
        for batch in events.chunks(200) {
            store.append_events(batch.to_vec()).await.unwrap();
        }
    }
    // Most mails are sent: the outbox's backlog is a small part of it.
    loop {
        let claimed = store.claim_mail(at(60), at(90), 500).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        for mail in claimed.iter().filter(|mail| !mail.id.is_multiple_of(5)) {
            store
                .finish_mail(mail.id, mail.attempts, &MailOutcome::Sent(at(61)))
                .await
                .unwrap();
        }
    }
    for n in 0..3 {
        let key = api_key(None, None, &format!("key_instance_{n}"));
        store
            .create_api_key(&key, event(None, "key.created", T0))
            .await
            .unwrap();
    }
    store.refresh_statistics().await.unwrap();
}

/// Calls every method of the port on the seeded store, with the arguments the service passes.
pub async fn exercise(store: &dyn Store) {
    let o = oid(ORG);
    let now = at(120);
    store.ping().await.unwrap();
    organizations_and_policies(store).await;
    users(store).await;

    // Counters: a login's transition, a sweep's pages, the lists of locks and their clear.
    let key = format!("password|{}|", login_key(3));
    store.get_counter(&o, &key).await.unwrap();
    put_counter(store, ORG, &key, &counted(4, false), Some(login_key(3))).await;
    put_counter(store, ORG, "password|nobody|", &counted(1, false), None).await;
    store
        .update_counter(&o, "password|nobody|", &mut |state: &mut CounterState| {
            *state = CounterState::default();
            CounterChange::default()
        })
        .await
        .unwrap();
    let due = store.due_counters(&o, at(40 * 86_400), None).await.unwrap();
    let last = due.last().cloned().unwrap_or(DueCounter {
        due_at: now,
        key: String::new(),
    });
    store.due_counters(&o, now, Some(&last)).await.unwrap();
    let prefix = format!("password|{}|", login_key(1));
    store.counter_keys(&o, &prefix, None).await.unwrap();
    store
        .counter_keys(&o, &prefix, Some(&prefix))
        .await
        .unwrap();
    let both = vec!["otp|".to_owned(), "password|".to_owned()];
    let password = vec!["password|user0".to_owned()];
    store.locked_counters(&o, &both, None, 500).await.unwrap();
    store
        .locked_counters(&o, &password, Some("password|user00100|"), 50)
        .await
        .unwrap();
    store.locked_logins(&o, &[login_key(0)], now).await.unwrap();
    let page_of_logins: Vec<String> = (0..50).map(login_key).collect();
    store.locked_logins(&o, &page_of_logins, now).await.unwrap();
    store
        .clear_locks(
            &oid(CLEARED),
            &both,
            Some(now),
            &mut |_: &str, state: &mut CounterState| {
                let counted = state.lock.is_some();
                *state = CounterState::default();
                BulkChange {
                    counted,
                    due_at: None,
                }
            },
            event(Some(CLEARED), "locks.cleared", now),
        )
        .await
        .unwrap();

    denials(store).await;
    sessions_and_keys(store).await;
    second_factors(store).await;
    mail_and_events(store).await;
    store.refresh_statistics().await.unwrap();
}

async fn organizations_and_policies(store: &dyn Store) {
    let o = oid(ORG);
    let owner = Owner::Org(o.clone());
    store.get_org(&o).await.unwrap();
    store.list_orgs(&page(None, 100)).await.unwrap();
    store.list_orgs(&page(Some(ORG), 100)).await.unwrap();
    store.policy_version().await.unwrap();
    store.load_sections(&Owner::Instance).await.unwrap();
    let sections = store.load_sections(&owner).await.unwrap();
    let scope: Vec<(String, u64)> = sections
        .iter()
        .map(|row| (row.section.clone(), row.sequence))
        .collect();
    let change = |section: &str, value| SectionChange {
        section: section.to_owned(),
        value,
        expected_sequence: None,
        event: event(Some(ORG), "policy.changed", at(100)),
    };
    store
        .write_sections_guarded(
            &owner,
            vec![
                change("session", Some(json!({ "idle_timeout": 600 }))),
                change("brute_force", None),
            ],
            Some(&scope),
        )
        .await
        .unwrap();
    let row = store
        .write_section(
            &owner,
            "password",
            &json!({ "min_length": 12 }),
            Some(0),
            event(Some(ORG), "policy.changed", at(101)),
        )
        .await
        .unwrap();
    store
        .delete_section_at(
            &o,
            "password",
            row.sequence,
            event(Some(ORG), "policy.reset", at(102)),
        )
        .await
        .unwrap();
    store
        .delete_section(&o, "session", event(Some(ORG), "policy.reset", at(103)))
        .await
        .unwrap();
}

async fn users(store: &dyn Store) {
    let o = oid(ORG);
    let now = at(120);
    let fresh = User {
        id: "usr_plan_new".to_owned(),
        login: "Newcomer".to_owned(),
        login_key: "newcomer".to_owned(),
        ..user(ORG, 0)
    };
    store
        .create_user(&fresh, event(Some(ORG), "user.created", now))
        .await
        .unwrap();
    store.get_user(&o, &user_id(ORG, 5)).await.unwrap();
    store.find_user_by_login(&o, &login_key(5)).await.unwrap();
    store.find_user_by_login(&o, "nobody").await.unwrap();
    store.list_users(&o, &page(None, 50)).await.unwrap();
    store
        .list_users(&o, &page(Some(&user_id(ORG, 100)), 50))
        .await
        .unwrap();
    store
        .list_locked_users(&o, now, &page(None, 50))
        .await
        .unwrap();
    store
        .list_locked_users(&o, now, &page(Some(&user_id(ORG, 10)), 50))
        .await
        .unwrap();
    let profile = UserProfile {
        email: Some("moved@example.test".to_owned()),
        display_name: Some("Moved".to_owned()),
        source: None,
        roles: vec![Role::Member],
        disabled: true,
    };
    store
        .update_user_profile(
            &o,
            &user_id(ORG, 4),
            &profile,
            now,
            event(Some(ORG), "user.changed", now),
        )
        .await
        .unwrap();
    let update = PasswordUpdate {
        hash: "$argon2id$v=19$m=19456,t=2,p=1$salt$new".to_owned(),
        keep_history: 5,
        changed_at: now,
        set_by_admin: false,
        expected_hash: None,
    };
    let with_sessions = user_id(ORG, 8);
    store
        .set_password(
            &o,
            &with_sessions,
            &update,
            true,
            Some(&format!("ses_{ORG}_00008")),
            vec![event(Some(ORG), "password.changed", now)],
        )
        .await
        .unwrap();
    store
        .set_password(&o, &user_id(ORG, 9), &update, false, None, Vec::new())
        .await
        .unwrap();
    store
        .confirm_email(
            &o,
            &user_id(ORG, 7),
            &format!("user7@{ORG}.example.test"),
            now,
            event(Some(ORG), "email.verified", now),
        )
        .await
        .unwrap();
    store
        .verified_email_taken(&o, &format!("user7@{ORG}.example.test"))
        .await
        .unwrap();
    assert!(
        store
            .delete_user(&o, &user_id(ORG, 12), event(Some(ORG), "user.deleted", now))
            .await
            .unwrap()
    );
    for target in [
        ExpiryTarget::User(user_id(ORG, 13)),
        ExpiryTarget::ChangedBefore(at(60)),
        ExpiryTarget::All,
    ] {
        store
            .expire_passwords(&o, &target, now, event(Some(ORG), "passwords.expired", now))
            .await
            .unwrap();
    }
}

async fn denials(store: &dyn Store) {
    let o = oid(ORG);
    let now = at(120);
    store
        .put_ip_denial(
            &denial(ORG, "192.0.2.0/24", None),
            event(Some(ORG), "ip.denied", now),
        )
        .await
        .unwrap();
    store
        .delete_ip_denial(&o, "10.1.3.0/24", event(Some(ORG), "ip.undenied", now))
        .await
        .unwrap();
    store.list_ip_denials(&o, None, false, 50).await.unwrap();
    store
        .list_ip_denials(&o, Some("10.1.5.0/24"), true, 50)
        .await
        .unwrap();
    store.delete_ended_ip_denials(&o, now).await.unwrap();
    let address = "10.1.7.9".parse().expect("an address");
    store.matching_ip_denial(&o, address, now).await.unwrap();
    // What a login reads before it reserves: the denial, the address's and the login's counters.
    store
        .attempt_gate(
            &o,
            Some(address),
            now,
            [
                Some("ip|10.1.7.9"),
                Some(&format!("password|{}|", login_key(3))),
            ],
        )
        .await
        .unwrap();
}

async fn sessions_and_keys(store: &dyn Store) {
    let o = oid(ORG);
    let now = at(120);
    let owner = user_id(ORG, 16);
    let fresh = session(ORG, &owner, "ses_plan_new", SessionStage::Full);
    store.create_session(&fresh, Vec::new()).await.unwrap();
    let login = LoginRecord {
        verified_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${}", 16),
        ip: "192.0.2.1".to_owned(),
        rehash: None,
    };
    let opened = session(ORG, &owner, "ses_plan_login", SessionStage::Full);
    store
        .open_login_session(
            &opened,
            &login,
            vec![event(Some(ORG), "login.succeeded", now)],
        )
        .await
        .unwrap();
    // A login's completion and its session, in one transaction.
    let completed = session(ORG, &owner, "ses_plan_completed", SessionStage::Full);
    let lock_key = format!("password|{}|", login_key(16));
    store
        .complete_login(
            &lock_key,
            &mut |state: &mut CounterState| {
                *state = CounterState::default();
                (CounterChange::default(), true)
            },
            &completed,
            &login,
            vec![event(Some(ORG), "login.succeeded", now)],
        )
        .await
        .unwrap();
    store.find_session(&fresh.token_hash).await.unwrap();
    store.touch_session(&fresh.id, now).await.unwrap();
    store
        .list_user_sessions(&o, &owner, &page(None, 50))
        .await
        .unwrap();
    store
        .list_user_sessions(&o, &owner, &page(Some("ses_plan"), 50))
        .await
        .unwrap();
    store
        .delete_session(&fresh.id, event(Some(ORG), "session.ended", now))
        .await
        .unwrap();
    store
        .delete_user_session(
            &o,
            &owner,
            &opened.id,
            event(Some(ORG), "session.revoked", now),
        )
        .await
        .unwrap();
    store
        .end_user_sessions(
            &o,
            &owner,
            Some(&completed.id),
            event(Some(ORG), "sessions.ended", now),
        )
        .await
        .unwrap();
    store
        .end_user_sessions(&o, &owner, None, event(Some(ORG), "sessions.ended", now))
        .await
        .unwrap();
    store
        .end_org_sessions(
            &o,
            Some("ses_plan_kept"),
            event(Some(ORG), "org.sessions_ended", now),
        )
        .await
        .unwrap();
    store
        .delete_expired_sessions(&o, at(15), Some(at(15)))
        .await
        .unwrap();
    store
        .delete_expired_sessions(&o, at(15), None)
        .await
        .unwrap();

    let key = api_key(Some(ORG), Some(&owner), "key_plan_new");
    store
        .create_api_key(&key, event(Some(ORG), "key.created", now))
        .await
        .unwrap();
    store.find_api_key(&key.token_hash).await.unwrap();
    store
        .list_api_keys(Some(&o), &page(None, 50))
        .await
        .unwrap();
    store
        .list_api_keys(Some(&o), &page(Some("key_plan"), 50))
        .await
        .unwrap();
    store.list_api_keys(None, &page(None, 50)).await.unwrap();
    store
        .list_user_api_keys(&o, &owner, &page(None, 50))
        .await
        .unwrap();
    store.get_api_key(&o, &key.id).await.unwrap();
    store
        .delete_api_key(&o, &key.id, event(Some(ORG), "key.deleted", now))
        .await
        .unwrap();
    store.has_instance_key().await.unwrap();
    store.get_instance_key("key_instance_0").await.unwrap();
    store
        .delete_instance_key("key_instance_0", event(None, "key.deleted", now))
        .await
        .unwrap();
    store.delete_expired_api_keys(&o, now).await.unwrap();
    store
        .delete_expired_issued_instance_keys(now)
        .await
        .unwrap();
}

async fn second_factors(store: &dyn Store) {
    let o = oid(ORG);
    let now = at(120);
    let owner = user_id(ORG, 20);
    let current = store
        .get_mfa_factor(&o, &owner)
        .await
        .unwrap()
        .expect("a seeded factor");
    let renewed = MfaFactor {
        last_step: 2,
        ..current
    };
    store
        .put_mfa_factor(
            &renewed,
            FactorCondition::Present,
            event(Some(ORG), "mfa.changed", now),
        )
        .await
        .unwrap();
    store.use_mfa_step(&o, &owner, 3).await.unwrap();
    store
        .use_recovery_code(&o, &owner, "code-a", event(Some(ORG), "mfa.recovery", now))
        .await
        .unwrap();
    let challenge = session(ORG, &owner, "ses_plan_mfa", SessionStage::MfaChallenge);
    store.create_session(&challenge, Vec::new()).await.unwrap();
    store
        .complete_mfa_challenge(
            &challenge.id,
            &token_hash("s", "ses_plan_mfa_full"),
            now,
            vec![event(Some(ORG), "login.succeeded", now)],
        )
        .await
        .unwrap();
    store
        .try_lease("sweep", "replica-plan", now, at(300))
        .await
        .unwrap();
}

async fn mail_and_events(store: &dyn Store) {
    let o = oid(ORG);
    let now = at(120);
    let mut reminder = event(Some(ORG), "password.expiring", now);
    reminder.mail = Some(mail("late@example.test", "expiring-late"));
    store.queue_mail_once(reminder).await.unwrap();
    let mut reset = event(Some(ORG), "password_reset.requested", now);
    reset.mail = Some(MailDraft {
        dedupe_key: None,
        ..mail("reset@example.test", "unused")
    });
    store
        .append_event_mail_once(reset, "reset-window-1")
        .await
        .unwrap();
    store.outbox_backlog().await.unwrap();
    store.list_outbox(&o, &page(None, 50)).await.unwrap();
    store.list_outbox(&o, &page(Some("3"), 50)).await.unwrap();
    let claimed = store.claim_mail(now, at(180), 10).await.unwrap();
    let outcomes = [
        MailOutcome::Sent(now),
        MailOutcome::Failed {
            retry_at: at(600),
            error: "refused".to_owned(),
        },
        MailOutcome::GaveUp {
            at: now,
            error: "expired".to_owned(),
        },
    ];
    for (mail, outcome) in claimed.iter().zip(&outcomes) {
        store
            .finish_mail(mail.id, mail.attempts, outcome)
            .await
            .unwrap();
    }

    store
        .append_events(vec![event(None, "instance.note", now)])
        .await
        .unwrap();
    let first = store.list_events(Some(&o), 0, 50).await.unwrap();
    let after = first.last().map_or(0, |e| e.sequence);
    store.list_events(Some(&o), after, 50).await.unwrap();
    store.list_events(None, 0, 50).await.unwrap();
    let kinds = ["login.failed", "account.locked", "ip.blocked"];
    let since = store
        .list_events_since(&o, &kinds, T0, None, 100)
        .await
        .unwrap();
    let cursor = since.last().map(|e| (e.at, e.sequence));
    store
        .list_events_since(&o, &kinds, T0, cursor, 100)
        .await
        .unwrap();
    store.delete_events_before(at(30), 100).await.unwrap();
}
