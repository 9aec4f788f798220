//! Fan-out: rooms → connections → push. Rooms are the user room (a user's connections, from
//! their `PRESENCE` item), the admin room (`ROOM#admin`) and conversation rooms (connections
//! viewing a conversation). Every push goes through here, and so does the one cleanup of a
//! connection that answers 410 Gone (`remove_connection`). Imports no service: presence,
//! notifications, messages and the connection lifecycle (`realtime`) sit above it.

use std::collections::HashMap;

use futures::future::{BoxFuture, FutureExt};

use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::events::{Event, Typing};
use crate::ids::{ConnectionId, ConversationId, UserId};
use crate::models::Status;
use crate::push::fan_out;
use crate::repo::conversations::Conversation;
use crate::repo::{self, connections::Connection, connections::Presence};

/// How long a typing indicator lives without a refresh (SPEC §5: at most 10 s).
pub const TYPING_TTL_MS: i64 = 8_000;

/// One target of a fan-out: a connection and whose it is (to remove it on a 410).
#[derive(Clone)]
struct Target {
    connection: ConnectionId,
    user: UserId,
}

/// Some live connections, read once for one or several events.
#[derive(Default)]
pub struct Connections(Vec<Target>);

impl Connections {
    /// The connections of `presences`, less those of busy users other than `keep` (do not
    /// disturb); with no `keep`, every one.
    pub fn of(presences: Vec<Presence>, keep: Option<&UserId>) -> Self {
        Self(
            presences
                .into_iter()
                .filter_map(|p| Some((p.user_id?, p.conn_set, p.status)))
                .filter(|(user, _, status)| !(keep.is_some_and(|k| k != user) && *status == Status::Busy))
                .flat_map(|(user, conns, _)| {
                    conns.into_iter().map(move |c| Target { connection: ConnectionId::new(c), user: user.clone() })
                })
                .collect(),
        )
    }

    /// One connection of `user`.
    pub fn one(connection: &ConnectionId, user: &UserId) -> Self {
        Self(vec![Target { connection: connection.clone(), user: user.clone() }])
    }

    fn of_room(entries: Vec<(String, UserId)>) -> Self {
        Self(entries.into_iter().map(|(c, user)| Target { connection: ConnectionId::new(c), user }).collect())
    }

    /// All but `connection`.
    pub fn without(mut self, connection: Option<&ConnectionId>) -> Self {
        self.0.retain(|t| Some(&t.connection) != connection);
        self
    }

    /// Those of users `which` accepts, and the others.
    pub fn split(self, which: impl Fn(&UserId) -> bool) -> (Self, Self) {
        let (yes, no) = self.0.into_iter().partition(|t| which(&t.user));
        (Self(yes), Self(no))
    }

    /// Both, each connection once.
    pub fn and(mut self, other: Self) -> Self {
        self.0.extend(other.0);
        self.0.sort_by(|a, b| a.connection.cmp(&b.connection));
        self.0.dedup_by(|a, b| a.connection == b.connection);
        self
    }
}

/// The connections of `users`: one `BatchGetItem` per 100 users.
pub async fn connections(app: &App, users: &[UserId]) -> Result<Connections, AppError> {
    Ok(Connections::of(repo::connections::presences(app.table(), users).await?, None))
}

/// The admin room: one `Query`.
pub async fn admins(app: &App) -> Result<Connections, AppError> {
    Ok(Connections::of_room(repo::connections::admin_connections(app.table(), now_secs()).await?))
}

/// Each event to its connections, in one fan-out (each event serialized once).
pub async fn push_all(app: &App, batches: Vec<(Connections, &Event)>) {
    let mut deliveries = Vec::new();
    for (to, event) in batches {
        let frame = event.frame();
        deliveries.extend(to.0.into_iter().map(|t| (t, frame.clone())));
    }
    deliver(app, deliveries).await;
}

/// One event to every one of `to`.
pub async fn push(app: &App, to: Connections, event: &Event) {
    push_all(app, vec![(to, event)]).await;
}

/// To each connection the frames (`Event::frame`) that `frames` gives for its user, in one
/// fan-out: for events that differ by user.
pub async fn push_each(app: &App, to: Connections, frames: impl Fn(&UserId) -> Vec<Vec<u8>>) {
    let mut deliveries = Vec::new();
    for t in to.0 {
        deliveries.extend(frames(&t.user).into_iter().map(|f| (t.clone(), f)));
    }
    deliver(app, deliveries).await;
}

/// An event to every connection of one user.
pub async fn to_user(app: &App, user: &UserId, event: &Event) -> Result<(), AppError> {
    push(app, connections(app, std::slice::from_ref(user)).await?, event).await;
    Ok(())
}

/// The connections of `users`, but for those who blocked `actor`: what a blocked user does
/// (reactions, receipts, edits) never reaches whoever blocked them. Their block sets are on the
/// presences read anyway: no extra request.
pub async fn connections_unblocked(app: &App, users: &[UserId], actor: &UserId) -> Result<Connections, AppError> {
    let presences = repo::connections::presences(app.table(), users).await?;
    Ok(Connections::of(presences.into_iter().filter(|p| !p.block_set.contains(actor)).collect(), None))
}

/// The members of `c` but `except`.
fn members_but(c: &Conversation, except: Option<&UserId>) -> Vec<UserId> {
    c.member_set.iter().filter(|m| Some(*m) != except).cloned().collect()
}

/// An event to every connection of the members of `c` except `except`'s.
pub async fn to_members(app: &App, c: &Conversation, except: Option<&UserId>, event: &Event) -> Result<(), AppError> {
    push(app, connections(app, &members_but(c, except)).await?, event).await;
    Ok(())
}

/// As `to_members`, for what `actor` did: members who blocked `actor` are left out.
pub async fn to_members_from(
    app: &App,
    c: &Conversation,
    actor: &UserId,
    except: Option<&UserId>,
    event: &Event,
) -> Result<(), AppError> {
    push(app, connections_unblocked(app, &members_but(c, except), actor).await?, event).await;
    Ok(())
}

/// An event to the connections viewing `c` (its room), except `except`'s; only current members
/// count, so a removed member stops hearing at once: one `Query`.
pub async fn to_room(app: &App, c: &Conversation, except: &UserId, event: &Event) -> Result<(), AppError> {
    let viewers = repo::connections::room(app.table(), &c.id, now_secs()).await?;
    let viewers = viewers.into_iter().filter(|(_, user)| user != except && c.is_member(user)).collect();
    push(app, Connections::of_room(viewers), event).await;
    Ok(())
}

/// As `to_room`, between users of whom neither blocked the other: those `user` blocked are on
/// their presence, read alongside the room (one `GetItem`); those who blocked `user` have a
/// block item, read for the room's other viewers when there are any (one `BatchGetItem`).
pub async fn to_room_unblocked(app: &App, c: &Conversation, user: &UserId, event: &Event) -> Result<(), AppError> {
    let (viewers, me) = tokio::try_join!(
        repo::connections::room(app.table(), &c.id, now_secs()),
        repo::connections::presence(app.table(), user),
    )?;
    let viewers: Vec<(String, UserId)> =
        viewers.into_iter().filter(|(_, u)| u != user && c.is_member(u) && !me.block_set.contains(u)).collect();
    if viewers.is_empty() {
        return Ok(());
    }
    let mut users: Vec<&UserId> = viewers.iter().map(|(_, u)| u).collect();
    users.sort();
    users.dedup();
    let keys: Vec<_> = users.iter().map(|u| repo::blocks::key(u, user)).collect();
    let blocking = app.table().batch_get(&keys).await?;
    let viewers =
        viewers.into_iter().filter(|(_, u)| repo::pick(&blocking, &repo::blocks::key(u, user)).is_none()).collect();
    push(app, Connections::of_room(viewers), event).await;
    Ok(())
}

/// One event to one connection (replies such as `pong`, `error`, `messageReceived`). Its owner
/// is not known here, so a 410 is left to the `$disconnect` API Gateway sends anyway.
pub async fn reply(app: &App, connection: &ConnectionId, event: &Event) {
    let gone = fan_out(&app.push, vec![(connection.to_string(), event.frame())]).await;
    if !gone.is_empty() {
        tracing::info!(connection = %connection, "reply to a closed connection dropped");
    }
}

/// Pushes, then removes the connections that answered 410 Gone (see `remove_connection`).
async fn deliver(app: &App, deliveries: Vec<(Target, Vec<u8>)>) {
    crate::metrics::max(crate::metrics::Metric::FanOutSize, deliveries.len() as u64);
    let owners: HashMap<String, Target> =
        deliveries.iter().map(|(t, _)| (t.connection.to_string(), t.clone())).collect();
    let gone = fan_out(&app.push, deliveries.into_iter().map(|(t, p)| (t.connection.to_string(), p)).collect()).await;
    let cleanups = gone.iter().filter_map(|conn| {
        let t = owners.get(conn)?;
        tracing::info!(connection = %conn, user = %t.user, "removing gone connection");
        Some(remove_connection(app, &t.connection, &t.user))
    });
    for result in futures::future::join_all(cleanups).await {
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not remove a gone connection");
        }
    }
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
pub fn remove_connection<'a>(
    app: &'a App,
    connection: &'a ConnectionId,
    user: &'a UserId,
) -> BoxFuture<'a, Result<Option<Presence>, AppError>> {
    async move {
        let removed = repo::connections::remove(app.table(), connection.as_str(), user, &iso(now_ms())).await?;
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
        to_room(app, &c, user, &typing(conv, user, false, now_ms())).await?;
    }
    Ok(())
}

/// A `typingStatus` event: it expires `TYPING_TTL_MS` from `now`, or at once when it stops.
pub fn typing(conv: &ConversationId, user: &UserId, is_typing: bool, now: i64) -> Event {
    let expires_at = if is_typing { iso(now + TYPING_TTL_MS) } else { iso(now) };
    Event::TypingStatus(Typing { conversation_id: conv.clone(), user_id: user.clone(), is_typing, expires_at })
}
