//! Rules for the free texts people type (names, emails, sources): a length in code points, no
//! control characters (they break logs and are refused by some stores), and no invisible or
//! bidirectional-control code points (they make look-alike names; see
//! [`portcullis_model::names`]).

use portcullis_model::names::forbidden_in_name;
use portcullis_model::{Violation, codes};

/// Records a violation when `value` is longer than `max` code points or holds a control
/// character; `None` passes.
pub(crate) fn check_text(found: &mut Vec<Violation>, field: &str, value: Option<&str>, max: usize) {
    if let Some(value) = value {
        if value.chars().count() > max {
            found.push(
                Violation::new(
                    field,
                    codes::TOO_LONG,
                    format!("must be at most {max} characters"),
                )
                .with("max", max),
            );
        }
        if value.chars().any(char::is_control) {
            found.push(Violation::new(
                field,
                codes::INVALID_JSON,
                "must not contain control characters",
            ));
        } else if value.chars().any(forbidden_in_name) {
            found.push(Violation::new(
                field,
                codes::INVALID_JSON,
                "must not contain invisible or bidirectional-control characters",
            ));
        }
    }
}
