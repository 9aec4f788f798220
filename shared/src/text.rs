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

/// Unicode `White_Space` (what `char::is_whitespace` and `str::trim` go by), as ranges: the
/// schema patterns are built from it (`whitespace_table_is_char_is_whitespace` holds it to std).
pub const WHITESPACE: &[(u32, u32)] = &[
    (0x09, 0x0D),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
];

/// Characters other than whitespace that render as nothing by themselves: Unicode `Cf`
/// (format), the fillers and blanks that fonts draw empty, and variation selectors.
pub const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x0600, 0x0605),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
];

/// Control characters (Unicode `Cc`), and those a multi-line text keeps (tab, LF, CR).
pub const CONTROL: &[(u32, u32)] = &[(0x00, 0x1F), (0x7F, 0x9F)];
pub const MULTI_LINE_KEPT: [char; 3] = ['\t', '\n', '\r'];

fn in_table(c: char, table: &[(u32, u32)]) -> bool {
    table.iter().any(|&(lo, hi)| (lo..=hi).contains(&(c as u32)))
}

/// Characters that render as nothing by themselves: whitespace and `INVISIBLE`.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace() || in_table(c, INVISIBLE)
}

/// A control character this kind of text may not hold.
fn is_refused_control(c: char, lines: Lines) -> bool {
    c.is_control() && !(lines == Lines::Multi && MULTI_LINE_KEPT.contains(&c))
}

/// True when something in `s` would be drawn.
pub fn renders(s: &str) -> bool {
    s.chars().any(|c| !is_invisible(c) && !c.is_control())
}

/// Parses a text of `min..=max` characters under the rule above; single-line texts are trimmed.
/// `min` 0 allows an empty text (clearing an optional field); a non-empty one must render.
/// The error names the field and the rule, never the value.
pub fn parse(field: &str, s: &str, min: usize, max: usize, lines: Lines) -> Result<String, AppError> {
    // The whitespace around a single-line text is trimmed, but counts towards `max` as the
    // schema's `maxLength` counts it: a text too long as sent is refused, whatever it trims to.
    let too_long = s.chars().nth(max).is_some();
    let s = if lines == Lines::Single { s.trim() } else { s };
    let n = s.chars().count();
    if s.chars().any(|c| is_refused_control(c, lines)) {
        let allowed = if lines == Lines::Multi { " other than tab and newline" } else { "" };
        return Err(AppError::field(field, format!("control characters{allowed} are not allowed")));
    }
    if too_long || n < min || (n > 0 && !renders(s)) {
        let what = if min == 0 { format!("at most {max} characters") } else { format!("{min} to {max} characters") };
        return Err(AppError::field(field, format!("{what}, with at least one visible character")));
    }
    Ok(s.to_owned())
}

/// The inside of a pattern's character class holding `ranges` (`\uXXXX` escapes in the BMP;
/// other characters as themselves, which schema tools' regex engines read alike).
#[cfg(feature = "schema")]
pub fn class(ranges: impl IntoIterator<Item = (u32, u32)>) -> String {
    let one = |c: u32| match char::from_u32(c) {
        Some(c) if c as u32 > 0xFFFF => c.to_string(),
        _ => format!("\\u{c:04X}"),
    };
    ranges.into_iter().map(|(lo, hi)| if lo == hi { one(lo) } else { format!("{}-{}", one(lo), one(hi)) }).collect()
}

/// The JSON Schema of such a text (`min..=max` characters): the same tables as `parse`, as
/// a pattern. Single-line texts may have whitespace around them (trimmed; counted by
/// `maxLength` and the parser alike).
#[cfg(feature = "schema")]
pub fn schema(min: usize, max: usize, lines: Lines) -> schemars::Schema {
    let refused: Vec<(u32, u32)> = match lines {
        Lines::Single => CONTROL.to_vec(),
        // Cc less tab, LF, CR: 00-08, 0B-0C, 0E-1F, 7F-9F.
        Lines::Multi => vec![(0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F)],
    };
    let allowed = format!("[^{}]*", class(refused.iter().copied()));
    let visible = format!("[^{}]", class(CONTROL.iter().chain(WHITESPACE).chain(INVISIBLE).copied()));
    let rendered = format!("{allowed}{visible}{allowed}");
    // A single-line text is trimmed first: whitespace around it (control characters among it,
    // as U+000C) is never refused, only what is inside.
    let around = match lines {
        Lines::Single => format!("[{}]*", class(WHITESPACE.iter().copied())),
        Lines::Multi => String::new(),
    };
    let pattern = match (min, lines) {
        (0, Lines::Single) => format!("^{around}({rendered})?{around}$"),
        (0, Lines::Multi) => format!("^([{}]*|{rendered})$", class(WHITESPACE.iter().copied())),
        _ => format!("^{around}{rendered}{around}$"),
    };
    let rule = match lines {
        Lines::Single => "one line, no control characters; trimmed",
        Lines::Multi => "no control characters other than tab and newlines",
    };
    let mut schema = schemars::json_schema!({ "type": "string", "maxLength": max, "pattern": pattern });
    if min > 0 {
        schema.insert("minLength".into(), min.into());
    }
    let visible = if min == 0 { "empty, or with" } else { "with" };
    schema.insert(
        "description".into(),
        format!("{min} to {max} characters ({rule}), {visible} at least one visible character.").into(),
    );
    schema
}

/// `text::schema` as a type, for `#[schemars(with = "…")]` on a field parsed by `text::parse`.
pub struct Text<const MIN: usize, const MAX: usize, const MULTI: bool>;

#[cfg(feature = "schema")]
impl<const MIN: usize, const MAX: usize, const MULTI: bool> schemars::JsonSchema for Text<MIN, MAX, MULTI> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Text_{MIN}_{MAX}_{MULTI}").into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schema(MIN, MAX, if MULTI { Lines::Multi } else { Lines::Single })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn whitespace_table_is_char_is_whitespace() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(super::in_table(c, super::WHITESPACE), c.is_whitespace(), "{:X}", c as u32);
            assert_eq!(super::in_table(c, super::CONTROL), c.is_control(), "{:X}", c as u32);
        }
    }

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
    fn a_text_longer_than_its_limit_as_sent_is_refused_whatever_it_trims_to() {
        // As the schema's `maxLength` counts: 11 characters, 10 allowed.
        assert!(parse("company", &"\u{85}".repeat(11), 0, 10, Lines::Single).is_err());
        assert!(parse("company", " Acme      ", 0, 10, Lines::Single).is_err());
        assert_eq!(parse("company", &"\u{85}".repeat(10), 0, 10, Lines::Single).unwrap(), "");
    }

    #[test]
    fn the_error_never_contains_the_value() {
        let e = parse("text", "secret\u{0}", 1, 100, Lines::Multi).unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }
}
