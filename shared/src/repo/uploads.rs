//! Upload records: `UPLOAD#<id>` / `UPLOAD`, one per presigned upload. Unattached, a record
//! carries a `ttl` (the bucket's lifecycle removes the object in the same time); the send that
//! attaches it claims it in its transaction (`claim_op`) and the `ttl` goes.

use serde::{Deserialize, Serialize};

use super::{from_item, keys, to_item};
use crate::error::AppError;
use crate::ids::{ConversationId, MessageId, UploadId, UserId};
use crate::store::{Condition, Item, Table, Update, WriteOp};
use crate::uploads::{Attachment, ContentType, FileName, Purpose};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub id: UploadId,
    pub owner_id: UserId,
    pub purpose: Purpose,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    pub file_name: FileName,
    pub content_type: ContentType,
    pub size: i64,
    pub created_at: String,
    /// What it is attached to, once used: a message id (an attachment) or the owner's user id
    /// (an avatar, as their profile picture).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
    /// Set by the preview function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub thumbnail: bool,
}

impl Upload {
    pub fn attachment(&self) -> Attachment {
        Attachment {
            id: self.id.clone(),
            file_name: self.file_name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            width: self.width,
            height: self.height,
            thumbnail: self.content_type.has_preview(),
        }
    }
}

/// Records a new upload, expiring at `ttl` unless attached (one `PutItem`).
pub async fn put(table: &dyn Table, upload: &Upload, ttl: i64) -> Result<(), AppError> {
    let mut item = to_item(&keys::upload(&upload.id), upload)?;
    item.insert("ttl".into(), ttl.into());
    table.put(item, Some(Condition::NotExists)).await?;
    Ok(())
}

/// A record read (in a batch), `None` when missing or expired.
pub fn from_item_live(item: Option<Item>) -> Result<Option<Upload>, AppError> {
    match item {
        Some(i) if !crate::store::is_expired(&i, crate::clock::now_secs()) => Ok(Some(from_item(i)?)),
        _ => Ok(None),
    }
}

/// One `GetItem`.
pub async fn get(table: &dyn Table, id: &UploadId) -> Result<Option<Upload>, AppError> {
    from_item_live(table.get(&keys::upload(id), true).await?)
}

/// The send's claim of an upload: attached to `message` only if attached to nothing yet (the
/// transaction fails otherwise: one upload, one message), and no longer expiring.
pub fn claim_op(id: &UploadId, message: &MessageId) -> WriteOp {
    claim(id, message.as_str())
}

/// As `claim_op`, for `owner`'s profile picture.
pub fn claim_avatar_op(id: &UploadId, owner: &UserId) -> WriteOp {
    claim(id, owner.as_str())
}

fn claim(id: &UploadId, to: &str) -> WriteOp {
    WriteOp::Update {
        key: keys::upload(id),
        updates: vec![Update::Set("attachedTo".into(), to.into()), Update::Remove("ttl".into())],
        cond: Some(Condition::ExistsWithout("attachedTo".into())),
    }
}

/// The preview function's findings (one `UpdateItem`, only on an existing record).
pub async fn set_preview(
    table: &dyn Table,
    id: &UploadId,
    width: u32,
    height: u32,
    thumbnail: bool,
) -> Result<(), AppError> {
    let updates = vec![
        Update::Set("width".into(), width.into()),
        Update::Set("height".into(), height.into()),
        Update::Set("thumbnail".into(), thumbnail.into()),
    ];
    match table.update(&keys::upload(id), updates, Some(Condition::Exists)).await {
        Ok(_) | Err(crate::store::StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Forgets the records of a deleted message's files (one `DeleteItem` each, concurrently).
pub async fn delete_all(table: &dyn Table, ids: &[UploadId]) -> Result<(), AppError> {
    let each = ids.iter().map(|id| async move { table.delete(&keys::upload(id), None).await });
    for r in futures::future::join_all(each).await {
        r?;
    }
    Ok(())
}
