//! Reactions: what a reaction may be (one emoji, or a `:short_code:`), and how a message carries
//! them (a count per kind, and whether the caller is among those who chose it).

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Distinct kinds of reaction one message may carry.
pub const MAX_KINDS: usize = 50;
/// The longest `short_code` between the colons.
pub const MAX_SHORT_CODE: usize = 32;

/// A reaction kind: one emoji (a single grapheme cluster: `👍`, `👍🏽`, `🇫🇷`, `👩‍💻`, `1️⃣`)
/// or a `:short_code:` of 1 to 32 characters `[a-z0-9_+-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reaction(String);

impl Reaction {
    pub fn parse(s: &str) -> Result<Self, AppError> {
        let refuse = || AppError::field("reaction", "one emoji, or a :short_code: of 1 to 32 characters [a-z0-9_+-]");
        if let Some(code) = s.strip_prefix(':').and_then(|s| s.strip_suffix(':')) {
            let ok = (1..=MAX_SHORT_CODE).contains(&code.len())
                && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_+-".contains(&b));
            return if ok { Ok(Self(s.to_owned())) } else { Err(refuse()) };
        }
        if is_emoji(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(refuse())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A kind read back from the store, parsed when it was written.
    pub(crate) fn stored(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A reaction's schema: the emoji grammar below and the short code's rule, as one pattern
/// built from the tables the parser uses.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Reaction {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Reaction".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let class = |ranges: &[(u32, u32)]| format!("[{}]", crate::text::class(ranges.iter().copied()));
        let (p, x, e, ri) = (class(PICTOGRAPHS), class(JOINABLE), class(MODIFIERS), class(&[REGIONAL]));
        let pattern = format!(
            "^([0-9#*]\\uFE0F?\\u20E3|{ri}{{1,2}}|{p}{e}*|{x}{e}*(\\u200D{x}{e}*)+|:[a-z0-9_+-]{{1,{MAX_SHORT_CODE}}}:)$"
        );
        schemars::json_schema!({
            "type": "string",
            "pattern": pattern,
            "description": "One emoji (👍, 👍🏽, 🇫🇷, 👩‍💻, 1️⃣: a pictograph with its modifiers, a ZWJ sequence of them, a flag or a keycap; always a single grapheme cluster) or a `:short_code:` of 1 to 32 characters `[a-z0-9_+-]`; anything else is 400.",
            "examples": ["👍", ":tada:"],
        })
    }
}

impl std::fmt::Display for Reaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Pictographs: the blocks where Unicode places emoji (no emoji table is carried; these are
/// enough to refuse letters, punctuation and invisible text). Regional indicators apart.
const PICTOGRAPHS: &[(u32, u32)] = &[
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x2190, 0x21FF),
    (0x2300, 0x23FF),
    (0x24C2, 0x24C2),
    (0x25AA, 0x25FE),
    (0x2600, 0x27BF),
    (0x2934, 0x2935),
    (0x2B00, 0x2BFF),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),
    (0x3299, 0x3299),
    (0x1F000, 0x1F1E5),
    (0x1F200, 0x1FAFF),
];
/// Pictographs that a zero-width joiner may join (Unicode `Extended_Pictographic`, so that the
/// sequence stays one grapheme cluster): the emoji blocks and the symbols ZWJ sequences use
/// (♀ ♂ ⚕ ⚖ ✈ ☠ ❄ ❤ ➡ ⬛).
const JOINABLE: &[(u32, u32)] = &[
    (0x2620, 0x2620),
    (0x2640, 0x2640),
    (0x2642, 0x2642),
    (0x2695, 0x2696),
    (0x2708, 0x2708),
    (0x2744, 0x2744),
    (0x2764, 0x2764),
    (0x27A1, 0x27A1),
    (0x2B1B, 0x2B1B),
    (0x1F300, 0x1F321),
    (0x1F324, 0x1F393),
    (0x1F39E, 0x1F3F0),
    (0x1F3F3, 0x1F3F5),
    (0x1F3F7, 0x1F3FA),
    (0x1F400, 0x1F4FD),
    (0x1F4FF, 0x1F53D),
    (0x1F5E8, 0x1F5E8),
    (0x1F5FA, 0x1F64F),
    (0x1F680, 0x1F6C5),
    (0x1F90C, 0x1F93A),
    (0x1F93C, 0x1F945),
    (0x1F947, 0x1F9FF),
    (0x1FA70, 0x1FAFF),
];
/// What may follow a pictograph in its cluster: the emoji presentation selector, skin tones,
/// and tags (subdivision flags).
const MODIFIERS: &[(u32, u32)] = &[(0xFE0F, 0xFE0F), (0x1F3FB, 0x1F3FF), (0xE0020, 0xE007F)];
/// Regional indicators: two make a flag.
const REGIONAL: (u32, u32) = (0x1F1E6, 0x1F1FF);
const ZWJ: char = '\u{200D}';

fn in_table(c: char, table: &[(u32, u32)]) -> bool {
    table.iter().any(|&(lo, hi)| (lo..=hi).contains(&u32::from(c)))
}

/// One emoji, by the grammar the schema states: a keycap (`[0-9#*]`, `FE0F`?, `20E3`), one or
/// two regional indicators, a pictograph with its modifiers, or joinable pictographs with
/// their modifiers joined by ZWJ. Each form is one grapheme cluster (a test holds it to the
/// segmentation rules).
fn is_emoji(s: &str) -> bool {
    let cs: Vec<char> = s.chars().collect();
    let keycap_base = |c: &char| c.is_ascii_digit() || matches!(c, '#' | '*');
    let regional = |c: &char| in_table(*c, &[REGIONAL]);
    match cs.as_slice() {
        [k, '\u{FE0F}', '\u{20E3}'] | [k, '\u{20E3}'] if keycap_base(k) => return true,
        [a] | [a, _] if cs.iter().all(regional) && regional(a) => return true,
        _ => {}
    }
    // Pictographs and their modifiers, split at the joiners.
    let parts: Vec<&[char]> = cs.split(|c| *c == ZWJ).collect();
    let part_ok = |part: &[char], table: &[(u32, u32)]| match part.split_first() {
        Some((first, rest)) => in_table(*first, table) && rest.iter().all(|c| in_table(*c, MODIFIERS)),
        None => false,
    };
    match parts.as_slice() {
        [one] => part_ok(one, PICTOGRAPHS),
        many => many.iter().all(|p| part_ok(p, JOINABLE)),
    }
}

/// One kind of reaction on a message: how many chose it, and whether the caller did.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionCount {
    pub reaction: Reaction,
    pub count: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mine: bool,
}

/// The attribute of a message item that counts a kind (a top-level number, so that DynamoDB's
/// `ADD` keeps it exact under concurrent reactions).
pub fn count_attribute(kind: &Reaction) -> String {
    format!("{COUNT_PREFIX}{kind}")
}

pub const COUNT_PREFIX: &str = "r:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_emoji_the_grammar_admits_is_one_grapheme_cluster() {
        use unicode_segmentation::UnicodeSegmentation;
        let one = |s: &str| s.graphemes(true).count() == 1;
        let chars = |table: &[(u32, u32)]| {
            table.iter().flat_map(|&(lo, hi)| lo..=hi).filter_map(char::from_u32).collect::<Vec<_>>()
        };
        for p in chars(PICTOGRAPHS) {
            let s = format!("{p}\u{FE0F}\u{1F3FD}");
            assert!(is_emoji(&s) && one(&s), "U+{:04X}", p as u32);
        }
        for x in chars(JOINABLE) {
            let s = format!("{x}\u{FE0F}{ZWJ}{x}\u{1F3FB}{ZWJ}\u{1F4BB}");
            assert!(is_emoji(&s) && one(&s), "U+{:04X} joined", x as u32);
        }
        for (a, b) in [(0x1F1E6, 0x1F1FF), (0x1F1EB, 0x1F1F7)] {
            let s: String = [a, b].into_iter().filter_map(char::from_u32).collect();
            assert!(is_emoji(&s) && one(&s));
        }
    }

    #[test]
    fn a_reaction_is_one_emoji_or_a_short_code() {
        for ok in [
            "👍",
            "👍🏽",
            "🇫🇷",
            "👩\u{200d}💻",
            "❤\u{fe0f}",
            "1\u{fe0f}\u{20e3}",
            "#\u{20e3}",
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",
            "\u{1F9D1}\u{200D}\u{2695}\u{FE0F}",
            "⭐",
            ":thumbs_up:",
            ":+1:",
            ":a-b_c+9:",
        ] {
            assert!(Reaction::parse(ok).is_ok(), "{ok:?}");
        }
        let long = format!(":{}:", "a".repeat(33));
        for bad in [
            "",
            "a",
            "ab",
            "👍👍",
            "🇫🇷🇫",
            "a\u{20E3}",
            "👍\u{200D}",
            "\u{2190}\u{200D}\u{2190}",
            "👍 ",
            " 👍",
            "::",
            ":Thumbs:",
            ":a b:",
            ":é:",
            "\u{200b}",
            "1",
            "#",
            "<b>",
            long.as_str(),
            ":x",
            "x:",
        ] {
            assert!(Reaction::parse(bad).is_err(), "{bad:?}");
        }
    }
}
