//! Notifications: created by admins and by the system (added to a group, a direct message
//! while busy or away), listed newest first, marked read one by one or all at once.

use serde_json::{json, Value};

use super::{realtime, Actor};
use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::events;
use crate::ids::UserId;
use crate::repo::{self, notifications::Notification};

/// Stores a notification and, when `live`, pushes it as a `notification` event.
pub async fn notify(
    app: &App,
    user: &UserId,
    kind: &str,
    message: &str,
    data: Value,
    live: bool,
) -> Result<Notification, AppError> {
    let n = Notification::new(user, kind, message, data, iso(now_ms()));
    repo::notifications::create(app.table(), &n, now_secs()).await?;
    if live {
        realtime::to_user(app, user, events::NOTIFICATION, &json!(n)).await?;
    }
    Ok(n)
}

/// Admin only: to an existing user.
pub async fn send(app: &App, actor: &Actor, user: &UserId, message: &str) -> Result<Notification, AppError> {
    if !actor.is_admin() {
        return Err(AppError::Forbidden("only an admin may send notifications".into()));
    }
    let message = crate::text::parse("message", message, 1, 1000, crate::text::Lines::Multi)?;
    repo::users::get(app.table(), user).await?.ok_or_else(|| AppError::not_found("user"))?;
    notify(app, user, "admin", &message, json!({ "from": actor.user_id }), true).await
}
