//! Reports, their review, and the audit log of moderators' actions.
//!
//! - report `REPORT#<rpt_id> / REPORT`, in GSI1 under `REPORTS#<status>` sorted by its id
//!   (time-ordered): the open ones, oldest first, are one `Query`;
//! - its lock `REPORTLOCK#<reporter>#<object id> / REPORTLOCK`, put if absent in the report's
//!   transaction (one open report per reporter and object, race-safe) and deleted when it is
//!   resolved;
//! - audit entry `AUDIT / <aud_id>` (time-ordered: newest first is a backward `Query`), written in
//!   the transaction of the action it records. One partition: moderators act at human speed.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{from_item, keys, to_item};
use crate::clock::{iso, now_ms};
use crate::error::AppError;
use crate::ids::{AuditId, ConversationId, MessageId, ReportId, TokenId, UserId};
use crate::repo::conversations::Conversation;
use crate::store::{Condition, Index, Item, Key, Page, Query, SortCond, StoreError, Table, Update, WriteOp};

const AUDIT_PK: &str = "AUDIT";

fn report_key(id: &ReportId) -> Key {
    Key::new(format!("REPORT#{id}"), "REPORT")
}

fn lock_key(reporter: &UserId, object: &str) -> Key {
    Key::new(format!("REPORTLOCK#{reporter}#{object}"), "REPORTLOCK")
}

fn status_pk(status: ReportStatus) -> String {
    format!("REPORTS#{}", status.as_str())
}

/// Why something is reported.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    Spam,
    Harassment,
    Hate,
    Sexual,
    Violence,
    Other,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Open,
    Resolved,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

/// What a moderator does with a report.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Nothing to act on.
    Dismiss,
    /// Tombstone the reported message.
    DeleteMessage,
    /// Suspend the reported user (or the message's sender): tokens revoked, sockets closed,
    /// login refused until `until` (or for good).
    SuspendUser,
    /// Ban the message's sender from its group or channel.
    BanFromChannel,
}

/// A report as stored, as admins list it and as the `report` event carries it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub id: ReportId,
    pub reporter_id: UserId,
    /// The user reported, or the sender of the message reported.
    pub user_id: UserId,
    /// A report of a message: the message and its conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    pub reason: Reason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub status: ReportStatus,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

impl Report {
    /// The object reported: the message, else the user.
    fn object(&self) -> &str {
        self.message_id.as_ref().map_or(self.user_id.as_str(), MessageId::as_str)
    }
}

/// Stores an open report with its lock: one `TransactWriteItems`. 409 when the reporter has an
/// open report of the same object (also when two arrive at once: one lock wins).
pub async fn create(table: &dyn Table, r: &Report) -> Result<(), AppError> {
    let mut item = to_item(&report_key(&r.id), r)?;
    item.insert("gsi1pk".into(), status_pk(ReportStatus::Open).into());
    item.insert("gsi1sk".into(), r.id.as_str().into());
    let lock = to_item(&lock_key(&r.reporter_id, r.object()), &json!({ "reportId": r.id }))?;
    let ops = vec![
        WriteOp::Put { item: lock, cond: Some(Condition::NotExists) },
        WriteOp::Put { item, cond: Some(Condition::NotExists) },
    ];
    // Two reports of one object at once may cancel each other (a conflict, no failed
    // condition): each runs again after a short wait, until one holds the lock.
    for attempt in 1..=ATTEMPTS {
        match table.transact(ops.clone()).await {
            Ok(()) => return Ok(()),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&0) => {
                return Err(AppError::Conflict("you already reported this; it is under review".into()))
            }
            Err(StoreError::TransactionCancelled { failed }) if failed.is_empty() && attempt < ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("too many reports at once; retry".into()))
}

/// Transactions cancelled by a conflict run again this many times.
pub const ATTEMPTS: u32 = 8;

/// One `GetItem`.
pub async fn get(table: &dyn Table, id: &ReportId) -> Result<Option<Report>, AppError> {
    table.get(&report_key(id), true).await?.map(from_item).transpose()
}

/// A page of the reports of one status, oldest first, after the report `after`: one `Query` on
/// GSI1.
pub async fn list(
    table: &dyn Table,
    status: ReportStatus,
    limit: u32,
    after: Option<&ReportId>,
) -> Result<(Vec<Report>, Option<ReportId>), AppError> {
    let start = after.map(|id| {
        let k = report_key(id);
        Item::from_iter([
            ("pk".to_owned(), k.pk.into()),
            ("sk".to_owned(), k.sk.into()),
            ("gsi1pk".to_owned(), status_pk(status).into()),
            ("gsi1sk".to_owned(), id.as_str().into()),
        ])
    });
    let query = Query::new(Index::Gsi1, status_pk(status), SortCond::All).limit(limit).start(start);
    let Page { items, next } = table.query(&query).await?;
    let reports: Vec<Report> = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    let cursor = next.and_then(|_| reports.last()).map(|r| r.id.clone());
    Ok((reports, cursor))
}

/// What the audit log records.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    ReportDismissed,
    MessageDeleted,
    UserSuspended,
    /// A suspension lifted before its end (`DELETE /api/users/{id}/suspension`).
    SuspensionLifted,
    /// Banned from a group or channel (by its owner or admins, or resolving a report).
    UserBanned,
    UserUnbanned,
    /// A group's or channel's rules for senders changed (`PATCH …/policy`): the new ones in `policy`.
    PolicyChanged,
}

/// One entry of the audit log: who did what, when, to whom.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: AuditId,
    pub actor_id: UserId,
    pub action: AuditAction,
    pub at: String,
    /// The user acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<ReportId>,
    /// A suspension's end (absent: for good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The conversation's rules after a `policyChanged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::repo::conversations::Policy>,
}

impl AuditEntry {
    pub fn new(actor: &UserId, action: AuditAction) -> Self {
        Self {
            id: AuditId::generate(),
            actor_id: actor.clone(),
            action,
            at: iso(now_ms()),
            user_id: None,
            message_id: None,
            conversation_id: None,
            report_id: None,
            until: None,
            policy: None,
        }
    }

    /// Its put, for the transaction of the action.
    pub fn op(&self) -> Result<WriteOp, AppError> {
        let item = to_item(&Key::new(AUDIT_PK, self.id.as_str()), self)?;
        Ok(WriteOp::Put { item, cond: Some(Condition::NotExists) })
    }
}

/// A page of the audit log, newest first, before the entry `before`: one `Query`.
pub async fn audit(
    table: &dyn Table,
    limit: u32,
    before: Option<&AuditId>,
) -> Result<(Vec<AuditEntry>, Option<AuditId>), AppError> {
    let sort = before.map_or(SortCond::All, |b| SortCond::Before(b.to_string()));
    let Page { items, next } = table.query(&Query::new(Index::Table, AUDIT_PK, sort).limit(limit).backward()).await?;
    let entries: Vec<AuditEntry> = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    let cursor = next.and_then(|_| entries.last()).map(|e| e.id.clone());
    Ok((entries, cursor))
}

/// The transition of an open report to resolved (conditional: of two moderators, one wins),
/// its lock given back (the reporter may report the object again), and the audit entry.
pub fn resolve_ops(
    r: &Report,
    by: &UserId,
    resolution: Resolution,
    audit: &AuditEntry,
) -> Result<Vec<WriteOp>, AppError> {
    Ok(vec![
        WriteOp::Update {
            key: report_key(&r.id),
            updates: vec![
                Update::Set("status".into(), json!(ReportStatus::Resolved)),
                Update::Set("gsi1pk".into(), status_pk(ReportStatus::Resolved).into()),
                Update::Set("resolvedBy".into(), json!(by)),
                Update::Set("resolvedAt".into(), audit.at.clone().into()),
                Update::Set("resolution".into(), json!(resolution)),
            ],
            cond: Some(Condition::Equals("status".into(), json!(ReportStatus::Open))),
        },
        WriteOp::Delete { key: lock_key(&r.reporter_id, r.object()), cond: None },
        audit.op()?,
    ])
}

/// A suspension of `user` until `until` (ISO, or `SUSPENDED_FOR_GOOD`): every token issued so
/// far stops working (`tokensValidAfter`, as a password change), and `updatedAt` moves so that a
/// profile update read before it fails its condition instead of writing the suspension away.
pub fn suspend_op(user: &UserId, until: &str) -> WriteOp {
    WriteOp::Update {
        key: keys::user(user),
        updates: vec![
            Update::Set("suspendedUntil".into(), until.into()),
            Update::Set("tokensValidAfter".into(), TokenId::generate().to_string().into()),
            Update::Set("updatedAt".into(), iso(now_ms()).into()),
        ],
        cond: Some(Condition::Exists),
    }
}

/// A suspension's end brought forward to now: `suspendedUntil` removed, conditional on it
/// still being the one read (a concurrent suspension is not undone unseen).
pub fn lift_op(user: &UserId, suspended_until: &str) -> WriteOp {
    WriteOp::Update {
        key: keys::user(user),
        updates: vec![Update::Remove("suspendedUntil".into()), Update::Set("updatedAt".into(), iso(now_ms()).into())],
        cond: Some(Condition::Equals("suspendedUntil".into(), suspended_until.into())),
    }
}

/// A ban (`banning`) or unban of `user` from group `c`, conditional on the version read (as every
/// membership change): a ban takes the user out of the members and admins, deletes their
/// membership and adds them to `banSet`.
pub fn ban_ops(c: &Conversation, user: &UserId, banning: bool) -> Vec<WriteOp> {
    let id = vec![user.to_string()];
    let changed = Update::Set(super::changes::CHANGED_AT.into(), now_ms().into());
    let mut updates = vec![Update::Add("version".into(), 1), changed];
    if banning {
        updates.push(Update::DeleteFromSet("memberSet".into(), id.clone()));
        updates.push(Update::DeleteFromSet("adminSet".into(), id.clone()));
        updates.push(Update::AddToSet("banSet".into(), id));
    } else {
        updates.push(Update::DeleteFromSet("banSet".into(), id));
    }
    let mut ops = vec![WriteOp::Update {
        key: keys::conversation(&c.id),
        updates,
        cond: Some(Condition::Equals("version".into(), json!(c.version))),
    }];
    if banning && c.is_member(user) {
        ops.push(WriteOp::Delete { key: keys::membership(user, &c.id), cond: None });
    }
    ops
}
