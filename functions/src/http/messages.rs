//! `/api/messages`: the three send forms of the seeds, the history, delete.

use chat::ids::MessageId;
use chat::service::messages::{self, Outgoing, PageRequest, Target};
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;
use serde_json::json;

use super::{body, path_id, path_param, query_param, token, Reply};

/// Authenticates concurrently with the send's first read (SPEC §6: two round trips). `sender`,
/// if given, must name the caller, by id or by username: checked against the stored user the
/// session reads anyway (a token's username may predate a rename).
pub async fn send(app: &App, req: &Request, sender: Option<String>, out: Outgoing) -> Result<Reply, AppError> {
    let claims = app.verify(token(req).as_deref())?;
    let actor =
        chat::service::Actor { user_id: claims.sub.clone(), username: claims.username.clone(), role: claims.role };
    let session = async {
        let caller = app.session(claims.clone()).await?;
        if caller.user.role != actor.role {
            return Err(AppError::Unauthorized("token out of date; log in again".into()));
        }
        if sender.as_deref().is_some_and(|s| !messages::names_user(s, &caller.user)) {
            return Err(AppError::Forbidden("sender must be the caller".into()));
        }
        Ok(())
    };
    let (message, duplicate) = messages::send(app, &actor, session, out, None).await?;
    Ok(Reply::ok(json!(message)).status(!duplicate))
}

/// Seed 000: `POST /api/messages/send` `{sender?, receiver, text}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Send000 {
    #[serde(default)]
    sender: Option<String>,
    receiver: String,
    text: String,
    #[serde(default)]
    client_message_id: Option<String>,
}

pub async fn send_000(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: Send000 = body(&req)?;
    let out = Outgoing::parse(Target::parse(&b.receiver)?, &b.text, b.client_message_id)?;
    send(app, &req, b.sender, out).await
}

/// Seed 002: `POST /api/messages` `{senderId?, receiverId, content}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Send002 {
    #[serde(default)]
    sender_id: Option<String>,
    receiver_id: String,
    content: String,
    #[serde(default)]
    client_message_id: Option<String>,
}

pub async fn send_002(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: Send002 = body(&req)?;
    let out = Outgoing::parse(Target::parse(&b.receiver_id)?, &b.content, b.client_message_id)?;
    send(app, &req, b.sender_id, out).await
}

/// Seed 003: `POST /api/messages/send/:id` `{message}` to user `:id`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Send003 {
    message: String,
    #[serde(default)]
    client_message_id: Option<String>,
}

pub async fn send_003(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: Send003 = body(&req)?;
    let out = Outgoing::parse(Target::parse(&path_param(&req, "id")?)?, &b.message, b.client_message_id)?;
    send(app, &req, None, out).await
}

/// `GET /api/messages/:id?limit=&before=&after=`: `:id` is a conversation or a user.
pub async fn list(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = super::caller(app, &req).await?;
    let target = Target::parse(&path_param(&req, "id")?).map_err(|_| AppError::not_found("conversation"))?;
    let (b, a, l) = (query_param(&req, "before"), query_param(&req, "after"), query_param(&req, "limit"));
    let page = PageRequest::parse(b.as_deref(), a.as_deref(), l.as_deref())?;
    let (items, next) = messages::list(app, &caller.actor(), &target, &page).await?;
    Ok(Reply::page(items.iter().map(|m| json!(m)).collect(), next))
}

pub async fn delete(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = super::caller(app, &req).await?;
    let id = path_id(&req, "id", MessageId::parse, "message")?;
    Ok(Reply::ok(messages::delete(app, &caller.actor(), &id).await?))
}
