//! Enforcement state: counters that hold a lock are listed by key ranges with what lists them
//! (login key, label), read by login key and through their users, cleared all at once in one
//! transaction with one counted event (concurrent transitions are not lost), and the denylist of
//! addresses and networks is kept, matched by containment, listed and lifted — per organization.

use std::sync::Arc;

use portcullis_engine::counter::{CounterLimits, CounterState, Lock};
use portcullis_store::{BulkChange, CounterChange, IpDenial, Store};

use crate::support::{at, draft, events_of, kinds, oid, page, user};

/// Stores `state` under `key` of `org` with its login key and label.
async fn put(
    store: &dyn Store,
    org: &str,
    key: &str,
    state: CounterState,
    login_key: Option<&str>,
    label: Option<&str>,
) {
    let mut update = |s: &mut CounterState| {
        *s = state.clone();
        CounterChange {
            login_key: login_key.map(str::to_owned),
            label: label.map(str::to_owned),
            ..CounterChange::default()
        }
    };
    store
        .update_counter(&oid(org), key, &mut update)
        .await
        .unwrap();
}

fn locked(failures: u32, until: Option<i64>) -> CounterState {
    CounterState {
        failures,
        window_started_at: Some(at(0)),
        lock: Some(Lock {
            since: at(10),
            until: until.map(at),
        }),
        reservations: Vec::new(),
        series_locks: 0,
        series_ends_at: None,
    }
}

fn counting(failures: u32) -> CounterState {
    CounterState {
        failures,
        window_started_at: Some(at(0)),
        ..CounterState::default()
    }
}

/// Locked counters are listed in key order within the asked prefixes, with their state, login
/// key and label; open counters and other organizations' are not; a later write keeps the
/// label when it brings none; `locked_logins` finds a login's locks that end after `now`;
/// `list_locked_users` lists the users with such a lock.
pub async fn locked_counters_are_listed_by_prefix_and_login(store: Arc<dyn Store>) {
    let s = &*store;
    for org in ["la", "lb"] {
        store
            .create_org(
                &crate::support::org(org),
                draft(Some(org), "org.created", 0),
            )
            .await
            .unwrap();
    }
    put(
        s,
        "la",
        "password|alice|",
        locked(3, Some(900)),
        Some("alice"),
        Some("Alice"),
    )
    .await;
    put(
        s,
        "la",
        "password|alison|10.0.0.1",
        locked(3, None),
        Some("alison"),
        None,
    )
    .await;
    put(
        s,
        "la",
        "password|bob|",
        counting(2),
        Some("bob"),
        Some("bob"),
    )
    .await;
    put(
        s,
        "la",
        "otp|alice|",
        locked(5, Some(100)),
        Some("alice"),
        Some("ALICE"),
    )
    .await;
    put(s, "la", "ip|10.0.0.1", locked(10, Some(3600)), None, None).await;
    put(
        s,
        "lb",
        "password|alice|",
        locked(3, None),
        Some("alice"),
        Some("alice@b"),
    )
    .await;

    let list = |prefixes: Vec<&str>, after: Option<&'static str>, limit| {
        let prefixes: Vec<String> = prefixes.into_iter().map(str::to_owned).collect();
        let store = Arc::clone(&store);
        async move {
            store
                .locked_counters(&oid("la"), &prefixes, after, limit)
                .await
                .unwrap()
        }
    };
    let keys = |found: &[portcullis_store::LockedCounter]| {
        found.iter().map(|c| c.key.clone()).collect::<Vec<_>>()
    };
    let all = list(vec!["otp|", "password|"], None, 50).await;
    assert_eq!(
        keys(&all),
        ["otp|alice|", "password|alice|", "password|alison|10.0.0.1"]
    );
    assert_eq!(all[1].state, locked(3, Some(900)));
    assert_eq!(all[1].label.as_deref(), Some("Alice"));
    assert_eq!(all[1].login_key.as_deref(), Some("alice"));
    assert_eq!(all[2].label, None);
    assert_eq!(
        keys(&list(vec!["password|ali"], None, 50).await),
        ["password|alice|", "password|alison|10.0.0.1"]
    );
    assert_eq!(
        keys(&list(vec!["password|"], Some("password|alice|"), 50).await),
        ["password|alison|10.0.0.1"]
    );
    assert_eq!(
        keys(&list(vec!["otp|", "password|"], None, 1).await),
        ["otp|alice|"]
    );
    assert_eq!(keys(&list(vec!["ip|"], None, 50).await), ["ip|10.0.0.1"]);
    assert!(list(vec![], None, 50).await.is_empty());

    // A write without a label keeps the stored one; an unlock takes the counter off the list.
    put(s, "la", "password|alice|", locked(4, Some(900)), None, None).await;
    let again = list(vec!["password|alice|"], None, 50).await;
    assert_eq!(
        (again[0].state.failures, again[0].label.as_deref()),
        (4, Some("Alice"))
    );
    put(s, "la", "password|alison|10.0.0.1", counting(1), None, None).await;
    assert_eq!(
        keys(&list(vec!["password|"], None, 50).await),
        ["password|alice|"]
    );

    // By login key: locks ending after `now` (or never).
    let logins = |keys: Vec<&str>, now: i64| {
        let keys: Vec<String> = keys.into_iter().map(str::to_owned).collect();
        let store = Arc::clone(&store);
        async move {
            let mut found: Vec<String> = store
                .locked_logins(&oid("la"), &keys, at(now))
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.key)
                .collect();
            found.sort();
            found
        }
    };
    assert_eq!(
        logins(vec!["alice", "bob"], 50).await,
        ["otp|alice|", "password|alice|"]
    );
    assert_eq!(logins(vec!["alice", "bob"], 100).await, ["password|alice|"]);
    assert!(logins(vec!["alice"], 900).await.is_empty());
    assert!(logins(vec![], 0).await.is_empty());

    // Users with a lock in force, by id, per organization.
    for (id, login) in [("u1", "bob"), ("u2", "alice"), ("u3", "carol")] {
        store
            .create_user(&user("la", id, login), draft(Some("la"), "user.created", 0))
            .await
            .unwrap();
    }
    store
        .create_user(
            &user("lb", "u9", "alice"),
            draft(Some("lb"), "user.created", 0),
        )
        .await
        .unwrap();
    let users = |now: i64| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_locked_users(&oid("la"), at(now), &page(None, 50))
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(users(50).await, ["u2"]);
    assert!(users(900).await.is_empty());
    let b = store
        .list_locked_users(&oid("lb"), at(50), &page(None, 50))
        .await
        .unwrap();
    assert_eq!(b.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["u9"]);
}

/// A clear-all runs the caller's transition on every locked counter of the prefixes in one
/// transaction and writes one event with the count; counters back at the default are deleted;
/// with nothing to clear it writes nothing; denials go with `denials`; other organizations and
/// prefixes are untouched.
pub async fn clear_locks_is_one_counted_transaction(store: Arc<dyn Store>) {
    let s = &*store;
    put(s, "ca", "password|a|", locked(3, None), Some("a"), None).await;
    put(s, "ca", "otp|b|", locked(3, Some(5000)), Some("b"), None).await;
    put(s, "ca", "password|c|", locked(3, Some(5)), Some("c"), None).await;
    put(s, "ca", "ip|10.0.0.1", locked(9, Some(5000)), None, None).await;
    put(s, "cb", "password|a|", locked(3, None), Some("a"), None).await;
    let denial = IpDenial {
        org_id: oid("ca"),
        network: "10.9.0.0/16".parse().unwrap(),
        created_at: at(0),
        until: None,
        actor: "key:k".into(),
    };
    store
        .put_ip_denial(&denial, draft(Some("ca"), "ip.block_added", 0))
        .await
        .unwrap();
    // An ended denial goes with a clear but is not counted; the sweep's purge deletes only
    // ended ones.
    let ended = |network: &str| IpDenial {
        network: network.parse().unwrap(),
        until: Some(at(50)),
        ..denial.clone()
    };
    for network in ["10.8.0.0/16", "10.7.0.0/16"] {
        store
            .put_ip_denial(&ended(network), draft(Some("ca"), "ip.block_added", 0))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .delete_ended_ip_denials(&oid("ca"), at(49))
            .await
            .unwrap(),
        0
    );
    store
        .delete_ip_denial(
            &oid("ca"),
            "10.7.0.0/16",
            draft(Some("ca"), "ip.unblocked", 0),
        )
        .await
        .unwrap();
    let before = events_of(s, Some("ca")).await.len();

    let now = at(100);
    let mut seen = Vec::new();
    let mut update = |key: &str, state: &mut CounterState| {
        seen.push(key.to_owned());
        let in_force = state.lock_at(now).is_some();
        state.unlock(&CounterLimits::COUNTING_NOTHING, now);
        BulkChange {
            counted: in_force,
            due_at: None,
        }
    };
    let prefixes = vec!["otp|".to_owned(), "password|".to_owned()];
    let cleared = store
        .clear_locks(
            &oid("ca"),
            &prefixes,
            None,
            &mut update,
            draft(Some("ca"), "locks.cleared", 100),
        )
        .await
        .unwrap();
    // `password|c|` ended at 5: unlocked too, but not counted.
    assert_eq!(cleared, 2);
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["otp|b|", "password|a|", "password|c|"]);
    for key in ["password|a|", "otp|b|", "password|c|"] {
        assert_eq!(
            store.get_counter(&oid("ca"), key).await.unwrap(),
            CounterState::default()
        );
    }
    assert!(
        store
            .get_counter(&oid("ca"), "ip|10.0.0.1")
            .await
            .unwrap()
            .lock
            .is_some()
    );
    assert!(
        store
            .get_counter(&oid("cb"), "password|a|")
            .await
            .unwrap()
            .lock
            .is_some()
    );
    let events = events_of(s, Some("ca")).await;
    assert_eq!(events.len(), before + 1);
    let last = events.last().unwrap();
    assert_eq!(last.kind, "locks.cleared");
    assert_eq!(last.payload["count"], 2);

    // Nothing left to clear: no event.
    let again = store
        .clear_locks(
            &oid("ca"),
            &prefixes,
            None,
            &mut |_: &str, _: &mut CounterState| BulkChange::default(),
            draft(Some("ca"), "locks.cleared", 101),
        )
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(events_of(s, Some("ca")).await.len(), before + 1);

    // Address blocks with the denials: both counted.
    let mut unlock = |_: &str, state: &mut CounterState| {
        let in_force = state.lock_at(now).is_some();
        state.unlock(&CounterLimits::COUNTING_NOTHING, now);
        BulkChange {
            counted: in_force,
            due_at: None,
        }
    };
    let cleared = store
        .clear_locks(
            &oid("ca"),
            &["ip|".to_owned()],
            Some(at(102)),
            &mut unlock,
            draft(Some("ca"), "ip_blocks.cleared", 102),
        )
        .await
        .unwrap();
    assert_eq!(cleared, 2);
    assert!(
        store
            .list_ip_denials(&oid("ca"), None, false, 50)
            .await
            .unwrap()
            .is_empty()
    );
    let events = events_of(s, Some("ca")).await;
    assert_eq!(kinds(&events).last(), Some(&"ip_blocks.cleared"));
    assert_eq!(events.last().unwrap().payload["count"], 2);
}

/// The denylist: an entry matches every address it contains (IPv4, IPv6, IPv4-mapped) while
/// in force, the longest-lasting first; a put replaces the entry of the same network; lists
/// page by network text; a delete writes its event only when the entry existed.
pub async fn ip_denials_match_by_containment(store: Arc<dyn Store>) {
    let org = oid("da");
    let deny = |network: &str, until: Option<i64>| IpDenial {
        org_id: oid("da"),
        network: network.parse().unwrap(),
        created_at: at(0),
        until: until.map(at),
        actor: "key:admin".into(),
    };
    assert!(
        store
            .put_ip_denial(
                &deny("10.0.0.0/8", Some(1000)),
                draft(Some("da"), "ip.block_added", 0)
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .put_ip_denial(
                &deny("10.1.0.0/16", None),
                draft(Some("da"), "ip.block_added", 0)
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .put_ip_denial(
                &deny("2001:db8::/32", Some(50)),
                draft(Some("da"), "ip.block_added", 0)
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .put_ip_denial(
                &deny("192.0.2.7/32", Some(60)),
                draft(Some("da"), "ip.block_added", 0)
            )
            .await
            .unwrap()
    );
    let other = IpDenial {
        org_id: oid("db"),
        ..deny("172.16.0.0/12", None)
    };
    store
        .put_ip_denial(&other, draft(Some("db"), "ip.block_added", 0))
        .await
        .unwrap();

    let matching = |ip: &str, now: i64| {
        let store = Arc::clone(&store);
        let ip = ip.parse().unwrap();
        async move {
            let found = store
                .matching_ip_denial(&oid("da"), ip, at(now))
                .await
                .unwrap();
            // An attempt's gate reads the same denial's end in its one statement.
            let gate = store
                .attempt_gate(&oid("da"), Some(ip), at(now), [None, None])
                .await
                .unwrap();
            assert_eq!(
                gate.denial,
                found.as_ref().map(|d| d.until),
                "{ip} at {now}"
            );
            assert_eq!(gate.counters, <[CounterState; 2]>::default());
            found.map(|d| d.label())
        }
    };
    assert_eq!(
        matching("10.2.3.4", 10).await.as_deref(),
        Some("10.0.0.0/8")
    );
    assert_eq!(
        matching("10.1.3.4", 10).await.as_deref(),
        Some("10.1.0.0/16"),
        "the permanent one first"
    );
    assert_eq!(
        matching("::ffff:10.2.3.4", 10).await.as_deref(),
        Some("10.0.0.0/8")
    );
    assert_eq!(matching("10.2.3.4", 1000).await, None, "ended");
    assert_eq!(
        matching("2001:db8:ffff::1", 49).await.as_deref(),
        Some("2001:db8::/32")
    );
    assert_eq!(matching("2001:db9::1", 10).await, None);
    assert_eq!(
        matching("192.0.2.7", 10).await.as_deref(),
        Some("192.0.2.7")
    );
    assert_eq!(matching("192.0.2.8", 10).await, None);
    assert_eq!(
        matching("172.16.0.1", 10).await,
        None,
        "another organization's"
    );
    assert_eq!(matching("11.0.0.0", 10).await, None);
    assert_eq!(matching("9.255.255.255", 10).await, None);

    // The gate looks for no denial when asked for none, and reads the counters it is asked
    // for, in order (a default for one missing).
    let locked = CounterState {
        failures: 3,
        ..CounterState::default()
    };
    store
        .update_counter(&org, "ip|10.1.3.4", &mut |s| {
            *s = locked.clone();
            CounterChange::default()
        })
        .await
        .unwrap();
    let gate = store
        .attempt_gate(&org, None, at(10), [Some("missing"), Some("ip|10.1.3.4")])
        .await
        .unwrap();
    assert_eq!(gate.denial, None);
    assert_eq!(gate.counters, [CounterState::default(), locked.clone()]);
    let gate = store
        .attempt_gate(
            &org,
            Some("10.1.3.4".parse().unwrap()),
            at(10),
            [Some("ip|10.1.3.4"), None],
        )
        .await
        .unwrap();
    assert_eq!(gate.denial, Some(None), "until lifted");
    assert_eq!(gate.counters, [locked, CounterState::default()]);

    // Replace: same network, new end.
    assert!(
        !store
            .put_ip_denial(
                &deny("10.0.0.0/8", None),
                draft(Some("da"), "ip.block_added", 1)
            )
            .await
            .unwrap()
    );
    // Each event says, from its own transaction, whether it replaced a block.
    let replaced: Vec<bool> = events_of(&*store, Some("da"))
        .await
        .iter()
        .map(|e| e.payload["replaced"].as_bool().unwrap())
        .collect();
    assert_eq!(replaced, [false, false, false, false, true]);
    assert_eq!(
        matching("10.2.3.4", 5000).await.as_deref(),
        Some("10.0.0.0/8")
    );

    let labels = |after: Option<&'static str>, inclusive: bool, limit: u32| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_ip_denials(&oid("da"), after, inclusive, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.label())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        labels(None, false, 50).await,
        ["10.0.0.0/8", "10.1.0.0/16", "192.0.2.7", "2001:db8::/32"]
    );
    assert_eq!(
        labels(Some("10.1.0.0/16"), false, 50).await,
        ["192.0.2.7", "2001:db8::/32"]
    );
    assert_eq!(labels(Some("10.1.0.0/16"), true, 1).await, ["10.1.0.0/16"]);
    let found = store.list_ip_denials(&org, None, false, 1).await.unwrap();
    assert_eq!(found[0], deny("10.0.0.0/8", None));

    let before = events_of(&*store, Some("da")).await.len();
    assert!(
        store
            .delete_ip_denial(&org, "10.1.0.0/16", draft(Some("da"), "ip.unblocked", 2))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_ip_denial(&org, "10.1.0.0/16", draft(Some("da"), "ip.unblocked", 3))
            .await
            .unwrap()
    );
    assert_eq!(events_of(&*store, Some("da")).await.len(), before + 1);
    assert_eq!(
        matching("10.1.3.4", 10).await.as_deref(),
        Some("10.0.0.0/8")
    );

    // The purge deletes what ended (2001:db8::/32 at 50, 192.0.2.7 at 60), nothing else.
    assert_eq!(
        store.delete_ended_ip_denials(&org, at(60)).await.unwrap(),
        2
    );
    assert_eq!(labels(None, false, 50).await, ["10.0.0.0/8"]);
}

/// Events of a window are read by time and type, after a (time, sequence) cursor, for one
/// organization.
pub async fn events_since_are_read_by_time_and_type(store: Arc<dyn Store>) {
    let mut drafts = Vec::new();
    for (i, kind) in [
        "login.failed",
        "user.created",
        "account.locked",
        "login.failed",
    ]
    .into_iter()
    .enumerate()
    {
        drafts.push(draft(Some("ea"), kind, 100 * i as i64));
    }
    drafts.push(draft(Some("eb"), "login.failed", 150));
    store.append_events(drafts).await.unwrap();
    let kinds_of = |since: i64, after: Option<(i64, u64)>, limit: u32| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_events_since(
                    &oid("ea"),
                    &["login.failed", "account.locked"],
                    at(since),
                    after.map(|(t, s)| (at(t), s)),
                    limit,
                )
                .await
                .unwrap()
        }
    };
    let all = kinds_of(0, None, 50).await;
    assert_eq!(
        kinds(&all),
        ["login.failed", "account.locked", "login.failed"]
    );
    assert_eq!(
        kinds(&kinds_of(150, None, 50).await),
        ["account.locked", "login.failed"]
    );
    let first = kinds_of(0, None, 1).await;
    let cursor = (0, first[0].sequence);
    assert_eq!(
        kinds(&kinds_of(0, Some(cursor), 50).await),
        ["account.locked", "login.failed"]
    );
    assert!(
        store
            .list_events_since(&oid("ea"), &[], at(0), None, 50)
            .await
            .unwrap()
            .is_empty()
    );
}
