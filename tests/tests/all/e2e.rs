//! End to end over real HTTP and real WebSockets against the local gateway, on both stores.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite;

use crate::harness::{both_stores, eventually, Gateway, Store};

both_stores!(
    two_users_chat_live_over_rest_and_websocket_on_every_device,
    a_retried_client_message_id_stores_and_pushes_nothing_new,
    a_client_that_reconnects_fetches_what_it_missed_with_after,
    typing_starts_and_stops_and_ends_on_disconnect,
    marking_read_tells_the_other_member_and_drops_the_unread_count,
    a_connection_that_answers_410_is_removed_and_the_others_still_get_the_message,
    a_bad_token_is_refused_at_connect,
    a_stranger_is_refused_on_every_route,
    connected_admins_get_new_message_events,
    a_busy_user_gets_no_live_push_but_finds_the_message_stored,
    logout_revokes_the_token_and_a_password_change_invalidates_older_tokens,
    a_deleted_user_loses_access_and_their_connections_and_keeps_their_messages,
    bad_input_gets_a_4xx_envelope_and_changes_nothing,
    the_conversation_list_shows_the_latest_activity_first_with_unread_counts,
);

async fn two_users_chat_live_over_rest_and_websocket_on_every_device(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);

    // Login works by username, and sets the HttpOnly cookie.
    let (status, body) = gw
        .post_anon("/api/auth/login", json!({ "username": alice.username, "password": "correct horse battery" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, conv) =
        gw.post("/api/conversations/start", &alice.token, json!({ "participants": [alice.username, bob.id] })).await;
    assert_eq!(status, StatusCode::CREATED, "{conv}");
    let conv_id = conv["data"]["id"].as_str().unwrap().to_owned();
    let (status, again) =
        gw.post("/api/conversations/start", &bob.token, json!({ "participants": [alice.id, bob.id] })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["data"]["id"], conv_id, "one conversation per pair");

    let mut alice_ws = gw.connect(&alice).await;
    let mut bob_phone = gw.connect(&bob).await;
    let mut bob_laptop = gw.connect(&bob).await;

    // Over REST: stored (201), then pushed live to every device of bob and to alice's socket.
    let (status, sent) =
        gw.post("/api/messages", &alice.token, json!({ "receiverId": conv_id, "content": "hi bob" })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    for ws in [&mut bob_phone, &mut bob_laptop, &mut alice_ws] {
        let ev = ws.event("chatMessage").await;
        assert_eq!(ev["message"]["text"], "hi bob");
        assert_eq!(ev["sender"]["username"], alice.username);
    }

    // Over WebSocket: messageReceived to the sending socket, chatMessage to everyone else.
    bob_phone.send(json!({ "action": "sendMessage", "conversationId": conv_id, "text": "hello alice", "clientMessageId": "c-1" })).await;
    let ack = bob_phone.event("messageReceived").await;
    assert_eq!(ack["clientMessageId"], "c-1");
    let stored_id = ack["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(alice_ws.event("chatMessage").await["message"]["id"], stored_id);
    assert_eq!(bob_laptop.event("chatMessage").await["message"]["id"], stored_id, "the sender's other device");

    // The alias chatMessage works too, addressed to a user.
    alice_ws.send(json!({ "action": "chatMessage", "receiverId": bob.id, "text": "via alias" })).await;
    assert_eq!(alice_ws.event("messageReceived").await["message"]["conversationId"], conv_id);

    // Every send form of the seeds lands in the same conversation.
    let (s1, _) = gw
        .post("/api/messages/send", &alice.token, json!({ "sender": alice.id, "receiver": bob.id, "text": "seed 000" }))
        .await;
    let (s2, _) =
        gw.post(&format!("/api/messages/send/{}", bob.id), &alice.token, json!({ "message": "seed 003" })).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    let (status, history) = gw.get(&format!("/api/messages/{conv_id}"), &bob.token).await;
    assert_eq!(status, StatusCode::OK);
    let texts: Vec<_> =
        history["data"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(texts, ["hi bob", "hello alice", "via alias", "seed 000", "seed 003"]);
    // Seed 003's form: the history of the direct conversation, addressed by the other user's id.
    let (_, by_user) = gw.get(&format!("/api/messages/{}", alice.id), &bob.token).await;
    assert_eq!(by_user["data"], history["data"]);
}

async fn a_retried_client_message_id_stores_and_pushes_nothing_new(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut alice_ws = gw.connect(&alice).await;
    let mut bob_ws = gw.connect(&bob).await;
    let frame = json!({ "action": "sendMessage", "receiverId": bob.id, "text": "once", "clientMessageId": "retry-me" });
    alice_ws.send(frame.clone()).await;
    let first = alice_ws.event("messageReceived").await;
    bob_ws.event("chatMessage").await;
    alice_ws.send(frame).await;
    let second = alice_ws.event("messageReceived").await;
    assert_eq!(first["message"]["id"], second["message"]["id"]);
    assert_eq!(second["duplicate"], true);
    assert!(bob_ws.try_event("chatMessage", Duration::from_millis(500)).await.is_none(), "pushed twice");
    // REST retries too: the same message, 200 instead of 201.
    let body = json!({ "receiverId": bob.id, "content": "once", "clientMessageId": "retry-me" });
    let (status, again) = gw.post("/api/messages", &alice.token, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["data"]["id"], first["message"]["id"]);
    let (_, history) = gw.get(&format!("/api/messages/{}", bob.id), &alice.token).await;
    assert_eq!(history["data"].as_array().unwrap().len(), 1);
}

async fn a_client_that_reconnects_fetches_what_it_missed_with_after(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut bob_ws = gw.connect(&bob).await;
    gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "m0" })).await;
    let last_seen = bob_ws.event("chatMessage").await["message"]["id"].as_str().unwrap().to_owned();
    bob_ws.close().await;
    for i in 1..=5 {
        let (status, _) =
            gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": format!("m{i}") })).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut bob_ws = gw.connect(&bob).await;
    let mut missed = Vec::new();
    let mut cursor = last_seen;
    loop {
        let (status, page) = gw.get(&format!("/api/messages/{}?after={cursor}&limit=2", alice.id), &bob.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        missed.extend(page["data"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(missed, ["m1", "m2", "m3", "m4", "m5"]);
    // Older pages go backwards with `before`.
    let (_, latest) = gw.get(&format!("/api/messages/{}?limit=2", alice.id), &bob.token).await;
    let texts: Vec<_> = latest["data"].as_array().unwrap().iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, [json!("m4"), json!("m5")]);
    let before = latest["nextCursor"].as_str().unwrap();
    let (_, older) = gw.get(&format!("/api/messages/{}?limit=2&before={before}", alice.id), &bob.token).await;
    let texts: Vec<_> = older["data"].as_array().unwrap().iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, [json!("m2"), json!("m3")]);
    // And it is live again.
    gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "live" })).await;
    assert_eq!(bob_ws.event("chatMessage").await["message"]["text"], "live");
}

async fn typing_starts_and_stops_and_ends_on_disconnect(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (_, conv) =
        gw.post("/api/conversations/start", &alice.token, json!({ "participants": [alice.id, bob.id] })).await;
    let conv_id = conv["data"]["id"].clone();
    let mut alice_ws = gw.connect(&alice).await;
    let mut bob_ws = gw.connect(&bob).await;
    // Typing is for the connections viewing the conversation (its room).
    alice_ws.send(json!({ "action": "typing", "conversationId": conv_id, "isTyping": true })).await;
    assert!(bob_ws.try_event("typingStatus", Duration::from_millis(500)).await.is_none(), "bob is not viewing it");
    bob_ws.send(json!({ "action": "joinConversation", "conversationId": conv_id })).await;
    gw.wait_room(conv_id.as_str().unwrap(), 1).await;
    alice_ws.send(json!({ "action": "typing", "conversationId": conv_id, "isTyping": true })).await;
    let ev = bob_ws.event("typingStatus").await;
    assert_eq!((ev["userId"].as_str(), ev["isTyping"].as_bool()), (Some(alice.id.as_str()), Some(true)));
    assert!(ev["expiresAt"].as_str().is_some_and(|t| !t.is_empty()), "a typing indicator expires");
    alice_ws.send(json!({ "action": "typing", "conversationId": conv_id, "isTyping": false })).await;
    assert_eq!(bob_ws.event("typingStatus").await["isTyping"], false);
    // Typing, then gone without saying so: the disconnect ends it.
    alice_ws.send(json!({ "action": "typing", "conversationId": conv_id, "isTyping": true })).await;
    assert_eq!(bob_ws.event("typingStatus").await["isTyping"], true);
    alice_ws.close().await;
    let ev = bob_ws.event("typingStatus").await;
    assert_eq!((ev["userId"].as_str(), ev["isTyping"].as_bool()), (Some(alice.id.as_str()), Some(false)));
}

async fn marking_read_tells_the_other_member_and_drops_the_unread_count(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    for text in ["one", "two", "three"] {
        gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": text })).await;
    }
    let (_, list) = gw.get("/api/conversations", &bob.token).await;
    assert_eq!(list["data"][0]["unreadCount"], 3);
    assert_eq!(list["data"][0]["lastMessage"]["text"], "three");
    let conv_id = list["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, history) = gw.get(&format!("/api/messages/{conv_id}"), &bob.token).await;
    let second = history["data"][1]["id"].as_str().unwrap().to_owned();

    let mut alice_ws = gw.connect(&alice).await;
    let mut bob_ws = gw.connect(&bob).await;
    bob_ws.send(json!({ "action": "markAsRead", "conversationId": conv_id, "upToMessageId": second })).await;
    assert_eq!(bob_ws.event("messagesMarkedRead").await["unreadCount"], 1);
    let read = alice_ws.event("messagesRead").await;
    assert_eq!(
        (read["userId"].as_str(), read["upToMessageId"].as_str()),
        (Some(bob.id.as_str()), Some(second.as_str()))
    );
    let (_, list) = gw.get("/api/conversations", &bob.token).await;
    assert_eq!(list["data"][0]["unreadCount"], 1);
    // The REST twin reads everything.
    let (status, body) = gw.post(&format!("/api/conversations/{conv_id}/read"), &bob.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(alice_ws.event("messagesRead").await["unreadCount"], 0);
    let (_, list) = gw.get("/api/conversations", &bob.token).await;
    assert_eq!(list["data"][0]["unreadCount"], 0);
    // The sender's own messages never count as unread to them.
    let (_, list) = gw.get("/api/conversations", &alice.token).await;
    assert_eq!(list["data"][0]["unreadCount"], 0);
}

async fn a_connection_that_answers_410_is_removed_and_the_others_still_get_the_message(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut bob_ws = gw.connect(&bob).await;
    // A connection the store believes in but API Gateway no longer has (its $disconnect was lost).
    let bob_id = chat::ids::UserId::parse(&bob.id).unwrap();
    crate::harness::ghost_connection(gw.app().table(), &bob_id, "GhostConnection0=").await;
    let presence = chat::repo::connections::presence(gw.app().table(), &bob_id).await.unwrap();
    assert_eq!(presence.conn_set.len(), 2);

    let (status, _) =
        gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "still delivered" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(bob_ws.event("chatMessage").await["message"]["text"], "still delivered");
    let presence = chat::repo::connections::presence(gw.app().table(), &bob_id).await.unwrap();
    assert!(!presence.conn_set.contains(&"GhostConnection0=".to_owned()), "the gone connection was removed");
    assert_eq!(presence.conn_set.len(), 1);
    assert!(chat::repo::connections::get(gw.app().table(), "GhostConnection0=").await.unwrap().is_none());
}

async fn a_bad_token_is_refused_at_connect(store: Store) {
    let gw = Gateway::start(store).await;
    let alice = gw.user("alice").await;
    let mut tampered = alice.token.clone();
    tampered.pop();
    tampered.push(if alice.token.ends_with('A') { 'B' } else { 'A' });
    for url in [gw.ws.clone(), gw.ws_url("garbage"), gw.ws_url(&tampered)] {
        match crate::harness::Ws::connect(&url).await {
            Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401, "{url}"),
            Err(e) => panic!("{url}: unexpected error {e}"),
            Ok(_) => panic!("{url}: connected without a valid token"),
        }
    }
    // The Authorization header and the jwt cookie work as well as the query.
    for (name, value) in
        [("Authorization", format!("Bearer {}", alice.token)), ("Cookie", format!("jwt={}", alice.token))]
    {
        use tungstenite::client::IntoClientRequest;
        let mut req = gw.ws.clone().into_client_request().unwrap();
        req.headers_mut().insert(name, value.parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("connects with a header token");
        use futures::SinkExt;
        ws.send(tungstenite::Message::Text(json!({ "action": "ping" }).to_string().into())).await.unwrap();
    }
}

async fn a_stranger_is_refused_on_every_route(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let (_, sent) = gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "private" })).await;
    let conv_id = sent["data"]["conversationId"].as_str().unwrap().to_owned();
    let msg_id = sent["data"]["id"].as_str().unwrap().to_owned();
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/conversations/{conv_id}"), None),
        (Method::DELETE, format!("/api/conversations/{conv_id}"), None),
        (Method::POST, format!("/api/conversations/{conv_id}/read"), Some(json!({}))),
        (Method::GET, format!("/api/messages/{conv_id}"), None),
        (Method::POST, "/api/messages".into(), Some(json!({ "receiverId": conv_id, "content": "let me in" }))),
        (
            Method::POST,
            "/api/messages/send".into(),
            Some(json!({ "sender": alice.id, "receiver": bob.id, "text": "spoof" })),
        ),
        (Method::DELETE, format!("/api/messages/{msg_id}"), None),
        (Method::PUT, format!("/api/users/{}", alice.id), Some(json!({ "firstName": "pwned" }))),
        (Method::DELETE, format!("/api/users/{}", alice.id), None),
        (Method::POST, "/api/conversations/start".into(), Some(json!({ "participants": [alice.id, bob.id] }))),
        (Method::GET, "/api/conversations?all=true".into(), None),
    ];
    for (method, path, body) in &cases {
        let (status, res) = gw.call(method.clone(), path, Some(&eve.token), body.clone()).await;
        assert!(matches!(status.as_u16(), 403 | 404), "{method} {path} let a stranger in: {status} {res}");
        assert_eq!(res["success"], false);
        let (status, _) = gw.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} without a token");
    }
    // Nothing changed: the message, the profile and the conversation are intact.
    let (_, history) = gw.get(&format!("/api/messages/{conv_id}"), &bob.token).await;
    assert_eq!(history["data"].as_array().unwrap().len(), 1);
    assert_eq!(history["data"][0]["text"], "private");
    let (_, me) = gw.get("/api/users/me", &alice.token).await;
    assert_eq!(me["data"]["firstName"], Value::Null);
    // Other users' private fields stay private.
    let (_, profile) = gw.get(&format!("/api/users/{}", alice.id), &eve.token).await;
    assert!(profile["data"].get("email").is_none() && profile["data"].get("role").is_none());
    // And over the WebSocket (a non-member is told it does not exist, SPEC §7).
    let mut eve_ws = gw.connect(&eve).await;
    eve_ws.send(json!({ "action": "sendMessage", "conversationId": conv_id, "text": "let me in" })).await;
    assert_eq!(eve_ws.event("error").await["code"], "NOT_FOUND");
    eve_ws.send(json!({ "action": "typing", "conversationId": conv_id, "isTyping": true })).await;
    assert_eq!(eve_ws.event("error").await["code"], "NOT_FOUND");
    eve_ws.send(json!({ "action": "joinConversation", "conversationId": conv_id })).await;
    assert_eq!(eve_ws.event("error").await["code"], "NOT_FOUND");
}

async fn connected_admins_get_new_message_events(store: Store) {
    let gw = Gateway::start(store).await;
    // `Gateway::admin` asserts that the admin is new and that its login says role admin.
    let admin = gw.admin("root-admin").await;
    let mut admin_ws = gw.connect(&admin).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "watched" })).await;
    let ev = admin_ws.event("newMessage").await;
    assert_eq!(ev["message"]["text"], "watched");
    // Admins read every conversation; they alone may delete one.
    let (status, all) = gw.get("/api/conversations?all=true", &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    let conv_id = ev["message"]["conversationId"].as_str().unwrap();
    assert!(all["data"].as_array().unwrap().iter().any(|c| c["id"] == conv_id));
    let (status, _) = gw.get(&format!("/api/messages/{conv_id}"), &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = gw.delete(format!("/api/conversations/{conv_id}"), &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = gw.get(&format!("/api/conversations/{conv_id}"), &alice.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A user cannot promote themselves.
    let (status, _) = gw.put(format!("/api/users/{}", alice.id), &alice.token, json!({ "role": "admin" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body = json!({ "username": "wannabe", "password": "password 123", "role": "admin" });
    let (status, _) = gw.post("/api/users/register", &alice.token, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, created) = gw.post("/api/users/register", &admin.token, body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["data"]["user"]["role"], "admin");
}

async fn a_busy_user_gets_no_live_push_but_finds_the_message_stored(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut bob_ws = gw.connect(&bob).await;
    let bob_id = chat::ids::UserId::parse(&bob.id).unwrap();
    let key = chat::repo::keys::presence(&bob_id);
    gw.app().table().update(&key, vec![chat::store::Update::Set("status".into(), "busy".into())], None).await.unwrap();
    gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "do not disturb" })).await;
    assert!(
        bob_ws.try_event("chatMessage", Duration::from_millis(700)).await.is_none(),
        "busy users are not pushed to"
    );
    let (_, history) = gw.get(&format!("/api/messages/{}", alice.id), &bob.token).await;
    assert_eq!(history["data"][0]["text"], "do not disturb");
}

async fn logout_revokes_the_token_and_a_password_change_invalidates_older_tokens(store: Store) {
    let gw = Gateway::start(store).await;
    let alice = gw.user("alice").await;
    let (status, refreshed) = gw.post("/api/auth/refresh", &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = refreshed["data"]["token"].as_str().unwrap().to_owned();
    let (status, _) = gw.get("/api/users/me", &alice.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a refreshed token is retired");
    let (status, _) = gw.post("/api/auth/logout", &fresh, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = gw.get("/api/users/me", &fresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a logged-out token is revoked");
    assert!(
        matches!(crate::harness::Ws::connect(&gw.ws_url(&fresh)).await, Err(tungstenite::Error::Http(r)) if r.status() == 401)
    );

    let login = |password: &'static str| {
        gw.post_anon("/api/auth/login", json!({ "username": alice.username, "password": password }))
    };
    let (_, a) = login("correct horse battery").await;
    let (_, b) = login("correct horse battery").await;
    let (old1, old2) =
        (a["data"]["token"].as_str().unwrap().to_owned(), b["data"]["token"].as_str().unwrap().to_owned());
    let change = json!({ "password": "new password 42", "currentPassword": "wrong" });
    let (status, _) = gw.put(format!("/api/users/{}", alice.id), &old1, change).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the current password is required");
    let change = json!({ "password": "new password 42", "currentPassword": "correct horse battery" });
    let (status, changed) = gw.put(format!("/api/users/{}", alice.id), &old1, change).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let new_token = changed["data"]["token"].as_str().unwrap();
    for old in [&old1, &old2] {
        assert_eq!(gw.get("/api/users/me", old).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(gw.get("/api/users/me", new_token).await.0, StatusCode::OK);
    assert_eq!(login("correct horse battery").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login("new password 42").await.0, StatusCode::OK);
}

async fn a_deleted_user_loses_access_and_their_connections_and_keeps_their_messages(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "remember me" })).await;
    let mut alice_ws = gw.connect(&alice).await;
    let (status, _) = gw.delete(format!("/api/users/{}", alice.id), &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(alice_ws.closed(Duration::from_secs(5)).await, "live connections are closed");
    assert_eq!(gw.get("/api/users/me", &alice.token).await.0, StatusCode::UNAUTHORIZED);
    let (_, history) = gw.get(&format!("/api/messages/{}", alice.id), &bob.token).await;
    assert_eq!(history["data"][0]["text"], "remember me");
    let (_, list) = gw.get("/api/conversations", &bob.token).await;
    let members = list["data"][0]["members"].as_array().unwrap();
    assert!(members.iter().any(|m| m["deleted"] == true), "attributed to a deleted user: {members:?}");
    // The name is free again.
    let (status, _) =
        gw.post_anon("/api/users/register", json!({ "username": alice.username, "password": "another one 1" })).await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn bad_input_gets_a_4xx_envelope_and_changes_nothing(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let big = "x".repeat(70 * 1024);
    let cases = [
        ("/api/messages", json!({ "receiverId": bob.id, "content": "" }), 400),
        ("/api/messages", json!({ "receiverId": bob.id, "content": "é".repeat(4001) }), 400),
        ("/api/messages", json!({ "receiverId": bob.id, "content": 42 }), 400),
        // A username no one has is an unknown user (seed 000 names users); not a name at all: 400.
        ("/api/messages", json!({ "receiverId": "nobody", "content": "hi" }), 404),
        ("/api/messages", json!({ "receiverId": "no body!", "content": "hi" }), 400),
        ("/api/messages", json!({ "receiverId": bob.id, "content": big }), 413),
        // Well-formed, refused by rule: no conversation with oneself.
        ("/api/messages", json!({ "receiverId": alice.id, "content": "me" }), 403),
        ("/api/messages", json!({ "receiverId": "usr_01JAAAAAAAAAAAAAAAAAAAAAAA", "content": "ghost" }), 404),
        ("/api/conversations/start", json!({ "participants": [alice.id] }), 400),
        ("/api/users/register", json!({ "username": "x", "password": "short" }), 400),
        ("/api/users/register", json!({ "username": "validname", "password": "long enough", "id": "usr_x" }), 400),
        (
            "/api/users/register",
            json!({ "username": "validname2", "password": "long enough", "role": "superuser" }),
            400,
        ),
    ];
    for (path, body, expected) in cases {
        let (status, res) = gw.post(path, &alice.token, body.clone()).await;
        assert_eq!(status.as_u16(), expected, "{path} {res}");
        assert_eq!(res["success"], false);
        assert!(res["error"]["code"].is_string() && res["error"]["message"].is_string());
    }
    let res = reqwest::Client::new()
        .post(format!("{}/api/messages", gw.http))
        .bearer_auth(&alice.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (_, history) = gw.get(&format!("/api/messages/{}", bob.id), &alice.token).await;
    assert_eq!(history["data"], json!([]), "nothing was stored");
    let (status, _) = gw.get(&format!("/api/messages/{}?limit=1000", bob.id), &alice.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Over the WebSocket: an error event, and the connection stays usable.
    let mut ws = gw.connect(&alice).await;
    ws.send_raw(tungstenite::Message::Text("{not json".into())).await;
    assert_eq!(ws.event("error").await["code"], "VALIDATION_ERROR");
    ws.send(json!({ "action": "fly" })).await;
    let unknown = ws.event("error").await;
    assert_eq!(unknown["details"]["field"], "action");
    assert!(!unknown.to_string().contains("fly"), "the submitted action is not echoed: {unknown}");
    ws.send(json!({ "action": "sendMessage", "conversationId": "nope", "text": "x" })).await;
    assert_eq!(ws.event("error").await["code"], "VALIDATION_ERROR");
    ws.send(json!({ "action": "sendMessage", "receiverId": bob.id, "text": "y".repeat(4001) })).await;
    assert_eq!(ws.event("error").await["code"], "VALIDATION_ERROR");
    ws.send(json!({ "action": "ping" })).await;
    assert!(ws.event("pong").await["time"].is_string());
    // A frame above API Gateway's 32 KB ends the connection (1009), as it does on AWS.
    ws.send(json!({ "action": "sendMessage", "receiverId": bob.id, "text": "y".repeat(40_000) })).await;
    assert_eq!(ws.close_code(Duration::from_secs(5)).await, Some(1009));
}

async fn the_conversation_list_shows_the_latest_activity_first_with_unread_counts(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    gw.post("/api/messages", &bob.token, json!({ "receiverId": alice.id, "content": "from bob" })).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    gw.post("/api/messages", &carol.token, json!({ "receiverId": alice.id, "content": "from carol" })).await;
    gw.post("/api/messages", &carol.token, json!({ "receiverId": alice.id, "content": "again" })).await;
    let (_, list) = gw.get("/api/conversations", &alice.token).await;
    let list = list["data"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["lastMessage"]["text"], "again");
    assert_eq!(list[0]["unreadCount"], 2);
    assert_eq!(list[1]["unreadCount"], 1);
    assert!(list[0]["members"].as_array().unwrap().iter().any(|m| m["username"] == carol.username));
    eventually("bob's list has one conversation", || async {
        let (_, l) = gw.get("/api/conversations", &bob.token).await;
        l["data"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
}
