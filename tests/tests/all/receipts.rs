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
    a_direct_senders_read_position_follows_their_message_without_a_marker_write,
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

/// In a direct conversation a send moves its sender's read position in the summary's own update
/// (no write of their membership): their unread count, the partner's view and the sync all
/// count it as the marker it replaces; an explicit mark still moves the marker.
async fn a_direct_senders_read_position_follows_their_message_without_a_marker_write(store: Store) {
    use crate::sync::{sync_all, token_now};

    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (conv, _) = send(&gw, &alice, &bob, "one").await;
    send(&gw, &alice, &bob, "two").await;
    let (alice_token, bob_token) = (token_now(&gw, &alice).await, token_now(&gw, &bob).await);
    // Bob answers: he has read what came before (seq 3 is his).
    send(&gw, &bob, &alice, "three").await;
    assert_eq!(marker(&gw, &bob, &conv).await, json!(0), "no marker write for bob's send");
    assert_eq!((unread(&gw, &bob, &conv).await, unread(&gw, &alice, &conv).await), (0, 1));
    // The partner's sync sees bob's position move (as a marker), and so do bob's other devices.
    for (who, token) in [(&alice, &alice_token), (&bob, &bob_token)] {
        let (changes, _) = sync_all(&gw, who, token, None).await;
        let bobs = changes.iter().find(|c| c["type"] == "markers" && c["userId"] == bob.id.as_str());
        assert_eq!(bobs.map(|c| c["readSeq"].clone()), Some(json!(3)), "{changes:?}");
    }
    // Alice writes twice more: bob has two unread; marking read moves his marker, as before.
    send(&gw, &alice, &bob, "four").await;
    send(&gw, &alice, &bob, "five").await;
    assert_eq!(unread(&gw, &bob, &conv).await, 2);
    let (_, got) = gw.get(format!("/api/conversations/{conv}"), &bob.token).await;
    assert_eq!(got["data"]["unreadCount"].as_i64(), Some(2), "{got}");
    let (status, read) = gw.post(format!("/api/conversations/{conv}/read"), &bob.token, json!({})).await;
    assert_eq!((status, read["data"]["unreadCount"].as_i64()), (StatusCode::OK, Some(0)), "{read}");
    assert_eq!(marker(&gw, &bob, &conv).await, json!(5));
    assert_eq!(unread(&gw, &bob, &conv).await, 0);
}

/// `who`'s stored read marker of `conv` (their membership's `readSeq`).
async fn marker(gw: &Gateway, who: &User, conv: &str) -> serde_json::Value {
    use chat::ids::{ConversationId, UserId};
    let key = chat::repo::keys::membership(&UserId::parse(&who.id).unwrap(), &ConversationId::parse(conv).unwrap());
    gw.app().table().get(&key, true).await.unwrap().expect("a membership")["readSeq"].clone()
}

/// `who`'s unread count of `conv` in their conversation list.
async fn unread(gw: &Gateway, who: &User, conv: &str) -> i64 {
    let (_, list) = gw.get("/api/conversations", &who.token).await;
    let c = list["data"].as_array().unwrap().iter().find(|c| c["id"] == conv).cloned().unwrap();
    c["unreadCount"].as_i64().unwrap()
}
