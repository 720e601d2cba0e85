//! The clock: the one place the wall clock is read. Everything below the service takes time as an
//! argument; tests drive a [`ManualClock`] instead of sleeping.

use std::sync::{Arc, Mutex};

use portcullis_model::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, UTC.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one clock adapter
    fn now(&self) -> Timestamp {
        time::OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told (tests).
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        if let Ok(mut now) = self.0.lock() {
            *now += time::Duration::seconds(seconds);
        }
    }

    /// Sets the clock.
    pub fn set(&self, at: Timestamp) {
        if let Ok(mut now) = self.0.lock() {
            *now = at;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0
            .lock()
            .map_or(time::OffsetDateTime::UNIX_EPOCH, |now| *now)
    }
}
