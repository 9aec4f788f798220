//! Sending (every form), reading and deleting messages.

use std::future::Future;
use std::time::Duration;

use super::fanout::{self, Connections};
use super::{conversations::check_access, conversations::check_member, notifications, Actor};
use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::events::{Event, MessageAck, MessageDeleted, MessageEdited, MessagePush, ReactionChange, Sender};
use crate::ids::{ConnectionId, ConversationId, MessageId, UserId};
use crate::metrics::Metric;
use crate::models::DEFAULT_PAGE;
use crate::models::{parse_limit, ConversationKind, Message, MessageText, NotificationKind, Status, User, Username};
use crate::reactions::{self, Reaction};
use crate::repo::connections::Presence;
use crate::repo::conversations::Conversation;
use crate::repo::notifications::{MessageNote, NotificationData};
use crate::repo::{self, conversations, keys, messages as msgs};
use crate::store::{StoreError, WriteOp};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Conversation(ConversationId),
    /// The direct conversation with this user (created on the first message).
    User(UserId),
    /// The same, the user named by username as seed 000 does (`"receiver": "bob"`). Resolved
    /// by the service (`locate`), after the token is verified, for every send and read form.
    Username(Username),
}

impl Target {
    /// A user id, a conversation id or a username; anything else is a 400. Ids are tried first
    /// (no username can be shaped like an id: `Username::parse`).
    pub fn parse(s: &str) -> Result<Self, AppError> {
        if let Some(user) = UserId::parse(s) {
            return Ok(Self::User(user));
        }
        if let Some(conversation) = ConversationId::parse(s) {
            return Ok(Self::Conversation(conversation));
        }
        // Shaped like a direct conversation but not one any pair has (its users out of order,
        // or one user twice): no such conversation, as the contract's pattern admits it.
        if ConversationId::is_direct_shaped(s) {
            return Err(AppError::not_found("conversation"));
        }
        Username::parse(s)
            .map(Self::Username)
            .map_err(|_| AppError::field("receiver", "not a user id, username or conversation id"))
    }

    /// The conversation this target names for `me`, and the other user when it is a direct one
    /// named by its user; `None` when no user has that username (a name costs one `GetItem`,
    /// its lock, before the rest: one more sequential round trip than an id).
    async fn locate(&self, app: &App, me: &UserId) -> Result<Option<(ConversationId, Option<UserId>)>, AppError> {
        let user = match self {
            Self::Conversation(c) => return Ok(Some((c.clone(), None))),
            Self::User(u) => u.clone(),
            Self::Username(name) => match repo::users::id_by_username(app.table(), name).await? {
                Some(id) => id,
                None => return Ok(None),
            },
        };
        Ok(Some((ConversationId::direct(me, &user), Some(user))))
    }
}

/// Whether `claimed` (a request's `sender`/`senderId`) names `user`: by id, or by username as
/// seed 000 does (case-insensitive, as usernames are unique).
pub fn names_user(claimed: &str, user: &User) -> bool {
    claimed == user.id.as_str() || claimed.eq_ignore_ascii_case(&user.username)
}

#[derive(Debug)]
pub struct Outgoing {
    pub target: Target,
    pub text: MessageText,
    pub client_message_id: Option<String>,
    /// Users mentioned by id beside the text's `@username`s.
    pub mentions: Vec<UserId>,
    /// A reply: the message it answers (a reply to a reply answers its root).
    pub parent: Option<MessageId>,
    /// A reply shown in the main history too.
    pub also_in_conversation: bool,
    /// Uploads to attach (`service::uploads`).
    pub attachments: Vec<crate::ids::UploadId>,
}

impl Outgoing {
    /// A message to `target`: its text and its optional `clientMessageId`, parsed.
    pub fn parse(target: Target, text: &str, client_message_id: Option<String>) -> Result<Self, AppError> {
        Ok(Self {
            target,
            text: MessageText::parse(text)?,
            client_message_id: parse_client_message_id(client_message_id)?,
            mentions: vec![],
            parent: None,
            also_in_conversation: false,
            attachments: vec![],
        })
    }

    /// A thread reply (`parentId`, `alsoInConversation`): a malformed id is a 400.
    /// `alsoInConversation` means something for a reply only: a message that answers nothing
    /// is in the main history anyway.
    pub fn replying(mut self, parent_id: Option<String>, also_in_conversation: Option<bool>) -> Result<Self, AppError> {
        self.parent = parent_id
            .map(|p| MessageId::parse(&p).ok_or_else(|| AppError::field("parentId", "not a message id")))
            .transpose()?;
        self.also_in_conversation = self.parent.is_some() && also_in_conversation.unwrap_or(false);
        Ok(self)
    }

    /// With files (`attachments: [uploadId]`): at most the configured number per message.
    pub fn attaching(mut self, app: &App, ids: Option<Vec<String>>) -> Result<Self, AppError> {
        self.attachments = super::uploads::parse_ids(app.config.uploads.per_message, ids)?;
        Ok(self)
    }

    /// With users mentioned by id (`mentions: [ids]`): at most `mentions::MAX_MENTIONS`.
    pub fn mentioning(mut self, ids: Option<Vec<String>>) -> Result<Self, AppError> {
        let ids = ids.unwrap_or_default();
        if ids.len() > crate::mentions::MAX_MENTIONS {
            return Err(AppError::field("mentions", format!("at most {} users", crate::mentions::MAX_MENTIONS)));
        }
        self.mentions = ids
            .iter()
            .map(|s| UserId::parse(s).ok_or_else(|| AppError::field("mentions", "not user ids")))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }
}

/// The longest `clientMessageId`, in characters.
pub const CLIENT_MESSAGE_ID_MAX: usize = 64;

/// Parses a `clientMessageId`: 1..=64 printable characters.
fn parse_client_message_id(s: Option<String>) -> Result<Option<String>, AppError> {
    match s {
        Some(id) if id.is_empty() || id.chars().count() > CLIENT_MESSAGE_ID_MAX || id.chars().any(char::is_control) => {
            Err(AppError::field("clientMessageId", "1 to 64 printable characters"))
        }
        other => Ok(other),
    }
}

/// The schemas of a send's hand-parsed fields (types for `#[schemars(with = …)]`).
pub mod schema {
    /// `clientMessageId`.
    pub struct ClientMessageId;

    /// A `Target`: a user id, a conversation id or a username.
    pub struct TargetRef;

    /// `mentions`: user ids, at most `mentions::MAX_MENTIONS`.
    pub struct Mentions;
}

#[cfg(feature = "schema")]
mod schema_impls {
    use std::borrow::Cow;

    use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

    use super::schema::{ClientMessageId, Mentions, TargetRef};
    use super::CLIENT_MESSAGE_ID_MAX;
    use crate::ids::{ConversationId, UserId};
    use crate::models::Username;

    impl JsonSchema for ClientMessageId {
        fn schema_name() -> Cow<'static, str> {
            "ClientMessageId".into()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            let controls: String =
                crate::text::CONTROL.iter().map(|(lo, hi)| format!("\\u{lo:04X}-\\u{hi:04X}")).collect();
            json_schema!({
                "type": "string",
                "minLength": 1,
                "maxLength": CLIENT_MESSAGE_ID_MAX,
                "pattern": format!("^[^{controls}]+$"),
                "description": "The client's idempotency key: a retry with the same target and text answers the stored message (200) and stores nothing; a reuse for another conversation or text is 409.",
            })
        }
    }

    impl JsonSchema for Mentions {
        fn schema_name() -> Cow<'static, str> {
            "Mentions".into()
        }
        fn json_schema(g: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "type": "array",
                "items": g.subschema_for::<UserId>(),
                "maxItems": crate::mentions::MAX_MENTIONS,
                "description": "Users mentioned by id, beside the text's `@username`s; those not members of the conversation (and the sender) are ignored.",
            })
        }
    }

    impl JsonSchema for TargetRef {
        fn schema_name() -> Cow<'static, str> {
            "Target".into()
        }
        fn json_schema(g: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "anyOf": [g.subschema_for::<UserId>(), g.subschema_for::<ConversationId>(), g.subschema_for::<Username>()],
                "description": "A user (id or username: the direct conversation with them, started by the first message) or a conversation id.",
            })
        }
    }
}

/// What a send did.
#[derive(Debug)]
pub enum SendOutcome {
    /// Stored now, and pushed.
    New(Message),
    /// A retry of a `clientMessageId` already stored: that message, pushed to nobody.
    Existing(Message),
}

impl SendOutcome {
    pub fn message(&self) -> &Message {
        match self {
            Self::New(m) | Self::Existing(m) => m,
        }
    }

    pub fn into_message(self) -> Message {
        match self {
            Self::New(m) | Self::Existing(m) => m,
        }
    }

    pub fn is_existing(&self) -> bool {
        matches!(self, Self::Existing(_))
    }
}

/// Attempts of one send: it runs again only when another attempt of its `clientMessageId`, or the
/// other side's first message creating the direct conversation, got there first.
const SEND_ATTEMPTS: u32 = 16;

/// Stores a message durably, then pushes it (SPEC §5). `authenticate` runs concurrently with
/// the first read, so a send costs three sequential round trips before the fan-out, none a
/// transaction on the conversation's summary (a hot conversation never refuses a send): one
/// `BatchGetItem` (conversation, summary, idempotency key, receiver); the `seq` reserved
/// (`UpdateItem ADD`) ‖ the idempotency key claimed (`PutItem`, with a `clientMessageId`);
/// the message (`PutItem`). The summary's last message and the sender's read marker are
/// written alongside the fan-out's lookups, before any push (`deliver`). A receiver named by
/// username first costs its lookup (`Target::locate`).
///
/// A retry with the same `clientMessageId` returns the stored message and pushes nothing; after
/// a fault between any two writes of its first attempt, it completes that message (same id).
/// `origin` is the sending WebSocket connection, which gets `messageReceived`.
#[tracing::instrument(skip_all, fields(sender = %sender.user_id))]
pub async fn send<A>(
    app: &App,
    sender: &Actor,
    authenticate: A,
    out: Outgoing,
    origin: Option<&ConnectionId>,
) -> Result<SendOutcome, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    // Moderation before any write (`policy`): the word filter's one text transform, and the
    // sender's flood counter alongside the first read. Its refusal waits for that read: a retry
    // of a `clientMessageId` already used gets its message, never a 429.
    let out = Outgoing { text: super::policy::filter_text(app, out.text)?, ..out };
    let authenticate = async {
        let (authenticated, counted) = tokio::join!(authenticate, super::policy::count_send(app, &sender.user_id));
        authenticated.map(|()| counted.err())
    };
    let (conversation_id, receiver) =
        out.target.locate(app, &sender.user_id).await?.ok_or_else(|| AppError::not_found("user"))?;
    if receiver.as_ref() == Some(&sender.user_id) {
        // Well-formed, and refused by rule (no conversation with oneself): 403, not 400.
        return Err(AppError::Forbidden("cannot message yourself".into()));
    }
    let idem_key = out.client_message_id.as_ref().map(|c| keys::idempotency(&sender.user_id, c));
    let receiver_key = receiver.as_ref().map(keys::user);
    // `@username`s are resolved from their locks, read in the same batch.
    let name_keys: Vec<_> = crate::mentions::names_in(out.text.as_str()).iter().map(|n| keys::username(n)).collect();
    // A reply's parent is read in the same batch: every message (thread replies too) is stored
    // in its conversation's partition, so one missing there is not the caller's to answer.
    let parent_key = out.parent.as_ref().map(|p| keys::message(&conversation_id, p));
    let mut keys: Vec<_> = conversations::load_keys(&conversation_id).into();
    keys.extend(idem_key.iter().cloned().chain(receiver_key.iter().cloned()).chain(name_keys.iter().cloned()));
    keys.extend(parent_key.iter().cloned());
    keys.extend(super::uploads::keys(&out.attachments));
    // A direct conversation takes no message while either user blocks the other: both block
    // items join this batch (no extra round trip).
    let block_keys = super::moderation::block_keys(&conversation_id, &sender.user_id);
    keys.extend(block_keys.iter().cloned());
    // Checked once (their objects too), then claimed by each attempt's transaction.
    let mut uploads: Option<Vec<crate::repo::uploads::Upload>> = None;

    // The name a send's reservation of its `seq` goes by (`msgs::reserve`). Every attempt of
    // one `clientMessageId` reserves under one name (a retry whose first attempt's claim never
    // landed still takes its `seq` back); the day in it keeps a key reused after its record
    // expired (24 h) from taking back a `seq` already used.
    let tag = |id: &MessageId| match &idem_key {
        Some(k) => format!("{}#{}#{}", k.pk, k.sk, now_secs() / 86_400),
        None => id.to_string(),
    };
    let mut authenticate = Some(authenticate);
    // The id a retry completes: its first attempt claimed the `clientMessageId` for it, then
    // stopped before storing the message.
    let mut planned: Option<MessageId> = None;
    for attempt in 0..SEND_ATTEMPTS {
        let read = app.table().batch_get(&keys);
        let (flooded, items) = match authenticate.take() {
            Some(auth) => tokio::try_join!(auth, async { read.await.map_err(AppError::from) })?,
            None => (None, read.await?),
        };
        let loaded = conversations::from_items(&items, &conversation_id)?;
        let idem = idem_key.as_ref().and_then(|k| repo::pick(&items, k));
        if let Some(refused) = flooded.filter(|_| idem.is_none()) {
            return Err(refused);
        }
        if let Some(idem) = idem {
            match msgs::replay(app.table(), &idem, &conversation_id, out.text.as_str()).await? {
                msgs::Replayed::Stored(mut stored) => {
                    // Its first attempt may have stopped before counting it (a direct
                    // conversation's send counts after its put: `msgs::count`) or before making
                    // it the last message. Decided on the summary read again, consistently.
                    if loaded.is_some() {
                        let summary = app.table().get(&keys::summary(&conversation_id), true).await?;
                        let summary = summary.map(conversations::Summary::from_item).transpose()?.unwrap_or_default();
                        let direct = conversation_id.is_direct();
                        if direct && summary.seq < stored.seq {
                            stored.seq = msgs::count(app.table(), &stored, &tag(&stored.id), direct).await?.0;
                        } else if summary.last_seq < stored.seq {
                            msgs::publish(app.table(), &stored, direct).await?;
                        }
                    }
                    return Ok(SendOutcome::Existing(*stored));
                }
                msgs::Replayed::Unfinished(id) => planned = Some(id),
            }
        }
        let creating = loaded.is_none();
        match (&loaded, &receiver_key) {
            (Some(l), _) => {
                check_member(sender, Some(&l.conversation))?;
                if attempt == 0 {
                    // Read-only and slow mode: once, before the first write.
                    super::policy::admit_send(app, sender, &l.conversation).await?;
                }
            }
            (None, Some(k)) if repo::pick(&items, k).is_some() => {}
            (None, Some(_)) => return Err(AppError::not_found("user")),
            (None, None) => return Err(AppError::not_found("conversation")),
        }
        if block_keys.iter().any(|k| repo::pick(&items, k).is_some()) {
            return Err(super::moderation::send_refused());
        }
        let root = match &parent_key {
            None => None,
            Some(k) => match repo::pick(&items, k).filter(msgs::live).map(msgs::read).transpose()? {
                Some(parent) if !parent.deleted => Some(parent.parent_id.unwrap_or(parent.id)),
                _ => return Err(AppError::not_found("message")),
            },
        };
        if uploads.is_none() {
            uploads = Some(super::uploads::resolve(app, sender, &conversation_id, &out.attachments, &items).await?);
        }
        let attachments: Vec<_> = uploads.iter().flatten().map(|u| u.attachment()).collect();
        let members: Vec<&UserId> = match (&loaded, &receiver) {
            (Some(l), _) => l.conversation.member_set.iter().collect(),
            (None, Some(r)) => vec![r],
            (None, None) => vec![],
        };
        let named = name_keys
            .iter()
            .filter_map(|k| repo::pick(&items, k))
            .filter_map(|lock| repo::string_field(&lock, "userId").and_then(|s| UserId::parse(&s)));
        let mut mentions: Vec<UserId> = Vec::new();
        for u in out.mentions.iter().cloned().chain(named) {
            if members.contains(&&u) && u != sender.user_id && !mentions.contains(&u) {
                mentions.push(u);
            }
        }
        let now = now_ms();
        let mut message = Message {
            id: planned.clone().unwrap_or_else(|| MessageId::generate(&conversation_id)),
            conversation_id: conversation_id.clone(),
            sender_id: sender.user_id.clone(),
            text: out.text.as_str().to_owned(),
            seq: 0,
            created_at: iso(now),
            client_message_id: out.client_message_id.clone(),
            deleted: false,
            edited_at: None,
            reactions: vec![],
            mentions,
            also_in_conversation: out.also_in_conversation && root.is_some(),
            parent_id: root.clone(),
            reply_count: 0,
            last_reply_at: None,
            repliers: vec![],
            attachments,
            expires_at: super::policy::expires_at(app, loaded.as_ref().map(|l| &l.conversation.policy), now),
            sender_blocked: false,
        };
        // Checks done; the writes, each a single item and none a transaction on the summary.
        // A group or channel: the `seq` reserved ‖ the `clientMessageId` claimed (write-ahead),
        // then the message, then (`deliver`) the summary's last message ‖ the sender's read
        // marker. A direct conversation, where two senders seldom meet on the summary: the
        // claim, then the message at the `seq` after the count read, then (`deliver`) one
        // update that counts it and makes it the last message with the sender's position
        // (`msgs::count`; when the other side counted first, as a group's). A retry after a
        // fault between any two writes completes the same message (`planned`), never a second.
        let direct = conversation_id.is_direct();
        let claim = match (&out.client_message_id, &planned) {
            (Some(c), None) => Some(msgs::idempotency_item(&message, c, now_secs())?),
            _ => None,
        };
        let claimed = async {
            match claim {
                Some(item) => msgs::claim(app.table(), item).await,
                None => Ok(true),
            }
        };
        let reservation = tag(&message.id);
        let (seq, claimed) = match direct {
            true => (loaded.as_ref().map_or(0, |l| l.summary.seq) + 1, claimed.await?),
            false => tokio::try_join!(msgs::reserve(app.table(), &conversation_id, &reservation), claimed)?,
        };
        if !claimed {
            // Another attempt of this `clientMessageId` got there first: answer as its retry.
            continue;
        }
        message.seq = seq;
        // Written with the message, in one transaction when there are any: a reply's root
        // counters, a new direct conversation, upload claims (items of this send alone).
        let mut ops = vec![msgs::message_op(&message)?];
        let root_op = match &root {
            Some(r) => {
                let at = ops.len();
                ops.extend(msgs::reply_ops(&message, r)?);
                Some(at)
            }
            None => None,
        };
        let mut conversation = loaded.map(|l| l.conversation);
        if let Some(receiver) = &receiver {
            if creating {
                let (c, create) = conversations::create_direct_ops(
                    &sender.user_id,
                    receiver,
                    &message.created_at,
                    Some((&sender.user_id, message.seq)),
                )?;
                ops.extend(create);
                conversation = Some(c);
            }
        }
        let claims = ops.len();
        ops.extend(message.attachments.iter().map(|a| crate::repo::uploads::claim_op(&a.id, &message.id)));
        let written = match ops.as_slice() {
            // The common send: one `PutItem`, no transaction.
            [WriteOp::Put { item, cond }] => app.table().put(item.clone(), cond.clone()).await.map_err(|e| match e {
                StoreError::ConditionFailed => StoreError::TransactionCancelled { failed: vec![0] },
                e => e,
            }),
            _ => app.table().transact(ops).await,
        };
        match written {
            Ok(()) => {
                if let Some(c) = &conversation {
                    let count = direct.then(|| tag(&message.id));
                    message = deliver(app, sender, c, message, origin, !creating, count).await?;
                }
                return Ok(SendOutcome::New(message));
            }
            Err(StoreError::TransactionCancelled { failed }) => {
                if failed.contains(&0) {
                    if out.client_message_id.is_some() {
                        // A concurrent attempt of this `clientMessageId` stored it: its retry.
                        continue;
                    }
                    // Our own put, retried by the SDK after its answer was lost: stored.
                    if let Some(c) = &conversation {
                        let count = direct.then(|| tag(&message.id));
                        message = deliver(app, sender, c, message, origin, !creating, count).await?;
                    }
                    return Ok(SendOutcome::New(message));
                }
                if root_op.is_some_and(|i| failed.contains(&i)) {
                    // The thread's root was deleted meanwhile.
                    return Err(AppError::not_found("message"));
                }
                if failed.iter().any(|i| *i >= claims) {
                    return Err(AppError::Conflict("an upload is already attached to a message".into()));
                }
                // The direct conversation was created concurrently (by the other side): again,
                // as a send to it, under the same id.
                tracing::debug!(attempt, ?failed, "send raced; retrying");
                planned = Some(message.id.clone());
                let jitter = u64::from(message.id.as_str().as_bytes().last().copied().unwrap_or(0) % 16);
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt + 1) + jitter)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the conversation is too busy; retry".into()))
}

/// A stored message goes out: `messageReceived` to the sending connection, `chatMessage` to
/// every other connection of every member (busy members excepted: they fetch it later), and
/// `newMessage` to the admin room. Costs one `BatchGetItem` per 100 members and one `Query`,
/// concurrently; push failures never fail the send. In a direct conversation, a recipient who is
/// busy or not connected also gets a stored `message` notification (one `PutItem`).
///
/// Before any push, concurrently with the fan-out's lookups: the message counted, when `count`
/// names the send's reservation (a direct conversation's send: `msgs::count`, which may give
/// it another `seq`: the message returned is the one pushed), and made the conversation's last
/// one (`msgs::publish`); when `marker`, the sender's read position moved to it — in a direct
/// conversation by that same update (no marker write), else (or when a newer message was
/// published first) by their read marker. A send with a `clientMessageId` fails (nothing
/// pushed) when that update does: its retry completes it; without one the send stands (a
/// retry would duplicate it).
async fn deliver(
    app: &App,
    sender: &Actor,
    c: &Conversation,
    mut m: Message,
    origin: Option<&ConnectionId>,
    marker: bool,
    count: Option<String>,
) -> Result<Message, AppError> {
    let direct = c.kind == ConversationKind::Direct;
    let mark = |seq: i64| async move {
        if let Err(e) = conversations::mark_read(app.table(), &sender.user_id, &c.id, seq).await {
            tracing::warn!(error = %e, "could not move the sender's read marker");
        }
    };
    let finish = async {
        let m = &m;
        let published = async {
            let published = match &count {
                Some(tag) => msgs::count(app.table(), m, tag, direct).await,
                None => msgs::publish(app.table(), m, direct).await.map(|own| (m.seq, own)),
            };
            if direct && marker && !matches!(published, Ok((_, true))) {
                mark(published.as_ref().map_or(m.seq, |(seq, _)| *seq)).await;
            }
            published
        };
        let group_marker = async {
            if marker && !direct {
                mark(m.seq).await;
            }
        };
        let (published, ()) = tokio::join!(published, group_marker);
        match published {
            Err(e) if m.client_message_id.is_some() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "message stored, not counted or not made the last message");
                Ok(m.seq)
            }
            Ok((seq, _)) => Ok(seq),
        }
    };
    let (presences, admins, finished) =
        tokio::join!(repo::connections::presences(app.table(), &c.member_set), fanout::admins(app), finish);
    m.seq = finished?;
    let m = &m;
    crate::metrics::add(
        match c.kind {
            ConversationKind::Direct => Metric::MessagesSentDirect,
            ConversationKind::Group => Metric::MessagesSentGroup,
            ConversationKind::Channel => Metric::MessagesSentChannel,
        },
        1,
    );
    let push = MessagePush {
        message: m.clone(),
        sender: Sender { id: sender.user_id.clone(), username: sender.username.clone() },
        conversation_type: c.kind,
    };
    let ack = Event::MessageReceived(MessageAck::new(m.clone(), false));
    let (chat, new_message) = (Event::ChatMessage(push.clone()), Event::NewMessage(push));
    let mut batches = Vec::new();
    if let Some(origin) = origin {
        batches.push((Connections::one(origin, &sender.user_id), &ack));
    }
    let mut absent = Vec::new();
    // Members who blocked the sender: no live message, mention or notification of theirs.
    let mut blockers: Vec<UserId> = Vec::new();
    match presences {
        Ok(presences) => {
            if c.kind == ConversationKind::Direct {
                absent = absent_members(sender, c, &presences);
            }
            let (blocking, others): (Vec<Presence>, Vec<Presence>) =
                presences.into_iter().partition(|p| p.block_set.contains(&sender.user_id));
            blockers = blocking.into_iter().filter_map(|p| p.user_id).collect();
            absent.retain(|u| !blockers.contains(u));
            batches.push((Connections::of(others, Some(&sender.user_id)).without(origin), &chat));
        }
        Err(e) => tracing::warn!(error = %e, "fan-out lookup failed; message stored, not pushed"),
    }
    match admins {
        Ok(admins) => batches.push((admins, &new_message)),
        Err(e) => tracing::warn!(error = %e, "admin room lookup failed"),
    }
    tokio::join!(
        notify_absent(app, sender, c, m, &absent),
        fanout::push_all(app, batches),
        notify_mentioned(app, sender, c, m, &blockers)
    );
    Ok(m.clone())
}

/// Each mentioned member: the mention recorded on their membership (unread mentions) and a
/// `mention` notification, stored and pushed even when they are busy.
async fn notify_mentioned(app: &App, sender: &Actor, c: &Conversation, m: &Message, blockers: &[UserId]) {
    let each = m.mentions.iter().filter(|u| !blockers.contains(u)).map(|user| async move {
        let data = NotificationData::Message(MessageNote {
            conversation_id: c.id.clone(),
            message_id: m.id.clone(),
            sender_id: sender.user_id.clone(),
        });
        let text = format!("{} mentioned you", sender.username);
        let (marked, notified) = tokio::join!(
            conversations::add_mention(app.table(), user, &c.id, m.seq),
            notifications::notify(app, user, NotificationKind::Mention, &text, data, true),
        );
        if let Err(e) = marked.and(notified.map(drop)) {
            tracing::warn!(error = %e, "could not record a mention");
        }
    });
    futures::future::join_all(each).await;
}

/// The members other than the sender who will not see a message live: busy or not connected.
fn absent_members<'a>(sender: &Actor, c: &'a Conversation, presences: &[Presence]) -> Vec<&'a UserId> {
    c.member_set
        .iter()
        .filter(|u| **u != sender.user_id)
        .filter(|u| {
            let p = presences.iter().find(|p| p.user_id.as_ref() == Some(*u));
            p.is_none_or(|p| p.conn_set.is_empty() || p.status == Status::Busy)
        })
        .collect()
}

/// The recipient of a direct message who will not see it live gets a notification.
async fn notify_absent(app: &App, sender: &Actor, c: &Conversation, m: &Message, absent: &[&UserId]) {
    for user in absent {
        let data = NotificationData::Message(MessageNote {
            conversation_id: c.id.clone(),
            message_id: m.id.clone(),
            sender_id: sender.user_id.clone(),
        });
        let text = format!("New message from {}", sender.username);
        if let Err(e) = notifications::notify(app, user, NotificationKind::Message, &text, data, false).await {
            tracing::warn!(error = %e, "could not store a message notification");
        }
    }
}

#[derive(Debug, Default)]
pub struct PageRequest {
    pub before: Option<MessageId>,
    pub after: Option<MessageId>,
    pub limit: Option<u32>,
}

impl PageRequest {
    pub fn parse(before: Option<&str>, after: Option<&str>, limit: Option<&str>) -> Result<Self, AppError> {
        let id = |field: &str, v: Option<&str>| -> Result<Option<MessageId>, AppError> {
            v.map(|s| MessageId::parse(s).ok_or_else(|| AppError::field(field, "not a message id"))).transpose()
        };
        Ok(Self { before: id("before", before)?, after: id("after", after)?, limit: parse_limit(limit)? })
    }
}

/// Messages of a conversation (or of the direct conversation with user `id`), oldest first,
/// with a cursor. Members and admins. One `GetItem` and one `Query`, concurrently (after the
/// lookup of a user named by username).
#[tracing::instrument(skip_all, fields(actor = %actor.user_id))]
pub async fn list(
    app: &App,
    actor: &Actor,
    target: &Target,
    page: &PageRequest,
) -> Result<(Vec<Message>, Option<String>), AppError> {
    // No user of that name: the 404 of a conversation that does not exist.
    let Some((conversation_id, other)) = target.locate(app, &actor.user_id).await? else {
        return Err(AppError::not_found("conversation"));
    };
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    // The reader's presence names the users they blocked: their messages come marked.
    let (conversation, messages, me) = tokio::try_join!(
        conversations::get(app.table(), &conversation_id),
        msgs::page(app.table(), &conversation_id, page.before.as_ref(), page.after.as_ref(), limit),
        repo::connections::presence(app.table(), &actor.user_id),
    )?;
    if conversation.is_none() {
        if let Some(u) = &other {
            // No conversation with an existing user yet: nothing to show.
            if *u != actor.user_id && repo::users::get(app.table(), u).await?.is_some() {
                return Ok((vec![], None));
            }
        }
    }
    check_access(actor, conversation.as_ref())?;
    let (mut items, next) = messages;
    for m in items.iter_mut() {
        m.sender_blocked = me.block_set.contains(&m.sender_id);
    }
    // A member fetching the newest messages has them delivered (one conditional write).
    let newest = items.iter().map(|m| m.seq).max().filter(|_| page.before.is_none());
    let delivered = async {
        match (&conversation, newest) {
            (Some(c), Some(seq)) if c.is_member(&actor.user_id) => {
                super::conversations::delivered(app, actor, c, seq).await
            }
            _ => Ok(()),
        }
    };
    tokio::try_join!(msgs::mark_mine(app.table(), &mut items, &actor.user_id), delivered)?;
    Ok((items, next))
}

/// The sender, the conversation's admins, or an admin: tombstones it and pushes `messageDeleted`.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, message = %id))]
pub async fn delete(app: &App, actor: &Actor, id: &MessageId) -> Result<MessageDeleted, AppError> {
    let message = msgs::find(app.table(), id).await?.ok_or_else(|| AppError::not_found("message"))?;
    let conversations::Loaded { conversation, summary, .. } =
        conversations::load(app.table(), &message.conversation_id)
            .await?
            .ok_or_else(|| AppError::not_found("message"))?;
    let allowed = message.sender_id == actor.user_id || conversation.is_admin(&actor.user_id) || actor.is_admin();
    if !allowed {
        return Err(if conversation.is_member(&actor.user_id) {
            AppError::Forbidden("only the sender or an admin may delete this message".into())
        } else {
            AppError::not_found("message")
        });
    }
    // Also when already deleted but its text lingers in the summary (written before the fix).
    let lingering = summary.last_message.as_ref().is_some_and(|l| l.id == message.id && !l.text.is_empty());
    if !message.deleted || lingering {
        let stamp = repo::changes::Stamp::now(app.config.sync_retention_days);
        msgs::tombstone(app.table(), &message, summary.last_seq, &actor.user_id, stamp).await?;
    }
    let deleted = MessageDeleted {
        message_id: message.id,
        conversation_id: message.conversation_id,
        deleted_by: actor.user_id.clone(),
    };
    let event = Event::MessageDeleted(deleted.clone());
    let files = super::uploads::delete_files(app, &message.attachments);
    let (pushed, ()) = tokio::join!(fanout::to_members(app, &conversation, None, &event), files);
    pushed?;
    Ok(deleted)
}

/// Rewrites a message's text: its sender only, while a member (admins may delete, not
/// rewrite). `authenticate` runs concurrently with the message's lookup, so an edit of the
/// conversation's last message costs two sequential round trips before the fan-out (GSI1
/// `Query` ‖ session; `TransactWriteItems` ‖ the conversation for the fan-out), see
/// `msgs::edit`. A deleted or unknown message, or one of a conversation the caller cannot
/// read, is 404 alike; the same text again changes nothing and pushes nothing.
#[tracing::instrument(skip_all, fields(editor = %actor.user_id, message = %id))]
pub async fn edit<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    id: &MessageId,
    text: MessageText,
) -> Result<Message, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let text = super::policy::filter_text(app, text)?;
    let (_, found) = tokio::try_join!(authenticate, msgs::find(app.table(), id))?;
    let message = found.filter(|m| !m.deleted).ok_or_else(|| AppError::not_found("message"))?;
    if message.sender_id != actor.user_id {
        // A member (or an admin, who may read everything) learns it is not theirs; anyone else,
        // that there is nothing to see.
        let conversation = conversations::get(app.table(), &message.conversation_id).await?;
        return Err(match conversation {
            Some(c) if c.is_member(&actor.user_id) || actor.is_admin() => {
                AppError::Forbidden("only the sender may edit a message".into())
            }
            _ => AppError::not_found("message"),
        });
    }
    if message.text == text.as_str() {
        return Ok(message);
    }
    let at = iso(now_ms());
    let stamp = repo::changes::Stamp::now(app.config.sync_retention_days);
    let (edited, conversation) = tokio::join!(
        msgs::edit(app.table(), &message, &actor.user_id, text.as_str(), &at, stamp),
        conversations::get(app.table(), &message.conversation_id),
    );
    let edited = match edited? {
        msgs::Edited::Done(m) => m,
        msgs::Edited::NotMember => return Err(AppError::not_found("message")),
        msgs::Edited::Changed => {
            return Err(match msgs::get(app.table(), &message.conversation_id, &message.id).await? {
                Some(m) if !m.deleted => AppError::Conflict("the message changed meanwhile; retry".into()),
                _ => AppError::not_found("message"),
            })
        }
    };
    if let Some(c) = conversation? {
        let event = Event::MessageEdited(MessageEdited { message: edited.clone() });
        fanout::to_members_from(app, &c, &actor.user_id, None, &event).await?;
    }
    Ok(edited)
}

/// What a reaction did: `Changed` pushes the change to the members; `Unchanged` (already so)
/// pushes nothing.
#[derive(Debug)]
pub enum ReactOutcome {
    Changed(ReactionChange),
    Unchanged(ReactionChange),
}

/// A member adds (`add`) or takes back their reaction `kind` on a message; idempotent. At most
/// `reactions::MAX_KINDS` kinds per message (409 for one more; checked on the message as read,
/// so concurrent first uses of new kinds may pass it by as many). Two sequential round trips
/// before the fan-out: the message (GSI1 `Query`) ‖ session, then the transaction of
/// `msgs::react` ‖ the conversation for the fan-out. A message the caller cannot read, or a
/// deleted one, is 404 alike.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, message = %id, add))]
pub async fn react<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    id: &MessageId,
    kind: Reaction,
    add: bool,
) -> Result<ReactOutcome, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let (_, found) = tokio::try_join!(authenticate, msgs::find(app.table(), id))?;
    let message = found.filter(|m| !m.deleted).ok_or_else(|| AppError::not_found("message"))?;
    let known = message.reactions.iter().any(|r| r.reaction == kind);
    if add && !known && message.reactions.len() >= reactions::MAX_KINDS {
        return Err(AppError::Conflict(format!(
            "a message carries at most {} kinds of reaction",
            reactions::MAX_KINDS
        )));
    }
    let change = ReactionChange {
        conversation_id: message.conversation_id.clone(),
        message_id: message.id.clone(),
        user_id: actor.user_id.clone(),
        reaction: kind,
    };
    let at = iso(now_ms());
    let stamp = repo::changes::Stamp::now(app.config.sync_retention_days);
    let (reacted, conversation) = tokio::join!(
        msgs::react(app.table(), &message, &actor.user_id, &change.reaction, add, &at, stamp),
        conversations::get(app.table(), &message.conversation_id),
    );
    match reacted? {
        msgs::Reacted::Changed => {}
        msgs::Reacted::Unchanged => return Ok(ReactOutcome::Unchanged(change)),
        msgs::Reacted::NotMember | msgs::Reacted::Gone => return Err(AppError::not_found("message")),
    }
    if let Some(c) = conversation? {
        let event = if add { Event::ReactionAdded(change.clone()) } else { Event::ReactionRemoved(change.clone()) };
        fanout::to_members_from(app, &c, &actor.user_id, None, &event).await?;
    }
    Ok(ReactOutcome::Changed(change))
}

/// A page of the thread of message `id` (its root, or any reply in it), oldest first, with the
/// cursors of history (`before`/`after`, `limit`). Members and admins; a message the caller
/// cannot read is 404 as a missing one. Three sequential round trips: the root by id (GSI1
/// `Query`) ‖ session, then the thread's index (`Query`) ‖ the conversation, then the replies
/// (`BatchGetItem`), plus the caller's reactions when some reply has any (one `Query`).
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, message = %id))]
pub async fn replies<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    id: &MessageId,
    page: &PageRequest,
) -> Result<(Vec<Message>, Option<String>), AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    // The reader's presence names the users they blocked: their replies come marked.
    let (_, found, me) = tokio::try_join!(
        authenticate,
        msgs::find(app.table(), id),
        repo::connections::presence(app.table(), &actor.user_id),
    )?;
    let message = found.ok_or_else(|| AppError::not_found("message"))?;
    let root = message.parent_id.clone().unwrap_or_else(|| message.id.clone());
    let conv = &message.conversation_id;
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    let (conversation, (mut items, next)) = tokio::try_join!(
        conversations::get(app.table(), conv),
        msgs::thread_page(app.table(), conv, &root, page.before.as_ref(), page.after.as_ref(), limit),
    )?;
    check_access(actor, conversation.as_ref()).map_err(|e| match e {
        AppError::NotFound(_) => AppError::not_found("message"),
        other => other,
    })?;
    for m in items.iter_mut() {
        m.sender_blocked = me.block_set.contains(&m.sender_id);
    }
    msgs::mark_mine(app.table(), &mut items, &actor.user_id).await?;
    Ok((items, next))
}
