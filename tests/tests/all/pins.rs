//! Pinned messages (`/api/conversations/{id}/pins`): who may pin, idempotence, the exact cap of
//! 50 under concurrent pins, events, and deleted messages.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};

both_stores!(
    members_pin_and_unpin_and_everyone_in_the_conversation_sees_it,
    a_conversation_holds_at_most_fifty_pins_even_when_pinned_at_once,
    pins_refuse_what_they_should_and_change_nothing,
);

async fn pin(gw: &Gateway, who: &User, conv: &str, id: &str, pinning: bool) -> (StatusCode, Value) {
    let method = if pinning { Method::POST } else { Method::DELETE };
    gw.call(method, format!("/api/conversations/{conv}/pins/{id}"), Some(&who.token), None).await
}

async fn pinned_ids(gw: &Gateway, who: &User, conv: &str) -> Vec<String> {
    let (status, pins) = gw.get(format!("/api/conversations/{conv}/pins"), &who.token).await;
    assert_eq!(status, StatusCode::OK, "{pins}");
    pins["data"].as_array().expect("a list").iter().map(|p| p["message"]["id"].as_str().unwrap().to_owned()).collect()
}

async fn send(gw: &Gateway, from: &User, to: &str, text: &str) -> (String, String) {
    let (status, sent) = gw.post("/api/messages", &from.token, json!({ "receiverId": to, "content": text })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    (sent["data"]["conversationId"].as_str().unwrap().to_owned(), sent["data"]["id"].as_str().unwrap().to_owned())
}

async fn members_pin_and_unpin_and_everyone_in_the_conversation_sees_it(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (conv, first) = send(&gw, &alice, &bob.id, "the address").await;
    let (_, second) = send(&gw, &bob, &alice.id, "the time").await;
    let mut alice_ws = gw.connect(&alice).await;
    for id in [&second, &first, &second] {
        let (status, answer) = pin(&gw, &bob, &conv, id, true).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            (answer["data"]["messageId"].as_str(), answer["data"]["userId"].as_str()),
            (Some(id.as_str()), Some(bob.id.as_str()))
        );
    }
    let pinned = alice_ws.event("messagePinned").await;
    assert_eq!(
        (pinned["messageId"].as_str(), pinned["conversationId"].as_str()),
        (Some(second.as_str()), Some(conv.as_str()))
    );
    assert_eq!(alice_ws.event("messagePinned").await["messageId"], first.as_str());
    // Pinning again changed nothing and pushed nothing.
    assert!(alice_ws.try_event("messagePinned", std::time::Duration::from_millis(500)).await.is_none());
    for who in [&alice, &bob] {
        assert_eq!(pinned_ids(&gw, who, &conv).await, [first.clone(), second.clone()], "in message order");
    }
    let (_, pins) = gw.get(format!("/api/conversations/{conv}/pins"), &alice.token).await;
    assert_eq!(
        (pins["data"][0]["message"]["text"].as_str(), pins["data"][0]["pinnedBy"].as_str()),
        (Some("the address"), Some(bob.id.as_str()))
    );
    // A deleted message stays listed as its tombstone (so it can be unpinned) and cannot be pinned.
    assert_eq!(gw.delete(format!("/api/messages/{first}"), &alice.token).await.0, StatusCode::OK);
    let (_, pins) = gw.get(format!("/api/conversations/{conv}/pins"), &bob.token).await;
    assert_eq!(
        (pins["data"][0]["message"]["deleted"].as_bool(), pins["data"][0]["message"]["text"].as_str()),
        (Some(true), Some(""))
    );
    assert_eq!(pin(&gw, &alice, &conv, &first, false).await.0, StatusCode::OK);
    assert_eq!(alice_ws.event("messageUnpinned").await["messageId"], first.as_str());
    assert_eq!(pin(&gw, &alice, &conv, &first, true).await.0, StatusCode::NOT_FOUND);
    assert_eq!(pin(&gw, &alice, &conv, &first, false).await.0, StatusCode::OK, "unpinning twice is harmless");
    assert_eq!(pinned_ids(&gw, &bob, &conv).await, [second.clone()]);
}

async fn a_conversation_holds_at_most_fifty_pins_even_when_pinned_at_once(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut ids = Vec::new();
    let mut conv = String::new();
    for i in 0..56 {
        let (c, id) = send(&gw, &alice, &bob.id, &format!("m{i}")).await;
        (conv, _) = (c, ids.push(id));
    }
    let answers = join_all(ids.iter().map(|id| pin(&gw, &alice, &conv, id, true))).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let full = answers
        .iter()
        .filter(|(s, b)| {
            *s == StatusCode::CONFLICT && b["error"]["message"].as_str().is_some_and(|m| m.contains("at most 50"))
        })
        .count();
    assert_eq!((ok, full), (50, ids.len() - 50), "{answers:?}");
    let listed = pinned_ids(&gw, &bob, &conv).await;
    assert_eq!(listed.len(), 50, "the count and the pins agree");
    // Unpinning one makes room for exactly one.
    let extra: Vec<&String> = ids.iter().filter(|id| !listed.contains(id)).collect();
    assert_eq!(pin(&gw, &alice, &conv, extra[0], true).await.0, StatusCode::CONFLICT);
    assert_eq!(pin(&gw, &alice, &conv, &listed[0], false).await.0, StatusCode::OK);
    assert_eq!(pin(&gw, &alice, &conv, extra[0], true).await.0, StatusCode::OK);
    assert_eq!(pin(&gw, &alice, &conv, extra[1], true).await.0, StatusCode::CONFLICT);
}

async fn pins_refuse_what_they_should_and_change_nothing(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let (_, group) = gw.post("/api/groups", &alice.token, json!({ "name": "team", "members": [bob.id] })).await;
    let group = group["data"]["id"].as_str().expect("a group").to_owned();
    let (_, in_group) = send(&gw, &bob, &group, "in the group").await;
    let (dm, in_dm) = send(&gw, &alice, &bob.id, "direct").await;
    assert_eq!(pin(&gw, &bob, &group, &in_group, true).await.0, StatusCode::FORBIDDEN, "a plain member of a group");
    assert_eq!(pin(&gw, &eve, &group, &in_group, true).await.0, StatusCode::NOT_FOUND, "a stranger");
    assert_eq!(
        pin(&gw, &alice, &group, &in_dm, true).await.0,
        StatusCode::NOT_FOUND,
        "a message of another conversation"
    );
    assert_eq!(pin(&gw, &alice, &group, "not-an-id", true).await.0, StatusCode::NOT_FOUND);
    let missing = format!("grp_{}", ulid::Ulid::generate());
    assert_eq!(pin(&gw, &eve, &group, &in_group, true).await, pin(&gw, &eve, &missing, &in_group, true).await);
    assert_eq!(gw.get(format!("/api/conversations/{dm}/pins"), &eve.token).await.0, StatusCode::NOT_FOUND);
    assert!(pinned_ids(&gw, &alice, &group).await.is_empty());
    assert!(pinned_ids(&gw, &alice, &dm).await.is_empty());
    assert_eq!(pin(&gw, &alice, &group, &in_group, true).await.0, StatusCode::OK, "the owner");
}
