//! One handler per WebSocket route (SPEC §4). API Gateway picks the route by the frame's
//! `action`; the handler reads the frame as that `Action`.

use chat::clock::{iso, now_ms};
use chat::events::{Event, MessageAck, Pong};
use chat::ids::{ConversationId, MessageId};
use chat::models::MessageText;
use chat::reactions::Reaction;
use chat::service::messages::{self, Outgoing, ReactOutcome, SendOutcome, Target};
use chat::service::{conversations, fanout, presence, realtime};
use chat::{App, AppError};
use serde::Deserialize;
use serde_json::Value;

use super::WsRequest;

/// A client frame: `{"action": "...", …its fields}`. One variant per action, one type per
/// payload; unknown fields are ignored.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    /// Also `chatMessage`.
    #[serde(alias = "chatMessage")]
    SendMessage(SendMessage),
    EditMessage(EditMessage),
    React(ReactTo),
    Unreact(ReactTo),
    Typing(Typing),
    MarkAsRead(MarkAsRead),
    /// Received up to `upToMessageId` (default: all): delivery receipts.
    Delivered(MarkAsRead),
    JoinConversation(ViewConversation),
    LeaveConversation(ViewConversation),
    SetStatus(SetStatus),
    Ping,
}

/// A message to a conversation, or to a user (`receiverId`: id or username; the direct
/// conversation starts with it).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "schema", schemars(extend("anyOf" = [
    { "required": ["conversationId"], "properties": { "conversationId": { "type": "string" } } },
    { "required": ["receiverId"], "properties": { "receiverId": { "type": "string" } } },
])))]
pub struct SendMessage {
    /// Used when both are given.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<ConversationId>"))]
    pub conversation_id: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::service::messages::schema::TargetRef>"))]
    pub receiver_id: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "chat::models::MessageText"))]
    pub text: String,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::service::messages::schema::ClientMessageId>"))]
    pub client_message_id: Option<String>,
    /// Users mentioned by id, beside the text's `@username`s.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::service::messages::schema::Mentions>"))]
    pub mentions: Option<Vec<String>>,
    /// A thread reply to this message of the same conversation (a reply to a reply joins its
    /// root's thread).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<MessageId>"))]
    pub parent_id: Option<String>,
    /// A reply also shown in the main history (only with `parentId`).
    #[serde(default)]
    pub also_in_conversation: Option<bool>,
    /// Files, by upload id (as the HTTP send forms).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::uploads::schema::AttachmentIds>"))]
    pub attachments: Option<Vec<String>>,
}

/// As `PATCH /api/messages/{id}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditMessage {
    #[cfg_attr(feature = "schema", schemars(with = "MessageId"))]
    pub message_id: String,
    #[cfg_attr(feature = "schema", schemars(with = "chat::models::MessageText"))]
    pub text: String,
}

/// As `PUT` / `DELETE /api/messages/{id}/reactions/{reaction}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactTo {
    #[cfg_attr(feature = "schema", schemars(with = "MessageId"))]
    pub message_id: String,
    #[cfg_attr(feature = "schema", schemars(with = "Reaction"))]
    pub reaction: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "schema", schemars(rename = "TypingFrame"))]
pub struct Typing {
    #[cfg_attr(feature = "schema", schemars(with = "ConversationId"))]
    pub conversation_id: String,
    pub is_typing: bool,
}

/// Everything read, or up to `upToMessageId`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkAsRead {
    #[cfg_attr(feature = "schema", schemars(with = "ConversationId"))]
    pub conversation_id: String,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<MessageId>"))]
    pub up_to_message_id: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewConversation {
    #[cfg_attr(feature = "schema", schemars(with = "ConversationId"))]
    pub conversation_id: String,
}

/// As `PUT /api/status`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetStatus {
    #[cfg_attr(feature = "schema", schemars(with = "chat::service::presence::StatusName"))]
    pub status: String,
    /// `typing`, `playing` or free text (empty: none).
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<chat::text::Text<0, { chat::service::presence::ACTIVITY_MAX }, false>>")
    )]
    pub activity: Option<String>,
}

impl MarkAsRead {
    /// The conversation and the optional last message the marker moves to.
    fn parse(&self) -> Result<(ConversationId, Option<MessageId>), AppError> {
        Ok((conversation(&self.conversation_id)?, conversations::parse_up_to(self.up_to_message_id.as_deref())?))
    }
}

/// The action did not match its route: API Gateway routes on `action`, so only a frame that
/// names it twice gets here.
fn other_action() -> AppError {
    AppError::field("action", "does not match the route")
}

pub async fn connect(app: &App, req: WsRequest) -> Result<(), AppError> {
    let token = req.token_id.as_ref().zip(req.token_expires_at);
    realtime::connect(app, req.actor()?, token, &req.connection_id).await
}

pub async fn disconnect(app: &App, req: WsRequest) -> Result<(), AppError> {
    realtime::disconnect(app, req.actor()?, &req.connection_id).await
}

/// Anything that matched no route: not JSON, no `action`, or an unknown one.
pub async fn default(_: &App, req: WsRequest) -> Result<(), AppError> {
    let action = req.body::<Value>()?.get("action").cloned();
    Err(match action {
        // The action is not echoed: no submitted value goes into an error or a log line.
        Some(Value::String(_)) => AppError::field("action", "unknown action"),
        _ => AppError::field("action", "a string `action` is required"),
    })
}

fn conversation(id: &str) -> Result<ConversationId, AppError> {
    ConversationId::from_request("conversationId", id)
}

/// `sendMessage` / `chatMessage`: stored, then `messageReceived` to this connection and
/// `chatMessage` to everyone else concerned. A retried `clientMessageId` is acknowledged again
/// with the stored message and pushed to nobody else. The connection is checked open alongside
/// the send's first read, as HTTP checks the session.
pub async fn send_message(app: &App, req: WsRequest) -> Result<(), AppError> {
    let actor = req.actor()?;
    let Action::SendMessage(b) = req.action()? else { return Err(other_action()) };
    let target = match (b.conversation_id, b.receiver_id) {
        (Some(c), _) => Target::Conversation(conversation(&c)?),
        (None, Some(r)) => Target::parse(&r)?,
        (None, None) => return Err(AppError::field("conversationId", "conversationId or receiverId is required")),
    };
    let out = Outgoing::parse(target, &b.text, b.client_message_id)?
        .mentioning(b.mentions)?
        .replying(b.parent_id, b.also_in_conversation)?
        .attaching(app, b.attachments)?;
    let open = realtime::check_open(app, actor, &req.connection_id);
    if let SendOutcome::Existing(message) = messages::send(app, actor, open, out, Some(&req.connection_id)).await? {
        let ack = Event::MessageReceived(MessageAck::new(message, true));
        fanout::reply(app, &req.connection_id, &ack).await;
    }
    Ok(())
}

/// `editMessage`: as `PATCH /api/messages/{id}`; the connection is checked open alongside the
/// message's lookup, and gets `messageEdited` with the other members' connections.
pub async fn edit_message(app: &App, req: WsRequest) -> Result<(), AppError> {
    let actor = req.actor()?;
    let Action::EditMessage(b) = req.action()? else { return Err(other_action()) };
    let id = MessageId::parse(&b.message_id).ok_or_else(|| AppError::field("messageId", "not a message id"))?;
    let text = MessageText::parse(&b.text)?;
    let open = realtime::check_open(app, actor, &req.connection_id);
    messages::edit(app, actor, open, &id, text).await.map(drop)
}

/// `react` / `unreact`: a change goes to every member's connections (this one included); one
/// that was already so is confirmed to this connection only.
pub async fn react(app: &App, req: WsRequest) -> Result<(), AppError> {
    let actor = req.actor()?;
    let (b, add) = match req.action()? {
        Action::React(b) => (b, true),
        Action::Unreact(b) => (b, false),
        _ => return Err(other_action()),
    };
    let id = MessageId::parse(&b.message_id).ok_or_else(|| AppError::field("messageId", "not a message id"))?;
    let kind = Reaction::parse(&b.reaction)?;
    let open = realtime::check_open(app, actor, &req.connection_id);
    if let ReactOutcome::Unchanged(change) = messages::react(app, actor, open, &id, kind, add).await? {
        let event = if add { Event::ReactionAdded(change) } else { Event::ReactionRemoved(change) };
        fanout::reply(app, &req.connection_id, &event).await;
    }
    Ok(())
}

pub async fn typing(app: &App, req: WsRequest) -> Result<(), AppError> {
    let Action::Typing(b) = req.action()? else { return Err(other_action()) };
    realtime::typing(app, req.actor()?, &req.connection_id, &conversation(&b.conversation_id)?, b.is_typing).await
}

pub async fn mark_as_read(app: &App, req: WsRequest) -> Result<(), AppError> {
    let Action::MarkAsRead(b) = req.action()? else { return Err(other_action()) };
    let (conv, up_to) = b.parse()?;
    conversations::mark_read(app, req.open_actor(app).await?, &conv, up_to.as_ref()).await.map(drop)
}

/// `delivered`: this device received the conversation's messages up to `upToMessageId` (one
/// acknowledgement per batch of received messages); the other members get `messagesDelivered`
/// when the marker moved. Nothing comes back to this connection.
pub async fn delivered(app: &App, req: WsRequest) -> Result<(), AppError> {
    let Action::Delivered(b) = req.action()? else { return Err(other_action()) };
    let (conv, up_to) = b.parse()?;
    conversations::mark_delivered(app, req.open_actor(app).await?, &conv, up_to.as_ref()).await
}

pub async fn join_conversation(app: &App, req: WsRequest) -> Result<(), AppError> {
    let Action::JoinConversation(b) = req.action()? else { return Err(other_action()) };
    realtime::view(app, req.actor()?, &req.connection_id, &conversation(&b.conversation_id)?, true).await
}

pub async fn leave_conversation(app: &App, req: WsRequest) -> Result<(), AppError> {
    let Action::LeaveConversation(b) = req.action()? else { return Err(other_action()) };
    realtime::view(app, req.actor()?, &req.connection_id, &conversation(&b.conversation_id)?, false).await
}

/// `pong`, on an open connection only: a closed one's keep-alive must not look answered.
pub async fn ping(app: &App, req: WsRequest) -> Result<(), AppError> {
    let Action::Ping = req.action()? else { return Err(other_action()) };
    req.open_actor(app).await?;
    fanout::reply(app, &req.connection_id, &Event::Pong(Pong { time: iso(now_ms()) })).await;
    Ok(())
}

/// `setStatus`: as `PUT /api/status`; the new presence comes back as a `presence` event.
pub async fn set_status(app: &App, req: WsRequest) -> Result<(), AppError> {
    let Action::SetStatus(b) = req.action()? else { return Err(other_action()) };
    let (status, activity) = (presence::parse_status(&b.status)?, presence::parse_activity(b.activity)?);
    let view = presence::set(app, req.open_actor(app).await?, status, activity).await?;
    fanout::reply(app, &req.connection_id, &Event::Presence(view)).await;
    Ok(())
}
