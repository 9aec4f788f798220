//! Everything a handler needs, built once per cold start (or once per local gateway).

use std::sync::Arc;

use aws_config::BehaviorVersion;

use crate::auth::{Claims, Hasher, Tokens};
use crate::config::{Config, StoreKind};
use crate::error::AppError;
use crate::ids::{TokenId, UserId};
use crate::models::{Role, User};
use crate::push::{ApiGatewayPush, NoPush, Push};
use crate::repo;
use crate::store::{DynamoTable, Key, Metered, StoreError, Table};

pub struct App {
    pub config: Config,
    pub table: Arc<dyn Table>,
    pub tokens: Tokens,
    pub hasher: Hasher,
    pub push: Arc<dyn Push>,
    /// Attachments (S3): in the binaries built with the `s3` feature, built at cold start; the
    /// local gateway's own object store locally.
    pub attachments: Option<Arc<dyn crate::attachments::Attachments>>,
    /// Phone push (SNS): in the binaries built with the `sns` feature, built at cold start.
    /// In the binaries built with the `sns` feature (and the local gateway's stand-in); push is
    /// on for a platform when its application is configured (`Config::push`).
    pub phone_push: Option<Arc<dyn crate::phone_push::PhonePush>>,
}

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub claims: Claims,
}

impl Caller {
    pub fn id(&self) -> &crate::ids::UserId {
        &self.user.id
    }
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }
}

impl App {
    /// Builds the store and push clients from `config` (AWS configuration from the environment),
    /// reads the signing keys from Secrets Manager when `config.jwt_secret_arn` names them, and
    /// opens the store's connection (`warm`) meanwhile: what a cold start does.
    pub async fn build(config: Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let needs_aws = matches!(config.store, StoreKind::Dynamo { .. })
            || config.ws_endpoint.is_some()
            || config.jwt_secret_arn.is_some()
            || cfg!(any(feature = "s3", feature = "sns"));
        let sdk = if needs_aws {
            let mut loader = aws_config::defaults(BehaviorVersion::latest());
            if let Some(client) = config.tls_roots.http_client() {
                loader = loader.http_client(client);
            }
            Some(loader.load().await)
        } else {
            None
        };
        let mut app = Self::build_with_sdk(config, sdk.clone())?;
        #[cfg(feature = "s3")]
        if let Some(sdk) = &sdk {
            app.attachments = Some(Arc::new(crate::attachments::S3Attachments::new(sdk)));
        }
        #[cfg(feature = "sns")]
        if let Some(sdk) = &sdk {
            app.phone_push =
                Some(Arc::new(crate::phone_push::SnsPhonePush::new(sdk, app.config.push.endpoint.as_deref())));
        }
        match (app.config.jwt_secret_arn.clone(), &sdk) {
            (Some(arn), Some(sdk)) => {
                let source = crate::secrets::SecretsManagerKeys::new(sdk, arn);
                let (tokens, ()) = tokio::join!(Tokens::from_secrets_manager(&app.config, source), app.warm());
                app.tokens = tokens?;
            }
            _ => app.warm().await,
        }
        Ok(app)
    }

    /// As `build`, with an explicit AWS configuration (the local gateway's).
    pub fn build_with_sdk(config: Config, sdk: Option<aws_config::SdkConfig>) -> Result<Self, StoreError> {
        let table: Arc<dyn Table> = match (&config.store, &sdk) {
            (StoreKind::Dynamo { table, endpoint }, Some(sdk)) => {
                Arc::new(DynamoTable::new(DynamoTable::client_from_config(sdk, endpoint.as_deref()), table.clone()))
            }
            #[cfg(feature = "embedded")]
            (StoreKind::Embedded { dir }, _) => Arc::new(crate::store::EmbeddedTable::open(dir)?),
            #[cfg(feature = "embedded")]
            _ => Arc::new(crate::store::EmbeddedTable::in_memory()?),
            // A Lambda binary: DynamoDB only (`Config::from_env` selects it outside `CHAT_ENV=local`).
            #[cfg(not(feature = "embedded"))]
            (kind, _) => {
                return Err(StoreError::Other(format!("{kind:?}: this binary is built without the embedded store")))
            }
        };
        let push: Arc<dyn Push> = match (&config.ws_endpoint, &sdk) {
            (Some(endpoint), Some(sdk)) => Arc::new(ApiGatewayPush::new(sdk, endpoint)),
            _ => Arc::new(NoPush),
        };
        Ok(Self::with_parts(config, table, push))
    }

    /// Every store is counted into the invocation's metrics (`store::Metered`).
    pub fn with_parts(config: Config, table: Arc<dyn Table>, push: Arc<dyn Push>) -> Self {
        let (tokens, hasher) = (Tokens::new(&config), Hasher::new(config.hash_queue));
        Self { config, table: Arc::new(Metered(table)), tokens, hasher, push, attachments: None, phone_push: None }
    }

    /// The object store; a function built without it fails as it would on Lambda.
    pub fn objects(&self) -> Result<&dyn crate::attachments::Attachments, AppError> {
        self.attachments.as_deref().ok_or_else(|| AppError::internal("this function has no object store"))
    }

    pub fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    /// Opens the store's connection during init, so the first request does not pay for the
    /// TLS handshake. Failures are only logged: the request path reports them properly.
    pub async fn warm(&self) {
        if let Err(e) = self.table.get(&Key::new("WARMUP", "WARMUP"), false).await {
            tracing::warn!(error = %e, "store warm-up failed");
        }
    }

    /// A valid token of a live user, not revoked, not older than the user's last password
    /// change: one `BatchGetItem`. The role is the stored one, not the token's.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Caller, AppError> {
        self.session(self.verify_fresh(token).await?).await
    }

    /// As `verify`, reading the signing keys again first when the signature matches none of
    /// them (Secrets Manager only: another instance may sign with a key rotated in since).
    pub async fn verify_fresh(&self, token: Option<&str>) -> Result<Claims, AppError> {
        let token = token.ok_or_else(|| AppError::Unauthorized("authentication required".into()))?;
        self.tokens.verify_fresh(token).await
    }

    /// The token's signature and claims, without the store (the first half of `authenticate`).
    pub fn verify(&self, token: Option<&str>) -> Result<Claims, AppError> {
        let token = token.ok_or_else(|| AppError::Unauthorized("authentication required".into()))?;
        self.tokens.verify(token)
    }

    /// The second half of `authenticate`: the verified claims' user, live and not revoked.
    pub async fn session(&self, claims: Claims) -> Result<Caller, AppError> {
        let user = self.live_user(&claims.sub, &claims.jti).await?;
        Ok(Caller { user, claims })
    }

    /// The user of token `jti`, when both are still valid (the user exists, the token is not
    /// revoked nor older than the last password change): one `BatchGetItem`. The role is the
    /// stored one.
    pub async fn live_user(&self, user: &UserId, jti: &TokenId) -> Result<User, AppError> {
        let (user, revoked) = repo::users::session(self.table(), user, jti).await?;
        let invalid = || AppError::Unauthorized("invalid or expired token".into());
        let user = user.ok_or_else(invalid)?;
        let stale = user.tokens_valid_after.as_deref().is_some_and(|after| jti.as_str() < after);
        if revoked || stale {
            return Err(invalid());
        }
        // A suspension revokes every token (`tokensValidAfter`); this also refuses one issued
        // by a login that raced it.
        if let Some(until) = user.suspension(&crate::clock::iso(crate::clock::now_ms())) {
            return Err(AppError::AccountSuspended { until });
        }
        Ok(user)
    }
}
