//! WebSocket connections. Each user has one `PRESENCE` item whose `connSet` lists their live
//! connections, so fan-out to N members is one `BatchGetItem` per 100 members, never a scan.
//! Admin connections are also listed in the `ROOM#admin` partition (the admin room).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{from_item, keys, to_item};
use crate::error::AppError;
use crate::ids::{ConversationId, TokenId, UserId};
use crate::models::{Role, Status};
use crate::store::{Condition, Index, Query, SortCond, StoreError, Table, Update, WriteOp};

/// API Gateway closes a WebSocket after 2 hours; the item outlives it a little.
pub const CONNECTION_TTL_SECS: i64 = 2 * 3600 + 600;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub connection_id: String,
    pub user_id: UserId,
    pub role: Role,
    /// The token (`jti`) the connection was opened with: its end (logout, refresh) ends the
    /// connection. Absent on items written before it was recorded.
    #[serde(default)]
    pub token_id: Option<TokenId>,
    /// When that token expires (epoch seconds): the connection ends with it.
    #[serde(default)]
    pub token_expires_at: Option<i64>,
    pub connected_at: i64,
    #[serde(default)]
    pub viewing: Option<ConversationId>,
    #[serde(default)]
    pub typing_in: Option<ConversationId>,
    #[serde(default)]
    pub typing_until: Option<i64>,
}

impl Connection {
    /// A connection just opened, token not recorded: viewing nothing, typing nowhere.
    pub fn new(connection_id: String, user_id: UserId, role: Role, connected_at: i64) -> Self {
        let (viewing, typing_in, typing_until) = (None, None, None);
        Self {
            connection_id,
            user_id,
            role,
            token_id: None,
            token_expires_at: None,
            connected_at,
            viewing,
            typing_in,
            typing_until,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub conn_set: Vec<String>,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub activity: Option<String>,
    #[serde(default)]
    pub last_seen: Option<String>,
    /// The user chose `status` (`PUT /api/status`); otherwise it is derived from liveness.
    #[serde(default)]
    pub status_chosen: bool,
    /// When the user started to appear offline: the `lastSeen` others see meanwhile, which
    /// must not move with their hidden activity.
    #[serde(default)]
    pub hidden_since: Option<String>,
    /// The users this user blocked (`repo::blocks`): every fan-out that reads presences leaves
    /// them out of this user's events, and this user out of theirs, without a read of its own.
    #[serde(default)]
    pub block_set: Vec<UserId>,
}

/// Registers a connection: the connection item, the user's presence (returned as it is after),
/// and the admin room, written concurrently in one round trip. Not a transaction on purpose: each
/// write is idempotent, and a half-registered connection is cleaned up by the first 410.
pub async fn connect(table: &dyn Table, c: &Connection, now_iso: &str, now_secs: i64) -> Result<Presence, AppError> {
    let mut item = to_item(&keys::connection(&c.connection_id), c)?;
    item.insert("ttl".into(), (now_secs + CONNECTION_TTL_SECS).into());
    let presence_key = keys::presence(&c.user_id);
    let updates = vec![
        Update::AddToSet("connSet".into(), vec![c.connection_id.clone()]),
        Update::Set("userId".into(), json!(c.user_id)),
        Update::Set("lastSeen".into(), now_iso.into()),
    ];
    let room = async {
        if c.role != Role::Admin {
            return Ok(());
        }
        let entry = json!({ "userId": c.user_id, "ttl": now_secs + CONNECTION_TTL_SECS });
        table.put(to_item(&keys::admin_room(&c.connection_id), &entry)?, None).await.map_err(AppError::from)
    };
    let (put, presence, room) = tokio::join!(table.put(item, None), table.update(&presence_key, updates, None), room);
    put?;
    room?;
    from_item(presence?)
}

/// What a removal found: the connection as it was (to end its typing and leave its room) and the
/// user's presence after it (to tell whether they went offline).
pub struct Removed {
    pub connection: Option<Connection>,
    pub presence: Option<Presence>,
}

/// Removes a connection (on disconnect, or after a 410): deletes it while its presence entry
/// and admin-room entry go (one round trip), then leaves the room it was viewing.
pub async fn remove(table: &dyn Table, connection_id: &str, user: &UserId, now_iso: &str) -> Result<Removed, AppError> {
    let (presence_key, conn_key, room_key) =
        (keys::presence(user), keys::connection(connection_id), keys::admin_room(connection_id));
    let presence = table.update(
        &presence_key,
        vec![
            Update::DeleteFromSet("connSet".into(), vec![connection_id.to_owned()]),
            Update::Set("lastSeen".into(), now_iso.into()),
        ],
        Some(Condition::Exists),
    );
    let (old, presence, room) = tokio::join!(table.delete(&conn_key, None), presence, table.delete(&room_key, None),);
    let presence = match presence {
        Ok(item) => Some(from_item(item)?),
        Err(StoreError::ConditionFailed) => None,
        Err(e) => return Err(e.into()),
    };
    room?;
    let connection: Option<Connection> = old?.map(from_item).transpose()?;
    if let Some(viewing) = connection.as_ref().and_then(|c| c.viewing.as_ref()) {
        table.delete(&keys::room(viewing, connection_id), None).await?;
    }
    Ok(Removed { connection, presence })
}

/// Sets a user's status (and activity), returning the presence after: one `UpdateItem`.
/// Appearing offline freezes the `lastSeen` others see at the moment it starts.
pub async fn set_status(
    table: &dyn Table,
    user: &UserId,
    status: Status,
    activity: Option<&str>,
    now_iso: &str,
) -> Result<Presence, AppError> {
    let mut updates = vec![
        Update::Set("status".into(), json!(status)),
        Update::Set("statusChosen".into(), true.into()),
        Update::Set("userId".into(), json!(user)),
        Update::Set("lastSeen".into(), now_iso.into()),
        match status {
            Status::Offline => Update::SetIfAbsent("hiddenSince".into(), now_iso.into()),
            _ => Update::Remove("hiddenSince".into()),
        },
    ];
    updates.push(match activity {
        Some(a) => Update::Set("activity".into(), a.into()),
        None => Update::Remove("activity".into()),
    });
    from_item(table.update(&keys::presence(user), updates, None).await?)
}

/// Joins a conversation room (the connection is viewing it), leaving the one it viewed before:
/// one transaction.
pub async fn join_room(
    table: &dyn Table,
    c: &Connection,
    conv: &ConversationId,
    now_secs: i64,
) -> Result<(), AppError> {
    let entry = json!({ "userId": c.user_id, "ttl": now_secs + CONNECTION_TTL_SECS });
    let mut ops = vec![
        WriteOp::Update {
            key: keys::connection(&c.connection_id),
            updates: vec![Update::Set("viewing".into(), json!(conv))],
            cond: Some(Condition::Exists),
        },
        WriteOp::Put { item: to_item(&keys::room(conv, &c.connection_id), &entry)?, cond: None },
    ];
    if let Some(old) = c.viewing.as_ref().filter(|old| *old != conv) {
        ops.push(WriteOp::Delete { key: keys::room(old, &c.connection_id), cond: None });
    }
    Ok(table.transact(ops).await?)
}

/// Leaves the room: one round trip.
pub async fn leave_room(table: &dyn Table, connection_id: &str, conv: &ConversationId) -> Result<(), AppError> {
    let (room, conn) = (keys::room(conv, connection_id), keys::connection(connection_id));
    let (left, updated) = tokio::join!(
        table.delete(&room, None),
        table.update(&conn, vec![Update::Remove("viewing".into())], Some(Condition::Exists)),
    );
    left?;
    match updated {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The connections viewing a conversation, with their users: one `Query`.
pub async fn room(table: &dyn Table, conv: &ConversationId, now_secs: i64) -> Result<Vec<(String, UserId)>, AppError> {
    members_of_room(table, &keys::room_pk(conv), now_secs).await
}

/// One `GetItem`.
pub async fn get(table: &dyn Table, connection_id: &str) -> Result<Option<Connection>, AppError> {
    table.get(&keys::connection(connection_id), false).await?.map(from_item).transpose()
}

/// The connections of these ids that are still stored: one `BatchGetItem` per 100, none for
/// no ids.
pub async fn get_many(table: &dyn Table, connection_ids: &[String]) -> Result<Vec<Connection>, AppError> {
    if connection_ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<_> = connection_ids.iter().map(|c| keys::connection(c)).collect();
    table.batch_get(&keys).await?.into_iter().map(from_item).collect()
}

/// One `BatchGetItem` per 100 users.
pub async fn presences(table: &dyn Table, users: &[UserId]) -> Result<Vec<Presence>, AppError> {
    let keys: Vec<_> = users.iter().map(keys::presence).collect();
    table.batch_get(&keys).await?.into_iter().map(from_item).collect()
}

/// One `GetItem`.
pub async fn presence(table: &dyn Table, user: &UserId) -> Result<Presence, AppError> {
    Ok(table.get(&keys::presence(user), false).await?.map(from_item).transpose()?.unwrap_or_default())
}

/// The connected admins: one `Query` of the admin room.
pub async fn admin_connections(table: &dyn Table, now_secs: i64) -> Result<Vec<(String, UserId)>, AppError> {
    members_of_room(table, keys::ADMIN_ROOM, now_secs).await
}

async fn members_of_room(table: &dyn Table, pk: &str, now_secs: i64) -> Result<Vec<(String, UserId)>, AppError> {
    let page = table.query(&Query::new(Index::Table, pk, SortCond::All)).await?;
    Ok(page
        .items
        .iter()
        .filter(|i| !crate::store::is_expired(i, now_secs))
        .filter_map(|i| {
            let user = super::string_field(i, "userId").and_then(|u| UserId::parse(&u))?;
            Some((super::string_field(i, "sk")?, user))
        })
        .collect())
}

/// Updates a live connection (viewing, typing); one `UpdateItem`. A connection already gone is
/// not recreated.
pub async fn update(table: &dyn Table, connection_id: &str, updates: Vec<Update>) -> Result<(), AppError> {
    match table.update(&keys::connection(connection_id), updates, Some(Condition::Exists)).await {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(AppError::not_found("connection")),
        Err(e) => Err(e.into()),
    }
}
