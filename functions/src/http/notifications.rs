//! `/api/notifications`: admins send; users list theirs and mark them read.

use chat::ids::{NotificationId, UserId};
use chat::models::{parse_limit, DEFAULT_PAGE};
use chat::service::notifications;
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

use super::{body, caller, flag, path_id, query_param, Reply};

/// A notification to a user (type `admin`), stored and pushed to their devices.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendBody {
    /// 400 when not a user id, 404 when there is no such user.
    #[cfg_attr(feature = "schema", schemars(with = "UserId"))]
    user_id: String,
    #[cfg_attr(feature = "schema", schemars(with = "chat::text::Text<1, { notifications::MESSAGE_MAX }, true>"))]
    message: String,
}

/// `GET /api/notifications`'s parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct ListQuery {
    /// Page size, 1 to 100 (400 otherwise).
    pub limit: Option<chat::models::Limit>,
    /// `nextCursor` of the previous page (400 when not a notification id).
    pub cursor: Option<NotificationId>,
    /// Only the unread ones.
    pub unread: Option<super::Flag>,
}

pub async fn create(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let b: SendBody = body(&req)?;
    let user = UserId::parse(&b.user_id).ok_or_else(|| AppError::field("userId", "not a user id"))?;
    Ok(Reply::created(notifications::send(app, &caller.actor(), &user, &b.message).await?))
}

/// Mine, newest first; `?unread=true`, `?limit=`, `?cursor=` (the last id of the previous page).
pub async fn list(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let limit = parse_limit(query_param(&req, "limit").as_deref())?.unwrap_or(DEFAULT_PAGE);
    let cursor = query_param(&req, "cursor")
        .map(|c| NotificationId::parse(&c).ok_or_else(|| AppError::field("cursor", "invalid cursor")))
        .transpose()?;
    let unread = flag(&req, "unread")?;
    let (items, next) = notifications::list(app, &caller.actor(), limit, cursor.as_ref(), unread).await?;
    Ok(Reply::page(items, next))
}

pub async fn read_one(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = path_id(&req, "id", NotificationId::parse, "notification")?;
    Ok(Reply::ok(notifications::mark_read(app, &caller.actor(), &id).await?))
}

pub async fn read_all(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::ok(notifications::mark_all_read(app, &caller.actor()).await?))
}
