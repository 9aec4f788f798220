//! The one rule for human-readable text (SPEC §7): what is refused and what is kept, in message
//! texts, notification texts, names, titles and profile fields alike.
//!
//! - Control characters (Unicode `Cc`: NUL, C0, DEL, C1) are refused, except tab, line feed and
//!   carriage return in multi-line texts (messages, notifications). Nothing is stripped
//!   silently: what is stored is what was sent.
//! - Format and other invisible characters (zero-width space and joiners, bidi marks, variation
//!   selectors, tags, fillers) are kept, since emoji sequences and right-to-left scripts need
//!   them, but they do not count as content: a text that renders as nothing (only whitespace
//!   and such characters) is refused.

use crate::error::AppError;

/// Single-line (names, titles, profile fields) or multi-line (message and notification texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Single,
    Multi,
}

/// Characters that render as nothing by themselves: Unicode `Cf` (format), the fillers and
/// blanks that fonts draw empty, and variation selectors.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c as u32,
            0x00AD | 0x034F | 0x061C | 0x0600..=0x0605 | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
            | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E
            | 0x2060..=0x206F | 0x2800 | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB
            | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
            | 0xE0000..=0xE007F | 0xE0100..=0xE01EF)
}

/// A control character this kind of text may not hold.
fn is_refused_control(c: char, lines: Lines) -> bool {
    c.is_control() && !(lines == Lines::Multi && matches!(c, '\t' | '\n' | '\r'))
}

/// True when something in `s` would be drawn.
pub fn renders(s: &str) -> bool {
    s.chars().any(|c| !is_invisible(c) && !c.is_control())
}

/// Parses a text of `min..=max` characters under the rule above; single-line texts are trimmed.
/// `min` 0 allows an empty text (clearing an optional field); a non-empty one must render.
/// The error names the field and the rule, never the value.
pub fn parse(field: &str, s: &str, min: usize, max: usize, lines: Lines) -> Result<String, AppError> {
    let s = if lines == Lines::Single { s.trim() } else { s };
    let n = s.chars().count();
    if s.chars().any(|c| is_refused_control(c, lines)) {
        let allowed = if lines == Lines::Multi { " other than tab and newline" } else { "" };
        return Err(AppError::field(field, format!("control characters{allowed} are not allowed")));
    }
    if n > max || n < min || (n > 0 && !renders(s)) {
        let what = if min == 0 { format!("at most {max} characters") } else { format!("{min} to {max} characters") };
        return Err(AppError::field(field, format!("{what}, with at least one visible character")));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_of_only_invisible_characters_is_refused() {
        for bad in ["\u{200B}", "\u{200B}\u{200D}\u{FEFF}", " \u{2060} ", "\u{3164}", "\u{2800}\n", "\u{E0041}"] {
            assert!(parse("text", bad, 1, 10, Lines::Multi).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn control_characters_are_refused_but_newlines_are_kept_in_messages() {
        assert!(parse("text", "a\u{0}b", 1, 10, Lines::Multi).is_err());
        assert!(parse("text", "a\u{7F}", 1, 10, Lines::Multi).is_err());
        assert!(parse("text", "a\u{85}", 1, 10, Lines::Multi).is_err());
        assert_eq!(parse("text", "a\nb\tc", 1, 10, Lines::Multi).unwrap(), "a\nb\tc");
        assert!(parse("name", "a\nb", 1, 10, Lines::Single).is_err());
    }

    #[test]
    fn emoji_sequences_and_bidi_marks_inside_visible_text_are_kept() {
        let family = "👨\u{200D}👩\u{200D}👧";
        assert_eq!(parse("text", family, 1, 20, Lines::Multi).unwrap(), family);
        assert!(parse("name", "\u{200F}שלום", 1, 20, Lines::Single).is_ok());
    }

    #[test]
    fn an_empty_optional_field_is_allowed_and_names_are_trimmed() {
        assert_eq!(parse("company", "", 0, 10, Lines::Single).unwrap(), "");
        assert_eq!(parse("company", "  Acme ", 0, 10, Lines::Single).unwrap(), "Acme");
        assert!(parse("company", "\u{200B}", 0, 10, Lines::Single).is_err());
    }

    #[test]
    fn the_error_never_contains_the_value() {
        let e = parse("text", "secret\u{0}", 1, 100, Lines::Multi).unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }
}
