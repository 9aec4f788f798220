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
use crate::models::{ConversationKind, Message, Status};
use crate::push::fan_out;
use crate::repo::conversations::Conversation;
use crate::repo::{self, connections::Connection, connections::Presence};
use crate::service::{notifications, presence};
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
    let p = repo::connections::connect(app.table(), &c, &iso(now), now_secs()).await?;
    // The first connection brings the user online.
    if p.conn_set.len() == 1 && p.status != Status::Offline {
        presence::broadcast(app, &actor.user_id, &p).await?;
    }
    Ok(())
}

/// Removes the connection; a typing indicator it held ends now, and the last connection takes
/// the user offline.
pub async fn disconnect(app: &App, actor: &Actor, connection_id: &str) -> Result<(), AppError> {
    let removed = repo::connections::remove(app.table(), connection_id, &actor.user_id, &iso(now_ms())).await?;
    end_typing(app, &actor.user_id, removed.connection.as_ref()).await?;
    if let Some(p) = removed.presence.filter(|p| p.conn_set.is_empty() && p.status != Status::Offline) {
        presence::broadcast(app, &actor.user_id, &p).await?;
    }
    Ok(())
}

async fn end_typing(app: &App, user: &UserId, gone: Option<&Connection>) -> Result<(), AppError> {
    let Some(Connection { typing_in: Some(conv), typing_until: Some(until), .. }) = gone else { return Ok(()) };
    if *until <= now_ms() {
        return Ok(());
    }
    if let Some(c) = repo::conversations::get(app.table(), conv).await? {
        to_room(app, &c, user, events::TYPING_STATUS, &typing_data(conv, user, false, now_ms())).await?;
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

/// The connections of `presences`, less busy users other than `keep` (do not disturb).
fn targets_of(presences: Vec<Presence>, keep: Option<&UserId>) -> Vec<Target> {
    presences
        .into_iter()
        .filter_map(|p| Some((p.user_id?, p.conn_set, p.status)))
        .filter(|(user, _, status)| !(keep.is_some_and(|k| k != user) && *status == Status::Busy))
        .flat_map(|(user, conns, _)| conns.into_iter().map(move |connection| Target { connection, user: user.clone() }))
        .collect()
}

/// The connections of `users`: one `BatchGetItem` per 100 users.
async fn connections_of(app: &App, users: &[UserId], keep: Option<&UserId>) -> Result<Vec<Target>, AppError> {
    Ok(targets_of(repo::connections::presences(app.table(), users).await?, keep))
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
/// concurrently; push failures never fail the send. In a direct conversation, a recipient who is
/// busy or not connected also gets a stored `message` notification (one `PutItem`).
pub async fn deliver_message(app: &App, sender: &Actor, c: &Conversation, m: &Message, origin: Option<&str>) {
    let payload = json!({ "message": m, "sender": { "id": sender.user_id, "username": sender.username }, "conversationType": c.kind });
    let (presences, admins) = tokio::join!(
        repo::connections::presences(app.table(), &c.member_set),
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
    match presences {
        Ok(presences) => {
            if c.kind == ConversationKind::Direct {
                notify_absent(app, sender, c, m, &presences).await;
            }
            let targets = targets_of(presences, Some(&sender.user_id));
            deliveries.extend(
                targets.into_iter().filter(|t| Some(t.connection.as_str()) != origin).map(|t| (t, chat.clone())),
            );
        }
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

/// The recipient of a direct message who will not see it live gets a notification.
async fn notify_absent(app: &App, sender: &Actor, c: &Conversation, m: &Message, presences: &[Presence]) {
    for user in c.member_set.iter().filter(|u| **u != sender.user_id) {
        let p = presences.iter().find(|p| p.user_id.as_ref() == Some(user));
        let absent = p.is_none_or(|p| p.conn_set.is_empty() || p.status == Status::Busy);
        if absent {
            let data = json!({ "conversationId": c.id, "messageId": m.id, "senderId": sender.user_id });
            let text = format!("New message from {}", sender.username);
            if let Err(e) = notifications::notify(app, user, "message", &text, data, false).await {
                tracing::warn!(error = %e, "could not store a message notification");
            }
        }
    }
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
/// and pushed to the other connections viewing the conversation (its room). Members only.
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
        to_room(app, &c, &actor.user_id, events::TYPING_STATUS, &data),
    );
    stored.and(pushed)
}

/// An event to the connections viewing `c` (its room), except `except`'s; only current members
/// count, so a removed member stops hearing at once: one `Query`.
pub async fn to_room(app: &App, c: &Conversation, except: &UserId, event: &str, data: &Value) -> Result<(), AppError> {
    let viewers = repo::connections::room(app.table(), &c.id, now_secs()).await?;
    let payload = frame(event, data.clone());
    let deliveries = viewers
        .into_iter()
        .filter(|(_, user)| user != except && c.is_member(user))
        .map(|(connection, user)| (Target { connection, user }, payload.clone()))
        .collect();
    deliver(app, deliveries).await;
    Ok(())
}

/// Joins (or leaves) a conversation room: the connection is viewing it.
pub async fn view(
    app: &App,
    actor: &Actor,
    connection_id: &str,
    conv: &ConversationId,
    join: bool,
) -> Result<Value, AppError> {
    if join {
        let (c, connection) = tokio::try_join!(
            member_conversation(app, actor, conv),
            repo::connections::get(app.table(), connection_id),
        )?;
        let connection = connection.ok_or_else(|| AppError::not_found("connection"))?;
        repo::connections::join_room(app.table(), &connection, &c.id, now_secs()).await?;
    } else {
        repo::connections::leave_room(app.table(), connection_id, conv).await?;
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
        repo::connections::remove(app.table(), conn, user, now).await.map(|_| ())
    });
    for r in futures::future::join_all(closes).await {
        r?;
    }
    Ok(())
}
