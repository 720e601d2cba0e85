//! Saturating time arithmetic. Policies allow durations up to 20 years and the engine must never
//! panic on overflow, so every "t + seconds" goes through [`plus`].

use portcullis_model::Timestamp;
use time::{Duration, OffsetDateTime};

/// `t + seconds`, saturating at the largest representable instant.
pub fn plus(t: Timestamp, seconds: u64) -> Timestamp {
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
    t.checked_add(Duration::seconds(seconds))
        .unwrap_or(far_future())
}

/// `t + days`, saturating like [`plus`].
pub fn plus_days(t: Timestamp, days: u64) -> Timestamp {
    plus(t, days.saturating_mul(86_400))
}

/// Whole seconds from `now` until `until`, rounded up; 0 when `until` is `None` or passed.
pub fn seconds_until(until: Option<Timestamp>, now: Timestamp) -> u64 {
    until.map_or(0, |u| {
        let secs = (u - now).as_seconds_f64().ceil();
        if secs > 0.0 { secs as u64 } else { 0 }
    })
}

fn far_future() -> OffsetDateTime {
    time::macros::datetime!(9999-12-31 23:59:59 UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_instead_of_panicking() {
        let t = time::macros::datetime!(2026-01-01 0:00 UTC);
        assert_eq!(plus(t, 60), time::macros::datetime!(2026-01-01 0:01 UTC));
        assert_eq!(plus(t, u64::MAX), far_future());
        assert_eq!(plus_days(t, u64::MAX), far_future());
    }
}
