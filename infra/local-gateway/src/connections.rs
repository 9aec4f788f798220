//! The live sockets, and the `@connections` management API over them, answering like AWS:
//! POST sends a frame, GET describes the connection, DELETE closes it; 410 Gone for unknown ids,
//! 403 for a call not signed (SigV4) with the gateway's credentials, 413 above 128 KB.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::sync::mpsc;

use crate::Gateway;

/// What the socket task is told to do.
#[derive(Debug)]
pub enum Outbound {
    Frame(String),
    /// Close with this code and reason (1000 for `DELETE @connections`, 1009 too big, …).
    Close(u16, &'static str),
}

/// API Gateway's limit on a message, both ways (the client's and an `@connections` POST).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

pub struct Live {
    pub tx: mpsc::UnboundedSender<Outbound>,
    pub connected_at: i64,
    pub last_active: AtomicI64,
    pub source_ip: String,
    pub user_agent: String,
}

#[derive(Default)]
pub struct Registry {
    live: Mutex<HashMap<String, Arc<Live>>>,
}

impl Registry {
    pub fn insert(&self, id: String, live: Arc<Live>) {
        self.lock().insert(id, live);
    }
    pub fn remove(&self, id: &str) -> Option<Arc<Live>> {
        self.lock().remove(id)
    }
    pub fn get(&self, id: &str) -> Option<Arc<Live>> {
        self.lock().get(id).cloned()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn gone() -> Response {
    let mut res = (StatusCode::GONE, Json(json!({ "message": null }))).into_response();
    res.headers_mut().insert("x-amzn-errortype", axum::http::HeaderValue::from_static("GoneException"));
    res
}

/// API Gateway's 403 for an `@connections` call that is not signed by the right credentials.
fn forbidden(headers: &HeaderMap) -> Response {
    let (kind, message) = if headers.contains_key(header::AUTHORIZATION) {
        ("InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
    } else {
        ("MissingAuthenticationTokenException", "Missing Authentication Token")
    };
    let mut res = (StatusCode::FORBIDDEN, Json(json!({ "message": message }))).into_response();
    res.headers_mut().insert("x-amzn-errortype", axum::http::HeaderValue::from_static(kind));
    res
}

pub async fn management(
    State(gw): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !crate::sigv4::verify(&gw.credentials, &method, &uri, &headers, &body) {
        return forbidden(&headers);
    }
    let Some(live) = gw.connections.get(&id) else { return gone() };
    match method {
        Method::POST if body.len() > MAX_MESSAGE_BYTES => {
            let mut res =
                (StatusCode::PAYLOAD_TOO_LARGE, Json(json!({ "message": "Message too long" }))).into_response();
            res.headers_mut()
                .insert("x-amzn-errortype", axum::http::HeaderValue::from_static("PayloadTooLargeException"));
            res
        }
        Method::POST => {
            let text = String::from_utf8_lossy(&body).into_owned();
            if live.tx.send(Outbound::Frame(text)).is_err() {
                return gone();
            }
            // A message either way counts as activity for the idle timeout.
            live.last_active.store(chat::clock::now_ms(), Ordering::Relaxed);
            StatusCode::OK.into_response()
        }
        Method::GET => Json(json!({
            "connectedAt": chat::clock::iso(live.connected_at),
            "lastActiveAt": chat::clock::iso(live.last_active.load(Ordering::Relaxed)),
            "identity": { "sourceIp": live.source_ip, "userAgent": live.user_agent },
        }))
        .into_response(),
        Method::DELETE => {
            // The socket task runs `$disconnect` and unregisters the connection.
            let _ = live.tx.send(Outbound::Close(1000, "closed by the server"));
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

/// The same API under a stage prefix (`/{stage}/@connections/{id}`), as AWS serves it.
pub async fn management_staged(
    state: State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((_stage, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    management(state, method, uri, headers, Path(id), body).await
}
