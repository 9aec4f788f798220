//! Data access over the single table: key builders and one module per aggregate. Every
//! function documents the DynamoDB requests it makes; the key design is in `store/KEYS.md`.

pub mod blocks;
pub mod changes;
pub mod connections;
pub mod conversations;
pub mod devices;
pub mod groups;
pub mod messages;
pub mod moderation;
pub mod notifications;
pub mod pins;
pub mod policy;
pub mod settings;
pub mod tickets;
pub mod tokens;
pub mod uploads;
pub mod users;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::AppError;
use crate::store::{Item, Key};

/// Key builders: the only place that knows the table layout.
pub mod keys {
    use super::Key;
    use crate::ids::{ConversationId, MessageId, TokenId, UserId};
    use crate::reactions::Reaction;

    pub fn user(id: &UserId) -> Key {
        Key::new(format!("USER#{id}"), "PROFILE")
    }
    pub fn presence(id: &UserId) -> Key {
        Key::new(format!("USER#{id}"), "PRESENCE")
    }
    pub fn membership(user: &UserId, conv: &ConversationId) -> Key {
        Key::new(format!("USER#{user}"), format!("CONV#{conv}"))
    }
    pub fn username(lowercase: &str) -> Key {
        Key::new(format!("UNAME#{lowercase}"), "UNAME")
    }
    pub fn email(lowercase: &str) -> Key {
        Key::new(format!("EMAIL#{lowercase}"), "EMAIL")
    }
    pub fn conversation(id: &ConversationId) -> Key {
        Key::new(format!("CONV#{id}"), "META")
    }
    pub fn summary(id: &ConversationId) -> Key {
        Key::new(format!("CONV#{id}"), "SUMMARY")
    }
    pub fn messages_pk(conv: &ConversationId) -> String {
        format!("MSGS#{conv}")
    }
    pub fn message(conv: &ConversationId, id: &MessageId) -> Key {
        Key::new(messages_pk(conv), id.as_str())
    }
    /// A user's reactions in a conversation: one partition, sorted by message then kind, so
    /// that a history page finds the caller's in one `Query`.
    pub fn reactions_pk(conv: &ConversationId, user: &UserId) -> String {
        format!("REACTS#{conv}#{user}")
    }
    pub fn reaction(conv: &ConversationId, user: &UserId, message: &MessageId, kind: &Reaction) -> Key {
        Key::new(reactions_pk(conv, user), format!("{message}#{kind}"))
    }
    /// A thread's index: one entry per reply (`sk` = the reply's id), so that a thread pages
    /// with the same cursors as history without filtering the conversation's messages.
    pub fn thread_pk(root: &MessageId) -> String {
        format!("THREAD#{root}")
    }
    pub fn thread_entry(root: &MessageId, reply: &MessageId) -> Key {
        Key::new(thread_pk(root), reply.as_str())
    }
    /// A conversation's change log (`repo::changes`), sorted by time.
    pub fn changes_pk(conv: &ConversationId) -> String {
        format!("CHG#{conv}")
    }
    pub fn changes(conv: &ConversationId, sk: &str) -> Key {
        Key::new(changes_pk(conv), sk)
    }
    pub fn message_gsi(id: &MessageId) -> String {
        format!("MSG#{id}")
    }
    /// A user's send counter of one fixed window (flood protection), by the window's start.
    pub fn send_rate(user: &UserId, window_start: i64) -> Key {
        Key::new(format!("RATE#{user}"), window_start.to_string())
    }
    /// A member's slow-mode turn in a conversation (its own item: a conditional write of the
    /// membership could recreate one removed meanwhile).
    pub fn slow_turn(conv: &ConversationId, user: &UserId) -> Key {
        Key::new(format!("SLOW#{conv}"), user.to_string())
    }
    pub fn idempotency(user: &UserId, client_message_id: &str) -> Key {
        Key::new(format!("IDEM#{user}#{client_message_id}"), "IDEM")
    }
    pub fn connection(id: &str) -> Key {
        Key::new(format!("CONN#{id}"), "CONN")
    }
    pub const ADMIN_ROOM: &str = "ROOM#admin";
    pub fn admin_room(connection: &str) -> Key {
        Key::new(ADMIN_ROOM, connection)
    }
    pub fn room_pk(conv: &ConversationId) -> String {
        format!("ROOM#{conv}")
    }
    pub fn room(conv: &ConversationId, connection: &str) -> Key {
        Key::new(room_pk(conv), connection)
    }
    pub fn ticket(ticket: &str) -> Key {
        Key::new(format!("TICKET#{ticket}"), "TICKET")
    }
    pub fn upload(id: &crate::ids::UploadId) -> Key {
        Key::new(format!("UPLOAD#{id}"), "UPLOAD")
    }
    pub fn revoked(jti: &TokenId) -> Key {
        Key::new(format!("REVOKED#{jti}"), "REVOKED")
    }
    /// GSI1 partition listing every user (the admin directory).
    pub const USERS_GSI: &str = "USERS";
    /// GSI1 partition listing every conversation (admin `?all=true`).
    pub const CONVERSATIONS_GSI: &str = "CONVS";
}

/// Serializes `value` as an item at `key`.
pub fn to_item(key: &Key, value: &impl Serialize) -> Result<Item, AppError> {
    let mut item = match serde_json::to_value(value)? {
        Value::Object(map) => map,
        _ => return Err(AppError::internal("item is not an object")),
    };
    item.insert("pk".into(), key.pk.clone().into());
    item.insert("sk".into(), key.sk.clone().into());
    Ok(item)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, AppError> {
    Ok(serde_json::from_value(Value::Object(item))?)
}

/// The item of `items` stored at `key` (results of a batch get come unordered).
pub fn pick(items: &[Item], key: &Key) -> Option<Item> {
    items
        .iter()
        .find(|i| {
            i.get("pk").and_then(Value::as_str) == Some(&key.pk) && i.get("sk").and_then(Value::as_str) == Some(&key.sk)
        })
        .cloned()
}

pub fn string_field(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(Value::as_str).map(str::to_owned)
}
