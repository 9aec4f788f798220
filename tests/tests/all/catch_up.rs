//! Issue 11's "done when", as a new user would try it against the local gateway (real HTTP and
//! WebSockets, both stores): two users on two devices each edit, react, reply, mention, pin,
//! see delivered then read; one goes offline, the other changes things, and the first catches
//! up with one sync call that returns exactly those changes (and then nothing).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};
use crate::sync::{describe, sync_all, token_now};

both_stores!(two_users_on_two_devices_use_every_message_feature_then_catch_up_with_one_sync);

/// A second device of `user`: its own login, its own token.
async fn second_device(gw: &Gateway, user: &User) -> User {
    let creds = json!({ "username": user.username, "password": "correct horse battery" });
    let (status, session) = gw.post_anon("/api/auth/login", creds).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    User { token: session["data"]["token"].as_str().expect("a token").to_owned(), ..user.clone() }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

async fn two_users_on_two_devices_use_every_message_feature_then_catch_up_with_one_sync(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (alice_laptop, bob_laptop) = (second_device(&gw, &alice).await, second_device(&gw, &bob).await);
    let mut alice_phone_ws = gw.connect(&alice).await;
    let mut alice_laptop_ws = gw.connect_token(&alice_laptop.token).await;
    let mut bob_phone_ws = gw.connect(&bob).await;
    let mut bob_laptop_ws = gw.connect_token(&bob_laptop.token).await;

    // A mention, over the WebSocket: acknowledged to the sending device, pushed to the others.
    let text = format!("hi @{}", bob.username);
    alice_phone_ws
        .send(json!({ "action": "sendMessage", "receiverId": bob.id, "text": text, "clientMessageId": "c1" }))
        .await;
    let m1 = alice_phone_ws.event("messageReceived").await["message"].clone();
    let conv = m1["conversationId"].as_str().expect("a conversation").to_owned();
    assert_eq!(m1["mentions"], json!([bob.id]));
    // Bob's phone gets the message and the mention, in either order (pushed concurrently).
    let seen = bob_phone_ws.events(&["chatMessage", "notification"]).await;
    assert_eq!(seen["chatMessage"]["message"]["id"], m1["id"]);
    let note = &seen["notification"];
    assert_eq!((note["type"].as_str(), note["data"]["messageId"].as_str()), (Some("mention"), m1["id"].as_str()));
    for ws in [&mut bob_laptop_ws, &mut alice_laptop_ws] {
        assert_eq!(ws.event("chatMessage").await["message"]["id"], m1["id"]);
    }

    // Delivered (bob's phone acknowledges), then read (bob's laptop): alice sees both ticks.
    bob_phone_ws.send(json!({ "action": "delivered", "conversationId": conv })).await;
    assert_eq!(alice_laptop_ws.event("messagesDelivered").await["deliveredSeq"], 1);
    bob_laptop_ws.send(json!({ "action": "markAsRead", "conversationId": conv })).await;
    assert_eq!(alice_phone_ws.event("messagesRead").await["readSeq"], 1);

    // Edit (alice's laptop), react (bob's phone), reply (bob's laptop), pin (alice over HTTP).
    alice_laptop_ws.send(json!({ "action": "editMessage", "messageId": m1["id"], "text": "hi bob (edited)" })).await;
    assert_eq!(bob_phone_ws.event("messageEdited").await["message"]["text"], "hi bob (edited)");
    bob_phone_ws.send(json!({ "action": "react", "messageId": m1["id"], "reaction": "👍" })).await;
    assert_eq!(alice_phone_ws.event("reactionAdded").await["reaction"], "👍");
    bob_laptop_ws
        .send(json!({ "action": "sendMessage", "conversationId": conv, "text": "hello!", "parentId": m1["id"] }))
        .await;
    let reply = alice_laptop_ws.event("chatMessage").await["message"].clone();
    assert_eq!(reply["parentId"], m1["id"]);
    let (status, thread) = gw.get(format!("/api/messages/{}/replies", id(&m1)), &alice.token).await;
    assert_eq!((status, thread["data"][0]["text"].as_str()), (StatusCode::OK, Some("hello!")));
    let pin =
        gw.call(Method::POST, format!("/api/conversations/{conv}/pins/{}", id(&m1)), Some(&alice.token), None).await;
    assert_eq!(pin.0, StatusCode::OK, "{}", pin.1);
    assert_eq!(bob_laptop_ws.event("messagePinned").await["messageId"], m1["id"]);
    let (_, doomed) =
        gw.post("/api/messages", &alice.token, json!({ "receiverId": conv, "content": "to delete" })).await;
    let doomed = doomed["data"].clone();

    // Bob's last sync, then he goes offline: both sockets closed.
    let token = token_now(&gw, &bob).await;
    bob_phone_ws.close().await;
    bob_laptop_ws.close().await;
    gw.wait_connections(&bob, 0).await;

    // Alice changes things from both devices.
    let (_, first) =
        gw.post("/api/messages", &alice.token, json!({ "receiverId": conv, "content": "are you there?" })).await;
    let first = first["data"].clone();
    alice_laptop_ws.send(json!({ "action": "sendMessage", "conversationId": conv, "text": "call me" })).await;
    alice_laptop_ws.event("messageReceived").await;
    alice_laptop_ws.send(json!({ "action": "editMessage", "messageId": m1["id"], "text": "hi again" })).await;
    alice_laptop_ws.event("messageEdited").await;
    assert_eq!(gw.delete(format!("/api/messages/{}", id(&doomed)), &alice_laptop.token).await.0, StatusCode::OK);
    alice_phone_ws.send(json!({ "action": "react", "messageId": reply["id"], "reaction": ":tada:" })).await;
    alice_phone_ws.event("reactionAdded").await;
    let pin =
        gw.call(Method::POST, format!("/api/conversations/{conv}/pins/{}", id(&first)), Some(&alice.token), None).await;
    assert_eq!(pin.0, StatusCode::OK, "{}", pin.1);

    // Bob comes back: one sync call, exactly those changes.
    let (changes, token) = sync_all(&gw, &bob, &token, None).await;
    let got: Vec<String> = changes.iter().map(describe).collect();
    let want: BTreeSet<String> = [
        "message are you there?".to_owned(),
        "message call me".to_owned(),
        "messageEdited hi again".to_owned(),
        format!("messageDeleted {}", id(&doomed)),
        format!("reactionAdded {} :tada:", id(&reply)),
        format!("pins {}", json!([id(&m1), id(&first)])),
        // Alice's sends moved her read marker to the last of the 5 messages.
        format!("markers {} read 5 delivered 0", alice.id),
    ]
    .into_iter()
    .collect();
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want, "{changes:#?}");
    assert_eq!(got.len(), want.len(), "each change once: {changes:#?}");
    // And nothing more the next time.
    let (again, _) = sync_all(&gw, &bob, &token, None).await;
    assert_eq!(again, Vec::<Value>::new());
}
