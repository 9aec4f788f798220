//! Moderation state (issue 17): the send counters of flood protection, a member's slow-mode
//! turn, a conversation's policy. Each is one conditional write: no read-modify-write.

use serde_json::Value;

use super::conversations::{Conversation, Policy};
use super::{changes::CHANGED_AT, keys};
use crate::error::AppError;
use crate::ids::{ConversationId, UserId};
use crate::store::{Condition, StoreError, Table, Update, WriteOp};

/// The attribute of a member's slow-mode item: when they may post again (ms).
pub const SLOW_UNTIL: &str = "slowUntil";

/// Counts one send of `user` in the window starting at `window_start` (epoch seconds), unless
/// `limit` sends were counted already: one `UpdateItem` (`ADD n 1`, conditional on `n < limit`;
/// the item expires by TTL after its window). Whether the send may go.
pub async fn count_send(
    table: &dyn Table,
    user: &UserId,
    window_start: i64,
    window_secs: i64,
    limit: i64,
) -> Result<bool, AppError> {
    let updates =
        vec![Update::Add("n".into(), 1), Update::SetIfAbsent("ttl".into(), (window_start + window_secs).into())];
    let cond = Condition::AbsentOrLessThan("n".into(), Value::from(limit));
    match table.update(&keys::send_rate(user, window_start), updates, Some(cond)).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Takes `user`'s slow-mode turn in `conv` at `now_ms` when theirs (their last post at least
/// `secs` ago): one `UpdateItem` of their slow-mode item (`SLOW#<conv>` / user, expiring by TTL
/// when the turn comes back) conditional on `slowUntil <= now`, so of two concurrent sends
/// exactly one gets the turn. `Err(until)` when it is not their turn yet (one `GetItem` more,
/// on the refusal only, for `Retry-After`).
pub async fn take_turn(
    table: &dyn Table,
    user: &UserId,
    conv: &ConversationId,
    now_ms: i64,
    secs: i64,
) -> Result<Result<(), i64>, AppError> {
    let key = keys::slow_turn(conv, user);
    let until = now_ms + secs * 1000;
    let updates =
        vec![Update::Set(SLOW_UNTIL.into(), until.into()), Update::Set("ttl".into(), (until / 1000 + 1).into())];
    let cond = Condition::AbsentOrLessThan(SLOW_UNTIL.into(), Value::from(now_ms + 1));
    match table.update(&key, updates, Some(cond)).await {
        Ok(_) => Ok(Ok(())),
        Err(StoreError::ConditionFailed) => {
            let until = table.get(&key, true).await?.and_then(|i| i.get(SLOW_UNTIL).and_then(Value::as_i64));
            Ok(Err(until.unwrap_or(now_ms + secs * 1000)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes `policy` on conversation `c`'s `META`, conditional on its `version` as read (a
/// concurrent membership or admin change makes it a conflict, never a lost update): one
/// `UpdateItem`. `changedAt` tells syncing clients the conversation changed. `false` on conflict.
pub async fn set_policy(
    table: &dyn Table,
    c: &Conversation,
    policy: &Policy,
    audit: WriteOp,
) -> Result<bool, AppError> {
    let number = |n: Option<i64>, attr: &str| match n {
        Some(n) => Update::Set(attr.into(), n.into()),
        None => Update::Remove(attr.into()),
    };
    let updates = vec![
        if policy.read_only { Update::Set("readOnly".into(), true.into()) } else { Update::Remove("readOnly".into()) },
        number(policy.slow_mode_seconds, "slowModeSeconds"),
        number(policy.message_lifetime_seconds, "messageLifetimeSeconds"),
        Update::Set(CHANGED_AT.into(), crate::clock::now_ms().into()),
    ];
    let meta = WriteOp::Update {
        key: keys::conversation(&c.id),
        updates,
        cond: Some(Condition::Equals("version".into(), c.version.into())),
    };
    // The audit entry rides in the change's transaction: no change without its entry.
    match table.transact(vec![meta, audit]).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCancelled { failed }) if failed == [0] => Ok(false),
        Err(e) => Err(e.into()),
    }
}
