//! API Gateway events, shaped as AWS sends them; each is deserialized into its
//! `aws_lambda_events` type before a handler sees it, so a shape mistake fails loudly here.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::http::HeaderMap;
use serde_json::{json, Map, Value};

pub const STAGE: &str = "local";
pub const API_ID: &str = "local";

fn request_id() -> String {
    ulid::Ulid::generate().to_string()
}

fn clf_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    t.format(&f).unwrap_or_default()
}

/// Lower-cased names; repeated headers comma-joined (single-value form) and listed (multi-value form).
pub fn headers(h: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in h {
        multi.entry(k.as_str().to_owned()).or_default().push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let single = multi.iter().map(|(k, v)| (k.clone(), Value::from(v.join(",")))).collect();
    let multi = multi.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
    (single, multi)
}

pub fn query(raw: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        multi.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    let single = multi.iter().map(|(k, v)| (k.clone(), Value::from(v.join(",")))).collect();
    let multi = multi.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
    (single, multi)
}

/// An HTTP API payload v2 event.
#[allow(clippy::too_many_arguments)]
pub fn http_v2(
    route_key: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    h: &HeaderMap,
    path_params: Map<String, Value>,
    body: &[u8],
    peer: SocketAddr,
    host: &str,
) -> Value {
    let (mut single, _) = headers(h);
    let cookies: Vec<Value> = single
        .remove("cookie")
        .and_then(|c| c.as_str().map(|c| c.split(';').map(|p| Value::from(p.trim())).filter(|p| p != "").collect()))
        .unwrap_or_default();
    let (params, _) = query(raw_query);
    let now = chat::clock::now_ms();
    let user_agent = single.get("user-agent").cloned().unwrap_or_else(|| "".into());
    let mut ev = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": single,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(host),
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": peer.ip().to_string(), "userAgent": user_agent },
            "requestId": request_id(),
            "routeKey": route_key,
            "stage": "$default",
            "time": clf_time(now),
            "timeEpoch": now,
        },
        "isBase64Encoded": false,
    });
    // As API Gateway sends it: no `body` when there is none; a body that is not UTF-8 text, or
    // is content-encoded, comes base64-encoded with `isBase64Encoded`.
    if !body.is_empty() {
        let encoded = h.contains_key(axum::http::header::CONTENT_ENCODING);
        match std::str::from_utf8(body) {
            Ok(text) if !encoded => ev["body"] = text.into(),
            _ => {
                use base64::Engine;
                ev["body"] = base64::engine::general_purpose::STANDARD.encode(body).into();
                ev["isBase64Encoded"] = true.into();
            }
        }
    }
    if !cookies.is_empty() {
        ev["cookies"] = cookies.into();
    }
    if !params.is_empty() {
        ev["queryStringParameters"] = params.into();
    }
    if !path_params.is_empty() {
        ev["pathParameters"] = path_params.into();
    }
    ev
}

/// The facts of one WebSocket connection that every event of it carries.
#[derive(Clone)]
pub struct WsContext {
    pub connection_id: String,
    pub connected_at: i64,
    pub host: String,
    pub source_ip: String,
    pub user_agent: String,
    /// The authorizer's `context`, passed to every route.
    pub authorizer: Map<String, Value>,
}

impl WsContext {
    fn request_context(&self, route_key: &str, event_type: &str) -> Value {
        let now = chat::clock::now_ms();
        let mut authorizer = self.authorizer.clone();
        if let Some(p) = authorizer.get("userId").cloned() {
            authorizer.insert("principalId".into(), p);
        }
        json!({
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id(),
            "requestTime": clf_time(now),
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": self.connected_at,
            "requestTimeEpoch": now,
            "identity": { "sourceIp": self.source_ip, "userAgent": self.user_agent },
            "requestId": request_id(),
            "domainName": self.host,
            "connectionId": self.connection_id,
            "apiId": API_ID,
            "authorizer": authorizer,
        })
    }

    /// `$connect`: the handshake's headers and query.
    pub fn connect(&self, h: &HeaderMap, raw_query: &str) -> Value {
        let (single, multi) = headers(h);
        let (q, mq) = query(raw_query);
        json!({
            "headers": single,
            "multiValueHeaders": multi,
            "queryStringParameters": q,
            "multiValueQueryStringParameters": mq,
            "requestContext": self.request_context("$connect", "CONNECT"),
            "isBase64Encoded": false,
        })
    }

    pub fn message(&self, route_key: &str, body: &str) -> Value {
        let mut rc = self.request_context(route_key, "MESSAGE");
        rc["messageId"] = request_id().into();
        json!({ "requestContext": rc, "body": body, "isBase64Encoded": false })
    }

    pub fn disconnect(&self, status: u16, reason: &str) -> Value {
        let mut rc = self.request_context("$disconnect", "DISCONNECT");
        rc["disconnectStatusCode"] = status.into();
        rc["disconnectReason"] = reason.into();
        json!({ "headers": {}, "multiValueHeaders": {}, "requestContext": rc, "isBase64Encoded": false })
    }

    /// The REQUEST authorizer's event for `$connect`.
    pub fn authorizer_request(&self, h: &HeaderMap, raw_query: &str) -> Value {
        let (single, multi) = headers(h);
        let (q, mq) = query(raw_query);
        let mut rc = self.request_context("$connect", "CONNECT");
        rc.as_object_mut().map(|o| o.remove("authorizer"));
        json!({
            "type": "REQUEST",
            "methodArn": format!("arn:aws:execute-api:us-east-1:000000000000:{API_ID}/{STAGE}/$connect"),
            "headers": single,
            "multiValueHeaders": multi,
            "queryStringParameters": q,
            "multiValueQueryStringParameters": mq,
            "stageVariables": {},
            "requestContext": rc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::apigw::ApiGatewayV2httpRequest;

    fn event(body: &[u8], headers: &[(&'static str, &'static str)]) -> Value {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, axum::http::HeaderValue::from_static(v));
        }
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        http_v2("POST /x", "POST", "/x", "", &h, Map::new(), body, peer, "localhost")
    }

    #[test]
    fn an_empty_body_is_absent_as_api_gateway_sends_it() {
        let ev = event(b"", &[]);
        assert!(ev.get("body").is_none(), "{ev}");
        assert_eq!(ev["isBase64Encoded"], false);
        serde_json::from_value::<ApiGatewayV2httpRequest>(ev).expect("an aws_lambda_events type");
    }

    #[test]
    fn a_text_body_is_passed_as_text_and_a_binary_or_encoded_one_base64_encoded() {
        assert_eq!(event(br#"{"a":1}"#, &[])["body"], r#"{"a":1}"#);
        let binary = event(&[0xff, 0x00, 0x80], &[]);
        assert_eq!((binary["body"].as_str(), binary["isBase64Encoded"].as_bool()), (Some("/wCA"), Some(true)));
        let gzip = event(b"abc", &[("content-encoding", "gzip")]);
        assert_eq!((gzip["body"].as_str(), gzip["isBase64Encoded"].as_bool()), (Some("YWJj"), Some(true)));
        serde_json::from_value::<ApiGatewayV2httpRequest>(binary).expect("an aws_lambda_events type");
    }
}
