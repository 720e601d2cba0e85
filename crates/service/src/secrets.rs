//! Random identifiers and bearer secrets, and how secrets are stored.
//!
//! Invariants: tokens carry 256 random bits from the OS, except the secrets of Scaleway-shaped
//! keys, random version-4 UUIDs with 122 (docs/decisions/0015-scaleway-shaped-keys.md); only
//! their SHA-256 digest is stored or compared; comparisons of secret material are constant-time.
//! Prefixes tell the token kind apart without a database lookup (`pcs_` session, anything else
//! an API key: `pck_…` or a UUID).

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of session tokens.
pub const SESSION_PREFIX: &str = "pcs_";
/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "pck_";

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Bytes from hexadecimal digits (either case); `None` for an odd length or another character.
pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn digit(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex(&buf)
}

/// A new random id (128 bits) with a readable prefix, e.g. `usr_3f…`.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_hex(16))
}

/// A new bearer token with 256 random bits.
pub(crate) fn new_token(prefix: &str) -> String {
    format!("{prefix}{}", random_hex(32))
}

/// Prefix of the ids of Scaleway-shaped keys.
pub const SCALEWAY_KEY_ID_PREFIX: &str = "SCW";

/// A new Scaleway-shaped key id: `SCW` and 17 characters of the upper-case base32 alphabet
/// (85 random bits, so ids do not collide; an id is no secret).
pub(crate) fn new_scaleway_key_id() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut buf = [0u8; 17];
    OsRng.fill_bytes(&mut buf);
    let mut id = String::with_capacity(20);
    id.push_str(SCALEWAY_KEY_ID_PREFIX);
    // 256 is a multiple of 32: every character is equally likely.
    id.extend(
        buf.iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 31)])),
    );
    id
}

/// A new random version-4 UUID, lower-case and hyphenated: 122 random bits from the OS (the
/// other 6 are the version and variant).
pub(crate) fn new_uuid_secret() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A new request id (for requests that came without a usable one): unique in this process and,
/// with its random per-process prefix, across replicas. Not a secret, so no system call per id.
pub fn new_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| random_hex(4));
    format!("{prefix}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A random 64-bit number (reservation ids).
pub(crate) fn random_u64() -> u64 {
    OsRng.next_u64()
}

/// The stored form of a token: hex SHA-256.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two secrets (or digests).
pub(crate) fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = new_token(SESSION_PREFIX);
        let b = new_token(SESSION_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), SESSION_PREFIX.len() + 64);
        assert_eq!(token_hash("abc").len(), 64);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(secrets_equal(&token_hash(&a), &token_hash(&a)));
        assert!(!secrets_equal(&token_hash(&a), &token_hash(&b)));
    }

    #[test]
    fn scaleway_shapes() {
        let id = new_scaleway_key_id();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("SCW"));
        assert!(
            id[3..]
                .bytes()
                .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
        );
        assert_ne!(id, new_scaleway_key_id());
        let uuid = new_uuid_secret();
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(uuid.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
        assert!(!uuid.bytes().any(|c| c.is_ascii_uppercase()));
        assert!(groups[2].starts_with('4'), "version 4: {uuid}");
        assert!("89ab".contains(&groups[3][..1]), "RFC 9562 variant: {uuid}");
        assert_ne!(uuid, new_uuid_secret());
    }
}
