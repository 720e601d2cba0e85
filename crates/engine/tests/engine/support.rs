//! Shared helpers: a fixed start instant and seconds-based time.

use portcullis_model::Timestamp;

pub(crate) const T0: Timestamp = time::macros::datetime!(2026-11-23 09:00 UTC);

pub(crate) fn at(seconds: i64) -> Timestamp {
    T0 + time::Duration::seconds(seconds)
}

pub(crate) fn ip(text: &str) -> std::net::IpAddr {
    text.parse().unwrap()
}
