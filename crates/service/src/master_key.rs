//! The instance master key: seals the secrets the server must read back (access-key secrets,
//! needed to verify request signatures), with XChaCha20-Poly1305.
//!
//! Invariants: a sealed secret is `v1.` followed by hex of a random 24-byte nonce and the
//! ciphertext; the record id is bound as associated data, so a sealed value copied onto another
//! record does not open; the key itself is never logged (`Debug` shows nothing of it).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::secrets::{from_hex, hex};

const VERSION: &str = "v1.";
const NONCE_BYTES: usize = 24;

/// A 256-bit instance master key.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> MasterKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        MasterKey(bytes)
    }

    /// Parses 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Option<MasterKey> {
        let bytes = Zeroizing::new(from_hex(text.trim())?);
        let array: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(MasterKey(Zeroizing::new(array)))
    }

    /// The key as 64 hexadecimal digits (to write a generated key to its file).
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex(self.0.as_ref()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }

    /// Seals `secret` for the record `record_id`.
    pub fn seal(&self, record_id: &str, secret: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: record_id.as_bytes(),
                },
            )
            .ok()?;
        Some(format!("{VERSION}{}{}", hex(&nonce), hex(&sealed)))
    }

    /// A keyed digest (HMAC-SHA256, hex) of `data` for `context`: what is stored of secrets that
    /// are only ever compared (recovery codes), so a copy of the database alone cannot test
    /// guesses against them.
    pub fn digest(&self, context: &str, data: &str) -> String {
        use hmac::{Hmac, Mac};
        let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.0.as_ref()) else {
            return String::new();
        };
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(data.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Opens what [`MasterKey::seal`] made for `record_id`; `None` when the key, the record or
    /// the text do not match.
    pub fn open(&self, record_id: &str, sealed: &str) -> Option<Zeroizing<String>> {
        let bytes = from_hex(sealed.strip_prefix(VERSION)?)?;
        if bytes.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: record_id.as_bytes(),
                    },
                )
                .ok()?,
        );
        String::from_utf8(plain.to_vec()).ok().map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let key = MasterKey::generate();
        let sealed = key.seal("AK1", "s3cret").unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("s3cret"));
        assert_eq!(key.open("AK1", &sealed).unwrap().as_str(), "s3cret");
        // Another record, another key, a flipped byte or garbage: nothing opens.
        assert!(key.open("AK2", &sealed).is_none());
        assert!(MasterKey::generate().open("AK1", &sealed).is_none());
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert!(
            key.open("AK1", &String::from_utf8(flipped).unwrap())
                .is_none()
        );
        assert!(key.open("AK1", "v1.zz").is_none());
        assert!(key.open("AK1", "v2.00").is_none());
        // Two seals of one secret differ (random nonce).
        assert_ne!(key.seal("AK1", "s3cret").unwrap(), sealed);
    }

    #[test]
    fn hex_form_round_trips_and_is_checked() {
        let key = MasterKey::generate();
        let again = MasterKey::from_hex(&key.to_hex()).unwrap();
        let sealed = key.seal("r", "x").unwrap();
        assert_eq!(again.open("r", &sealed).unwrap().as_str(), "x");
        assert!(MasterKey::from_hex("abcd").is_none());
        assert!(MasterKey::from_hex(&"g".repeat(64)).is_none());
        assert!(format!("{key:?}").contains(".."));
        // Digests depend on the key, the context and the data.
        let d = key.digest("ctx", "data");
        assert_eq!(d.len(), 64);
        assert_eq!(again.digest("ctx", "data"), d);
        assert_ne!(key.digest("ctx2", "data"), d);
        assert_ne!(key.digest("ctx", "data2"), d);
        assert_ne!(MasterKey::generate().digest("ctx", "data"), d);
    }
}
