//! Reactions: what a reaction may be (one emoji, or a `:short_code:`), and how a message carries
//! them (a count per kind, and whether the caller is among those who chose it).

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

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
        let mut clusters = s.graphemes(true);
        match (clusters.next(), clusters.next()) {
            (Some(one), None) if is_emoji(one) => Ok(Self(s.to_owned())),
            _ => Err(refuse()),
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

/// A reaction's schema: the short code's rule is a pattern; an emoji's (one grapheme cluster of
/// pictographs) is beyond JSON Schema, so it is stated in the description.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Reaction {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Reaction".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_SHORT_CODE + 2,
            "description": "One emoji (a single grapheme cluster: 👍, 👍🏽, 🇫🇷, 👩‍💻) or a `:short_code:` of 1 to 32 characters `[a-z0-9_+-]`; anything else is 400.",
            "examples": ["👍", ":tada:"],
        })
    }
}

impl std::fmt::Display for Reaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A cluster made of emoji code points and the joiners, modifiers and selectors that combine
/// them; a digit, `#` or `*` only as a keycap. No emoji table is carried: the blocks where
/// Unicode places pictographs are enough to refuse letters, punctuation and invisible text.
fn is_emoji(cluster: &str) -> bool {
    let pictograph = |c: char| {
        matches!(u32::from(c),
            0x1F000..=0x1FAFF      // symbols and pictographs, emoticons, transport, flags' letters
            | 0x2600..=0x27BF      // miscellaneous symbols, dingbats
            | 0x2300..=0x23FF      // ⌚ ⏰ …
            | 0x2B00..=0x2BFF      // ⬆ ⭐ …
            | 0x2190..=0x21FF      // arrows
            | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2
            | 0x25AA..=0x25FE | 0x2934 | 0x2935)
    };
    let combining = |c: char| matches!(u32::from(c), 0x200D | 0xFE0F | 0x20E3 | 0xE0020..=0xE007F);
    let keycap = cluster.ends_with('\u{20E3}')
        && cluster.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '#' || c == '*');
    let chars_ok = cluster.chars().enumerate().all(|(i, c)| pictograph(c) || combining(c) || (keycap && i == 0));
    chars_ok && cluster.chars().any(|c| pictograph(c) || keycap)
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
    fn a_reaction_is_one_emoji_or_a_short_code() {
        for ok in [
            "👍",
            "👍🏽",
            "🇫🇷",
            "👩\u{200d}💻",
            "❤\u{fe0f}",
            "1\u{fe0f}\u{20e3}",
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
