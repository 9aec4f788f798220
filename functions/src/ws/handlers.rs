//! One handler per WebSocket route (SPEC §4).

use chat::events;
use chat::ids::{ConversationId, MessageId};
use chat::service::messages::{self, Outgoing, Target};
use chat::service::{conversations, presence, realtime};
use chat::{App, AppError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::WsRequest;

pub async fn connect(app: &App, req: WsRequest) -> Result<(), AppError> {
    realtime::connect(app, req.actor()?, req.token_id.as_ref(), &req.connection_id).await
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
    ConversationId::parse(id).ok_or_else(|| AppError::field("conversationId", "not a conversation id"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendBody {
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    receiver_id: Option<String>,
    text: String,
    #[serde(default)]
    client_message_id: Option<String>,
}

/// `sendMessage` / `chatMessage`: stored, then `messageReceived` to this connection and
/// `chatMessage` to everyone else concerned. A retried `clientMessageId` is acknowledged again
/// with the stored message and pushed to nobody else. The connection is checked open alongside
/// the send's first read, as HTTP checks the session.
pub async fn send_message(app: &App, req: WsRequest) -> Result<(), AppError> {
    let actor = req.actor()?;
    let b: SendBody = req.body()?;
    let target = match (b.conversation_id, b.receiver_id) {
        (Some(c), _) => Target::Conversation(conversation(&c)?),
        (None, Some(r)) => Target::parse(&r)?,
        (None, None) => return Err(AppError::field("conversationId", "conversationId or receiverId is required")),
    };
    let out = Outgoing::parse(target, &b.text, b.client_message_id)?;
    let open = realtime::check_open(app, actor, &req.connection_id);
    let (message, duplicate) = messages::send(app, actor, open, out, Some(&req.connection_id)).await?;
    if duplicate {
        let ack = json!({ "message": message, "clientMessageId": message.client_message_id, "duplicate": true });
        realtime::reply(app, &req.connection_id, events::MESSAGE_RECEIVED, ack).await;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypingBody {
    conversation_id: String,
    is_typing: bool,
}

pub async fn typing(app: &App, req: WsRequest) -> Result<(), AppError> {
    let b: TypingBody = req.body()?;
    realtime::typing(app, req.actor()?, &req.connection_id, &conversation(&b.conversation_id)?, b.is_typing).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadBody {
    conversation_id: String,
    #[serde(default)]
    up_to_message_id: Option<String>,
}

pub async fn mark_as_read(app: &App, req: WsRequest) -> Result<(), AppError> {
    let b: ReadBody = req.body()?;
    let up_to = b
        .up_to_message_id
        .map(|m| MessageId::parse(&m).ok_or_else(|| AppError::field("upToMessageId", "not a message id")))
        .transpose()?;
    let conv = conversation(&b.conversation_id)?;
    conversations::mark_read(app, req.open_actor(app).await?, &conv, up_to.as_ref()).await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ViewBody {
    conversation_id: String,
}

pub async fn join_conversation(app: &App, req: WsRequest) -> Result<(), AppError> {
    let b: ViewBody = req.body()?;
    realtime::view(app, req.actor()?, &req.connection_id, &conversation(&b.conversation_id)?, true).await?;
    Ok(())
}

pub async fn leave_conversation(app: &App, req: WsRequest) -> Result<(), AppError> {
    let b: ViewBody = req.body()?;
    realtime::view(app, req.actor()?, &req.connection_id, &conversation(&b.conversation_id)?, false).await?;
    Ok(())
}

/// `pong`, on an open connection only: a closed one's keep-alive must not look answered.
pub async fn ping(app: &App, req: WsRequest) -> Result<(), AppError> {
    req.open_actor(app).await?;
    realtime::reply(app, &req.connection_id, events::PONG, json!({ "time": chat::clock::iso(chat::clock::now_ms()) }))
        .await;
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody {
    status: String,
    #[serde(default)]
    activity: Option<String>,
}

/// `setStatus`: as `PUT /api/status`; the new presence comes back as a `presence` event.
pub async fn set_status(app: &App, req: WsRequest) -> Result<(), AppError> {
    let b: StatusBody = req.body()?;
    let (status, activity) = (presence::parse_status(&b.status)?, presence::parse_activity(b.activity)?);
    let view = presence::set(app, req.open_actor(app).await?, status, activity).await?;
    realtime::reply(app, &req.connection_id, events::PRESENCE, view).await;
    Ok(())
}
