//! Pinned messages (`/api/conversations/{id}/pins`): any member of a direct conversation, the
//! owner and admins of a group or channel, and system admins pin and unpin; every member reads
//! them. At most `pins::MAX_PINS` per conversation, exactly (the count is kept in the same
//! transaction as the pin).

use std::future::Future;

use serde::Serialize;

use super::conversations::check_access;
use super::{fanout, Actor};
use crate::app::App;
use crate::clock::{iso, now_ms};
use crate::error::AppError;
use crate::events::{Event, PinChange};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::models::{ConversationKind, Message};
use crate::repo::pins::{self, Pin, Pinned};
use crate::repo::{conversations, messages as msgs};

/// A pin as `GET /api/conversations/{id}/pins` shows it: the message as it now reads (a deleted
/// one as its tombstone, so that it can be unpinned).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinView {
    pub message: Message,
    pub pinned_by: UserId,
    pub pinned_at: String,
}

/// Pins (`pinning`) or unpins a message of `conv`; idempotent (the same change twice pushes
/// once). Two sequential round trips before the fan-out: session ‖ conversation ‖ message
/// (GSI1), then one transaction (`pins::set`).
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, conversation = %conv, message = %id, pinning))]
pub async fn set<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    conv: &ConversationId,
    id: &MessageId,
    pinning: bool,
) -> Result<PinChange, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let (_, conversation, message) =
        tokio::try_join!(authenticate, conversations::get(app.table(), conv), msgs::find(app.table(), id))?;
    check_access(actor, conversation.as_ref())?;
    let c = conversation.ok_or_else(|| AppError::not_found("conversation"))?;
    let allowed = (c.kind == ConversationKind::Direct && c.is_member(&actor.user_id))
        || c.is_admin(&actor.user_id)
        || actor.is_admin();
    if !allowed {
        return Err(AppError::Forbidden("only the owner or an admin of a group or channel may pin".into()));
    }
    if !message.is_some_and(|m| m.conversation_id == *conv && (!pinning || !m.deleted)) {
        return Err(AppError::not_found("message"));
    }
    let change = PinChange {
        conversation_id: conv.clone(),
        message_id: id.clone(),
        user_id: actor.user_id.clone(),
        at: iso(now_ms()),
    };
    let pin = Pin { message_id: id.clone(), pinned_by: actor.user_id.clone(), pinned_at: change.at.clone() };
    match pins::set(app.table(), conv, &pin, pinning).await? {
        Pinned::Changed => {
            let event =
                if pinning { Event::MessagePinned(change.clone()) } else { Event::MessageUnpinned(change.clone()) };
            fanout::to_members(app, &c, None, &event).await?;
        }
        Pinned::Unchanged => {}
        Pinned::Full => {
            return Err(AppError::Conflict(format!("a conversation holds at most {} pins", pins::MAX_PINS)))
        }
        Pinned::Gone => return Err(AppError::not_found("message")),
    }
    Ok(change)
}

/// The pins of a conversation, in message order: its readers (members; admins). The
/// conversation ‖ the pins (one `Query`), then their messages (one `BatchGetItem`).
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, conversation = %conv))]
pub async fn list(app: &App, actor: &Actor, conv: &ConversationId) -> Result<Vec<PinView>, AppError> {
    let (conversation, pins) = tokio::try_join!(conversations::get(app.table(), conv), pins::list(app.table(), conv))?;
    check_access(actor, conversation.as_ref())?;
    if pins.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<MessageId> = pins.iter().map(|p| p.message_id.clone()).collect();
    let messages = msgs::get_many(app.table(), conv, &ids).await?;
    Ok(pins
        .into_iter()
        .filter_map(|p| {
            let message = messages.iter().find(|m| m.id == p.message_id)?.clone();
            Some(PinView { message, pinned_by: p.pinned_by, pinned_at: p.pinned_at })
        })
        .collect())
}
