//! `cargo bench -p portcullis-engine`: password-policy check throughput (blocklist and account
//! attributes on, no hashing) and hash cost at the default parameters. Figures go to
//! docs/benchmarks.md; targets are compared there, never asserted in tests.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis_engine::blocklist;
use portcullis_engine::hashing::{HashParams, Hasher, PasswordHashing};
use portcullis_engine::password_check::{AccountContext, check_rules};
use portcullis_model::{HashAlgorithm, PasswordPolicy};

/// Typical candidates, 12–20 code points: some pass, some hit the blocklist or a class rule.
const PASSWORDS: [&str; 8] = [
    "Tr0ub4dor&3xyz",
    "correcthorsebattery",
    "Summer2026!Summer",
    "qwertyuiop123",
    "N0t-In-Any-List!",
    "alice-was-here-42",
    "passwordpassword",
    "Zebra#Lantern7Mug",
];

fn policy_check(c: &mut Criterion) {
    blocklist::preload();
    let policy = PasswordPolicy {
        min_length: 12,
        min_uppercase: 1,
        min_digits: 1,
        max_repeated_chars: 3,
        ..PasswordPolicy::default()
    };
    let account = AccountContext::new(
        "alice",
        Some("alice.smith@example.com"),
        Some("Alice Smith"),
    );
    let mut group = c.benchmark_group("password_check");
    group.throughput(Throughput::Elements(PASSWORDS.len() as u64));
    group.bench_function("8 typical passwords, blocklist on", |b| {
        b.iter(|| {
            for pw in PASSWORDS {
                black_box(check_rules(&policy, black_box(pw), &account));
            }
        })
    });
    group.finish();
}

fn hashing(c: &mut Criterion) {
    let hasher = Hasher::new(HashParams::default()).unwrap();
    let mut group = c.benchmark_group("hash_default_params");
    group.sample_size(10);
    for (name, alg) in [
        ("argon2id m=19MiB t=2 p=1", HashAlgorithm::Argon2id),
        ("bcrypt cost 12", HashAlgorithm::Bcrypt),
    ] {
        let stored = hasher.hash(alg, "Zebra#Lantern7Mug").unwrap();
        group.bench_function(format!("{name}: verify"), |b| {
            b.iter(|| {
                hasher
                    .verify(black_box("Zebra#Lantern7Mug"), &stored)
                    .unwrap()
            })
        });
        let dummy = hasher.dummy_hash(alg).to_owned();
        group.bench_function(format!("{name}: verify dummy (unknown user)"), |b| {
            b.iter(|| {
                hasher
                    .verify(black_box("Zebra#Lantern7Mug"), &dummy)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, policy_check, hashing);
criterion_main!(benches);
