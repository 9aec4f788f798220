//! `/api/groups` and `/api/channels`: create, members, get, list.

use chat::ids::ConversationId;
use chat::models::ConversationKind;
use chat::service::groups::{self, MemberAction};
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

use super::{body, caller, flag, path_id, Reply};
#[cfg(feature = "schema")]
use chat::service::groups::NAME_MAX;
#[cfg(feature = "schema")]
use chat::text::Text;

/// `GET /api/channels`'s parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct ChannelsQuery {
    /// Every public channel (the first 100) instead of mine.
    pub discover: Option<super::Flag>,
}

/// An item of `GET /api/channels`: mine, or (`?discover=true`) a public channel.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
#[cfg_attr(feature = "schema", schemars(untagged))]
pub enum ChannelItem {
    Mine(Box<chat::service::conversations::ConversationView>),
    Found(chat::service::groups::ChannelListing),
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// A new group or channel; the caller is its owner and first member.
pub struct CreateBody {
    #[cfg_attr(feature = "schema", schemars(with = "Text<1, NAME_MAX, false>"))]
    name: String,
    /// Users by id or username (at most the configured group size, 1000 by default; 404
    /// `unknown members` for names no user has).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<chat::models::UserRef>"))]
    members: Vec<String>,
}

pub async fn create(app: &App, req: Request, kind: ConversationKind) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let b: CreateBody = body(&req)?;
    Ok(Reply::created(groups::create(app, &caller.actor(), kind, &b.name, &b.members).await?))
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
/// A member to add (the default), remove, promote or demote. Group admins and system admins add
/// and remove anyone; a user may add themself to a channel and remove themself from any group.
pub struct MembersBody {
    /// A user id or username.
    #[cfg_attr(feature = "schema", schemars(with = "chat::models::UserRef"))]
    member_id: String,
    #[serde(default)]
    action: Option<MemberAction>,
}

pub async fn members(app: &App, req: Request, kind: ConversationKind) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = group_id(&req, kind)?;
    let b: MembersBody = body(&req)?;
    let action = b.action.unwrap_or(MemberAction::Add);
    Ok(Reply::ok(groups::change_member(app, &caller.actor(), &id, kind, &b.member_id, action).await?))
}

fn group_id(req: &Request, kind: ConversationKind) -> Result<ConversationId, AppError> {
    path_id(req, "id", |s| ConversationId::parse(s).filter(|c| !c.is_direct()), kind.as_str())
}

pub async fn get(app: &App, req: Request, kind: ConversationKind) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::ok(groups::get(app, &caller.actor(), &group_id(&req, kind)?, kind).await?))
}

/// Mine; for channels, `?discover=true`: every public channel.
pub async fn list(app: &App, req: Request, kind: ConversationKind) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let discover = kind == ConversationKind::Channel && flag(&req, "discover")?;
    Ok(if discover {
        Reply::page(groups::discover(app, &caller.actor()).await?, None)
    } else {
        Reply::page(groups::list(app, &caller.actor(), kind).await?, None)
    })
}
