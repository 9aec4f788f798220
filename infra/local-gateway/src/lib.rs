//! The local gateway: one process, one port, serving what API Gateway serves in AWS — the HTTP
//! API, the WebSocket API (at `/` and `/ws`) and the `@connections` management API — by
//! building API Gateway events and calling the very same handlers in-process — and, to a browser
//! asking for `/`, the web client (`web/`).

mod connections;
pub mod cors;
mod events;
mod http_api;
mod limits;
pub mod objects;
mod previews;
mod sigv4;
pub mod stream;
pub mod web;
mod ws_api;

use std::net::SocketAddr;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use axum::routing::{any, get};
use axum::Router;
use chat::config::StoreKind;
use chat::models::{Password, Username};
use chat::push::{ApiGatewayPush, Push};
use chat::store::{DynamoTable, Granted, Table};
use chat::{App, Config};
use functions::routes::{routes, Route};
use tokio::net::TcpListener;

pub use connections::Registry;
pub use limits::{Limits, LimitsError, Rate, RateLimiter};

/// The OpenAPI document of the HTTP API, served at `GET /openapi.json`.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Shared by every request of the gateway.
pub struct Gateway {
    pub app: Arc<App>,
    pub routes: Vec<Route>,
    pub connections: Registry,
    pub limits: Limits,
    pub limiter: RateLimiter,
    pub http_routes: functions::http::router::HttpRouter,
    /// The HTTP API's `$default` route: what `http_routes` does not match.
    pub http_default: functions::http::router::HttpRoute,
    /// What `@connections` calls must be signed with (SigV4), as on AWS: the gateway's own
    /// credentials, which the functions' SDK client signs with.
    pub credentials: Credentials,
    /// What the invocations counted, per function: `GET /@metrics` (Prometheus text), the same
    /// names as the functions' Embedded Metric Format lines on AWS.
    pub metrics: chat::metrics::Registry,
    /// Phone push, when configured (`Config::push`): the emulated table stream feeding the push
    /// function, and SNS's local stand-in (embedded mode; with `SNS_ENDPOINT`, the real client).
    pub stream: Option<Arc<stream::Stream>>,
    pub recording: Option<Arc<chat::phone_push::Recording>>,
    /// The embedded mode's object store (`/@objects/…`); `None` in DynamoDB mode, where the
    /// functions use S3 (the DynamoDB server's S3, e.g. `moto_server`).
    pub objects: Option<Arc<objects::LocalObjects>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("route table: {0}")]
    Routes(String),
    #[error("credentials for @connections: {0}")]
    Credentials(String),
    #[error("configuration: {0}")]
    Config(#[from] chat::config::ConfigError),
    #[error("store: {0}")]
    Store(#[from] chat::store::StoreError),
    #[error("admin bootstrap: {0}")]
    Admin(#[from] chat::AppError),
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("object store: {0}")]
    Objects(String),
    #[error("limits: {0}")]
    Limits(#[from] LimitsError),
}

/// Reads the configuration from the environment, with local-development defaults
/// (`CHAT_ENV=local`: embedded store, development secret, non-`Secure` cookie).
/// Phone push is on locally unless `SNS_ENDPOINT` names a real SNS-compatible server: these
/// platform applications are then the local stand-in's (`GET /@push` lists what it sent).
pub fn local_config() -> Result<Config, chat::config::ConfigError> {
    let own_sns = std::env::var("SNS_ENDPOINT").is_err();
    let app = |platform: &str| format!("arn:aws:sns:us-east-1:000000000000:app/{platform}/chat-local");
    Config::from_lookup(|k| match (k, std::env::var(k).ok()) {
        ("CHAT_ENV", None) => Some("local".into()),
        ("COOKIE_SECURE", None) => Some("false".into()),
        ("PUSH_APNS_APPLICATION_ARN", None) if own_sns => Some(app("APNS")),
        ("PUSH_APNS_SANDBOX_APPLICATION_ARN", None) if own_sns => Some(app("APNS_SANDBOX")),
        ("PUSH_FCM_APPLICATION_ARN", None) if own_sns => Some(app("GCM")),
        (_, v) => v,
    })
}

/// AWS configuration for local use: the environment's, with dummy credentials and region when
/// there are none (DynamoDB-compatible servers and our own `@connections` ignore them).
async fn local_sdk_config() -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
        loader = loader.region(Region::new("us-east-1"));
    }
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() && std::env::var("AWS_PROFILE").is_err() {
        loader = loader.credentials_provider(Credentials::new("local", "local", None, None, "local-gateway"));
    }
    loader.load().await
}

/// A running gateway.
pub struct Running {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds `addr` (port 0: any free port), builds the app against the gateway's own
/// `@connections` (over `table` when given: tests wrap one to count requests), and serves with
/// these rate limits and idle timeout until the task is dropped or aborted.
pub async fn start(
    config: Config,
    table: Option<Arc<dyn Table>>,
    addr: SocketAddr,
    limits: Limits,
) -> Result<Running, StartError> {
    start_with_push(config, table, addr, limits, |push| push).await
}

/// As [`start`], the `@connections` client passed through `layer` when a table is given (tests
/// wrap it to record which calls each route makes).
pub async fn start_with_push(
    mut config: Config,
    table: Option<Arc<dyn Table>>,
    addr: SocketAddr,
    limits: Limits,
    layer: impl FnOnce(Arc<dyn Push>) -> Arc<dyn Push>,
) -> Result<Running, StartError> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let endpoint = format!("http://{addr}");
    config.ws_endpoint = Some(endpoint.clone());
    let sdk = local_sdk_config().await;
    let sdk_for_s3 = sdk.clone();
    let credentials = match sdk.credentials_provider() {
        Some(provider) => {
            use aws_credential_types::provider::ProvideCredentials;
            provider.provide_credentials().await.map_err(|e| StartError::Credentials(e.to_string()))?
        }
        None => return Err(StartError::Credentials("no AWS credentials".into())),
    };
    if let (StoreKind::Dynamo { table, endpoint }, None) = (&config.store, &table) {
        let client = DynamoTable::client_from_config(&sdk, endpoint.as_deref());
        DynamoTable::new(client, table.clone()).create_table_if_missing().await?;
    }
    let phone = phone_push(&config, &sdk);
    let mut app = match table {
        Some(table) => App::with_parts(config, table, layer(Arc::new(ApiGatewayPush::new(&sdk, &endpoint)))),
        None => App::build_with_sdk(config, Some(sdk))?,
    };
    let local_objects = match &app.config.store {
        StoreKind::Dynamo { endpoint, table } => {
            let s3 = match endpoint {
                // The DynamoDB server serves S3 too (`moto_server`): one bucket per table.
                Some(endpoint) => {
                    let name: String = table
                        .to_ascii_lowercase()
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                        .take(48)
                        .collect();
                    let bucket = format!("{}-files", name.trim_matches('-'));
                    chat::attachments::S3Attachments::with_endpoint(&sdk_for_s3, endpoint, &bucket)
                }
                None => chat::attachments::S3Attachments::new(&sdk_for_s3),
            };
            s3.create_bucket_if_missing().await.map_err(|e| StartError::Objects(e.to_string()))?;
            app.attachments = Some(Arc::new(s3));
            None
        }
        StoreKind::Embedded { dir } => Some(Arc::new(objects::LocalObjects::new(
            endpoint.clone(),
            Some(dir.join("objects")),
            app.config.uploads.pending_secs,
        ))),
        StoreKind::Memory => {
            Some(Arc::new(objects::LocalObjects::new(endpoint.clone(), None, app.config.uploads.pending_secs)))
        }
    };
    if let Some(o) = &local_objects {
        app.attachments = Some(o.clone());
    }
    let stream = match &phone {
        Some((sns, _)) => {
            let (stream, rx) = stream::Stream::new();
            app.table = Arc::new(stream::Streamed { inner: app.table.clone(), stream: stream.clone() });
            app.phone_push = Some(sns.clone());
            Some((stream, rx))
        }
        None => None,
    };
    // Every invocation runs under its function's declared permissions (`grant`), as on AWS.
    app.table = Arc::new(Granted(app.table.clone()));
    app.push = Arc::new(Granted(app.push.clone()));
    let app = Arc::new(app);
    bootstrap_admin(&app).await?;
    let gateway = Arc::new(Gateway {
        app,
        http_routes: functions::http::router::HttpRouter::new(&routes())
            .map_err(|e| StartError::Routes(e.to_string()))?,
        http_default: http_default(&routes()).ok_or_else(|| StartError::Routes("no HTTP $default route".into()))?,
        routes: routes(),
        connections: Registry::default(),
        limits,
        limiter: RateLimiter::default(),
        credentials,
        metrics: chat::metrics::Registry::default(),
        stream: stream.as_ref().map(|(s, _)| s.clone()),
        recording: phone.as_ref().and_then(|(_, r)| r.clone()),
        objects: local_objects,
    });
    if let (Some((stream, rx)), Some((sns, _))) = (stream, phone) {
        tokio::spawn(stream::run(Arc::downgrade(&gateway), stream, sns, rx));
    }
    // The signed length decides; this only bounds what is read before it is checked.
    let objects_body_limit = usize::try_from(gateway.app.config.uploads.max_bytes).unwrap_or(usize::MAX);
    let router = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/@metrics", get(metrics))
        .route("/@push", get(pushes))
        .route("/", get(ws_api::root))
        .route("/ws", get(ws_api::upgrade))
        .route("/index.html", get(|h: axum::http::HeaderMap| async move { web::file("index.html", &h) }))
        .route("/app.css", get(|h: axum::http::HeaderMap| async move { web::file("app.css", &h) }))
        .route("/config.js", get(|h: axum::http::HeaderMap| async move { web::file("config.js", &h) }))
        .route("/js/{name}", get(web::module))
        .route("/@connections/{id}", any(connections::management))
        .route("/{stage}/@connections/{id}", any(connections::management_staged))
        .route("/@objects/{*key}", any(objects::serve).layer(axum::extract::DefaultBodyLimit::max(objects_body_limit)))
        .fallback(http_api::dispatch)
        .layer(axum::middleware::from_fn_with_state(gateway.clone(), cors::layer))
        .with_state(gateway.clone());
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            tracing::error!(error = %e, "local gateway stopped");
        }
    });
    Ok(Running { addr, gateway, task })
}

async fn openapi() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// `GET /@metrics`: a route of the local gateway only (as `@connections`, no route of the
/// HTTP API): the counters of every invocation since start, in Prometheus text format.
async fn metrics(axum::extract::State(gw): axum::extract::State<Arc<Gateway>>) -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], gw.metrics.prometheus())
}

/// `GET /@push`: every phone push the local SNS stand-in received, oldest first (also appended
/// to `push-outbox.jsonl` under `CHAT_DATA_DIR`): what a phone would get.
async fn pushes(axum::extract::State(gw): axum::extract::State<Arc<Gateway>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let sent = gw.recording.as_ref().map(|r| r.sent()).unwrap_or_default();
    axum::Json(serde_json::json!({ "success": true, "data": sent })).into_response()
}

/// SNS for the push function and the device routes, when push is on: the recording stand-in
/// (its outbox in `CHAT_DATA_DIR`), in front of the real client when `SNS_ENDPOINT` names a
/// server (moto).
#[allow(clippy::type_complexity)]
fn phone_push(
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Option<(Arc<dyn chat::phone_push::PhonePush>, Option<Arc<chat::phone_push::Recording>>)> {
    if !config.push.enabled() {
        return None;
    }
    let outbox = match &config.store {
        StoreKind::Embedded { dir } => Some(dir.join("push-outbox.jsonl")),
        _ => None,
    };
    let recording = Arc::new(match &config.push.endpoint {
        Some(endpoint) => {
            chat::phone_push::Recording::tee(Arc::new(chat::phone_push::SnsPhonePush::new(sdk, Some(endpoint))), outbox)
        }
        None => chat::phone_push::Recording::new(outbox),
    });
    Some((recording.clone(), Some(recording)))
}

/// One invocation of `function`, as on Lambda: under its declared permissions (`granted`),
/// with its own metrics recorder, added to the gateway's registry when it ends.
pub async fn invoke<F: std::future::Future>(gw: &Gateway, function: functions::routes::Function, f: F) -> F::Output {
    // Boxed: the handlers' futures are deep enough already.
    let (out, metrics) = chat::metrics::scope(function.name(), Box::pin(granted(function, f))).await;
    gw.metrics.add(&metrics);
    out
}

/// `CHAT_ADMIN_USERNAME` + `CHAT_ADMIN_PASSWORD`: make sure that admin exists.
async fn bootstrap_admin(app: &App) -> Result<(), StartError> {
    let (Ok(username), Ok(password)) = (std::env::var("CHAT_ADMIN_USERNAME"), std::env::var("CHAT_ADMIN_PASSWORD"))
    else {
        return Ok(());
    };
    let created =
        chat::service::users::ensure_admin(app, Username::parse(&username)?, Password::parse(&password)?).await?;
    tracing::info!(username = %username, created, "admin bootstrap");
    Ok(())
}

/// Runs one invocation of `function` under the permissions its declaration grants (the ones the
/// template's IAM policy is generated from): a call outside them fails as AccessDenied.
pub async fn granted<F: std::future::Future>(function: functions::routes::Function, f: F) -> F::Output {
    match function.decl() {
        Some(decl) => {
            let grant = chat::iam::Grant {
                function: function.name(),
                actions: decl.actions,
                passwords: decl.bundle() == functions::routes::Bundle::Password,
            };
            chat::iam::with_grant(grant, f).await
        }
        None => f.await,
    }
}

/// The route table's HTTP `$default` route.
fn http_default(routes: &[functions::routes::Route]) -> Option<functions::http::router::HttpRoute> {
    routes.iter().find_map(|r| match r.handler {
        functions::routes::Handler::HttpDefault(handler) => {
            Some(functions::http::router::HttpRoute { key: "$default", handler, function: r.function })
        }
        _ => None,
    })
}
