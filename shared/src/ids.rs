//! Typed, time-ordered identifiers. Parsing is the only way in, so an id past the adapter is
//! always well-formed and of the right kind.

use std::fmt;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// `Display`, and the `String` conversions serde uses, of an id parsed by `Self::parse`.
macro_rules! string_id {
    ($name:ident, $what:expr) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("not a valid {}", $what))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

macro_rules! typed_id {
    ($name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, next_ulid()))
            }

            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?;
                Ulid::from_string(rest).ok()?;
                Some(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_id!($name, format!("{} id", $prefix));

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": format!("^{}{ULID_PATTERN}$", $prefix),
                    "description": format!("`{}` and a ULID.", $prefix),
                })
            }
        }
    };
}

/// A ULID as `Ulid::from_string` reads it: 26 Crockford base-32 digits, either case.
pub const ULID_PATTERN: &str = "[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}";

typed_id!(UserId, "usr_");
typed_id!(GroupId, "grp_");
typed_id!(TokenId, "tok_");
typed_id!(NotificationId, "ntf_");
typed_id!(DeviceId, "dev_");
typed_id!(UploadId, "upl_");
typed_id!(ReportId, "rpt_");
typed_id!(AuditId, "aud_");

/// A message: `msg_<ULID>.<conversation id>`. The conversation it carries makes a message
/// found by its id alone one `GetItem` in its conversation's partition (no index entry to
/// write with every message, no index's eventual consistency). `msg_<ULID>` alone is the form
/// minted before, still read (found through GSI1). Within a conversation ids sort by their
/// ULID, old and new forms alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageId(String);

impl MessageId {
    pub const PREFIX: &'static str = "msg_";
    const SEPARATOR: char = '.';

    /// A new id of a message of `conversation`.
    pub fn generate(conversation: &ConversationId) -> Self {
        Self(format!("{}{}{}{conversation}", Self::PREFIX, next_ulid(), Self::SEPARATOR))
    }

    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(Self::PREFIX)?;
        let (ulid, conversation) = match rest.split_once(Self::SEPARATOR) {
            Some((ulid, conversation)) => (ulid, Some(conversation)),
            None => (rest, None),
        };
        Ulid::from_string(ulid).ok()?;
        // Shaped like a direct conversation no pair has (what the schema's pattern admits):
        // well-formed, naming no conversation, so found nowhere (404, as for the conversation).
        if let Some(c) = conversation.filter(|c| !ConversationId::is_direct_shaped(c)) {
            ConversationId::parse(c)?;
        }
        Some(Self(s.to_owned()))
    }

    /// The conversation the id names; `None` for an id of the older form (or one naming a
    /// direct conversation no pair has).
    pub fn conversation(&self) -> Option<ConversationId> {
        let (_, c) = self.0.split_once(Self::SEPARATOR)?;
        ConversationId::parse(c)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id!(MessageId, "msg_ id");

#[cfg(feature = "schema")]
impl schemars::JsonSchema for MessageId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MessageId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let (prefix, direct, group) = (Self::PREFIX, ConversationId::DIRECT, GroupId::PREFIX);
        schemars::json_schema!({
            "type": "string",
            "pattern": format!("^{prefix}{ULID_PATTERN}(\\.({direct}{ULID_PATTERN}_{ULID_PATTERN}|{group}{ULID_PATTERN}))?$"),
            "description": format!("`{prefix}`, a ULID, `.` and the id of the message's conversation (`{prefix}` and a ULID alone: a message sent before ids carried their conversation)."),
        })
    }
}

/// A WebSocket connection, as API Gateway names it (opaque, e.g. `Conn1234AbCd=`): not minted
/// here, so any non-empty string API Gateway gives is one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Monotonic within the process, so ids minted in the same millisecond still sort by creation.
fn next_ulid() -> Ulid {
    use std::sync::Mutex;
    static GEN: Mutex<Option<ulid::Generator>> = Mutex::new(None);
    let mut guard = GEN.lock().unwrap_or_else(|e| e.into_inner());
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    generator.generate().unwrap_or_else(|_| Ulid::generate())
}

/// A conversation: a direct conversation between two users (its id is derived from the pair,
/// so there is exactly one per pair by construction), or a group/channel (`grp_…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConversationId(String);

impl ConversationId {
    pub const DIRECT: &'static str = "dm_";

    pub fn direct(a: &UserId, b: &UserId) -> Self {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        Self(format!(
            "{}{}_{}",
            Self::DIRECT,
            &lo.as_str()[UserId::PREFIX.len()..],
            &hi.as_str()[UserId::PREFIX.len()..]
        ))
    }

    pub fn group(id: &GroupId) -> Self {
        Self(id.as_str().to_owned())
    }

    pub fn parse(s: &str) -> Option<Self> {
        if let Some(rest) = s.strip_prefix(Self::DIRECT) {
            let (a, b) = rest.split_once('_')?;
            let (a, b) = (Ulid::from_string(a).ok()?, Ulid::from_string(b).ok()?);
            (a < b).then(|| Self(s.to_owned()))
        } else {
            GroupId::parse(s).map(|g| Self::group(&g))
        }
    }

    /// A conversation id a request names in `field`: 400 when malformed; 404 when shaped like
    /// a direct conversation no pair has (`is_direct_shaped`), as for any missing conversation.
    pub fn from_request(field: &str, s: &str) -> Result<Self, crate::error::AppError> {
        Self::parse(s).ok_or_else(|| match Self::is_direct_shaped(s) {
            true => crate::error::AppError::not_found("conversation"),
            false => crate::error::AppError::field(field, "not a conversation id"),
        })
    }

    /// `dm_<ULID>_<ULID>`, in any order: what the schema's pattern admits (it cannot order them).
    pub fn is_direct_shaped(s: &str) -> bool {
        s.strip_prefix(Self::DIRECT)
            .and_then(|rest| rest.split_once('_'))
            .is_some_and(|(a, b)| Ulid::from_string(a).is_ok() && Ulid::from_string(b).is_ok())
    }

    /// The two members of a direct conversation.
    pub fn direct_members(&self) -> Option<(UserId, UserId)> {
        let (a, b) = self.0.strip_prefix(Self::DIRECT)?.split_once('_')?;
        Some((UserId(format!("usr_{a}")), UserId(format!("usr_{b}"))))
    }

    pub fn is_direct(&self) -> bool {
        self.0.starts_with(Self::DIRECT)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id!(ConversationId, "conversation id");

#[cfg(feature = "schema")]
impl schemars::JsonSchema for ConversationId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ConversationId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let (direct, group) = (Self::DIRECT, GroupId::PREFIX);
        schemars::json_schema!({
            "type": "string",
            "pattern": format!("^({direct}{ULID_PATTERN}_{ULID_PATTERN}|{group}{ULID_PATTERN})$"),
            "description": format!("A direct conversation (`{direct}<lower user ULID>_<higher user ULID>`: the two users' ULIDs in order) or a group/channel (`{group}…`)."),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_minted_in_sequence_sort_in_sequence() {
        let conv = ConversationId::group(&GroupId::generate());
        let ids: Vec<_> = (0..1000).map(|_| MessageId::generate(&conv)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_message_id_names_its_conversation_and_sorts_with_the_older_form() {
        let conv = ConversationId::direct(&UserId::generate(), &UserId::generate());
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
        let older = format!("msg_{}", Ulid::from_datetime(earlier));
        let id = MessageId::generate(&conv);
        assert_eq!(MessageId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.conversation(), Some(conv.clone()));
        let older = MessageId::parse(&older).unwrap();
        assert_eq!(older.conversation(), None);
        assert!(older < id);
        // The conversation part must be one; a direct one's users out of order is well-formed
        // (the schema cannot order them) but names no conversation.
        let (lo, hi) = conv.as_str()[3..].split_once('_').unwrap();
        let ulid = &id.as_str()[4..30];
        let unordered = MessageId::parse(&format!("msg_{ulid}.dm_{hi}_{lo}")).expect("well-formed");
        assert_eq!(unordered.conversation(), None);
        assert!(MessageId::parse(&format!("msg_{ulid}.")).is_none());
        assert!(MessageId::parse(&format!("msg_{ulid}.usr_{lo}")).is_none());
        assert!(MessageId::parse(&format!("msg_{ulid}.grp_{lo}x")).is_none());
    }

    #[test]
    fn an_id_of_another_kind_does_not_parse() {
        let user = UserId::generate();
        assert!(MessageId::parse(user.as_str()).is_none());
        assert!(UserId::parse("usr_not-a-ulid").is_none());
        assert_eq!(UserId::parse(user.as_str()), Some(user));
    }

    #[test]
    fn a_direct_conversation_id_is_the_same_from_either_side() {
        let (a, b) = (UserId::generate(), UserId::generate());
        let id = ConversationId::direct(&a, &b);
        assert_eq!(id, ConversationId::direct(&b, &a));
        assert_eq!(ConversationId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.direct_members(), Some((a, b)));
    }

    #[test]
    fn a_direct_conversation_id_with_unordered_members_does_not_parse() {
        let (a, b) = (UserId::generate(), UserId::generate());
        let id = ConversationId::direct(&a, &b);
        let (lo, hi) = id.as_str()[3..].split_once('_').unwrap();
        assert!(ConversationId::parse(&format!("dm_{hi}_{lo}")).is_none());
        assert!(ConversationId::parse(&format!("dm_{lo}_{lo}")).is_none());
    }
}
