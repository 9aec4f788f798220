//! Mentions: `@username` in a message's text (or ids given beside it) resolved to members of
//! the conversation. Resolution reads the names' locks in the send's first batch: no extra
//! round trip.

use crate::models::Username;

/// Users one message may mention (names and ids together); more are ignored.
pub const MAX_MENTIONS: usize = 20;

/// The usernames `@`-mentioned in `text`, lowercased, each once, at most `MAX_MENTIONS`. A
/// mention starts at an `@` that does not follow a name character (so `ann@example.com` is
/// not one) and runs over name characters; a trailing `.` or `-` ends the sentence, not the
/// name.
pub fn names_in(text: &str) -> Vec<String> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    let mut names: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '@' && !previous.is_some_and(name_char) {
            let rest = &text[i + 1..];
            let end = rest.find(|c: char| !name_char(c)).unwrap_or(rest.len());
            let name = rest[..end].trim_end_matches(['.', '-']);
            if let Ok(u) = Username::parse(name) {
                if !names.contains(&u.key()) && names.len() < MAX_MENTIONS {
                    names.push(u.key());
                }
            }
        }
        previous = Some(c);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_at_names_not_addresses() {
        assert_eq!(names_in("hi @Bob and @ann.lee, see @bob."), ["bob", "ann.lee"]);
        assert_eq!(names_in("mail ann@example.com or @x or @@carol"), ["carol"]);
        assert_eq!(names_in("(@dave) @eve-"), ["dave", "eve"]);
        assert!(names_in("no mentions @ all").is_empty());
        let many: String = (0..30).map(|i| format!("@user{i} ")).collect();
        assert_eq!(names_in(&many).len(), MAX_MENTIONS);
    }
}
