//! `/api/groups` and `/api/channels`: create, members, get, list.

use chat::ids::ConversationId;
use chat::models::ConversationKind;
use chat::service::groups::{self, MemberAction};
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

use super::{body, caller, path_id, query_param, Reply};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

async fn create(app: &App, req: Request, kind: ConversationKind) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let b: CreateBody = body(&req)?;
    Ok(Reply::created(groups::create(app, &caller.actor(), kind, &b.name, &b.members).await?))
}

pub async fn create_group(app: &App, req: Request) -> Result<Reply, AppError> {
    create(app, req, ConversationKind::Group).await
}

pub async fn create_channel(app: &App, req: Request) -> Result<Reply, AppError> {
    create(app, req, ConversationKind::Channel).await
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Action {
    Add,
    Remove,
    Promote,
    Demote,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MembersBody {
    member_id: String,
    #[serde(default)]
    action: Option<Action>,
}

async fn members(app: &App, req: Request, kind: ConversationKind) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = group_id(&req, kind)?;
    let b: MembersBody = body(&req)?;
    let action = match b.action.unwrap_or(Action::Add) {
        Action::Add => MemberAction::Add,
        Action::Remove => MemberAction::Remove,
        Action::Promote => MemberAction::Promote,
        Action::Demote => MemberAction::Demote,
    };
    Ok(Reply::ok(groups::change_member(app, &caller.actor(), &id, kind, &b.member_id, action).await?))
}

pub async fn group_members(app: &App, req: Request) -> Result<Reply, AppError> {
    members(app, req, ConversationKind::Group).await
}

pub async fn channel_members(app: &App, req: Request) -> Result<Reply, AppError> {
    members(app, req, ConversationKind::Channel).await
}

fn group_id(req: &Request, kind: ConversationKind) -> Result<ConversationId, AppError> {
    let what = if kind == ConversationKind::Channel { "channel" } else { "group" };
    path_id(req, "id", |s| ConversationId::parse(s).filter(|c| !c.is_direct()), what)
}

async fn get(app: &App, req: Request, kind: ConversationKind) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::ok(groups::get(app, &caller.actor(), &group_id(&req, kind)?, kind).await?))
}

pub async fn get_group(app: &App, req: Request) -> Result<Reply, AppError> {
    get(app, req, ConversationKind::Group).await
}

pub async fn get_channel(app: &App, req: Request) -> Result<Reply, AppError> {
    get(app, req, ConversationKind::Channel).await
}

pub async fn list_groups(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::page(groups::list(app, &caller.actor(), ConversationKind::Group, false).await?, None))
}

/// Mine; `?discover=true`: every public channel.
pub async fn list_channels(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let discover = query_param(&req, "discover").as_deref() == Some("true");
    Ok(Reply::page(groups::list(app, &caller.actor(), ConversationKind::Channel, discover).await?, None))
}
