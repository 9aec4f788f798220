//! Pinned messages: items `PIN#<msg_id>` in the conversation's partition, their number on the
//! conversation's `META` (`pinCount`), both written in one transaction so the cap is exact.

use serde::{Deserialize, Serialize};

use super::{from_item, keys, to_item};
use crate::error::AppError;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::store::{Condition, Index, Key, Query, SortCond, StoreError, Table, Update, WriteOp};

/// Pins one conversation may hold.
pub const MAX_PINS: i64 = 50;

const PREFIX: &str = "PIN#";

fn key(conv: &ConversationId, message: &MessageId) -> Key {
    Key::new(keys::conversation(conv).pk, format!("{PREFIX}{message}"))
}

/// A pin as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    pub message_id: MessageId,
    pub pinned_by: UserId,
    pub pinned_at: String,
}

/// How a pin (or unpin) ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Pinned {
    Changed,
    /// Already so: nothing written.
    Unchanged,
    /// The conversation holds `MAX_PINS` already.
    Full,
    /// The message is deleted (pinning only).
    Gone,
}

/// Pins (`pin`) or unpins message `m` of `conv`: the pin item (put if absent / deleted if
/// present) and `META`'s `pinCount` moved by one (`ADD`, capped by a condition when pinning),
/// plus, when pinning, a check that the message is not deleted. One `TransactWriteItems`.
pub async fn set(table: &dyn Table, conv: &ConversationId, pin: &Pin, pinning: bool) -> Result<Pinned, AppError> {
    let k = key(conv, &pin.message_id);
    let mut ops = if pinning {
        vec![
            WriteOp::Put { item: to_item(&k, pin)?, cond: Some(Condition::NotExists) },
            WriteOp::Update {
                key: keys::conversation(conv),
                updates: vec![Update::Add("pinCount".into(), 1), pins_at()],
                cond: Some(Condition::AbsentOrLessThan("pinCount".into(), MAX_PINS.into())),
            },
        ]
    } else {
        vec![
            WriteOp::Delete { key: k, cond: Some(Condition::Exists) },
            WriteOp::Update {
                key: keys::conversation(conv),
                updates: vec![Update::Add("pinCount".into(), -1), pins_at()],
                cond: Some(Condition::Exists),
            },
        ]
    };
    if pinning {
        let message = keys::message(conv, &pin.message_id);
        ops.push(WriteOp::Check { key: message, cond: Condition::ExistsWithout("deleted".into()) });
    }
    // Pins of one conversation conflict on `META`: a transaction cancelled for a conflict (no
    // failed condition) is tried again after a short, growing wait.
    for attempt in 1..=ATTEMPTS {
        match table.transact(ops.clone()).await {
            Ok(()) => return Ok(Pinned::Changed),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&0) => return Ok(Pinned::Unchanged),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&2) => return Ok(Pinned::Gone),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&1) => return Ok(Pinned::Full),
            Err(StoreError::TransactionCancelled { .. }) if attempt < ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("too many pins at once; retry".into()))
}

const ATTEMPTS: u32 = 8;

/// Every pin of a conversation, oldest pinned message first: one `Query` (at most `MAX_PINS`).
pub async fn list(table: &dyn Table, conv: &ConversationId) -> Result<Vec<Pin>, AppError> {
    let pk = keys::conversation(conv).pk;
    let page = table.query(&Query::new(Index::Table, pk, SortCond::BeginsWith(PREFIX.into()))).await?;
    page.items.into_iter().map(from_item).collect()
}

/// `META`'s `pinsAt`: a sync re-reads the pins of a conversation whose pins changed since its
/// token (no write of its own: `META` is updated anyway).
fn pins_at() -> Update {
    Update::Set(super::changes::PINS_AT.into(), crate::clock::now_ms().into())
}
