//! The server's one end-to-end test binary: the real server on port 0, a fresh SQLite file per
//! test, a manual clock (nothing sleeps), and the real binary where a process must be killed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod api;
mod breached;
mod cli;
mod compliance;
mod config;
mod crash;
mod dialect_wire;
mod dialects;
mod enforcement;
mod instance_keys;
mod ip_block;
mod isolation;
mod lifetimes;
mod lockout;
mod mail;
mod mfa;
mod openapi;
mod policy_document;
mod probe_counters;
mod probe_http;
mod probe_selfsvc;
mod replicas;
mod revocation;
mod roundtrip;
mod smtp_sink;
mod support;
mod sweeps;
mod validation;
mod vendor_clients;
mod web;
mod zitadel_rpc;
