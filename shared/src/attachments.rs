//! The object store of attachments: presigned upload and download requests, an object's size and
//! type, keeping an upload, deletion. The trait is always here (the services call it); the S3
//! client behind it is linked only by the binary of the functions whose declarations call S3
//! (feature `s3`, `functions::routes::Bundle::S3`), built at cold start like the other clients.
//! The local gateway has its own implementation (it serves the presigned requests itself).
//!
//! Keys: `uploads/<uploadId>` (the file), `thumbs/<uploadId>` (its preview). An upload is
//! tagged `pending=true` when it is signed; the bucket's lifecycle removes pending objects after
//! a day, and attaching one takes the tag away (`keep`), so nothing unattached outlives a day.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::error::AppError;

/// The tag (`key=value`) of an upload not attached yet: the lifecycle rule's filter.
pub const PENDING_TAG: &str = "pending=true";

/// A request the client makes to the object store itself: `method` to `url` with exactly
/// these headers (they are part of the signature).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Presigned {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

/// What the store says of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: i64,
    pub content_type: Option<String>,
}

#[async_trait]
pub trait Attachments: Send + Sync + 'static {
    /// A `PUT` of exactly `size` bytes of `content_type` to `key`, tagged pending.
    async fn upload(&self, key: &str, content_type: &str, size: i64, expires: Duration) -> Result<Presigned, AppError>;
    /// A URL the client `GET`s the object from.
    async fn download_url(&self, key: &str, expires: Duration) -> Result<String, AppError>;
    /// The object's size and type, `None` when there is none (`HeadObject`).
    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, AppError>;
    /// The object is attached: no longer pending, the lifecycle leaves it alone.
    async fn keep(&self, key: &str) -> Result<(), AppError>;
    /// Deletes the object (nothing when there is none).
    async fn delete(&self, key: &str) -> Result<(), AppError>;
}

/// Refuses a call outside the invocation's grant, as IAM would (`iam::denied`).
pub fn check(action: crate::iam::Action) -> Result<(), AppError> {
    match crate::iam::denied(&[action]) {
        Some((function, action)) => {
            Err(AppError::internal(format!("AccessDenied: {function} may not call {}", action.iam_name())))
        }
        None => Ok(()),
    }
}

#[cfg(feature = "s3")]
pub use s3::S3Attachments;

#[cfg(feature = "s3")]
mod s3 {
    use std::time::Duration;

    use async_trait::async_trait;
    use aws_sdk_s3::presigning::PresigningConfig;
    use aws_sdk_s3::Client;

    use super::{check, Attachments, ObjectHead, Presigned, PENDING_TAG};
    use crate::error::AppError;
    use crate::iam::Action;

    pub struct S3Attachments {
        client: Client,
        bucket: String,
    }

    impl S3Attachments {
        /// The bucket is `ATTACHMENTS_BUCKET` (the template sets it for these functions).
        pub fn new(sdk: &aws_config::SdkConfig) -> Self {
            Self { client: Client::new(sdk), bucket: std::env::var("ATTACHMENTS_BUCKET").unwrap_or_default() }
        }

        /// An S3-compatible server at `endpoint` (path-style addressing: `moto_server`).
        pub fn with_endpoint(sdk: &aws_config::SdkConfig, endpoint: &str, bucket: &str) -> Self {
            let config = aws_sdk_s3::config::Builder::from(sdk).endpoint_url(endpoint).force_path_style(true).build();
            Self { client: Client::from_conf(config), bucket: bucket.to_owned() }
        }

        /// Creates the bucket when missing (local servers only; the template creates it on AWS).
        pub async fn create_bucket_if_missing(&self) -> Result<(), AppError> {
            if self.client.head_bucket().bucket(&self.bucket).send().await.is_ok() {
                return Ok(());
            }
            self.client.create_bucket().bucket(&self.bucket).send().await.map_err(s3_error)?;
            Ok(())
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
        async fn upload(
            &self,
            key: &str,
            content_type: &str,
            size: i64,
            expires: Duration,
        ) -> Result<Presigned, AppError> {
            check(Action::PutObject)?;
            // Length, type and tag are signed headers: S3 refuses a body of another length.
            let req = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .content_length(size)
                .tagging(PENDING_TAG);
            let signed = req.presigned(presigning(expires)?).await.map_err(s3_error)?;
            let mut headers: std::collections::BTreeMap<String, String> =
                signed.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            headers.insert("content-length".into(), size.to_string());
            Ok(Presigned { method: "PUT".into(), url: signed.uri().to_owned(), headers })
        }

        async fn download_url(&self, key: &str, expires: Duration) -> Result<String, AppError> {
            check(Action::GetObject)?;
            let req = self.client.get_object().bucket(&self.bucket).key(key);
            Ok(req.presigned(presigning(expires)?).await.map_err(s3_error)?.uri().to_owned())
        }

        async fn head(&self, key: &str) -> Result<Option<ObjectHead>, AppError> {
            check(Action::GetObject)?;
            match self.client.head_object().bucket(&self.bucket).key(key).send().await {
                Ok(head) => Ok(Some(ObjectHead {
                    size: head.content_length().unwrap_or(0),
                    content_type: head.content_type().map(str::to_owned),
                })),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
                Err(e) => Err(s3_error(e)),
            }
        }

        async fn keep(&self, key: &str) -> Result<(), AppError> {
            check(Action::DeleteObjectTagging)?;
            self.client.delete_object_tagging().bucket(&self.bucket).key(key).send().await.map_err(s3_error)?;
            Ok(())
        }

        async fn delete(&self, key: &str) -> Result<(), AppError> {
            check(Action::DeleteObject)?;
            self.client.delete_object().bucket(&self.bucket).key(key).send().await.map_err(s3_error)?;
            Ok(())
        }
    }
}
