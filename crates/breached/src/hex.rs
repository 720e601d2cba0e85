//! Hexadecimal text, both cases in, upper case out.

/// Each byte's value as a hexadecimal digit, [`INVALID`] for a byte that is none.
const VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};
const INVALID: u8 = 0xff;

/// The value of one hexadecimal digit, either case.
pub(crate) fn nibble(c: u8) -> Option<u8> {
    match VALUES[usize::from(c)] {
        INVALID => None,
        value => Some(value),
    }
}

/// Decodes exactly 40 hexadecimal digits into a SHA-1 digest; `None` if any is not a digit.
pub(crate) fn decode_sha1(text: &[u8; 40]) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (hi, lo) = (VALUES[usize::from(pair[0])], VALUES[usize::from(pair[1])]);
        // An invalid digit is 0xff: its high bits survive the OR and are checked once at the end.
        invalid |= (hi | lo) & 0xf0;
        *byte = hi << 4 | (lo & 0x0f);
    }
    (invalid == 0).then_some(out)
}

/// Upper-case hexadecimal text of `bytes`.
pub(crate) fn encode_upper(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_both_cases() {
        let text = *b"000102030405060708090A0B0C0D0E0FfaFbfCfd";
        let bytes = decode_sha1(&text).unwrap();
        assert_eq!(bytes[15], 0x0f);
        assert_eq!(bytes[16..], [0xfa, 0xfb, 0xfc, 0xfd]);
        assert_eq!(
            encode_upper(&bytes),
            "000102030405060708090A0B0C0D0E0FFAFBFCFD"
        );
        let mut bad = text;
        bad[7] = b'g';
        assert_eq!(decode_sha1(&bad), None);
        for c in 0..=255u8 {
            let expected = char::from(c).to_digit(16).map(|d| d as u8);
            assert_eq!(nibble(c), expected, "{c}");
        }
    }
}
