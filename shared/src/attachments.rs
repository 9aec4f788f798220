//! Attachments in S3 (feature `s3`): presigned upload and download URLs, the size of an upload,
//! deletion. Only the binary of the functions whose declarations call S3 links this
//! (`functions::routes::Bundle::S3`); built at cold start like the other clients. The routes
//! that use it arrive with the attachments issue; until then it sizes that binary
//! (docs/PERFORMANCE.md): a trait object links every operation below, as the routes will.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client;

use crate::error::AppError;

#[async_trait]
pub trait Attachments: Send + Sync + 'static {
    /// A URL the client `PUT`s the file to (`content_type` is part of the signature).
    async fn upload_url(&self, key: &str, content_type: &str, expires: Duration) -> Result<String, AppError>;
    /// A URL the client `GET`s the file from.
    async fn download_url(&self, key: &str, expires: Duration) -> Result<String, AppError>;
    /// The uploaded object's size, `None` when nothing was uploaded.
    async fn size(&self, key: &str) -> Result<Option<i64>, AppError>;
    async fn delete(&self, key: &str) -> Result<(), AppError>;
}

pub struct S3Attachments {
    client: Client,
    bucket: String,
}

impl S3Attachments {
    /// The bucket is `ATTACHMENTS_BUCKET` (the template sets it for these functions).
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self { client: Client::new(sdk), bucket: std::env::var("ATTACHMENTS_BUCKET").unwrap_or_default() }
    }
}

fn presigning(expires: Duration) -> Result<PresigningConfig, AppError> {
    PresigningConfig::expires_in(expires).map_err(AppError::internal)
}

fn s3_error(e: impl std::error::Error + Send + Sync + 'static) -> AppError {
    AppError::internal(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

#[async_trait]
impl Attachments for S3Attachments {
    async fn upload_url(&self, key: &str, content_type: &str, expires: Duration) -> Result<String, AppError> {
        let req = self.client.put_object().bucket(&self.bucket).key(key).content_type(content_type);
        Ok(req.presigned(presigning(expires)?).await.map_err(s3_error)?.uri().to_owned())
    }

    async fn download_url(&self, key: &str, expires: Duration) -> Result<String, AppError> {
        let req = self.client.get_object().bucket(&self.bucket).key(key);
        Ok(req.presigned(presigning(expires)?).await.map_err(s3_error)?.uri().to_owned())
    }

    async fn size(&self, key: &str) -> Result<Option<i64>, AppError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(head) => Ok(head.content_length()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(s3_error(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), AppError> {
        self.client.delete_object().bucket(&self.bucket).key(key).send().await.map_err(s3_error)?;
        Ok(())
    }
}
