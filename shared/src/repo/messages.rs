//! Messages: partition `MSGS#<conversation>`, sorted by their time-ordered id, which names the
//! conversation (a message is found by its id alone with one `GetItem`); messages whose id is
//! of the older form (`msg_<ULID>`) are found through GSI1.

use serde_json::json;

use super::changes::{self, Entry, EntryKind, Stamp, CHANGED_AT};
use super::{from_item, keys, string_field, to_item};
use crate::error::AppError;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::models::Message;
use crate::reactions::{count_attribute, Reaction, ReactionCount, COUNT_PREFIX};
use crate::store::{Condition, Index, Item, Query, SortCond, StoreError, Table, Update, WriteOp};

/// How long a `clientMessageId` is remembered.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

pub fn message_item(m: &Message) -> Result<Item, AppError> {
    let mut item = to_item(&keys::message(&m.conversation_id, &m.id), m)?;
    if m.id.conversation().is_none() {
        // An id of the older form (a retry completing a send claimed before): found by GSI1.
        item.insert("gsi1pk".into(), keys::message_gsi(&m.id).into());
        item.insert("gsi1sk".into(), "MSG".into());
    }
    // A disappearing message: DynamoDB's TTL removes it (within days); readers hide it at once.
    if let Some(at) = m.expires_at.as_deref().and_then(epoch_secs) {
        item.insert("ttl".into(), at.into());
    }
    Ok(item)
}

/// An `expiresAt` (RFC 3339) as epoch seconds.
fn epoch_secs(at: &str) -> Option<i64> {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}

/// Whether a message item is still shown: not past its `ttl` (retention), which DynamoDB
/// enforces only lazily, so every read filters on it (both stores alike).
pub fn live(item: &Item) -> bool {
    !crate::store::is_expired(item, crate::clock::now_secs())
}

/// The summary's attribute naming the send that made the last reservation (`reserve`).
const RESERVED_BY: &str = "reservedBy";
/// The summary's attribute holding the `seq` of its `lastMessage` (`publish`).
pub const LAST_SEQ: &str = "lastSeq";

/// Reserves the next `seq` of `conv` for one send: one `UpdateItem` (`ADD seq 1`, `changedAt`:
/// the sync's hint), no transaction, so concurrent sends to one conversation never refuse each
/// other — DynamoDB applies single-item updates one after the other. `tag` names the send
/// (its idempotency key, or its message id): a send retried after a fault, with no other send
/// reserving in between, finds its own reservation the latest (the condition fails) and takes
/// that `seq` back (one consistent `GetItem` more) instead of leaving a hole in the count.
pub async fn reserve(table: &dyn Table, conv: &ConversationId, tag: &str) -> Result<i64, AppError> {
    let key = keys::summary(conv);
    let updates = vec![
        Update::Add("seq".into(), 1),
        Update::Set(CHANGED_AT.into(), crate::clock::now_ms().into()),
        Update::Set(RESERVED_BY.into(), tag.into()),
    ];
    let cond = Condition::AbsentOrNotEquals(RESERVED_BY.into(), tag.into());
    for attempt in 1..=SEND_CONFLICT_ATTEMPTS {
        match table.update(&key, updates.clone(), Some(cond.clone())).await {
            Ok(item) => return seq_of(&item),
            Err(StoreError::ConditionFailed) => {
                let item = table.get(&key, true).await?.ok_or_else(|| StoreError::Other("summary vanished".into()))?;
                return seq_of(&item);
            }
            // A transaction (a reaction, an edit) writing the summary at that instant.
            Err(StoreError::TransactionCancelled { .. }) => conflict_pause(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the conversation is busy; retry".into()))
}

/// Attempts of a send's summary update that meets a transaction on the summary (an edit, a
/// delete, a reaction: each lasts a round trip), with pauses of 10 to 50 ms: sends are not
/// refused for those.
const SEND_CONFLICT_ATTEMPTS: u32 = 16;

fn seq_of(summary: &Item) -> Result<i64, AppError> {
    summary
        .get("seq")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| StoreError::Other("summary without seq".into()).into())
}

/// The write-ahead record of a `clientMessageId` (put conditional on its absence, before the
/// message): the message id a retry completes or answers with. The text's digest, not the
/// text: a copy of the text would outlive its edits and delete.
pub fn idempotency_item(m: &Message, client_id: &str, now_secs: i64) -> Result<Item, AppError> {
    to_item(
        &keys::idempotency(&m.sender_id, client_id),
        &json!({ "messageId": m.id, "conversationId": m.conversation_id, "textDigest": text_digest(&m.text),
                 "ttl": now_secs + IDEMPOTENCY_TTL_SECS }),
    )
}

/// Puts the idempotency record: false when one is already there (another attempt of the same
/// `clientMessageId`).
pub async fn claim(table: &dyn Table, item: Item) -> Result<bool, AppError> {
    match table.put(item, Some(Condition::NotExists)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The message's put, conditional on its absence (a completed retry finds it there).
pub fn message_op(m: &Message) -> Result<WriteOp, AppError> {
    Ok(WriteOp::Put { item: message_item(m)?, cond: Some(Condition::NotExists) })
}

/// Makes `m` the conversation's last message unless a later one already is: one `UpdateItem`
/// conditional on `lastSeq < m.seq` (a slower send never overwrites a newer copy; that
/// condition failing is success). A reply kept to its thread is never the last message:
/// nothing to write. With `own`, the same update records the sender's position
/// (`conversations::OWN_PREFIX`): whether it did (else the caller moves their read marker).
pub async fn publish(table: &dyn Table, m: &Message, own: bool) -> Result<bool, AppError> {
    if !m.in_history() {
        return Ok(false);
    }
    let cond = Condition::AbsentOrLessThan(LAST_SEQ.into(), m.seq.into());
    Ok(update_summary(table, m, publication(m, own)?, cond).await? && own)
}

/// The summary's updates that make `m` its last message (and, with `own`, record the sender's
/// position).
fn publication(m: &Message, own: bool) -> Result<Vec<Update>, AppError> {
    let mut updates = vec![
        Update::Set("lastMessage".into(), serde_json::to_value(redact(m).as_copy())?),
        Update::Set("lastMessageTime".into(), m.created_at.clone().into()),
        Update::Set(LAST_SEQ.into(), m.seq.into()),
    ];
    if own {
        let position = crate::repo::conversations::OwnPosition { seq: m.seq, at: crate::clock::now_ms() };
        let attr = format!("{}{}", crate::repo::conversations::OWN_PREFIX, m.sender_id);
        updates.push(Update::Set(attr, serde_json::to_value(position)?));
    }
    Ok(updates)
}

/// One conditional update of `m`'s conversation's summary, run again while a transaction holds
/// it: whether it applied (false: the condition failed).
async fn update_summary(
    table: &dyn Table,
    m: &Message,
    updates: Vec<Update>,
    cond: Condition,
) -> Result<bool, AppError> {
    for attempt in 1..=SEND_CONFLICT_ATTEMPTS {
        match table.update(&keys::summary(&m.conversation_id), updates.clone(), Some(cond.clone())).await {
            Ok(_) => return Ok(true),
            Err(StoreError::ConditionFailed) => return Ok(false),
            Err(StoreError::TransactionCancelled { .. }) => conflict_pause(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the conversation is busy; retry".into()))
}

/// Counts `m` — stored already, with the `seq` after the count its send read — and makes it
/// the last message, in one `UpdateItem` conditional on the count still being the one read
/// (`seq < m.seq`: the count never goes back): a reservation and a publication in one write,
/// after the message's put, so a fault between the two leaves a stored message not counted
/// yet (its retry counts it), never a count or a last message without a stored message.
/// When another send counted first: the next `seq` reserved under `tag` (`reserve`), the
/// message's `seq` rewritten to it, then `publish`. Returns the message's final `seq` and
/// whether the sender's position was recorded (`own`, as `publish`).
pub async fn count(table: &dyn Table, m: &Message, tag: &str, own: bool) -> Result<(i64, bool), AppError> {
    let mut updates = vec![
        Update::Set("seq".into(), m.seq.into()),
        Update::Set(CHANGED_AT.into(), crate::clock::now_ms().into()),
        Update::Set(RESERVED_BY.into(), tag.into()),
    ];
    let own = own && m.in_history();
    if m.in_history() {
        updates.extend(publication(m, own)?);
    }
    if update_summary(table, m, updates, Condition::AbsentOrLessThan("seq".into(), m.seq.into())).await? {
        return Ok((m.seq, own));
    }
    let seq = reserve(table, &m.conversation_id, tag).await?;
    if seq != m.seq {
        let rewrite = vec![Update::Set("seq".into(), seq.into())];
        table.update(&keys::message(&m.conversation_id, &m.id), rewrite, Some(Condition::Exists)).await?;
    }
    let m = Message { seq, ..m.clone() };
    Ok((seq, publish(table, &m, own).await?))
}

/// The writes a reply adds to its send transaction: its root's thread counters — `replyCount`
/// (`ADD 1`: exact under concurrent replies), `lastReplyAt` and the replier's own time
/// (`rp:<user>`, one attribute per distinct replier: the last few are the latest of them, with
/// no read-modify-write) — conditional on the root not being deleted, and the thread's index
/// entry. The root update is the first of the returned ops.
pub fn reply_ops(m: &Message, root: &MessageId) -> Result<Vec<WriteOp>, AppError> {
    let at: serde_json::Value = m.created_at.clone().into();
    Ok(vec![
        WriteOp::Update {
            key: keys::message(&m.conversation_id, root),
            updates: vec![
                Update::Add("replyCount".into(), 1),
                Update::Set("lastReplyAt".into(), at.clone()),
                Update::Set(format!("{REPLIER_PREFIX}{}", m.sender_id), at),
            ],
            cond: Some(Condition::ExistsWithout("deleted".into())),
        },
        WriteOp::Put {
            item: to_item(&keys::thread_entry(root, &m.id), &json!({ "conversationId": m.conversation_id }))?,
            cond: None,
        },
    ])
}

/// The attribute prefix of a root's per-replier times.
pub const REPLIER_PREFIX: &str = "rp:";

fn text_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// What a `clientMessageId` already produced, when `conv` and `text` are those it was first
/// sent with (a retry): the stored message (one `GetItem`), or the id its first attempt chose
/// when that attempt stopped before storing it. Any other reuse of the key is a 409, never a
/// message silently dropped (SPEC §7).
pub enum Replayed {
    Stored(Box<Message>),
    Unfinished(MessageId),
}

pub async fn replay(table: &dyn Table, idem: &Item, conv: &ConversationId, text: &str) -> Result<Replayed, AppError> {
    let reused = || AppError::Conflict("clientMessageId was already used for another message".into());
    let stored_conv = string_field(idem, "conversationId").and_then(|s| ConversationId::parse(&s));
    let msg = string_field(idem, "messageId").and_then(|s| MessageId::parse(&s));
    let (Some(stored_conv), Some(msg)) = (stored_conv, msg) else { return Err(reused()) };
    if stored_conv != *conv || string_field(idem, "textDigest").is_some_and(|d| d != text_digest(text)) {
        return Err(reused());
    }
    Ok(match table.get(&keys::message(conv, &msg), true).await? {
        Some(item) if live(&item) => Replayed::Stored(Box::new(read(item)?)),
        // Expired meanwhile (a lifetime shorter than the key's day): not to be sent again.
        Some(_) => return Err(reused()),
        None => Replayed::Unfinished(msg),
    })
}

/// A page of a conversation, oldest first, and the cursor for the next page:
/// - no cursor: the latest `limit` messages; next = `before` cursor for older ones;
/// - `before`: the `limit` messages before it; next = `before` cursor;
/// - `after` (sync after reconnecting): the `limit` messages after it; next = `after` cursor.
///
/// One `Query`.
pub async fn page(
    table: &dyn Table,
    conv: &ConversationId,
    before: Option<&MessageId>,
    after: Option<&MessageId>,
    limit: u32,
) -> Result<(Vec<Message>, Option<String>), AppError> {
    let pk = keys::messages_pk(conv);
    let query = cursor_query(pk, before, after, limit);
    let page = table.query(&query).await?;
    let mut messages: Vec<(bool, Message)> =
        page.items.into_iter().map(|i| Ok((live(&i), read(i)?))).collect::<Result<_, AppError>>()?;
    if !query.forward {
        messages.reverse();
    }
    let full = messages.len() as u32 == limit && page.next.is_some();
    let cursor = full.then(|| if query.forward { messages.last() } else { messages.first() }).flatten();
    let cursor = cursor.map(|(_, m)| m.id.to_string());
    // A page is a range of ids (what cursors split), shown in the conversation's order: the
    // `seq` each send reserved. Ids are minted before the reservation, so concurrent sends'
    // ids and `seq`s can disagree by a few places; the range never misses nor repeats one.
    messages.sort_by(|(_, a), (_, b)| a.seq.cmp(&b.seq).then_with(|| a.id.cmp(&b.id)));
    // Replies kept to their thread, and expired messages, are read but not shown: a page may
    // come out shorter than `limit` (still with its cursor).
    Ok((messages.iter().filter(|(live, m)| *live && m.in_history()).map(|(_, m)| redact(m)).collect(), cursor))
}

/// History's cursors over one partition: `after` reads forward from it, `before` (or none,
/// the newest) reads backward.
fn cursor_query(pk: String, before: Option<&MessageId>, after: Option<&MessageId>, limit: u32) -> Query {
    match (before, after) {
        (_, Some(after)) => Query::new(Index::Table, pk, SortCond::After(after.to_string())).limit(limit),
        (Some(before), None) => {
            Query::new(Index::Table, pk, SortCond::Before(before.to_string())).limit(limit).backward()
        }
        (None, None) => Query::new(Index::Table, pk, SortCond::All).limit(limit).backward(),
    }
}

/// A page of the thread of `root` (in conversation `conv`), with the cursors of `page`: the
/// thread's index (one `Query`), then its replies (one `BatchGetItem`).
pub async fn thread_page(
    table: &dyn Table,
    conv: &ConversationId,
    root: &MessageId,
    before: Option<&MessageId>,
    after: Option<&MessageId>,
    limit: u32,
) -> Result<(Vec<Message>, Option<String>), AppError> {
    let pk = keys::thread_pk(root);
    let query = cursor_query(pk, before, after, limit);
    let page = table.query(&query).await?;
    let mut ids: Vec<MessageId> =
        page.items.iter().filter_map(|i| string_field(i, "sk")).filter_map(|s| MessageId::parse(&s)).collect();
    if !query.forward {
        ids.reverse();
    }
    let full = ids.len() as u32 == limit && page.next.is_some();
    let cursor = full.then(|| if query.forward { ids.last() } else { ids.first() }).flatten().map(|id| id.to_string());
    if ids.is_empty() {
        return Ok((vec![], cursor));
    }
    Ok((get_many(table, conv, &ids).await?, cursor))
}

/// A deleted message keeps its place but not its text.
fn redact(m: &Message) -> Message {
    let mut m = m.clone();
    if m.deleted {
        m.text = String::new();
        m.attachments.clear();
    }
    m
}

/// A message item as a message, its reaction counts and last repliers gathered from their
/// attributes.
pub fn read(item: Item) -> Result<Message, AppError> {
    let mut counts: Vec<ReactionCount> = item
        .iter()
        .filter_map(|(attr, v)| {
            let kind = attr.strip_prefix(COUNT_PREFIX)?;
            let count = v.as_i64().filter(|n| *n > 0)?;
            Some(ReactionCount { reaction: Reaction::stored(kind), count, mine: false })
        })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reaction.cmp(&b.reaction)));
    let mut repliers: Vec<(String, UserId)> = item
        .iter()
        .filter_map(|(attr, v)| {
            let user = UserId::parse(attr.strip_prefix(REPLIER_PREFIX)?)?;
            Some((v.as_str()?.to_owned(), user))
        })
        .collect();
    repliers.sort_by(|a, b| b.cmp(a));
    let mut m: Message = from_item(item)?;
    if !m.deleted {
        m.reactions = counts;
    }
    m.repliers = repliers.into_iter().take(crate::models::MAX_REPLIERS).map(|(_, u)| u).collect();
    Ok(m)
}

/// How a reaction (or its removal) ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Reacted {
    Changed,
    /// Already so: nothing written.
    Unchanged,
    /// The user is not a member of the conversation.
    NotMember,
    /// The message is gone (deleted).
    Gone,
}

/// Adds (or removes) `user`'s reaction `kind` on `m`, in one `TransactWriteItems`: the user's
/// reaction item (put if absent, or deleted if present: what makes it idempotent), their
/// membership checked, and the message's counter for the kind moved by one with `ADD` (exact
/// under concurrent reactions), conditional on the message not being deleted.
pub async fn react(
    table: &dyn Table,
    m: &Message,
    user: &UserId,
    kind: &Reaction,
    add: bool,
    at: &str,
    stamp: Stamp,
) -> Result<Reacted, AppError> {
    let key = keys::reaction(&m.conversation_id, user, &m.id, kind);
    let mine = if add {
        WriteOp::Put { item: to_item(&key, &json!({ "at": at }))?, cond: Some(Condition::NotExists) }
    } else {
        WriteOp::Delete { key, cond: Some(Condition::Exists) }
    };
    let ops = vec![
        mine,
        WriteOp::Check { key: keys::membership(user, &m.conversation_id), cond: Condition::Exists },
        WriteOp::Update {
            key: keys::message(&m.conversation_id, &m.id),
            updates: vec![Update::Add(count_attribute(kind), if add { 1 } else { -1 })],
            cond: Some(Condition::ExistsWithout("deleted".into())),
        },
        changes::summary_op(&m.conversation_id, stamp),
        changes::entry_op(
            &m.conversation_id,
            stamp,
            &Entry {
                kind: if add { EntryKind::ReactionAdded } else { EntryKind::ReactionRemoved },
                message_id: m.id.clone(),
                user_id: user.clone(),
                reaction: Some(kind.to_string()),
                at: stamp.at_ms,
            },
        )?,
    ];
    // Changes of one conversation conflict on its summary (`changedAt`), and of one message on
    // its counters: a transaction cancelled for a conflict (no failed condition) runs again.
    for attempt in 1..=CONFLICT_ATTEMPTS {
        match table.transact(ops.clone()).await {
            Ok(()) => return Ok(Reacted::Changed),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&1) => return Ok(Reacted::NotMember),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&2) => return Ok(Reacted::Gone),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&0) => return Ok(Reacted::Unchanged),
            Err(StoreError::TransactionCancelled { .. }) => conflict_pause(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the conversation is busy; retry".into()))
}

/// Attempts of a change whose transaction conflicts with concurrent changes of its conversation.
const CONFLICT_ATTEMPTS: u32 = 5;

/// A short, growing wait before running a conflicting transaction again.
async fn conflict_pause(attempt: u32) {
    tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt.min(5)))).await;
}

/// Marks the kinds `user` chose on `messages` (a page of one conversation): one `Query` over the
/// page's range of the user's reactions, none when no message of the page has a reaction.
pub async fn mark_mine(table: &dyn Table, messages: &mut [Message], user: &UserId) -> Result<(), AppError> {
    let reacted = messages.iter().filter(|m| !m.reactions.is_empty()).map(|m| &m.id);
    let (Some(first), Some(last)) = (reacted.clone().min(), reacted.max()) else { return Ok(()) };
    let conv = messages[0].conversation_id.clone();
    // `$` sorts right after `#`: every kind of the last message, whatever its bytes.
    let sort = SortCond::Between(format!("{first}#"), format!("{last}$"));
    let mut start = None;
    loop {
        let q = Query::new(Index::Table, keys::reactions_pk(&conv, user), sort.clone()).start(start);
        let page = table.query(&q).await?;
        for item in &page.items {
            let Some((id, kind)) =
                string_field(item, "sk").and_then(|sk| sk.split_once('#').map(|(a, b)| (a.to_owned(), b.to_owned())))
            else {
                continue;
            };
            let mine = messages.iter_mut().filter(|m| m.id.as_str() == id).flat_map(|m| m.reactions.iter_mut());
            mine.filter(|r| r.reaction.as_str() == kind).for_each(|r| r.mine = true);
        }
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(()),
        }
    }
}

/// A message by its id alone: one strongly consistent `GetItem` in the conversation the id
/// names (a message just sent is found); an id of the older form, one `Query` on GSI1.
pub async fn find(table: &dyn Table, id: &MessageId) -> Result<Option<Message>, AppError> {
    let item = match id.conversation() {
        Some(conv) => table.get(&keys::message(&conv, id), true).await?,
        None => {
            let page = table.query(&Query::new(Index::Gsi1, keys::message_gsi(id), SortCond::All).limit(1)).await?;
            page.items.into_iter().next()
        }
    };
    item.filter(live).map(read).transpose()
}

/// Messages of one conversation by id, those that exist, in `ids`' order: one `BatchGetItem`
/// per 100.
pub async fn get_many(table: &dyn Table, conv: &ConversationId, ids: &[MessageId]) -> Result<Vec<Message>, AppError> {
    let keys: Vec<_> = ids.iter().map(|id| keys::message(conv, id)).collect();
    let mut found: Vec<Message> =
        table.batch_get(&keys).await?.into_iter().filter(live).map(read).collect::<Result<_, _>>()?;
    found.sort_by_key(|m| ids.iter().position(|id| *id == m.id));
    Ok(found.iter().map(redact).collect())
}

/// One `GetItem`.
pub async fn get(table: &dyn Table, conv: &ConversationId, id: &MessageId) -> Result<Option<Message>, AppError> {
    table.get(&keys::message(conv, id), false).await?.filter(live).map(read).transpose()
}

/// Rewrites a stored message (delete) and every copy of it (SPEC §7): the conversation's
/// `lastMessage` when it is this message (the summary's `lastSeq` is still the message's), with
/// the change log's entry, in one `TransactWriteItems`. A send racing the rewrite makes it run
/// once more without the copy, since a message that stopped being the last never becomes it again.
pub async fn rewrite(
    table: &dyn Table,
    m: &Message,
    last_seq: i64,
    updates: Vec<Update>,
    stamp: Stamp,
    entry: &Entry,
) -> Result<(), AppError> {
    let message =
        WriteOp::Update { key: keys::message(&m.conversation_id, &m.id), updates, cond: Some(Condition::Exists) };
    let copy = WriteOp::Update {
        key: keys::summary(&m.conversation_id),
        updates: vec![
            Update::Set("lastMessage".into(), serde_json::to_value(redact(m).as_copy())?),
            stamp.touch(CHANGED_AT),
        ],
        cond: Some(Condition::Equals(LAST_SEQ.into(), m.seq.into())),
    };
    let entry = changes::entry_op(&m.conversation_id, stamp, entry)?;
    let mut with_copy = last_seq == m.seq && m.in_history();
    for attempt in 1..=CONFLICT_ATTEMPTS {
        let summary = if with_copy { copy.clone() } else { changes::summary_op(&m.conversation_id, stamp) };
        match table.transact(vec![message.clone(), summary, entry.clone()]).await {
            Ok(()) => return Ok(()),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&0) => {
                return Err(AppError::not_found("message"))
            }
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&1) => with_copy = false,
            // A conflict with a concurrent write of the summary: again.
            Err(StoreError::TransactionCancelled { .. }) => conflict_pause(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the conversation is busy; retry".into()))
}

/// How an edit ended.
#[derive(Debug)]
pub enum Edited {
    Done(Message),
    /// The text changed or the message was deleted since it was read.
    Changed,
    /// The editor is no longer a member of the conversation.
    NotMember,
}

/// Rewrites the text of `m` (as read) to `text`, with the conversation's `lastMessage` copy when
/// it is this message, in one `TransactWriteItems`: the message conditional on its text being
/// the one read (a delete or another edit in between fails it), the editor's membership checked.
/// Whether `m` is the last message is not known without reading the summary: the transaction
/// tries with the copy (conditional on the summary's `lastSeq`) and, when that alone fails, once
/// more without it — two round trips for the usual edit of the last message, three otherwise.
pub async fn edit(
    table: &dyn Table,
    m: &Message,
    editor: &UserId,
    text: &str,
    at: &str,
    stamp: Stamp,
) -> Result<Edited, AppError> {
    let edited = Message { text: text.to_owned(), edited_at: Some(at.to_owned()), ..m.clone() };
    let copy = edited.as_copy();
    let message = WriteOp::Update {
        key: keys::message(&m.conversation_id, &m.id),
        updates: vec![Update::Set("text".into(), text.into()), Update::Set("editedAt".into(), at.into())],
        cond: Some(Condition::Equals("text".into(), m.text.clone().into())),
    };
    let member = WriteOp::Check { key: keys::membership(editor, &m.conversation_id), cond: Condition::Exists };
    let summary = WriteOp::Update {
        key: keys::summary(&m.conversation_id),
        updates: vec![Update::Set("lastMessage".into(), serde_json::to_value(&copy)?), stamp.touch(CHANGED_AT)],
        cond: Some(Condition::Equals(LAST_SEQ.into(), m.seq.into())),
    };
    let entry = Entry {
        kind: EntryKind::Edited,
        message_id: m.id.clone(),
        user_id: editor.clone(),
        reaction: None,
        at: stamp.at_ms,
    };
    let entry = changes::entry_op(&m.conversation_id, stamp, &entry)?;
    // A reply kept to its thread is never the conversation's last message.
    let mut with_copy = m.in_history();
    for attempt in 1..=CONFLICT_ATTEMPTS {
        let touch = if with_copy { summary.clone() } else { changes::summary_op(&m.conversation_id, stamp) };
        match table.transact(vec![message.clone(), member.clone(), touch, entry.clone()]).await {
            Ok(()) => return Ok(Edited::Done(edited)),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&0) => return Ok(Edited::Changed),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&1) => return Ok(Edited::NotMember),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&2) => with_copy = false,
            // A conflict with a concurrent write of the summary: again.
            Err(StoreError::TransactionCancelled { .. }) => conflict_pause(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the conversation is busy; retry".into()))
}

/// Tombstones the message: the text is erased everywhere, the place kept (`rewrite`).
pub async fn tombstone(
    table: &dyn Table,
    m: &Message,
    last_seq: i64,
    by: &UserId,
    stamp: Stamp,
) -> Result<Message, AppError> {
    let gone = Message { deleted: true, text: String::new(), attachments: vec![], ..m.clone() };
    let updates = vec![
        Update::Set("deleted".into(), true.into()),
        Update::Set("text".into(), "".into()),
        Update::Remove("attachments".into()),
    ];
    let entry = Entry {
        kind: EntryKind::Deleted,
        message_id: m.id.clone(),
        user_id: by.clone(),
        reaction: None,
        at: stamp.at_ms,
    };
    rewrite(table, &gone, last_seq, updates, stamp, &entry).await?;
    Ok(gone)
}

/// A stored message item as a `Message` (the push function reads the stream's new images).
pub fn from_stored(item: Item) -> Result<Message, AppError> {
    read(item)
}
