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

pub async fn send(app: &App, req: &Request, sender: Option<String>, out: Outgoing) -> Result<Reply, AppError> {
    let (actor, session) = concurrent_session(app, req, sender)?;
    // 201 for a new message, 200 for a retry that found it stored.
    let outcome = messages::send(app, &actor, session, out, None).await?;
    Ok(Reply::ok(outcome.message()).status(matches!(outcome, SendOutcome::New(_))))
}

/// `POST /api/messages/send` `{sender?, receiver, text}` (seed 000).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReceiverText {
    #[serde(default)]
    sender: Option<String>,
    receiver: String,
    text: String,
    #[serde(default)]
    client_message_id: Option<String>,
    #[serde(default)]
    mentions: Option<Vec<String>>,
}

pub async fn send_text_to_receiver(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: ReceiverText = body(&req)?;
    let out = Outgoing::parse(Target::parse(&b.receiver)?, &b.text, b.client_message_id)?.mentioning(b.mentions)?;
    send(app, &req, b.sender, out).await
}

/// `POST /api/messages` `{senderId?, receiverId, content}` (seed 002).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReceiverContent {
    #[serde(default)]
    sender_id: Option<String>,
    receiver_id: String,
    content: String,
    #[serde(default)]
    client_message_id: Option<String>,
    #[serde(default)]
    mentions: Option<Vec<String>>,
}

pub async fn send_content_to_receiver(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: ReceiverContent = body(&req)?;
    let out =
        Outgoing::parse(Target::parse(&b.receiver_id)?, &b.content, b.client_message_id)?.mentioning(b.mentions)?;
    send(app, &req, b.sender_id, out).await
}

/// `POST /api/messages/send/:id` `{message}` to user `:id` (seed 003).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MessageToPathUser {
    message: String,
    #[serde(default)]
    client_message_id: Option<String>,
    #[serde(default)]
    mentions: Option<Vec<String>>,
}

pub async fn send_to_path_user(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: MessageToPathUser = body(&req)?;
    let out = Outgoing::parse(Target::parse(&path_param(&req, "id")?)?, &b.message, b.client_message_id)?
        .mentioning(b.mentions)?;
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
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Edit {
    text: String,
}

/// The sender rewrites a message's text (`messageEdited` to the members).
pub async fn edit(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", MessageId::parse, "message")?;
    let text = MessageText::parse(&body::<Edit>(&req)?.text)?;
    let (actor, session) = concurrent_session(app, &req, None)?;
    Ok(Reply::ok(messages::edit(app, &actor, session, &id, text).await?))
}

/// `PUT` (`add`) / `DELETE /api/messages/:id/reactions/:reaction`: the caller's reaction,
/// idempotent; the answer is the change either way.
pub async fn react(app: &App, req: Request, add: bool) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", MessageId::parse, "message")?;
    let kind = Reaction::parse(&path_param(&req, "reaction")?)?;
    let (actor, session) = concurrent_session(app, &req, None)?;
    let (ReactOutcome::Changed(change) | ReactOutcome::Unchanged(change)) =
        messages::react(app, &actor, session, &id, kind, add).await?;
    Ok(Reply::ok(change))
}

pub async fn delete(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = path_id(&req, "id", MessageId::parse, "message")?;
    Ok(Reply::ok(messages::delete(app, &caller.actor(), &id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Details {
    text: String,
}

/// `POST /chat` `{sender?, receiver, messageDetails: {text}}` (seed 001).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReceiverDetails {
    #[serde(default)]
    sender: Option<String>,
    receiver: String,
    message_details: Details,
    #[serde(default)]
    client_message_id: Option<String>,
    #[serde(default)]
    mentions: Option<Vec<String>>,
}

pub async fn send_details_to_receiver(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: ReceiverDetails = body(&req)?;
    let out = Outgoing::parse(Target::parse(&b.receiver)?, &b.message_details.text, b.client_message_id)?
        .mentioning(b.mentions)?;
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
