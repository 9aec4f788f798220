//! Groups and channels: conversations with a name, an owner, admins and up to
//! `max_group_members` members. `META.memberSet` is the source of truth for access (so a removal
//! takes effect at once); membership items (`USER#u / CONV#c`) list a user's groups and carry
//! their read marker.

use serde_json::json;

use super::conversations::{conversation_item, membership_item, Conversation, Membership};
use super::keys;
use crate::error::AppError;
use crate::ids::{ConversationId, UserId};
use crate::store::{Condition, StoreError, Table, Update, WriteOp, TRANSACT_MAX};

fn membership(c: &ConversationId, user: &UserId, now: &str) -> Membership {
    Membership {
        conversation_id: c.clone(),
        user_id: user.clone(),
        read_seq: 0,
        joined_at: now.to_owned(),
        mention_set: vec![],
    }
}

/// Creates the group: the members' memberships first (transactions of up to 100, idempotent
/// puts), then `META` with the owner's membership in one transaction. Until that last write the
/// group does not exist (lists skip memberships without a `META`), so a fault part-way leaves no
/// half-created group, and a retry of the last transaction whose answer was lost finds its own
/// `META`.
pub async fn create(table: &dyn Table, c: &Conversation, now: &str) -> Result<(), AppError> {
    let owner = c.owner_id.as_ref().ok_or_else(|| AppError::internal("a group has an owner"))?;
    let others: Vec<_> = c.member_set.iter().filter(|m| *m != owner).collect();
    for chunk in others.chunks(TRANSACT_MAX) {
        let ops = chunk
            .iter()
            .map(|m| Ok(WriteOp::Put { item: membership_item(&membership(&c.id, m, now))?, cond: None }))
            .collect::<Result<Vec<_>, AppError>>()?;
        table.transact(ops).await?;
    }
    let last = table
        .transact(vec![
            WriteOp::Put { item: conversation_item(c)?, cond: Some(Condition::NotExists) },
            WriteOp::Put { item: membership_item(&membership(&c.id, owner, now))?, cond: None },
        ])
        .await;
    match last {
        Err(StoreError::TransactionCancelled { .. })
            if table.get(&keys::conversation(&c.id), true).await?.is_some() =>
        {
            Ok(())
        }
        other => Ok(other?),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add,
    Remove,
}

/// Adds or removes one member in one transaction, conditional on the version read, so
/// concurrent changes apply one after the other. `Ok(false)`: the version moved; re-read and retry.
pub async fn change_member(
    table: &dyn Table,
    c: &Conversation,
    user: &UserId,
    change: Change,
    now: &str,
) -> Result<bool, AppError> {
    let member = vec![user.to_string()];
    // `changedAt`: a sync reports the conversation's new members (no write of its own).
    let changed = Update::Set(super::changes::CHANGED_AT.into(), crate::clock::now_ms().into());
    let mut updates = vec![Update::Add("version".into(), 1), changed];
    let member_op = match change {
        Change::Add => {
            updates.push(Update::AddToSet("memberSet".into(), member));
            WriteOp::Put { item: membership_item(&membership(&c.id, user, now))?, cond: None }
        }
        Change::Remove => {
            updates.push(Update::DeleteFromSet("memberSet".into(), member.clone()));
            updates.push(Update::DeleteFromSet("adminSet".into(), member));
            WriteOp::Delete { key: keys::membership(user, &c.id), cond: None }
        }
    };
    let meta = WriteOp::Update {
        key: keys::conversation(&c.id),
        updates,
        cond: Some(Condition::Equals("version".into(), json!(c.version))),
    };
    match table.transact(vec![meta, member_op]).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCancelled { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Makes a member a group admin (or not): one `UpdateItem` conditional on the version read.
pub async fn set_admin(table: &dyn Table, c: &Conversation, user: &UserId, admin: bool) -> Result<bool, AppError> {
    let member = vec![user.to_string()];
    let set = if admin {
        Update::AddToSet("adminSet".into(), member)
    } else {
        Update::DeleteFromSet("adminSet".into(), member)
    };
    let cond = Condition::Equals("version".into(), json!(c.version));
    match table
        .update(
            &keys::conversation(&c.id),
            vec![
                Update::Add("version".into(), 1),
                set,
                Update::Set(super::changes::CHANGED_AT.into(), crate::clock::now_ms().into()),
            ],
            Some(cond),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
