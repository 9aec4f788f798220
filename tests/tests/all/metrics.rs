//! Metrics (`chat::metrics`): a send over HTTP and over WebSocket moves the counters it should
//! on the local gateway's `GET /@metrics` (the same names as the Embedded Metric Format lines on
//! AWS), by as much as the requests the budget test counts; and `/@metrics` is a route of the
//! local gateway only, never of the HTTP API deployed on AWS.

use std::collections::HashMap;
use std::time::Duration;

use chat::store::counted::{requests, OpRecord};
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{both_stores, counted_with_push, eventually, Gateway, Store};

both_stores!(a_send_over_http_and_over_websocket_moves_the_counters_it_should);

/// `GET /@metrics`, parsed: `Name{labels}` → value.
async fn scrape(gw: &Gateway) -> HashMap<String, f64> {
    let res = reqwest::get(format!("{}/@metrics", gw.http)).await.expect("GET /@metrics");
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = res.text().await.expect("text");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

fn get(m: &HashMap<String, f64>, name: &str, function: &str) -> f64 {
    m.get(&format!("{name}{{function=\"{function}\"}}")).copied().unwrap_or(0.0)
}

/// What moved between two scrapes, for `function`.
fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, name: &str, function: &str) -> f64 {
    get(after, name, function) - get(before, name, function)
}

fn posts(records: &[OpRecord]) -> f64 {
    records.iter().filter(|r| r.op == "POST @connections").count() as f64
}

async fn a_send_over_http_and_over_websocket_moves_the_counters_it_should(store: Store) {
    let (gw, counted) = counted_with_push(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (_, group) = gw.post("/api/groups", &alice.token, json!({ "name": "metrics", "members": [bob.id] })).await;
    let group = group["data"]["id"].as_str().expect("a group").to_owned();
    let (_, channel) = gw.post("/api/channels", &alice.token, json!({ "name": "metrics-open" })).await;
    let channel = channel["data"]["id"].as_str().expect("a channel").to_owned();
    let mut alice_ws = gw.connect(&alice).await;
    let mut bob_ws = gw.connect(&bob).await;
    gw.wait_connections(&bob, 1).await;
    alice_ws.drain(Duration::from_millis(300)).await;
    bob_ws.drain(Duration::from_millis(300)).await;

    let m = scrape(&gw).await;
    assert_eq!(m.get("LiveConnections"), Some(&2.0), "two sockets open");
    assert_eq!(get(&m, "ConnectionsOpened", "ws-connect"), 2.0);
    assert!(get(&m, "Latency_count", "ws-authorizer") >= 2.0, "the authorizer ran for each");

    // Over HTTP: a direct message, stored once, pushed to bob's socket (and alice's own).
    counted.take();
    let before = scrape(&gw).await;
    let (status, sent) = gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "hi" })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    bob_ws.event("chatMessage").await;
    let records = counted.take();
    let f = "messages-send";
    let after = scrape(&gw).await;
    assert_eq!(moved(&before, &after, "MessagesSentDirect", f), 1.0);
    assert_eq!(moved(&before, &after, "MessagesSentGroup", f), 0.0);
    assert_eq!(moved(&before, &after, "Latency_count", f), 1.0, "one invocation");
    assert_eq!(moved(&before, &after, "DynamoDBRequests", f), requests(&records) as f64, "as the budget counts");
    assert!(moved(&before, &after, "DynamoDBRequests", f) >= 2.0);
    assert_eq!(moved(&before, &after, "PushesAttempted", f), posts(&records));
    assert!(moved(&before, &after, "PushesAttempted", f) >= 1.0, "at least bob's socket");
    assert_eq!(moved(&before, &after, "PushesDelivered", f), moved(&before, &after, "PushesAttempted", f));
    assert_eq!(moved(&before, &after, "PushesFailed", f) + moved(&before, &after, "PushesGone", f), 0.0);
    assert!(get(&after, "FanOutSize_max", f) >= 1.0);

    // Over WebSocket: a group message; `messageReceived` to bob's socket, `chatMessage` to alice's.
    let before = after;
    bob_ws.send(json!({ "action": "sendMessage", "conversationId": group, "text": "hello group" })).await;
    bob_ws.event("messageReceived").await;
    alice_ws.event("chatMessage").await;
    let f = "ws-send-message";
    // The invocation's counters are added when it ends, just after its last push.
    let mut after = scrape(&gw).await;
    for _ in 0..100 {
        if moved(&before, &after, "Latency_count", f) == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = scrape(&gw).await;
    }
    assert_eq!(moved(&before, &after, "Latency_count", f), 1.0, "one invocation");
    let records = counted.take();
    assert_eq!(moved(&before, &after, "MessagesSentGroup", f), 1.0);
    assert_eq!(moved(&before, &after, "MessagesSentDirect", f), 0.0);
    assert_eq!(moved(&before, &after, "DynamoDBRequests", f), requests(&records) as f64, "as the budget counts");
    assert_eq!(moved(&before, &after, "PushesAttempted", f), posts(&records));
    assert!(moved(&before, &after, "PushesAttempted", f) >= 2.0, "the acknowledgement and alice's chatMessage");
    assert_eq!(moved(&before, &after, "PushesDelivered", f), moved(&before, &after, "PushesAttempted", f));

    // A channel message over WebSocket.
    alice_ws.send(json!({ "action": "sendMessage", "conversationId": channel, "text": "to all" })).await;
    alice_ws.event("messageReceived").await;
    eventually("the channel message is counted", || async {
        get(&scrape(&gw).await, "MessagesSentChannel", "ws-send-message") == 1.0
    })
    .await;

    // Refusals: a request without a token, a handshake with a bad one.
    let (status, _) = gw.get("/api/users/me", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(crate::harness::Ws::connect(&gw.ws_url("not-a-token")).await.is_err());
    let m = scrape(&gw).await;
    assert_eq!(get(&m, "AuthFailures", "users-me"), 1.0);
    assert_eq!(get(&m, "AuthFailures", "ws-authorizer"), 1.0);

    // A socket that ends: `$disconnect` counts it, the gauge follows.
    bob_ws.close().await;
    eventually("$disconnect is counted", || async { scrape(&gw).await.get("LiveConnections") == Some(&1.0) }).await;
    assert_eq!(get(&scrape(&gw).await, "ConnectionsClosed", "ws-disconnect"), 1.0);
    drop(alice_ws);
}

/// `/@metrics`, like `/@connections`, is the local gateway's: no route of the HTTP API (on AWS
/// the metrics are in CloudWatch), neither in the route table, nor in the template, nor in the
/// OpenAPI document.
#[test]
fn metrics_are_a_local_gateway_route_not_an_http_api_route_on_aws() {
    for r in functions::routes::routes() {
        assert!(!r.key.contains("@metrics") && !r.key.contains("@connections"), "{}", r.key);
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for file in ["template.yaml", "docs/openapi.json"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).expect("generated file");
        assert!(!text.contains("/@metrics"), "{file} exposes /@metrics");
    }
}
