//! Attempt counters: a missing counter reads as the default; `update_counter` stores the state
//! its closure leaves and records the events it answers, in the same transaction; concurrent
//! updates of one counter serialize exactly (no lost update, no over-granted reservation).

use crate::support::oid;
use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_engine::counter::{
    Attempt, Completion, CounterEvent, CounterLimits, CounterState, Lock, Refusal, Reservation,
};
use portcullis_store::{CounterChange, DueCounter, EventDraft, Store};

use crate::support::{at, counter_draft, draft, events_of, kinds};

/// The lockout key the counter cases use.
const KEY: &str = "password|alice|";

fn drafts(org: &str, events: Vec<CounterEvent>, seconds: i64) -> Vec<EventDraft> {
    events
        .into_iter()
        .map(|e| counter_draft(org, e, at(seconds)))
        .collect()
}

/// Applies one transition to `(org, key)` and answers the new state and the transition's
/// decision (from the closure's last run: an adapter may retry it).
async fn apply<T: Send>(
    store: &dyn Store,
    org: &str,
    key: &str,
    mut transition: impl FnMut(&mut CounterState) -> (T, Vec<EventDraft>) + Send,
) -> (CounterState, T) {
    let mut decision = None;
    let mut update = |state: &mut CounterState| {
        let (d, events) = transition(state);
        decision = Some(d);
        events.into()
    };
    let state = store
        .update_counter(&oid(org), key, &mut update)
        .await
        .unwrap();
    let decision = decision.expect("update_counter never ran the transition");
    (state, decision)
}

/// A missing counter reads as the default; every state the closure leaves (failures, window,
/// reservations, locks with and without an end) is stored exactly, with the closure's events.
pub async fn counter_default_and_persist(store: Arc<dyn Store>) {
    let limits = CounterLimits {
        max_failures: 3,
        window: Some(600),
        lock_for: None,
        reset_after_success: true,
        escalation: portcullis_model::Escalation::NONE,
    };
    let org = "co";
    assert_eq!(
        store.get_counter(&oid(org), KEY).await.unwrap(),
        CounterState::default()
    );

    let fail = |seconds: i64| {
        move |state: &mut CounterState| {
            let outcome = state.record_failure(&limits, at(seconds));
            let mut events = vec![draft(Some(org), "counter.failure", seconds)];
            events.extend(drafts(org, outcome.events, seconds));
            (outcome.decision, events)
        }
    };

    let (state, locked) = apply(&*store, org, KEY, fail(10)).await;
    assert!(!locked);
    assert_eq!(
        state,
        CounterState {
            failures: 1,
            window_started_at: Some(at(10)),
            lock: None,
            reservations: Vec::new(),
            series_locks: 0,
            series_ends_at: None,
        }
    );
    assert_eq!(store.get_counter(&oid(org), KEY).await.unwrap(), state);
    // Other keys and other organizations' same key are separate counters.
    assert_eq!(
        store.get_counter(&oid(org), "password|bob|").await.unwrap(),
        CounterState::default()
    );
    assert_eq!(
        store.get_counter(&oid("co2"), KEY).await.unwrap(),
        CounterState::default()
    );
    assert_eq!(
        kinds(&events_of(&*store, Some(org)).await),
        ["counter.failure"]
    );

    let (state, granted) = apply(&*store, org, KEY, |state: &mut CounterState| {
        let outcome = state.reserve(&limits, 7, at(20));
        (outcome.decision, drafts(org, outcome.events, 20))
    })
    .await;
    assert_eq!(granted, Ok(()));
    assert_eq!(
        state.reservations,
        [Reservation {
            id: 7,
            expires_at: at(80),
        }]
    );
    assert_eq!(store.get_counter(&oid(org), KEY).await.unwrap(), state);

    apply(&*store, org, KEY, fail(30)).await;
    let (state, locked) = apply(&*store, org, KEY, fail(40)).await;
    assert!(locked);
    let lock = Lock {
        since: at(40),
        until: None,
    };
    assert_eq!(
        state,
        CounterState {
            failures: 3,
            window_started_at: Some(at(10)),
            lock: Some(lock),
            reservations: vec![Reservation {
                id: 7,
                expires_at: at(80),
            }],
            series_locks: 0,
            series_ends_at: None,
        }
    );
    assert_eq!(store.get_counter(&oid(org), KEY).await.unwrap(), state);
    let events = events_of(&*store, Some(org)).await;
    assert_eq!(
        kinds(&events),
        [
            "counter.failure",
            "counter.failure",
            "counter.failure",
            "account.locked"
        ]
    );
    assert_eq!(events[3], {
        let expected = counter_draft(org, CounterEvent::Locked(lock), at(40));
        portcullis_store::Event::from_draft(events[3].sequence, expected)
    });

    // A transition without events records none, and a no-op keeps the state.
    let (same, ()) = apply(&*store, org, KEY, |_: &mut CounterState| ((), Vec::new())).await;
    assert_eq!(same, state);
    assert_eq!(store.get_counter(&oid(org), KEY).await.unwrap(), state);
    assert_eq!(events_of(&*store, Some(org)).await.len(), 4);

    // Unlock clears the count; the attempt in flight stays.
    let (state, lifted) = apply(&*store, org, KEY, |state: &mut CounterState| {
        let outcome = state.unlock(&limits, at(50));
        (outcome.decision, drafts(org, outcome.events, 50))
    })
    .await;
    assert!(lifted);
    assert_eq!(
        state,
        CounterState {
            reservations: vec![Reservation {
                id: 7,
                expires_at: at(80),
            }],
            ..CounterState::default()
        }
    );
    assert_eq!(store.get_counter(&oid(org), KEY).await.unwrap(), state);

    // Completing it brings the default back, which reads back as the default.
    let (state, completion) = apply(&*store, org, KEY, |state: &mut CounterState| {
        let outcome = state.complete(&limits, 7, Attempt::Success, at(60));
        (outcome.decision, drafts(org, outcome.events, 60))
    })
    .await;
    assert_eq!(completion, Completion::Succeeded);
    assert_eq!(state, CounterState::default());
    assert_eq!(
        store.get_counter(&oid(org), KEY).await.unwrap(),
        CounterState::default()
    );
    let events = events_of(&*store, Some(org)).await;
    assert_eq!(kinds(&events[4..]), ["account.unlocked"]);

    // A lock with an end round-trips too.
    let timed = CounterLimits {
        lock_for: Some(3_600),
        max_failures: 1,
        ..limits
    };
    let (state, locked) = apply(&*store, org, "otp|alice|", |state: &mut CounterState| {
        let outcome = state.record_failure(&timed, at(70));
        (outcome.decision, drafts(org, outcome.events, 70))
    })
    .await;
    assert!(locked);
    assert_eq!(
        state.lock,
        Some(Lock {
            since: at(70),
            until: Some(at(3_670)),
        })
    );
    assert_eq!(
        store.get_counter(&oid(org), "otp|alice|").await.unwrap(),
        state
    );
    assert_eq!(
        store.get_counter(&oid(org), KEY).await.unwrap(),
        CounterState::default()
    );
}

/// 64 concurrent reservations on one counter with `max_failures: 5` grant exactly 5; the 5
/// completed as failures (concurrently) lock it, with exactly one `account.locked` event.
pub async fn counter_reserve_is_exact_under_concurrency(store: Arc<dyn Store>) {
    const TASKS: u64 = 64;
    const LIMITS: CounterLimits = CounterLimits {
        max_failures: 5,
        window: None,
        lock_for: Some(900),
        reset_after_success: true,
        escalation: portcullis_model::Escalation::NONE,
    };
    let org = "cc";

    let tasks: Vec<_> = (0..TASKS)
        .map(|id| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let (_, decision) = apply(&*store, org, KEY, |state: &mut CounterState| {
                    let outcome = state.reserve(&LIMITS, id, at(0));
                    (outcome.decision, drafts(org, outcome.events, 0))
                })
                .await;
                (id, decision)
            })
        })
        .collect();
    let mut granted = BTreeSet::new();
    for task in tasks {
        let (id, decision) = task.await.unwrap();
        match decision {
            Ok(()) => {
                granted.insert(id);
            }
            Err(refusal) => assert_eq!(refusal, Refusal::Saturated, "reservation {id}"),
        }
    }
    assert_eq!(granted.len(), 5, "granted reservations: {granted:?}");
    let state = store.get_counter(&oid(org), KEY).await.unwrap();
    let reserved: BTreeSet<u64> = state.reservations.iter().map(|r| r.id).collect();
    assert_eq!(
        reserved, granted,
        "stored reservations differ from the granted ones"
    );
    assert!(state.reservations.iter().all(|r| r.expires_at == at(60)));
    assert_eq!(state.failures, 0);
    assert_eq!(state.lock, None);
    assert!(events_of(&*store, Some(org)).await.is_empty());

    // Complete the granted attempts as failures, concurrently.
    let tasks: Vec<_> = granted
        .iter()
        .map(|&id| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let (_, completion) = apply(&*store, org, KEY, |state: &mut CounterState| {
                    let outcome = state.complete(&LIMITS, id, Attempt::Failure, at(10));
                    (outcome.decision, drafts(org, outcome.events, 10))
                })
                .await;
                completion
            })
        })
        .collect();
    let mut locking = 0;
    for task in tasks {
        match task.await.unwrap() {
            Completion::FailureCounted { locked: true } => locking += 1,
            Completion::FailureCounted { locked: false } => {}
            other => panic!("unexpected completion {other:?}"),
        }
    }
    assert_eq!(locking, 1, "exactly one failure locks");

    let lock = Lock {
        since: at(10),
        until: Some(at(910)),
    };
    let state = store.get_counter(&oid(org), KEY).await.unwrap();
    assert_eq!(
        state,
        CounterState {
            failures: 5,
            window_started_at: Some(at(10)),
            lock: Some(lock),
            reservations: Vec::new(),
            series_locks: 0,
            series_ends_at: None,
        }
    );
    let events = events_of(&*store, Some(org)).await;
    assert_eq!(kinds(&events), ["account.locked"]);
    assert_eq!(
        events[0],
        portcullis_store::Event::from_draft(
            events[0].sequence,
            counter_draft(org, CounterEvent::Locked(lock), at(10))
        )
    );

    // Locked now: a further attempt is refused and changes nothing.
    let (after, decision) = apply(&*store, org, KEY, |state: &mut CounterState| {
        let outcome = state.reserve(&LIMITS, 1_000, at(20));
        (outcome.decision, drafts(org, outcome.events, 20))
    })
    .await;
    assert_eq!(decision, Err(Refusal::Locked(lock)));
    assert_eq!(after, state);
    assert_eq!(store.get_counter(&oid(org), KEY).await.unwrap(), state);
    assert_eq!(events_of(&*store, Some(org)).await.len(), 1);
}

/// 64 concurrent failures on one counter count 64 (each update saw the previous one's result),
/// while concurrent updates of other counters (another key, another organization) stay apart.
pub async fn counter_record_failure_is_exact_under_concurrency(store: Arc<dyn Store>) {
    const LIMITS: CounterLimits = CounterLimits {
        max_failures: 1_000,
        window: None,
        lock_for: Some(900),
        reset_after_success: true,
        escalation: portcullis_model::Escalation::NONE,
    };
    const MAIN: &str = "ip|10.0.0.1";
    const OTHER: &str = "ip|10.0.0.2";
    // Interleaved: the main counter, with two other counters updated at the same time.
    let mut targets = Vec::new();
    for i in 0..64 {
        targets.push(("cr", MAIN));
        if i < 16 {
            targets.push(("cr", OTHER));
        } else if i < 32 {
            targets.push(("cr2", MAIN));
        }
    }
    assert_eq!(targets.len(), 96);

    let tasks: Vec<_> = targets
        .into_iter()
        .enumerate()
        .map(|(n, (org, key))| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let seconds = i64::try_from(n).unwrap();
                let (state, locked) = apply(&*store, org, key, |state: &mut CounterState| {
                    let outcome = state.record_failure(&LIMITS, at(seconds));
                    (outcome.decision, drafts(org, outcome.events, seconds))
                })
                .await;
                assert!(!locked);
                (org, key, state.failures)
            })
        })
        .collect();
    let mut seen_main = Vec::new();
    for task in tasks {
        let (org, key, failures) = task.await.unwrap();
        if (org, key) == ("cr", MAIN) {
            seen_main.push(failures);
        }
    }
    seen_main.sort_unstable();
    assert_eq!(
        seen_main,
        (1..=64).collect::<Vec<u32>>(),
        "every update must see the one before it"
    );

    let main = store.get_counter(&oid("cr"), MAIN).await.unwrap();
    assert_eq!(main.failures, 64);
    assert_eq!(main.lock, None);
    assert!(main.window_started_at.is_some());
    assert_eq!(
        store.get_counter(&oid("cr"), OTHER).await.unwrap().failures,
        16
    );
    assert_eq!(
        store.get_counter(&oid("cr2"), MAIN).await.unwrap().failures,
        16
    );
    assert!(events_of(&*store, Some("cr")).await.is_empty());
    assert!(events_of(&*store, Some("cr2")).await.is_empty());
}

/// Each counter keeps the due time its last transition answered: `due_counters` lists the
/// counters due at a time (none without a due time), ordered by (due time, key), paged by a
/// cursor, per organization; a transition that changes only the due time moves it; a counter
/// back to the default leaves the list with its row.
pub async fn counter_due_times_list_what_a_sweep_must_visit(store: Arc<dyn Store>) {
    let org = "cd";
    let set = |failures: u32, due: Option<i64>| {
        move |state: &mut CounterState| {
            state.failures = failures;
            CounterChange {
                events: Vec::new(),
                due_at: due.map(at),
                ..CounterChange::default()
            }
        }
    };
    // Page size + 5 counters due at 100 and 200 (alternating), one never due, one due at 900.
    let n = portcullis_store::MAX_PAGE as usize + 5;
    for i in 0..n {
        let due = if i % 2 == 0 { 100 } else { 200 };
        let key = format!("ip|10.0.{}.{}/32", i / 256, i % 256);
        store
            .update_counter(&oid(org), &key, &mut set(1, Some(due)))
            .await
            .unwrap();
    }
    store
        .update_counter(&oid(org), "password|never|", &mut set(1, None))
        .await
        .unwrap();
    store
        .update_counter(&oid(org), "password|later|", &mut set(1, Some(900)))
        .await
        .unwrap();
    store
        .update_counter(&oid("other"), "password|later|", &mut set(1, Some(5)))
        .await
        .unwrap();

    assert!(
        store
            .due_counters(&oid(org), at(99), None)
            .await
            .unwrap()
            .is_empty()
    );
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .due_counters(&oid(org), at(899), after.as_ref())
            .await
            .unwrap();
        assert!(page.len() <= portcullis_store::MAX_PAGE as usize);
        seen.extend(page.iter().cloned());
        match page.last() {
            Some(last) if page.len() == portcullis_store::MAX_PAGE as usize => {
                after = Some(last.clone())
            }
            _ => break,
        }
    }
    assert_eq!(seen.len(), n, "every due counter once, none other");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| (a.due_at, &a.key).cmp(&(b.due_at, &b.key)));
    assert_eq!(seen, sorted, "ordered by (due time, key)");
    assert_eq!(
        seen.iter().filter(|d| d.due_at == at(100)).count(),
        n.div_ceil(2)
    );

    // Moving only the due time is stored; back to the default, the counter is gone.
    let first = seen[0].key.clone();
    store
        .update_counter(&oid(org), &first, &mut set(1, Some(1000)))
        .await
        .unwrap();
    store
        .update_counter(&oid(org), &seen[1].key, &mut set(0, Some(1)))
        .await
        .unwrap();
    let due: Vec<String> = store
        .due_counters(&oid(org), at(100), None)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key)
        .collect();
    assert!(
        !due.contains(&first) && !due.contains(&seen[1].key),
        "{due:?}"
    );
    assert_eq!(due.len(), n.div_ceil(2) - 2);
    let cursor = DueCounter {
        due_at: at(200),
        key: "\u{10FFFF}".into(),
    };
    let late = store
        .due_counters(&oid(org), at(1000), Some(&cursor))
        .await
        .unwrap();
    let late: Vec<(&str, _)> = late.iter().map(|d| (d.key.as_str(), d.due_at)).collect();
    assert_eq!(
        late,
        [("password|later|", at(900)), (first.as_str(), at(1000))]
    );
    assert_eq!(
        store.get_counter(&oid(org), &first).await.unwrap().failures,
        1,
        "the state is kept"
    );
}

/// A counter's series of locks (escalation) is stored with its state and read back: the second
/// lock of a linear series lasts twice the base.
pub async fn counter_keeps_its_series_of_locks(store: Arc<dyn Store>) {
    let limits = CounterLimits {
        max_failures: 1,
        window: None,
        lock_for: Some(60),
        reset_after_success: true,
        escalation: portcullis_model::Escalation {
            strategy: portcullis_model::EscalationStrategy::Linear,
            ..portcullis_model::Escalation::NONE
        },
    };
    let org = "cs";
    let fail = |seconds: i64| {
        move |state: &mut CounterState| {
            let outcome = state.record_failure(&limits, at(seconds));
            (outcome.decision, drafts(org, outcome.events, seconds))
        }
    };
    let (state, locked) = apply(&*store, org, KEY, fail(0)).await;
    assert!(locked);
    assert_eq!(state.series_locks, 1);
    let (state, _) = apply(&*store, org, KEY, fail(61)).await;
    assert_eq!(state.series_locks, 2);
    assert_eq!(
        state.lock.unwrap().until,
        Some(at(61 + 120)),
        "the second lasts twice"
    );
    assert_eq!(state.series_ends_at, Some(at(61 + 120 + 86_400)));
    assert_eq!(store.get_counter(&oid(org), KEY).await.unwrap(), state);
}
