//! Messages: every send form the clients use (`/api/messages…`, `/chat`), the history (also
//! between two named users), delete.

use chat::ids::{MessageId, UserId};
use chat::models::MessageText;
use chat::reactions::Reaction;
use chat::service::messages::{self, Outgoing, PageRequest, ReactOutcome, SendOutcome, Target};
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

use super::{body, caller, concurrent_session, path_id, path_param, query_param, Reply};
use chat::models::Limit;
#[cfg(feature = "schema")]
use chat::service::messages::schema::{ClientMessageId, Mentions, TargetRef};

/// A page of history's parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct HistoryQuery {
    /// Page size, 1 to 100 (400 otherwise).
    pub limit: Option<Limit>,
    /// Older messages than this one (400 when not a message id).
    pub before: Option<MessageId>,
    /// Newer messages than this one, oldest first (sync after reconnecting).
    pub after: Option<MessageId>,
}

/// `{id}`: a conversation, or a user (the direct conversation with them).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct TargetPath {
    /// A conversation, group or channel id; or a user, by id or username (404 when there is none).
    #[cfg_attr(feature = "schema", schemars(with = "TargetRef"))]
    pub id: String,
}

/// The two users of `GET /chat/conversation/{senderId}/{receiverId}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
#[cfg_attr(feature = "schema", schemars(rename_all = "camelCase"))]
pub struct BetweenPath {
    /// One of the two (the caller, unless an admin).
    pub sender_id: UserId,
    pub receiver_id: UserId,
}

pub async fn send(app: &App, req: &Request, sender: Option<String>, out: Outgoing) -> Result<Reply, AppError> {
    let (actor, session) = concurrent_session(app, req, sender).await?;
    // 201 for a new message, 200 for a retry that found it stored.
    let outcome = messages::send(app, &actor, session, out, None).await?;
    Ok(Reply::ok(outcome.message()).status(matches!(outcome, SendOutcome::New(_))))
}

/// `POST /api/messages/send` `{sender?, receiver, text}` (seed 000).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiverText {
    /// The caller (by id or username), if given (403 otherwise).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<TargetRef>"))]
    sender: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "TargetRef"))]
    receiver: String,
    #[cfg_attr(feature = "schema", schemars(with = "MessageText"))]
    text: String,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<ClientMessageId>"))]
    client_message_id: Option<String>,
    /// Users mentioned by id, beside the text's `@username`s (members only; at most 20).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Mentions>"))]
    mentions: Option<Vec<String>>,
    /// A thread reply to this message of the same conversation (a reply to a reply joins its
    /// root's thread); 404 when the caller cannot read it or it is deleted.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<MessageId>"))]
    parent_id: Option<String>,
    /// A reply also shown in the main history (only with `parentId`; default false).
    #[serde(default)]
    also_in_conversation: Option<bool>,
    /// Files, by upload id (`POST /api/uploads`): the sender's, for this conversation, not
    /// attached elsewhere, uploaded as declared; at most 10 (configurable).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::uploads::schema::AttachmentIds>"))]
    attachments: Option<Vec<String>>,
}

pub async fn send_text_to_receiver(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: ReceiverText = body(&req)?;
    let out = Outgoing::parse(Target::parse(&b.receiver)?, &b.text, b.client_message_id)?
        .mentioning(b.mentions)?
        .replying(b.parent_id, b.also_in_conversation)?
        .attaching(app, b.attachments)?;
    send(app, &req, b.sender, out).await
}

/// `POST /api/messages` `{senderId?, receiverId, content}` (seed 002).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiverContent {
    /// The caller (by id or username), if given (403 otherwise).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<TargetRef>"))]
    sender_id: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "TargetRef"))]
    receiver_id: String,
    #[cfg_attr(feature = "schema", schemars(with = "MessageText"))]
    content: String,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<ClientMessageId>"))]
    client_message_id: Option<String>,
    /// Users mentioned by id, beside the text's `@username`s (members only; at most 20).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Mentions>"))]
    mentions: Option<Vec<String>>,
    /// A thread reply to this message of the same conversation (a reply to a reply joins its
    /// root's thread); 404 when the caller cannot read it or it is deleted.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<MessageId>"))]
    parent_id: Option<String>,
    /// A reply also shown in the main history (only with `parentId`; default false).
    #[serde(default)]
    also_in_conversation: Option<bool>,
    /// Files, by upload id (`POST /api/uploads`): the sender's, for this conversation, not
    /// attached elsewhere, uploaded as declared; at most 10 (configurable).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::uploads::schema::AttachmentIds>"))]
    attachments: Option<Vec<String>>,
}

pub async fn send_content_to_receiver(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: ReceiverContent = body(&req)?;
    let out = Outgoing::parse(Target::parse(&b.receiver_id)?, &b.content, b.client_message_id)?
        .mentioning(b.mentions)?
        .replying(b.parent_id, b.also_in_conversation)?
        .attaching(app, b.attachments)?;
    send(app, &req, b.sender_id, out).await
}

/// `POST /api/messages/send/:id` `{message}` to user `:id` (seed 003).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageToPathUser {
    #[cfg_attr(feature = "schema", schemars(with = "MessageText"))]
    message: String,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<ClientMessageId>"))]
    client_message_id: Option<String>,
    /// Users mentioned by id, beside the text's `@username`s (members only; at most 20).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Mentions>"))]
    mentions: Option<Vec<String>>,
    /// A thread reply to this message of the same conversation (a reply to a reply joins its
    /// root's thread); 404 when the caller cannot read it or it is deleted.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<MessageId>"))]
    parent_id: Option<String>,
    /// A reply also shown in the main history (only with `parentId`; default false).
    #[serde(default)]
    also_in_conversation: Option<bool>,
    /// Files, by upload id (`POST /api/uploads`): the sender's, for this conversation, not
    /// attached elsewhere, uploaded as declared; at most 10 (configurable).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::uploads::schema::AttachmentIds>"))]
    attachments: Option<Vec<String>>,
}

pub async fn send_to_path_user(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: MessageToPathUser = body(&req)?;
    let out = Outgoing::parse(Target::parse(&path_param(&req, "id")?)?, &b.message, b.client_message_id)?
        .mentioning(b.mentions)?
        .replying(b.parent_id, b.also_in_conversation)?
        .attaching(app, b.attachments)?;
    send(app, &req, None, out).await
}

/// `GET /api/messages/:id?limit=&before=&after=`: `:id` is a conversation or a user.
pub async fn list(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let target = Target::parse(&path_param(&req, "id")?).map_err(|_| AppError::not_found("conversation"))?;
    let (b, a, l) = (query_param(&req, "before"), query_param(&req, "after"), query_param(&req, "limit"));
    let page = PageRequest::parse(b.as_deref(), a.as_deref(), l.as_deref())?;
    let (items, next) = messages::list(app, &caller.actor(), &target, &page).await?;
    Ok(Reply::page(items, next))
}

/// `PATCH /api/messages/:id` `{text}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Edit {
    /// The new text.
    #[cfg_attr(feature = "schema", schemars(with = "MessageText"))]
    text: String,
}

/// `{id}` and `{reaction}` of a reaction's path.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct ReactionPath {
    /// A malformed id names nothing: 404.
    pub id: MessageId,
    pub reaction: chat::reactions::Reaction,
}

/// The sender rewrites a message's text (`messageEdited` to the members).
pub async fn edit(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", MessageId::parse, "message")?;
    let text = MessageText::parse(&body::<Edit>(&req)?.text)?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    Ok(Reply::ok(messages::edit(app, &actor, session, &id, text).await?))
}

/// `PUT` (`add`) / `DELETE /api/messages/:id/reactions/:reaction`: the caller's reaction,
/// idempotent; the answer is the change either way.
pub async fn react(app: &App, req: Request, add: bool) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", MessageId::parse, "message")?;
    let kind = Reaction::parse(&path_param(&req, "reaction")?)?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    let (ReactOutcome::Changed(change) | ReactOutcome::Unchanged(change)) =
        messages::react(app, &actor, session, &id, kind, add).await?;
    Ok(Reply::ok(change))
}

pub async fn delete(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = path_id(&req, "id", MessageId::parse, "message")?;
    Ok(Reply::ok(messages::delete(app, &caller.actor(), &id).await?))
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Details {
    #[cfg_attr(feature = "schema", schemars(with = "MessageText"))]
    text: String,
}

/// `POST /chat` `{sender?, receiver, messageDetails: {text}}` (seed 001).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiverDetails {
    /// The caller (by id or username), if given (403 otherwise).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<TargetRef>"))]
    sender: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "TargetRef"))]
    receiver: String,
    message_details: Details,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<ClientMessageId>"))]
    client_message_id: Option<String>,
    /// Users mentioned by id, beside the text's `@username`s (members only; at most 20).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Mentions>"))]
    mentions: Option<Vec<String>>,
    /// A thread reply to this message of the same conversation (a reply to a reply joins its
    /// root's thread); 404 when the caller cannot read it or it is deleted.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<MessageId>"))]
    parent_id: Option<String>,
    /// A reply also shown in the main history (only with `parentId`; default false).
    #[serde(default)]
    also_in_conversation: Option<bool>,
    /// Files, by upload id (`POST /api/uploads`): the sender's, for this conversation, not
    /// attached elsewhere, uploaded as declared; at most 10 (configurable).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::uploads::schema::AttachmentIds>"))]
    attachments: Option<Vec<String>>,
}

pub async fn send_details_to_receiver(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: ReceiverDetails = body(&req)?;
    let out = Outgoing::parse(Target::parse(&b.receiver)?, &b.message_details.text, b.client_message_id)?
        .mentioning(b.mentions)?
        .replying(b.parent_id, b.also_in_conversation)?
        .attaching(app, b.attachments)?;
    send(app, &req, b.sender, out).await
}

/// `GET /chat/conversation/:senderId/:receiverId` (seed 001): the messages between two users;
/// the caller must be one of them (or an admin, who reads as the first).
pub async fn list_between(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let a = path_id(&req, "senderId", UserId::parse, "user")?;
    let b = path_id(&req, "receiverId", UserId::parse, "user")?;
    let actor = caller.actor();
    let (me, other) = if *caller.id() == a { (&a, &b) } else { (&b, &a) };
    if caller.id() != me && !actor.is_admin() {
        return Err(AppError::Forbidden("you are not part of this conversation".into()));
    }
    let (bq, aq, lq) = (query_param(&req, "before"), query_param(&req, "after"), query_param(&req, "limit"));
    let page = PageRequest::parse(bq.as_deref(), aq.as_deref(), lq.as_deref())?;
    let as_member = chat::service::Actor { user_id: me.clone(), ..actor.clone() };
    let (items, next) = messages::list(app, &as_member, &Target::User(other.clone()), &page).await?;
    Ok(Reply::page(items, next))
}

/// `GET /api/messages/:id/replies?limit=&before=&after=`: the thread of message `:id`.
pub async fn replies(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", MessageId::parse, "message")?;
    let (b, a, l) = (query_param(&req, "before"), query_param(&req, "after"), query_param(&req, "limit"));
    let page = PageRequest::parse(b.as_deref(), a.as_deref(), l.as_deref())?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    let (items, next) = messages::replies(app, &actor, session, &id, &page).await?;
    Ok(Reply::page(items, next))
}
