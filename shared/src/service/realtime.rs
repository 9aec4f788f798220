//! WebSocket connections and every push: rooms are the user room (a user's connections, from
//! their `PRESENCE` item), the admin room (`ROOM#admin`) and conversation rooms (connections
//! viewing a conversation). Pushes are best effort; a 410 removes that connection only.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::Actor;
use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::events::{self, frame};
use crate::ids::{ConversationId, UserId};
use crate::models::{Message, Status};
use crate::push::fan_out;
use crate::repo::conversations::Conversation;
use crate::repo::{self, connections::Connection};
use crate::store::Update;

/// How long a typing indicator lives without a refresh (SPEC §5: at most 10 s).
pub const TYPING_TTL_MS: i64 = 8_000;

pub async fn connect(app: &App, actor: &Actor, connection_id: &str) -> Result<(), AppError> {
    let now = now_ms();
    let c = Connection {
        connection_id: connection_id.to_owned(),
        user_id: actor.user_id.clone(),
        role: actor.role,
        connected_at: now,
        viewing: None,
        typing_in: None,
        typing_until: None,
    };
    repo::connections::connect(app.table(), &c, &iso(now), now_secs()).await
}

/// Removes the connection; a typing indicator it held ends now.
pub async fn disconnect(app: &App, actor: &Actor, connection_id: &str) -> Result<(), AppError> {
    let old = repo::connections::remove(app.table(), connection_id, &actor.user_id, &iso(now_ms())).await?;
    if let Some(Connection { typing_in: Some(conv), typing_until: Some(until), .. }) = old {
        if until > now_ms() {
            if let Some(c) = repo::conversations::get(app.table(), &conv).await? {
                let data = typing_data(&conv, &actor.user_id, false, now_ms());
                to_members(app, &c, Some(&actor.user_id), events::TYPING_STATUS, &data).await?;
            }
        }
    }
    Ok(())
}

/// Sends one event to one connection (replies such as `pong`, `error`, `messageReceived`).
pub async fn reply(app: &App, connection_id: &str, event: &str, data: Value) {
    let gone = fan_out(&app.push, vec![(connection_id.to_owned(), frame(event, data))]).await;
    if !gone.is_empty() {
        tracing::info!(connection = connection_id, "reply to a closed connection dropped");
    }
}

/// One target of a fan-out: a connection and whose it is.
struct Target {
    connection: String,
    user: UserId,
}

/// The connections of `users`: one `BatchGetItem` per 100 users. `skip_busy` leaves out users
/// who are busy (do not disturb).
async fn connections_of(app: &App, users: &[UserId], skip_busy: Option<&UserId>) -> Result<Vec<Target>, AppError> {
    let presences = repo::connections::presences(app.table(), users).await?;
    Ok(presences
        .into_iter()
        .filter_map(|p| Some((p.user_id?, p.conn_set, p.status)))
        .filter(|(user, _, status)| !(skip_busy.is_some_and(|s| s != user) && *status == Status::Busy))
        .flat_map(|(user, conns, _)| conns.into_iter().map(move |connection| Target { connection, user: user.clone() }))
        .collect())
}

/// Pushes, then removes the connections that answered 410 Gone.
async fn deliver(app: &App, deliveries: Vec<(Target, Vec<u8>)>) {
    let owners: HashMap<String, UserId> =
        deliveries.iter().map(|(t, _)| (t.connection.clone(), t.user.clone())).collect();
    let gone = fan_out(&app.push, deliveries.into_iter().map(|(t, p)| (t.connection, p)).collect()).await;
    let now = iso(now_ms());
    let cleanups = gone.iter().filter_map(|conn| {
        let user = owners.get(conn)?;
        tracing::info!(connection = %conn, user = %user, "removing gone connection");
        Some(repo::connections::remove(app.table(), conn, user, &now))
    });
    for result in futures::future::join_all(cleanups).await {
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not remove a gone connection");
        }
    }
}

/// A stored message goes out: `messageReceived` to the sending connection, `chatMessage` to
/// every other connection of every member (busy members excepted: they fetch it later), and
/// `newMessage` to the admin room. Costs one `BatchGetItem` per 100 members and one `Query`,
/// concurrently; push failures never fail the send.
pub async fn deliver_message(app: &App, sender: &Actor, c: &Conversation, m: &Message, origin: Option<&str>) {
    let payload = json!({ "message": m, "sender": { "id": sender.user_id, "username": sender.username }, "conversationType": c.kind });
    let (targets, admins) = tokio::join!(
        connections_of(app, &c.member_set, Some(&sender.user_id)),
        repo::connections::admin_connections(app.table(), now_secs()),
    );
    let chat = frame(events::CHAT_MESSAGE, payload.clone());
    let mut deliveries: Vec<(Target, Vec<u8>)> = Vec::new();
    if let Some(origin) = origin {
        let ack = json!({ "message": m, "clientMessageId": m.client_message_id });
        deliveries.push((
            Target { connection: origin.to_owned(), user: sender.user_id.clone() },
            frame(events::MESSAGE_RECEIVED, ack),
        ));
    }
    match targets {
        Ok(targets) => deliveries
            .extend(targets.into_iter().filter(|t| Some(t.connection.as_str()) != origin).map(|t| (t, chat.clone()))),
        Err(e) => tracing::warn!(error = %e, "fan-out lookup failed; message stored, not pushed"),
    }
    let new_message = frame(events::NEW_MESSAGE, payload);
    match admins {
        Ok(admins) => deliveries
            .extend(admins.into_iter().map(|(connection, user)| (Target { connection, user }, new_message.clone()))),
        Err(e) => tracing::warn!(error = %e, "admin room lookup failed"),
    }
    deliver(app, deliveries).await;
}

/// An event to every connection of the members of `c` except `except`'s.
pub async fn to_members(
    app: &App,
    c: &Conversation,
    except: Option<&UserId>,
    event: &str,
    data: &Value,
) -> Result<(), AppError> {
    let members: Vec<UserId> = c.member_set.iter().filter(|m| Some(*m) != except).cloned().collect();
    let payload = frame(event, data.clone());
    let targets = connections_of(app, &members, None).await?;
    deliver(app, targets.into_iter().map(|t| (t, payload.clone())).collect()).await;
    Ok(())
}

/// An event to every connection of one user.
pub async fn to_user(app: &App, user: &UserId, event: &str, data: &Value) -> Result<(), AppError> {
    let payload = frame(event, data.clone());
    let targets = connections_of(app, std::slice::from_ref(user), None).await?;
    deliver(app, targets.into_iter().map(|t| (t, payload.clone())).collect()).await;
    Ok(())
}

/// `messagesMarkedRead` to the reader's devices, `messagesRead` to the other members: one
/// presence read for both.
pub async fn read_receipts(app: &App, reader: &Actor, c: &Conversation, data: &Value) -> Result<(), AppError> {
    let (mine, others) =
        (frame(events::MESSAGES_MARKED_READ, data.clone()), frame(events::MESSAGES_READ, data.clone()));
    let targets = connections_of(app, &c.member_set, None).await?;
    let deliveries = targets
        .into_iter()
        .map(|t| {
            let payload = if t.user == reader.user_id { mine.clone() } else { others.clone() };
            (t, payload)
        })
        .collect();
    deliver(app, deliveries).await;
    Ok(())
}

fn typing_data(conv: &ConversationId, user: &UserId, is_typing: bool, now: i64) -> Value {
    let expires = if is_typing { iso(now + TYPING_TTL_MS) } else { iso(now) };
    json!({ "conversationId": conv, "userId": user, "isTyping": is_typing, "expiresAt": expires })
}

/// Starts or stops a typing indicator: remembered on the connection (so a disconnect ends it)
/// and pushed to the other members. Members only.
pub async fn typing(
    app: &App,
    actor: &Actor,
    connection_id: &str,
    conv: &ConversationId,
    is_typing: bool,
) -> Result<(), AppError> {
    let c = member_conversation(app, actor, conv).await?;
    let now = now_ms();
    let updates = if is_typing {
        vec![
            Update::Set("typingIn".into(), json!(conv)),
            Update::Set("typingUntil".into(), (now + TYPING_TTL_MS).into()),
        ]
    } else {
        vec![Update::Remove("typingIn".into()), Update::Remove("typingUntil".into())]
    };
    let data = typing_data(conv, &actor.user_id, is_typing, now);
    let (stored, pushed) = tokio::join!(
        repo::connections::update(app.table(), connection_id, updates),
        to_members(app, &c, Some(&actor.user_id), events::TYPING_STATUS, &data),
    );
    stored.and(pushed)
}

/// Joins (or, with `None`, leaves) a conversation room: the connection is viewing it.
pub async fn view(
    app: &App,
    actor: &Actor,
    connection_id: &str,
    conv: &ConversationId,
    join: bool,
) -> Result<Value, AppError> {
    if join {
        member_conversation(app, actor, conv).await?;
        repo::connections::update(app.table(), connection_id, vec![Update::Set("viewing".into(), json!(conv))]).await?;
    } else {
        repo::connections::update(app.table(), connection_id, vec![Update::Remove("viewing".into())]).await?;
    }
    Ok(json!({ "conversationId": conv, "viewing": join }))
}

async fn member_conversation(app: &App, actor: &Actor, conv: &ConversationId) -> Result<Conversation, AppError> {
    let c = repo::conversations::get(app.table(), conv).await?;
    match c {
        Some(c) if c.is_member(&actor.user_id) => Ok(c),
        Some(_) => Err(AppError::Forbidden("you are not a member of this conversation".into())),
        None => Err(AppError::not_found("conversation")),
    }
}

/// Closes every live connection of a user (account deleted).
pub async fn close_all(app: &App, user: &UserId) -> Result<(), AppError> {
    let presence = repo::connections::presence(app.table(), user).await?;
    let now = iso(now_ms());
    let now = &now;
    let closes = presence.conn_set.iter().map(|conn| async move {
        if let Err(e) = app.push.close(conn).await {
            tracing::warn!(connection = %conn, error = %e, "close failed");
        }
        repo::connections::remove(app.table(), conn, user, now).await
    });
    for r in futures::future::join_all(closes).await {
        r?;
    }
    Ok(())
}
