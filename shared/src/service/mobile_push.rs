//! Phone push (SNS mobile push) of what a user who is not connected would otherwise miss: a new
//! message (a mention in it included) and an admin notification. Runs off the send path, in the
//! push function fed by the table's stream (`functions::stream`; locally the gateway emulates
//! the trigger), never before a send's acknowledgement.
//!
//! Who gets one: each member but the sender with no live connection, unless busy (do not
//! disturb) or the conversation is muted for them (`PUT /api/conversations/{id}/settings`);
//! a mention goes through a mute (unless the member turned that off) and through busy (a mention
//! notifies a busy member, SPEC decisions). One push per message per device, whatever retries
//! happen: a conditional put of `PUSHED#<message> / <device>` claims it first.

use futures::{stream, StreamExt};
use serde::Serialize;

use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::ids::{ConversationId, UserId};
use crate::models::{ConversationKind, Message, NotificationKind, Status, User};
use crate::phone_push::{PhonePush, PhonePushError};
use crate::repo::connections::Presence;
use crate::repo::conversations::{Conversation, Membership};
use crate::repo::devices::{self, Device, Platform};
use crate::repo::notifications::Notification;
use crate::repo::settings::{self, Preview, Settings};
use crate::repo::{self, from_item, keys, pick};

/// Recipients handled at once (their reads and publishes).
const CONCURRENCY: usize = 16;
/// The longest body, in characters (APNs refuses payloads over 4 KB).
pub const BODY_MAX: usize = 180;

/// What one push says, before it is shaped for a platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub title: String,
    pub body: Option<String>,
    pub kind: &'static str,
    pub conversation_id: Option<ConversationId>,
    pub message_id: Option<String>,
    /// The user's unread messages over all their conversations.
    pub badge: i64,
    /// Notifications of one conversation group together (APNs `thread-id`, FCM collapse key).
    pub thread: String,
}

/// The APNs payload (`aps` and the deep link's ids).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApnsPayload {
    pub aps: Aps,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Aps {
    pub alert: Alert,
    pub badge: i64,
    pub sound: &'static str,
    #[serde(rename = "thread-id")]
    pub thread_id: String,
}

#[derive(Debug, Serialize)]
pub struct Alert {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The FCM payload, as SNS takes it for FCM HTTP v1 (`fcmV1Message`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FcmPayload {
    pub fcm_v1_message: FcmEnvelope,
}

#[derive(Debug, Serialize)]
pub struct FcmEnvelope {
    pub message: FcmMessage,
}

#[derive(Debug, Serialize)]
pub struct FcmMessage {
    pub notification: Alert,
    /// FCM data values are strings.
    pub data: FcmData,
    pub android: FcmAndroid,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FcmData {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub badge: String,
}

#[derive(Debug, Serialize)]
pub struct FcmAndroid {
    pub collapse_key: String,
    pub notification: FcmAndroidNotification,
}

#[derive(Debug, Serialize)]
pub struct FcmAndroidNotification {
    pub tag: String,
    pub notification_count: i64,
}

impl Note {
    pub fn apns(&self) -> ApnsPayload {
        ApnsPayload {
            aps: Aps {
                alert: Alert { title: self.title.clone(), body: self.body.clone() },
                badge: self.badge,
                sound: "default",
                thread_id: self.thread.clone(),
            },
            kind: self.kind,
            conversation_id: self.conversation_id.clone(),
            message_id: self.message_id.clone(),
        }
    }

    pub fn fcm(&self) -> FcmPayload {
        FcmPayload {
            fcm_v1_message: FcmEnvelope {
                message: FcmMessage {
                    notification: Alert { title: self.title.clone(), body: self.body.clone() },
                    data: FcmData {
                        kind: self.kind.to_owned(),
                        conversation_id: self.conversation_id.as_ref().map(ToString::to_string),
                        message_id: self.message_id.clone(),
                        badge: self.badge.to_string(),
                    },
                    android: FcmAndroid {
                        collapse_key: self.thread.clone(),
                        notification: FcmAndroidNotification {
                            tag: self.thread.clone(),
                            notification_count: self.badge,
                        },
                    },
                },
            },
        }
    }

    /// SNS's `MessageStructure=json` document for one platform: `default` and the platform's
    /// entry (a JSON string, as SNS wants it).
    pub fn sns_message(&self, platform: Platform) -> Result<String, AppError> {
        let entry = match platform {
            Platform::Apns | Platform::ApnsSandbox => serde_json::to_string(&self.apns())?,
            Platform::Fcm => serde_json::to_string(&self.fcm())?,
        };
        let mut doc = serde_json::Map::new();
        doc.insert("default".into(), self.title.clone().into());
        doc.insert(platform.sns_key().into(), entry.into());
        Ok(serde_json::Value::Object(doc).to_string())
    }
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(BODY_MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// What a message's push says to one recipient, per their preview setting.
pub fn message_note(
    c: &Conversation,
    sender: &str,
    m: &Message,
    mentioned: bool,
    preview: Preview,
    badge: i64,
) -> Note {
    let group = c.kind != ConversationKind::Direct;
    let place = c.name.clone().filter(|_| group).unwrap_or_else(|| sender.to_owned());
    let (title, body) = match preview {
        Preview::Full if group => (place, format!("{sender}: {}", clip(&m.text))),
        Preview::Full => (place, clip(&m.text)),
        Preview::SenderOnly if mentioned => (place, format!("{sender} mentioned you")),
        Preview::SenderOnly if group => (place, format!("New message from {sender}")),
        Preview::SenderOnly => (place, "New message".to_owned()),
        Preview::None if mentioned => ("New mention".to_owned(), String::new()),
        Preview::None => ("New message".to_owned(), String::new()),
    };
    Note {
        title,
        body: Some(body).filter(|b| !b.is_empty()),
        kind: if mentioned { "mention" } else { "message" },
        conversation_id: Some(c.id.clone()),
        message_id: Some(m.id.to_string()),
        badge,
        thread: c.id.to_string(),
    }
}

/// Whether a recipient gets a push of a message, from their presence and settings.
pub fn wants_push(presence: Option<&Presence>, s: Option<&Settings>, mentioned: bool, now_iso: &str) -> bool {
    let Some(s) = s else { return false }; // not a member (any more)
    let live = presence.is_some_and(|p| !p.conn_set.is_empty());
    let busy = presence.is_some_and(|p| p.status == Status::Busy);
    !live && (!busy || mentioned) && (!s.muted(now_iso) || (mentioned && s.mentions_through_mute))
}

/// What the push function did with one record.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    pub sent: usize,
    /// Endpoints found disabled, whose devices were removed.
    pub removed: usize,
}

impl Pushed {
    fn add(&mut self, o: Pushed) {
        self.sent += o.sent;
        self.removed += o.removed;
    }
}

/// A new message: pushes to each member who will not see it live. Reads: the conversation and
/// the sender (one `BatchGetItem`), then each other member's presence and membership (batches
/// of 50 members), then per member to push to: their devices (`Query`), and when they have one,
/// the badge (their memberships `Query` → summaries `BatchGetItem`); per device a conditional
/// put, then `Publish`.
pub async fn message(app: &App, sns: &dyn PhonePush, m: &Message) -> Result<Pushed, AppError> {
    if m.deleted {
        return Ok(Pushed::default());
    }
    let items = app.table().batch_get(&[keys::conversation(&m.conversation_id), keys::user(&m.sender_id)]).await?;
    let Some(c) = pick(&items, &keys::conversation(&m.conversation_id)).map(from_item::<Conversation>).transpose()?
    else {
        return Ok(Pushed::default());
    };
    let sender = pick(&items, &keys::user(&m.sender_id))
        .map(from_item::<User>)
        .transpose()?
        .map_or_else(|| "deleted-user".to_owned(), |u| u.username);
    let recipients: Vec<&UserId> = c.member_set.iter().filter(|u| **u != m.sender_id).collect();
    let mut wanted = Vec::new();
    for u in &recipients {
        wanted.push(keys::presence(u));
        wanted.push(keys::membership(u, &c.id));
    }
    let items = app.table().batch_get(&wanted).await?;
    let now = iso(now_ms());
    let mut targets = Vec::new();
    for u in recipients {
        let presence = pick(&items, &keys::presence(u)).map(from_item::<Presence>).transpose()?;
        let settings = pick(&items, &keys::membership(u, &c.id)).map(settings::from_membership).transpose()?;
        let mentioned = m.mentions.contains(u);
        // A member who blocked the sender gets no push of theirs (their presence says so).
        let blocked = presence.as_ref().is_some_and(|p| p.block_set.contains(&m.sender_id));
        if !blocked && wants_push(presence.as_ref(), settings.as_ref(), mentioned, &now) {
            targets.push((u.clone(), mentioned, settings.map(|s| s.preview).unwrap_or_default()));
        }
    }
    let (c, sender) = (&c, sender.as_str());
    let results: Vec<Result<Pushed, AppError>> = stream::iter(targets)
        .map(|(user, mentioned, preview)| async move {
            let note = |badge| message_note(c, sender, m, mentioned, preview, badge);
            to_devices(app, sns, &user, m.id.as_str(), Some(m), note).await
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut total = Pushed::default();
    let mut first_error = None;
    for r in results {
        match r {
            Ok(p) => total.add(p),
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    // Sent pushes are claimed: a retry of the record sends only what failed.
    first_error.map_or(Ok(total), Err)
}

/// An admin notification: pushed to the user's devices when they are not connected (nor busy).
pub async fn notification(app: &App, sns: &dyn PhonePush, n: &Notification) -> Result<Pushed, AppError> {
    if n.kind != NotificationKind::Admin {
        return Ok(Pushed::default());
    }
    let presence = repo::connections::presence(app.table(), &n.user_id).await?;
    if !presence.conn_set.is_empty() || presence.status == Status::Busy {
        return Ok(Pushed::default());
    }
    let note = |badge| Note {
        title: "Notification".to_owned(),
        body: Some(clip(&n.message)),
        kind: "admin",
        conversation_id: None,
        message_id: None,
        badge,
        thread: "notifications".to_owned(),
    };
    to_devices(app, sns, &n.user_id, n.id.as_str(), None, note).await
}

/// The user's unread messages over all their conversations: their memberships (`Query`), then
/// the summaries (`BatchGetItem` per 100). `pushed`, the message being pushed, counts in its
/// conversation even before its summary does: a direct conversation's send counts its message
/// after storing it (`repo::messages::count`), and this push starts from that store.
pub async fn badge(app: &App, user: &UserId, pushed: Option<&Message>) -> Result<i64, AppError> {
    let memberships = repo::conversations::memberships_of(app.table(), user).await?;
    let keys: Vec<_> = memberships.iter().map(|m| keys::summary(&m.conversation_id)).collect();
    let summaries = app.table().batch_get(&keys).await?;
    memberships
        .iter()
        .map(|m: &Membership| {
            let mut s = pick(&summaries, &keys::summary(&m.conversation_id))
                .map(repo::conversations::Summary::from_item)
                .transpose()?
                .unwrap_or_default();
            if let Some(p) = pushed.filter(|p| p.conversation_id == m.conversation_id) {
                s.seq = s.seq.max(p.seq);
            }
            Ok(s.unread(user, m.read_seq))
        })
        .sum::<Result<i64, AppError>>()
}

/// One push of `event` to each of the user's devices with an endpoint, each claimed first.
async fn to_devices(
    app: &App,
    sns: &dyn PhonePush,
    user: &UserId,
    event: &str,
    pushed: Option<&Message>,
    note: impl Fn(i64) -> Note,
) -> Result<Pushed, AppError> {
    let devices: Vec<Device> =
        devices::list(app.table(), user).await?.into_iter().filter(|d| d.stored.endpoint_arn.is_some()).collect();
    if devices.is_empty() {
        return Ok(Pushed::default());
    }
    let note = note(badge(app, user, pushed).await?);
    let mut out = Pushed::default();
    for d in devices {
        let Some(endpoint) = d.stored.endpoint_arn.as_deref() else { continue };
        if !devices::claim_push(app.table(), event, &d.id, now_secs()).await? {
            continue; // already sent by an earlier delivery of this record
        }
        match sns.publish(endpoint, &note.sns_message(d.platform)?).await {
            Ok(()) => out.sent += 1,
            Err(PhonePushError::EndpointGone) => {
                // An invalid token (uninstalled app, expired): the device goes with its endpoint.
                tracing::info!(device = %d.id, "endpoint disabled; removing the device");
                if let Err(e) = sns.unregister(endpoint).await {
                    tracing::warn!(error = %e, "could not delete a disabled endpoint");
                }
                devices::remove(app.table(), &d).await?;
                out.removed += 1;
            }
            Err(e) => {
                devices::release_push(app.table(), event, &d.id).await?;
                return Err(e.into());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MessageId, UserId};

    fn presence(connected: bool, status: Status) -> Presence {
        Presence { conn_set: if connected { vec!["c1".into()] } else { vec![] }, status, ..Presence::default() }
    }

    #[test]
    fn who_gets_a_push() {
        let now = "2030-01-01T00:00:00.000Z";
        let plain = Settings::default();
        let plain = Settings { mentions_through_mute: true, ..plain };
        let muted = Settings { muted_until: Some("2031-01-01T00:00:00.000Z".into()), ..plain.clone() };
        let strict = Settings { mentions_through_mute: false, ..muted.clone() };
        let offline = presence(false, Status::Online);
        assert!(wants_push(Some(&offline), Some(&plain), false, now));
        assert!(wants_push(None, Some(&plain), false, now), "never connected");
        assert!(!wants_push(Some(&presence(true, Status::Online)), Some(&plain), true, now), "connected");
        assert!(!wants_push(Some(&presence(false, Status::Busy)), Some(&plain), false, now), "busy");
        assert!(wants_push(Some(&presence(false, Status::Busy)), Some(&plain), true, now), "a mention through busy");
        assert!(!wants_push(Some(&offline), Some(&muted), false, now), "muted");
        assert!(wants_push(Some(&offline), Some(&muted), true, now), "a mention through a mute");
        assert!(!wants_push(Some(&offline), Some(&strict), true, now));
        assert!(!wants_push(Some(&offline), None, false, now), "not a member");
        let ended = Settings { muted_until: Some("2029-01-01T00:00:00.000Z".into()), ..plain };
        assert!(wants_push(Some(&offline), Some(&ended), false, now));
    }

    #[test]
    fn a_long_text_is_clipped_and_the_sns_document_names_the_platform() {
        let alice = UserId::generate();
        let c = Conversation {
            id: ConversationId::direct(&alice, &UserId::generate()),
            kind: ConversationKind::Direct,
            name: None,
            owner_id: None,
            member_set: vec![],
            admin_set: vec![],
            created_at: String::new(),
            version: 0,
            policy: Default::default(),
            ban_set: vec![],
        };
        let m = Message {
            id: MessageId::generate(&c.id),
            conversation_id: c.id.clone(),
            sender_id: alice,
            text: "é".repeat(500),
            seq: 1,
            created_at: String::new(),
            client_message_id: None,
            deleted: false,
            edited_at: None,
            reactions: vec![],
            mentions: vec![],
            parent_id: None,
            also_in_conversation: false,
            reply_count: 0,
            last_reply_at: None,
            repliers: vec![],
            attachments: vec![],
            expires_at: None,
            sender_blocked: false,
        };
        let note = message_note(&c, "alice", &m, false, Preview::Full, 3);
        assert_eq!(note.body.as_deref().map(|b| b.chars().count()), Some(BODY_MAX + 1));
        let doc: serde_json::Value = serde_json::from_str(&note.sns_message(Platform::ApnsSandbox).unwrap()).unwrap();
        assert_eq!(doc["default"], "alice");
        let apns: serde_json::Value = serde_json::from_str(doc["APNS_SANDBOX"].as_str().unwrap()).unwrap();
        assert_eq!(apns["aps"]["badge"], 3);
        assert!(doc.get("GCM").is_none());
    }
}
