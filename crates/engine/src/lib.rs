//! The pure enforcement engine of portcullis (docs/design.md §3).
//!
//! No IO, no clock: every function that depends on time takes `now`, and every state machine
//! takes its state and returns the new one with the events to record, so the store can apply a
//! transition atomically (one transaction holding the row lock). Password hashing is the one
//! CPU-heavy part; callers run it off their async threads.
//!
//! - [`password_check`]: every policy rule, all violations at once; [`blocklist`]: shipped list.
//! - [`password_age`]: expiry, warnings, minimum age.
//! - [`hashing`]: argon2id / bcrypt behind [`hashing::PasswordHashing`], dummy hashes.
//! - [`counter`]: the reservation-based attempt counter; [`lockout`] and [`ip_block`] on top.
//! - [`login`]: what a login with a verified password becomes; [`session`]; [`api_key`].

pub mod api_key;
pub mod blocklist;
pub mod counter;
pub mod hashing;
pub mod ip_block;
pub mod lockout;
pub mod login;
pub mod password_age;
pub mod password_check;
pub mod session;
pub mod time_math;
pub mod totp;
