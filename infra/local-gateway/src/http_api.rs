//! The HTTP API: match the route table, build a payload-v2 event, call the handler.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use chat::AppError;
use functions::http::HttpHandler;
use functions::routes::{http_parts, Function, Handler, Route};
use serde_json::{Map, Value};

use crate::{events, Gateway};

/// API Gateway accepts up to 10 MB; the handlers refuse more than 64 KB with 413.
const MAX_READ_BYTES: usize = 1024 * 1024;

/// An HTTP route as the dispatcher needs it.
#[derive(Clone, Copy)]
pub struct HttpRoute {
    pub key: &'static str,
    pub handler: HttpHandler,
    pub function: Function,
}

/// The HTTP routes by method, matched with `matchit` (as API Gateway does: the most specific
/// template wins, `/api/users/me` over `/api/users/{id}`).
#[derive(Default)]
pub struct HttpRoutes(std::collections::HashMap<String, matchit::Router<HttpRoute>>);

impl HttpRoutes {
    pub fn new(routes: &[Route]) -> Result<Self, matchit::InsertError> {
        let mut by_method = Self::default();
        for r in routes {
            if let (Handler::Http(handler), Some((method, template))) = (r.handler, http_parts(r.key)) {
                let route = HttpRoute { key: r.key, handler, function: r.function };
                by_method.0.entry(method.to_owned()).or_default().insert(template, route)?;
            }
        }
        Ok(by_method)
    }

    /// The route of `method path`, with its path parameters percent-decoded.
    pub fn find(&self, method: &str, path: &str) -> Option<(HttpRoute, Map<String, Value>)> {
        let matched = self.0.get(method)?.at(path).ok()?;
        let mut params = Map::new();
        for (name, raw) in matched.params.iter() {
            params.insert(name.to_owned(), percent_decode(raw)?.into());
        }
        Some((*matched.value, params))
    }
}

fn percent_decode(s: &str) -> Option<String> {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned())
}

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

/// 429 with the SPEC envelope and `Retry-After` (whole seconds, rounded up).
pub fn rate_limited(wait: std::time::Duration) -> Response {
    let mut res = error(AppError::RateLimited("too many requests; slow down".into()));
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

pub async fn dispatch(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    if let Err(wait) = gw.limiter.check(&rate_key(&gw, &parts.headers, None, peer), gw.limits.per_user) {
        return rate_limited(wait);
    }
    let (method, path) = (parts.method.as_str().to_owned(), parts.uri.path().to_owned());
    let Some((HttpRoute { key, handler, function }, params)) = gw.http_routes.find(&method, &path) else {
        return error(AppError::NotFound("no route for this method and path".into()));
    };
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
    to_axum(crate::granted(function, functions::http::respond(gw.app.clone(), handler, request)).await)
}

/// The functions' error response (one mapping, one log line), for what fails in the gateway.
pub fn error(e: AppError) -> Response {
    to_axum(functions::http::error_response(&e))
}

fn to_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::from(body.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_by_method_and_shape_the_most_specific_first() {
        let routes = HttpRoutes::new(&functions::routes::routes()).expect("the route table inserts");
        let (r, p) = routes.find("GET", "/api/users/usr_1").expect("a user");
        assert_eq!((r.key, p["id"].as_str()), ("GET /api/users/{id}", Some("usr_1")));
        assert_eq!(routes.find("GET", "/api/users/me").map(|(r, _)| r.key), Some("GET /api/users/me"));
        assert_eq!(routes.find("GET", "/api/users/a%20b").map(|(_, p)| p["id"].clone()), Some("a b".into()));
        assert!(routes.find("GET", "/api/users/").is_none());
        assert!(routes.find("PATCH", "/api/users/usr_1").is_none());
        assert!(routes.find("POST", "/api/notifications/x/write").is_none());
    }
}
