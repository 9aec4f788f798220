//! Safety and moderation: blocks, reports, their review, the audit log, group and channel bans.

use chat::ids::{AuditId, ConversationId, GroupId, MessageId, ReportId, UserId};
use chat::models::{parse_limit, ConversationKind, Limit, DEFAULT_PAGE};
use chat::repo::moderation::{Reason, ReportStatus, Resolution};
use chat::service::moderation::{self, NewReport};
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

use super::{body, caller, concurrent_session, path_id, query_param, Reply};

fn limit(req: &Request) -> Result<u32, AppError> {
    Ok(parse_limit(query_param(req, "limit").as_deref())?.unwrap_or(DEFAULT_PAGE))
}

/// The `cursor` parameter as an id of the listed kind: 400 otherwise.
fn cursor<T>(req: &Request, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, AppError> {
    query_param(req, "cursor").map(|c| parse(&c).ok_or_else(|| AppError::field("cursor", "invalid cursor"))).transpose()
}

/// `GET /api/users/me/blocks`'s parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct BlocksQuery {
    /// Page size, 1 to 100 (400 otherwise).
    pub limit: Option<Limit>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<UserId>,
}

/// `PUT` (`blocking`) / `DELETE /api/users/:id/block`: idempotent.
pub async fn block(app: &App, req: Request, blocking: bool) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", UserId::parse, "user")?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    Ok(Reply::ok(moderation::block(app, &actor, session, &id, blocking).await?))
}

/// `GET /api/users/me/blocks`: the users I blocked, by id.
pub async fn blocks(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let (list, next) = moderation::blocks(app, &caller, limit(&req)?, cursor(&req, UserId::parse)?.as_ref()).await?;
    Ok(Reply::page(list, next))
}

/// A report's body.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportBody {
    reason: Reason,
    /// What the moderators should know.
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::text::Text<1, { moderation::NOTE_MAX }, true>>"))]
    note: Option<String>,
}

impl ReportBody {
    fn parse(self) -> Result<NewReport, AppError> {
        NewReport::parse(self.reason, self.note.as_deref())
    }
}

/// `POST /api/messages/:id/reports`: 201; 409 while the caller's earlier report of it is open.
pub async fn report_message(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", MessageId::parse, "message")?;
    let new = body::<ReportBody>(&req)?.parse()?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    Ok(Reply::created(moderation::report_message(app, &actor, session, &id, new).await?))
}

/// `POST /api/users/:id/reports`: as a message's.
pub async fn report_user(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", UserId::parse, "user")?;
    let new = body::<ReportBody>(&req)?.parse()?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    Ok(Reply::created(moderation::report_user(app, &actor, session, &id, new).await?))
}

/// `GET /api/reports`'s parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct ReportsQuery {
    /// `open` (the default) or `resolved`.
    pub status: Option<ReportStatus>,
    /// Page size, 1 to 100 (400 otherwise).
    pub limit: Option<Limit>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<ReportId>,
}

/// `GET /api/reports?status=open`: admins; oldest first.
pub async fn reports(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let status = match query_param(&req, "status").as_deref() {
        None | Some("open") => ReportStatus::Open,
        Some("resolved") => ReportStatus::Resolved,
        Some(_) => return Err(AppError::field("status", "open or resolved")),
    };
    let after = cursor(&req, ReportId::parse)?;
    let (list, next) = moderation::reports(app, &caller, status, limit(&req)?, after.as_ref()).await?;
    Ok(Reply::page(list, next))
}

/// `POST /api/reports/:id/resolve`'s body.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveBody {
    action: Resolution,
    /// `suspend_user` only: the suspension's end (RFC 3339, in the future); absent: for good.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>", extend("format" = "date-time")))]
    until: Option<String>,
}

/// `POST /api/reports/:id/resolve`: admins; 409 when it is resolved already.
pub async fn resolve(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", ReportId::parse, "report")?;
    let b: ResolveBody = body(&req)?;
    let until = moderation::parse_until(b.until.as_deref())?;
    let caller = caller(app, &req).await?;
    Ok(Reply::ok(moderation::resolve(app, &caller, &id, b.action, until).await?))
}

/// `DELETE /api/users/:id/suspension`: admins; idempotent.
pub async fn lift_suspension(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", UserId::parse, "user")?;
    let caller = caller(app, &req).await?;
    Ok(Reply::ok(moderation::lift_suspension(app, &caller, &id).await?))
}

/// `GET /api/audit`'s parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct AuditQuery {
    /// Page size, 1 to 100 (400 otherwise).
    pub limit: Option<Limit>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<AuditId>,
}

/// `GET /api/audit`: admins; newest first.
pub async fn audit(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let before = cursor(&req, AuditId::parse)?;
    let (list, next) = moderation::audit(app, &caller, limit(&req)?, before.as_ref()).await?;
    Ok(Reply::page(list, next))
}

/// `{id}` and `{userId}` of a ban's path.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename_all = "camelCase"))]
#[allow(dead_code)]
pub struct BanPath {
    /// A malformed id names nothing: 404.
    pub id: GroupId,
    pub user_id: UserId,
}

/// `PUT` (`banning`) / `DELETE /api/{groups,channels}/:id/bans/:userId`: idempotent.
pub async fn ban(app: &App, req: Request, kind: ConversationKind, banning: bool) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", ConversationId::parse, kind.as_str())?;
    let user = path_id(&req, "userId", UserId::parse, "user")?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    Ok(Reply::ok(moderation::ban(app, &actor, session, &id, kind, &user, banning).await?))
}
