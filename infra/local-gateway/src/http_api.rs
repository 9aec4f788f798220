//! The HTTP API: match the route table, build a payload-v2 event, call the handler.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use chat::AppError;
use functions::routes::{http_parts, Handler};
use serde_json::{Map, Value};

use crate::{events, Gateway};

/// API Gateway accepts up to 10 MB; the handlers refuse more than 64 KB with 413.
const MAX_READ_BYTES: usize = 1024 * 1024;

/// Matches `/api/users/{id}` against `/api/users/usr_…`, returning the path parameters.
pub fn match_path(template: &str, path: &str) -> Option<Map<String, Value>> {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    if t.len() != p.len() {
        return None;
    }
    let mut params = Map::new();
    for (t, p) in t.iter().zip(&p) {
        match t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            Some(name) if !p.is_empty() => {
                let value = percent_decode(p)?;
                params.insert(name.to_owned(), value.into());
            }
            Some(_) => return None,
            None if t == p => {}
            None => return None,
        }
    }
    Some(params)
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
    // The most specific template wins (`/api/users/me` over `/api/users/{id}`), as in API Gateway.
    let mut candidates: Vec<_> = gw
        .routes
        .iter()
        .filter_map(|r| {
            let (m, template) = http_parts(r.key)?;
            let Handler::Http(h) = r.handler else { return None };
            let params = match_path(template, &path)?;
            Some((m == method, params.len(), r.key, h, params, r.function))
        })
        .collect();
    candidates.sort_by_key(|(same_method, n, ..)| (!same_method, *n));
    let Some((true, _, key, handler, params, function)) = candidates.into_iter().next() else {
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
    fn a_template_matches_paths_of_the_same_shape_only() {
        let p = match_path("/api/users/{id}", "/api/users/usr_1").unwrap();
        assert_eq!(p["id"], "usr_1");
        assert!(match_path("/api/users/{id}", "/api/users").is_none());
        assert!(match_path("/api/users/{id}", "/api/users/").is_none());
        assert!(match_path("/api/users/{id}/read", "/api/users/x/write").is_none());
    }
}
