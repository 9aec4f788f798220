//! Phone push through SNS mobile push: a device's endpoint registered, a notification published
//! to it, the endpoint removed. The trait is in every build (the handlers are declared in every
//! binary); the SNS client only in the `sns` bundle (`functions::routes::Bundle::Sns`), built at
//! cold start like the other clients. Locally, `Recording` stands in for SNS in embedded mode: it
//! keeps every push it would send (an outbox the tests and `GET /@push` read).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

/// Why an SNS call failed.
#[derive(Debug, thiserror::Error)]
pub enum PhonePushError {
    /// The endpoint is disabled (`EndpointDisabled`: the platform refused its token) or gone
    /// (`NotFound`): its device is removed.
    #[error("endpoint disabled or gone")]
    EndpointGone,
    #[error("phone push failed: {0}")]
    Failed(String),
}

impl From<PhonePushError> for crate::AppError {
    fn from(e: PhonePushError) -> Self {
        crate::AppError::internal(e.to_string())
    }
}

#[async_trait]
pub trait PhonePush: Send + Sync + 'static {
    /// The endpoint of a device token under a platform application (APNs, FCM): its ARN.
    async fn register(&self, platform_application_arn: &str, device_token: &str) -> Result<String, PhonePushError>;
    /// One notification (`message`: SNS's per-platform JSON, `MessageStructure=json`).
    async fn publish(&self, endpoint_arn: &str, message: &str) -> Result<(), PhonePushError>;
    async fn unregister(&self, endpoint_arn: &str) -> Result<(), PhonePushError>;
}

#[async_trait]
impl<T: PhonePush + ?Sized> PhonePush for std::sync::Arc<T> {
    async fn register(&self, app: &str, token: &str) -> Result<String, PhonePushError> {
        (**self).register(app, token).await
    }
    async fn publish(&self, endpoint_arn: &str, message: &str) -> Result<(), PhonePushError> {
        (**self).publish(endpoint_arn, message).await
    }
    async fn unregister(&self, endpoint_arn: &str) -> Result<(), PhonePushError> {
        (**self).unregister(endpoint_arn).await
    }
}

/// One push the local SNS stand-in received.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub endpoint_arn: String,
    pub token: String,
    /// The `MessageStructure=json` document, parsed (its platform entries stay strings, as SNS
    /// takes them).
    pub message: Value,
}

#[derive(Default)]
struct RecordingState {
    /// endpoint ARN → (token, enabled)
    endpoints: HashMap<String, (String, bool)>,
    sent: Vec<Sent>,
    next: u64,
}

/// SNS as the local gateway's embedded mode sees it: endpoints in memory, every publish kept
/// (and appended to `outbox`, a JSON lines file, when given). Like SNS, registering a token
/// twice under one application gives the same endpoint; a disabled endpoint refuses publishes.
///
/// `tee`: the same record in front of a real client (the local gateway against moto's SNS):
/// every call goes to it, and the publishes it accepted are kept.
#[derive(Default)]
pub struct Recording {
    state: Mutex<RecordingState>,
    outbox: Option<PathBuf>,
    inner: Option<std::sync::Arc<dyn PhonePush>>,
}

impl Recording {
    pub fn new(outbox: Option<PathBuf>) -> Self {
        Self { state: Mutex::default(), outbox, inner: None }
    }

    pub fn tee(inner: std::sync::Arc<dyn PhonePush>, outbox: Option<PathBuf>) -> Self {
        Self { state: Mutex::default(), outbox, inner: Some(inner) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RecordingState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every push sent so far, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.state().sent.clone()
    }

    /// The endpoints that exist, with their tokens.
    pub fn endpoints(&self) -> Vec<(String, String)> {
        self.state().endpoints.iter().map(|(arn, (token, _))| (arn.clone(), token.clone())).collect()
    }

    /// What the platform does to an invalid token: the endpoint is disabled.
    pub fn disable(&self, endpoint_arn: &str) {
        if let Some(e) = self.state().endpoints.get_mut(endpoint_arn) {
            e.1 = false;
        }
    }
}

#[async_trait]
impl PhonePush for Recording {
    async fn register(&self, app: &str, token: &str) -> Result<String, PhonePushError> {
        if let Some(inner) = &self.inner {
            let arn = inner.register(app, token).await?;
            self.state().endpoints.insert(arn.clone(), (token.to_owned(), true));
            return Ok(arn);
        }
        let mut s = self.state();
        let prefix = format!("{}/", app.replacen(":app/", ":endpoint/", 1));
        if let Some((arn, _)) = s.endpoints.iter().find(|(arn, (t, _))| t == token && arn.starts_with(&prefix)) {
            return Ok(arn.clone());
        }
        s.next += 1;
        let arn = format!("{prefix}{:08}", s.next);
        s.endpoints.insert(arn.clone(), (token.to_owned(), true));
        Ok(arn)
    }

    async fn publish(&self, endpoint_arn: &str, message: &str) -> Result<(), PhonePushError> {
        if let Some(inner) = &self.inner {
            inner.publish(endpoint_arn, message).await?;
        }
        let sent = {
            let mut s = self.state();
            let token = match s.endpoints.get(endpoint_arn) {
                Some((token, true)) => token.clone(),
                Some((token, false)) if self.inner.is_some() => token.clone(),
                _ if self.inner.is_some() => String::new(),
                _ => return Err(PhonePushError::EndpointGone),
            };
            let message = serde_json::from_str(message).map_err(|e| PhonePushError::Failed(e.to_string()))?;
            let sent = Sent { endpoint_arn: endpoint_arn.to_owned(), token, message };
            s.sent.push(sent.clone());
            sent
        };
        if let Some(path) = &self.outbox {
            let line = serde_json::to_string(&sent).map_err(|e| PhonePushError::Failed(e.to_string()))?;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| PhonePushError::Failed(e.to_string()))?;
            writeln!(f, "{line}").map_err(|e| PhonePushError::Failed(e.to_string()))?;
        }
        Ok(())
    }

    async fn unregister(&self, endpoint_arn: &str) -> Result<(), PhonePushError> {
        if let Some(inner) = &self.inner {
            inner.unregister(endpoint_arn).await?;
        }
        self.state().endpoints.remove(endpoint_arn);
        Ok(())
    }
}

#[cfg(feature = "sns")]
pub use sns::SnsPhonePush;

#[cfg(feature = "sns")]
mod sns {
    use async_trait::async_trait;
    use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use aws_sdk_sns::Client;

    use super::{PhonePush, PhonePushError};

    pub struct SnsPhonePush {
        client: Client,
    }

    impl SnsPhonePush {
        /// `endpoint`: another SNS-compatible server (moto locally); AWS when `None`.
        pub fn new(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Self {
            let mut conf = aws_sdk_sns::config::Builder::from(sdk);
            if let Some(url) = endpoint {
                conf = conf.endpoint_url(url);
            }
            Self { client: Client::from_conf(conf.build()) }
        }
    }

    fn classify<E>(e: SdkError<E, aws_smithy_runtime_api::http::Response>) -> PhonePushError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match e.as_service_error().and_then(|s| s.code()) {
            Some("EndpointDisabled" | "NotFound") => PhonePushError::EndpointGone,
            _ => PhonePushError::Failed(DisplayErrorContext(&e).to_string()),
        }
    }

    #[async_trait]
    impl PhonePush for SnsPhonePush {
        async fn register(&self, app: &str, token: &str) -> Result<String, PhonePushError> {
            let out = self
                .client
                .create_platform_endpoint()
                .platform_application_arn(app)
                .token(token)
                .send()
                .await
                .map_err(classify)?;
            out.endpoint_arn()
                .map(str::to_owned)
                .ok_or_else(|| PhonePushError::Failed("CreatePlatformEndpoint: no ARN".into()))
        }

        async fn publish(&self, endpoint_arn: &str, message: &str) -> Result<(), PhonePushError> {
            let req = self.client.publish().target_arn(endpoint_arn).message_structure("json").message(message);
            req.send().await.map_err(classify)?;
            Ok(())
        }

        async fn unregister(&self, endpoint_arn: &str) -> Result<(), PhonePushError> {
            self.client.delete_endpoint().endpoint_arn(endpoint_arn).send().await.map_err(classify)?;
            Ok(())
        }
    }
}
