//! Messages: partition `MSGS#<conversation>`, sorted by their time-ordered id; GSI1 finds a
//! message by id alone (for delete).

use serde_json::json;

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
    item.insert("gsi1pk".into(), keys::message_gsi(&m.id).into());
    item.insert("gsi1sk".into(), "MSG".into());
    Ok(item)
}

/// The writes of one send, for one `TransactWriteItems`: the message, the conversation summary
/// (conditional on the `seq` read before, which serializes concurrent sends), the idempotency
/// key (conditional on its absence) and, unless `sender_marker` is false (the caller writes the
/// membership itself), the sender's read marker. Indexes `SUMMARY_OP` and `IDEMPOTENCY_OP` are fixed.
pub fn send_ops(
    m: &Message,
    previous_seq: i64,
    summary_exists: bool,
    now_secs: i64,
    sender_marker: bool,
) -> Result<Vec<WriteOp>, AppError> {
    let summary_cond =
        if summary_exists { Condition::Equals("seq".into(), previous_seq.into()) } else { Condition::NotExists };
    let mut ops = vec![
        WriteOp::Put { item: message_item(m)?, cond: Some(Condition::NotExists) },
        WriteOp::Update {
            key: keys::summary(&m.conversation_id),
            updates: vec![
                Update::Set("seq".into(), m.seq.into()),
                Update::Set("lastMessage".into(), serde_json::to_value(m)?),
                Update::Set("lastMessageTime".into(), m.created_at.clone().into()),
            ],
            cond: Some(summary_cond),
        },
    ];
    if let Some(client_id) = &m.client_message_id {
        // The text's digest, not the text: a copy of the text would outlive its edits and delete.
        let item = to_item(
            &keys::idempotency(&m.sender_id, client_id),
            &json!({ "messageId": m.id, "conversationId": m.conversation_id, "textDigest": text_digest(&m.text),
                     "ttl": now_secs + IDEMPOTENCY_TTL_SECS }),
        )?;
        ops.push(WriteOp::Put { item, cond: Some(Condition::NotExists) });
    }
    if sender_marker {
        ops.push(WriteOp::Update {
            key: keys::membership(&m.sender_id, &m.conversation_id),
            updates: vec![Update::Set("readSeq".into(), m.seq.into())],
            cond: None,
        });
    }
    Ok(ops)
}

/// Index of the idempotency put in `send_ops` (its condition failing means a retry).
pub const IDEMPOTENCY_OP: usize = 2;
/// Index of the summary update in `send_ops` (its condition failing means a concurrent send).
pub const SUMMARY_OP: usize = 1;

fn text_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The message a `clientMessageId` already produced (one `GetItem`), when `conv` and `text` are
/// those it was first sent with: a retry. Any other reuse of the key is a 409, never a message
/// silently dropped (SPEC §7).
pub async fn replay(table: &dyn Table, idem: &Item, conv: &ConversationId, text: &str) -> Result<Message, AppError> {
    let reused = || AppError::Conflict("clientMessageId was already used for another message".into());
    let stored_conv = string_field(idem, "conversationId").and_then(|s| ConversationId::parse(&s));
    let msg = string_field(idem, "messageId").and_then(|s| MessageId::parse(&s));
    let (Some(stored_conv), Some(msg)) = (stored_conv, msg) else { return Err(reused()) };
    if stored_conv != *conv || string_field(idem, "textDigest").is_some_and(|d| d != text_digest(text)) {
        return Err(reused());
    }
    table.get(&keys::message(conv, &msg), true).await?.map(read).transpose()?.ok_or_else(reused)
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
    let query = match (before, after) {
        (_, Some(after)) => Query::new(Index::Table, pk, SortCond::After(after.to_string())).limit(limit),
        (Some(before), None) => {
            Query::new(Index::Table, pk, SortCond::Before(before.to_string())).limit(limit).backward()
        }
        (None, None) => Query::new(Index::Table, pk, SortCond::All).limit(limit).backward(),
    };
    let page = table.query(&query).await?;
    let mut messages: Vec<Message> = page.items.into_iter().map(read).collect::<Result<_, _>>()?;
    if !query.forward {
        messages.reverse();
    }
    let full = messages.len() as u32 == limit && page.next.is_some();
    let cursor = full.then(|| if query.forward { messages.last() } else { messages.first() }).flatten();
    Ok((messages.iter().map(redact).collect(), cursor.map(|m| m.id.to_string())))
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

/// A message item as a message, its reaction counts gathered from their counters.
fn read(item: Item) -> Result<Message, AppError> {
    let mut counts: Vec<ReactionCount> = item
        .iter()
        .filter_map(|(attr, v)| {
            let kind = attr.strip_prefix(COUNT_PREFIX)?;
            let count = v.as_i64().filter(|n| *n > 0)?;
            Some(ReactionCount { reaction: Reaction::stored(kind), count, mine: false })
        })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reaction.cmp(&b.reaction)));
    let mut m: Message = from_item(item)?;
    if !m.deleted {
        m.reactions = counts;
    }
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
    ];
    match table.transact(ops).await {
        Ok(()) => Ok(Reacted::Changed),
        Err(StoreError::TransactionCancelled { failed }) if failed.contains(&1) => Ok(Reacted::NotMember),
        Err(StoreError::TransactionCancelled { failed }) if failed.contains(&2) => Ok(Reacted::Gone),
        Err(StoreError::TransactionCancelled { failed }) if failed.contains(&0) => Ok(Reacted::Unchanged),
        Err(e) => Err(e.into()),
    }
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

/// One `Query` on GSI1.
pub async fn find(table: &dyn Table, id: &MessageId) -> Result<Option<Message>, AppError> {
    let page = table.query(&Query::new(Index::Gsi1, keys::message_gsi(id), SortCond::All).limit(1)).await?;
    page.items.into_iter().next().map(read).transpose()
}

/// Messages of one conversation by id, those that exist, in `ids`' order: one `BatchGetItem`
/// per 100.
pub async fn get_many(table: &dyn Table, conv: &ConversationId, ids: &[MessageId]) -> Result<Vec<Message>, AppError> {
    let keys: Vec<_> = ids.iter().map(|id| keys::message(conv, id)).collect();
    let mut found: Vec<Message> = table.batch_get(&keys).await?.into_iter().map(read).collect::<Result<_, _>>()?;
    found.sort_by_key(|m| ids.iter().position(|id| *id == m.id));
    Ok(found.iter().map(redact).collect())
}

/// One `GetItem`.
pub async fn get(table: &dyn Table, conv: &ConversationId, id: &MessageId) -> Result<Option<Message>, AppError> {
    table.get(&keys::message(conv, id), false).await?.map(read).transpose()
}

/// Rewrites a stored message (delete, edit) and every copy of it (SPEC §7): the conversation's
/// `lastMessage` when it is this message (the summary's `seq` is still the message's). One
/// `TransactWriteItems`, or one `UpdateItem` when the message is not the last; a send racing
/// the rewrite makes it retry once without the summary, since a message that stopped being the
/// last never becomes it again.
pub async fn rewrite(table: &dyn Table, m: &Message, summary_seq: i64, updates: Vec<Update>) -> Result<(), AppError> {
    let key = keys::message(&m.conversation_id, &m.id);
    if summary_seq == m.seq {
        let ops = vec![
            WriteOp::Update { key: key.clone(), updates: updates.clone(), cond: Some(Condition::Exists) },
            WriteOp::Update {
                key: keys::summary(&m.conversation_id),
                updates: vec![Update::Set("lastMessage".into(), serde_json::to_value(redact(m))?)],
                cond: Some(Condition::Equals("seq".into(), m.seq.into())),
            },
        ];
        match table.transact(ops).await {
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&1) => {}
            other => return Ok(other?),
        }
    }
    table.update(&key, updates, Some(Condition::Exists)).await?;
    Ok(())
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
/// tries with the copy (conditional on the summary's `seq`) and, when that alone fails, once
/// more without it — two round trips for the usual edit of the last message, three otherwise.
pub async fn edit(table: &dyn Table, m: &Message, editor: &UserId, text: &str, at: &str) -> Result<Edited, AppError> {
    let edited = Message { text: text.to_owned(), edited_at: Some(at.to_owned()), ..m.clone() };
    let copy = Message { reactions: vec![], ..edited.clone() };
    let message = WriteOp::Update {
        key: keys::message(&m.conversation_id, &m.id),
        updates: vec![Update::Set("text".into(), text.into()), Update::Set("editedAt".into(), at.into())],
        cond: Some(Condition::Equals("text".into(), m.text.clone().into())),
    };
    let member = WriteOp::Check { key: keys::membership(editor, &m.conversation_id), cond: Condition::Exists };
    let summary = WriteOp::Update {
        key: keys::summary(&m.conversation_id),
        updates: vec![Update::Set("lastMessage".into(), serde_json::to_value(&copy)?)],
        cond: Some(Condition::Equals("seq".into(), m.seq.into())),
    };
    let mut ops = vec![message, member, summary];
    loop {
        match table.transact(ops.clone()).await {
            Ok(()) => return Ok(Edited::Done(edited)),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&0) => return Ok(Edited::Changed),
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&1) => return Ok(Edited::NotMember),
            Err(StoreError::TransactionCancelled { .. }) if ops.len() == 3 => {
                ops.pop();
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Tombstones the message: the text is erased everywhere, the place kept (`rewrite`).
pub async fn tombstone(table: &dyn Table, m: &Message, summary_seq: i64) -> Result<Message, AppError> {
    let gone = Message { deleted: true, text: String::new(), attachments: vec![], ..m.clone() };
    let updates = vec![
        Update::Set("deleted".into(), true.into()),
        Update::Set("text".into(), "".into()),
        Update::Remove("attachments".into()),
    ];
    rewrite(table, &gone, summary_seq, updates).await?;
    Ok(gone)
}
