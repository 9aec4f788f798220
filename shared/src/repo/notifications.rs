//! Notifications: `USER#u / NOTIF#<id>`, newest last in the partition (ids are time-ordered).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{from_item, to_item};
use crate::error::AppError;
use crate::ids::{ConversationId, MessageId, NotificationId, UserId};
use crate::models::NotificationKind;
use crate::store::{Condition, Index, Item, Key, Query, SortCond, StoreError, Table, Update, WriteOp, TRANSACT_MAX};

/// Notifications are kept for 90 days.
pub const NOTIFICATION_TTL_SECS: i64 = 90 * 24 * 3600;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: UserId,
    #[serde(rename = "type")]
    pub kind: NotificationKind,
    pub message: String,
    #[serde(default)]
    pub data: NotificationData,
    #[serde(default)]
    pub read: bool,
    pub created_at: String,
}

impl Notification {
    /// A new, unread notification.
    pub fn new(
        user: &UserId,
        kind: NotificationKind,
        message: &str,
        data: NotificationData,
        created_at: String,
    ) -> Self {
        Self {
            id: NotificationId::generate(),
            user_id: user.clone(),
            kind,
            message: message.to_owned(),
            data,
            read: false,
            created_at,
        }
    }
}

/// What a notification points at (its `data`), by kind. Read back by shape: the first variant
/// whose fields are all there.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NotificationData {
    /// `message`.
    Message(MessageNote),
    /// `addedToGroup`, `removedFromGroup`.
    Group(GroupNote),
    /// `admin`.
    Admin(AdminNote),
    /// Anything else stored (none is written today).
    Other(Value),
}

impl Default for NotificationData {
    fn default() -> Self {
        Self::Other(Value::Null)
    }
}

/// A direct message not seen live.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageNote {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub sender_id: UserId,
}

/// A membership change in a group, and who made it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupNote {
    pub conversation_id: ConversationId,
    pub by: UserId,
}

/// Who sent an admin notification.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminNote {
    pub from: UserId,
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

/// Marks every unread notification read in one pass over the user's notifications: one `Query`
/// per page of up to 100, and one transaction of that page's unread ones, written while the next
/// page is read.
pub async fn mark_all_read(table: &dyn Table, user: &UserId) -> Result<usize, AppError> {
    let page = |start: Option<Item>| {
        let q = Query::new(Index::Table, format!("USER#{user}"), SortCond::BeginsWith("NOTIF#".into()))
            .limit(TRANSACT_MAX as u32)
            .backward()
            .start(start);
        async move { table.query(&q).await }
    };
    let mut marked = 0;
    let mut current = page(None).await?;
    loop {
        let mut ops = Vec::new();
        for item in current.items {
            let n: Notification = from_item(item)?;
            if !n.read {
                ops.push(WriteOp::Update {
                    key: key(user, &n.id),
                    updates: vec![Update::Set("read".into(), true.into())],
                    cond: Some(Condition::Exists),
                });
            }
        }
        marked += ops.len();
        let write = async {
            match ops.is_empty() {
                true => Ok(()),
                false => table.transact(ops).await,
            }
        };
        let read = async {
            match current.next {
                Some(next) => page(Some(next)).await.map(Some),
                None => Ok(None),
            }
        };
        match tokio::try_join!(write, read)? {
            ((), Some(next)) => current = next,
            ((), None) => return Ok(marked),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{embedded::EmbeddedTable, Counted};

    #[tokio::test]
    async fn mark_all_read_reaches_unread_ones_behind_more_than_ten_pages_of_read_ones() {
        let table = Counted::new(EmbeddedTable::in_memory().expect("store"));
        let user = UserId::generate();
        // Oldest first: 3 unread, then 1,050 read ones in front of them (newest first).
        for i in 0..1053 {
            let mut n = Notification::new(
                &user,
                NotificationKind::Admin,
                "hi",
                NotificationData::default(),
                "2026-01-01T00:00:00Z".into(),
            );
            n.read = i >= 3;
            create(&table, &n, 0).await.expect("create");
        }
        table.take();
        assert_eq!(mark_all_read(&table, &user).await.expect("mark"), 3);
        let ops = table.take();
        let count = |op: &str| ops.iter().filter(|r| r.op == op).count();
        assert_eq!((count("Query"), count("TransactWriteItems")), (11, 1), "one pass, one write per page");
        let (mut unread, mut start) = (0, None);
        loop {
            let q = Query::new(Index::Table, format!("USER#{user}"), SortCond::All).start(start);
            let page = table.query(&q).await.expect("query");
            unread += page.items.iter().filter(|i| i.get("read") != Some(&Value::Bool(true))).count();
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        assert_eq!(unread, 0);
    }
}
