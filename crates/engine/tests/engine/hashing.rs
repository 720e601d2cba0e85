//! Hashing: both algorithms, re-hash detection, dummy hashes, no truncation.

use argon2::password_hash::PasswordHash;
use portcullis_engine::hashing::{HashError, HashParams, Hasher, PasswordHashing, can_hash_with};
use portcullis_model::HashAlgorithm::{self, Argon2id, Bcrypt};

fn cheap() -> Hasher {
    Hasher::new(HashParams::insecure_for_tests()).unwrap()
}

#[test]
fn defaults_are_the_designed_costs() {
    let p = HashParams::default();
    assert_eq!(
        (
            p.argon2_memory_kib,
            p.argon2_iterations,
            p.argon2_parallelism,
            p.bcrypt_cost
        ),
        (19_456, 2, 1, 12)
    );
}

#[test]
fn both_algorithms_verify_and_reject() {
    let h = cheap();
    for alg in [Argon2id, Bcrypt] {
        let stored = h.hash(alg, "correct horse").unwrap();
        assert!(h.verify("correct horse", &stored).unwrap(), "{alg:?}");
        assert!(!h.verify("correct horsE", &stored).unwrap(), "{alg:?}");
        assert!(!h.verify("", &stored).unwrap(), "{alg:?}");
        assert_ne!(stored, h.hash(alg, "correct horse").unwrap(), "salted");
    }
    assert!(
        h.hash(Argon2id, "x")
            .unwrap()
            .starts_with("$argon2id$v=19$m=64,t=1,p=1$")
    );
    assert!(h.hash(Bcrypt, "x").unwrap().starts_with("$2b$04$"));
}

#[test]
fn verification_reads_parameters_from_the_hash() {
    let stored = cheap().hash(Argon2id, "pw").unwrap();
    let other = Hasher::new(HashParams {
        argon2_memory_kib: 128,
        argon2_iterations: 2,
        ..HashParams::insecure_for_tests()
    })
    .unwrap();
    assert!(other.verify("pw", &stored).unwrap());
}

#[test]
fn bcrypt_never_truncates() {
    let h = cheap();
    let seventy_two = "a".repeat(72);
    let stored = h.hash(Bcrypt, &seventy_two).unwrap();
    assert!(h.verify(&seventy_two, &stored).unwrap());
    assert!(
        !h.verify(&format!("{seventy_two}b"), &stored).unwrap(),
        "73 bytes must not match 72"
    );
    assert!(matches!(
        h.hash(Bcrypt, &"a".repeat(73)),
        Err(HashError::TooLongForBcrypt)
    ));
}

#[test]
fn rehash_is_needed_when_algorithm_or_cost_differs() {
    let h = cheap();
    let argon = h.hash(Argon2id, "pw").unwrap();
    let bcrypt = h.hash(Bcrypt, "pw").unwrap();
    assert!(!h.needs_rehash(&argon, Argon2id));
    assert!(!h.needs_rehash(&bcrypt, Bcrypt));
    assert!(h.needs_rehash(&argon, Bcrypt));
    assert!(h.needs_rehash(&bcrypt, Argon2id));
    let stronger = Hasher::new(HashParams {
        argon2_memory_kib: 128,
        bcrypt_cost: 5,
        ..HashParams::insecure_for_tests()
    })
    .unwrap();
    assert!(stronger.needs_rehash(&argon, Argon2id));
    assert!(stronger.needs_rehash(&bcrypt, Bcrypt));
    assert!(h.needs_rehash("garbage", Argon2id));
    assert!(h.needs_rehash("garbage", Bcrypt));
}

#[test]
fn unknown_formats_are_errors_not_mismatches() {
    let h = cheap();
    for stored in [
        "",
        "plain",
        "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$2b$zz$x",
    ] {
        assert!(
            matches!(h.verify("pw", stored), Err(HashError::UnknownFormat)),
            "{stored}"
        );
    }
    assert!(matches!(
        Hasher::new(HashParams {
            bcrypt_cost: 3,
            ..HashParams::default()
        }),
        Err(HashError::InvalidParams(_))
    ));
}

/// The dummy hash costs what a real one costs because it is made with exactly the configured
/// parameters (asserted here on the real defaults); the timing figures are in docs/benchmarks.md.
#[test]
fn dummy_hash_has_the_configured_cost_and_never_matches() {
    let h = Hasher::new(HashParams::default()).unwrap();
    let argon = h.dummy_hash(Argon2id);
    let parsed = PasswordHash::new(argon).unwrap();
    let params = argon2::Params::try_from(&parsed).unwrap();
    assert_eq!(
        (params.m_cost(), params.t_cost(), params.p_cost()),
        (19_456, 2, 1)
    );
    assert!(!h.needs_rehash(argon, Argon2id));
    assert_eq!(h.dummy_hash(Argon2id), argon, "made once, with the hasher");
    assert!(!h.verify("", argon).unwrap());

    let cheap = cheap();
    for alg in [Argon2id, Bcrypt] {
        let dummy = cheap.dummy_hash(alg);
        assert!(!cheap.needs_rehash(dummy, alg), "{alg:?}");
        for guess in ["", "password", "0000000000000000"] {
            assert!(!cheap.verify(guess, dummy).unwrap());
        }
    }
    assert!(h.dummy_hash(HashAlgorithm::Bcrypt).starts_with("$2b$12$"));
}

#[test]
fn bcrypt_takes_at_most_72_bytes_argon2id_any() {
    let long = "é".repeat(37); // 74 bytes, 37 characters
    assert!(can_hash_with(&"a".repeat(72), Bcrypt));
    assert!(!can_hash_with(&long, Bcrypt));
    assert!(can_hash_with(&long, Argon2id));
}
