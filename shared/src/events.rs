//! Server → client WebSocket events: `{"event": "...", "data": {...}}` (SPEC §4). Every event
//! is one variant of `Event`, every payload one type; nothing else goes out on a socket.

use serde::Serialize;

use crate::error::ErrorBody;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::models::{ConversationKind, Message, NotificationKind, Status};
use crate::repo::notifications::Notification;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "camelCase")]
pub enum Event {
    /// A new message, to every connection of the members but the sending one (busy members
    /// excepted).
    ChatMessage(MessagePush),
    /// Every new message, to connected admins (the admin room).
    NewMessage(MessagePush),
    /// The acknowledgement of a `sendMessage`, to the sending connection, once the message is
    /// stored (or a retry found it stored: `duplicate`).
    MessageReceived(MessageAck),
    /// A member started or stopped typing, to the connections viewing the conversation.
    TypingStatus(Typing),
    /// A conversation marked read, to the reader's own devices.
    MessagesMarkedRead(ReadReceipt),
    /// A conversation marked read, to the other members.
    MessagesRead(ReadReceipt),
    /// A member's devices received messages up to `deliveredSeq`, to the other members.
    MessagesDelivered(DeliveryReceipt),
    /// A message was deleted (tombstoned), to the members.
    MessageDeleted(MessageDeleted),
    /// A message's text was rewritten by its sender, to the members.
    MessageEdited(MessageEdited),
    /// A member reacted to a message, to the members.
    ReactionAdded(ReactionChange),
    /// A member took a reaction back, to the members.
    ReactionRemoved(ReactionChange),
    /// A message was pinned in a conversation, to the members.
    MessagePinned(PinChange),
    /// A message was unpinned, to the members.
    MessageUnpinned(PinChange),
    /// A user's presence, to their contacts and the admin room (and to the setter).
    Presence(PresenceView),
    /// A stored notification pushed live (admin notices, added to / removed from a group, a
    /// direct message), or the missed messages on leaving `busy`.
    Notification(NotificationPush),
    /// A group's membership changed, to its members and the users affected.
    Membership(MembershipChange),
    /// A new report of a message or a user, to connected admins (the admin room).
    Report(crate::repo::moderation::Report),
    /// The answer to `ping`.
    Pong(Pong),
    /// A frame was refused; the connection stays usable.
    Error(ErrorBody),
}

/// The event names, as `Event` serializes them (`Event::name`; the AsyncAPI check reads them).
pub const CHAT_MESSAGE: &str = "chatMessage";
pub const NEW_MESSAGE: &str = "newMessage";
pub const MESSAGE_RECEIVED: &str = "messageReceived";
pub const TYPING_STATUS: &str = "typingStatus";
pub const MESSAGES_MARKED_READ: &str = "messagesMarkedRead";
pub const MESSAGES_READ: &str = "messagesRead";
pub const MESSAGE_DELETED: &str = "messageDeleted";
pub const MESSAGE_EDITED: &str = "messageEdited";
pub const MESSAGES_DELIVERED: &str = "messagesDelivered";
pub const REACTION_ADDED: &str = "reactionAdded";
pub const REACTION_REMOVED: &str = "reactionRemoved";
pub const MESSAGE_PINNED: &str = "messagePinned";
pub const MESSAGE_UNPINNED: &str = "messageUnpinned";
pub const PRESENCE: &str = "presence";
pub const NOTIFICATION: &str = "notification";
pub const MEMBERSHIP: &str = "membership";
pub const REPORT: &str = "report";
pub const PONG: &str = "pong";
pub const ERROR: &str = "error";

impl Event {
    /// Its `event`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ChatMessage(_) => CHAT_MESSAGE,
            Self::NewMessage(_) => NEW_MESSAGE,
            Self::MessageReceived(_) => MESSAGE_RECEIVED,
            Self::TypingStatus(_) => TYPING_STATUS,
            Self::MessagesMarkedRead(_) => MESSAGES_MARKED_READ,
            Self::MessagesRead(_) => MESSAGES_READ,
            Self::MessageDeleted(_) => MESSAGE_DELETED,
            Self::MessageEdited(_) => MESSAGE_EDITED,
            Self::MessagesDelivered(_) => MESSAGES_DELIVERED,
            Self::ReactionAdded(_) => REACTION_ADDED,
            Self::ReactionRemoved(_) => REACTION_REMOVED,
            Self::MessagePinned(_) => MESSAGE_PINNED,
            Self::MessageUnpinned(_) => MESSAGE_UNPINNED,
            Self::Presence(_) => PRESENCE,
            Self::Notification(_) => NOTIFICATION,
            Self::Membership(_) => MEMBERSHIP,
            Self::Report(_) => REPORT,
            Self::Pong(_) => PONG,
            Self::Error(_) => ERROR,
        }
    }

    /// The frame as posted to a connection.
    pub fn frame(&self) -> Vec<u8> {
        // Plain structs with string keys: serializing cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|e| {
            tracing::error!(error = %e, "event not serializable");
            Vec::new()
        })
    }
}

/// `chatMessage` / `newMessage`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePush {
    pub message: Message,
    pub sender: Sender,
    pub conversation_type: ConversationKind,
}

/// Who sent a pushed message.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct Sender {
    pub id: UserId,
    pub username: String,
}

/// `messageReceived`: `clientMessageId` is `null` when the send had none; `duplicate` is there
/// (true) only for a retry that found the message stored.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageAck {
    pub message: Message,
    pub client_message_id: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

impl MessageAck {
    pub fn new(message: Message, duplicate: bool) -> Self {
        Self { client_message_id: message.client_message_id.clone(), message, duplicate }
    }
}

/// `typingStatus`: `expiresAt` is when the indicator ends without a refresh (now, on a stop).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub is_typing: bool,
    pub expires_at: String,
}

/// `messagesDelivered`: the messages of the conversation up to `deliveredSeq` reached one of
/// the user's devices (a read implies delivery: clients show the higher of the two ticks).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryReceipt {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub delivered_seq: i64,
    pub delivered_at: String,
}

/// `messagesMarkedRead` / `messagesRead`, and the answer of marking a conversation read.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadReceipt {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    /// `null` when everything was marked read.
    pub up_to_message_id: Option<MessageId>,
    pub read_seq: i64,
    pub unread_count: i64,
    pub read_at: String,
}

/// `messageDeleted`, and the answer of deleting a message.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub deleted_by: UserId,
}

/// `messageEdited`, to the members: the message as it now reads.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct MessageEdited {
    pub message: Message,
}

/// `reactionAdded` / `reactionRemoved`, and the answer of reacting: clients move their count
/// of the kind by one (a count read back would cost a request per reaction).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionChange {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub user_id: UserId,
    pub reaction: crate::reactions::Reaction,
}

/// `messagePinned` / `messageUnpinned`, and the answer of pinning: who did it, when.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinChange {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub user_id: UserId,
    pub at: String,
}

/// A user's presence as others see it (`presence`, `GET/PUT /api/status`): the status the user
/// set, and beside it liveness (`online`, `lastSeen`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceView {
    pub user_id: UserId,
    pub status: Status,
    pub activity: Option<String>,
    pub online: bool,
    pub last_seen: Option<String>,
}

/// `notification`: a stored notification, or the live-only list of missed conversations.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum NotificationPush {
    Stored(Notification),
    Missed(MissedMessages),
}

/// On leaving `busy`: the conversations with unread messages.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct MissedMessages {
    /// Always `missedMessages`.
    #[serde(rename = "type")]
    pub kind: NotificationKind,
    pub conversations: Vec<Unread>,
}

impl MissedMessages {
    pub fn new(conversations: Vec<Unread>) -> Self {
        Self { kind: NotificationKind::MissedMessages, conversations }
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unread {
    pub conversation_id: ConversationId,
    pub unread_count: i64,
    pub last_message: Option<Message>,
}

/// `membership`: members added or removed, or a member's group role changed.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum MembershipChange {
    Members(MembersChanged),
    Role(RoleChanged),
}

/// Members added (also at creation: the initial members) or removed.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MembersChanged {
    pub conversation_id: ConversationId,
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    pub name: Option<String>,
    pub action: MembershipAction,
    pub by: UserId,
    /// The first of `userIds` (`null` when none): the single member of a one-member change.
    pub user_id: Option<UserId>,
    pub user_ids: Vec<UserId>,
}

/// A member promoted to group admin or demoted.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleChanged {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub action: MembershipAction,
    pub by: UserId,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MembershipAction {
    Added,
    Removed,
    Promoted,
    Demoted,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct Pong {
    pub time: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_its_name_and_its_data() {
        let frame = Event::Pong(Pong { time: "t".into() }).frame();
        let v: serde_json::Value = serde_json::from_slice(&frame).expect("JSON");
        assert_eq!(v, serde_json::json!({ "event": "pong", "data": { "time": "t" } }));
    }

    #[test]
    fn every_name_is_the_serialized_one() {
        let (c, u) = (ConversationId::group(&crate::ids::GroupId::generate()), UserId::generate());
        let m = MessageId::generate(&c);
        let deleted = MessageDeleted { message_id: m, conversation_id: c.clone(), deleted_by: u.clone() };
        let typing = Typing { conversation_id: c.clone(), user_id: u.clone(), is_typing: true, expires_at: "t".into() };
        let receipt = ReadReceipt {
            conversation_id: c.clone(),
            user_id: u.clone(),
            up_to_message_id: None,
            read_seq: 0,
            unread_count: 0,
            read_at: "t".into(),
        };
        let role = RoleChanged { conversation_id: c, user_id: u.clone(), action: MembershipAction::Promoted, by: u };
        let error = ErrorBody { code: "X", message: "x".into(), details: None };
        for e in [
            Event::TypingStatus(typing),
            Event::MessagesMarkedRead(receipt.clone()),
            Event::MessagesRead(receipt),
            Event::MessageDeleted(deleted),
            Event::Membership(MembershipChange::Role(role)),
            Event::Notification(NotificationPush::Missed(MissedMessages::new(vec![]))),
            Event::Pong(Pong { time: "t".into() }),
            Event::Error(error),
        ] {
            let v: serde_json::Value = serde_json::from_slice(&e.frame()).expect("JSON");
            assert_eq!(v["event"], e.name());
        }
    }
}
