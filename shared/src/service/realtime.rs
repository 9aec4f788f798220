//! WebSocket connections and every push: rooms are the user room (a user's connections, from
//! their `PRESENCE` item), the admin room (`ROOM#admin`) and conversation rooms (connections
//! viewing a conversation). Pushes are best effort; a 410 removes that connection
//! (`remove_connection`).

use std::collections::HashMap;

use futures::future::{BoxFuture, FutureExt};
use serde_json::{json, Value};

use super::Actor;
use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::events::{self, frame};
use crate::ids::{ConversationId, TokenId, UserId};
use crate::models::{ConversationKind, Message, Status};
use crate::push::fan_out;
use crate::repo::conversations::Conversation;
use crate::repo::{self, connections::Connection, connections::Presence};
use crate::service::{notifications, presence};
use crate::store::Update;

/// How long a typing indicator lives without a refresh (SPEC §5: at most 10 s).
pub const TYPING_TTL_MS: i64 = 8_000;

/// Registers a connection opened with the token `token` (its `jti`, from the authorizer), so
/// that the token's end ends it (`end_connections`).
pub async fn connect(app: &App, actor: &Actor, token: Option<&TokenId>, connection_id: &str) -> Result<(), AppError> {
    let now = now_ms();
    let c = Connection {
        token_id: token.cloned(),
        ..Connection::new(connection_id.to_owned(), actor.user_id.clone(), actor.role, now)
    };
    let p = repo::connections::connect(app.table(), &c, &iso(now), now_secs()).await?;
    // The first connection brings the user online.
    if p.conn_set.len() == 1 && p.status != Status::Offline {
        presence::broadcast(app, &actor.user_id, &p).await?;
    }
    Ok(())
}

/// Whether a frame may be served: its connection is still stored, as `actor`'s (one
/// `GetItem`). The authorizer's context is fixed at `$connect`, so it cannot tell that the
/// token has since ended or the role changed; those remove the connection before closing it
/// (`end_connections`), and a frame that arrives meanwhile is refused here.
pub async fn check_open(app: &App, actor: &Actor, connection_id: &str) -> Result<(), AppError> {
    open_connection(app, actor, connection_id).await.map(drop)
}

/// The stored connection, as `check_open` requires it.
async fn open_connection(app: &App, actor: &Actor, connection_id: &str) -> Result<Connection, AppError> {
    repo::connections::get(app.table(), connection_id)
        .await?
        .filter(|c| c.user_id == actor.user_id)
        .ok_or_else(|| AppError::Unauthorized("connection closed; reconnect".into()))
}

/// Removes the connection; a typing indicator it held ends now, and the last connection takes
/// the user offline.
pub async fn disconnect(app: &App, actor: &Actor, connection_id: &str) -> Result<(), AppError> {
    if let Some(p) = remove_connection(app, connection_id, &actor.user_id).await? {
        presence::broadcast(app, &actor.user_id, &p).await?;
    }
    Ok(())
}

/// Every removal of a connection (disconnect, 410, the end of its token): the typing indicator
/// it held ends. Returns the user's presence when that was their last connection (now offline)
/// and this call removed it (so a `$disconnect` after `end_connections` announces nothing twice),
/// for the caller to announce: a disconnect or a deletion tells the contacts; a fan-out that finds
/// connections gone does not (a `presence` broadcast per gone user would make a send's cost
/// unbounded; the stored presence is offline, which is what clients read).
/// Only the call that deleted the connection item sees its typing, so the recursion (the typing
/// stop's fan-out finding another gone connection) ends: each level deletes another item. Boxed,
/// as it is recursive through `deliver`.
fn remove_connection<'a>(
    app: &'a App,
    connection_id: &'a str,
    user: &'a UserId,
) -> BoxFuture<'a, Result<Option<Presence>, AppError>> {
    async move {
        let removed = repo::connections::remove(app.table(), connection_id, user, &iso(now_ms())).await?;
        end_typing(app, user, removed.connection.as_ref()).await?;
        let removed_here = removed.connection.is_some();
        Ok(removed.presence.filter(|p| removed_here && p.conn_set.is_empty() && p.status != Status::Offline))
    }
    .boxed()
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
#[derive(Clone)]
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

/// Pushes, then removes the connections that answered 410 Gone (see `remove_connection`).
async fn deliver(app: &App, deliveries: Vec<(Target, Vec<u8>)>) {
    let owners: HashMap<String, UserId> =
        deliveries.iter().map(|(t, _)| (t.connection.clone(), t.user.clone())).collect();
    let gone = fan_out(&app.push, deliveries.into_iter().map(|(t, p)| (t.connection, p)).collect()).await;
    let cleanups = gone.iter().filter_map(|conn| {
        let user = owners.get(conn)?;
        tracing::info!(connection = %conn, user = %user, "removing gone connection");
        Some(remove_connection(app, conn, user))
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
    let mut absent = Vec::new();
    match presences {
        Ok(presences) => {
            if c.kind == ConversationKind::Direct {
                absent = absent_members(sender, c, &presences);
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
    tokio::join!(notify_absent(app, sender, c, m, &absent), deliver(app, deliveries));
}

/// The members other than the sender who will not see a message live: busy or not connected.
fn absent_members<'a>(sender: &Actor, c: &'a Conversation, presences: &[Presence]) -> Vec<&'a UserId> {
    c.member_set
        .iter()
        .filter(|u| **u != sender.user_id)
        .filter(|u| {
            let p = presences.iter().find(|p| p.user_id.as_ref() == Some(*u));
            p.is_none_or(|p| p.conn_set.is_empty() || p.status == Status::Busy)
        })
        .collect()
}

/// The recipient of a direct message who will not see it live gets a notification.
async fn notify_absent(app: &App, sender: &Actor, c: &Conversation, m: &Message, absent: &[&UserId]) {
    for user in absent {
        let data = json!({ "conversationId": c.id, "messageId": m.id, "senderId": sender.user_id });
        let text = format!("New message from {}", sender.username);
        if let Err(e) = notifications::notify(app, user, "message", &text, data, false).await {
            tracing::warn!(error = %e, "could not store a message notification");
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

/// The live connections of some users, read once for several events (`push_each`).
pub struct Connections(Vec<Target>);

/// One `BatchGetItem` per 100 users.
pub async fn connections(app: &App, users: &[UserId]) -> Result<Connections, AppError> {
    Ok(Connections(connections_of(app, users, None).await?))
}

/// Pushes to each connection the events `frames` gives for its user, in one fan-out.
pub async fn push_each(app: &App, to: Connections, frames: impl Fn(&UserId) -> Vec<Vec<u8>>) {
    let mut deliveries = Vec::new();
    for t in to.0 {
        deliveries.extend(frames(&t.user).into_iter().map(|f| (t.clone(), f)));
    }
    deliver(app, deliveries).await;
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
/// and pushed to the other connections viewing the conversation (its room). Members only, on an
/// open connection (checked while the conversation is read).
pub async fn typing(
    app: &App,
    actor: &Actor,
    connection_id: &str,
    conv: &ConversationId,
    is_typing: bool,
) -> Result<(), AppError> {
    let (c, ()) = tokio::try_join!(member_conversation(app, actor, conv), check_open(app, actor, connection_id))?;
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

/// Joins (or leaves) a conversation room: the connection is viewing it. A closed connection is
/// refused (leaving is checked alongside: a closed connection's room entries are gone anyway).
pub async fn view(
    app: &App,
    actor: &Actor,
    connection_id: &str,
    conv: &ConversationId,
    join: bool,
) -> Result<Value, AppError> {
    if join {
        let (c, connection) =
            tokio::try_join!(member_conversation(app, actor, conv), open_connection(app, actor, connection_id))?;
        repo::connections::join_room(app.table(), &connection, &c.id, now_secs()).await?;
    } else {
        tokio::try_join!(
            check_open(app, actor, connection_id),
            repo::connections::leave_room(app.table(), connection_id, conv),
        )?;
    }
    Ok(json!({ "conversationId": conv, "viewing": join }))
}

async fn member_conversation(app: &App, actor: &Actor, conv: &ConversationId) -> Result<Conversation, AppError> {
    let c = repo::conversations::get(app.table(), conv).await?;
    super::conversations::check_member(actor, c.as_ref())?;
    c.ok_or_else(|| AppError::not_found("conversation"))
}

/// Which of a user's connections end.
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// Every one: the password changed, the role changed, the account was deleted.
    All,
    /// Those opened with this token (logout, refresh). One whose token was not recorded ends
    /// too: it cannot be told apart.
    OpenedWith(&'a TokenId),
}

/// Ends connections of `user`: each is removed first (so a frame still in flight on it is
/// refused by `check_open`), then closed (`DELETE @connections`); the `$disconnect` that follows
/// finds nothing left to do. Their contacts see the user go offline when that was the last one
/// (their memberships, hence contacts, outlive even a deleted account).
/// Costs the presence `GetItem` (+ one `BatchGetItem` per 100 connections for `OpenedWith`),
/// then a removal per ended connection, concurrently.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn end_connections(app: &App, user: &UserId, which: Ending<'_>) -> Result<(), AppError> {
    let open = repo::connections::presence(app.table(), user).await?.conn_set;
    let ending: Vec<String> = match which {
        Ending::All => open,
        Ending::OpenedWith(token) => repo::connections::get_many(app.table(), &open)
            .await?
            .into_iter()
            .filter(|c| c.token_id.as_ref().is_none_or(|t| t == token))
            .map(|c| c.connection_id)
            .collect(),
    };
    let ends = ending.iter().map(|conn| async move {
        let offline = remove_connection(app, conn, user).await?;
        if let Err(e) = app.push.close(conn).await {
            tracing::warn!(connection = %conn, error = %e, "close failed; the connection is already refused");
        }
        match offline {
            Some(p) => presence::broadcast(app, user, &p).await,
            None => Ok(()),
        }
    });
    for r in futures::future::join_all(ends).await {
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;

    use super::*;
    use crate::config::Config;
    use crate::models::Role;
    use crate::push::{Push, PushError};
    use crate::store::EmbeddedTable;

    /// Answers 410 for connections named `gone…`, records what the others get.
    #[derive(Default)]
    struct FakePush {
        posted: Mutex<Vec<(String, Value)>>,
    }

    #[async_trait]
    impl Push for FakePush {
        async fn post(&self, connection_id: &str, payload: Vec<u8>) -> Result<(), PushError> {
            if connection_id.starts_with("gone") {
                return Err(PushError::Gone);
            }
            let frame = serde_json::from_slice(&payload).expect("JSON");
            self.posted.lock().unwrap().push((connection_id.to_owned(), frame));
            Ok(())
        }
        async fn close(&self, _: &str) -> Result<(), PushError> {
            Ok(())
        }
    }

    impl FakePush {
        fn events(&self, connection_id: &str, event: &str) -> Vec<Value> {
            let posted = self.posted.lock().unwrap();
            posted
                .iter()
                .filter(|(c, f)| c == connection_id && f["event"] == event)
                .map(|(_, f)| f["data"].clone())
                .collect()
        }
    }

    struct World {
        app: App,
        push: Arc<FakePush>,
        c: Conversation,
        bob: UserId,
    }

    /// Alice (connection `ok-alice`, viewing their conversation) and Bob, with one connection
    /// `bob_conn` that is typing in it.
    async fn world(bob_conn: &str) -> World {
        let push = Arc::new(FakePush::default());
        let table = Arc::new(EmbeddedTable::in_memory().expect("store"));
        let app = App::with_parts(Config::for_tests(), table, push.clone());
        let (alice, bob) = (UserId::generate(), UserId::generate());
        let (c, ops) = repo::conversations::create_direct_ops(&alice, &bob, "2026-01-01T00:00:00Z", None).expect("ops");
        app.table().transact(ops).await.expect("conversation");
        for (user, conn) in [(&alice, "ok-alice"), (&bob, bob_conn)] {
            let connection = Connection::new(conn.to_owned(), user.clone(), Role::User, now_ms());
            repo::connections::connect(app.table(), &connection, &iso(now_ms()), now_secs()).await.expect("connect");
            if user == &alice {
                repo::connections::join_room(app.table(), &connection, &c.id, now_secs()).await.expect("join");
            }
        }
        let typing = vec![
            Update::Set("typingIn".into(), json!(c.id)),
            Update::Set("typingUntil".into(), (now_ms() + TYPING_TTL_MS).into()),
        ];
        repo::connections::update(app.table(), bob_conn, typing).await.expect("typing");
        World { app, push, c, bob }
    }

    #[tokio::test]
    async fn a_last_connection_found_gone_leaves_its_user_offline_and_ends_their_typing() {
        let w = world("gone-bob").await;
        to_members(&w.app, &w.c, None, "x", &json!({})).await.expect("push");
        assert!(repo::connections::presence(w.app.table(), &w.bob).await.expect("presence").conn_set.is_empty());
        assert!(w.push.events("ok-alice", events::PRESENCE).is_empty(), "a fan-out broadcasts no presence");
        let typing = w.push.events("ok-alice", events::TYPING_STATUS);
        assert_eq!(typing.len(), 1, "{typing:?}");
        assert_eq!(typing[0]["isTyping"], false);
        // Found gone again (a concurrent fan-out): the typing already ended.
        remove_connection(&w.app, "gone-bob", &w.bob).await.expect("again");
        assert_eq!(w.push.events("ok-alice", events::TYPING_STATUS).len(), 1);
    }

    #[tokio::test]
    async fn closing_a_deleted_users_connections_tells_their_contacts() {
        let w = world("bob-1").await;
        end_connections(&w.app, &w.bob, Ending::All).await.expect("close");
        let presence = w.push.events("ok-alice", events::PRESENCE);
        assert_eq!(presence.len(), 1, "{presence:?}");
        assert_eq!(presence[0]["online"], false);
        assert_eq!(w.push.events("ok-alice", events::TYPING_STATUS)[0]["isTyping"], false);
        // The `$disconnect` that the close causes: the typing already ended.
        let bob = Actor { user_id: w.bob.clone(), username: "bob".into(), role: Role::User };
        disconnect(&w.app, &bob, "bob-1").await.expect("disconnect");
        assert_eq!(w.push.events("ok-alice", events::TYPING_STATUS).len(), 1);
        assert_eq!(w.push.events("ok-alice", events::PRESENCE).len(), 1, "offline is announced once");
    }
}
