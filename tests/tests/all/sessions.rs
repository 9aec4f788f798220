//! SPEC §7: a WebSocket connection ends with the token it was opened with (logout, refresh,
//! password change, deletion), and a role change applies to the admin room at once (issue 9,
//! item 4). Over real sockets, on both stores.

use std::time::Duration;

use chat::ids::UserId;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User, Ws};

both_stores!(
    after_logout_the_socket_opened_with_that_token_is_closed_and_a_send_on_it_is_not_acknowledged,
    after_logout_another_devices_socket_opened_with_a_different_token_keeps_working,
    after_a_password_change_every_older_socket_closes_and_the_new_tokens_socket_works,
    after_refresh_the_old_tokens_socket_closes_and_the_new_tokens_socket_works,
    a_demoted_admins_socket_stops_getting_new_message_immediately,
    a_promoted_users_socket_closes_and_after_reconnecting_gets_admin_room_events,
    a_frame_on_a_connection_whose_item_is_gone_is_refused_not_served,
    a_renamed_users_socket_closes_so_no_push_carries_the_old_name,
    a_browser_connects_with_a_single_use_ticket_instead_of_a_token_in_the_url,
    a_socket_ends_when_the_token_it_was_opened_with_expires,
);

/// How long a socket has to be closed by the server once the HTTP call that ends it returned.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// How long to listen for an event that must not come.
const QUIET: Duration = Duration::from_millis(800);

/// Another token of `user` (another device).
async fn login(gw: &Gateway, user: &User) -> String {
    let creds = json!({ "username": user.username, "password": "correct horse battery" });
    let (status, body) = gw.post_anon("/api/auth/login", creds).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["token"].as_str().unwrap().to_owned()
}

/// The direct conversation of `a` and `b`, started with a message.
async fn conversation(gw: &Gateway, a: &User, b: &User) -> String {
    let (status, sent) = gw.post("/api/messages", &a.token, json!({ "receiverId": b.id, "content": "hi" })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent["data"]["conversationId"].as_str().unwrap().to_owned()
}

fn send_frame(conv: &str, text: &str) -> Value {
    json!({ "action": "sendMessage", "conversationId": conv, "text": text, "clientMessageId": text })
}

/// Whether a frame sent on `ws` gets `event` back.
async fn answered(ws: &mut Ws, frame: Value, event: &str, wait: Duration) -> bool {
    ws.try_send(frame).await && ws.try_event(event, wait).await.is_some()
}

/// Whether `text` is in the conversation's history, as `reader` sees it.
async fn stored(gw: &Gateway, conv: &str, reader: &str, text: &str) -> bool {
    let (status, history) = gw.get(format!("/api/messages/{conv}"), reader).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    history["data"].as_array().unwrap().iter().any(|m| m["text"] == text)
}

async fn admin_room_has(gw: &Gateway, user: &str) -> bool {
    let admins = chat::repo::connections::admin_connections(gw.app().table(), chat::clock::now_secs()).await.unwrap();
    admins.iter().any(|(_, u)| u.as_str() == user)
}

async fn after_logout_the_socket_opened_with_that_token_is_closed_and_a_send_on_it_is_not_acknowledged(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let mut ws = gw.connect(&alice).await;
    assert!(answered(&mut ws, send_frame(&conv, "before logout"), "messageReceived", CLOSE_WAIT).await);

    let (status, body) = gw.post("/api/auth/logout", &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!answered(&mut ws, send_frame(&conv, "after logout"), "messageReceived", QUIET).await);
    assert!(ws.closed(CLOSE_WAIT).await, "the socket of the logged-out token is closed");
    assert!(!stored(&gw, &conv, &bob.token, "after logout").await, "nothing was stored");
}

async fn after_logout_another_devices_socket_opened_with_a_different_token_keeps_working(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let laptop_token = login(&gw, &alice).await;
    let mut phone = gw.connect(&alice).await;
    let mut laptop = gw.connect_token(&laptop_token).await;
    let mut bob_ws = gw.connect(&bob).await;

    let (status, _) = gw.post("/api/auth/logout", &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(phone.closed(CLOSE_WAIT).await, "the logged-out token's socket is closed");
    assert!(answered(&mut laptop, json!({ "action": "ping" }), "pong", CLOSE_WAIT).await);
    assert!(answered(&mut laptop, send_frame(&conv, "from the laptop"), "messageReceived", CLOSE_WAIT).await);
    assert_eq!(bob_ws.event("chatMessage").await["message"]["text"], "from the laptop");
    let (status, _) = gw.get("/api/users/me", &laptop_token).await;
    assert_eq!(status, StatusCode::OK, "the other token lives on");
}

async fn after_a_password_change_every_older_socket_closes_and_the_new_tokens_socket_works(store: Store) {
    let gw = Gateway::start(store).await;
    let alice = gw.user("alice").await;
    let other_token = login(&gw, &alice).await;
    let mut phone = gw.connect(&alice).await;
    let mut laptop = gw.connect_token(&other_token).await;

    let change = json!({ "password": "a new password", "currentPassword": "correct horse battery" });
    let (status, changed) = gw.put(format!("/api/users/{}", alice.id), &alice.token, change).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert!(phone.closed(CLOSE_WAIT).await, "the socket of the token that changed the password is closed");
    assert!(laptop.closed(CLOSE_WAIT).await, "the socket of the other older token is closed");
    let mut fresh = gw.connect_token(changed["data"]["token"].as_str().unwrap()).await;
    assert!(answered(&mut fresh, json!({ "action": "ping" }), "pong", CLOSE_WAIT).await);
}

async fn after_refresh_the_old_tokens_socket_closes_and_the_new_tokens_socket_works(store: Store) {
    let gw = Gateway::start(store).await;
    let alice = gw.user("alice").await;
    let mut old = gw.connect(&alice).await;

    let (status, refreshed) = gw.post("/api/auth/refresh", &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert!(!answered(&mut old, json!({ "action": "ping" }), "pong", QUIET).await);
    assert!(old.closed(CLOSE_WAIT).await, "the refreshed token's socket is closed");
    let mut fresh = gw.connect_token(refreshed["data"]["token"].as_str().unwrap()).await;
    assert!(answered(&mut fresh, json!({ "action": "ping" }), "pong", CLOSE_WAIT).await);
}

async fn a_demoted_admins_socket_stops_getting_new_message_immediately(store: Store) {
    let gw = Gateway::start(store).await;
    let (root, demoted) = (gw.admin("root").await, gw.admin("demoted").await);
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let mut ws = gw.connect(&demoted).await;
    gw.post("/api/messages", &alice.token, json!({ "receiverId": conv, "content": "seen by admins" })).await;
    assert_eq!(ws.event("newMessage").await["message"]["text"], "seen by admins");

    let (status, body) = gw.put(format!("/api/users/{}", demoted.id), &root.token, json!({ "role": "user" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user"]["role"], "user");
    assert!(!admin_room_has(&gw, &demoted.id).await, "out of the admin room when the demotion answers");
    gw.post("/api/messages", &alice.token, json!({ "receiverId": conv, "content": "after the demotion" })).await;
    assert_eq!(ws.try_event("newMessage", QUIET).await, None, "no admin event after the demotion");
    assert!(ws.closed(CLOSE_WAIT).await, "the admin-era socket is closed");

    // Reconnected, they are a user like any other: still no admin events.
    let mut again = gw.connect(&demoted).await;
    gw.post("/api/messages", &alice.token, json!({ "receiverId": conv, "content": "later" })).await;
    assert_eq!(again.try_event("newMessage", QUIET).await, None);
}

async fn a_promoted_users_socket_closes_and_after_reconnecting_gets_admin_room_events(store: Store) {
    let gw = Gateway::start(store).await;
    let root = gw.admin("root").await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let mut ws = gw.connect(&carol).await;

    let (status, body) = gw.put(format!("/api/users/{}", carol.id), &root.token, json!({ "role": "admin" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ws.closed(CLOSE_WAIT).await, "the user-era socket is closed, to be reopened as an admin");

    let mut again = gw.connect(&carol).await;
    assert!(admin_room_has(&gw, &carol.id).await, "the new socket is in the admin room");
    gw.post("/api/messages", &alice.token, json!({ "receiverId": conv, "content": "for the admins" })).await;
    assert_eq!(again.event("newMessage").await["message"]["text"], "for the admins");
}

/// The moment between a connection's removal and its close (`end_connections` removes first):
/// a frame then must be refused, not served with the `$connect` context.
async fn a_frame_on_a_connection_whose_item_is_gone_is_refused_not_served(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let mut ws = gw.connect(&alice).await;
    let table = gw.app().table();
    let user = UserId::parse(&alice.id).unwrap();
    let open = chat::repo::connections::presence(table, &user).await.unwrap().conn_set;
    assert_eq!(open.len(), 1);
    chat::repo::connections::remove(table, &open[0], &user, "2026-01-01T00:00:00Z").await.unwrap();

    let frames = [
        send_frame(&conv, "on a removed connection"),
        json!({ "action": "ping" }),
        json!({ "action": "typing", "conversationId": conv, "isTyping": true }),
        json!({ "action": "markAsRead", "conversationId": conv }),
        json!({ "action": "joinConversation", "conversationId": conv }),
        json!({ "action": "setStatus", "status": "away" }),
    ];
    for frame in frames {
        ws.send(frame.clone()).await;
        let (event, data) = ws.next_event(CLOSE_WAIT).await.expect("an answer");
        assert_eq!(event, "error", "{frame} is refused: {data}");
        assert_eq!(data["code"], "UNAUTHORIZED", "{data}");
    }
    assert!(!stored(&gw, &conv, &bob.token, "on a removed connection").await);
}

async fn a_renamed_users_socket_closes_so_no_push_carries_the_old_name(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let conv = conversation(&gw, &alice, &bob).await;
    let mut old = gw.connect(&alice).await;
    let renamed = crate::support::unique_username("renamed");
    let (status, body) = gw.put(format!("/api/users/{}", alice.id), &alice.token, json!({ "username": renamed })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(old.closed(CLOSE_WAIT).await, "the socket opened under the old name is closed");
    let mut bob_ws = gw.connect(&bob).await;
    let mut fresh = gw.connect(&alice).await;
    assert!(answered(&mut fresh, send_frame(&conv, "new name"), "messageReceived", CLOSE_WAIT).await);
    assert_eq!(bob_ws.event("chatMessage").await["sender"]["username"], renamed.as_str());
}

async fn a_browser_connects_with_a_single_use_ticket_instead_of_a_token_in_the_url(store: Store) {
    let gw = Gateway::start(store).await;
    let alice = gw.user("alice").await;
    let gw = &gw;
    let mint = |token: String| async move { gw.post("/api/auth/ws-ticket", &token, json!({})).await };
    let (status, minted) = mint(alice.token.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let ticket = minted["data"]["ticket"].as_str().expect("a ticket").to_owned();
    assert!(minted["data"]["expiresAt"].is_string());
    let url = |t: &str| format!("{}?ticket={t}", gw.ws);
    let mut ws = Ws::connect(&url(&ticket)).await.expect("the ticket opens a socket");
    ws.send(json!({ "action": "ping" })).await;
    assert!(ws.event("pong").await.is_object());
    // Single use, and only real tickets.
    let refused = |r: Result<Ws, tokio_tungstenite::tungstenite::Error>| matches!(r, Err(tokio_tungstenite::tungstenite::Error::Http(res)) if res.status() == 401);
    assert!(refused(Ws::connect(&url(&ticket)).await), "a used ticket is refused");
    assert!(refused(Ws::connect(&url("tkt_0000000000000000000000000000000000000000")).await));
    // Expired: minted 60 s ago.
    let id = UserId::parse(&alice.id).expect("id");
    let jti = chat::auth::Tokens::new(&chat::Config::for_tests()).verify(&alice.token).expect("claims").jti;
    let token = (&jti, chat::clock::now_secs() + 3600);
    let (old, _) =
        chat::repo::tickets::create(gw.app().table(), &id, token, chat::clock::now_secs() - 60).await.expect("stored");
    assert!(refused(Ws::connect(&url(&old)).await), "an expired ticket is refused");
    // A ticket stands for its token: minted before logout, refused after; the socket it opened ends.
    let (_, spare) = mint(alice.token.clone()).await;
    let spare = spare["data"]["ticket"].as_str().expect("a ticket").to_owned();
    assert_eq!(gw.post("/api/auth/logout", &alice.token, json!({})).await.0, StatusCode::OK);
    assert!(ws.closed(CLOSE_WAIT).await, "the ticket's socket ends with its token");
    assert!(refused(Ws::connect(&url(&spare)).await), "the token behind the ticket has ended");
    assert_eq!(mint(alice.token.clone()).await.0, StatusCode::UNAUTHORIZED);
}

async fn a_socket_ends_when_the_token_it_was_opened_with_expires(store: Store) {
    let mut config = crate::harness::config(store);
    config.token_ttl_secs = 2;
    let gw = Gateway::spawn(config, None).await;
    let alice = gw.user("alice").await;
    let mut ws = gw.connect(&alice).await;
    ws.send(json!({ "action": "ping" })).await;
    assert!(ws.event("pong").await.is_object(), "served while the token lives");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(!answered(&mut ws, json!({ "action": "ping" }), "pong", QUIET).await, "not served past the token's expiry");
    assert!(ws.closed(CLOSE_WAIT).await, "and the connection is ended");
    gw.wait_connections(&alice, 0).await;
}
