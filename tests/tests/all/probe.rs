//! What an outside probe found (issue "what a new user and an outside probe hit first"), each
//! as it was hit from outside, on both stores: statuses that do not read back, a deleted text
//! that lingers in its copies, an idempotency key that dropped a message, invisible texts, values
//! echoed into errors, answers that differ by existence, counters that lose concurrent updates.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store};

both_stores!(
    a_status_set_over_rest_reads_back_beside_the_liveness,
    appearing_offline_freezes_last_seen_for_others,
    a_deleted_message_leaves_no_text_in_any_conversation_list,
    a_client_message_id_reused_for_another_target_or_text_is_refused_not_dropped,
    texts_that_render_as_nothing_are_refused_everywhere,
    a_non_member_gets_the_same_answer_whether_or_not_the_conversation_exists,
    parallel_refreshes_of_one_token_mint_one_live_token,
    concurrent_failed_logins_from_one_address_are_all_counted,
    a_method_a_path_is_not_served_with_gets_405_with_allow_and_an_unknown_path_404,
);

async fn a_status_set_over_rest_reads_back_beside_the_liveness(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (_, fresh) = gw.get(format!("/api/status/{}", alice.id), &bob.token).await;
    assert_eq!((fresh["data"]["status"].as_str(), fresh["data"]["online"].as_bool()), (Some("offline"), Some(false)));
    let (status, _) = gw.put("/api/status", &alice.token, json!({ "status": "away" })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, seen) = gw.get(format!("/api/status/{}", alice.id), &bob.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["data"]["status"], "away", "what alice set reads back: {seen}");
    assert_eq!(seen["data"]["online"], false, "no socket: not online");
    assert!(seen["data"]["lastSeen"].is_string(), "{seen}");
}

async fn appearing_offline_freezes_last_seen_for_others(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    gw.put("/api/status", &alice.token, json!({ "status": "offline" })).await;
    let status_of_alice = || gw.get(format!("/api/status/{}", alice.id), &bob.token);
    let (_, hidden) = status_of_alice().await;
    assert_eq!(hidden["data"]["status"], "offline");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // Hidden activity: a socket comes and goes, the status is set again.
    let ws = gw.connect(&alice).await;
    gw.put("/api/status", &alice.token, json!({ "status": "offline" })).await;
    let (_, while_connected) = status_of_alice().await;
    ws.close().await;
    assert_eq!(while_connected["data"]["online"], false, "{while_connected}");
    assert_eq!(while_connected["data"]["lastSeen"], hidden["data"]["lastSeen"], "lastSeen must not move");
    // Visible again: liveness shows, and lastSeen moves on.
    gw.put("/api/status", &alice.token, json!({ "status": "online" })).await;
    let (_, visible) = status_of_alice().await;
    assert_ne!(visible["data"]["lastSeen"], hidden["data"]["lastSeen"]);
}

/// The `lastMessage` of conversation `id` in a list.
fn last_message_in<'a>(list: &'a Value, id: &str) -> &'a Value {
    let list = list["data"].as_array().expect("a list");
    &list.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} not listed"))["lastMessage"]
}

async fn a_deleted_message_leaves_no_text_in_any_conversation_list(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, root) = (gw.user("alice").await, gw.user("bob").await, gw.admin("root").await);
    let secret = "the text that must go";
    let send =
        |text: &'static str| gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": text }));
    let (_, older) = send("an older message").await;
    let (status, sent) = send(secret).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let (conv, id) = (sent["data"]["conversationId"].as_str().unwrap(), sent["data"]["id"].as_str().unwrap());
    assert_eq!(gw.delete(format!("/api/messages/{id}"), &alice.token).await.0, StatusCode::OK);
    let views = [
        gw.get("/api/conversations", &bob.token).await.1,
        gw.get("/api/conversations", &alice.token).await.1,
        gw.get("/api/conversations?all=true", &root.token).await.1,
    ];
    for view in &views {
        let last = last_message_in(view, conv);
        assert_eq!((last["id"].as_str(), last["deleted"].as_bool()), (Some(id), Some(true)), "{last}");
        assert_eq!(last["text"], "");
    }
    let (_, one) = gw.get(format!("/api/conversations/{conv}"), &bob.token).await;
    assert_eq!(one["data"]["lastMessage"]["text"], "", "{one}");
    for body in views.iter().chain([&one]) {
        assert!(!body.to_string().contains(secret), "the deleted text lingers: {body}");
    }
    // Deleting a message that is not the last leaves the last one as it is.
    let older = older["data"]["id"].as_str().unwrap();
    gw.delete(format!("/api/messages/{older}"), &alice.token).await;
    let (_, after) = gw.get(format!("/api/conversations/{conv}"), &bob.token).await;
    assert_eq!(after["data"]["lastMessage"]["id"], id);
}

async fn a_client_message_id_reused_for_another_target_or_text_is_refused_not_dropped(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let send = |to: &str, text: &str| {
        gw.post("/api/messages", &alice.token, json!({ "receiverId": to, "content": text, "clientMessageId": "k-1" }))
    };
    let (status, first) = send(&bob.id, "hello bob").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, retry) = send(&bob.id, "hello bob").await;
    assert_eq!((status, &retry["data"]["id"]), (StatusCode::OK, &first["data"]["id"]), "a retry returns the message");
    let (status, other_target) = send(&carol.id, "hello carol").await;
    assert_eq!(status, StatusCode::CONFLICT, "never the first conversation's message: {other_target}");
    assert_eq!(other_target["error"]["code"], "CONFLICT");
    let (status, _) = send(&bob.id, "another text").await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Nothing was dropped silently: carol's conversation does not hold bob's message either.
    let (_, carols) = gw.get(format!("/api/messages/{}", alice.id), &carol.token).await;
    assert_eq!(carols["data"], json!([]));
    let (_, bobs) = gw.get(format!("/api/messages/{}", alice.id), &bob.token).await;
    assert_eq!(bobs["data"].as_array().map(Vec::len), Some(1));
}

async fn texts_that_render_as_nothing_are_refused_everywhere(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, root) = (gw.user("alice").await, gw.user("bob").await, gw.admin("root").await);
    for invisible in ["\u{0}", "\u{200B}\u{200D}", "\u{FEFF} \u{2060}", "\u{3164}", "a\u{0}b"] {
        let (status, body) =
            gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": invisible })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "message {invisible:?}: {body}");
        let (status, _) =
            gw.post("/api/notifications", &root.token, json!({ "userId": bob.id, "message": invisible })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "notification {invisible:?}");
        let (status, _) = gw.post("/api/groups", &alice.token, json!({ "name": invisible, "members": [bob.id] })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "group name {invisible:?}");
        let (status, _) =
            gw.put(format!("/api/users/{}", alice.id), &alice.token, json!({ "firstName": invisible })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "first name {invisible:?}");
    }
    let (_, listed) = gw.get(format!("/api/messages/{}", bob.id), &alice.token).await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");
    let (status, _) =
        gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "👋\u{200D}ok\nline" })).await;
    assert_eq!(status, StatusCode::CREATED, "visible text with joiners and newlines is fine");
    // A type error names the expected type, never the submitted (secret) value.
    let (status, body) =
        gw.post_anon("/api/users/login", json!({ "username": alice.username, "password": 98765432123u64 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains("98765432123"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("expected"), "{body}");
}

async fn a_non_member_gets_the_same_answer_whether_or_not_the_conversation_exists(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol, dave, eve) = (
        gw.user("alice").await,
        gw.user("bob").await,
        gw.user("carol").await,
        gw.user("dave").await,
        gw.user("eve").await,
    );
    gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "hi" })).await;
    let direct = |a: &str, b: &str| {
        let id = |u: &str| chat::ids::UserId::parse(u).expect("a user id");
        chat::ids::ConversationId::direct(&id(a), &id(b)).to_string()
    };
    let (talked, never) = (direct(&alice.id, &bob.id), direct(&carol.id, &dave.id));
    let (_, group) = gw.post("/api/groups", &alice.token, json!({ "name": "private", "members": [bob.id] })).await;
    let group = group["data"]["id"].as_str().unwrap().to_owned();
    let missing_group = format!("grp_{}", ulid::Ulid::generate());
    let mut pairs = vec![];
    for (exists, missing) in [(&talked, &never), (&group, &missing_group)] {
        pairs.push((format!("/api/conversations/{exists}"), format!("/api/conversations/{missing}")));
        pairs.push((format!("/api/messages/{exists}"), format!("/api/messages/{missing}")));
    }
    pairs.push((format!("/api/groups/{group}"), format!("/api/groups/{missing_group}")));
    for (exists, missing) in &pairs {
        let (a, b) = (gw.get(exists, &eve.token).await, gw.get(missing, &eve.token).await);
        assert_eq!(a, b, "GET {exists} and {missing} answer a non-member alike");
        assert_eq!(a.0, StatusCode::NOT_FOUND);
    }
    for (exists, missing) in [(&talked, &never), (&group, &missing_group)] {
        let read = |id: &str| gw.post(format!("/api/conversations/{id}/read"), &eve.token, json!({}));
        assert_eq!(read(exists).await, read(missing).await);
        let send = |id: &str| gw.post("/api/messages", &eve.token, json!({ "receiverId": id, "content": "x" }));
        assert_eq!(send(exists).await, send(missing).await);
    }
    // Over the WebSocket too.
    let mut ws = gw.connect(&eve).await;
    let mut answers = vec![];
    for id in [&talked, &never] {
        ws.send(json!({ "action": "typing", "conversationId": id, "isTyping": true })).await;
        answers.push(ws.event("error").await);
    }
    assert_eq!(answers[0], answers[1]);
}

async fn parallel_refreshes_of_one_token_mint_one_live_token(store: Store) {
    let gw = Gateway::start(store).await;
    let alice = gw.user("alice").await;
    let answers = join_all((0..8).map(|_| gw.post("/api/auth/refresh", &alice.token, json!({})))).await;
    let minted: Vec<&str> = answers.iter().filter_map(|(_, b)| b["data"]["token"].as_str()).collect();
    assert_eq!(minted.len(), 1, "{answers:?}");
    for (status, _) in answers.iter().filter(|(_, b)| b["data"]["token"].is_null()) {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(gw.get("/api/users/me", minted[0]).await.0, StatusCode::OK);
    assert_eq!(gw.get("/api/users/me", &alice.token).await.0, StatusCode::UNAUTHORIZED);
}

async fn concurrent_failed_logins_from_one_address_are_all_counted(store: Store) {
    let mut config = crate::harness::config(store);
    config.login_free_failures_per_ip = 4;
    config.login_base_delay_ms = 600_000;
    let gw = Gateway::spawn(config, None).await;
    let attempts = 24;
    let answers = join_all((0..attempts).map(|i| {
        gw.post_anon("/api/auth/login", json!({ "username": format!("nobody-{i}"), "password": "wrong password" }))
    }))
    .await;
    let checked = answers.iter().filter(|(s, _)| *s == StatusCode::UNAUTHORIZED).count();
    let limited = answers.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(checked + limited, attempts, "{answers:?}");
    assert!((1..=4).contains(&checked), "{checked} passwords checked from one address, allowance 4");
    let key = chat::login_guard::ip_key("127.0.0.1");
    let counter = gw.app().table().get(&key, true).await.expect("read").expect("the address is counted");
    assert!(counter["failures"].as_i64() >= Some(checked as i64), "every checked attempt counted: {counter:?}");
}

/// What no route matches goes to the HTTP API's `$default` function, as it does on AWS.
async fn a_method_a_path_is_not_served_with_gets_405_with_allow_and_an_unknown_path_404(store: Store) {
    let gw = Gateway::start(store).await;
    let alice = gw.user("alice").await;
    let client = reqwest::Client::new();
    for (method, path, allow) in [
        ("PATCH", format!("/api/users/{}", alice.id), "DELETE, GET, PUT"),
        ("TRACE", "/api/conversations".to_owned(), "GET"),
        ("DELETE", "/api/auth/login".to_owned(), "POST"),
    ] {
        let res = client
            .request(method.parse().expect("a method"), format!("{}{path}", gw.http))
            .bearer_auth(&alice.token)
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {path}");
        let body: Value = res.json().await.expect("the error envelope");
        assert_eq!(
            (body["success"].as_bool(), body["error"]["code"].as_str()),
            (Some(false), Some("METHOD_NOT_ALLOWED"))
        );
    }
    for path in ["/api/nowhere", "/api/users/a/b/c"] {
        let (status, body) = gw.get(path, &alice.token).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")), "GET {path}");
    }
    // Nothing of the request is echoed.
    let (_, body) = gw.get("/api/<script>", &alice.token).await;
    assert!(!body.to_string().contains("script"), "{body}");
}
