//! The attempt counter: property tests for its invariants, and unit tests for windows, lock
//! durations, crashes and races.

use portcullis_engine::counter::{
    Attempt, Completion, CounterEvent, CounterLimits, CounterState, Lock, RESERVATION_TTL, Refusal,
};
use portcullis_engine::lockout::{LockoutKey, SecretKind, lockout_limits, normalize_login};
use portcullis_model::{Escalation, EscalationStrategy, LockoutPolicy, LockoutScope, Timestamp};
use proptest::prelude::*;

use crate::support::{T0, at};

fn net(s: &str) -> ipnet::IpNet {
    s.parse().unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    Reserve,
    Fail(usize),
    Succeed(usize),
    Advance(u64),
    Unlock,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Reserve),
        3 => any::<usize>().prop_map(Op::Fail),
        1 => any::<usize>().prop_map(Op::Succeed),
        2 => (1u64..200).prop_map(Op::Advance),
        1 => Just(Op::Unlock),
    ]
}

fn escalation() -> impl Strategy<Value = Escalation> {
    (
        prop_oneof![
            Just(EscalationStrategy::None),
            Just(EscalationStrategy::Linear),
            Just(EscalationStrategy::Multiply)
        ],
        2u64..5,
        proptest::option::of(1u64..2000),
        proptest::option::of(1u64..4),
        60u64..400,
    )
        .prop_map(
            |(strategy, factor, max_duration, permanent_after, reset_after)| Escalation {
                strategy,
                factor,
                max_duration,
                permanent_after,
                reset_after,
            },
        )
}

fn limits() -> impl Strategy<Value = CounterLimits> {
    (
        1u32..7,
        proptest::option::of(1u64..300),
        proptest::option::of(1u64..600),
        any::<bool>(),
        prop_oneof![1 => Just(Escalation::NONE), 2 => escalation()],
    )
        .prop_map(
            |(max_failures, window, lock_for, reset_after_success, escalation)| CounterLimits {
                max_failures,
                window,
                lock_for,
                reset_after_success,
                escalation,
            },
        )
}

/// Drives a counter through `ops`, checking the invariants after every step.
fn run(limits: CounterLimits, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut state = CounterState::default();
    let mut now = T0;
    let mut next_id = 0u64;
    let mut in_flight: Vec<u64> = Vec::new();
    let mut live_lock: Option<Lock> = None; // ghost: the lock we saw placed, until it legally ends

    for op in ops {
        // "A correct password with no lock and nothing in flight succeeds."
        let mut probe = state.clone();
        probe.settle(&limits, now, &mut Vec::new());
        if probe.lock.is_none() && probe.in_flight() == 0 {
            prop_assert_eq!(probe.reserve(&limits, u64::MAX, now).decision, Ok(()));
            prop_assert_eq!(
                probe
                    .complete(&limits, u64::MAX, Attempt::Success, now)
                    .decision,
                Completion::Succeeded
            );
        }

        let events = match op {
            Op::Reserve => {
                next_id += 1;
                let out = state.reserve(&limits, next_id, now);
                match out.decision {
                    Ok(()) => in_flight.push(next_id),
                    Err(Refusal::Locked(lock)) => prop_assert_eq!(Some(lock), state.lock),
                    Err(Refusal::Saturated) => prop_assert!(
                        state.failures as usize + state.in_flight() >= limits.max_failures as usize
                    ),
                }
                out.events
            }
            Op::Fail(i) | Op::Succeed(i) if !in_flight.is_empty() => {
                let id = in_flight.swap_remove(i % in_flight.len());
                let attempt = if matches!(op, Op::Fail(_)) {
                    Attempt::Failure
                } else {
                    Attempt::Success
                };
                state.complete(&limits, id, attempt, now).events
            }
            Op::Fail(_) | Op::Succeed(_) => continue,
            Op::Advance(s) => {
                now += time::Duration::seconds(*s as i64);
                let mut events = Vec::new();
                state.settle(&limits, now, &mut events);
                events
            }
            Op::Unlock => {
                live_lock = None;
                state.unlock(&limits, now).events
            }
        };
        for event in &events {
            match event {
                CounterEvent::Locked(lock) => {
                    prop_assert!(live_lock.is_none(), "locked twice without an end");
                    live_lock = Some(*lock);
                }
                CounterEvent::LockExpired(lock) => {
                    prop_assert_eq!(Some(*lock), live_lock);
                    let until = lock.until.expect("a lock without end never expires");
                    prop_assert!(now >= until, "lock ended early");
                    live_lock = None;
                }
                CounterEvent::Unlocked(_) => prop_assert!(matches!(op, Op::Unlock)),
                CounterEvent::ReservationExpired { id } => in_flight.retain(|x| x != id),
            }
        }

        check_due_time(&state, &limits, now)?;
        // Exactness: counted failures plus attempts in flight never exceed the maximum.
        prop_assert!(state.failures as usize + state.in_flight() <= limits.max_failures as usize);
        // The counter is locked exactly when the count reached the maximum.
        prop_assert_eq!(state.lock.is_some(), state.failures >= limits.max_failures);
        // A lock never ends before its time except by an unlock.
        if let Some(lock) = live_lock {
            prop_assert_eq!(state.lock, Some(lock));
            prop_assert!(lock.until.is_none_or(|u| now < u) || state.lock_at(now).is_none());
        }
    }
    Ok(())
}

/// The counter retention the due-time checks use (short, so that it matters in a run).
const RETENTION: u64 = 450;

/// The due time is exact: before it, time alone changes nothing (a sweep may skip the counter);
/// at it, something changes (a sweep that visits is never wasted, and never revisits forever).
fn check_due_time(
    state: &CounterState,
    limits: &CounterLimits,
    now: Timestamp,
) -> Result<(), TestCaseError> {
    let swept = |t: Timestamp| {
        let mut probe = state.clone();
        let mut events = Vec::new();
        probe.settle(limits, t, &mut events);
        probe.forget_stale(t, RETENTION);
        (probe, events)
    };
    let due = state.due_at(Some(limits), RETENTION);
    let before = match due {
        Some(due) => due - time::Duration::seconds(1),
        None => now + time::Duration::days(10_000),
    };
    for t in [now, before] {
        if t >= now && due.is_none_or(|due| t < due) {
            let (probe, events) = swept(t);
            prop_assert_eq!(&probe, state, "changed before its due time {:?}", due);
            prop_assert!(events.is_empty());
        }
    }
    if let Some(due) = due {
        let (probe, events) = swept(due.max(now));
        prop_assert!(
            &probe != state || !events.is_empty(),
            "nothing due at {}",
            due
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_interleaving(limits in limits(), ops in proptest::collection::vec(op(), 0..80)) {
        run(limits, &ops)?;
    }

    /// A burst: N attempts reserved and completed as failures in any order, no time passing.
    /// Exactly min(N, max) checks are admitted, all counted, and the counter locks at max.
    #[test]
    fn a_burst_admits_exactly_max_checks(
        max in 1u32..12,
        attempts in 1usize..64,
        order in proptest::collection::vec(any::<bool>(), 0..200),
    ) {
        let limits = CounterLimits { max_failures: max, window: None, lock_for: None, reset_after_success: true, escalation: Escalation::NONE };
        let mut state = CounterState::default();
        let (mut started, mut admitted, mut counted) = (0usize, 0usize, 0usize);
        let mut in_flight = Vec::new();
        let mut steps = order.into_iter();
        while started < attempts || !in_flight.is_empty() {
            let start_next = started < attempts && (in_flight.is_empty() || steps.next().unwrap_or(true));
            if start_next {
                started += 1;
                if state.reserve(&limits, started as u64, T0).decision.is_ok() {
                    admitted += 1;
                    in_flight.push(started as u64);
                }
            } else if let Some(id) = in_flight.pop()
                && matches!(
                    state.complete(&limits, id, Attempt::Failure, T0).decision,
                    Completion::FailureCounted { .. }
                )
            {
                counted += 1;
            }
        }
        let expected = attempts.min(max as usize);
        prop_assert_eq!(admitted, expected);
        prop_assert_eq!(counted, expected);
        prop_assert_eq!(state.lock.is_some(), attempts >= max as usize);
    }
}

fn limits_of(max: u32, window: Option<u64>, lock_for: Option<u64>) -> CounterLimits {
    CounterLimits {
        max_failures: max,
        window,
        lock_for,
        reset_after_success: true,
        escalation: Escalation::NONE,
    }
}

fn fail(state: &mut CounterState, limits: &CounterLimits, id: u64, now: Timestamp) -> Completion {
    state.reserve(limits, id, now).decision.unwrap();
    state.complete(limits, id, Attempt::Failure, now).decision
}

#[test]
fn failures_older_than_the_window_do_not_count() {
    let limits = limits_of(3, Some(60), Some(300));
    let mut s = CounterState::default();
    fail(&mut s, &limits, 1, at(0));
    fail(&mut s, &limits, 2, at(59));
    assert_eq!(s.failures, 2);
    // The window runs from the first failure of the cycle: at 60 s a new cycle starts.
    assert_eq!(
        fail(&mut s, &limits, 3, at(60)),
        Completion::FailureCounted { locked: false }
    );
    assert_eq!((s.failures, s.window_started_at), (1, Some(at(60))));
    fail(&mut s, &limits, 4, at(100));
    assert_eq!(
        fail(&mut s, &limits, 5, at(119)),
        Completion::FailureCounted { locked: true }
    );
}

#[test]
fn a_temporary_lock_ends_at_its_time_and_a_permanent_one_does_not() {
    let temporary = limits_of(1, None, Some(300));
    let mut s = CounterState::default();
    assert_eq!(
        fail(&mut s, &temporary, 1, at(0)),
        Completion::FailureCounted { locked: true }
    );
    let lock = Lock {
        since: at(0),
        until: Some(at(300)),
    };
    assert_eq!(
        s.reserve(&temporary, 2, at(299)).decision,
        Err(Refusal::Locked(lock))
    );
    assert_eq!(s.lock_at(at(299)), Some(lock));
    assert_eq!(s.lock_at(at(300)), None);
    let out = s.reserve(&temporary, 3, at(300));
    assert_eq!(out.decision, Ok(()));
    assert_eq!(out.events, [CounterEvent::LockExpired(lock)]);
    assert_eq!(s.failures, 0, "a new cycle starts");

    let permanent = limits_of(1, None, None);
    let mut s = CounterState::default();
    fail(&mut s, &permanent, 1, at(0));
    assert!(matches!(
        s.reserve(&permanent, 2, at(100 * 365 * 86_400)).decision,
        Err(Refusal::Locked(_))
    ));
    let out = s.unlock(&permanent, at(5));
    assert!(out.decision);
    assert!(matches!(out.events[..], [CounterEvent::Unlocked(_)]));
    assert_eq!(s.reserve(&permanent, 3, at(6)).decision, Ok(()));
    assert!(
        !CounterState::default().unlock(&permanent, at(0)).decision,
        "nothing to lift"
    );
}

#[test]
fn a_crash_between_reservation_and_completion_counts_as_a_failure() {
    let limits = limits_of(2, None, None);
    let mut s = CounterState::default();
    s.reserve(&limits, 1, at(0)).decision.unwrap();
    s.reserve(&limits, 2, at(0)).decision.unwrap();
    assert_eq!(
        s.reserve(&limits, 3, at(1)).decision,
        Err(Refusal::Saturated)
    );
    // Both holders "crash": nobody completes. After the TTL they are failures and lock.
    let out = s.reserve(&limits, 4, at(RESERVATION_TTL as i64));
    assert!(matches!(out.decision, Err(Refusal::Locked(_))));
    assert_eq!(
        out.events
            .iter()
            .filter(|e| matches!(e, CounterEvent::ReservationExpired { .. }))
            .count(),
        2
    );
    assert_eq!(
        out.events
            .iter()
            .filter(|e| matches!(e, CounterEvent::Locked(_)))
            .count(),
        1
    );
    // A late completion of an expired reservation changes nothing and is not honored.
    assert_eq!(
        s.complete(&limits, 1, Attempt::Success, at(61)).decision,
        Completion::Stale
    );
    assert_eq!(s.failures, 2);
}

#[test]
fn success_resets_only_when_the_policy_says_so() {
    for reset in [true, false] {
        let limits = CounterLimits {
            reset_after_success: reset,
            ..limits_of(5, None, None)
        };
        let mut s = CounterState::default();
        fail(&mut s, &limits, 1, at(0));
        fail(&mut s, &limits, 2, at(0));
        s.reserve(&limits, 3, at(1)).decision.unwrap();
        assert_eq!(
            s.complete(&limits, 3, Attempt::Success, at(1)).decision,
            Completion::Succeeded
        );
        assert_eq!(s.failures, if reset { 0 } else { 2 });
    }
}

#[test]
fn a_success_that_raced_a_lock_is_not_honored() {
    // Limits lowered while attempts were in flight: the last failure locks with one in flight.
    let loose = limits_of(5, None, None);
    let tight = limits_of(1, None, None);
    let mut s = CounterState::default();
    s.reserve(&loose, 1, at(0)).decision.unwrap();
    s.reserve(&loose, 2, at(0)).decision.unwrap();
    assert_eq!(
        s.complete(&tight, 1, Attempt::Failure, at(1)).decision,
        Completion::FailureCounted { locked: true }
    );
    assert!(matches!(
        s.complete(&tight, 2, Attempt::Success, at(1)).decision,
        Completion::LockedMeanwhile(_)
    ));
}

#[test]
fn lockout_keys_and_limits_follow_the_policy() {
    let a = LockoutKey::new(
        LockoutScope::Login,
        SecretKind::Password,
        "acme",
        "  Alice ",
        net("10.0.0.1/32"),
    );
    let b = LockoutKey::new(
        LockoutScope::Login,
        SecretKind::Password,
        "acme",
        "ALICE",
        net("10.0.0.2/32"),
    );
    assert_eq!(a, b, "case-insensitive, IP ignored under scope login");
    assert_eq!(a.storage_key(), "password|alice|");
    let c = LockoutKey::new(
        LockoutScope::LoginAndIp,
        SecretKind::Otp,
        "acme",
        "alice",
        net("10.0.0.1/32"),
    );
    assert_eq!(c.storage_key(), "otp|alice|10.0.0.1");
    let d = LockoutKey::new(
        LockoutScope::LoginAndIp,
        SecretKind::Password,
        "acme",
        "bob",
        net("2001:db8:1:2::/64"),
    );
    assert_eq!(d.storage_key(), "password|bob|2001:db8:1:2::/64");
    assert_eq!(normalize_login("ÉVE"), "éve");

    let policy = LockoutPolicy {
        max_password_attempts: 3,
        max_otp_attempts: 0,
        window: Some(60),
        ..LockoutPolicy::default()
    };
    let l = lockout_limits(&policy, SecretKind::Password).unwrap();
    assert_eq!(
        (l.max_failures, l.window, l.lock_for, l.reset_after_success),
        (3, Some(60), Some(900), true)
    );
    assert_eq!(
        lockout_limits(&policy, SecretKind::Otp),
        None,
        "max_otp_attempts 0 = never"
    );
    assert_eq!(
        lockout_limits(
            &LockoutPolicy {
                enabled: false,
                ..policy
            },
            SecretKind::Password
        ),
        None
    );
}

#[test]
fn an_expired_reservation_counts_in_the_cycle_of_its_own_time() {
    // Window 60 s from the first failure at 0. A reservation made at 50 is never completed; it
    // expires at 110, after that window ended, so it starts a new cycle instead of joining the old.
    let limits = limits_of(3, Some(60), None);
    let mut s = CounterState::default();
    fail(&mut s, &limits, 1, at(0));
    s.reserve(&limits, 2, at(50)).decision.unwrap();
    fail(&mut s, &limits, 3, at(55)); // failures = 2 in the first cycle
    let out = s.reserve(&limits, 4, at(120));
    assert_eq!(out.decision, Ok(()));
    assert_eq!(
        (s.failures, s.window_started_at),
        (1, Some(at(50 + RESERVATION_TTL as i64)))
    );
}

proptest! {
    /// No login name can forge a key of another login, nor fall inside another login's key
    /// range (the range every lookup of a login's keys scans).
    #[test]
    fn a_login_name_never_reaches_another_logins_keys(
        a in "[a-c|%!0-9]{1,8}",
        b in "[a-c|%!0-9]{1,8}",
        v6 in any::<bool>(),
    ) {
        let (a, b) = (normalize_login(&a), normalize_login(&b));
        prop_assume!(!a.is_empty() && !b.is_empty() && a != b);
        let source = if v6 { net("2001:db8::/64") } else { net("10.0.0.1/32") };
        for scope in [LockoutScope::Login, LockoutScope::LoginAndIp] {
            let key = LockoutKey::new(scope, SecretKind::Password, "o", &b, source).storage_key();
            prop_assert!(!key.starts_with(&LockoutKey::login_prefix(SecretKind::Password, &a)),
                "{key} falls among the keys of {a}");
            prop_assert!(key.starts_with(&LockoutKey::login_prefix(SecretKind::Password, &b)));
        }
    }
}

#[test]
fn separators_in_login_names_are_escaped() {
    let key = LockoutKey::new(
        LockoutScope::LoginAndIp,
        SecretKind::Password,
        "acme",
        "alice|!0001",
        net("10.0.0.1/32"),
    );
    assert_eq!(key.storage_key(), "password|alice%7C!0001|10.0.0.1");
    assert_eq!(
        LockoutKey::login_prefix(SecretKind::Otp, "50%"),
        "otp|50%25|"
    );
}

#[test]
fn a_quiet_count_is_forgotten_after_the_retention_but_never_a_lock() {
    let limits = limits_of(3, None, None);
    let mut s = CounterState::default();
    fail(&mut s, &limits, 1, at(0));
    fail(&mut s, &limits, 2, at(10));
    assert!(!s.forget_stale(at(99), 100), "not yet");
    assert_eq!(s.failures, 2);
    assert!(s.forget_stale(at(100), 100));
    assert_eq!(s, CounterState::default());
    // A lock until unlocked stays, however old.
    for id in 3..6 {
        fail(&mut s, &limits, id, at(200));
    }
    assert!(s.lock.is_some());
    assert!(!s.forget_stale(at(10_000_000), 100));
    // Nothing in flight is dropped either.
    let mut t = CounterState::default();
    fail(&mut t, &limits, 1, at(0));
    t.reserve(&limits, 7, at(500)).decision.unwrap();
    assert!(!t.forget_stale(at(500), 100));
}

/// One lock cycle of a series: fail until locked (answering the lock), then wait `gap` seconds
/// past the lock's end (`None`: an unlock instead of waiting), then optionally succeed.
fn lock_once(
    state: &mut CounterState,
    limits: &CounterLimits,
    now: &mut Timestamp,
    next_id: &mut u64,
) -> Lock {
    loop {
        *next_id += 1;
        match state.reserve(limits, *next_id, *now).decision {
            Ok(()) => {
                state.complete(limits, *next_id, Attempt::Failure, *now);
            }
            Err(Refusal::Locked(lock)) => return lock,
            Err(Refusal::Saturated) => unreachable!("nothing is in flight"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Escalation: within a series a lock never lasts less than the one before, never less
    /// than the base, and the first lock of a series lasts the base; the series starts over
    /// after `reset_after` quiet past the last lock's end, or a success (with
    /// `reset_after_success`); after `permanent_after` temporary locks the next lasts until
    /// unlocked. Each step: a gap after the lock ends, and maybe a success.
    #[test]
    fn locks_grow_within_a_series_and_start_over_after_quiet_or_success(
        max in 1u32..4,
        base in 1u64..500,
        reset_after_success in any::<bool>(),
        escalation in escalation(),
        steps in proptest::collection::vec((0u64..800, any::<bool>()), 1..12),
    ) {
        let limits = CounterLimits {
            max_failures: max,
            window: None,
            lock_for: Some(base),
            reset_after_success,
            escalation,
        };
        let mut state = CounterState::default();
        let mut now = T0;
        let mut next_id = 0u64;
        let mut previous: Option<u64> = None; // the last lock's seconds, while the series lasts
        let mut nth = 0u64; // temporary locks in the current series
        for (gap, succeed) in steps {
            let lock = lock_once(&mut state, &limits, &mut now, &mut next_id);
            prop_assert_eq!(state.failures, max, "exactness unchanged");
            nth += 1;
            let Some(until) = lock.until else {
                // Until unlocked: only after `permanent_after` temporary locks.
                prop_assert_eq!(escalation.permanent_after.map(|p| nth > p), Some(true));
                state.unlock(&limits, now);
                previous = None;
                nth = 0;
                continue;
            };
            let seconds = (until - lock.since).whole_seconds() as u64;
            prop_assert!(seconds >= base, "never below the base");
            match previous {
                None => prop_assert_eq!(seconds, base, "a series starts at the base"),
                Some(before) => prop_assert!(seconds >= before, "{} after {}", seconds, before),
            }
            previous = Some(seconds);
            now = until + time::Duration::seconds(gap as i64);
            let quiet = gap >= escalation.reset_after;
            if succeed {
                next_id += 1;
                state.reserve(&limits, next_id, now).decision.unwrap();
                state.complete(&limits, next_id, Attempt::Success, now);
            }
            if !escalation.is_active() || quiet || (succeed && reset_after_success) {
                previous = None;
                nth = 0;
            }
            if !escalation.is_active() {
                prop_assert_eq!(state.series_locks, 0, "no series without escalation");
            }
        }
    }
}

#[test]
fn a_multiplied_series_then_a_permanent_lock() {
    let limits = CounterLimits {
        max_failures: 1,
        window: None,
        lock_for: Some(60),
        reset_after_success: true,
        escalation: Escalation {
            strategy: EscalationStrategy::Multiply,
            factor: 2,
            max_duration: Some(200),
            permanent_after: Some(3),
            reset_after: 600,
        },
    };
    let mut state = CounterState::default();
    let (mut now, mut id) = (T0, 0);
    let mut seconds = Vec::new();
    for _ in 0..3 {
        let lock = lock_once(&mut state, &limits, &mut now, &mut id);
        let until = lock.until.unwrap();
        seconds.push((until - lock.since).whole_seconds());
        now = until + time::Duration::seconds(599);
    }
    assert_eq!(seconds, [60, 120, 200], "doubled, then capped");
    let fourth = lock_once(&mut state, &limits, &mut now, &mut id);
    assert_eq!(
        fourth.until, None,
        "after 3 temporary locks: until unlocked"
    );
    assert!(state.unlock(&limits, now).decision);
    assert_eq!(state.series_locks, 0, "an unlock starts the series over");
    let again = lock_once(&mut state, &limits, &mut now, &mut id);
    assert_eq!((again.until.unwrap() - again.since).whole_seconds(), 60);
    // 600 s of quiet after its end: the next lock is the first of a new series, and the
    // stored series ends exactly then (a sweep sees it due).
    let end = again.until.unwrap() + time::Duration::seconds(600);
    assert_eq!(state.series_ends_at, Some(end));
    now = end;
    let mut probe = state.clone();
    probe.settle(&limits, now, &mut Vec::new());
    assert_eq!(probe, CounterState::default(), "nothing left to keep");
    let fresh = lock_once(&mut state, &limits, &mut now, &mut id);
    assert_eq!((fresh.until.unwrap() - fresh.since).whole_seconds(), 60);
}
