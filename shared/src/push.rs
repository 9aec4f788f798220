//! Real-time push through the API Gateway `@connections` management API.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures::{stream, StreamExt};

use crate::metrics::{self, Metric};

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// 410: the connection is gone; the caller removes it.
    #[error("connection gone")]
    Gone,
    #[error("push failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Push: Send + Sync + 'static {
    async fn post(&self, connection_id: &str, payload: Vec<u8>) -> Result<(), PushError>;
    async fn close(&self, connection_id: &str) -> Result<(), PushError>;
}

#[async_trait]
impl<T: Push + ?Sized> Push for Arc<T> {
    async fn post(&self, connection_id: &str, payload: Vec<u8>) -> Result<(), PushError> {
        (**self).post(connection_id, payload).await
    }
    async fn close(&self, connection_id: &str) -> Result<(), PushError> {
        (**self).close(connection_id).await
    }
}

/// The real client, built once per cold start.
pub struct ApiGatewayPush {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewayPush {
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(sdk).endpoint_url(endpoint).build();
        Self { client: aws_sdk_apigatewaymanagement::Client::from_conf(conf) }
    }
}

type SdkError<E> = aws_sdk_apigatewaymanagement::error::SdkError<E, aws_smithy_runtime_api::http::Response>;

fn classify<E>(e: SdkError<E>) -> PushError
where
    E: aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    if status == Some(410) || e.as_service_error().and_then(|s| s.code()) == Some("GoneException") {
        PushError::Gone
    } else {
        PushError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string())
    }
}

#[async_trait]
impl Push for ApiGatewayPush {
    async fn post(&self, connection_id: &str, payload: Vec<u8>) -> Result<(), PushError> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn close(&self, connection_id: &str) -> Result<(), PushError> {
        match self.client.delete_connection().connection_id(connection_id).send().await.map_err(classify) {
            Err(PushError::Gone) | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// No WebSocket API configured: pushes go nowhere.
pub struct NoPush;

#[async_trait]
impl Push for NoPush {
    async fn post(&self, _: &str, _: Vec<u8>) -> Result<(), PushError> {
        Ok(())
    }
    async fn close(&self, _: &str) -> Result<(), PushError> {
        Ok(())
    }
}

/// At most this many posts in flight per invocation.
pub const PUSH_CONCURRENCY: usize = 64;

/// A post that has not answered by then is given up: a stuck `@connections` endpoint must not
/// hold the acknowledgement of a message that is already stored.
pub const PUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Posts every `(connection, payload)` concurrently (bounded); returns the connections that
/// answered 410 Gone. Other failures and timeouts are logged: push is best effort (SPEC §5).
/// Counts every call (`PushesAttempted`) and its outcome (`PushesDelivered`, `PushesGone`,
/// `PushesFailed`, a timeout among the failures).
pub async fn fan_out(push: &Arc<dyn Push>, deliveries: Vec<(String, Vec<u8>)>) -> Vec<String> {
    metrics::add(Metric::PushesAttempted, deliveries.len() as u64);
    stream::iter(deliveries)
        .map(|(conn, payload)| async move {
            match tokio::time::timeout(PUSH_TIMEOUT, push.post(&conn, payload)).await {
                Ok(Ok(())) => {
                    metrics::add(Metric::PushesDelivered, 1);
                    None
                }
                Ok(Err(PushError::Gone)) => {
                    metrics::add(Metric::PushesGone, 1);
                    Some(conn)
                }
                Ok(Err(e)) => {
                    metrics::add(Metric::PushesFailed, 1);
                    tracing::warn!(connection = %conn, error = %e, "push failed");
                    None
                }
                Err(_) => {
                    metrics::add(Metric::PushesFailed, 1);
                    tracing::warn!(connection = %conn, "push timed out");
                    None
                }
            }
        })
        .buffer_unordered(PUSH_CONCURRENCY)
        .filter_map(|gone| async move { gone })
        .collect()
        .await
}
