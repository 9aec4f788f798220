//! Notifications: `USER#u / NOTIF#<id>`, newest last in the partition (ids are time-ordered).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{from_item, to_item};
use crate::error::AppError;
use crate::ids::{NotificationId, UserId};
use crate::store::{Condition, Index, Item, Key, Query, SortCond, StoreError, Table, Update, WriteOp, TRANSACT_MAX};

/// Notifications are kept for 90 days.
pub const NOTIFICATION_TTL_SECS: i64 = 90 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: UserId,
    /// `admin`, `addedToGroup`, `removedFromGroup`, `message`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default)]
    pub data: Value,
    #[serde(default)]
    pub read: bool,
    pub created_at: String,
}

pub fn key(user: &UserId, id: &NotificationId) -> Key {
    Key::new(format!("USER#{user}"), format!("NOTIF#{id}"))
}

/// One `PutItem`.
pub async fn create(table: &dyn Table, n: &Notification, now_secs: i64) -> Result<(), AppError> {
    let mut item = to_item(&key(&n.user_id, &n.id), n)?;
    item.insert("ttl".into(), (now_secs + NOTIFICATION_TTL_SECS).into());
    Ok(table.put(item, None).await?)
}

/// Newest first. With `unread_only`, read ones are skipped (reading on until `limit` unread ones
/// are found, at most 10 pages). One `Query` per page read.
pub async fn list(
    table: &dyn Table,
    user: &UserId,
    limit: u32,
    before: Option<&NotificationId>,
    unread_only: bool,
) -> Result<(Vec<Notification>, Option<String>), AppError> {
    let pk = format!("USER#{user}");
    let sort = match before {
        Some(b) => SortCond::Between("NOTIF#".into(), format!("NOTIF#{b}")),
        None => SortCond::BeginsWith("NOTIF#".into()),
    };
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    for _ in 0..10 {
        let page = table
            .query(&Query::new(Index::Table, pk.clone(), sort.clone()).limit(limit).backward().start(start))
            .await?;
        for item in page.items {
            let n: Notification = from_item(item)?;
            if Some(&n.id) == before || (unread_only && n.read) {
                continue;
            }
            out.push(n);
            if out.len() as u32 == limit {
                let cursor = out.last().map(|n| n.id.to_string());
                return Ok((out, cursor));
            }
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    Ok((out, None))
}

/// One `UpdateItem`; 404 when it is not the user's.
pub async fn mark_read(table: &dyn Table, user: &UserId, id: &NotificationId) -> Result<Notification, AppError> {
    match table.update(&key(user, id), vec![Update::Set("read".into(), true.into())], Some(Condition::Exists)).await {
        Ok(item) => from_item(item),
        Err(StoreError::ConditionFailed) => Err(AppError::not_found("notification")),
        Err(e) => Err(e.into()),
    }
}

/// Marks every unread notification read: a page query, then transactions of up to 100 updates.
pub async fn mark_all_read(table: &dyn Table, user: &UserId) -> Result<usize, AppError> {
    let mut marked = 0;
    loop {
        let (unread, _) = list(table, user, TRANSACT_MAX as u32, None, true).await?;
        if unread.is_empty() {
            return Ok(marked);
        }
        let ops = unread
            .iter()
            .map(|n| WriteOp::Update {
                key: key(user, &n.id),
                updates: vec![Update::Set("read".into(), true.into())],
                cond: Some(Condition::Exists),
            })
            .collect();
        table.transact(ops).await?;
        marked += unread.len();
    }
}
