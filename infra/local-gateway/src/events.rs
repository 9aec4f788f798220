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

/// Fidelity (issue 15): the events built here against the fixture events that ship with
/// `aws_lambda_events` (captured from API Gateway). Every key built here must exist in AWS's
/// events of that kind with the same JSON type (nothing invented, nothing mistyped), and every
/// key API Gateway always sends must be built here. Free-form maps (headers, query, path and
/// stage variables, the authorizer's context) are compared as maps, not key by key.
#[cfg(test)]
mod fidelity {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    const FREE_FORM: [&str; 8] = [
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "authorizer",
        "identity",
    ];

    /// The fixtures folder of the `aws_lambda_events` crate this workspace builds with.
    fn fixtures() -> PathBuf {
        let out = std::process::Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--format-version",
                "1",
                "--manifest-path",
                concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            ])
            .output()
            .expect("cargo metadata runs");
        let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
        let manifest = meta["packages"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "aws_lambda_events"))
            .and_then(|p| p["manifest_path"].as_str())
            .expect("aws_lambda_events is a dependency");
        PathBuf::from(manifest).parent().expect("crate folder").join("src/fixtures")
    }

    fn fixture(name: &str) -> Value {
        let path = fixtures().join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .expect("fixture is JSON")
    }

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Every key path of `v` (objects only), with its value.
    fn paths<'a>(v: &'a Value, prefix: &str, out: &mut Vec<(String, &'a Value)>) {
        let Value::Object(map) = v else { return };
        for (k, child) in map {
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            out.push((path.clone(), child));
            if !FREE_FORM.contains(&k.as_str()) {
                paths(child, &path, out);
            }
        }
    }

    /// Keys built here that AWS's events of the kind (`fixtures`, merged) lack or type otherwise.
    fn invented_or_mistyped(local: &Value, fixtures: &[Value]) -> Vec<String> {
        let mut aws = Vec::new();
        for f in fixtures {
            paths(f, "", &mut aws);
        }
        let mut local_paths = Vec::new();
        paths(local, "", &mut local_paths);
        local_paths
            .into_iter()
            .filter(|(path, v)| {
                !aws.iter().any(|(p, a)| p == path && (kind(a) == kind(v) || a.is_null() || v.is_null()))
            })
            .map(|(path, v)| format!("{path}: {}", kind(v)))
            .collect()
    }

    fn missing(local: &Value, required: &[&str]) -> Vec<String> {
        let mut have = Vec::new();
        paths(local, "", &mut have);
        let have: BTreeSet<_> = have.into_iter().map(|(p, _)| p).collect();
        required.iter().filter(|r| !have.contains(**r)).map(|r| r.to_string()).collect()
    }

    fn ws() -> WsContext {
        let mut authorizer = Map::new();
        authorizer.insert("userId".into(), "usr_1".into());
        WsContext {
            connection_id: "abc=".into(),
            connected_at: 1,
            host: "localhost".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            authorizer,
        }
    }

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", axum::http::HeaderValue::from_static("localhost"));
        h
    }

    const WS_RC: [&str; 14] = [
        "requestContext.routeKey",
        "requestContext.eventType",
        "requestContext.extendedRequestId",
        "requestContext.requestTime",
        "requestContext.messageDirection",
        "requestContext.stage",
        "requestContext.connectedAt",
        "requestContext.requestTimeEpoch",
        "requestContext.identity",
        "requestContext.requestId",
        "requestContext.domainName",
        "requestContext.connectionId",
        "requestContext.apiId",
        "isBase64Encoded",
    ];

    #[test]
    fn http_api_events_have_api_gateways_keys_and_types() {
        let aws = [
            fixture("example-apigw-v2-request-no-authorizer.json"),
            fixture("example-apigw-v2-request-multi-value-parameters.json"),
        ];
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        let mut params = Map::new();
        params.insert("id".into(), "1".into());
        let mut h = headers();
        h.insert("cookie", axum::http::HeaderValue::from_static("a=1; b=2"));
        let local = http_v2("POST /x/{id}", "POST", "/x/1", "q=1", &h, params, b"{}", peer, "localhost");
        assert_eq!(invented_or_mistyped(&local, &aws), Vec::<String>::new());
        let mut required = vec!["version", "routeKey", "rawPath", "rawQueryString", "headers", "isBase64Encoded"];
        let fixture_rc = aws[0]["requestContext"].as_object().expect("requestContext");
        let rc: Vec<String> = fixture_rc
            .keys()
            .filter(|k| *k != "authentication") // mutual TLS only
            .map(|k| format!("requestContext.{k}"))
            .collect();
        required.extend(rc.iter().map(String::as_str));
        assert_eq!(missing(&local, &required), Vec::<String>::new());
    }

    #[test]
    fn websocket_events_have_api_gateways_keys_and_types() {
        let aws = [
            fixture("example-apigw-websocket-request.json"),
            fixture("example-apigw-websocket-request-without-method.json"),
            fixture("example-apigw-websocket-request-disconnect-route.json"),
        ];
        let (ctx, h) = (ws(), headers());
        let connect = ctx.connect(&h, "token=x");
        let message = ctx.message("sendMessage", "{}");
        let disconnect = ctx.disconnect(1005, "");
        for (what, local) in [("$connect", &connect), ("message", &message), ("$disconnect", &disconnect)] {
            assert_eq!(invented_or_mistyped(local, &aws), Vec::<String>::new(), "{what}");
            assert_eq!(missing(local, &WS_RC), Vec::<String>::new(), "{what}");
        }
        assert_eq!(missing(&message, &["body", "requestContext.messageId"]), Vec::<String>::new());
        let required: Vec<String> = aws[2]["requestContext"]
            .as_object()
            .expect("requestContext")
            .keys()
            .map(|k| format!("requestContext.{k}"))
            .collect();
        let required: Vec<&str> = required.iter().map(String::as_str).collect();
        assert_eq!(missing(&disconnect, &required), Vec::<String>::new(), "$disconnect");
    }

    #[test]
    fn the_connect_authorizers_event_has_api_gateways_keys_and_types() {
        let aws = [fixture("example-apigw-v2-custom-authorizer-websocket-request.json")];
        let local = ws().authorizer_request(&headers(), "token=x");
        assert_eq!(invented_or_mistyped(&local, &aws), Vec::<String>::new());
        let mut required = vec!["type", "methodArn", "headers", "queryStringParameters", "requestContext"];
        required.extend(WS_RC.iter().filter(|k| **k != "isBase64Encoded"));
        assert_eq!(missing(&local, &required), Vec::<String>::new());
    }
}
