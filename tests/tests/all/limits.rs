//! Limits (OWASP API4): body size, message length, page size, name and field lengths, group
//! size, WebSocket frame size; the local gateway's per-user and per-connection rate limits
//! (429 `RATE_LIMITED` over HTTP, an `error` event over WebSocket); the idle timeout.

use std::time::Duration;

use local_gateway::{Limits, Rate};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{unlimited_rates, Gateway, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_and_lengths_are_enforced_with_413_and_400_at_their_boundaries() {
    let mut config = crate::harness::config(Store::Memory);
    config.max_group_members = 3;
    let gw = Gateway::spawn_with_limits(config, None, unlimited_rates()).await;
    let (alice, bob, carol, dave) =
        (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await, gw.user("dave").await);
    let big = "x".repeat(64 * 1024 + 1);
    let me = format!("/api/users/{}", alice.id);
    let (conv_status, conv) =
        gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "hi" })).await;
    assert_eq!(conv_status, StatusCode::CREATED);
    let conv = conv["data"]["conversationId"].as_str().expect("conversation").to_owned();
    let unique = || crate::support::unique_username("u");
    #[rustfmt::skip]
    let cases: Vec<(Method, String, Value, u16)> = vec![
        // Bodies above 64 KB: 413 on every kind of route.
        (Method::POST, "/api/users/register".into(), json!({ "username": unique(), "password": "password 123", "company": big }), 413),
        (Method::POST, "/api/messages".into(), json!({ "receiverId": bob.id, "content": big }), 413),
        (Method::PUT, me.clone(), json!({ "company": big }), 413),
        (Method::POST, "/api/groups".into(), json!({ "name": "g", "members": [big] }), 413),
        (Method::PUT, "/api/status".into(), json!({ "status": "away", "activity": big }), 413),
        // Message text: 1..=4000 characters (not bytes).
        (Method::POST, "/api/messages".into(), json!({ "receiverId": conv, "content": "é".repeat(4000) }), 201),
        (Method::POST, "/api/messages".into(), json!({ "receiverId": conv, "content": "é".repeat(4001) }), 400),
        (Method::POST, "/api/messages".into(), json!({ "receiverId": conv, "content": "" }), 400),
        (Method::POST, "/api/messages".into(), json!({ "receiverId": conv, "content": " \n\t" }), 400),
        (Method::POST, "/chat".into(), json!({ "receiver": conv, "messageDetails": { "text": "x".repeat(4001) } }), 400),
        (Method::POST, "/api/messages".into(), json!({ "receiverId": conv, "content": "k", "clientMessageId": "c".repeat(64) }), 201),
        (Method::POST, "/api/messages".into(), json!({ "receiverId": conv, "content": "k", "clientMessageId": "c".repeat(65) }), 400),
        // Names and profile fields.
        (Method::POST, "/api/users/register".into(), json!({ "username": "ab", "password": "password 123" }), 400),
        (Method::POST, "/api/users/register".into(), json!({ "username": "a".repeat(33), "password": "password 123" }), 400),
        (Method::POST, "/api/users/register".into(), json!({ "username": unique(), "password": "1234567" }), 400),
        (Method::POST, "/api/users/register".into(), json!({ "username": unique(), "password": "p".repeat(129) }), 400),
        (Method::POST, "/api/users/register".into(), json!({ "username": unique(), "password": "password 123", "email": format!("{}@x.io", "e".repeat(250)) }), 400),
        (Method::PUT, me.clone(), json!({ "firstName": "f".repeat(65) }), 400),
        (Method::PUT, me.clone(), json!({ "firstName": "f".repeat(64) }), 200),
        (Method::PUT, me.clone(), json!({ "profilePicture": "p".repeat(2049) }), 400),
        (Method::POST, "/api/groups".into(), json!({ "name": "n".repeat(101) }), 400),
        (Method::POST, "/api/groups".into(), json!({ "name": "n".repeat(100) }), 201),
        (Method::POST, "/api/groups".into(), json!({ "name": "  " }), 400),
        (Method::PUT, "/api/status".into(), json!({ "status": "away", "activity": "a".repeat(65) }), 400),
        (Method::PUT, "/api/status".into(), json!({ "status": "away", "activity": "a".repeat(64) }), 200),
        // Group size (configured to 3 here): the creator and two others fit, a third does not.
        (Method::POST, "/api/groups".into(), json!({ "name": "full", "members": [bob.id, carol.id] }), 201),
        (Method::POST, "/api/groups".into(), json!({ "name": "too big", "members": [bob.id, carol.id, dave.id] }), 400),
    ];
    let mut failures = Vec::new();
    let mut full_group = None;
    for (method, path, body, expected) in &cases {
        let (status, res) = gw.call(method.clone(), path, Some(&alice.token), Some(body.clone())).await;
        if status.as_u16() != *expected {
            let shown: String = body.to_string().chars().take(120).collect();
            failures.push(format!("{method} {path} {shown}: expected {expected}, got {status} {res}"));
        }
        if !status.is_success() && res["success"] != false {
            failures.push(format!("{method} {path}: not the error envelope"));
        }
        if res["data"]["name"] == "full" {
            full_group = res["data"]["id"].as_str().map(str::to_owned);
        }
    }
    let group = full_group.expect("the full group was created");
    let (status, res) =
        gw.put(format!("/api/groups/{group}/members"), &alice.token, json!({ "memberId": dave.id })).await;
    if status != StatusCode::BAD_REQUEST {
        failures.push(format!("adding a member past the group size: {status} {res}"));
    }
    // Page sizes: 1..=100 on every paginated route.
    for path in [
        format!("/api/messages/{conv}"),
        "/api/users".into(),
        "/api/notifications".into(),
        format!("/chat/conversation/{}/{}", alice.id, bob.id),
    ] {
        for (limit, expected) in
            [("0", 400), ("101", 400), ("-1", 400), ("abc", 400), ("1e2", 400), ("100", 200), ("1", 200)]
        {
            let (status, res) = gw.get(&format!("{path}?limit={limit}"), &alice.token).await;
            if status.as_u16() != expected {
                failures.push(format!("GET {path}?limit={limit}: expected {expected}, got {status} {res}"));
            }
        }
    }
    println!("{} limit cases", cases.len() + 1 + 4 * 7);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_frame_above_32_kb_closes_the_connection_with_1009_as_api_gateway_does() {
    let gw = Gateway::start(Store::Memory).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut ws = gw.connect(&alice).await;
    // A text inside the 4,000-character limit is an error event; the connection stays.
    ws.send(json!({ "action": "sendMessage", "receiverId": bob.id, "text": "é".repeat(4001) })).await;
    assert_eq!(ws.event("error").await["code"], "VALIDATION_ERROR");
    ws.send(json!({ "action": "sendMessage", "receiverId": bob.id, "text": "fits" })).await;
    assert_eq!(ws.event("messageReceived").await["message"]["text"], "fits");
    // A frame above API Gateway's 32 KB ends it with 1009, and its `$disconnect` runs.
    ws.send(json!({ "action": "sendMessage", "receiverId": bob.id, "text": "y".repeat(32 * 1024) })).await;
    assert_eq!(ws.close_code(Duration::from_secs(5)).await, Some(1009));
    gw.wait_connections(&alice, 0).await;
}

/// API Gateway's own answer to a throttled request (not the error envelope).
const THROTTLED: &str = r#"{"message":"Too Many Requests"}"#;

async fn get_raw(gw: &Gateway, path: &str, token: &str) -> (StatusCode, String) {
    let res =
        reqwest::Client::new().get(format!("{}{path}", gw.http)).bearer_auth(token).send().await.expect("answers");
    (res.status(), res.text().await.expect("a body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_beyond_a_users_rate_get_api_gateways_429_and_others_are_not_affected() {
    // A refill too slow to matter within the test.
    let limits = Limits { per_user: Rate::new(0.001, 5.0), ..unlimited_rates() };
    let gw = Gateway::spawn_with_limits(crate::harness::config(Store::Memory), None, limits).await;
    // Registration is anonymous: it draws from the address's bucket (5 here), so register
    // the users directly.
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(get_raw(&gw, "/api/users/me", &alice.token).await);
    }
    let limited: Vec<_> = statuses.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!(statuses.len() - limited.len(), 5, "the burst passes, then 429: {statuses:?}");
    assert!(limited.iter().all(|(_, body)| body == THROTTLED), "{limited:?}");
    // Bob has a bucket of his own.
    assert_eq!(gw.get("/api/users/me", &bob.token).await.0, StatusCode::OK);
    // A WebSocket handshake draws from the same bucket: alice cannot open one now.
    assert!(crate::harness::Ws::connect(&gw.ws_url(&alice.token)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_stage_throttle_is_shared_by_every_caller_as_on_api_gateway() {
    let limits = Limits { http_stage: Rate::new(0.001, 6.0), ..unlimited_rates() };
    let gw = Gateway::spawn_with_limits(crate::harness::config(Store::Memory), None, limits).await;
    // Two registrations: 4 of the stage's 6 left.
    let (alice_t, bob_t) = (gw.user("alice").await, gw.user("bob").await);
    let mut answers = Vec::new();
    for i in 0..6 {
        let who = if i % 2 == 0 { &alice_t } else { &bob_t };
        answers.push(get_raw(&gw, "/api/users/me", &who.token).await);
    }
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 4, "the stage's burst, whoever asks: {answers:?}");
    assert!(answers[4..].iter().all(|(s, b)| *s == StatusCode::TOO_MANY_REQUESTS && b == THROTTLED), "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_frames_beyond_a_connections_rate_get_a_rate_limited_error_event() {
    let limits = Limits { per_connection: Rate::new(1.0, 3.0), per_user: Rate::UNLIMITED, ..Limits::default() };
    let gw = Gateway::spawn_with_limits(crate::harness::config(Store::Memory), None, limits).await;
    let alice = gw.user("alice").await;
    let mut ws = gw.connect(&alice).await;
    for _ in 0..5 {
        ws.send(json!({ "action": "ping" })).await;
    }
    let mut pongs = 0;
    let mut limited = 0;
    while pongs + limited < 5 {
        match ws.next_event(Duration::from_secs(10)).await.expect("an answer per frame") {
            (e, _) if e == "pong" => pongs += 1,
            (e, d) if e == "error" => {
                assert_eq!(d["code"], "RATE_LIMITED");
                limited += 1;
            }
            _ => {}
        }
    }
    assert_eq!((pongs, limited), (3, 2));
    // Another connection of the same user has its own bucket.
    let mut other = gw.connect(&alice).await;
    other.send(json!({ "action": "ping" })).await;
    assert!(other.event("pong").await.is_object());
    // The bucket refills: the connection is usable again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ws.send(json!({ "action": "ping" })).await;
    assert!(ws.event("pong").await.is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_websocket_is_closed_and_an_active_one_is_not() {
    let limits = Limits { idle_timeout: Duration::from_millis(600), ..unlimited_rates() };
    let gw = Gateway::spawn_with_limits(crate::harness::config(Store::Memory), None, limits).await;
    let alice = gw.user("alice").await;
    let mut idle = gw.connect(&alice).await;
    let mut active = gw.connect(&alice).await;
    // The active one speaks more often than the timeout, for several timeouts.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        active.send(json!({ "action": "ping" })).await;
        assert!(active.event("pong").await.is_object(), "an active connection stays open");
    }
    assert_eq!(idle.close_code(Duration::from_secs(5)).await, Some(1001), "the idle connection is closed, going away");
    // Its $disconnect ran: only the active connection is left.
    gw.wait_connections(&alice, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_pings_do_not_keep_a_websocket_open_and_pushes_do() {
    let limits = Limits { idle_timeout: Duration::from_millis(1200), ..unlimited_rates() };
    let gw = Gateway::spawn_with_limits(crate::harness::config(Store::Memory), None, limits).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let mut pinging = gw.connect(&alice).await;
    let mut receiving = gw.connect(&bob).await;
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if i < 4 {
            // A WebSocket ping frame is no activity for API Gateway's idle timer…
            pinging.send_raw(tokio_tungstenite::tungstenite::Message::Ping(vec![1].into())).await;
        }
        // …a message pushed to the client is.
        let text = format!("push {i}");
        gw.post("/api/messages", &carol.token, json!({ "receiverId": bob.id, "content": text })).await;
        assert_eq!(receiving.event("chatMessage").await["message"]["text"], text.as_str());
    }
    // 1.5 s in: closed at 1.2 s (pings counted, it would stay open until 2.2 s).
    assert_eq!(pinging.close_code(Duration::from_millis(300)).await, Some(1001));
    receiving.send(json!({ "action": "ping" })).await;
    assert!(receiving.event("pong").await.is_object(), "kept open by what was pushed to it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_is_closed_at_its_maximum_lifetime_however_active() {
    let limits = Limits { max_lifetime: Duration::from_millis(900), ..unlimited_rates() };
    let gw = Gateway::spawn_with_limits(crate::harness::config(Store::Memory), None, limits).await;
    let alice = gw.user("alice").await;
    let mut ws = gw.connect(&alice).await;
    let mut closed = None;
    for _ in 0..40 {
        let _ = ws.try_send(json!({ "action": "ping" })).await;
        closed = ws.close_code(Duration::from_millis(100)).await;
        if closed.is_some() {
            break;
        }
    }
    assert_eq!(closed, Some(1001), "closed, going away, at the end of its lifetime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflights_and_responses_follow_the_templates_configuration() {
    let client = reqwest::Client::new();
    // The template's defaults: any origin, no credentials.
    let gw = Gateway::start(Store::Memory).await;
    let preflight = client
        .request(Method::OPTIONS, format!("{}/api/users/register", gw.http))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .expect("answers");
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-allow-methods"], local_gateway::cors::ALLOW_METHODS);
    assert_eq!(h["access-control-allow-headers"], local_gateway::cors::ALLOW_HEADERS);
    assert_eq!(h["access-control-max-age"], "600");
    assert!(h.get("access-control-allow-credentials").is_none());
    let res = client
        .get(format!("{}/api/users/me", gw.http))
        .header("Origin", "https://app.example")
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["access-control-allow-origin"], "*", "errors carry CORS headers too");

    // Explicit origins with credentials (the cookie cross-origin): only those origins.
    let cors = local_gateway::cors::Cors {
        allow_origins: vec!["https://app.example".into()],
        allow_credentials: true,
        max_age_secs: 60,
    };
    let limits = Limits { cors, ..unlimited_rates() };
    let gw = Gateway::spawn_with_limits(crate::harness::config(Store::Memory), None, limits).await;
    let ask = |origin: &'static str| {
        client
            .request(Method::OPTIONS, format!("{}/api/users/me", gw.http))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
    };
    let ok = ask("https://app.example").await.expect("answers");
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let other = ask("https://evil.example").await.expect("answers");
    assert!(other.headers().get("access-control-allow-origin").is_none(), "another origin gets no CORS grant");
}
