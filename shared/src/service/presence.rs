//! Status and presence (SPEC §3 `PUT /api/status`): `online` is derived from live connections,
//! `offline` is "appear offline", `busy` holds live message pushes.

use std::collections::BTreeSet;

use super::fanout::{self, Connections};
use super::Actor;
use crate::app::App;
use crate::clock::{iso, now_ms};
use crate::error::AppError;
use crate::events::{Event, MissedMessages, NotificationPush, PresenceView, Unread};
use crate::ids::{ConnectionId, UserId};
use crate::models::Status;
use crate::repo::{self, connections::Presence, conversations::Membership, keys};

/// `online` (alias `available`), `away`, `busy` (alias `dnd`), `offline` (alias `invisible`).
/// The names a client may set a status by (any case), and the status each means.
pub const STATUS_NAMES: [(&str, Status); 7] = [
    ("online", Status::Online),
    ("available", Status::Online),
    ("away", Status::Away),
    ("busy", Status::Busy),
    ("dnd", Status::Busy),
    ("offline", Status::Offline),
    ("invisible", Status::Offline),
];

pub fn parse_status(s: &str) -> Result<Status, AppError> {
    STATUS_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, status)| *status)
        .ok_or_else(|| AppError::field("status", "one of online, available, away, busy, offline"))
}

/// The longest activity, in characters.
pub const ACTIVITY_MAX: usize = 64;

/// The schema of a status a client sets: one of `STATUS_NAMES`.
pub struct StatusName;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for StatusName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StatusName".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = STATUS_NAMES.iter().map(|(n, _)| *n).collect();
        schemars::json_schema!({
            "type": "string",
            "enum": names,
            "description": "`available` is `online`, `dnd` is `busy`, `invisible` is `offline` (appear offline); read back as the status it means. The server also accepts these in any case.",
        })
    }
}

/// `typing`, `playing` or free text of at most 64 characters.
pub fn parse_activity(s: Option<String>) -> Result<Option<String>, AppError> {
    let activity =
        s.map(|a| crate::text::parse("activity", &a, 0, ACTIVITY_MAX, crate::text::Lines::Single)).transpose()?;
    Ok(activity.filter(|a| !a.is_empty()))
}

/// What others see: the status the user set (SPEC §7: it reads back as set), and beside it the
/// derived liveness (`online`: a live connection; `lastSeen`). A user who never set a status
/// shows `online` or `offline` by liveness. Appearing offline hides connections, activity and
/// the movement of `lastSeen`.
pub fn view(user: &UserId, p: &Presence) -> PresenceView {
    let visible = p.status != Status::Offline;
    let online = visible && !p.conn_set.is_empty();
    let status = if p.status_chosen || online { p.status } else { Status::Offline };
    let last_seen = if visible { p.last_seen.as_ref() } else { p.hidden_since.as_ref().or(p.last_seen.as_ref()) };
    PresenceView {
        user_id: user.clone(),
        status,
        activity: if visible { p.activity.clone() } else { None },
        online,
        last_seen: last_seen.cloned(),
    }
}

/// One `BatchGetItem` (user, presence, and whether the user blocked `viewer`); 404 for an
/// unknown user. A user who blocked the viewer shows as a user who never connected.
pub async fn get(app: &App, viewer: &UserId, user: &UserId) -> Result<PresenceView, AppError> {
    let (user_key, presence_key) = (keys::user(user), keys::presence(user));
    let block_key = repo::blocks::key(user, viewer);
    let items = app.table().batch_get(&[user_key.clone(), presence_key.clone(), block_key.clone()]).await?;
    if repo::pick(&items, &user_key).is_none() {
        return Err(AppError::not_found("user"));
    }
    if repo::pick(&items, &block_key).is_some() {
        return Ok(view(user, &Presence::default()));
    }
    let p = repo::pick(&items, &presence_key).map(repo::from_item).transpose()?.unwrap_or_default();
    Ok(view(user, &p))
}

/// Everyone who shares a conversation with `user`, with the memberships that say so: one
/// `Query` of memberships, one `BatchGetItem` per 100 conversations.
pub async fn contacts(app: &App, user: &UserId) -> Result<(Vec<UserId>, Vec<Membership>), AppError> {
    let memberships = repo::conversations::memberships_of(app.table(), user).await?;
    let keys: Vec<_> = memberships.iter().map(|m| keys::conversation(&m.conversation_id)).collect();
    let mut out = BTreeSet::new();
    for item in app.table().batch_get(&keys).await? {
        let c: repo::conversations::Conversation = repo::from_item(item)?;
        out.extend(c.member_set.into_iter().filter(|m| m != user));
    }
    Ok((out.into_iter().collect(), memberships))
}

/// Who hears about a user's presence: their contacts and the admin room.
pub struct Audience {
    contacts: Vec<UserId>,
    admins: Connections,
    /// The user's memberships, read to find the contacts (and reused by `set`).
    memberships: Vec<Membership>,
}

pub async fn audience(app: &App, user: &UserId) -> Result<Audience, AppError> {
    let ((contacts, memberships), admins) = tokio::try_join!(contacts(app, user), fanout::admins(app))?;
    Ok(Audience { contacts, admins, memberships })
}

/// A `presence` event to every contact of `user` and to the admin room, but not to `opening`:
/// a connection still in its `$connect` cannot be posted to (410), and must not be removed for it.
pub async fn broadcast(app: &App, user: &UserId, p: &Presence, opening: Option<&ConnectionId>) -> Result<(), AppError> {
    broadcast_to(app, audience(app, user).await?, user, p, opening).await
}

async fn broadcast_to(
    app: &App,
    audience: Audience,
    user: &UserId,
    p: &Presence,
    opening: Option<&ConnectionId>,
) -> Result<(), AppError> {
    // The users `user` blocked do not see their presence (their presence item names them).
    let told: Vec<UserId> = audience.contacts.into_iter().filter(|c| !p.block_set.contains(c)).collect();
    let contacts = fanout::connections(app, &told).await?;
    let to = contacts.and(audience.admins).without(opening);
    fanout::push(app, to, &Event::Presence(view(user, p))).await;
    Ok(())
}

/// Sets the caller's status and tells their contacts. Leaving `busy` sends the user a
/// `notification` (`missedMessages`) listing the conversations with unread messages, since
/// their live pushes were held.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id))]
pub async fn set(app: &App, actor: &Actor, status: Status, activity: Option<String>) -> Result<PresenceView, AppError> {
    // Who to tell does not depend on the change: find out while the status is read and written.
    let change = async {
        let before = repo::connections::presence(app.table(), &actor.user_id).await?;
        let after =
            repo::connections::set_status(app.table(), &actor.user_id, status, activity.as_deref(), &iso(now_ms()))
                .await?;
        Ok::<_, AppError>((before, after))
    };
    let ((before, after), mut audience) = tokio::try_join!(change, audience(app, &actor.user_id))?;
    let memberships = std::mem::take(&mut audience.memberships);
    broadcast_to(app, audience, &actor.user_id, &after, None).await?;
    if before.status == Status::Busy && matches!(status, Status::Online | Status::Away) {
        let missed = missed(app, memberships).await?;
        if !missed.is_empty() {
            let event = Event::Notification(NotificationPush::Missed(MissedMessages::new(missed)));
            fanout::to_user(app, &actor.user_id, &event).await?;
        }
    }
    Ok(view(&actor.user_id, &after))
}

/// Conversations with unread messages: the summaries of the memberships (read by `audience`).
async fn missed(app: &App, memberships: Vec<Membership>) -> Result<Vec<Unread>, AppError> {
    let keys: Vec<_> = memberships.iter().map(|m| keys::summary(&m.conversation_id)).collect();
    let items = app.table().batch_get(&keys).await?;
    let mut out = Vec::new();
    for m in memberships {
        let Some(item) = repo::pick(&items, &keys::summary(&m.conversation_id)) else { continue };
        let s = repo::conversations::Summary::from_item(item)?;
        let unread_count = s.unread(&m.user_id, m.read_seq);
        if unread_count > 0 {
            out.push(Unread { conversation_id: m.conversation_id, unread_count, last_message: s.last_message });
        }
    }
    Ok(out)
}
