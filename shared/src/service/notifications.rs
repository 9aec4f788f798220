//! Notifications: created by admins and by the system (added to a group, a direct message
//! while busy or away), listed newest first, marked read one by one or all at once.

use serde::Serialize;

use super::{fanout, Actor};
use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::events::{Event, NotificationPush};
use crate::ids::{NotificationId, UserId};
use crate::models::NotificationKind;
use crate::repo::notifications::{AdminNote, Notification, NotificationData};
use crate::repo::{self};

/// Stores a notification and, when `live`, pushes it as a `notification` event.
pub async fn notify(
    app: &App,
    user: &UserId,
    kind: NotificationKind,
    message: &str,
    data: NotificationData,
    live: bool,
) -> Result<Notification, AppError> {
    let n = Notification::new(user, kind, message, data, iso(now_ms()));
    repo::notifications::create(app.table(), &n, now_secs()).await?;
    if live {
        fanout::to_user(app, user, &Event::Notification(NotificationPush::Stored(n.clone()))).await?;
    }
    Ok(n)
}

/// The longest notification text, in characters.
pub const MESSAGE_MAX: usize = 1000;

/// Admin only: to an existing user.
pub async fn send(app: &App, actor: &Actor, user: &UserId, message: &str) -> Result<Notification, AppError> {
    if !actor.is_admin() {
        return Err(AppError::Forbidden("only an admin may send notifications".into()));
    }
    let message = crate::text::parse("message", message, 1, MESSAGE_MAX, crate::text::Lines::Multi)?;
    repo::users::get(app.table(), user).await?.ok_or_else(|| AppError::not_found("user"))?;
    let from = NotificationData::Admin(AdminNote { from: actor.user_id.clone() });
    notify(app, user, NotificationKind::Admin, &message, from, true).await
}

/// The actor's, newest first, `limit` at most, after `cursor` (the last id of the previous
/// page); only unread ones with `unread_only`. Returns the next cursor when more may follow.
pub async fn list(
    app: &App,
    actor: &Actor,
    limit: u32,
    cursor: Option<&NotificationId>,
    unread_only: bool,
) -> Result<(Vec<Notification>, Option<String>), AppError> {
    repo::notifications::list(app.table(), &actor.user_id, limit, cursor, unread_only).await
}

/// One of the actor's; 404 when it is not theirs.
pub async fn mark_read(app: &App, actor: &Actor, id: &NotificationId) -> Result<Notification, AppError> {
    repo::notifications::mark_read(app.table(), &actor.user_id, id).await
}

/// How many notifications `mark_all_read` marked.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct Marked {
    pub marked: usize,
}

/// Every unread one of the actor's.
pub async fn mark_all_read(app: &App, actor: &Actor) -> Result<Marked, AppError> {
    Ok(Marked { marked: repo::notifications::mark_all_read(app.table(), &actor.user_id).await? })
}
