//! Mentions: `@username` in a text (or `mentions: [ids]`) resolved to members of the
//! conversation; the mentioned get a `mention` notification even when busy, and their
//! conversation list counts `unreadMentions` until they read.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};

both_stores!(
    a_mention_reaches_a_busy_member_and_counts_until_read,
    only_members_can_be_mentioned_and_bad_mentions_are_refused,
);

async fn group_of(gw: &Gateway, owner: &User, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (status, group) = gw.post("/api/groups", &owner.token, json!({ "name": "team", "members": ids })).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    group["data"]["id"].as_str().expect("an id").to_owned()
}

async fn unread_mentions(gw: &Gateway, who: &User, conv: &str) -> Value {
    let (_, list) = gw.get("/api/conversations", &who.token).await;
    let list = list["data"].as_array().expect("a list");
    list.iter().find(|c| c["id"] == conv).map(|c| c["unreadMentions"].clone()).unwrap_or(Value::Null)
}

async fn a_mention_reaches_a_busy_member_and_counts_until_read(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let group = group_of(&gw, &alice, &[&bob, &carol]).await;
    let mut bob_ws = gw.connect(&bob).await;
    assert_eq!(gw.put("/api/status", &bob.token, json!({ "status": "busy" })).await.0, StatusCode::OK);
    bob_ws.drain(std::time::Duration::from_millis(300)).await;
    let text = format!("@{} can you look? cc nobody", bob.username.to_uppercase());
    let (status, sent) = gw.post("/api/messages", &alice.token, json!({ "receiverId": group, "content": text })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["data"]["mentions"], json!([bob.id]));
    // Busy: no chatMessage, but the mention comes through.
    let note = bob_ws.event("notification").await;
    assert_eq!(
        (note["type"].as_str(), note["data"]["messageId"].as_str()),
        (Some("mention"), sent["data"]["id"].as_str()),
        "{note}"
    );
    assert_eq!(unread_mentions(&gw, &bob, &group).await, 1);
    assert_eq!(unread_mentions(&gw, &carol, &group).await, 0);
    let (_, one) = gw.get(format!("/api/conversations/{group}"), &bob.token).await;
    assert_eq!(one["data"]["unreadMentions"], 1, "{one}");
    // By id too, and twice in one message counts once.
    let body =
        json!({ "receiverId": group, "content": format!("again @{}", bob.username), "mentions": [bob.id, bob.id] });
    assert_eq!(gw.post("/api/messages", &carol.token, body).await.0, StatusCode::CREATED);
    assert_eq!(unread_mentions(&gw, &bob, &group).await, 2);
    assert_eq!(gw.post(format!("/api/conversations/{group}/read"), &bob.token, json!({})).await.0, StatusCode::OK);
    assert_eq!(unread_mentions(&gw, &bob, &group).await, 0);
    let (_, notes) = gw.get("/api/notifications", &bob.token).await;
    let mentions = notes["data"].as_array().expect("a list").iter().filter(|n| n["type"] == "mention").count();
    assert_eq!(mentions, 2);
}

async fn only_members_can_be_mentioned_and_bad_mentions_are_refused(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let group = group_of(&gw, &alice, &[&bob]).await;
    let text = format!("@{} @{} @ghost-user write to {}@example.com", eve.username, alice.username, bob.username);
    let (status, sent) = gw.post("/api/messages", &alice.token, json!({ "receiverId": group, "content": text })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert!(sent["data"].get("mentions").is_none(), "a stranger, oneself, an unknown name, an address: {sent}");
    let (status, sent) = gw
        .post("/api/messages", &alice.token, json!({ "receiverId": group, "content": "x", "mentions": [eve.id] }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(sent["data"].get("mentions").is_none(), "{sent}");
    for bad in [json!(["not-an-id"]), json!("a string"), json!([1])] {
        let (status, answer) = gw
            .post("/api/messages", &alice.token, json!({ "receiverId": group, "content": "x", "mentions": bad }))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    }
    let many: Vec<String> = (0..21).map(|_| bob.id.clone()).collect();
    let (status, _) =
        gw.post("/api/messages", &alice.token, json!({ "receiverId": group, "content": "x", "mentions": many })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, notes) = gw.get("/api/notifications", &eve.token).await;
    assert!(notes["data"].as_array().expect("a list").iter().all(|n| n["type"] != "mention"), "{notes}");
    // Over the WebSocket as over HTTP.
    let mut ws = gw.connect(&alice).await;
    ws.send(json!({ "action": "sendMessage", "conversationId": group, "text": format!("hey @{}", bob.username) }))
        .await;
    assert_eq!(ws.event("messageReceived").await["message"]["mentions"], json!([bob.id]));
}
