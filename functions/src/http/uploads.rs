//! Uploads (`POST /api/uploads`: a presigned request to the object store) and attachments'
//! downloads (`GET /api/attachments/{id}`: 302 to a short-lived URL).

use chat::ids::UploadId;
use chat::service::uploads::{self, NewUpload};
use chat::uploads::Purpose;
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

use super::{body, caller, concurrent_session, flag, path_id, Reply};

/// `POST /api/uploads`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = chat::uploads::schema::avatar_is_an_image))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUpload {
    /// Shown to the other members: 1 to 255 characters, no path separator or control character.
    #[cfg_attr(feature = "schema", schemars(with = "chat::uploads::schema::FileNameSchema"))]
    file_name: String,
    /// One of the accepted types (images, PDF, plain text, office, audio, video; configurable).
    #[cfg_attr(feature = "schema", schemars(with = "chat::uploads::schema::ContentTypeSchema"))]
    content_type: String,
    /// Bytes, 1 to the configured maximum (25 MB by default); the upload must be exactly this.
    #[cfg_attr(feature = "schema", schemars(with = "chat::uploads::schema::SizeSchema"))]
    #[serde(deserialize_with = "chat::uploads::integral")]
    size: i64,
    purpose: Purpose,
    /// The conversation of an attachment (its members only); none for an avatar.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::ids::ConversationId>"))]
    conversation_id: Option<String>,
}

pub async fn create(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: CreateUpload = body(&req)?;
    let caller = caller(app, &req).await?;
    let new = NewUpload::parse(app, &b.file_name, &b.content_type, b.size, b.purpose, b.conversation_id.as_deref())?;
    Ok(Reply::created(uploads::create(app, &caller.actor(), new).await?))
}

/// `?thumbnail=true`: the preview of an image.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct DownloadQuery {
    pub thumbnail: Option<bool>,
}

/// The file's URL, valid a few minutes; 404 alike for what does not exist and what the caller
/// may not see.
pub async fn download(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = path_id(&req, "id", UploadId::parse, "attachment")?;
    let thumbnail = flag(&req, "thumbnail")?;
    Ok(Reply::redirect(uploads::download_url(app, &caller.actor(), &id, thumbnail).await?))
}

/// `PUT /api/users/me/avatar`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetAvatar {
    /// An avatar upload of the caller's (`purpose: "avatar"`), uploaded.
    #[cfg_attr(feature = "schema", schemars(with = "UploadId"))]
    upload_id: String,
}

/// The caller's `profilePicture` becomes their avatar upload.
pub async fn set_avatar(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: SetAvatar = body(&req)?;
    let id = UploadId::parse(&b.upload_id).ok_or_else(|| AppError::field("uploadId", "not an upload id"))?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    Ok(Reply::ok(uploads::set_avatar(app, &actor, session, &id).await?))
}
