//! The bucket notification of the embedded mode: an upload of an image runs the preview
//! function's code (`thumbnail::preview`, the same limits) in-process before the `PUT` is
//! answered, so a client sees the preview as soon as its upload succeeded.

use chat::repo::uploads as records;

use crate::objects::LocalObjects;
use crate::Gateway;

pub async fn on_upload(gw: &Gateway, objects: &LocalObjects, key: &str) {
    let Some(id) = thumbnail::upload_of(key).and_then(chat::ids::UploadId::parse) else { return };
    // The object's signed type decides first: no record is read for a file that is no image.
    let Some((content_type, bytes)) = objects.get(key).filter(|(t, _)| thumbnail::handles(t)) else { return };
    let Ok(Some(upload)) = records::get(gw.app.table(), &id).await else { return };
    if upload.content_type.as_str() != content_type {
        return;
    }
    // Decoding is CPU work: off the async workers, as its own Lambda function would be.
    let content_type = upload.content_type.as_str().to_owned();
    let preview = tokio::task::spawn_blocking(move || thumbnail::preview(&bytes, &content_type)).await;
    let preview = match preview {
        Ok(Ok(p)) => p,
        Ok(Err(refused)) => {
            tracing::warn!(key, %refused, "no preview");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "preview task failed");
            return;
        }
    };
    let thumb = chat::uploads::thumbnail_key(&id);
    let pending = upload.attached_to.is_none();
    if let Err(e) = objects.put_preview(&thumb, thumbnail::CONTENT_TYPE, preview.bytes, pending) {
        tracing::error!(error = %e, "could not store a preview");
        return;
    }
    if let Err(e) = records::set_preview(gw.app.table(), &id, preview.width, preview.height, true).await {
        tracing::error!(error = %e, "could not record a preview");
    }
}
