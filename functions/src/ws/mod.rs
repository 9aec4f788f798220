//! WebSocket API adapter: the `$connect` authorizer, event parsing and replies.

pub mod handlers;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::encodings::Body;
use chat::events::Event;
use chat::ids::{ConnectionId, TokenId};
use chat::service::{fanout, realtime, Actor};
use chat::{App, AppError};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// API Gateway's WebSocket frame limit (32 KB); a bigger message is an `error` event.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

pub type WsFuture = Pin<Box<dyn Future<Output = Result<(), AppError>> + Send>>;
pub type WsHandler = fn(Arc<App>, WsRequest) -> WsFuture;

/// What a WebSocket route handler gets: the connection, the route, the frame, and who the
/// `$connect` authorizer said the user is, with which token. That context is fixed for the
/// connection's life: a route serves a frame only once `open_actor` (or `realtime::check_open`,
/// run alongside the route's first read) found the connection still open.
#[derive(Debug, Clone)]
pub struct WsRequest {
    pub connection_id: ConnectionId,
    pub route_key: String,
    pub body: Option<String>,
    pub actor: Option<Actor>,
    pub token_id: Option<TokenId>,
    /// When that token expires (epoch seconds).
    pub token_expires_at: Option<i64>,
}

impl WsRequest {
    pub fn from_event(ev: &ApiGatewayWebsocketProxyRequest) -> Self {
        let ctx = &ev.request_context;
        let fields = &ctx.authorizer.fields;
        let actor = serde_json::from_value(Value::Object(fields.clone().into_iter().collect())).ok();
        let token_id = fields.get("tokenId").and_then(Value::as_str).and_then(TokenId::parse);
        let token_expires_at = fields.get("tokenExpiresAt").and_then(Value::as_i64);
        Self {
            connection_id: ConnectionId::new(ctx.connection_id.clone().unwrap_or_default()),
            route_key: ctx.route_key.clone().unwrap_or_default(),
            body: ev.body.clone(),
            actor,
            token_id,
            token_expires_at,
        }
    }

    /// The authorizer's identity; always there behind an authorizer, checked all the same.
    pub fn actor(&self) -> Result<&Actor, AppError> {
        self.actor.as_ref().ok_or_else(|| AppError::Unauthorized("not authenticated".into()))
    }

    /// The authorizer's identity, once the connection is known to be still open (one `GetItem`,
    /// before the route's own reads): for routes that cannot run the check alongside them.
    pub async fn open_actor(&self, app: &App) -> Result<&Actor, AppError> {
        let actor = self.actor()?;
        realtime::check_open(app, actor, &self.connection_id).await?;
        Ok(actor)
    }

    /// The frame as the action it names (`handlers::Action`).
    pub fn action(&self) -> Result<handlers::Action, AppError> {
        self.body()
    }

    /// The frame as `T`: an oversize or malformed frame is a 4xx `error` event.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        let body = self.body.as_deref().unwrap_or_default();
        if body.len() > MAX_FRAME_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        serde_json::from_str(body).map_err(|e| AppError::bad_json("message", &e))
    }
}

fn status(code: i64) -> ApiGatewayProxyResponse {
    let mut res = ApiGatewayProxyResponse::default();
    res.status_code = code;
    res
}

/// Runs a route. `$connect` failures refuse the connection with their status; failures of
/// other routes become an `error` event on the connection, which stays usable.
pub async fn respond(
    app: Arc<App>,
    handler: WsHandler,
    ev: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let req = WsRequest::from_event(&ev);
    let (route, connection) = (req.route_key.clone(), req.connection_id.clone());
    match handler(app.clone(), req).await {
        Ok(()) => status(200),
        Err(e) => {
            e.log();
            if route == "$connect" {
                let mut res = status(e.status().into());
                res.body = Some(Body::Text(e.envelope().to_string()));
                return res;
            }
            if route != "$disconnect" {
                fanout::reply(&app, &connection, &Event::Error(e.body())).await;
            }
            status(200)
        }
    }
}

/// The `$connect` REQUEST authorizer: a valid token (query `token`, `Authorization` header or
/// `jwt` cookie) or single-use ticket (query `ticket`) gets an Allow policy and a context that API Gateway passes to every route of
/// the connection; anything else is `Unauthorized` (API Gateway answers 401).
pub async fn authorize(app: &App, ev: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> Result<Value, AppError> {
    // Its refusal is not logged by the function (API Gateway answers it): counted here.
    authorize_token(app, ev).await.inspect_err(chat::metrics::count_error)
}

async fn authorize_token(app: &App, ev: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> Result<Value, AppError> {
    let header = |name: &str| ev.headers.get(name).and_then(|v| v.to_str().ok());
    let token =
        chat::auth::token_from(header("authorization"), header("cookie"), ev.query_string_parameters.first("token"));
    // A browser's single-use `?ticket=` (`POST /api/auth/ws-ticket`) when no token came.
    let (user, token_id, token_expires_at) = match (token, ev.query_string_parameters.first("ticket")) {
        (None, Some(ticket)) => chat::service::users::redeem_ticket(app, ticket).await?,
        (token, _) => {
            let caller = app.authenticate(token.as_deref()).await?;
            (caller.user, caller.claims.jti, caller.claims.exp)
        }
    };
    let actor = chat::service::Actor::of(&user);
    Ok(json!({
        "principalId": actor.user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{ "Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ev.method_arn.clone().unwrap_or_else(|| "*".into()) }]
        },
        // The token id lets the token's end (logout, refresh) find the connections it opened;
        // its expiry ends them too.
        "context": { "userId": actor.user_id, "username": actor.username, "role": actor.role, "tokenId": token_id, "tokenExpiresAt": token_expires_at }
    }))
}

/// Adapts `async fn(&App, WsRequest) -> Result<(), AppError>` to a `WsHandler`.
#[macro_export]
macro_rules! ws_handler {
    ($f:path) => {
        (|app: std::sync::Arc<chat::App>, req: $crate::ws::WsRequest| -> $crate::ws::WsFuture {
            Box::pin(async move { $f(&app, req).await })
        }) as $crate::ws::WsHandler
    };
}
