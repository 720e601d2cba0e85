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

/// Unicode's `Default_Ignorable_Code_Point` property (DerivedCoreProperties.txt, Unicode 15).
fn is_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
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
}
