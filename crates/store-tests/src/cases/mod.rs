//! The conformance cases, one module per topic. Each case is an async function taking a fresh,
//! empty store; it panics (assertion failure) when the store breaks the port's contract.
//! [`conformance_tests!`](crate::conformance_tests) runs every one of them.

pub mod counters;
pub mod enforcement;
pub mod isolation;
pub mod logins_and_lookups;
pub mod mail;
pub mod mfa;
pub mod orgs_and_events;
pub mod passwords;
pub mod revocation;
pub mod sections;
pub mod sessions_and_keys;
pub mod users;
