//! `PUT /api/status`, `GET /api/status/:userId`.

use chat::ids::UserId;
use chat::service::presence::{self, parse_activity, parse_status};
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

use super::{body, caller, path_id, Reply};

/// The caller's status, and what they are doing.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusBody {
    #[cfg_attr(feature = "schema", schemars(with = "chat::service::presence::StatusName"))]
    pub status: String,
    /// `typing`, `playing` or free text (empty: none).
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<chat::text::Text<0, { chat::service::presence::ACTIVITY_MAX }, false>>")
    )]
    pub activity: Option<String>,
    /// The caller's own id, if given (403 otherwise).
    #[serde(default)]
    pub user_id: Option<String>,
}

/// `{userId}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
#[cfg_attr(feature = "schema", schemars(rename_all = "camelCase"))]
pub struct UserPath {
    /// A malformed id names nothing: 404.
    pub user_id: UserId,
}

pub async fn set(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let b: StatusBody = body(&req)?;
    if b.user_id.is_some_and(|u| u != caller.id().as_str()) {
        return Err(AppError::Forbidden("you may only set your own status".into()));
    }
    let (status, activity) = (parse_status(&b.status)?, parse_activity(b.activity)?);
    Ok(Reply::ok(presence::set(app, &caller.actor(), status, activity).await?))
}

pub async fn get(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let user = path_id(&req, "userId", UserId::parse, "user")?;
    Ok(Reply::ok(presence::get(app, caller.id(), &user).await?))
}
