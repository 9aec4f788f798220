//! Uploads and attachments: files never pass through a function. A member asks for an upload
//! (`create`: a record and a presigned `PUT`), sends the file straight to the object store,
//! then names the upload in a message (`resolve` + `repo::uploads::claim_op` in the send's
//! transaction); members download through short-lived presigned URLs (`download_url`).

use std::time::Duration;

use serde::Serialize;

use super::Actor;
use crate::app::App;
use crate::attachments::Presigned;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::ids::{ConversationId, UploadId};
use crate::repo::uploads::{self as records, Upload};
use crate::repo::{self, conversations};
use crate::store::{Item, Key};
use crate::uploads::{object_key, thumbnail_key, ContentType, FileName, Purpose};

/// How long a presigned upload stays valid.
pub const UPLOAD_URL_SECS: u64 = 15 * 60;
/// How long a presigned download stays valid.
pub const DOWNLOAD_URL_SECS: u64 = 5 * 60;

/// A parsed `POST /api/uploads`.
#[derive(Debug)]
pub struct NewUpload {
    pub file_name: FileName,
    pub content_type: ContentType,
    pub size: i64,
    pub purpose: Purpose,
    pub conversation_id: Option<ConversationId>,
}

impl NewUpload {
    pub fn parse(
        app: &App,
        file_name: &str,
        content_type: &str,
        size: i64,
        purpose: Purpose,
        conversation_id: Option<&str>,
    ) -> Result<Self, AppError> {
        let limits = &app.config.uploads;
        let content_type = ContentType::parse(content_type, limits)?;
        let conversation_id = conversation_id.map(|c| ConversationId::from_request("conversationId", c)).transpose()?;
        match (purpose, &conversation_id) {
            (Purpose::Attachment, None) => {
                return Err(AppError::field("conversationId", "an attachment belongs to a conversation"))
            }
            (Purpose::Avatar, Some(_)) => {
                return Err(AppError::field("conversationId", "an avatar belongs to no conversation"))
            }
            (Purpose::Avatar, None) if !content_type.is_image() => {
                return Err(AppError::field("contentType", "an avatar is an image"))
            }
            _ => {}
        }
        Ok(Self {
            file_name: FileName::parse(file_name)?,
            content_type,
            size: crate::uploads::parse_size(size, limits)?,
            purpose,
            conversation_id,
        })
    }
}

/// The answer to `POST /api/uploads`: send the file with `upload`, then name `uploadId`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    pub upload_id: UploadId,
    /// The request to make: `PUT` the file's bytes to `url` with exactly these headers.
    pub upload: Presigned,
    /// When `upload` stops working.
    pub expires_at: String,
}

/// Records an upload and signs its request. An attachment's conversation must exist and have
/// the caller as a member (404 otherwise, as for a conversation one cannot see). One `GetItem`
/// (the conversation) and one `PutItem`, sequentially.
pub async fn create(app: &App, actor: &Actor, new: NewUpload) -> Result<UploadTicket, AppError> {
    if let Some(c) = &new.conversation_id {
        let conversation = conversations::get(app.table(), c).await?;
        if !conversation.is_some_and(|c| c.is_member(&actor.user_id)) {
            return Err(AppError::not_found("conversation"));
        }
    }
    let now = now_ms();
    let upload = Upload {
        id: UploadId::generate(),
        owner_id: actor.user_id.clone(),
        purpose: new.purpose,
        conversation_id: new.conversation_id,
        file_name: new.file_name,
        content_type: new.content_type,
        size: new.size,
        created_at: iso(now),
        attached_to: None,
        width: None,
        height: None,
        thumbnail: false,
    };
    let expires = Duration::from_secs(UPLOAD_URL_SECS);
    let presigned =
        app.objects()?.upload(&object_key(&upload.id), upload.content_type.as_str(), upload.size, expires).await?;
    records::put(app.table(), &upload, now_secs() + app.config.uploads.pending_secs).await?;
    Ok(UploadTicket { upload_id: upload.id, upload: presigned, expires_at: iso(now + UPLOAD_URL_SECS as i64 * 1000) })
}

/// Parses a send's `attachments`: upload ids, at most the configured number, each once.
pub fn parse_ids(app_limit: usize, ids: Option<Vec<String>>) -> Result<Vec<UploadId>, AppError> {
    let ids = ids.unwrap_or_default();
    if ids.len() > app_limit {
        return Err(AppError::field("attachments", format!("at most {app_limit} per message")));
    }
    let mut parsed: Vec<UploadId> = Vec::with_capacity(ids.len());
    for s in &ids {
        let id = UploadId::parse(s).ok_or_else(|| AppError::field("attachments", "not upload ids"))?;
        if parsed.contains(&id) {
            return Err(AppError::field("attachments", "an upload is named twice"));
        }
        parsed.push(id);
    }
    Ok(parsed)
}

/// The record keys a send reads in its first batch.
pub fn keys(ids: &[UploadId]) -> Vec<Key> {
    ids.iter().map(repo::keys::upload).collect()
}

/// Checks a send's uploads, read in its first batch: each the sender's, for this conversation,
/// not attached yet (404 for a missing or foreign upload, as for anything one cannot see; 409
/// for one already attached), and its object uploaded with the declared size and type
/// (`HeadObject`, concurrently; 409 otherwise: the upload's state, not the request, is wrong). Then the objects are kept (no longer pending);
/// the send's transaction claims the records.
pub async fn resolve(
    app: &App,
    actor: &Actor,
    conversation: &ConversationId,
    ids: &[UploadId],
    items: &[Item],
) -> Result<Vec<Upload>, AppError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut uploads = Vec::with_capacity(ids.len());
    for id in ids {
        let upload = records::from_item_live(repo::pick(items, &repo::keys::upload(id)))?
            .filter(|u| u.owner_id == actor.user_id && u.purpose == Purpose::Attachment)
            .filter(|u| u.conversation_id.as_ref() == Some(conversation))
            .ok_or_else(|| AppError::not_found("upload"))?;
        if upload.attached_to.is_some() {
            return Err(AppError::Conflict("an upload is already attached to a message".into()));
        }
        uploads.push(upload);
    }
    let objects = app.objects()?;
    let heads =
        futures::future::try_join_all(uploads.iter().map(|u| async move { objects.head(&object_key(&u.id)).await }))
            .await?;
    for (u, head) in uploads.iter().zip(heads) {
        let head = head.ok_or_else(|| AppError::Conflict("attachments: a file was not uploaded".into()))?;
        let same_type =
            head.content_type.as_deref().map(str::to_ascii_lowercase).as_deref() == Some(u.content_type.as_str());
        if head.size != u.size || !same_type {
            return Err(AppError::Conflict("attachments: a file differs from its declared size or type".into()));
        }
    }
    let keeps = uploads.iter().flat_map(|u| {
        let thumb = u.thumbnail.then(|| thumbnail_key(&u.id));
        std::iter::once(object_key(&u.id)).chain(thumb)
    });
    let keeps: Vec<String> = keeps.collect();
    futures::future::try_join_all(keeps.iter().map(|k| objects.keep(k))).await?;
    Ok(uploads)
}

/// A short-lived URL of an attachment's file (or of its preview) for a member of its
/// conversation (or an admin); 404 alike for a missing upload, an unattached one and a non-member: the record
/// (its conversation), then the caller's membership (one `GetItem` each).
pub async fn download_url(app: &App, actor: &Actor, id: &UploadId, thumbnail: bool) -> Result<String, AppError> {
    let missing = || AppError::not_found("attachment");
    let upload = records::get(app.table(), id).await?.ok_or_else(missing)?;
    let visible = match (&upload.attached_to, &upload.conversation_id, upload.purpose) {
        // An avatar is public to signed-in users once it is someone's profile picture.
        (_, None, Purpose::Avatar) => upload.attached_to.is_some() || upload.owner_id == actor.user_id,
        // Admins read every conversation's history, files included.
        (Some(_), Some(_), Purpose::Attachment) if actor.is_admin() => true,
        (Some(_), Some(c), Purpose::Attachment) => {
            let membership = app.table().get(&repo::keys::membership(&actor.user_id, c), false).await?;
            membership.is_some()
        }
        _ => false,
    };
    if !visible || (thumbnail && !upload.thumbnail) {
        return Err(missing());
    }
    let key = if thumbnail { thumbnail_key(id) } else { object_key(id) };
    app.objects()?.download_url(&key, Duration::from_secs(DOWNLOAD_URL_SECS)).await
}

/// What a profile picture made of an avatar upload points to: the download route of the upload.
pub fn avatar_path(id: &UploadId) -> String {
    format!("/api/attachments/{id}")
}

/// The answer of `PUT /api/users/me/avatar`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AvatarSet {
    /// The caller's new `profilePicture`: `GET` it (a redirect to the image).
    pub profile_picture: String,
}

/// The caller's profile picture becomes their avatar upload `id` (an image they uploaded, as
/// declared; 404 for anything else, 409 when already used). The record (`GetItem`) ‖ the
/// session; the object checked (`HeadObject`) and kept; one transaction: the record claimed,
/// the user's `profilePicture` set. The previous avatar's files and record go.
pub async fn set_avatar<A>(app: &App, actor: &Actor, authenticate: A, id: &UploadId) -> Result<AvatarSet, AppError>
where
    A: std::future::Future<Output = Result<(), AppError>>,
{
    let (_, upload, user) = tokio::try_join!(
        authenticate,
        records::get(app.table(), id),
        crate::repo::users::get(app.table(), &actor.user_id)
    )?;
    let upload = upload
        .filter(|u| u.owner_id == actor.user_id && u.purpose == Purpose::Avatar)
        .ok_or_else(|| AppError::not_found("upload"))?;
    if upload.attached_to.is_some() {
        return Err(AppError::Conflict("this upload is already used".into()));
    }
    let user = user.ok_or_else(|| AppError::not_found("user"))?;
    let objects = app.objects()?;
    let head = objects
        .head(&object_key(id))
        .await?
        .ok_or_else(|| AppError::Conflict("uploadId: the file was not uploaded".into()))?;
    if head.size != upload.size
        || head.content_type.as_deref().map(str::to_ascii_lowercase).as_deref() != Some(upload.content_type.as_str())
    {
        return Err(AppError::Conflict("uploadId: the file differs from its declared size or type".into()));
    }
    objects.keep(&object_key(id)).await?;
    if upload.thumbnail {
        objects.keep(&thumbnail_key(id)).await?;
    }
    let picture = avatar_path(id);
    let ops = vec![
        records::claim_avatar_op(id, &actor.user_id),
        crate::store::WriteOp::Update {
            key: repo::keys::user(&actor.user_id),
            updates: vec![crate::store::Update::Set("profilePicture".into(), picture.clone().into())],
            cond: Some(crate::store::Condition::Exists),
        },
    ];
    match app.table().transact(ops).await {
        Ok(()) => {}
        Err(crate::store::StoreError::TransactionCancelled { failed }) if failed.contains(&0) => {
            return Err(AppError::Conflict("this upload is already used".into()))
        }
        Err(crate::store::StoreError::TransactionCancelled { .. }) => return Err(AppError::not_found("user")),
        Err(e) => return Err(e.into()),
    }
    // The previous avatar, if it was one of ours, is no longer anyone's.
    let previous = user
        .profile
        .profile_picture
        .as_deref()
        .and_then(|p| p.strip_prefix("/api/attachments/"))
        .and_then(UploadId::parse);
    if let Some(previous) = previous.filter(|p| p != id) {
        let gone = async {
            objects.delete(&object_key(&previous)).await?;
            objects.delete(&thumbnail_key(&previous)).await?;
            records::delete_all(app.table(), std::slice::from_ref(&previous)).await
        };
        if let Err(e) = gone.await {
            tracing::warn!(error = %e, "could not delete the previous avatar");
        }
    }
    Ok(AvatarSet { profile_picture: picture })
}

/// Deletes the files (and previews) of a deleted message, then their records. Failures are
/// logged: the message is deleted either way.
pub async fn delete_files(app: &App, attachments: &[crate::uploads::Attachment]) {
    if attachments.is_empty() {
        return;
    }
    let ids: Vec<UploadId> = attachments.iter().map(|a| a.id.clone()).collect();
    let result = async {
        let objects = app.objects()?;
        let keys: Vec<String> = ids.iter().flat_map(|id| [object_key(id), thumbnail_key(id)]).collect();
        futures::future::try_join_all(keys.iter().map(|k| objects.delete(k))).await?;
        records::delete_all(app.table(), &ids).await
    };
    if let Err(e) = result.await {
        tracing::error!(error = %e, "could not delete a deleted message's files");
    }
}
