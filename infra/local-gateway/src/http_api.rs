//! The HTTP API: match the route table, build a payload-v2 event, call the handler.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use chat::AppError;
use functions::http::router::HttpRoute;
use serde_json::Map;

use crate::{events, Gateway};

/// API Gateway accepts up to 10 MB; the handlers refuse more than 64 KB with 413.
const MAX_READ_BYTES: usize = 1024 * 1024;

/// Whose rate bucket a request draws from: the user of a validly signed token (revocation is
/// the handler's business), else the client's address.
pub fn rate_key(gw: &Gateway, headers: &HeaderMap, query_token: Option<&str>, peer: SocketAddr) -> String {
    let header = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let token = chat::auth::token_from(header(header::AUTHORIZATION), header(header::COOKIE), query_token);
    match token.and_then(|t| gw.app.tokens.verify(&t).ok()) {
        Some(claims) => format!("user:{}", claims.sub),
        None => format!("ip:{}", peer.ip()),
    }
}

/// API Gateway's own answer to a throttled request: 429 `{"message":"Too Many Requests"}`.
pub fn throttled() -> Response {
    let mut res = Response::new(Body::from(r#"{"message":"Too Many Requests"}"#));
    *res.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// The stage's bucket, then the caller's.
pub fn admitted(gw: &Gateway, rate_key: &str) -> bool {
    gw.limiter.check("stage:http", gw.limits.http_stage).is_ok()
        && gw.limiter.check(rate_key, gw.limits.per_user).is_ok()
}

pub async fn dispatch(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    if !admitted(&gw, &rate_key(&gw, &parts.headers, None, peer)) {
        return throttled();
    }
    let (method, path) = (parts.method.as_str().to_owned(), parts.uri.path().to_owned());
    // What no route matches goes to the `$default` route's function, as on AWS.
    let (HttpRoute { key, handler, function }, params) =
        gw.http_routes.find(&method, &path).unwrap_or((gw.http_default, Map::new()));
    let Ok(bytes) = to_bytes(body, MAX_READ_BYTES).await else {
        return error(AppError::PayloadTooLarge);
    };
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_owned();
    let query = parts.uri.query().unwrap_or_default();
    let event = events::http_v2(key, &method, &path, query, &parts.headers, params, &bytes, peer, &host);
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => return error(AppError::internal(format!("event did not deserialize: {e}"))),
    };
    to_axum(crate::invoke(&gw, function, functions::http::respond(gw.app.clone(), handler, request)).await)
}

/// The functions' error response (one mapping, one log line), for what fails in the gateway.
pub fn error(e: AppError) -> Response {
    to_axum(functions::http::error_response(&e))
}

fn to_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::from(body.to_vec()))
}
