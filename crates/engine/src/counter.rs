//! The attempt counter: one state machine behind both account lockout (per lockout key) and IP
//! blocking (per organization and client IP).
//!
//! ```text
//!                 reserve (failures + in_flight < max)        complete(success)
//!        ┌──────────────────────────────┐          ┌───────────────────────────────┐
//!        │                              ▼          │   (failures := 0 if reset)    │
//!   ┌────┴─────┐                 ┌────────────┐────┘                               │
//!   │   OPEN   │◄────────────────│ IN FLIGHT  │  complete(failure) or reservation │
//!   │ failures │  window over:   │ (reserved) │  expired (crash = failure):       │
//!   │  < max   │  failures := 0  └─────┬──────┘  failures += 1                    │
//!   └────┬─────┘                       │ failures reaches max                     │
//!        ▲                             ▼                                          │
//!        │   unlock / until passed ┌────────┐  reserve → refused (Locked),         │
//!        └─────────────────────────│ LOCKED │  no password is checked              │
//!             failures := 0        └────────┘                                     │
//!   reserve while failures + in_flight = max → refused (Saturated): the in-flight  │
//!   checks could still all fail, so no further check may start.  ◄─────────────────┘
//! ```
//!
//! Invariants (proven by property tests):
//! - `failures + in_flight <= max` after every transition, so at most `max` password checks end
//!   as counted failures per lock cycle, whatever the interleaving;
//! - the counter locks exactly when `failures` reaches `max`, and only then;
//! - a lock ends at its `until` (never before) or by [`CounterState::unlock`];
//! - a reservation that is not completed within [`RESERVATION_TTL`] seconds counts as a failure
//!   (a crash between reservation and completion fails closed);
//! - transitions are pure: time and reservation ids are arguments. The store loads the state,
//!   applies one transition and writes it back in one transaction holding the row lock, and
//!   records the returned [`CounterEvent`]s in the same transaction.

use portcullis_model::{Escalation, Timestamp};
use serde::{Deserialize, Serialize};

use crate::time_math::plus;

/// Seconds after which an uncompleted reservation counts as a failure.
pub const RESERVATION_TTL: u64 = 60;

/// How a counter counts and locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterLimits {
    /// Failures that lock (≥ 1).
    pub max_failures: u32,
    /// Seconds from the first failure of a cycle during which failures add up; `None` = no end.
    pub window: Option<u64>,
    /// Seconds a lock lasts; `None` = until unlocked.
    pub lock_for: Option<u64>,
    /// A successful completion resets the failure count (and the series of locks).
    pub reset_after_success: bool,
    /// How `lock_for` grows with each lock of a series.
    pub escalation: Escalation,
}

impl CounterLimits {
    /// Limits under which nothing ever locks: for lifting a stored lock when the policy that
    /// placed it is off now.
    pub const COUNTING_NOTHING: CounterLimits = CounterLimits {
        max_failures: u32::MAX,
        window: None,
        lock_for: None,
        reset_after_success: true,
        escalation: Escalation::NONE,
    };
}

/// A lock in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// When it was placed.
    #[serde(with = "time::serde::rfc3339")]
    pub since: Timestamp,
    /// When it ends by itself; `None` = only an unlock ends it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub until: Option<Timestamp>,
}

/// An attempt that was allowed to start and has not finished yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// Chosen by the caller, unique per counter.
    pub id: u64,
    /// When it turns into a failure if not completed.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: Timestamp,
}

/// The stored state of one counter. `Default` is a fresh, open counter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterState {
    /// Failures counted in the current cycle.
    pub failures: u32,
    /// First failure of the current cycle.
    #[serde(with = "time::serde::rfc3339::option")]
    pub window_started_at: Option<Timestamp>,
    /// The lock in force, if any.
    pub lock: Option<Lock>,
    /// Attempts in flight.
    pub reservations: Vec<Reservation>,
    /// Temporary locks placed in the current series (escalation); 0 = no series.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub series_locks: u32,
    /// When the current series starts over unless a new lock comes first (the end of its last
    /// lock plus the policy's `reset_after`); `None` without a series.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub series_ends_at: Option<Timestamp>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Something the store must record as an event, in the transaction that applies the transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterEvent {
    /// The counter locked (`account.locked` / `ip.blocked`), once per lock.
    Locked(Lock),
    /// A lock ended because its time passed.
    LockExpired(Lock),
    /// A lock was lifted by an unlock.
    Unlocked(Lock),
    /// An attempt was never completed and counted as a failure.
    ReservationExpired {
        /// The reservation that expired.
        id: u64,
    },
}

/// Why an attempt may not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The counter is locked.
    Locked(Lock),
    /// Attempts in flight could still lock the counter; no further one may start now.
    Saturated,
}

/// How an attempt ended, as the caller saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The secret was wrong (or the user unknown).
    Failure,
    /// The secret was right.
    Success,
}

/// What completing an attempt did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// A failure was counted; `locked` when it locked the counter.
    FailureCounted {
        /// Whether this failure locked the counter.
        locked: bool,
    },
    /// A success was recorded.
    Succeeded,
    /// The secret was right but the counter locked meanwhile (limits lowered while in flight).
    LockedMeanwhile(Lock),
    /// The reservation was gone (already counted as expired): nothing changed. A success is not
    /// to be honored: the attempt took longer than [`RESERVATION_TTL`].
    Stale,
}

/// The result of a transition: what it decided and the events to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome<T> {
    /// The decision.
    pub decision: T,
    /// Events to record with the new state.
    pub events: Vec<CounterEvent>,
}

impl CounterState {
    /// The lock in force at `now`, without changing anything (for read-only checks).
    pub fn lock_at(&self, now: Timestamp) -> Option<Lock> {
        self.lock
            .filter(|lock| lock.until.is_none_or(|until| now < until))
    }

    /// Attempts in flight.
    pub fn in_flight(&self) -> usize {
        self.reservations.len()
    }

    /// Brings the state up to `now`: expired reservations become failures, an ended lock opens,
    /// an ended window starts a new cycle. Every other transition starts with this.
    pub fn settle(
        &mut self,
        limits: &CounterLimits,
        now: Timestamp,
        events: &mut Vec<CounterEvent>,
    ) {
        let (mut expired, live): (Vec<Reservation>, Vec<Reservation>) =
            self.reservations.iter().partition(|r| r.expires_at <= now);
        self.reservations = live;
        // Replay what happened while nobody looked, in time order, each at its own instant.
        expired.sort_by_key(|r| r.expires_at);
        for r in expired {
            self.expire_lock(r.expires_at, events);
            events.push(CounterEvent::ReservationExpired { id: r.id });
            self.count_failure(limits, r.expires_at, events);
        }
        self.expire_lock(now, events);
        self.roll_window(limits, now);
        self.end_quiet_series(now);
    }

    /// Starts the series of locks over when it went quiet long enough (no lock in force).
    fn end_quiet_series(&mut self, at: Timestamp) {
        if self.lock.is_none() && self.series_ends_at.is_some_and(|end| at >= end) {
            self.reset_series();
        }
    }

    /// Forgets the series of locks.
    fn reset_series(&mut self) {
        self.series_locks = 0;
        self.series_ends_at = None;
    }

    /// Forgets a count that has gone quiet: with no lock in force and nothing in flight, a
    /// cycle that began `retention` seconds or more before `now` is cleared (the counter is back
    /// to its fresh state, which the store deletes). This bounds how long failures counted
    /// without a window (`window: none`) are kept; a windowed count has rolled over long before.
    /// Answers whether it cleared anything.
    pub fn forget_stale(&mut self, now: Timestamp, retention: u64) -> bool {
        let quiet = self.lock_at(now).is_none()
            && self.reservations.is_empty()
            && self
                .window_started_at
                .is_some_and(|start| now >= plus(start, retention));
        if quiet {
            // The series of locks has its own end (`series_ends_at`), which a count going
            // quiet does not bring forward.
            *self = CounterState {
                series_locks: self.series_locks,
                series_ends_at: self.series_ends_at,
                ..CounterState::default()
            };
        }
        quiet
    }

    /// The first instant at which time alone changes this state — a reservation expires, a lock
    /// ends, the window rolls over (with `limits`; `None` when the policy counts nothing) or
    /// the quiet count is forgotten after `retention` seconds — or `None` when only a
    /// transition can change it. Before that instant, [`CounterState::settle`] and
    /// [`CounterState::forget_stale`] change nothing, so a sweep need not visit the counter;
    /// the store keeps this instant in an index for the sweep (it is never a decision: every
    /// transition and read settles the state at its own time).
    pub fn due_at(&self, limits: Option<&CounterLimits>, retention: u64) -> Option<Timestamp> {
        let reservation = self.reservations.iter().map(|r| r.expires_at).min();
        let own = match (self.lock, self.window_started_at) {
            (Some(lock), _) => lock.until,
            (None, Some(start)) => {
                let rolls = limits.and_then(|l| l.window).map(|w| plus(start, w));
                // Nothing in flight is forgotten: with reservations, their expiry comes first.
                let forgotten = self.reservations.is_empty().then(|| plus(start, retention));
                [rolls, forgotten].into_iter().flatten().min()
            }
            (None, None) => None,
        };
        // A series' end matters only without a lock (a lock's own end comes first).
        let series = self.lock.is_none().then_some(self.series_ends_at).flatten();
        [reservation, own, series].into_iter().flatten().min()
    }

    /// Opens the lock if its time passed at or before `at`.
    fn expire_lock(&mut self, at: Timestamp, events: &mut Vec<CounterEvent>) {
        if let Some(lock) = self.lock
            && lock.until.is_some_and(|until| at >= until)
        {
            self.clear();
            events.push(CounterEvent::LockExpired(lock));
        }
    }

    /// Starts a new cycle when the window of the current one ended at or before `at`.
    fn roll_window(&mut self, limits: &CounterLimits, at: Timestamp) {
        if self.lock.is_none()
            && let (Some(start), Some(window)) = (self.window_started_at, limits.window)
            && at >= plus(start, window)
        {
            self.reset_count();
        }
    }

    /// Ends the counting cycle: no failures, no window.
    fn reset_count(&mut self) {
        self.failures = 0;
        self.window_started_at = None;
    }

    /// Lifts any lock and ends the cycle.
    fn clear(&mut self) {
        self.lock = None;
        self.reset_count();
    }

    /// Counts one failure that happened at `now`, in the cycle of that instant.
    fn count_failure(
        &mut self,
        limits: &CounterLimits,
        now: Timestamp,
        events: &mut Vec<CounterEvent>,
    ) -> bool {
        self.roll_window(limits, now);
        if self.window_started_at.is_none() {
            self.window_started_at = Some(now);
        }
        self.failures = self.failures.saturating_add(1);
        if self.lock.is_none() && self.failures >= limits.max_failures {
            self.end_quiet_series(now);
            let nth = u64::from(self.series_locks) + 1;
            let seconds = limits.escalation.lock_seconds(limits.lock_for, nth);
            let until = seconds.map(|s| plus(now, s));
            if limits.escalation.is_active() {
                match until {
                    Some(until) => {
                        self.series_locks = self.series_locks.saturating_add(1);
                        self.series_ends_at = Some(plus(until, limits.escalation.reset_after));
                    }
                    // Until unlocked: the unlock starts the series over.
                    None => self.series_ends_at = None,
                }
            }
            let lock = Lock { since: now, until };
            self.lock = Some(lock);
            events.push(CounterEvent::Locked(lock));
            return true;
        }
        false
    }

    /// Reserves an attempt: granted when not locked and `failures + in_flight < max`.
    pub fn reserve(
        &mut self,
        limits: &CounterLimits,
        id: u64,
        now: Timestamp,
    ) -> Outcome<Result<(), Refusal>> {
        let mut events = Vec::new();
        self.settle(limits, now, &mut events);
        let decision = if let Some(lock) = self.lock {
            Err(Refusal::Locked(lock))
        } else if self.failures as usize + self.reservations.len() >= limits.max_failures as usize {
            Err(Refusal::Saturated)
        } else {
            self.reservations.push(Reservation {
                id,
                expires_at: plus(now, RESERVATION_TTL),
            });
            Ok(())
        };
        Outcome { decision, events }
    }

    /// Completes the reserved attempt `id` as a failure or a success.
    pub fn complete(
        &mut self,
        limits: &CounterLimits,
        id: u64,
        attempt: Attempt,
        now: Timestamp,
    ) -> Outcome<Completion> {
        let mut events = Vec::new();
        self.settle(limits, now, &mut events);
        let Some(at) = self.reservations.iter().position(|r| r.id == id) else {
            return Outcome {
                decision: Completion::Stale,
                events,
            };
        };
        self.reservations.swap_remove(at);
        let decision = match (attempt, self.lock) {
            (Attempt::Failure, _) => Completion::FailureCounted {
                locked: self.count_failure(limits, now, &mut events),
            },
            (Attempt::Success, Some(lock)) => Completion::LockedMeanwhile(lock),
            (Attempt::Success, None) => {
                if limits.reset_after_success {
                    self.reset_count();
                    self.reset_series();
                }
                Completion::Succeeded
            }
        };
        Outcome { decision, events }
    }

    /// Counts a failure that had no reservation (IP blocking counts after the fact); answers
    /// whether it locked the counter.
    pub fn record_failure(&mut self, limits: &CounterLimits, now: Timestamp) -> Outcome<bool> {
        let mut events = Vec::new();
        self.settle(limits, now, &mut events);
        let locked = self.count_failure(limits, now, &mut events);
        Outcome {
            decision: locked,
            events,
        }
    }

    /// Lifts a lock (admin unlock, self-unblock, admin password reset) and clears the count.
    /// Attempts in flight stay in flight. Answers whether a lock was lifted.
    pub fn unlock(&mut self, limits: &CounterLimits, now: Timestamp) -> Outcome<bool> {
        let mut events = Vec::new();
        self.settle(limits, now, &mut events);
        let lifted = self.lock;
        self.clear();
        self.reset_series();
        if let Some(lock) = lifted {
            events.push(CounterEvent::Unlocked(lock));
        }
        Outcome {
            decision: lifted.is_some(),
            events,
        }
    }
}
