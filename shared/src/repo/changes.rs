//! The change log behind `GET /api/sync`: what a reconnecting client cannot derive from the
//! items it reads anyway. New messages (and thread replies) need no entry — message ids are
//! time-ordered, so "sent since t" is a range of `MSGS#<conv>` — nor do pins and membership
//! changes (`META`'s `pinsAt` / `changedAt`, set in the update those changes already make) or
//! read and delivery markers (`markedAt` on the membership they move). Edits, deletes and
//! reactions change an old message in place: each writes one entry `CHG#<conv> / <ulid>` (TTL:
//! the retention window) in its own transaction, and sets the summary's `changedAt`, so that a
//! sync finds the conversations to look into in the batch read of their summaries.

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::{from_item, keys, string_field, to_item};
use crate::error::AppError;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::store::{Index, Query, SortCond, Table, Update, WriteOp};

/// The attribute of `SUMMARY` (every change of a message) and of `META` (membership, name) that
/// says when the conversation last changed, in epoch milliseconds.
pub const CHANGED_AT: &str = "changedAt";
/// `META`: when the pins last changed (epoch ms).
pub const PINS_AT: &str = "pinsAt";
/// A membership: when its read or delivery marker last moved (epoch ms).
pub const MARKED_AT: &str = "markedAt";

/// When a change happens, and until when its entry is kept.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    pub at_ms: i64,
    /// Epoch seconds: the entry's TTL.
    pub expires: i64,
}

impl Stamp {
    pub fn now(retention_days: i64) -> Self {
        let at_ms = crate::clock::now_ms();
        Self { at_ms, expires: at_ms / 1000 + retention_days * 86_400 }
    }

    /// `SET changedAt = <at>`, for an update of `SUMMARY` or `META` the change makes anyway.
    pub fn touch(&self, attr: &str) -> Update {
        Update::Set(attr.into(), self.at_ms.into())
    }
}

/// What changed on an existing message.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    Edited,
    Deleted,
    ReactionAdded,
    ReactionRemoved,
}

/// One entry of the log. No text: a deleted message's text must not outlive it here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub kind: EntryKind,
    pub message_id: MessageId,
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
    pub at: i64,
}

const MAX_RANDOM: u128 = (1 << 80) - 1;

/// The first and last sort keys of the times `(since, until]` (epoch ms) for ids prefixed `prefix`.
pub fn range(prefix: &str, since_ms: i64, until_ms: i64) -> (String, String) {
    let lo = Ulid::from_parts(since_ms.saturating_add(1).max(0) as u64, 0);
    let hi = Ulid::from_parts(until_ms.max(0) as u64, MAX_RANDOM);
    (format!("{prefix}{lo}"), format!("{prefix}{hi}"))
}

/// The put of one entry, for the change's transaction.
pub fn entry_op(conv: &ConversationId, stamp: Stamp, entry: &Entry) -> Result<WriteOp, AppError> {
    let sk = Ulid::from_parts(stamp.at_ms.max(0) as u64, Ulid::generate().random()).to_string();
    let mut item = to_item(&keys::changes(conv, &sk), entry)?;
    item.insert("ttl".into(), stamp.expires.into());
    Ok(WriteOp::Put { item, cond: None })
}

/// `SUMMARY`'s `changedAt`, for a transaction that does not update the summary otherwise.
pub fn summary_op(conv: &ConversationId, stamp: Stamp) -> WriteOp {
    WriteOp::Update { key: keys::summary(conv), updates: vec![stamp.touch(CHANGED_AT)], cond: None }
}

/// The entries of `conv` in `(since, until]`, after the sort key `after` when continuing: one
/// `Query` of at most `limit`, and whether more may follow.
pub async fn since(
    table: &dyn Table,
    conv: &ConversationId,
    since_ms: i64,
    until_ms: i64,
    after: Option<&str>,
    limit: u32,
) -> Result<(Vec<(String, Entry)>, bool), AppError> {
    let (lo, hi) = range("", since_ms, until_ms);
    let lo = after.map_or(lo, |a| format!("{a}!"));
    if lo > hi {
        return Ok((vec![], false));
    }
    let q = Query::new(Index::Table, keys::changes_pk(conv), SortCond::Between(lo, hi)).limit(limit);
    let page = table.query(&q).await?;
    let more = page.items.len() as u32 == limit && page.next.is_some();
    let mut out = Vec::new();
    for item in page.items {
        let sk = string_field(&item, "sk").unwrap_or_default();
        out.push((sk, from_item(item)?));
    }
    Ok((out, more))
}
