//! One `HEX:COUNT` line, as the downloader writes it and the range API serves it.
//!
//! The caller has already removed the line end (`\n`, and a `\r` before it). The hash part must
//! be exactly `hex_len` hexadecimal digits of either case; the count is 1 to 20 decimal digits
//! that fit in a `u64`. Nothing else is accepted: no spaces, no sign, no empty count.

/// A well-formed line: its hexadecimal part (validated) and its count.
pub(crate) struct HashLine<'a> {
    /// Exactly the requested number of hexadecimal digits, either case.
    pub(crate) hex: &'a [u8],
    /// The count; zero marks padding.
    pub(crate) count: u64,
}

/// Parses one line with a hash part of `hex_len` digits; the error says what is wrong.
pub(crate) fn parse(line: &[u8], hex_len: usize) -> Result<HashLine<'_>, String> {
    let Some(colon) = line.iter().position(|&c| c == b':') else {
        return Err(format!(
            "expected HASH:COUNT ({hex_len} hexadecimal digits, ':', a count)"
        ));
    };
    let (hex, rest) = (&line[..colon], &line[colon + 1..]);
    if hex.len() != hex_len {
        return Err(format!(
            "expected {hex_len} hexadecimal digits before ':', found {} characters",
            hex.len()
        ));
    }
    if let Some(at) = hex.iter().position(|&c| crate::hex::nibble(c).is_none()) {
        return Err(format!(
            "character {} of the hash is not a hexadecimal digit",
            at + 1
        ));
    }
    Ok(HashLine {
        hex,
        count: parse_count(rest)?,
    })
}

fn parse_count(digits: &[u8]) -> Result<u64, String> {
    if digits.is_empty() {
        return Err("the count after ':' is missing".to_owned());
    }
    let mut value: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err("the count after ':' is not a decimal number".to_owned());
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(|| "the count does not fit in 64 bits".to_owned())?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_lines() {
        let line = parse(b"00aBc:42", 5).unwrap();
        assert_eq!((line.hex, line.count), (&b"00aBc"[..], 42));
        assert_eq!(parse(b"00000:0", 5).unwrap().count, 0);
        assert_eq!(
            parse(b"00000:18446744073709551615", 5).unwrap().count,
            u64::MAX
        );
    }

    #[test]
    fn rejects_malformed_lines() {
        for (line, needle) in [
            (&b"00000"[..], "expected HASH:COUNT"),
            (b"0000:1", "found 4 characters"),
            (b"000000:1", "found 6 characters"),
            (b"000g0:1", "character 4"),
            (b"00000:", "missing"),
            (b"00000: 1", "not a decimal"),
            (b"00000:-1", "not a decimal"),
            (b"00000:1:2", "not a decimal"),
            (b"00000:18446744073709551616", "64 bits"),
        ] {
            let err = parse(line, 5).err().unwrap();
            assert!(err.contains(needle), "{line:?}: {err}");
        }
    }
}
