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

pub async fn create(app: &App, req: Request, kind: ConversationKind) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let b: CreateBody = body(&req)?;
    Ok(Reply::created(groups::create(app, &caller.actor(), kind, &b.name, &b.members).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MembersBody {
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
    let discover = kind == ConversationKind::Channel && query_param(&req, "discover").as_deref() == Some("true");
    Ok(if discover {
        Reply::page(groups::discover(app, &caller.actor()).await?, None)
    } else {
        Reply::page(groups::list(app, &caller.actor(), kind).await?, None)
    })
}
