//! The engine's one integration-test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod counter_props;
mod hashing;
mod ip_block;
mod lifetimes;
mod login;
mod password_check;
mod support;
