//! Conversations: `META` (kind, members; rarely written) and `SUMMARY` (last message and the
//! message counter; written by every send) live in one partition so both come back in one
//! `BatchGetItem`. A user's memberships (`USER#u / CONV#c`) carry their read position.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{from_item, keys, pick, to_item};
use crate::error::AppError;
use crate::ids::{ConversationId, UserId};
use crate::models::{ConversationKind, Message};
use crate::store::{Condition, Item, Key, Query, SortCond, StoreError, Table, Update, WriteOp, TRANSACT_MAX};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub owner_id: Option<UserId>,
    #[serde(default)]
    pub member_set: Vec<UserId>,
    #[serde(default)]
    pub admin_set: Vec<UserId>,
    pub created_at: String,
    /// Bumped by every membership change: concurrent changes are serialized on it.
    #[serde(default)]
    pub version: i64,
    /// Users banned from the group or channel (`service::moderation`): they cannot (re)join.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ban_set: Vec<UserId>,
    /// Read-only, slow mode, message lifetime (`service::policy`): attributes of `META`,
    /// so the send's first read has them at no cost.
    #[serde(flatten, default)]
    pub policy: Policy,
}

/// A conversation's rules for senders, set by its owner and admins (`PATCH …/policy`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// Only the owner and admins post (announcements).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// At most one message per member in this many seconds (owner and admins exempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_mode_seconds: Option<i64>,
    /// Messages sent from now on disappear after this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_lifetime_seconds: Option<i64>,
}

impl Conversation {
    pub fn is_member(&self, user: &UserId) -> bool {
        self.member_set.contains(user)
    }
    /// The conversation's own admins (a group's owner and admins).
    pub fn is_admin(&self, user: &UserId) -> bool {
        self.owner_id.as_ref() == Some(user) || self.admin_set.contains(user)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Messages sent so far; the next message gets `seq + 1`.
    #[serde(default)]
    pub seq: i64,
    #[serde(default)]
    pub last_message: Option<Message>,
    #[serde(default)]
    pub last_message_time: Option<String>,
    /// `seq` of `last_message` (`repo::messages::publish`); `seq` may be ahead of it while a
    /// send is between its reservation and its publication.
    #[serde(default)]
    pub last_seq: i64,
    /// In a direct conversation, each sender's own last message (`own:<user>`): a sender has
    /// read what came before it. Written by the summary's publication, it spares every 1:1
    /// send the write of the sender's read marker.
    #[serde(skip)]
    pub own: HashMap<UserId, OwnPosition>,
}

/// The attribute prefix of a sender's position in a direct conversation's summary.
pub const OWN_PREFIX: &str = "own:";

/// Where a sender's own last message put their read position, and when (epoch ms: the sync's
/// "moved since").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnPosition {
    pub seq: i64,
    pub at: i64,
}

impl Summary {
    /// A `SUMMARY` item, its senders' positions gathered from their attributes.
    pub fn from_item(item: Item) -> Result<Self, AppError> {
        let own = own_positions(&item);
        let mut summary: Summary = from_item(item)?;
        summary.own = own;
        Ok(summary)
    }

    /// `user`'s read position: their marker, or past it their own last message.
    pub fn read_seq_of(&self, user: &UserId, marker: i64) -> i64 {
        self.own.get(user).map_or(marker, |o| o.seq.max(marker))
    }

    /// `user`'s unread messages, their read marker at `marker`.
    pub fn unread(&self, user: &UserId, marker: i64) -> i64 {
        (self.seq - self.read_seq_of(user, marker)).max(0)
    }
}

/// The senders' positions in a `SUMMARY` item (`Summary::own`).
pub fn own_positions(item: &Item) -> HashMap<UserId, OwnPosition> {
    item.iter()
        .filter_map(|(attr, v)| {
            let user = UserId::parse(attr.strip_prefix(OWN_PREFIX)?)?;
            Some((user, serde_json::from_value(v.clone()).ok()?))
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    /// `seq` of the last message read: unread = `Summary::seq - read_seq`.
    #[serde(default)]
    pub read_seq: i64,
    #[serde(default)]
    pub joined_at: String,
    /// `seq`s of the messages that mentioned the member (unread ones: those past `read_seq`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mention_set: Vec<String>,
}

impl Membership {
    /// The mentions of the member past `read_seq` (their read position).
    pub fn unread_mentions(&self, read_seq: i64) -> i64 {
        self.mention_set.iter().filter_map(|s| s.parse::<i64>().ok()).filter(|s| *s > read_seq).count() as i64
    }
}

/// Records that message `seq` mentioned `user` (one `UpdateItem`, `ADD` to a set: a retry adds
/// nothing twice).
pub async fn add_mention(table: &dyn Table, user: &UserId, id: &ConversationId, seq: i64) -> Result<(), AppError> {
    let update = Update::AddToSet("mentionSet".into(), vec![seq.to_string()]);
    table.update(&keys::membership(user, id), vec![update], Some(Condition::Exists)).await?;
    Ok(())
}

/// A conversation with its summary, as read together.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub conversation: Conversation,
    pub summary: Summary,
    /// Whether `SUMMARY` exists (a send writes it conditionally on its previous `seq`).
    pub summary_exists: bool,
}

pub fn load_keys(id: &ConversationId) -> [Key; 2] {
    [keys::conversation(id), keys::summary(id)]
}

/// Picks a conversation out of batch-get results (see `load_keys`).
pub fn from_items(items: &[Item], id: &ConversationId) -> Result<Option<Loaded>, AppError> {
    let Some(meta) = pick(items, &keys::conversation(id)) else { return Ok(None) };
    with_summary(from_item(meta)?, items).map(Some)
}

/// `c` with its summary picked out of batch-get results.
fn with_summary(conversation: Conversation, items: &[Item]) -> Result<Loaded, AppError> {
    let summary_item = pick(items, &keys::summary(&conversation.id));
    let summary_exists = summary_item.is_some();
    let mut summary = summary_item.map(Summary::from_item).transpose()?.unwrap_or_default();
    // A disappearing last message is gone from every list before TTL removes it.
    if summary.last_message.as_ref().is_some_and(|m| m.is_expired(crate::clock::now_ms())) {
        summary.last_message = None;
    }
    Ok(Loaded { summary_exists, summary, conversation })
}

/// One `BatchGetItem`.
pub async fn load(table: &dyn Table, id: &ConversationId) -> Result<Option<Loaded>, AppError> {
    let items = table.batch_get(&load_keys(id)).await?;
    from_items(&items, id)
}

/// Several conversations with their summaries, those that exist: one `BatchGetItem` per 50.
pub async fn load_many(table: &dyn Table, ids: &[ConversationId]) -> Result<Vec<Loaded>, AppError> {
    let keys: Vec<Key> = ids.iter().flat_map(load_keys).collect();
    let items = table.batch_get(&keys).await?;
    let mut out = Vec::new();
    for id in ids {
        out.extend(from_items(&items, id)?);
    }
    Ok(out)
}

/// Conversations already read (as `list_all` returns them: GSI1 holds the whole `META`) with
/// their summaries: one `BatchGetItem` per 100.
pub async fn with_summaries(table: &dyn Table, conversations: Vec<Conversation>) -> Result<Vec<Loaded>, AppError> {
    let keys: Vec<Key> = conversations.iter().map(|c| keys::summary(&c.id)).collect();
    let items = table.batch_get(&keys).await?;
    conversations.into_iter().map(|c| with_summary(c, &items)).collect()
}

/// One `GetItem` (members only, without the summary).
pub async fn get(table: &dyn Table, id: &ConversationId) -> Result<Option<Conversation>, AppError> {
    table.get(&keys::conversation(id), false).await?.map(from_item).transpose()
}

/// `META`, also listed in GSI1 partition `CONVS` under `<kind>#<id>` (the admin's view of every
/// conversation; `channel#…` is the directory of public channels).
pub fn conversation_item(c: &Conversation) -> Result<Item, AppError> {
    let mut item = to_item(&keys::conversation(&c.id), c)?;
    item.insert("gsi1pk".into(), keys::CONVERSATIONS_GSI.into());
    item.insert("gsi1sk".into(), format!("{}#{}", c.kind.as_str(), c.id).into());
    Ok(item)
}

/// Conversations, a page at a time, optionally of one kind: one `Query` on GSI1.
pub async fn list_all(
    table: &dyn Table,
    kind: Option<ConversationKind>,
    limit: u32,
    start: Option<Item>,
) -> Result<(Vec<Conversation>, Option<Item>), AppError> {
    let sort = kind.map_or(SortCond::All, |k| SortCond::BeginsWith(format!("{}#", k.as_str())));
    let q = Query::new(crate::store::Index::Gsi1, keys::CONVERSATIONS_GSI, sort).limit(limit).start(start);
    let page = table.query(&q).await?;
    Ok((page.items.into_iter().map(from_item).collect::<Result<_, _>>()?, page.next))
}

pub fn membership_item(m: &Membership) -> Result<Item, AppError> {
    to_item(&keys::membership(&m.user_id, &m.conversation_id), m)
}

/// The writes that create a direct conversation between `a` and `b`; the `META` put is
/// conditional, so of concurrent creations exactly one succeeds.
pub fn create_direct_ops(
    a: &UserId,
    b: &UserId,
    now: &str,
    reader: Option<(&UserId, i64)>,
) -> Result<(Conversation, Vec<WriteOp>), AppError> {
    let id = ConversationId::direct(a, b);
    let conversation = Conversation {
        id: id.clone(),
        kind: ConversationKind::Direct,
        name: None,
        owner_id: None,
        member_set: vec![a.clone(), b.clone()],
        admin_set: vec![],
        created_at: now.to_owned(),
        version: 0,
        policy: Policy::default(),
        ban_set: vec![],
    };
    let mut ops = vec![WriteOp::Put { item: conversation_item(&conversation)?, cond: Some(Condition::NotExists) }];
    for user in [a, b] {
        let read_seq = reader.filter(|(r, _)| *r == user).map_or(0, |(_, seq)| seq);
        let m = Membership {
            conversation_id: id.clone(),
            user_id: user.clone(),
            read_seq,
            joined_at: now.to_owned(),
            mention_set: vec![],
        };
        ops.push(WriteOp::Put { item: membership_item(&m)?, cond: None });
    }
    Ok((conversation, ops))
}

/// The direct conversation between `a` and `b`, created if missing: one `GetItem`, plus one
/// `TransactWriteItems` when it is new. Concurrent calls converge on the same conversation.
pub async fn start_direct(
    table: &dyn Table,
    a: &UserId,
    b: &UserId,
    now: &str,
) -> Result<(Conversation, bool), AppError> {
    let id = ConversationId::direct(a, b);
    if let Some(existing) = get(table, &id).await? {
        return Ok((existing, false));
    }
    let (conversation, ops) = create_direct_ops(a, b, now, None)?;
    match table.transact(ops).await {
        Ok(()) => Ok((conversation, true)),
        Err(StoreError::TransactionCancelled { .. }) => {
            let existing = table.get(&keys::conversation(&id), true).await?.map(from_item).transpose()?;
            existing
                .map(|c| (c, false))
                .ok_or_else(|| AppError::Conflict("conversation changed meanwhile; retry".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// One `Query` per 1 MB of memberships (a user's conversations, unordered).
pub async fn memberships_of(table: &dyn Table, user: &UserId) -> Result<Vec<Membership>, AppError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let q = Query::new(crate::store::Index::Table, format!("USER#{user}"), SortCond::BeginsWith("CONV#".into()))
            .start(start);
        let page = table.query(&q).await?;
        for item in page.items {
            out.push(from_item(item)?);
        }
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(out),
        }
    }
}

/// Moves the read marker forward only (one `UpdateItem`); a marker already further is kept.
pub async fn mark_read(table: &dyn Table, user: &UserId, id: &ConversationId, seq: i64) -> Result<(), AppError> {
    let key = keys::membership(user, id);
    let cond = Condition::AbsentOrLessThan("readSeq".into(), Value::from(seq));
    match table.update(&key, vec![Update::Set("readSeq".into(), seq.into()), marked_at()], Some(cond)).await {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Advances `user`'s delivery marker of `id` to `seq` (one conditional `UpdateItem`): whether it
/// moved (a marker at or past `seq` stays).
pub async fn mark_delivered(table: &dyn Table, user: &UserId, id: &ConversationId, seq: i64) -> Result<bool, AppError> {
    let key = keys::membership(user, id);
    let cond = Condition::AbsentOrLessThan("deliveredSeq".into(), Value::from(seq));
    match table.update(&key, vec![Update::Set("deliveredSeq".into(), seq.into()), marked_at()], Some(cond)).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the conversation, its memberships and its messages (admin only; not a hot path):
/// queries of the messages, then transactions of up to 100 deletes. Answers the files the
/// messages carried (their objects are the caller's to delete).
pub async fn delete(
    table: &dyn Table,
    conversation: &Conversation,
) -> Result<Vec<crate::uploads::Attachment>, AppError> {
    let id = &conversation.id;
    let mut doomed: Vec<Key> = load_keys(id).into();
    doomed.extend(conversation.member_set.iter().map(|u| keys::membership(u, id)));
    let mut start = None;
    let mut files = Vec::new();
    loop {
        let q = Query::new(crate::store::Index::Table, keys::messages_pk(id), SortCond::All).start(start);
        let page = table.query(&q).await?;
        doomed.extend(page.items.iter().filter_map(|i| Some(Key::new(i.get("pk")?.as_str()?, i.get("sk")?.as_str()?))));
        // A reply's entry in its thread's index.
        doomed.extend(page.items.iter().filter_map(|i| {
            let root = crate::ids::MessageId::parse(i.get("parentId")?.as_str()?)?;
            Some(keys::thread_entry(&root, &crate::ids::MessageId::parse(i.get("sk")?.as_str()?)?))
        }));
        let carried = page.items.iter().filter_map(|i| i.get("attachments")).cloned();
        files.extend(
            carried.filter_map(|v| serde_json::from_value::<Vec<crate::uploads::Attachment>>(v).ok()).flatten(),
        );
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    // Messages first, the conversation last: an interrupted delete can be retried.
    doomed.reverse();
    for chunk in doomed.chunks(TRANSACT_MAX) {
        table.transact(chunk.iter().map(|k| WriteOp::Delete { key: k.clone(), cond: None }).collect()).await?;
    }
    Ok(files)
}

/// A membership's `markedAt`: a sync reports markers that moved since its token (no write of
/// its own: the marker's update carries it).
fn marked_at() -> Update {
    Update::Set(super::changes::MARKED_AT.into(), crate::clock::now_ms().into())
}
