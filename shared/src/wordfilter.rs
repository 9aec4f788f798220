//! The word filter (issue 17): lists of words, each with an action — refuse the message (400
//! `VALIDATION_ERROR`, reason `FILTERED_WORD`, the word never echoed) or mask it (the stored text
//! has the word's characters replaced by `*`). Applied on send and edit (`service::policy`).
//!
//! Matching runs on a normalized copy of the text that remembers, for each of its characters,
//! the original character it came from (so a mask covers what the sender typed):
//! - NFKC (compatibility forms: `ｂａｄ`, `𝐛𝐚𝐝`, ligatures), then accents dropped (`bäd`);
//! - format characters dropped (zero-width spaces and joiners, soft hyphens: `b\u{200B}ad`);
//! - lower case (Unicode, so `BAD` and `Bad` alike);
//! - common look-alikes: `0`→o, `1`/`|`/`!`→i or l, `3`→e, `4`/`@`→a, `5`/`$`→s, `7`→t, and the
//!   Cyrillic and Greek letters drawn like Latin ones.
//!
//! A word matches whole (not inside a longer word: "class" holds no "ass"), so ordinary words
//! are not hit for containing a listed one.
//!
//! Configuration (`CHAT_WORD_FILTER`, the stack's `WordFilter` parameter): lists separated by
//! `;`, each `refuse:` or `mask:` followed by comma-separated words, e.g.
//! `refuse:badword,worseword;mask:darn,heck`.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// What a list does with a message containing one of its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// 400: the message is not stored.
    Refuse,
    /// Stored with the word's characters replaced by `*`.
    Mask,
}

/// A normalized character that stands for either of two letters (`1`, `|`, `!`: i or l).
const I_OR_L: char = '\u{E000}';

#[derive(Debug, Clone, PartialEq, Eq)]
struct List {
    action: Action,
    /// Normalized, non-empty.
    words: Vec<Vec<char>>,
}

/// The configured lists; empty: nothing filtered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordFilter {
    lists: Vec<List>,
}

/// What the filter made of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing listed: the text as sent.
    Clean,
    /// A word of a refusing list.
    Refused,
    /// Words of masking lists, masked.
    Masked(String),
}

impl WordFilter {
    /// Parses `refuse:a,b;mask:c` (see the module's documentation); an empty spec filters nothing.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut lists = Vec::new();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (action, words) = part.split_once(':').ok_or_else(|| format!("`{part}` has no `refuse:`/`mask:`"))?;
            let action = match action.trim() {
                "refuse" => Action::Refuse,
                "mask" => Action::Mask,
                other => return Err(format!("unknown action `{other}` (refuse or mask)")),
            };
            let words: Vec<Vec<char>> = words
                .split(',')
                .map(|w| normalize(w.trim()).into_iter().map(|(c, _)| c).collect::<Vec<_>>())
                .filter(|w| !w.is_empty())
                .collect();
            if !words.is_empty() {
                lists.push(List { action, words });
            }
        }
        Ok(Self { lists })
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// The verdict on `text`: refused when any refusing word is in it, else masked where masking
    /// words are, else clean.
    pub fn check(&self, text: &str) -> Verdict {
        if self.lists.is_empty() {
            return Verdict::Clean;
        }
        let normalized = normalize(text);
        let chars: Vec<char> = normalized.iter().map(|(c, _)| *c).collect();
        let mut masked: Vec<(usize, usize)> = Vec::new();
        for list in &self.lists {
            for word in &list.words {
                for (start, end) in matches(&chars, word) {
                    if list.action == Action::Refuse {
                        return Verdict::Refused;
                    }
                    masked.push((normalized[start].1, normalized[end - 1].1));
                }
            }
        }
        if masked.is_empty() {
            return Verdict::Clean;
        }
        let out = text
            .chars()
            .enumerate()
            .map(|(i, c)| if masked.iter().any(|(a, b)| (*a..=*b).contains(&i)) { '*' } else { c })
            .collect();
        Verdict::Masked(out)
    }
}

/// Where `word` occurs whole in `text` (normalized): `[start, end)` ranges.
fn matches(text: &[char], word: &[char]) -> Vec<(usize, usize)> {
    let same = |t: char, w: char| t == w || (t == I_OR_L && matches!(w, 'i' | 'l' | I_OR_L));
    // `!` after a word is punctuation, not a letter: an `I_OR_L` does not extend a word.
    let wordy = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric());
    let mut found = Vec::new();
    if word.len() > text.len() {
        return found;
    }
    for start in 0..=text.len() - word.len() {
        let end = start + word.len();
        if text[start..end].iter().zip(word).all(|(t, w)| same(*t, *w))
            && !wordy(start.checked_sub(1).and_then(|i| text.get(i)))
            && !wordy(text.get(end))
        {
            found.push((start, end));
        }
    }
    found
}

/// The text as the filter compares it, each character with the index (in characters) of the
/// original character it came from.
pub fn normalize(text: &str) -> Vec<(char, usize)> {
    let mut out = Vec::with_capacity(text.len());
    for (i, original) in text.chars().enumerate() {
        for c in std::iter::once(original).nfkc().flat_map(|c| std::iter::once(c).nfd()) {
            if is_combining_mark(c) || is_format(c) {
                continue;
            }
            for lower in c.to_lowercase() {
                out.push((look_alike(lower), i));
            }
        }
    }
    out
}

/// Invisible format characters used to split a word without changing how it looks.
fn is_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// The Latin letter a character is commonly written for.
fn look_alike(c: char) -> char {
    match c {
        '0' | 'о' | 'ο' => 'o',
        '1' | '|' | '!' => I_OR_L,
        'і' | 'ι' => 'i',
        '3' | 'е' | 'ε' => 'e',
        '4' | '@' | 'а' | 'α' => 'a',
        '5' | '$' | 'ѕ' => 's',
        '7' | 'т' | 'τ' => 't',
        '8' | 'в' | 'β' => 'b',
        'р' | 'ρ' => 'p',
        'с' => 'c',
        'у' | 'γ' => 'y',
        'х' | 'χ' => 'x',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'н' | 'η' => 'n',
        'ν' => 'v',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> String {
        normalize(text).into_iter().map(|(c, _)| if c == I_OR_L { '1' } else { c }).collect()
    }

    #[test]
    fn normalization_folds_compatibility_forms_case_and_accents() {
        assert_eq!(plain("ＢＡＤ"), "bad");
        assert_eq!(plain("𝐁𝐚𝐝"), "bad");
        assert_eq!(plain("ﬁne"), "fine");
        assert_eq!(plain("BäD"), "bad");
        assert_eq!(plain("b\u{0061}\u{0301}d"), "bad");
    }

    #[test]
    fn normalization_maps_look_alikes_to_letters() {
        assert_eq!(plain("h3ll0"), "hello");
        assert_eq!(plain("h3110"), "he11o", "1 stays ambiguous: i or l");
        assert_eq!(plain("@$$"), "ass");
        assert_eq!(plain("4"), "a");
        // Cyrillic а, е, о drawn as Latin letters.
        assert_eq!(plain("\u{0430}\u{0435}\u{043E}"), "aeo");
    }

    #[test]
    fn normalization_drops_invisible_format_characters() {
        assert_eq!(plain("b\u{200B}a\u{00AD}d"), "bad");
    }

    #[test]
    fn normalization_remembers_the_original_character_of_each() {
        let n = normalize("ﬁ x");
        assert_eq!(n.iter().map(|(_, i)| *i).collect::<Vec<_>>(), vec![0, 0, 1, 2]);
    }

    #[test]
    fn a_refused_word_is_found_behind_disguises() {
        let f = WordFilter::parse("refuse:spamword").unwrap();
        for text in ["spamword", "SPAMWORD now", "buy: Ｓｐａｍｗｏｒｄ!", "5p@mw0rd", "sp\u{200B}amword", "spämword"]
        {
            assert_eq!(f.check(text), Verdict::Refused, "{text}");
        }
    }

    #[test]
    fn one_stands_for_i_and_for_l() {
        let f = WordFilter::parse("refuse:kill,idiot").unwrap();
        assert_eq!(f.check("k1ll"), Verdict::Refused);
        assert_eq!(f.check("1d1ot"), Verdict::Refused);
    }

    #[test]
    fn a_word_inside_a_longer_word_is_not_a_match() {
        let f = WordFilter::parse("refuse:ass").unwrap();
        assert_eq!(f.check("a classic assessment"), Verdict::Clean);
        assert_eq!(f.check("what an ass."), Verdict::Refused);
    }

    #[test]
    fn masking_replaces_each_character_the_sender_typed() {
        let f = WordFilter::parse("mask:darn").unwrap();
        assert_eq!(f.check("oh DARN it, d4rn"), Verdict::Masked("oh **** it, ****".into()));
        assert_eq!(f.check("ｄａｒｎ!"), Verdict::Masked("****!".into()));
        assert_eq!(f.check("darnation"), Verdict::Clean);
    }

    #[test]
    fn refusing_wins_over_masking() {
        let f = WordFilter::parse("mask:darn; refuse:spamword").unwrap();
        assert_eq!(f.check("darn spamword"), Verdict::Refused);
    }

    #[test]
    fn the_configuration_is_parsed_or_refused() {
        assert!(WordFilter::parse("").unwrap().is_empty());
        assert!(WordFilter::parse(" ; ").unwrap().is_empty());
        assert!(WordFilter::parse("block:x").is_err());
        assert!(WordFilter::parse("x,y").is_err());
        let f = WordFilter::parse("refuse: a , b ;mask:c").unwrap();
        assert_eq!(f.lists.len(), 2);
        assert_eq!(f.lists[0].words.len(), 2);
    }
}
