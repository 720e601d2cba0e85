//! TOTP second factor (RFC 6238, docs/design.md §3.3): HMAC-SHA1, 30-second steps, 6 digits, the
//! previous, current and next step accepted; and the recovery codes' shape.
//!
//! Pure: the time is a parameter and nothing here draws randomness or touches a store.
//! Invariant: a code is accepted only for a step later than the last step used by the same
//! factor, so a code, once used, cannot be replayed (the store records the step atomically).

use totp_rs::{Builder, Totp};

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: u8 = 6;
/// Bytes of secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes issued at confirmation.
pub const RECOVERY_CODES: usize = 10;

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_digits(DIGITS)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_issuer(Some("portcullis"))
        .with_account_name(account.replace(':', "_"))
        .build()
        .ok()
}

/// Why a code was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Not a code of this secret around `now`.
    Wrong,
    /// A code of a step already used (or older): a replay.
    Replayed,
}

/// The step `code` belongs to, if it is a code of `secret` within one step of `now` and later
/// than `last_used_step`.
pub fn check_code(
    secret: &[u8],
    code: &str,
    now_unix: u64,
    last_used_step: u64,
) -> Result<u64, CodeRefusal> {
    let code = code.trim();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeRefusal::Wrong);
    }
    let step = totp(secret, "")
        .and_then(|t| t.check(code, now_unix))
        .ok_or(CodeRefusal::Wrong)?;
    if step <= last_used_step {
        return Err(CodeRefusal::Replayed);
    }
    Ok(step)
}

/// The code of `secret` at `at_unix` (tests, and enrollment examples).
pub fn code_at(secret: &[u8], at_unix: u64) -> String {
    totp(secret, "").map_or_else(String::new, |t| t.generate(at_unix).to_string())
}

/// The `otpauth://` URI an authenticator app reads (issuer `portcullis`).
pub fn otpauth_uri(secret: &[u8], account: &str) -> Option<String> {
    totp(secret, account)?.to_url().ok()
}

/// The base32 form of a secret, as authenticator apps take it typed in.
pub fn secret_base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret.to_vec()).to_base32()
}

/// The bytes of a base32 secret (as an enrollment shows it); `None` when it is not base32.
pub fn secret_from_base32(text: &str) -> Option<Vec<u8>> {
    totp_rs::Secret::try_from_base32(text)
        .ok()
        .map(|s| s.as_ref().to_vec())
}

/// A recovery code as typed by a user, normalized for hashing: case, spaces and dashes do not
/// matter.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1, last 6 of the 8 digits.
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(SECRET, time), code, "t = {time}");
        }
    }

    #[test]
    fn window_and_replay() {
        let now = 1_234_567_890;
        let step = now / STEP_SECONDS;
        for offset in [-30i64, 0, 30] {
            let code = code_at(SECRET, now.saturating_add_signed(offset));
            assert_eq!(
                check_code(SECRET, &code, now, 0),
                Ok(step.saturating_add_signed(offset / 30))
            );
        }
        for far in [-60i64, 60, 3600] {
            let code = code_at(SECRET, now.saturating_add_signed(far));
            assert_eq!(check_code(SECRET, &code, now, 0), Err(CodeRefusal::Wrong));
        }
        let code = code_at(SECRET, now);
        assert_eq!(
            check_code(SECRET, &code, now, step),
            Err(CodeRefusal::Replayed)
        );
        assert_eq!(check_code(SECRET, &code, now, step - 1), Ok(step));
        for bad in ["", "12345", "1234567", "12a456", "abcdef"] {
            assert_eq!(check_code(SECRET, bad, now, 0), Err(CodeRefusal::Wrong));
        }
        assert_eq!(check_code(SECRET, &format!(" {code} "), now, 0), Ok(step));
    }

    #[test]
    fn uri_and_recovery_codes() {
        let uri = otpauth_uri(SECRET, "alice@acme").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/portcullis:alice%40acme?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", secret_base32(SECRET))));
        assert_eq!(secret_from_base32(&secret_base32(SECRET)).unwrap(), SECRET);
        assert_eq!(normalize_recovery_code("AbCd-12 34"), "abcd1234");
    }
}
