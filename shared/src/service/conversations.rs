//! Conversations: start (direct), list, get, delete, mark read.

use std::collections::HashMap;

use serde::Serialize;

use super::{fanout, Actor};
use crate::app::App;
use crate::clock::{iso, now_ms};
use crate::error::AppError;
use crate::events::{DeliveryReceipt, Event, ReadReceipt};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::models::{ConversationKind, Message, Person, User};
use crate::repo::{self, conversations::Conversation, conversations::Summary};

/// Resolves a participant given as a user id or a username: one `GetItem`, two for a username.
pub async fn resolve_user(app: &App, who: &str) -> Result<User, AppError> {
    let user = match UserId::parse(who) {
        Some(id) => repo::users::get(app.table(), &id).await?,
        None => repo::users::find_by_username(app.table(), who).await?,
    };
    user.ok_or_else(|| AppError::not_found("user"))
}

/// The direct conversation of two users, created if missing (exactly one per pair). The caller
/// must be one of them, unless an admin.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id))]
pub async fn start(app: &App, actor: &Actor, participants: &[String]) -> Result<(ConversationView, bool), AppError> {
    let [a, b] = participants else {
        return Err(AppError::field("participants", "exactly two users"));
    };
    let (a, b) = tokio::try_join!(resolve_user(app, a), resolve_user(app, b))?;
    if a.id == b.id {
        return Err(AppError::field("participants", "two different users"));
    }
    if ![&a.id, &b.id].contains(&&actor.user_id) && !actor.is_admin() {
        return Err(AppError::Forbidden("you must be one of the participants".into()));
    }
    // Refused while either user blocks the other, as a send would be (one `BatchGetItem`).
    let blocked = super::moderation::block_keys(&ConversationId::direct(&a.id, &b.id), &a.id);
    if !app.table().batch_get(&blocked).await?.is_empty() {
        return Err(super::moderation::send_refused());
    }
    let (conversation, created) = repo::conversations::start_direct(app.table(), &a.id, &b.id, &iso(now_ms())).await?;
    let members = HashMap::from([(a.id.clone(), a), (b.id.clone(), b)]);
    Ok((view(&conversation, &Summary::default(), &members, None), created))
}

/// A conversation as its members see it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: ConversationId,
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    pub name: Option<String>,
    pub members: Vec<MemberRef>,
    pub member_count: usize,
    pub last_message: Option<Message>,
    pub last_message_time: Option<String>,
    /// Messages sent so far.
    pub message_count: i64,
    pub created_at: String,
    /// The reader's unread messages, where they are a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_count: Option<i64>,
    /// Of those, the ones that mention the reader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_mentions: Option<i64>,
    /// Read-only, slow mode, message lifetime (`PATCH …/policy`); absent when not set.
    #[serde(flatten)]
    pub policy: repo::conversations::Policy,
}

/// A member in a conversation view: in full in a direct conversation, by id in a group (its own
/// route shows them in full), so listing conversations stays cheap however big the groups.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum MemberRef {
    Person(Person),
    Id(UserId),
}

/// The reader's membership: their read marker and mentions (their read position also counts
/// their own last message of a direct conversation: `Summary::read_seq_of`).
type Marker = repo::conversations::Membership;

pub fn view(c: &Conversation, s: &Summary, users: &HashMap<UserId, User>, mine: Option<&Marker>) -> ConversationView {
    let members = c
        .member_set
        .iter()
        .map(|id| match c.kind {
            ConversationKind::Direct => MemberRef::Person(Person::public(id, users.get(id))),
            _ => MemberRef::Id(id.clone()),
        })
        .collect();
    ConversationView {
        id: c.id.clone(),
        kind: c.kind,
        name: c.name.clone(),
        members,
        member_count: c.member_set.len(),
        last_message: s.last_message.clone(),
        last_message_time: s.last_message_time.clone(),
        message_count: s.seq,
        created_at: c.created_at.clone(),
        unread_count: mine.map(|m| s.unread(&m.user_id, m.read_seq)),
        unread_mentions: mine.map(|m| m.unread_mentions(s.read_seq_of(&m.user_id, m.read_seq))),
        policy: c.policy.clone(),
    }
}

/// Member or admin. A non-member gets the 404 of a conversation that does not exist (SPEC §7):
/// a direct conversation's id is derived from its two users, so a 403 would tell anyone who
/// talks to whom. Public channels excepted.
pub fn check_access(actor: &Actor, conversation: Option<&Conversation>) -> Result<(), AppError> {
    match conversation {
        Some(c) if c.is_member(&actor.user_id) || actor.is_admin() => Ok(()),
        Some(c) if c.kind == ConversationKind::Channel => Err(join_first()),
        _ => Err(AppError::not_found("conversation")),
    }
}

/// A public channel's existence is no secret: a non-member is told to join it.
fn join_first() -> AppError {
    AppError::Forbidden("join the channel first".into())
}

/// Members only. An admin, who may read every conversation (so its existence is no secret to
/// them), is told it is not theirs to write to; anyone else gets the 404 of a missing one.
pub fn check_member(actor: &Actor, conversation: Option<&Conversation>) -> Result<(), AppError> {
    match conversation {
        Some(c) if c.is_member(&actor.user_id) => Ok(()),
        Some(_) if actor.is_admin() => {
            Err(AppError::Forbidden("admins may read this conversation, not act in it".into()))
        }
        Some(c) if c.kind == ConversationKind::Channel => Err(join_first()),
        _ => Err(AppError::not_found("conversation")),
    }
}

/// My conversations, most recent activity first: one `Query` of my memberships, one
/// `BatchGetItem` per 50 conversations, one per 100 members shown.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id))]
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<ConversationView>, AppError> {
    list_of(app, actor, None).await
}

/// My conversations of one kind (`None`: all), as `list`. A direct conversation is told by its
/// id, so the other kind is never read.
pub async fn list_of(
    app: &App,
    actor: &Actor,
    kind: Option<ConversationKind>,
) -> Result<Vec<ConversationView>, AppError> {
    let memberships = repo::conversations::memberships_of(app.table(), &actor.user_id).await?;
    let wanted = |id: &ConversationId| kind.is_none_or(|k| (k == ConversationKind::Direct) == id.is_direct());
    let reads: HashMap<_, _> =
        memberships.iter().filter(|m| wanted(&m.conversation_id)).map(|m| (m.conversation_id.clone(), m)).collect();
    let ids: Vec<ConversationId> = reads.keys().cloned().collect();
    let mut loaded = repo::conversations::load_many(app.table(), &ids).await?;
    loaded.retain(|l| kind.is_none_or(|k| l.conversation.kind == k));
    views(app, loaded, |id| reads.get(id).copied()).await
}

/// Every conversation (admin), first 100 by id, most recent activity first: one GSI1 `Query`
/// (whole `META`s), then their summaries only.
pub async fn list_all(app: &App) -> Result<Vec<ConversationView>, AppError> {
    let (all, _) = repo::conversations::list_all(app.table(), None, crate::models::MAX_PAGE, None).await?;
    views(app, repo::conversations::with_summaries(app.table(), all).await?, |_| None).await
}

async fn views<'a>(
    app: &App,
    mut loaded: Vec<repo::conversations::Loaded>,
    read: impl Fn(&ConversationId) -> Option<&'a Marker>,
) -> Result<Vec<ConversationView>, AppError> {
    let mut members: Vec<UserId> = loaded
        .iter()
        .filter(|l| l.conversation.kind == ConversationKind::Direct)
        .flat_map(|l| l.conversation.member_set.iter().cloned())
        .collect();
    members.sort();
    members.dedup();
    // Without a direct conversation no member is shown in full: no read.
    let users: HashMap<_, _> = if members.is_empty() {
        HashMap::new()
    } else {
        repo::users::get_many(app.table(), &members).await?.into_iter().map(|u| (u.id.clone(), u)).collect()
    };
    let activity = |l: &repo::conversations::Loaded| {
        l.summary.last_message_time.clone().unwrap_or_else(|| l.conversation.created_at.clone())
    };
    loaded.sort_by_key(|l| std::cmp::Reverse(activity(l)));
    Ok(loaded.iter().map(|l| view(&l.conversation, &l.summary, &users, read(&l.conversation.id))).collect())
}

/// One `BatchGetItem` for the conversation, then its members and my read marker concurrently.
pub async fn get(app: &App, actor: &Actor, id: &ConversationId) -> Result<ConversationView, AppError> {
    let loaded = repo::conversations::load(app.table(), id).await?;
    check_access(actor, loaded.as_ref().map(|l| &l.conversation))?;
    let Some(l) = loaded else { return Err(AppError::not_found("conversation")) };
    let read = async {
        match l.conversation.is_member(&actor.user_id) {
            true => my_marker(app, actor, id).await.map(Some),
            false => Ok(None),
        }
    };
    let (members, read) = tokio::try_join!(repo::users::get_many(app.table(), &l.conversation.member_set), read)?;
    let users: HashMap<_, _> = members.into_iter().map(|u| (u.id.clone(), u)).collect();
    Ok(view(&l.conversation, &l.summary, &users, read.as_ref()))
}

async fn my_marker(app: &App, actor: &Actor, id: &ConversationId) -> Result<Marker, AppError> {
    let item = app.table().get(&repo::keys::membership(&actor.user_id, id), false).await?;
    let membership: Option<repo::conversations::Membership> = item.map(repo::from_item).transpose()?;
    Ok(membership.unwrap_or_else(|| Marker {
        conversation_id: id.clone(),
        user_id: actor.user_id.clone(),
        read_seq: 0,
        joined_at: String::new(),
        mention_set: vec![],
    }))
}

/// Admin only.
pub async fn delete(app: &App, actor: &Actor, id: &ConversationId) -> Result<(), AppError> {
    if !actor.is_admin() {
        return Err(AppError::Forbidden("only an admin may delete a conversation".into()));
    }
    let c = repo::conversations::get(app.table(), id).await?.ok_or_else(|| AppError::not_found("conversation"))?;
    let files = repo::conversations::delete(app.table(), &c).await?;
    super::uploads::delete_files(app, &files).await;
    Ok(())
}

/// Marks the conversation read up to `up_to` (default: everything), tells the reader's devices
/// (`messagesMarkedRead`) and the other members (`messagesRead`). Members only.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, conversation = %id))]
pub async fn mark_read(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
    up_to: Option<&MessageId>,
) -> Result<ReadReceipt, AppError> {
    let (l, seq) = marker_target(app, actor, id, up_to).await?;
    repo::conversations::mark_read(app.table(), &actor.user_id, id, seq).await?;
    let receipt = ReadReceipt {
        conversation_id: id.clone(),
        user_id: actor.user_id.clone(),
        up_to_message_id: up_to.cloned(),
        read_seq: seq,
        unread_count: l.summary.unread(&actor.user_id, seq),
        read_at: iso(now_ms()),
    };
    // `messagesMarkedRead` to the reader's devices, `messagesRead` to the other members: one
    // presence read for both.
    let (mine, others) = fanout::connections_unblocked(app, &l.conversation.member_set, &actor.user_id)
        .await?
        .split(|u| *u == actor.user_id);
    let (marked, read) = (Event::MessagesMarkedRead(receipt.clone()), Event::MessagesRead(receipt.clone()));
    fanout::push_all(app, vec![(mine, &marked), (others, &read)]).await;
    Ok(receipt)
}

/// A marker's `upToMessageId`, when given: a message id (400 otherwise).
pub fn parse_up_to(up_to: Option<&str>) -> Result<Option<MessageId>, AppError> {
    up_to.map(|m| MessageId::parse(m).ok_or_else(|| AppError::field("upToMessageId", "not a message id"))).transpose()
}

/// What a read or delivery marker moves to: the conversation (members only) and the `seq` of
/// `up_to` (default: the last message), read concurrently.
async fn marker_target(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
    up_to: Option<&MessageId>,
) -> Result<(repo::conversations::Loaded, i64), AppError> {
    let message = async {
        match up_to {
            Some(m) => repo::messages::get(app.table(), id, m).await,
            None => Ok(None),
        }
    };
    let (loaded, message) = tokio::try_join!(repo::conversations::load(app.table(), id), message)?;
    check_member(actor, loaded.as_ref().map(|l| &l.conversation))?;
    let Some(l) = loaded else { return Err(AppError::not_found("conversation")) };
    let seq = match (up_to, message) {
        (Some(_), None) => return Err(AppError::not_found("message")),
        (Some(_), Some(m)) => m.seq,
        (None, _) => l.summary.seq,
    };
    Ok((l, seq))
}

/// Records that the caller's devices received the conversation's messages up to `up_to`
/// (default: all): one conditional write per acknowledged batch, never one per message; when
/// the marker moved, `messagesDelivered` goes to the other members. Members only.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, conversation = %id))]
pub async fn mark_delivered(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
    up_to: Option<&MessageId>,
) -> Result<(), AppError> {
    let (l, seq) = marker_target(app, actor, id, up_to).await?;
    delivered(app, actor, &l.conversation, seq).await
}

/// Advances the delivery marker to `seq` and, when it moved, tells the other members.
pub async fn delivered(app: &App, actor: &Actor, c: &Conversation, seq: i64) -> Result<(), AppError> {
    if seq <= 0 || !repo::conversations::mark_delivered(app.table(), &actor.user_id, &c.id, seq).await? {
        return Ok(());
    }
    let receipt = DeliveryReceipt {
        conversation_id: c.id.clone(),
        user_id: actor.user_id.clone(),
        delivered_seq: seq,
        delivered_at: iso(now_ms()),
    };
    fanout::to_members_from(app, c, &actor.user_id, Some(&actor.user_id), &Event::MessagesDelivered(receipt)).await
}
