//! API Gateway events, built the way the local gateway and AWS build them, to call the Lambda
//! handlers in-process (the deserialization into `aws_lambda_events` types is part of the cost
//! measured, as it is in a Lambda invocation).

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest};
use chat::service::Actor;
use serde_json::{json, Map, Value};

/// An HTTP API payload v2 event as JSON text (what the Runtime API hands a function).
pub fn http_v2_json(route_key: &str, path: &str, query: &str, token: Option<&str>, body: Option<&Value>) -> String {
    let (method, template) = route_key.split_once(' ').unwrap_or(("GET", route_key));
    let mut params = Map::new();
    for (t, p) in template.split('/').zip(path.split('/')) {
        if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            params.insert(name.to_owned(), p.into());
        }
    }
    let mut headers = json!({ "content-type": "application/json", "host": "api.example.com", "user-agent": "perf" });
    if let Some(t) = token {
        headers["authorization"] = format!("Bearer {t}").into();
    }
    let now = chat::clock::now_ms();
    let mut ev = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "perf",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "perf" },
            "requestId": ulid::Ulid::generate().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": now,
        },
        "body": body.map(Value::to_string).unwrap_or_default(),
        "isBase64Encoded": false,
    });
    if !params.is_empty() {
        ev["pathParameters"] = params.into();
    }
    if !query.is_empty() {
        let q: Map<String, Value> =
            query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), Value::from(v))).collect();
        ev["queryStringParameters"] = q.into();
    }
    ev.to_string()
}

fn ws_context(route_key: &str, event_type: &str, connection_id: &str, actor: Option<&Actor>) -> Value {
    let mut authorizer = Map::new();
    if let Some(a) = actor {
        authorizer.insert("userId".into(), a.user_id.to_string().into());
        authorizer.insert("principalId".into(), a.user_id.to_string().into());
        authorizer.insert("username".into(), a.username.clone().into());
        authorizer.insert("role".into(), serde_json::to_value(a.role).unwrap_or_default());
    }
    let now = chat::clock::now_ms();
    json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": ulid::Ulid::generate().to_string(),
        "requestTime": "01/Jan/2026:00:00:00 +0000",
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": now,
        "requestTimeEpoch": now,
        "identity": { "sourceIp": "127.0.0.1", "userAgent": "perf" },
        "requestId": ulid::Ulid::generate().to_string(),
        "messageId": ulid::Ulid::generate().to_string(),
        "domainName": "ws.example.com",
        "connectionId": connection_id,
        "apiId": "perf",
        "authorizer": authorizer,
    })
}

/// A WebSocket route event (`$connect`, `$disconnect`, or a message route) as JSON text.
pub fn ws_json(route_key: &str, connection_id: &str, actor: Option<&Actor>, body: Option<&Value>) -> String {
    let event_type = match route_key {
        "$connect" => "CONNECT",
        "$disconnect" => "DISCONNECT",
        _ => "MESSAGE",
    };
    let mut ev = json!({
        "requestContext": ws_context(route_key, event_type, connection_id, actor),
        "isBase64Encoded": false,
    });
    if let Some(b) = body {
        ev["body"] = b.to_string().into();
    }
    if event_type != "MESSAGE" {
        ev["headers"] = json!({ "host": "ws.example.com" });
        ev["multiValueHeaders"] = json!({ "host": ["ws.example.com"] });
    }
    ev.to_string()
}

pub fn ws(
    route_key: &str,
    connection_id: &str,
    actor: Option<&Actor>,
    body: Option<&Value>,
) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_str(&ws_json(route_key, connection_id, actor, body)).expect("a WebSocket event")
}

/// The `$connect` REQUEST authorizer event as JSON text, the token in the query string.
pub fn authorizer_json(connection_id: &str, token: &str) -> String {
    let mut rc = ws_context("$connect", "CONNECT", connection_id, None);
    rc.as_object_mut().map(|o| o.remove("authorizer"));
    json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:000000000000:perf/prod/$connect",
        "headers": { "host": "ws.example.com" },
        "multiValueHeaders": { "host": ["ws.example.com"] },
        "queryStringParameters": { "token": token },
        "multiValueQueryStringParameters": { "token": [token] },
        "stageVariables": {},
        "requestContext": rc,
    })
    .to_string()
}

pub fn authorizer(connection_id: &str, token: &str) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_str(&authorizer_json(connection_id, token)).expect("an authorizer event")
}
