//! Login and display names: the one comparison form of a login name, and the code points no
//! name may hold.
//!
//! The comparison form follows RFC 8265's UsernameCaseMapped rules, applied to each
//! space-separated part of the name (RFC 8265 §3.5 lets an application allow spaces that way):
//! surrounding white space removed, fullwidth and halfwidth forms mapped to their ordinary
//! width, Unicode lower case (`toLowerCase`), then NFC. `JOSÉ`, `josé` (NFC), `jose\u{301}`
//! (NFD) and `ｊｏｓé` are one name.
//!
//! Invariant: a name holding a control character, a default-ignorable code point (zero-width
//! spaces and joiners, soft hyphen, variation selectors, tags…) or a bidirectional control
//! (`U+202E` and its kin, all default-ignorable) is refused wherever a name is written, so no
//! two names look alike only through invisible characters, and none is made of them alone.

use unicode_normalization::UnicodeNormalization;

/// The comparison form of a login name (see the module header).
pub fn normalize_login(login: &str) -> String {
    let mapped: String = login.trim().chars().flat_map(width_mapped).collect();
    mapped.to_lowercase().nfc().collect()
}

/// The comparison form stored before the current profile (trim and lower case only). Names
/// whose two forms differ (fullwidth or decomposed input) are looked up by both, so users
/// created before the profile keep logging in.
pub fn legacy_login_key(login: &str) -> String {
    login.trim().to_lowercase()
}

/// A fullwidth or halfwidth form as its ordinary-width character (its compatibility
/// decomposition, which for these blocks is exactly the width mapping); others unchanged.
fn width_mapped(c: char) -> Vec<char> {
    if matches!(c, '\u{3000}' | '\u{FF01}'..='\u{FFEE}') {
        std::iter::once(c).nfkc().collect()
    } else {
        vec![c]
    }
}

/// Whether `c` may not appear in a name: a control character or a default-ignorable code point
/// (Unicode's `Default_Ignorable_Code_Point`, which holds every bidirectional control).
pub fn forbidden_in_name(c: char) -> bool {
    c.is_control() || is_default_ignorable(c)
}

/// Unicode's `Default_Ignorable_Code_Point` property (DerivedCoreProperties.txt, Unicode 15), as
/// inclusive ranges.
const DEFAULT_IGNORABLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// The control characters (`char::is_control`: Unicode's `Cc`).
const CONTROL: &[(char, char)] = &[('\u{0000}', '\u{001F}'), ('\u{007F}', '\u{009F}')];

/// The white space `str::trim` removes (`char::is_whitespace`: Unicode's `White_Space`).
const WHITE_SPACE: &[(char, char)] = &[
    ('\u{0009}', '\u{000D}'),
    ('\u{0020}', '\u{0020}'),
    ('\u{0085}', '\u{0085}'),
    ('\u{00A0}', '\u{00A0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200A}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202F}', '\u{202F}'),
    ('\u{205F}', '\u{205F}'),
    ('\u{3000}', '\u{3000}'),
];

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

fn is_default_ignorable(c: char) -> bool {
    in_ranges(DEFAULT_IGNORABLE, c)
}

/// The regular expression (JSON Schema's `pattern`) of a text no name rule refuses: no code
/// point [`forbidden_in_name`] refuses and, when `non_blank`, at least one that is not white
/// space (the text is trimmed before it is checked for emptiness). Code points of the Basic
/// Multilingual Plane are written `\uXXXX`; the others as themselves, which a regular-expression
/// engine that reads code points (Python's, ECMAScript's with the `u` flag) takes as one.
pub fn name_text_pattern(non_blank: bool) -> String {
    fn push(out: &mut String, c: char) {
        if u32::from(c) <= 0xFFFF {
            out.push_str(&format!("\\u{:04X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    fn class(out: &mut String, ranges: &[&[(char, char)]]) {
        out.push_str("[^");
        for (lo, hi) in ranges.iter().flat_map(|r| r.iter()) {
            push(out, *lo);
            if lo != hi {
                out.push('-');
                push(out, *hi);
            }
        }
        out.push(']');
    }
    let mut allowed = String::new();
    class(&mut allowed, &[CONTROL, DEFAULT_IGNORABLE]);
    if !non_blank {
        return format!("^{allowed}*$");
    }
    let mut visible = String::new();
    class(&mut visible, &[CONTROL, DEFAULT_IGNORABLE, WHITE_SPACE]);
    format!("^{allowed}*{visible}{allowed}*$")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_form_for_case_width_and_composition() {
        let nfc = "jos\u{e9}";
        let nfd = "jose\u{301}";
        assert_eq!(normalize_login(nfd), nfc);
        assert_eq!(normalize_login("  JOS\u{c9} "), nfc);
        assert_eq!(normalize_login("\u{ff4a}\u{ff4f}\u{ff53}\u{e9}"), nfc);
        assert_eq!(normalize_login("ÉVE"), "éve");
        assert_eq!(normalize_login("Alice Smith"), "alice smith");
        assert_eq!(normalize_login("a|b%c"), "a|b%c");
        assert_eq!(legacy_login_key(" ÉVE "), "éve");
    }

    #[test]
    fn invisible_and_bidi_code_points_are_refused() {
        for c in [
            '\u{200B}', '\u{200D}', '\u{00AD}', '\u{202E}', '\u{2066}', '\u{FEFF}', '\n',
        ] {
            assert!(forbidden_in_name(c), "{:?}", c);
        }
        for c in ['a', 'é', ' ', '|', '%', 'ß', '中'] {
            assert!(!forbidden_in_name(c), "{:?}", c);
        }
    }

    #[test]
    fn the_tables_are_the_properties_they_name() {
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            assert_eq!(in_ranges(CONTROL, c), c.is_control(), "{c:?}");
            assert_eq!(in_ranges(WHITE_SPACE, c), c.is_whitespace(), "{c:?}");
        }
    }

    #[test]
    fn the_pattern_names_every_forbidden_range() {
        let pattern = name_text_pattern(false);
        assert!(
            pattern.starts_with("^[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD"),
            "{pattern}"
        );
        assert!(pattern.contains("\\u202A-\\u202E"), "{pattern}");
        assert!(pattern.contains("\u{E0000}-\u{E0FFF}"), "{pattern}");
        assert!(pattern.ends_with("]*$"), "{pattern}");
        let blank = name_text_pattern(true);
        assert!(blank.contains("\\u0009-\\u000D\\u0020"), "{blank}");
        assert_eq!(blank.matches("[^").count(), 3);
    }
}
