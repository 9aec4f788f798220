//! The WebSocket connection lifecycle: connect, the open check of every frame, typing,
//! viewing a conversation (its room), disconnect and the end of a user's connections. Pushes go
//! through `fanout`; presence changes through `presence`.

use serde_json::json;

use super::fanout::{self, remove_connection, TYPING_TTL_MS};
use super::{presence, Actor};
use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::ids::{ConnectionId, ConversationId, TokenId, UserId};
use crate::models::Status;
use crate::repo::conversations::Conversation;
use crate::repo::{self, connections::Connection};
use crate::store::Update;

/// Registers a connection opened with the token `token` (its `jti`, from the authorizer), so
/// that the token's end ends it (`end_connections`).
pub async fn connect(
    app: &App,
    actor: &Actor,
    token: Option<(&TokenId, i64)>,
    connection: &ConnectionId,
) -> Result<(), AppError> {
    let now = now_ms();
    let c = Connection {
        token_id: token.map(|(id, _)| id.clone()),
        token_expires_at: token.map(|(_, exp)| exp),
        ..Connection::new(connection.to_string(), actor.user_id.clone(), actor.role, now)
    };
    let p = repo::connections::connect(app.table(), &c, &iso(now), now_secs()).await?;
    crate::metrics::add(crate::metrics::Metric::ConnectionsOpened, 1);
    // The first connection brings the user online.
    if p.conn_set.len() == 1 && p.status != Status::Offline {
        presence::broadcast(app, &actor.user_id, &p, Some(connection)).await?;
    }
    Ok(())
}

/// Whether a frame may be served: its connection is still stored, as `actor`'s (one
/// `GetItem`). The authorizer's context is fixed at `$connect`, so it cannot tell that the
/// token has since ended or the role changed; those remove the connection before closing it
/// (`end_connections`), and a frame that arrives meanwhile is refused here.
pub async fn check_open(app: &App, actor: &Actor, connection: &ConnectionId) -> Result<(), AppError> {
    open_connection(app, actor, connection).await.map(drop)
}

/// The stored connection, as `check_open` requires it.
async fn open_connection(app: &App, actor: &Actor, connection: &ConnectionId) -> Result<Connection, AppError> {
    let c = repo::connections::get(app.table(), connection.as_str())
        .await?
        .filter(|c| c.user_id == actor.user_id)
        .ok_or_else(|| AppError::Unauthorized("connection closed; reconnect".into()))?;
    // The token it was opened with has expired since: the connection ends with it (SPEC §7).
    // Closed here (`DELETE @connections`); the `$disconnect` that follows removes it.
    if c.token_expires_at.is_some_and(|exp| exp < now_secs()) {
        if let Err(e) = app.push.close(connection.as_str()).await {
            tracing::warn!(connection = %connection, error = %e, "could not close an expired token's connection");
        }
        return Err(AppError::Unauthorized("token expired; reconnect with a fresh one".into()));
    }
    Ok(c)
}

/// Removes the connection; a typing indicator it held ends now, and the last connection takes
/// the user offline.
pub async fn disconnect(app: &App, actor: &Actor, connection: &ConnectionId) -> Result<(), AppError> {
    crate::metrics::add(crate::metrics::Metric::ConnectionsClosed, 1);
    if let Some(p) = remove_connection(app, connection, &actor.user_id).await? {
        presence::broadcast(app, &actor.user_id, &p, None).await?;
    }
    Ok(())
}

/// Starts or stops a typing indicator: remembered on the connection (so a disconnect ends it)
/// and pushed to the other connections viewing the conversation (its room). Members only, on an
/// open connection (checked while the conversation is read).
pub async fn typing(
    app: &App,
    actor: &Actor,
    connection: &ConnectionId,
    conv: &ConversationId,
    is_typing: bool,
) -> Result<(), AppError> {
    let (c, ()) = tokio::try_join!(member_conversation(app, actor, conv), check_open(app, actor, connection))?;
    let now = now_ms();
    let updates = if is_typing {
        vec![
            Update::Set("typingIn".into(), json!(conv)),
            Update::Set("typingUntil".into(), (now + TYPING_TTL_MS).into()),
        ]
    } else {
        vec![Update::Remove("typingIn".into()), Update::Remove("typingUntil".into())]
    };
    let event = fanout::typing(conv, &actor.user_id, is_typing, now);
    let (stored, pushed) = tokio::join!(
        repo::connections::update(app.table(), connection.as_str(), updates),
        fanout::to_room_unblocked(app, &c, &actor.user_id, &event),
    );
    stored.and(pushed)
}

/// Joins (or leaves) a conversation room: the connection is viewing it. A closed connection is
/// refused (leaving is checked alongside: a closed connection's room entries are gone anyway).
pub async fn view(
    app: &App,
    actor: &Actor,
    connection: &ConnectionId,
    conv: &ConversationId,
    join: bool,
) -> Result<(), AppError> {
    if join {
        let (c, connection) =
            tokio::try_join!(member_conversation(app, actor, conv), open_connection(app, actor, connection))?;
        repo::connections::join_room(app.table(), &connection, &c.id, now_secs()).await?;
    } else {
        tokio::try_join!(
            check_open(app, actor, connection),
            repo::connections::leave_room(app.table(), connection.as_str(), conv),
        )?;
    }
    Ok(())
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
    let ends = ending.into_iter().map(ConnectionId::new).map(|conn| async move {
        let offline = remove_connection(app, &conn, user).await?;
        if let Err(e) = app.push.close(conn.as_str()).await {
            tracing::warn!(connection = %conn, error = %e, "close failed; the connection is already refused");
        }
        match offline {
            Some(p) => presence::broadcast(app, user, &p, None).await,
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

    use serde_json::Value;

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
        let event = crate::events::Event::Pong(crate::events::Pong { time: "t".into() });
        fanout::to_members(&w.app, &w.c, None, &event).await.expect("push");
        assert!(repo::connections::presence(w.app.table(), &w.bob).await.expect("presence").conn_set.is_empty());
        assert!(w.push.events("ok-alice", "presence").is_empty(), "a fan-out broadcasts no presence");
        let typing = w.push.events("ok-alice", "typingStatus");
        assert_eq!(typing.len(), 1, "{typing:?}");
        assert_eq!(typing[0]["isTyping"], false);
        // Found gone again (a concurrent fan-out): the typing already ended.
        remove_connection(&w.app, &ConnectionId::new("gone-bob"), &w.bob).await.expect("again");
        assert_eq!(w.push.events("ok-alice", "typingStatus").len(), 1);
    }

    #[tokio::test]
    async fn closing_a_deleted_users_connections_tells_their_contacts() {
        let w = world("bob-1").await;
        end_connections(&w.app, &w.bob, Ending::All).await.expect("close");
        let presence = w.push.events("ok-alice", "presence");
        assert_eq!(presence.len(), 1, "{presence:?}");
        assert_eq!(presence[0]["online"], false);
        assert_eq!(w.push.events("ok-alice", "typingStatus")[0]["isTyping"], false);
        // The `$disconnect` that the close causes: the typing already ended.
        let bob = Actor { user_id: w.bob.clone(), username: "bob".into(), role: Role::User };
        disconnect(&w.app, &bob, &ConnectionId::new("bob-1")).await.expect("disconnect");
        assert_eq!(w.push.events("ok-alice", "typingStatus").len(), 1);
        assert_eq!(w.push.events("ok-alice", "presence").len(), 1, "offline is announced once");
    }
}
