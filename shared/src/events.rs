//! Server → client WebSocket events: `{"event": "...", "data": {...}}` (SPEC §4).

use serde_json::{json, Value};

pub const CHAT_MESSAGE: &str = "chatMessage";
pub const MESSAGE_RECEIVED: &str = "messageReceived";
pub const NEW_MESSAGE: &str = "newMessage";
pub const TYPING_STATUS: &str = "typingStatus";
pub const MESSAGES_MARKED_READ: &str = "messagesMarkedRead";
pub const MESSAGES_READ: &str = "messagesRead";
pub const MESSAGE_DELETED: &str = "messageDeleted";
pub const PRESENCE: &str = "presence";
pub const NOTIFICATION: &str = "notification";
pub const MEMBERSHIP: &str = "membership";
pub const PONG: &str = "pong";
pub const ERROR: &str = "error";

pub fn frame(event: &str, data: Value) -> Vec<u8> {
    json!({ "event": event, "data": data }).to_string().into_bytes()
}
