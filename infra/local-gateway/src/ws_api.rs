//! The WebSocket API: authorizer and `$connect` at the handshake, route selection on
//! `$request.body.action` for every frame, `$disconnect` when the socket ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat::AppError;
use functions::routes::{ws_route_key, Handler};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::connections::{Live, Outbound, MAX_MESSAGE_BYTES};
use crate::events::WsContext;
use crate::http_api::error;
use crate::Gateway;

/// API Gateway's limit of 32 KB per frame; a bigger frame, or a message above
/// `MAX_MESSAGE_BYTES`, ends the connection with 1009 (the idle timeout and the maximum
/// lifetime are in `Limits`).
const MAX_FRAME_BYTES: usize = 32 * 1024;

fn ws_handler(gw: &Gateway, key: &str) -> Option<(functions::ws::WsHandler, functions::routes::Function)> {
    gw.routes.iter().find(|r| r.key == key).and_then(|r| match r.handler {
        Handler::Ws(h) => Some((h, r.function)),
        _ => None,
    })
}

/// Runs a route as API Gateway does; an answer other than 200 comes back as the HTTP response
/// API Gateway makes of it (at `$connect`, the handshake's refusal, with the function's status
/// and envelope: the function has logged the cause).
async fn invoke(gw: &Gateway, key: &str, event: Value) -> Result<(), Response> {
    let (handler, function) =
        ws_handler(gw, key).ok_or_else(|| error(AppError::internal(format!("no WebSocket route {key}"))))?;
    let event: ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(event).map_err(|e| error(AppError::internal(e)))?;
    let res = crate::invoke(gw, function, functions::ws::respond(gw.app.clone(), handler, event)).await;
    if res.status_code == 200 {
        return Ok(());
    }
    let status = u16::try_from(res.status_code).ok().and_then(|s| StatusCode::from_u16(s).ok());
    let body = match res.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => text,
        _ => String::new(),
    };
    Err((status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), [(header::CONTENT_TYPE, "application/json")], body)
        .into_response())
}

/// `GET /`: a WebSocket upgrade, the web client for a browser (`Accept: text/html`), else the
/// gateway's JSON information document.
pub async fn root(
    gw: State<Arc<Gateway>>,
    peer: ConnectInfo<SocketAddr>,
    query: RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if ws.is_err() && crate::web::wants_html(&headers) {
        return crate::web::file("index.html", &headers);
    }
    upgrade(gw, peer, query, headers, ws).await
}

/// What a GET without an upgrade gets at `/ws` (and at `/` when it does not ask for HTML).
pub fn info() -> Response {
    Json(json!({ "success": true, "data": {
        "service": "chat local gateway",
        "websocket": "GET /ws with Upgrade: websocket",
        "web": "GET / from a browser (Accept: text/html): the web client",
        "openapi": "GET /openapi.json",
    } }))
    .into_response()
}

pub async fn upgrade(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return info();
    };
    let query = query.unwrap_or_default();
    // A handshake runs the authorizer and a store write: it draws from the same buckets as HTTP.
    let query_token = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned());
    let key = crate::http_api::rate_key(&gw, &headers, query_token.as_deref(), peer);
    if !crate::http_api::admitted(&gw, &key) {
        return crate::http_api::throttled();
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut ctx = WsContext {
        connection_id: format!("{}=", ulid::Ulid::generate()),
        connected_at: chat::clock::now_ms(),
        host: header(header::HOST),
        source_ip: peer.ip().to_string(),
        user_agent: header(header::USER_AGENT),
        authorizer: Default::default(),
    };
    // The REQUEST authorizer: a refusal is a 401 at the handshake.
    let auth_event = ctx.authorizer_request(&headers, &query);
    let authorized = match serde_json::from_value::<ApiGatewayCustomAuthorizerRequestTypeRequest>(auth_event) {
        Ok(ev) => {
            crate::invoke(&gw, functions::routes::Function::WsAuthorizer, functions::ws::authorize(&gw.app, &ev)).await
        }
        Err(e) => Err(AppError::internal(e)),
    };
    match authorized {
        Ok(policy) => ctx.authorizer = policy.get("context").and_then(Value::as_object).cloned().unwrap_or_default(),
        // A bad token is a 401 (the authorizer's "Unauthorized"); any other failure of the
        // authorizer (the store down) is, as on AWS, API Gateway's own 500.
        Err(e) if e.status() == 401 => return error(e),
        Err(e) => {
            e.log();
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "message": "Internal server error" })))
                .into_response();
        }
    }
    if let Err(refused) = invoke(&gw, "$connect", ctx.connect(&headers, &query)).await {
        return refused;
    }
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| session(gw, ctx, socket))
}

async fn session(gw: Arc<Gateway>, ctx: WsContext, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let live = Arc::new(Live {
        tx,
        connected_at: ctx.connected_at,
        last_active: AtomicI64::new(ctx.connected_at),
        source_ip: ctx.source_ip.clone(),
        user_agent: ctx.user_agent.clone(),
    });
    gw.connections.insert(ctx.connection_id.clone(), live.clone());

    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let sent = match out {
                Outbound::Frame(text) => sink.send(Message::Text(text.into())).await,
                Outbound::Close(code, reason) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break;
                }
            };
            if sent.is_err() {
                break;
            }
        }
    });

    let conn_key = format!("conn:{}", ctx.connection_id);
    let user_key = match ctx.authorizer.get("userId").and_then(Value::as_str) {
        Some(user) => format!("user:{user}"),
        None => format!("ip:{}", ctx.source_ip),
    };
    // What `$disconnect` is told: the client's close code, 1005 for a close frame without one,
    // 1006 for a socket that ended without a close frame, or the code the gateway closed with.
    let mut close = (1006u16, String::new());
    let mut writer = writer;
    let started = tokio::time::Instant::now();
    let mut closed_here = false;
    let mut closing = |live: &Live, code: u16, reason: &'static str| {
        let _ = live.tx.send(Outbound::Close(code, reason));
        closed_here = true;
        (code, reason.to_owned())
    };
    loop {
        // Idle: no data message either way since `last_active` (pushes move it too).
        let idle_ms = chat::clock::now_ms() - live.last_active.load(Ordering::Relaxed);
        let idle_left = gw.limits.idle_timeout.saturating_sub(std::time::Duration::from_millis(idle_ms.max(0) as u64));
        let deadline = (tokio::time::Instant::now() + idle_left).min(started + gw.limits.max_lifetime);
        let next = tokio::select! {
            next = tokio::time::timeout_at(deadline, stream.next()) => next,
            _ = &mut writer => { close = (1000, "closed by the server".into()); break; }
        };
        let frame = match next {
            Err(_) => {
                // The lifetime is up, or nothing moved `last_active` (a push may have) meanwhile.
                let idle_ms = chat::clock::now_ms() - live.last_active.load(Ordering::Relaxed);
                if started.elapsed() >= gw.limits.max_lifetime || idle_ms >= gw.limits.idle_timeout.as_millis() as i64 {
                    close = closing(&live, 1001, "Going away");
                    break;
                }
                continue;
            }
            Ok(None) => break,
            // tungstenite's capacity error ("Message too long: …") for a frame above 32 KB or a
            // message above 128 KB: API Gateway closes with 1009.
            Ok(Some(Err(e))) if e.to_string().contains("too long") => {
                close = closing(&live, 1009, "Message too big");
                break;
            }
            Ok(Some(Err(e))) => {
                close = (1006, e.to_string());
                break;
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let body = match frame {
            Message::Text(t) => t.to_string(),
            Message::Binary(_) => {
                close = closing(&live, 1003, "Unsupported data");
                break;
            }
            Message::Close(frame) => {
                close = disconnect_status(frame);
                break;
            }
            // Protocol pings and pongs are not activity (API Gateway's idle timer ignores them).
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        live.last_active.store(chat::clock::now_ms(), Ordering::Relaxed);
        if let Err(wait) = frame_allowed(&gw, &conn_key, &user_key) {
            let e = AppError::RateLimited(format!("too many messages; retry in {} ms", wait.as_millis().max(1)));
            let frame = String::from_utf8_lossy(&chat::events::Event::Error(e.body()).frame()).into_owned();
            let _ = live.tx.send(Outbound::Frame(frame));
            continue;
        }
        let action = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("action").and_then(Value::as_str).map(str::to_owned));
        let key = ws_route_key(action.as_deref(), &gw.routes);
        let (gw, ctx) = (gw.clone(), ctx.clone());
        // Like API Gateway, each frame is its own invocation: a slow one does not hold the next.
        tokio::spawn(async move {
            if let Err(res) = invoke(&gw, key, ctx.message(key, &body)).await {
                tracing::warn!(status = %res.status(), route = key, "route failed");
            }
        });
    }
    gw.connections.remove(&ctx.connection_id);
    gw.limiter.forget(&conn_key);
    if closed_here {
        // Let the writer send the close frame (and its code) before the socket goes.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), &mut writer).await;
    }
    writer.abort();
    if let Err(res) = invoke(&gw, "$disconnect", ctx.disconnect(close.0, &close.1)).await {
        tracing::warn!(status = %res.status(), "$disconnect failed");
    }
}

/// A frame counts against its connection's bucket and its user's (shared with HTTP).
fn frame_allowed(gw: &Gateway, conn_key: &str, user_key: &str) -> Result<(), std::time::Duration> {
    gw.limiter.check(conn_key, gw.limits.per_connection)?;
    gw.limiter.check(user_key, gw.limits.per_user)
}

/// What `$disconnect` is told of a client's close frame: its code and reason, or 1005 ("no
/// status received") for a close frame without a code, as API Gateway reports it.
fn disconnect_status(frame: Option<CloseFrame>) -> (u16, String) {
    frame.map_or((1005, String::new()), |f| (f.code, f.reason.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_without_a_code_is_reported_to_disconnect_as_1005() {
        assert_eq!(disconnect_status(None), (1005, String::new()));
        let frame = CloseFrame { code: 4000, reason: "bye".into() };
        assert_eq!(disconnect_status(Some(frame)), (4000, "bye".to_owned()));
    }
}
