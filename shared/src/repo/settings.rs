//! A member's own settings of a conversation, on their membership item (`USER#u / CONV#c`):
//! read with it, so the push decision costs no extra read.

use serde::{Deserialize, Serialize};

use super::{from_item, keys};
use crate::error::AppError;
use crate::ids::{ConversationId, UserId};
use crate::store::{Condition, StoreError, Table, Update};

/// What a phone push of this conversation shows.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preview {
    /// The sender (or the group's name) and the text.
    Full,
    /// The sender (or the group's name), not the text: the default, for privacy.
    #[default]
    SenderOnly,
    /// Neither: "New message".
    None,
}

/// A member's settings of one conversation.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub conversation_id: Option<ConversationId>,
    /// No phone push until then (ISO 8601); absent: not muted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<String>,
    #[serde(default)]
    pub preview: Preview,
    /// A mention is pushed through a mute (default `true`).
    #[serde(default = "yes")]
    pub mentions_through_mute: bool,
}

fn yes() -> bool {
    true
}

impl Settings {
    /// Muted at `now_iso` (ISO texts sort as the times do: `clock::iso`).
    pub fn muted(&self, now_iso: &str) -> bool {
        self.muted_until.as_deref().is_some_and(|until| until > now_iso)
    }
}

/// The settings stored on a membership item (its other fields ignored).
pub fn from_membership(item: crate::store::Item) -> Result<Settings, AppError> {
    from_item(item)
}

/// Writes the settings on the member's membership: one `UpdateItem`, conditional on the
/// membership (`None` when the user is not a member).
pub async fn set(
    table: &dyn Table,
    user: &UserId,
    conversation: &ConversationId,
    s: &Settings,
) -> Result<Option<Settings>, AppError> {
    let mut updates = vec![
        Update::Set("preview".into(), serde_json::to_value(s.preview)?),
        Update::Set("mentionsThroughMute".into(), s.mentions_through_mute.into()),
    ];
    updates.push(match &s.muted_until {
        Some(until) => Update::Set("mutedUntil".into(), until.clone().into()),
        None => Update::Remove("mutedUntil".into()),
    });
    match table.update(&keys::membership(user, conversation), updates, Some(Condition::Exists)).await {
        Ok(item) => Ok(Some(from_membership(item)?)),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
