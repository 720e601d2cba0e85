//! Pure helpers for the k-anonymity range API, the one HIBP serves and a self-hosted mirror
//! serves the same way: `GET {base}/range/{PREFIX}` answers every breached hash that starts with
//! the 5 hexadecimal digits `PREFIX`, one `SUFFIX:COUNT` line each (the other 35 digits, upper
//! case, `\r\n` line ends), possibly with padding lines of count 0 mixed in. Only the prefix
//! leaves the caller; the password and its full hash never do.
//!
//! This module neither makes the request nor knows HTTP: the caller sends
//! [`prefix_and_suffix`]'s prefix and hands the body to [`count_in_range_body`].

use crate::{Error, hex, line, password_sha1};

/// The SHA-1 of the password's UTF-8 bytes as upper-case hexadecimal, split into the 5-digit
/// prefix to request and the 35-digit suffix to look for in the answer.
pub fn prefix_and_suffix(password: &str) -> (String, String) {
    let mut prefix = hex::encode_upper(&password_sha1(password));
    let suffix = prefix.split_off(5);
    (prefix, suffix)
}

/// How many times `suffix` (35 hexadecimal digits, either case) was seen according to a range
/// response `body`: its count, or 0 when it is absent or only present as padding (count 0).
///
/// Every line is checked: a body with a malformed line is an error even when the suffix was
/// found before it, since a damaged answer should not be half-trusted. Blank lines and `\r\n`
/// line ends are accepted. A count beyond `u32::MAX` reads as `u32::MAX`.
pub fn count_in_range_body(body: &str, suffix: &str) -> Result<u32, Error> {
    if suffix.len() != 35 || !suffix.bytes().all(|c| hex::nibble(c).is_some()) {
        return Err(Error::InvalidSuffix {
            len: suffix.chars().count(),
        });
    }
    let mut found = 0u32;
    for (index, text) in body.split('\n').enumerate() {
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.is_empty() {
            continue;
        }
        let parsed = line::parse(text.as_bytes(), 35).map_err(|reason| Error::RangeBody {
            line: index as u64 + 1,
            reason,
        })?;
        if found == 0 && parsed.count > 0 && parsed.hex.eq_ignore_ascii_case(suffix.as_bytes()) {
            found = u32::try_from(parsed.count).unwrap_or(u32::MAX);
        }
    }
    Ok(found)
}
