//! The column encoding of every SQL database, so that a record reads back exactly as it was
//! written, whichever database holds it (the conformance suite compares them with `==`):
//! timestamps as `i64` unix nanoseconds read back in UTC (the range is the years 1677–2262; a
//! value outside is refused rather than cut), event sequences as positive `i64`, roles and string
//! lists as JSON arrays of text.
//!
//! Invariant: every decoding failure is corrupt stored data, reported as `Internal`.

use portcullis_model::Timestamp;
use time::OffsetDateTime;

use crate::{Role, StoreError, StoreResult};

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt stored data: {what}"))
}

/// A timestamp as stored (unix nanoseconds).
pub fn ts_to_db(at: Timestamp) -> StoreResult<i64> {
    i64::try_from(at.unix_timestamp_nanos())
        .map_err(|_| StoreError::Internal(format!("timestamp {at} out of the storable range")))
}

/// An optional timestamp as stored.
pub fn opt_ts_to_db(at: Option<Timestamp>) -> StoreResult<Option<i64>> {
    at.map(ts_to_db).transpose()
}

/// A stored timestamp, in UTC.
pub fn ts_from_db(nanos: i64) -> StoreResult<Timestamp> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map_err(corrupt)
}

/// A stored sequence (always positive).
pub fn seq_from_db(sequence: i64) -> StoreResult<u64> {
    u64::try_from(sequence).map_err(corrupt)
}

/// A sequence cursor as a column value (saturating: no stored sequence exceeds `i64::MAX`).
pub fn seq_to_db(sequence: u64) -> i64 {
    i64::try_from(sequence).unwrap_or(i64::MAX)
}

/// Roles as a JSON array of their names.
pub fn roles_to_db(roles: &[Role]) -> StoreResult<String> {
    serde_json::to_string(roles).map_err(|e| StoreError::Internal(format!("JSON: {e}")))
}

/// Stored roles.
pub fn roles_from_db(text: &str) -> StoreResult<Vec<Role>> {
    serde_json::from_str(text).map_err(corrupt)
}

/// The stage of a stored session (an unknown name is corrupt data).
pub fn stage_from_db(text: &str) -> StoreResult<crate::SessionStage> {
    crate::SessionStage::parse(text)
        .ok_or_else(|| StoreError::Internal(format!("unknown session stage `{text}`")))
}

/// A list of strings as a JSON array.
pub fn strings_to_db(items: &[String]) -> StoreResult<String> {
    serde_json::to_string(items).map_err(|e| StoreError::Internal(format!("JSON: {e}")))
}

/// A stored JSON array of strings.
pub fn strings_from_db(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(corrupt)
}

/// A stored JSON value.
pub fn json_from_db(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(corrupt)
}

/// Stored token claims.
pub fn opt_json_from_db(text: Option<&str>) -> StoreResult<Option<serde_json::Value>> {
    text.map(json_from_db).transpose()
}

/// A stored attempt count.
pub fn count_from_db(count: i64) -> StoreResult<u32> {
    u32::try_from(count).map_err(corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_to_the_nanosecond_and_refuse_what_does_not_fit() {
        let t = time::macros::datetime!(2025-03-01 10:00:00.123_456_789 UTC);
        assert_eq!(ts_from_db(ts_to_db(t).unwrap()).unwrap(), t);
        let far = time::macros::datetime!(2300-01-01 0:00 UTC);
        assert!(matches!(ts_to_db(far), Err(StoreError::Internal(_))));
        assert_eq!(seq_to_db(u64::MAX), i64::MAX);
        assert!(seq_from_db(-1).is_err());
        assert!(roles_from_db("not json").is_err());
    }
}
