//! Escalating locks and blocks (`lockout.escalation`, `brute_force.escalation`): how the
//! duration of a temporary lock grows with each lock of a series, and when the series starts
//! over (docs/design.md §2.3).
//!
//! Units: `max_duration` and `reset_after` are seconds. Invariants (checked by [`Validate`]):
//! `factor` is 2–10; `max_duration` and `reset_after` fit in [`MAX_LOCK_SECONDS`];
//! `permanent_after` is 1–100. The default (`none`, no permanent lock) changes nothing: every
//! lock lasts the base duration. [`Escalation::lock_seconds`] is the whole rule; it never answers
//! less than the base duration, and within a series never less than for an earlier lock.

use serde::{Deserialize, Serialize};

use crate::lockout::MAX_LOCK_SECONDS;
use crate::validate::{Checker, Validate};

/// How lock durations grow within a series.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStrategy {
    /// Every lock lasts the base duration.
    #[default]
    None,
    /// The n-th lock of a series lasts n × the base duration.
    Linear,
    /// The n-th lock of a series lasts the base duration × `factor`^(n − 1).
    Multiply,
}

/// How locks escalate within a series of locks of one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Escalation {
    /// How durations grow (default `none`).
    pub strategy: EscalationStrategy,
    /// The multiplier of `multiply` (2–10, default 2).
    #[schema(minimum = 2, maximum = 10)]
    pub factor: u64,
    /// The longest a grown lock lasts, seconds; `None` = 20 years (1 s – 20 years).
    #[schema(minimum = 1, maximum = 630_720_000)]
    pub max_duration: Option<u64>,
    /// After this many temporary locks in a series, the next lock lasts until unlocked; `None`
    /// = never (1–100).
    #[schema(minimum = 1, maximum = 100)]
    pub permanent_after: Option<u64>,
    /// Seconds after the end of the series' last lock without a new lock, after which the
    /// series starts over (60 s – 20 years, default 86400). A success (with
    /// `reset_after_success`) and an unlock also start it over.
    #[schema(minimum = 60, maximum = 630_720_000)]
    pub reset_after: u64,
}

impl Escalation {
    /// No escalation: every lock lasts the base duration, the series changes nothing.
    pub const NONE: Escalation = Escalation {
        strategy: EscalationStrategy::None,
        factor: 2,
        max_duration: None,
        permanent_after: None,
        reset_after: 86_400,
    };

    /// Whether it changes anything at all (a counter then keeps its series).
    pub fn is_active(&self) -> bool {
        self.strategy != EscalationStrategy::None || self.permanent_after.is_some()
    }

    /// How long the `nth` lock of a series lasts (1 = the first), given the base duration
    /// (`None` = until unlocked): `None` when it lasts until unlocked.
    pub fn lock_seconds(&self, base: Option<u64>, nth: u64) -> Option<u64> {
        let base = base?;
        if self
            .permanent_after
            .is_some_and(|temporary| nth > temporary)
        {
            return None;
        }
        let nth = nth.max(1);
        let grown = match self.strategy {
            EscalationStrategy::None => base,
            EscalationStrategy::Linear => base.saturating_mul(nth),
            EscalationStrategy::Multiply => {
                let exponent = u32::try_from(nth - 1).unwrap_or(u32::MAX);
                base.saturating_mul(self.factor.max(1).saturating_pow(exponent))
            }
        };
        let cap = self
            .max_duration
            .unwrap_or(MAX_LOCK_SECONDS)
            .min(MAX_LOCK_SECONDS);
        // Never shorter than the base, whatever the cap says.
        Some(grown.min(cap).max(base))
    }
}

impl Default for Escalation {
    fn default() -> Escalation {
        Escalation::NONE
    }
}

impl Validate for Escalation {
    fn check(&self, c: &mut Checker) {
        c.range("factor", self.factor, 2, 10);
        c.range_opt("max_duration", self.max_duration, 1, MAX_LOCK_SECONDS);
        c.range_opt("permanent_after", self.permanent_after, 1, 100);
        c.range("reset_after", self.reset_after, 60, MAX_LOCK_SECONDS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(strategy: EscalationStrategy) -> Escalation {
        Escalation {
            strategy,
            ..Escalation::NONE
        }
    }

    #[test]
    fn durations_by_strategy() {
        let base = Some(60);
        let none = with(EscalationStrategy::None);
        assert_eq!(none.lock_seconds(base, 5), Some(60));
        let linear = with(EscalationStrategy::Linear);
        assert_eq!(linear.lock_seconds(base, 1), Some(60));
        assert_eq!(linear.lock_seconds(base, 3), Some(180));
        let multiply = Escalation {
            factor: 3,
            ..with(EscalationStrategy::Multiply)
        };
        assert_eq!(multiply.lock_seconds(base, 1), Some(60));
        assert_eq!(multiply.lock_seconds(base, 3), Some(540));
        assert_eq!(
            multiply.lock_seconds(base, 1_000),
            Some(MAX_LOCK_SECONDS),
            "saturates at 20 years"
        );
        let capped = Escalation {
            max_duration: Some(100),
            ..multiply
        };
        assert_eq!(capped.lock_seconds(base, 3), Some(100));
        let below_base = Escalation {
            max_duration: Some(10),
            ..multiply
        };
        assert_eq!(
            below_base.lock_seconds(base, 3),
            Some(60),
            "never below the base"
        );
        assert_eq!(multiply.lock_seconds(None, 1), None, "until unlocked stays");
    }

    #[test]
    fn permanent_after_n_temporary_locks() {
        let e = Escalation {
            permanent_after: Some(2),
            ..with(EscalationStrategy::Linear)
        };
        assert_eq!(e.lock_seconds(Some(60), 2), Some(120));
        assert_eq!(e.lock_seconds(Some(60), 3), None);
        assert!(e.is_active());
        assert!(!Escalation::NONE.is_active());
    }

    #[test]
    fn validation_names_each_field() {
        let bad = Escalation {
            strategy: EscalationStrategy::Multiply,
            factor: 1,
            max_duration: Some(0),
            permanent_after: Some(101),
            reset_after: 59,
        };
        let violations = crate::Valid::new(bad).unwrap_err();
        let fields: Vec<&str> = violations
            .as_slice()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(
            fields,
            ["factor", "max_duration", "permanent_after", "reset_after"]
        );
    }
}
