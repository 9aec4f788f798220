//! Domain services: what each route does, independent of how it is invoked (HTTP, WebSocket,
//! local gateway). Handlers parse, call one of these, and shape the reply.
//!
//! Layers, each importing only those below it: `users` → `realtime` (connection lifecycle) →
//! `presence`, `conversations`; `messages` → `notifications`, `conversations`; `groups` →
//! `conversations`; and all of them → `fanout` (rooms → connections → push, and the one cleanup
//! of a connection found gone), which imports no service.

pub mod conversations;
pub mod devices;
pub mod fanout;
pub mod groups;
pub mod messages;
pub mod mobile_push;
pub mod moderation;
pub mod notifications;
pub mod pins;
pub mod policy;
pub mod presence;
pub mod realtime;
pub mod settings;
pub mod sync;
pub mod uploads;
pub mod users;

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::models::Role;

/// Who acts: from a verified token (HTTP) or from the `$connect` authorizer's context (WebSocket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
}

impl Actor {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

impl Actor {
    /// A stored user acting (its stored role).
    pub fn of(user: &crate::models::User) -> Self {
        Actor { user_id: user.id.clone(), username: user.username.clone(), role: user.role }
    }
}

impl crate::app::Caller {
    pub fn actor(&self) -> Actor {
        Actor::of(&self.user)
    }
}
