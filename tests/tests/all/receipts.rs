//! Delivery receipts: a member's `deliveredSeq` moves when one of their devices acknowledges
//! (`delivered`) or fetches the newest history; the others get `messagesDelivered` once per
//! move, never per message and never backwards.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{both_stores, Gateway, Store, User};

both_stores!(
    a_sender_sees_delivered_when_a_device_acknowledges_then_read,
    fetching_the_newest_history_delivers_and_older_pages_do_not,
    acknowledgements_never_move_the_marker_back_and_strangers_are_refused,
);

async fn send(gw: &Gateway, from: &User, to: &User, text: &str) -> (String, String) {
    let (status, sent) = gw.post("/api/messages", &from.token, json!({ "receiverId": to.id, "content": text })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    (sent["data"]["conversationId"].as_str().unwrap().to_owned(), sent["data"]["id"].as_str().unwrap().to_owned())
}

const QUIET: std::time::Duration = std::time::Duration::from_millis(500);

async fn a_sender_sees_delivered_when_a_device_acknowledges_then_read(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (mut alice_ws, mut bob_phone) = (gw.connect(&alice).await, gw.connect(&bob).await);
    let (conv, _) = send(&gw, &alice, &bob, "one").await;
    let (_, second) = send(&gw, &alice, &bob, "two").await;
    bob_phone.event("chatMessage").await;
    bob_phone.send(json!({ "action": "delivered", "conversationId": conv, "upToMessageId": second })).await;
    let delivered = alice_ws.event("messagesDelivered").await;
    assert_eq!(
        (delivered["conversationId"].as_str(), delivered["userId"].as_str(), delivered["deliveredSeq"].as_i64()),
        (Some(conv.as_str()), Some(bob.id.as_str()), Some(2))
    );
    // The same acknowledgement again: no move, nothing pushed.
    bob_phone.send(json!({ "action": "delivered", "conversationId": conv })).await;
    assert!(alice_ws.try_event("messagesDelivered", QUIET).await.is_none());
    // Then read.
    bob_phone.send(json!({ "action": "markAsRead", "conversationId": conv })).await;
    assert_eq!(alice_ws.event("messagesRead").await["readSeq"], 2);
}

async fn fetching_the_newest_history_delivers_and_older_pages_do_not(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (conv, _) = send(&gw, &alice, &bob, "one").await;
    send(&gw, &alice, &bob, "two").await;
    let mut alice_ws = gw.connect(&alice).await;
    // An older page (before the third message) delivers nothing.
    let (_, third) = send(&gw, &alice, &bob, "three").await;
    assert_eq!(gw.get(format!("/api/messages/{conv}?before={third}"), &bob.token).await.0, StatusCode::OK);
    assert!(alice_ws.try_event("messagesDelivered", QUIET).await.is_none());
    assert_eq!(gw.get(format!("/api/messages/{conv}"), &bob.token).await.0, StatusCode::OK);
    assert_eq!(alice_ws.event("messagesDelivered").await["deliveredSeq"], 3);
    // Fetching again moves nothing.
    gw.get(format!("/api/messages/{conv}"), &bob.token).await;
    assert!(alice_ws.try_event("messagesDelivered", QUIET).await.is_none());
    // An admin reading a conversation they are not in delivers nothing for anyone.
    let root = gw.admin("root").await;
    send(&gw, &alice, &bob, "four").await;
    gw.get(format!("/api/messages/{conv}"), &root.token).await;
    assert!(alice_ws.try_event("messagesDelivered", QUIET).await.is_none());
}

async fn acknowledgements_never_move_the_marker_back_and_strangers_are_refused(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let (conv, first) = send(&gw, &alice, &bob, "one").await;
    send(&gw, &alice, &bob, "two").await;
    let (mut alice_ws, mut bob_ws, mut eve_ws) =
        (gw.connect(&alice).await, gw.connect(&bob).await, gw.connect(&eve).await);
    bob_ws.send(json!({ "action": "delivered", "conversationId": conv })).await;
    assert_eq!(alice_ws.event("messagesDelivered").await["deliveredSeq"], 2);
    bob_ws.send(json!({ "action": "delivered", "conversationId": conv, "upToMessageId": first })).await;
    assert!(alice_ws.try_event("messagesDelivered", QUIET).await.is_none(), "not back to 1");
    let key = chat::repo::keys::membership(
        &chat::ids::UserId::parse(&bob.id).expect("an id"),
        &chat::ids::ConversationId::parse(&conv).expect("an id"),
    );
    let marker = gw.app().table().get(&key, true).await.expect("read").expect("a membership");
    assert_eq!(marker["deliveredSeq"], 2);
    eve_ws.send(json!({ "action": "delivered", "conversationId": conv })).await;
    assert_eq!(eve_ws.event("error").await["code"], "NOT_FOUND");
    bob_ws.send(json!({ "action": "delivered", "conversationId": conv, "upToMessageId": "nope" })).await;
    assert_eq!(bob_ws.event("error").await["code"], "VALIDATION_ERROR");
}
