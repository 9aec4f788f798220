//! The JWT signing keys on Lambda: one Secrets Manager secret, read at cold start with
//! `GetSecretValue` (the only call the functions' role may make on it, on that one ARN) and
//! cached (`auth::Tokens`). Its `AWSCURRENT` version signs and verifies; after a rotation its
//! `AWSPREVIOUS` version still verifies for a grace period: the tokens' lifetime, plus the
//! time other instances may still sign with it (they read the keys again every
//! `auth::REFRESH`), plus the clock leeway. The rotation procedure: `infra/DEPLOY.md`.
//! Locally (gateway, tests) `JWT_SECRET` stays: `Config::jwt_secret`.

use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::{GetSecretValueError, GetSecretValueOutput};
use aws_sdk_secretsmanager::Client;

use crate::auth::{KeySet, SigningKey, REFRESH};
use crate::clock::now_secs;
use crate::error::AppError;

/// Where the keys come from: a secret's ARN and the client that reads it.
pub struct SecretsManagerKeys {
    client: Client,
    arn: String,
    /// Seconds `AWSPREVIOUS` stays accepted after the rotation; `None`: token lifetime +
    /// `REFRESH` + leeway.
    grace_secs: Option<i64>,
}

/// A signing secret must be at least this long (as `JWT_SECRET`).
pub const MIN_SECRET_BYTES: usize = 32;

impl SecretsManagerKeys {
    /// The client from the function's AWS configuration (its role; an endpoint from
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER` if set, as for every SDK client).
    pub fn new(sdk: &aws_config::SdkConfig, arn: impl Into<String>) -> Self {
        Self::with_client(Client::new(sdk), arn)
    }

    pub fn with_client(client: Client, arn: impl Into<String>) -> Self {
        Self { client, arn: arn.into(), grace_secs: None }
    }

    /// Another grace period for `AWSPREVIOUS` (tests).
    pub fn grace_secs(self, seconds: i64) -> Self {
        Self { grace_secs: Some(seconds), ..self }
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// `AWSCURRENT` and `AWSPREVIOUS` (absent before the first rotation), read concurrently.
    pub async fn fetch(&self, token_ttl_secs: i64) -> Result<KeySet, AppError> {
        let (current, previous) = tokio::join!(self.version("AWSCURRENT"), self.version("AWSPREVIOUS"));
        let current = current?.ok_or_else(|| AppError::internal(format!("{}: no AWSCURRENT version", self.arn)))?;
        let previous = previous?;
        // The rotation happened when the current version was created (that date is
        // Secrets Manager's; without it, now: the grace then starts late, never early).
        let rotated_at = current.created_date().map_or_else(now_secs, |d| d.secs());
        let grace = self.grace_secs.unwrap_or(token_ttl_secs + REFRESH.as_secs() as i64 + 5);
        Ok(KeySet {
            current: Some(key(&self.arn, &current)?),
            previous: previous.as_ref().map(|p| key(&self.arn, p)).transpose()?,
            previous_until: rotated_at.saturating_add(grace),
        })
    }

    async fn version(&self, stage: &str) -> Result<Option<GetSecretValueOutput>, AppError> {
        match self.client.get_secret_value().secret_id(&self.arn).version_stage(stage).send().await {
            Ok(out) => Ok(Some(out)),
            Err(SdkError::ServiceError(e)) if matches!(e.err(), GetSecretValueError::ResourceNotFoundException(_)) => {
                Ok(None)
            }
            Err(e) => Err(AppError::internal(format!(
                "GetSecretValue {} ({stage}): {}",
                self.arn,
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            ))),
        }
    }
}

fn key(arn: &str, out: &GetSecretValueOutput) -> Result<SigningKey, AppError> {
    let secret = out.secret_string().ok_or_else(|| AppError::internal(format!("{arn}: no SecretString")))?;
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AppError::internal(format!("{arn}: the secret is shorter than {MIN_SECRET_BYTES} bytes")));
    }
    Ok(SigningKey::new(out.version_id().unwrap_or("unknown"), secret.as_bytes()))
}
