//! Domain types. Inputs are parsed into newtypes once (`Username::parse`, …); the rest of the
//! code never re-validates.

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::text::{self, Lines};

pub const MAX_MESSAGE_CHARS: usize = 4000;
pub const MAX_PAGE: u32 = 100;
pub const DEFAULT_PAGE: u32 = 50;

/// A `?limit=` page size: 1 to `MAX_PAGE`, or none given.
pub fn parse_limit(limit: Option<&str>) -> Result<Option<u32>, AppError> {
    let valid = |l: &str| l.parse().ok().filter(|n| (1..=MAX_PAGE).contains(n));
    limit.map(|l| valid(l).ok_or_else(|| AppError::field("limit", format!("1 to {MAX_PAGE}")))).transpose()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Username(String);

/// The schema of a user named by id or username (for `#[schemars(with = …)]`).
pub struct UserRef;

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 32;
    /// The characters of a username besides ASCII letters and digits.
    pub const PUNCTUATION: [char; 3] = ['_', '.', '-'];

    pub fn parse(s: &str) -> Result<Self, AppError> {
        let s = s.trim();
        let ok_len = (Self::MIN..=Self::MAX).contains(&s.chars().count());
        let ok_chars = s.chars().all(|c| c.is_ascii_alphanumeric() || Self::PUNCTUATION.contains(&c));
        if !ok_len || !ok_chars {
            return Err(AppError::field("username", "3 to 32 letters, digits, '_', '.' or '-'"));
        }
        // Requests name users by id or by username (seed 000), ids first: no name may read as one.
        if UserId::parse(s).is_some() || ConversationId::parse(s).is_some() {
            return Err(AppError::field("username", "must not be shaped like an id"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Uniqueness is case-insensitive.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub const MAX: usize = 254;

    pub fn parse(s: &str) -> Result<Self, AppError> {
        let s = s.trim();
        let valid = s.chars().count() <= Self::MAX
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.split('.').count() >= 2
                    && domain.split('.').all(|p| !p.is_empty())
            });
        if !valid {
            return Err(AppError::field("email", "not a valid email address"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A plaintext password on its way to argon2. Never serialized, never logged.
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    pub fn parse(s: &str) -> Result<Self, AppError> {
        if !(Self::MIN..=Self::MAX).contains(&s.chars().count()) {
            return Err(AppError::field("password", "must be 8 to 128 characters"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(s: &str) -> Result<Self, AppError> {
        text::parse("text", s, 1, MAX_MESSAGE_CHARS, Lines::Multi).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The profile fields' bounds (characters), as `Profile::parse` checks them.
pub const FIRST_NAME_MAX: usize = 64;
pub const LAST_NAME_MAX: usize = 64;
pub const FULL_NAME_MAX: usize = 128;
pub const COMPANY_MAX: usize = 100;
pub const PHONE_MAX: usize = 32;
pub const PROFILE_PICTURE_MAX: usize = 2048;
pub const GENDER_MAX: usize = 32;

/// A free-text profile field with a length bound (`crate::text`: single line, trimmed, visible).
pub fn bounded(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, AppError> {
    value.map(|v| text::parse(field, &v, 0, max, Lines::Single)).transpose()
}

/// The optional profile fields, as stored and as given at registration or in an update (where
/// `None` leaves a field as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub profile_picture: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
}

impl Profile {
    /// Every field within its length bound (and trimmed), or a 400 naming the field.
    pub fn parse(self) -> Result<Self, AppError> {
        Ok(Self {
            first_name: bounded("firstName", self.first_name, FIRST_NAME_MAX)?,
            last_name: bounded("lastName", self.last_name, LAST_NAME_MAX)?,
            company: bounded("company", self.company, COMPANY_MAX)?,
            phone: bounded("phone", self.phone, PHONE_MAX)?,
            profile_picture: bounded("profilePicture", self.profile_picture, PROFILE_PICTURE_MAX)?,
            gender: bounded("gender", self.gender, GENDER_MAX)?,
        })
    }

    /// The fields `patch` sets replace these.
    pub fn apply(&mut self, patch: Profile) {
        let Profile { first_name, last_name, company, phone, profile_picture, gender } = patch;
        for (field, value) in [
            (&mut self.first_name, first_name),
            (&mut self.last_name, last_name),
            (&mut self.company, company),
            (&mut self.phone, phone),
            (&mut self.profile_picture, profile_picture),
            (&mut self.gender, gender),
        ] {
            if value.is_some() {
                *field = value;
            }
        }
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Admin,
}

/// A stored user. `password_hash` and `tokens_valid_after` never leave the service layer:
/// responses use `UserView`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(flatten)]
    pub profile: Profile,
    #[serde(default)]
    pub is_onboarding_completed: bool,
    pub role: Role,
    pub created_at: String,
    pub updated_at: String,
    pub password_hash: String,
    /// Tokens whose `jti` sorts before this are invalid (set on password change).
    #[serde(default)]
    pub tokens_valid_after: Option<String>,
    /// Suspended by a moderator (`service::moderation`) until this time (ISO, as `clock::iso`),
    /// or for good (`SUSPENDED_FOR_GOOD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_until: Option<String>,
}

/// `suspendedUntil` of a suspension without an end.
pub const SUSPENDED_FOR_GOOD: &str = "forever";

impl User {
    /// The suspension in force at `now_iso`, if any: `Some(until)`, `until` being `None` for good.
    pub fn suspension(&self, now_iso: &str) -> Option<Option<String>> {
        match self.suspended_until.as_deref() {
            Some(SUSPENDED_FOR_GOOD) => Some(None),
            Some(until) if until > now_iso => Some(Some(until.to_owned())),
            _ => None,
        }
    }
}

impl User {
    /// A user with only the required fields; the profile fields start empty.
    pub fn new(username: &str, password_hash: String, role: Role, now: &str) -> Self {
        Self {
            id: UserId::generate(),
            username: username.to_owned(),
            email: None,
            profile: Profile::default(),
            is_onboarding_completed: false,
            role,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            password_hash,
            tokens_valid_after: None,
            suspended_until: None,
        }
    }
}

/// How much of a user the caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Other users: id, username, names, picture.
    Public,
    /// Self and admins: every field but secrets.
    Private,
}

impl User {
    pub fn view(&self, visibility: Visibility) -> UserView {
        let p = &self.profile;
        let private = (visibility == Visibility::Private).then(|| PrivateFields {
            email: self.email.clone(),
            company: p.company.clone(),
            phone: p.phone.clone(),
            gender: p.gender.clone(),
            is_onboarding_completed: self.is_onboarding_completed,
            role: self.role,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        });
        UserView {
            id: self.id.clone(),
            username: self.username.clone(),
            first_name: p.first_name.clone(),
            last_name: p.last_name.clone(),
            profile_picture: p.profile_picture.clone(),
            private,
        }
    }
}

/// A user as clients see them: the public fields (absent ones as `null`), and for self and
/// admins (`Visibility::Private`) the others, secrets excepted.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: UserId,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub profile_picture: Option<String>,
    #[serde(flatten)]
    pub private: Option<PrivateFields>,
}

/// The fields only the user and admins see, beside the public ones.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateFields {
    pub email: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub gender: Option<String>,
    pub is_onboarding_completed: bool,
    pub role: Role,
    pub created_at: String,
    pub updated_at: String,
}

/// Who a deleted user's messages and memberships are attributed to.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct DeletedUser {
    pub id: UserId,
    /// Always `deleted-user`.
    pub username: &'static str,
    /// Always `true`.
    pub deleted: bool,
}

impl DeletedUser {
    pub fn new(id: &UserId) -> Self {
        Self { id: id.clone(), username: "deleted-user", deleted: true }
    }
}

/// A user shown in full: as they are, or as deleted.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Person {
    #[cfg_attr(feature = "schema", schemars(with = "PublicUser"))]
    User(Box<UserView>),
    Deleted(DeletedUser),
}

/// A user as others see them (`Visibility::Public`, the only way a `Person` shows a user): the
/// schema of those fields of `UserView`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename_all = "camelCase"))]
#[allow(dead_code)]
pub struct PublicUser {
    id: UserId,
    username: String,
    first_name: Option<String>,
    last_name: Option<String>,
    profile_picture: Option<String>,
}

impl Person {
    /// `user` publicly, or the deleted user `id` when it is gone.
    pub fn public(id: &UserId, user: Option<&User>) -> Self {
        user.map_or_else(|| Self::Deleted(DeletedUser::new(id)), |u| Self::User(Box::new(u.view(Visibility::Public))))
    }
}

/// What a notification is about (its `type`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NotificationKind {
    /// Sent by an admin (`POST /api/notifications`).
    Admin,
    AddedToGroup,
    RemovedFromGroup,
    /// A direct message the user was not connected (or was busy) to see live.
    Message,
    /// Live only, on leaving `busy`: the conversations with unread messages.
    MissedMessages,
    /// A message mentioned the user: stored and pushed, also when they are busy.
    Mention,
}

/// A message, as stored and as sent to clients.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub text: String,
    /// Position in the conversation (1, 2, …): unread counts are differences of positions.
    pub seq: i64,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// When the sender last rewrote the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// The kinds of reaction with a count, most chosen first (none on a deleted message). Not
    /// stored as such: gathered from the item's counters (`repo::messages`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<crate::reactions::ReactionCount>,
    /// The members the message mentions (by `@username` in the text, or by id beside it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    /// A thread reply: the root message of its thread (one level deep: a reply to a reply
    /// attaches to the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<MessageId>,
    /// A reply also shown in the conversation's main history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub also_in_conversation: bool,
    /// A thread's root: its replies (an `ADD` counter: exact under concurrent replies).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reply_count: i64,
    /// A thread's root: when the last reply came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply_at: Option<String>,
    /// A thread's root: the last distinct repliers, most recent first (at most
    /// `MAX_REPLIERS`). Not stored as such: gathered from per-replier times (`repo::messages`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repliers: Vec<UserId>,
    /// Its files (none on a deleted message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::uploads::Attachment>,
    /// A disappearing message: when it stops being shown (and the table's TTL removes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// History only: the reader blocked the sender (clients collapse it). Never stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sender_blocked: bool,
}

/// The repliers a thread's root shows.
pub const MAX_REPLIERS: usize = 3;

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Message {
    /// Whether it has disappeared at `now_ms` (its `expiresAt` passed; ISO texts sort as times).
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at.as_ref().is_some_and(|at| *at <= crate::clock::iso(now_ms))
    }

    /// Whether the main history shows it: every message but a reply kept to its thread.
    pub fn in_history(&self) -> bool {
        self.parent_id.is_none() || self.also_in_conversation
    }

    /// The message as other items copy it (the summary's `lastMessage`): without the counters
    /// that move on the message alone.
    pub fn as_copy(&self) -> Self {
        Self { reactions: vec![], reply_count: 0, last_reply_at: None, repliers: vec![], ..self.clone() }
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Direct,
    Group,
    Channel,
}

impl ConversationKind {
    /// The serde name (`direct`, `group`, `channel`), also used in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
            Self::Channel => "channel",
        }
    }
}

/// A user's availability (SPEC §3 `PUT /api/status`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Online,
    Away,
    /// Do not disturb: messages are stored but not pushed live.
    Busy,
    /// Appear offline.
    Offline,
}

/// The schemas of the hand-parsed strings, from the parsers' own constants.
#[cfg(feature = "schema")]
mod schema {
    use std::borrow::Cow;

    use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

    use super::*;
    use crate::ids::{GroupId, ULID_PATTERN};

    /// Whitespace around a value the parser trims.
    const WS: &str = "\\s*";

    impl JsonSchema for Username {
        fn schema_name() -> Cow<'static, str> {
            "Username".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            let punct: String = Username::PUNCTUATION.iter().map(|c| format!("\\{c}")).collect();
            let (min, max) = (Username::MIN, Username::MAX);
            let (user, group) = (UserId::PREFIX, GroupId::PREFIX);
            json_schema!({
                "type": "string",
                "pattern": format!("^{WS}[A-Za-z0-9{punct}]{{{min},{max}}}{WS}$"),
                "not": { "pattern": format!("^{WS}({user}|{group}){ULID_PATTERN}{WS}$") },
                "description": format!("{min} to {max} ASCII letters, digits, `_`, `.` or `-` (trimmed), not shaped like a user or group id. Unique regardless of case."),
            })
        }
    }

    impl JsonSchema for UserRef {
        fn schema_name() -> Cow<'static, str> {
            "UserRef".into()
        }
        fn json_schema(g: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "anyOf": [g.subschema_for::<UserId>(), g.subschema_for::<Username>()],
                "description": "A user, by id or username.",
            })
        }
    }

    impl JsonSchema for Email {
        fn schema_name() -> Cow<'static, str> {
            "Email".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            // No whitespace, control character or `@` in a part; a dotted domain.
            let part = "[^@\\s\\u0000-\\u001F\\u007F-\\u009F]";
            let label = "[^@.\\s\\u0000-\\u001F\\u007F-\\u009F]";
            json_schema!({
                "type": "string",
                "maxLength": Email::MAX,
                "pattern": format!("^{WS}{part}+@{label}+(\\.{label}+)+{WS}$"),
                "description": "An email address (trimmed): a local part, `@`, a domain of at least two dot-separated labels.",
            })
        }
    }

    impl JsonSchema for Password {
        fn schema_name() -> Cow<'static, str> {
            "Password".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({ "type": "string", "minLength": Password::MIN, "maxLength": Password::MAX })
        }
    }

    impl JsonSchema for MessageText {
        fn schema_name() -> Cow<'static, str> {
            "MessageText".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            text::schema(1, MAX_MESSAGE_CHARS, Lines::Multi)
        }
    }

    impl JsonSchema for Limit {
        fn schema_name() -> Cow<'static, str> {
            "Limit".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({ "type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE })
        }
    }
}

/// The schema of a `?limit=` page size (`parse_limit`).
pub struct Limit;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspension_holds_until_its_end_or_for_good() {
        let now = "2030-01-01T00:00:00.000Z";
        let mut user = User::new("ann", String::new(), Role::User, now);
        assert_eq!(user.suspension(now), None);
        user.suspended_until = Some("2030-01-01T00:00:00.001Z".into());
        assert_eq!(user.suspension(now), Some(Some("2030-01-01T00:00:00.001Z".into())));
        user.suspended_until = Some(now.into());
        assert_eq!(user.suspension(now), None, "over at its end");
        user.suspended_until = Some(SUSPENDED_FOR_GOOD.into());
        assert_eq!(user.suspension("9999-01-01T00:00:00.000Z"), Some(None));
    }

    #[test]
    fn a_person_shows_a_user_by_the_fields_of_public_user_only() {
        let user = User::new("alice", String::new(), Role::Admin, "t");
        let v = serde_json::to_value(Person::public(&user.id, Some(&user))).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["firstName", "id", "lastName", "profilePicture", "username"]);
    }

    #[test]
    fn usernames_are_unique_regardless_of_case() {
        assert_eq!(Username::parse("Alice").unwrap().key(), Username::parse("aLiCe").unwrap().key());
    }

    #[test]
    fn a_username_with_spaces_or_too_short_is_rejected() {
        for bad in ["ab", "has space", "", "x".repeat(33).as_str(), "emoji😀x"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_username_shaped_like_an_id_is_rejected_so_a_reference_is_never_ambiguous() {
        let (user, group) = (UserId::generate().to_string(), crate::ids::GroupId::generate().to_string());
        for bad in [user.as_str(), &user.to_lowercase(), group.as_str()] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Username::parse("usr_alice").is_ok());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        for bad in ["plain", "@x.io", "a@b", "a@@b.io", "a b@c.io", "a@b..io"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse("Ann.Lee+chat@example.co.uk").is_ok());
    }

    #[test]
    fn passwords_are_between_8_and_128_characters() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse("12345678").is_ok());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let p = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn message_text_is_1_to_4000_characters() {
        assert!(MessageText::parse("").is_err());
        assert!(MessageText::parse("   ").is_err());
        assert!(MessageText::parse(&"é".repeat(4000)).is_ok());
        assert!(MessageText::parse(&"é".repeat(4001)).is_err());
    }
}
