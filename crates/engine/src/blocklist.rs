//! The shipped list of common passwords (30,000 entries from zxcvbn's `passwords` list, MIT;
//! provenance in `data/README.md`), compiled into the binary and loaded once.
//!
//! Invariant: entries are lowercase, unique and sorted, so membership is a binary search over a
//! compact slice of `&'static str` pointing into the embedded text (no per-entry allocation).

use std::sync::OnceLock;

static RAW: &str = include_str!("../data/common-passwords.txt");

fn entries() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut list: Vec<&'static str> = RAW
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        list.sort_unstable();
        list.dedup();
        list
    })
}

/// Number of shipped entries.
pub fn common_password_count() -> usize {
    entries().len()
}

/// Loads the list now (the first check would otherwise pay for it).
pub fn preload() {
    let _ = entries();
}

/// Whether `lowercase_password` (already lowercased) is a shipped common password.
pub fn is_common_password(lowercase_password: &str) -> bool {
    entries().binary_search(&lowercase_password).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ships_at_least_ten_thousand_lowercase_entries() {
        assert!(
            common_password_count() >= 10_000,
            "{}",
            common_password_count()
        );
        assert!(entries().iter().all(|e| e.to_lowercase() == *e));
        for common in [
            "123456", "password", "qwerty", "iloveyou", "trustno1", "pic's",
        ] {
            assert!(is_common_password(common), "{common}");
        }
        assert!(!is_common_password("correct horse battery staple"));
    }
}
