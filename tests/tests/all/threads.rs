//! Replies and threads (`parentId` on every send form, `GET /api/messages/{id}/replies`): one
//! level deep, the root's counters exact under concurrent replies, replies kept out of the main
//! history unless `alsoInConversation`, pushed with their `parentId`.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};

both_stores!(
    a_reply_to_a_reply_joins_the_roots_thread_and_stays_out_of_the_main_history,
    concurrent_replies_count_exactly_and_a_retried_reply_counts_once,
    a_root_shows_its_last_three_distinct_repliers_most_recent_first,
    threads_page_with_the_cursors_of_history,
    bad_or_unreadable_parents_are_refused_and_change_nothing,
    a_reply_over_the_websocket_is_acknowledged_and_pushed_with_its_parent,
);

/// Sends `text` to `conv` (with `extra` fields), expecting 201: the stored message.
async fn send(gw: &Gateway, from: &User, conv: &str, text: &str, extra: Value) -> Value {
    let mut body = json!({ "receiverId": conv, "content": text });
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    let (status, sent) = gw.post("/api/messages", &from.token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent["data"].clone()
}

async fn page(gw: &Gateway, who: &User, path: &str) -> Value {
    let (status, page) = gw.get(path, &who.token).await;
    assert_eq!(status, StatusCode::OK, "{path}: {page}");
    page
}

fn texts(page: &Value) -> Vec<&str> {
    page["data"].as_array().expect("a page").iter().map(|m| m["text"].as_str().unwrap_or("")).collect()
}

/// The message `id` as the main history of `conv` shows it to `who`.
async fn in_history(gw: &Gateway, who: &User, conv: &str, id: &str) -> Value {
    let history = page(gw, who, &format!("/api/messages/{conv}")).await;
    history["data"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned().expect("in the history")
}

async fn direct(gw: &Gateway) -> (User, User, String, Value) {
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (status, sent) =
        gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "root" })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let conv = sent["data"]["conversationId"].as_str().unwrap().to_owned();
    (alice, bob, conv, sent["data"].clone())
}

async fn a_reply_to_a_reply_joins_the_roots_thread_and_stays_out_of_the_main_history(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, conv, root) = direct(&gw).await;
    let root_id = root["id"].as_str().unwrap();
    let first = send(&gw, &bob, &conv, "first reply", json!({ "parentId": root_id })).await;
    assert_eq!(first["parentId"], root_id, "{first}");
    let nested = send(&gw, &alice, &conv, "reply to the reply", json!({ "parentId": first["id"] })).await;
    assert_eq!(nested["parentId"], root_id, "a reply to a reply attaches to the root: {nested}");
    let shown = send(&gw, &bob, &conv, "shown too", json!({ "parentId": root_id, "alsoInConversation": true })).await;
    assert_eq!(shown["alsoInConversation"], true);

    let history = page(&gw, &alice, &format!("/api/messages/{conv}")).await;
    assert_eq!(texts(&history), ["root", "shown too"], "thread-only replies are not in the main history");
    let root_seen = in_history(&gw, &alice, &conv, root_id).await;
    assert_eq!(root_seen["replyCount"], 3, "{root_seen}");
    assert_eq!(root_seen["lastReplyAt"], shown["createdAt"]);
    assert_eq!(root_seen["repliers"], json!([bob.id, alice.id]), "most recent first: {root_seen}");
    // The conversation's last message is the last one of its main history.
    let (_, c) = gw.get(format!("/api/conversations/{conv}"), &alice.token).await;
    assert_eq!(c["data"]["lastMessage"]["text"], "shown too", "{c}");

    for id in [root_id, first["id"].as_str().unwrap()] {
        let thread = page(&gw, &bob, &format!("/api/messages/{id}/replies")).await;
        assert_eq!(texts(&thread), ["first reply", "reply to the reply", "shown too"], "from {id}");
    }

    // A reply kept to its thread never becomes the last message, even as the newest one,
    // edited or deleted.
    let latest = send(&gw, &bob, &conv, "latest", json!({ "parentId": root_id })).await;
    let path = format!("/api/messages/{}", latest["id"].as_str().unwrap());
    let edit = json!({ "text": "latest, edited" });
    assert_eq!(gw.call(reqwest::Method::PATCH, &path, Some(&bob.token), Some(edit)).await.0, StatusCode::OK);
    let (_, c) = gw.get(format!("/api/conversations/{conv}"), &alice.token).await;
    assert_eq!(c["data"]["lastMessage"]["text"], "shown too", "{c}");
    assert_eq!(gw.delete(&path, &bob.token).await.0, StatusCode::OK);
    let (_, c) = gw.get(format!("/api/conversations/{conv}"), &alice.token).await;
    assert_eq!(c["data"]["lastMessage"]["text"], "shown too", "{c}");
}

async fn concurrent_replies_count_exactly_and_a_retried_reply_counts_once(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, conv, root) = direct(&gw).await;
    let root_id = root["id"].as_str().unwrap();
    let replies = (0..12).map(|i| {
        let (gw, who, conv) = (&gw, if i % 2 == 0 { &alice } else { &bob }, &conv);
        async move {
            let body = json!({ "receiverId": conv, "content": format!("r{i}"), "parentId": root_id });
            gw.post("/api/messages", &who.token, body).await
        }
    });
    for (status, sent) in join_all(replies).await {
        assert_eq!(status, StatusCode::CREATED, "{sent}");
    }
    let retry = json!({ "receiverId": conv, "content": "once", "parentId": root_id, "clientMessageId": "k-1" });
    let (first, _) = gw.post("/api/messages", &alice.token, retry.clone()).await;
    let (again, stored) = gw.post("/api/messages", &alice.token, retry).await;
    assert_eq!((first, again), (StatusCode::CREATED, StatusCode::OK), "{stored}");

    let root_seen = in_history(&gw, &bob, &conv, root_id).await;
    assert_eq!(root_seen["replyCount"], 13, "{root_seen}");
    let thread = page(&gw, &bob, &format!("/api/messages/{root_id}/replies?limit=100")).await;
    assert_eq!(thread["data"].as_array().unwrap().len(), 13);
}

async fn a_root_shows_its_last_three_distinct_repliers_most_recent_first(store: Store) {
    let gw = Gateway::start(store).await;
    let owner = gw.user("owner").await;
    let mut members = Vec::new();
    for name in ["ann", "ben", "cat", "dan"] {
        members.push(gw.user(name).await);
    }
    let ids: Vec<_> = members.iter().map(|m| m.id.clone()).collect();
    let (_, group) = gw.post("/api/groups", &owner.token, json!({ "name": "team", "members": ids })).await;
    let conv = group["data"]["id"].as_str().unwrap().to_owned();
    let root = send(&gw, &owner, &conv, "plan?", json!({})).await;
    let root_id = root["id"].as_str().unwrap();
    for who in [&members[0], &members[1], &members[0], &members[2], &members[3], &members[2]] {
        send(&gw, who, &conv, "+1", json!({ "parentId": root_id })).await;
    }
    let root_seen = in_history(&gw, &owner, &conv, root_id).await;
    assert_eq!(root_seen["replyCount"], 6);
    assert_eq!(root_seen["repliers"], json!([members[2].id, members[3].id, members[0].id]), "{root_seen}");
}

async fn threads_page_with_the_cursors_of_history(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, conv, root) = direct(&gw).await;
    let root_id = root["id"].as_str().unwrap();
    for i in 1..=5 {
        send(&gw, &bob, &conv, &format!("r{i}"), json!({ "parentId": root_id })).await;
    }
    let path = format!("/api/messages/{root_id}/replies");
    let latest = page(&gw, &alice, &format!("{path}?limit=2")).await;
    assert_eq!(texts(&latest), ["r4", "r5"]);
    let before = latest["nextCursor"].as_str().expect("older replies");
    let older = page(&gw, &alice, &format!("{path}?limit=2&before={before}")).await;
    assert_eq!(texts(&older), ["r2", "r3"]);
    let first = older["data"][0]["id"].as_str().unwrap();
    let newer = page(&gw, &alice, &format!("{path}?limit=10&after={first}")).await;
    assert_eq!(texts(&newer), ["r3", "r4", "r5"]);
    assert!(newer.get("nextCursor").is_none(), "{newer}");
}

async fn bad_or_unreadable_parents_are_refused_and_change_nothing(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, conv, root) = direct(&gw).await;
    let root_id = root["id"].as_str().unwrap();
    let carol = gw.user("carol").await;
    let (_, elsewhere) =
        gw.post("/api/messages", &carol.token, json!({ "receiverId": bob.id, "content": "other" })).await;
    let other_id = elsewhere["data"]["id"].as_str().unwrap();
    let doomed = send(&gw, &alice, &conv, "doomed", json!({})).await;
    let doomed_id = doomed["id"].as_str().unwrap();
    assert_eq!(gw.delete(format!("/api/messages/{doomed_id}"), &alice.token).await.0, StatusCode::OK);
    let unknown = chat::ids::MessageId::generate(&chat::ids::ConversationId::parse(&conv).unwrap()).to_string();

    for (extra, want) in [
        (json!({ "parentId": "nope" }), StatusCode::BAD_REQUEST),
        (json!({ "parentId": 7 }), StatusCode::BAD_REQUEST),
        (json!({ "parentId": root_id, "alsoInConversation": "yes" }), StatusCode::BAD_REQUEST),
        (json!({ "parentId": other_id }), StatusCode::NOT_FOUND),
        (json!({ "parentId": doomed_id }), StatusCode::NOT_FOUND),
        (json!({ "parentId": unknown }), StatusCode::NOT_FOUND),
    ] {
        let mut body = json!({ "receiverId": conv, "content": "x" });
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap());
        let (status, answer) = gw.post("/api/messages", &alice.token, body).await;
        assert_eq!(status, want, "{extra}: {answer}");
        assert_eq!(answer["success"], false);
    }
    let history = page(&gw, &alice, &format!("/api/messages/{conv}")).await;
    assert_eq!(texts(&history), ["root", ""], "nothing stored (the tombstone stays)");
    assert!(in_history(&gw, &alice, &conv, root_id).await.get("replyCount").is_none());
    // `alsoInConversation` without a parent means nothing: a plain message of the main history.
    let plain = send(&gw, &alice, &conv, "plain", json!({ "alsoInConversation": true })).await;
    assert!(plain.get("alsoInConversation").is_none() && plain.get("parentId").is_none(), "{plain}");

    // A thread the caller cannot read is a missing one.
    let (status, _) = gw.get(format!("/api/messages/{root_id}/replies"), &carol.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in [format!("/api/messages/{unknown}/replies"), "/api/messages/nope/replies".to_owned()] {
        assert_eq!(gw.get(&path, &alice.token).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    for query in ["limit=0", "limit=x", "before=nope", "after=1"] {
        let (status, answer) = gw.get(format!("/api/messages/{root_id}/replies?{query}"), &alice.token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {answer}");
    }
}

async fn a_reply_over_the_websocket_is_acknowledged_and_pushed_with_its_parent(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, conv, root) = direct(&gw).await;
    let root_id = root["id"].as_str().unwrap();
    let (mut alice_ws, mut bob_ws) = (gw.connect(&alice).await, gw.connect(&bob).await);
    alice_ws
        .send(json!({ "action": "sendMessage", "conversationId": conv, "text": "over ws", "parentId": root_id }))
        .await;
    let ack = alice_ws.event("messageReceived").await;
    assert_eq!(ack["message"]["parentId"], root_id, "{ack}");
    let pushed = bob_ws.event("chatMessage").await;
    assert_eq!(pushed["message"]["parentId"], root_id, "{pushed}");
    alice_ws.send(json!({ "action": "sendMessage", "conversationId": conv, "text": "x", "parentId": "bad" })).await;
    let error = alice_ws.event("error").await;
    assert!(error.to_string().contains("parentId"), "{error}");
}
