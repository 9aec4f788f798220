//! `GET /api/sync?since=<token>`: everything that changed for the caller since a token, across
//! all their conversations, in pages. Nothing is written for it on the send path; see
//! `repo::changes` for what each change leaves behind and `docs/DYNAMODB_BUDGET.md` for the
//! cost both ways.
//!
//! A page reads: the caller's memberships (one `Query`) ‖ the notifications since the token
//! (one `Query`: removals from groups) → the conversations' `META` + `SUMMARY` and, for direct
//! ones, the other member's membership (one `BatchGetItem` per 33 conversations) → for each
//! conversation that changed (`changedAt`, `pinsAt` or a moved marker past the token, at most
//! `CONVERSATIONS_PER_PAGE` of them), concurrently: its new messages (a range of `MSGS#<conv>`,
//! ids being time-ordered), its change log (`CHG#<conv>`) and, when they changed, its pins →
//! the current state of the messages the log names (one `BatchGetItem`).

use std::collections::BTreeMap;
use std::future::Future;

use serde::Serialize;

use super::Actor;
use crate::app::App;
use crate::clock::{iso, now_ms};
use crate::error::AppError;
use crate::ids::{ConversationId, MessageId, NotificationId, UserId};
use crate::models::{ConversationKind, Message, NotificationKind, DEFAULT_PAGE};
use crate::repo::changes::{self, EntryKind, CHANGED_AT, MARKED_AT, PINS_AT};
use crate::repo::connections::Presence;
use crate::repo::conversations::{self, Conversation};
use crate::repo::notifications::NotificationData;
use crate::repo::{self, keys, pick, string_field};
use crate::store::{Index, Item, Query, SortCond};

/// Changed conversations looked into by one page (their reads run concurrently).
pub const CONVERSATIONS_PER_PAGE: usize = 10;

/// A position in the change stream. `since`: everything up to this time (epoch ms) is known to
/// the client. A page that does not reach the end also carries the end of the window it
/// walks (`until`, fixed at its first page) and where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub since: i64,
    resume: Option<Resume>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Resume {
    until: i64,
    conversation: ConversationId,
    messages_after: Option<String>,
    changes_after: Option<String>,
}

const VERSION: &str = "s1";
/// Why a well-formed token no sync of this service issued is refused (410).
const FOREIGN: &str =
    "this token is not one this service issued: load the conversations again, then sync with a new token";

/// The schema of a sync token (for `#[schemars(with = …)]`): the shapes `Token::parse` accepts.
pub struct TokenSchema;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for TokenSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SyncToken".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ulid = crate::ids::ULID_PATTERN;
        let conv = format!("(dm_{ulid}_{ulid}|grp_{ulid})");
        let after = "(-|[A-Za-z0-9_]{1,40})";
        // A message id that names the token's conversation: `.<conversation>` written as `~`.
        let messages = "(-|[A-Za-z0-9_]{1,40}~?)";
        schemars::json_schema!({
            "type": "string",
            "pattern": format!("^{VERSION}\\.[0-9]{{1,15}}(\\.[0-9]{{1,15}}\\.{conv}\\.{messages}\\.{after})?$"),
            "description": "A token a sync answered (`token`, or `next` while more pages follow). Past the retention window, or not issued by this service: 410 `RESYNC_REQUIRED`.",
        })
    }
}

/// In a token, the `.<conversation>` ending a message id of the token's conversation.
const MESSAGE_IN_CONVERSATION: &str = "~";

impl Token {
    fn at(since: i64) -> Self {
        Self { since, resume: None }
    }

    /// A token as `GET /api/sync` issues it; anything else is a 400.
    pub fn parse(s: &str) -> Result<Self, AppError> {
        let bad = || AppError::field("since", "not a sync token (use the token of the previous sync)");
        let parts: Vec<&str> = s.split('.').collect();
        let number = |p: &str| p.parse::<i64>().ok().filter(|n| *n >= 0);
        let after = |p: &str| -> Result<Option<String>, AppError> {
            match p {
                "-" => Ok(None),
                p if !p.is_empty() && p.len() <= 40 && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    Ok(Some(p.to_owned()))
                }
                _ => Err(bad()),
            }
        };
        match parts.as_slice() {
            [VERSION, since] => Ok(Self::at(number(since).ok_or_else(bad)?)),
            [VERSION, since, until, conv, messages, chg] => {
                let (since, until) = (number(since).ok_or_else(bad)?, number(until).ok_or_else(bad)?);
                // Well-formed, but no sync wrote it (a window that ends before it starts, a
                // direct conversation no pair has): resync, as for any token not issued here.
                let foreign = || AppError::ResyncRequired(FOREIGN.into());
                if until < since {
                    return Err(foreign());
                }
                let conversation = match ConversationId::parse(conv) {
                    Some(c) => c,
                    None if ConversationId::is_direct_shaped(conv) => return Err(foreign()),
                    None => return Err(bad()),
                };
                // `~`: the message id's `.<conversation>` (the token's), left out of the token.
                let messages_after = match messages.strip_suffix(MESSAGE_IN_CONVERSATION) {
                    Some(m) => after(m)?.map(|m| format!("{m}.{conversation}")),
                    None => after(messages)?,
                };
                let resume = Resume { until, conversation, messages_after, changes_after: after(chg)? };
                Ok(Self { since, resume: Some(resume) })
            }
            _ => Err(bad()),
        }
    }

    pub fn encode(&self) -> String {
        match &self.resume {
            None => format!("{VERSION}.{}", self.since),
            Some(r) => format!(
                "{VERSION}.{}.{}.{}.{}.{}",
                self.since,
                r.until,
                r.conversation,
                r.messages_after
                    .as_deref()
                    .map(|m| match m.strip_suffix(&format!(".{}", r.conversation)) {
                        Some(short) => format!("{short}{MESSAGE_IN_CONVERSATION}"),
                        None => m.to_owned(),
                    })
                    .unwrap_or_else(|| "-".into()),
                r.changes_after.as_deref().unwrap_or("-")
            ),
        }
    }
}

/// One page of changes: `next` when more follow (call again with it at once), else `token`, for
/// the next sync.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Serialize)]
pub struct SyncPage {
    pub changes: Vec<Change>,
    /// More changes of this sync: call `GET /api/sync?since=<next>` now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Caught up: keep this for the next sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// One change, by `type`. Conversation by conversation; in a conversation, new messages oldest
/// first, then the changes of older ones in the order they happened.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Change {
    /// The caller joined (or was added to) a conversation, or its members or admins changed.
    Conversation {
        #[serde(rename = "conversationId")]
        conversation_id: ConversationId,
        kind: ConversationKind,
        name: Option<String>,
        #[serde(rename = "ownerId")]
        owner_id: Option<UserId>,
        #[serde(rename = "memberIds")]
        member_ids: Vec<UserId>,
        #[serde(rename = "adminIds")]
        admin_ids: Vec<UserId>,
    },
    /// The caller was removed from a group or channel.
    Removed {
        #[serde(rename = "conversationId")]
        conversation_id: ConversationId,
    },
    /// A message sent since the token (a thread reply carries its `parentId`); as it is now.
    Message { message: Message },
    /// An older message's new text; the message as it is now.
    MessageEdited { message: Message },
    MessageDeleted {
        #[serde(rename = "conversationId")]
        conversation_id: ConversationId,
        #[serde(rename = "messageId")]
        message_id: MessageId,
    },
    ReactionAdded {
        #[serde(rename = "conversationId")]
        conversation_id: ConversationId,
        #[serde(rename = "messageId")]
        message_id: MessageId,
        #[serde(rename = "userId")]
        user_id: UserId,
        reaction: String,
    },
    ReactionRemoved {
        #[serde(rename = "conversationId")]
        conversation_id: ConversationId,
        #[serde(rename = "messageId")]
        message_id: MessageId,
        #[serde(rename = "userId")]
        user_id: UserId,
        reaction: String,
    },
    /// The conversation's pins changed: all of them now, in message order.
    Pins {
        #[serde(rename = "conversationId")]
        conversation_id: ConversationId,
        #[serde(rename = "messageIds")]
        message_ids: Vec<MessageId>,
    },
    /// A member's read or delivery marker moved: the caller's own (other devices) in every
    /// conversation, the other member's in a direct one.
    Markers {
        #[serde(rename = "conversationId")]
        conversation_id: ConversationId,
        #[serde(rename = "userId")]
        user_id: UserId,
        #[serde(rename = "readSeq")]
        read_seq: i64,
        #[serde(rename = "deliveredSeq")]
        delivered_seq: i64,
    },
}

fn number(item: &Item, attr: &str) -> i64 {
    item.get(attr).and_then(serde_json::Value::as_i64).unwrap_or(0)
}

/// The caller's membership items (one `Query` per 1 MB).
async fn memberships(app: &App, user: &UserId) -> Result<Vec<Item>, AppError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let q = Query::new(Index::Table, format!("USER#{user}"), SortCond::BeginsWith("CONV#".into())).start(start);
        let page = app.table().query(&q).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(out),
        }
    }
}

/// The groups the caller was removed from in the window: their `removedFromGroup`
/// notifications (ids are time-ordered: one `Query` of a range).
async fn removals(app: &App, user: &UserId, since: i64, until: i64) -> Result<Vec<ConversationId>, AppError> {
    let (lo, hi) = changes::range(&format!("NOTIF#{}", NotificationId::PREFIX), since, until);
    let q = Query::new(Index::Table, format!("USER#{user}"), SortCond::Between(lo, hi));
    let page = app.table().query(&q).await?;
    let mut out = Vec::new();
    for item in page.items {
        let Ok(note) = repo::from_item::<repo::notifications::Notification>(item) else { continue };
        if let (NotificationKind::RemovedFromGroup, NotificationData::Group(g)) = (note.kind, note.data) {
            out.push(g.conversation_id);
        }
    }
    Ok(out)
}

/// What one changed conversation's reads found.
struct Found {
    messages: Vec<Message>,
    messages_more: bool,
    log: Vec<(String, changes::Entry)>,
    log_more: bool,
    pins: Option<Vec<MessageId>>,
}

/// Everything that changed for `actor` since `since` (no token: none, and the token of now).
#[tracing::instrument(skip_all, fields(actor = %actor.user_id))]
pub async fn sync<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    since: Option<Token>,
    limit: Option<u32>,
) -> Result<SyncPage, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let now = now_ms();
    let Some(token) = since else {
        authenticate.await?;
        return Ok(SyncPage { changes: vec![], next: None, token: Some(Token::at(now).encode()) });
    };
    let retention_ms = app.config.sync_retention_days * 86_400_000;
    if token.since < now - retention_ms {
        return Err(AppError::ResyncRequired(format!(
            "this token is older than {} days: load the conversations again, then sync with a new token",
            app.config.sync_retention_days
        )));
    }
    if token.since > now + 60_000 {
        // Well-formed but not one this clock issued (another deployment's, or a skewed copy):
        // the client cannot trust what it holds either way.
        return Err(AppError::ResyncRequired(FOREIGN.into()));
    }
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    let (since, until) = (token.since, token.resume.as_ref().map_or(now, |r| r.until));
    let first_page = token.resume.is_none();
    let me = &actor.user_id;

    // 1. The caller's memberships ‖ removals (first page only) ‖ the session.
    let removed = async {
        if first_page {
            removals(app, me, since, until).await
        } else {
            Ok(vec![])
        }
    };
    let (_, mine, removed) = tokio::try_join!(authenticate, memberships(app, me), removed)?;
    let mut mine: BTreeMap<ConversationId, Item> = mine
        .into_iter()
        .filter_map(|i| {
            let id = ConversationId::parse(string_field(&i, "sk")?.strip_prefix("CONV#")?)?;
            Some((id, i))
        })
        .collect();
    if let Some(r) = &token.resume {
        mine = mine.split_off(&r.conversation);
    }

    // 2. Their META + SUMMARY, the other member's membership of a direct conversation, and the
    //    caller's presence (whom they blocked: those users' messages come marked, as in history).
    let partner = |c: &ConversationId| c.direct_members().map(|(a, b)| if a == *me { b } else { a });
    let mut batch = Vec::new();
    for c in mine.keys() {
        batch.extend(conversations::load_keys(c));
        batch.extend(partner(c).map(|p| keys::membership(&p, c)));
    }
    let items = if batch.is_empty() {
        vec![]
    } else {
        batch.push(keys::presence(me));
        app.table().batch_get(&batch).await?
    };
    let caller: Presence = pick(&items, &keys::presence(me)).map(repo::from_item).transpose()?.unwrap_or_default();

    let since_iso = iso(since);
    let mut changes = Vec::new();
    if first_page {
        changes.extend(
            removed
                .into_iter()
                .filter(|c| !mine.contains_key(c))
                .map(|conversation_id| Change::Removed { conversation_id }),
        );
    }
    // Which conversations have news, and the conversation-level changes of each.
    let mut todo: Vec<(ConversationId, Vec<Change>, bool, bool)> = Vec::new();
    for (id, membership) in &mine {
        let Some(meta) = pick(&items, &keys::conversation(id)) else { continue };
        let summary = pick(&items, &keys::summary(id)).unwrap_or_default();
        let conversation: Conversation = repo::from_item(meta.clone())?;
        let resumed = token.resume.as_ref().is_some_and(|r| r.conversation == *id);
        let mut head = Vec::new();
        let joined = string_field(membership, "joinedAt").is_some_and(|j| j > since_iso);
        if !resumed && (joined || number(&meta, CHANGED_AT) > since) {
            head.push(Change::Conversation {
                conversation_id: id.clone(),
                kind: conversation.kind,
                name: conversation.name.clone(),
                owner_id: conversation.owner_id.clone(),
                member_ids: conversation.member_set.clone(),
                admin_ids: conversation.admin_set.clone(),
            });
        }
        let mut markers = vec![(me.clone(), membership.clone())];
        if let Some(p) = partner(id) {
            markers.extend(pick(&items, &keys::membership(&p, id)).map(|m| (p, m)));
        }
        // A direct conversation's sender's position rides in its summary (`Summary::own`).
        let own = repo::conversations::own_positions(&summary);
        for (user_id, m) in markers {
            let own = own.get(&user_id).copied().unwrap_or_default();
            if !resumed && (number(&m, MARKED_AT) > since || own.at > since) {
                head.push(Change::Markers {
                    conversation_id: id.clone(),
                    read_seq: number(&m, "readSeq").max(own.seq),
                    user_id,
                    delivered_seq: number(&m, "deliveredSeq"),
                });
            }
        }
        let messages = number(&summary, CHANGED_AT) > since;
        let pins = !resumed && number(&meta, PINS_AT) > since;
        if messages || pins || !head.is_empty() {
            todo.push((id.clone(), head, messages, pins));
        }
    }
    let rest = todo.split_off(todo.len().min(CONVERSATIONS_PER_PAGE));

    // 3. Per changed conversation, concurrently: new messages, the change log, the pins.
    let reads = todo.iter().map(|(id, _, messages, pins)| {
        let resume = token.resume.as_ref().filter(|r| r.conversation == *id);
        async move {
            let news = async {
                if !*messages {
                    return Ok((vec![], false, vec![], false));
                }
                let (new, log) = tokio::try_join!(
                    new_messages(app, id, since, until, resume.and_then(|r| r.messages_after.as_deref()), limit),
                    changes::since(
                        app.table(),
                        id,
                        since,
                        until,
                        resume.and_then(|r| r.changes_after.as_deref()),
                        limit
                    ),
                )?;
                Ok::<_, AppError>((new.0, new.1, log.0, log.1))
            };
            let pinned = async {
                if !*pins {
                    return Ok(None);
                }
                let list = repo::pins::list(app.table(), id).await?;
                Ok::<_, AppError>(Some(list.into_iter().map(|p| p.message_id).collect::<Vec<_>>()))
            };
            let ((messages, messages_more, log, log_more), pins) = tokio::try_join!(news, pinned)?;
            Ok::<_, AppError>(Found { messages, messages_more, log, log_more, pins })
        }
    });
    let found = futures::future::try_join_all(reads).await?;

    // 4. The current state of the edited messages (one `BatchGetItem` per conversation).
    let edited = todo.iter().zip(&found).map(|((id, ..), f)| async move {
        let mut ids: Vec<MessageId> =
            f.log.iter().filter(|(_, e)| e.kind == EntryKind::Edited).map(|(_, e)| e.message_id.clone()).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(vec![]);
        }
        repo::messages::get_many(app.table(), id, &ids).await
    });
    let edited = futures::future::try_join_all(edited).await?;

    let mut next = None;
    for (i, ((id, head, ..), f)) in todo.iter().zip(found).enumerate() {
        changes.extend(head.iter().cloned());
        changes.extend(f.messages.iter().cloned().map(|mut message| {
            message.sender_blocked = caller.block_set.contains(&message.sender_id);
            Change::Message { message }
        }));
        for (_, e) in &f.log {
            let (conversation_id, message_id) = (id.clone(), e.message_id.clone());
            changes.push(match e.kind {
                EntryKind::Edited => match edited[i].iter().find(|m| m.id == e.message_id) {
                    // Deleted since: its tombstone follows in the log.
                    Some(m) if !m.deleted => Change::MessageEdited {
                        message: Message { sender_blocked: caller.block_set.contains(&m.sender_id), ..m.clone() },
                    },
                    _ => continue,
                },
                EntryKind::Deleted => Change::MessageDeleted { conversation_id, message_id },
                EntryKind::ReactionAdded | EntryKind::ReactionRemoved => {
                    let (user_id, reaction) = (e.user_id.clone(), e.reaction.clone().unwrap_or_default());
                    if e.kind == EntryKind::ReactionAdded {
                        Change::ReactionAdded { conversation_id, message_id, user_id, reaction }
                    } else {
                        Change::ReactionRemoved { conversation_id, message_id, user_id, reaction }
                    }
                }
            });
        }
        if let Some(message_ids) = f.pins {
            changes.push(Change::Pins { conversation_id: id.clone(), message_ids });
        }
        // More of this conversation: the next page resumes it where its reads stopped.
        if f.messages_more || f.log_more {
            let resumed = token.resume.as_ref().filter(|r| r.conversation == *id);
            let messages_after = match f.messages.last() {
                Some(m) if f.messages_more => Some(m.id.to_string()),
                _ if f.messages_more => resumed.and_then(|r| r.messages_after.clone()),
                // Done with its messages: past the window's last id.
                _ => Some(changes::range(MessageId::PREFIX, since, until).1),
            };
            let changes_after = match f.log.last() {
                Some((sk, _)) if f.log_more => Some(sk.clone()),
                _ if f.log_more => resumed.and_then(|r| r.changes_after.clone()),
                _ => Some(changes::range("", since, until).1),
            };
            next = Some(Resume { until, conversation: id.clone(), messages_after, changes_after });
            break;
        }
        if changes.len() >= limit as usize {
            if let Some((following, ..)) = todo.get(i + 1).or(rest.first()) {
                next =
                    Some(Resume { until, conversation: following.clone(), messages_after: None, changes_after: None });
            }
            break;
        }
    }
    if next.is_none() {
        next = rest.first().map(|(c, ..)| Resume {
            until,
            conversation: c.clone(),
            messages_after: None,
            changes_after: None,
        });
    }
    Ok(match next {
        Some(resume) => SyncPage { changes, next: Some(Token { since, resume: Some(resume) }.encode()), token: None },
        None => SyncPage { changes, next: None, token: Some(Token::at(until).encode()) },
    })
}

/// Messages of `conv` sent in `(since, until]` (after `after` when resuming), oldest first:
/// one `Query` of a range of `MSGS#<conv>`, whether more may follow.
async fn new_messages(
    app: &App,
    conv: &ConversationId,
    since: i64,
    until: i64,
    after: Option<&str>,
    limit: u32,
) -> Result<(Vec<Message>, bool), AppError> {
    let (lo, hi) = changes::range(MessageId::PREFIX, since, until);
    // Ids have one length: `<id>!` sorts right after `<id>` and before any later id.
    let lo = after.map_or(lo, |a| format!("{a}!"));
    if lo > hi {
        return Ok((vec![], false));
    }
    let q = Query::new(Index::Table, keys::messages_pk(conv), SortCond::Between(lo, hi)).limit(limit);
    let page = app.table().query(&q).await?;
    let more = page.items.len() as u32 == limit && page.next.is_some();
    let messages = page
        .items
        .into_iter()
        .filter(repo::messages::live)
        .map(repo::messages::read)
        .map(|m| m.map(|m| if m.deleted { Message { text: String::new(), ..m } } else { m }))
        .collect::<Result<_, _>>()?;
    Ok((messages, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_as_it_was_written() {
        let conv = ConversationId::direct(&UserId::generate(), &UserId::generate());
        for token in [
            Token::at(1_700_000_000_000),
            Token {
                since: 5,
                resume: Some(Resume {
                    until: 9,
                    conversation: conv.clone(),
                    messages_after: Some(MessageId::generate(&conv).to_string()),
                    changes_after: None,
                }),
            },
            // A message id of the older form (no conversation in it).
            Token {
                since: 5,
                resume: Some(Resume {
                    until: 9,
                    conversation: conv.clone(),
                    messages_after: Some(format!("msg_{}", ulid::Ulid::generate())),
                    changes_after: None,
                }),
            },
        ] {
            assert_eq!(Token::parse(&token.encode()).unwrap(), token);
        }
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in ["", "s1", "s1.", "s1.-5", "s1.x", "s2.5", "s1.5.4.dm_x.-.-", "s1.5.9.nope.-.-", "s1.1.2.3"] {
            assert!(Token::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
