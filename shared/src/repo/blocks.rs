//! Blocks: the item `USER#<blocker> / BLOCK#<blocked>` (the blocker's list, with its time) and
//! the blocked user's id in the blocker's `PRESENCE.blockSet`, with their count (`blockCount`,
//! capped), written in one transaction. The set rides on an item every fan-out reads anyway
//! (presences: messages, `presence`, phone push), so leaving a blocked user out costs no read;
//! a direct send checks the block item in the batch it already reads.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{from_item, keys, to_item};
use crate::error::AppError;
use crate::ids::UserId;
use crate::store::{Condition, Index, Item, Key, Page, Query, SortCond, StoreError, Table, Update, WriteOp};

/// Users one user may block.
pub const MAX_BLOCKS: i64 = 1000;

const PREFIX: &str = "BLOCK#";

/// `blocker` blocked `blocked`: the item a send's batch reads (`GetItem` alone: 0.5 RCU).
pub fn key(blocker: &UserId, blocked: &UserId) -> Key {
    Key::new(keys::user(blocker).pk, format!("{PREFIX}{blocked}"))
}

/// A block as stored and as `GET /api/users/me/blocks` lists it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub user_id: UserId,
    pub blocked_at: String,
}

/// How a block (or unblock) ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Blocked {
    Changed,
    /// Already so: nothing written.
    Unchanged,
    /// The blocker has `MAX_BLOCKS` already.
    Full,
}

const ATTEMPTS: u32 = 8;

/// Blocks (`blocking`) or unblocks: the block item (put if absent / deleted if present) and the
/// blocker's `PRESENCE` (`blockSet`, `blockCount` moved by one, capped). One `TransactWriteItems`.
pub async fn set(table: &dyn Table, blocker: &UserId, block: &Block, blocking: bool) -> Result<Blocked, AppError> {
    let k = key(blocker, &block.user_id);
    let id = vec![block.user_id.to_string()];
    let ops = if blocking {
        vec![
            WriteOp::Put { item: to_item(&k, block)?, cond: Some(Condition::NotExists) },
            WriteOp::Update {
                key: keys::presence(blocker),
                updates: vec![
                    Update::Add("blockCount".into(), 1),
                    Update::AddToSet("blockSet".into(), id),
                    Update::SetIfAbsent("userId".into(), json!(blocker)),
                ],
                cond: Some(Condition::AbsentOrLessThan("blockCount".into(), MAX_BLOCKS.into())),
            },
        ]
    } else {
        vec![
            WriteOp::Delete { key: k, cond: Some(Condition::Exists) },
            WriteOp::Update {
                key: keys::presence(blocker),
                updates: vec![Update::Add("blockCount".into(), -1), Update::DeleteFromSet("blockSet".into(), id)],
                cond: Some(Condition::Exists),
            },
        ]
    };
    // The presence item is written by every connect and disconnect: a transaction cancelled for
    // a conflict (no failed condition) runs again after a short, growing wait.
    for attempt in 1..=ATTEMPTS {
        match table.transact(ops.clone()).await {
            Ok(()) => return Ok(Blocked::Changed),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&0) => return Ok(Blocked::Unchanged),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&1) => return Ok(Blocked::Full),
            Err(StoreError::TransactionCancelled { .. }) if attempt < ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("too many changes at once; retry".into()))
}

/// A page of the users `blocker` blocked, by id, after `after`: one `Query`.
pub async fn list(
    table: &dyn Table,
    blocker: &UserId,
    limit: u32,
    after: Option<&UserId>,
) -> Result<(Vec<Block>, Option<UserId>), AppError> {
    let start = after.map(|a| {
        let k = key(blocker, a);
        Item::from_iter([("pk".to_owned(), k.pk.into()), ("sk".to_owned(), k.sk.into())])
    });
    let query =
        Query::new(Index::Table, keys::user(blocker).pk, SortCond::BeginsWith(PREFIX.into())).limit(limit).start(start);
    let Page { items, next } = table.query(&query).await?;
    let blocks: Vec<Block> = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    let cursor = next.and_then(|_| blocks.last()).map(|b| b.user_id.clone());
    Ok((blocks, cursor))
}
