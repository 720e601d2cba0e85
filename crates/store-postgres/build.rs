//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds the files at build time
//! but cannot tell cargo about them on stable Rust.

// Build scripts talk to cargo through stdout.
#![allow(clippy::print_stdout)]

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
