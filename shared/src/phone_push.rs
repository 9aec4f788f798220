//! Phone push through SNS mobile push (feature `sns`): a device's endpoint registered, a
//! notification published to it, the endpoint removed. Only the binary of the functions whose
//! declarations call SNS links this (`functions::routes::Bundle::Sns`); built at cold start like
//! the other clients. The routes that use it arrive with the phone push issue; until then it
//! sizes that binary (docs/PERFORMANCE.md): a trait object links every operation below.

use async_trait::async_trait;
use aws_sdk_sns::Client;

use crate::error::AppError;

#[async_trait]
pub trait PhonePush: Send + Sync + 'static {
    /// The endpoint of a device token under a platform application (APNs, FCM): its ARN.
    async fn register(&self, platform_application_arn: &str, device_token: &str) -> Result<String, AppError>;
    /// One notification (`message`: SNS's per-platform JSON, `MessageStructure=json`).
    async fn publish(&self, endpoint_arn: &str, message: &str) -> Result<(), AppError>;
    async fn unregister(&self, endpoint_arn: &str) -> Result<(), AppError>;
}

pub struct SnsPhonePush {
    client: Client,
}

impl SnsPhonePush {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self { client: Client::new(sdk) }
    }
}

fn sns_error(e: impl std::error::Error + Send + Sync + 'static) -> AppError {
    AppError::internal(aws_sdk_sns::error::DisplayErrorContext(e).to_string())
}

#[async_trait]
impl PhonePush for SnsPhonePush {
    async fn register(&self, platform_application_arn: &str, device_token: &str) -> Result<String, AppError> {
        let out = self
            .client
            .create_platform_endpoint()
            .platform_application_arn(platform_application_arn)
            .token(device_token)
            .send()
            .await
            .map_err(sns_error)?;
        out.endpoint_arn().map(str::to_owned).ok_or_else(|| AppError::internal("CreatePlatformEndpoint: no ARN"))
    }

    async fn publish(&self, endpoint_arn: &str, message: &str) -> Result<(), AppError> {
        let req = self.client.publish().target_arn(endpoint_arn).message_structure("json").message(message);
        req.send().await.map_err(sns_error)?;
        Ok(())
    }

    async fn unregister(&self, endpoint_arn: &str) -> Result<(), AppError> {
        self.client.delete_endpoint().endpoint_arn(endpoint_arn).send().await.map_err(sns_error)?;
        Ok(())
    }
}
