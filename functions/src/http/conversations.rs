//! `/api/conversations`: start, list, get, delete, read.

use chat::ids::{ConversationId, MessageId};
use chat::service::{conversations, pins};
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

use super::users::Deleted;
use super::{body, caller, concurrent_session, flag, path_id, Reply};

/// `GET /api/conversations`'s parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct ListQuery {
    /// Admins only (403 otherwise): every conversation.
    pub all: Option<super::Flag>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// The two users of a direct conversation, by id or username; one of them the caller unless an
/// admin starts it.
pub struct StartBody {
    #[cfg_attr(feature = "schema", schemars(length(min = 2, max = 2)))]
    participants: Vec<String>,
}

pub async fn start(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let b: StartBody = body(&req)?;
    let (conversation, created) = conversations::start(app, &caller.actor(), &b.participants).await?;
    Ok(Reply::ok(conversation).status(created))
}

/// Mine, most recent first; admins with `?all=true`: every conversation.
pub async fn list(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let data = match flag(&req, "all")? {
        true if caller.is_admin() => conversations::list_all(app).await?,
        true => return Err(AppError::Forbidden("only an admin may list every conversation".into())),
        false => conversations::list(app, &caller.actor()).await?,
    };
    Ok(Reply::page(data, None))
}

fn conversation_id(req: &Request) -> Result<ConversationId, AppError> {
    path_id(req, "id", ConversationId::parse, "conversation")
}

pub async fn get(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::ok(conversations::get(app, &caller.actor(), &conversation_id(&req)?).await?))
}

pub async fn delete(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = conversation_id(&req)?;
    conversations::delete(app, &caller.actor(), &id).await?;
    Ok(Reply::ok(Deleted { deleted: true, id }))
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadBody {
    /// Everything read when absent.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<MessageId>"))]
    up_to_message_id: Option<String>,
}

pub async fn read(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = conversation_id(&req)?;
    let b: ReadBody = if req.body().is_empty() { ReadBody::default() } else { body(&req)? };
    let up_to = conversations::parse_up_to(b.up_to_message_id.as_deref())?;
    Ok(Reply::ok(conversations::mark_read(app, &caller.actor(), &id, up_to.as_ref()).await?))
}

/// `{id}` and `{messageId}` of a pin's path.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename_all = "camelCase"))]
#[allow(dead_code)]
pub struct PinPath {
    /// A malformed id names nothing: 404.
    pub id: ConversationId,
    pub message_id: MessageId,
}

/// `POST` (`pinning`) / `DELETE /api/conversations/:id/pins/:messageId`: idempotent; the answer
/// is the change either way.
pub async fn pin(app: &App, req: Request, pinning: bool) -> Result<Reply, AppError> {
    let id = conversation_id(&req)?;
    let message = path_id(&req, "messageId", MessageId::parse, "message")?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    Ok(Reply::ok(pins::set(app, &actor, session, &id, &message, pinning).await?))
}

/// `GET /api/conversations/:id/pins`: every pin (at most 50: one page).
pub async fn pins(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::page(pins::list(app, &caller.actor(), &conversation_id(&req)?).await?, None))
}

/// The caller's settings of a conversation (replaced as a whole: an absent field is its default).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsBody {
    /// No phone push of this conversation until then (RFC 3339); absent or null: not muted.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>", extend("format" = "date-time")))]
    muted_until: Option<String>,
    /// What a phone push shows: `full`, `sender_only` (the default), `none`.
    preview: Option<chat::repo::settings::Preview>,
    /// A mention is pushed through a mute (default `true`).
    mentions_through_mute: Option<bool>,
}

/// `PUT /api/conversations/:id/settings`: members only.
pub async fn settings(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = conversation_id(&req)?;
    let b: SettingsBody = body(&req)?;
    let muted_until = chat::service::settings::parse_muted_until(b.muted_until.as_deref())?;
    let caller = caller(app, &req).await?;
    let s = chat::service::settings::set(app, &caller.actor(), &id, muted_until, b.preview, b.mentions_through_mute)
        .await?;
    Ok(Reply::ok(s))
}

/// A change of a conversation's policy: each field absent stays as it is.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyBody {
    /// Only the owner and admins post (groups and channels).
    read_only: Option<bool>,
    /// Slow mode: at most one message per member in this many seconds (1 to 21600; 0 turns it
    /// off). Groups and channels; their owner and admins are exempt.
    #[serde(default, deserialize_with = "optional_integral")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 21600)))]
    slow_mode_seconds: Option<i64>,
    /// Disappearing messages: messages sent from now on disappear after this many seconds
    /// (3600 to 7776000, i.e. 1 hour to 90 days; 0 turns it off).
    #[serde(default, deserialize_with = "optional_integral")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "lifetime_schema"))]
    message_lifetime_seconds: Option<i64>,
}

/// An optional JSON integer as JSON Schema counts one (`30.0` too: `uploads::integral`).
fn optional_integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => chat::uploads::integral(v).map(Some).map_err(serde::de::Error::custom),
    }
}

/// `messageLifetimeSeconds`: 0, or within `policy::LIFETIME_SECONDS` (what the parser takes).
#[cfg(feature = "schema")]
fn lifetime_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let (lo, hi) = chat::service::policy::LIFETIME_SECONDS;
    schemars::json_schema!({
        "anyOf": [
            { "type": "integer", "const": 0 },
            { "type": "integer", "minimum": lo, "maximum": hi },
            { "type": "null" },
        ],
        "description": "Disappearing messages: messages sent from now on disappear after this many seconds (1 hour to 90 days; 0 turns it off).",
    })
}

/// `PATCH /api/conversations/:id/policy`: read-only, slow mode, message lifetime.
pub async fn policy(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = conversation_id(&req)?;
    let b: PolicyBody = body(&req)?;
    let change =
        chat::service::policy::PolicyChange::parse(b.read_only, b.slow_mode_seconds, b.message_lifetime_seconds)?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    Ok(Reply::ok(chat::service::policy::set_policy(app, &actor, session, &id, change).await?))
}
