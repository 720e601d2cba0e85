//! The stable violation codes of policy validation. Clients match on these strings: add new
//! codes freely, never rename or reuse one. (Password-check codes live in the engine.)

/// A number outside its documented range; params `min`, `max`.
pub const OUT_OF_RANGE: &str = "value.out_of_range";
/// A text longer than allowed; param `max` (Unicode code points).
pub const TOO_LONG: &str = "value.too_long";
/// A required text is empty.
pub const REQUIRED: &str = "value.required";
/// A list with more entries than allowed; param `max`.
pub const TOO_MANY: &str = "list.too_many";
/// The same entry appears twice in a list that must not repeat; param `value`.
pub const DUPLICATE: &str = "list.duplicate";
/// Not an IP address or CIDR network; param `value`.
pub const INVALID_IP: &str = "ip.invalid";
/// An identifier outside `[A-Za-z0-9._-]{1,64}`.
pub const INVALID_ID: &str = "id.invalid";
/// The JSON has the wrong shape (type, unknown field); the message says what serde found.
pub const INVALID_JSON: &str = "value.invalid";
/// `min_length` is greater than `max_length`.
pub const MIN_LENGTH_EXCEEDS_MAX: &str = "password_policy.min_length_exceeds_max_length";
/// The per-class minimums cannot fit in `max_length`; params `required`, `max_length`.
pub const CLASS_MINIMUMS_EXCEED_MAX: &str = "password_policy.class_minimums_exceed_max_length";
/// `bcrypt` reads at most 72 bytes, so `max_length` must be at most 72; param `max`.
pub const BCRYPT_MAX_LENGTH: &str = "password_policy.bcrypt_max_length";
/// `expire_warn_days` must be below `max_age_days` when expiration is on.
pub const WARN_EXCEEDS_MAX_AGE: &str = "password_policy.warn_days_exceed_max_age";
/// A list of password policies must have exactly one default; param `found`.
pub const DEFAULT_COUNT: &str = "password_policies.default_count";
/// `tenant_settings` is larger than allowed when serialized; param `max_bytes`.
pub const TOO_LARGE: &str = "value.too_large";
/// A JSON value nests deeper than its field allows.
pub const TOO_DEEP: &str = "value.too_deep";

/// Every code above, so tests can prove each one is produced by some rule.
pub const ALL: &[&str] = &[
    OUT_OF_RANGE,
    TOO_LONG,
    REQUIRED,
    TOO_MANY,
    DUPLICATE,
    INVALID_IP,
    INVALID_ID,
    INVALID_JSON,
    TOO_DEEP,
    MIN_LENGTH_EXCEEDS_MAX,
    CLASS_MINIMUMS_EXCEED_MAX,
    BCRYPT_MAX_LENGTH,
    WARN_EXCEEDS_MAX_AGE,
    DEFAULT_COUNT,
    TOO_LARGE,
];
