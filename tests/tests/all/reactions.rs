//! Reactions (`PUT` / `DELETE /api/messages/{id}/reactions/{reaction}`, WebSocket `react` /
//! `unreact`): one per kind per user, idempotent; exact counts under concurrent toggles; the
//! history carries the counts and the caller's own kinds.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};

both_stores!(
    reactions_count_per_kind_and_the_history_marks_the_callers_own,
    concurrent_toggles_keep_every_count_exact,
    bad_reactions_are_refused_and_change_nothing,
    reactions_over_the_websocket_reach_every_member_and_repeat_harmlessly,
);

/// `👍` in a path.
const THUMBS: &str = "%F0%9F%91%8D";

async fn react(gw: &Gateway, who: &User, id: &str, kind: &str, add: bool) -> (StatusCode, Value) {
    let method = if add { Method::PUT } else { Method::DELETE };
    gw.call(method, format!("/api/messages/{id}/reactions/{kind}"), Some(&who.token), None).await
}

/// The reactions of message `id` as the history of `conv` shows them to `who`.
async fn reactions_seen(gw: &Gateway, who: &User, conv: &str, id: &str) -> Value {
    let (status, page) = gw.get(format!("/api/messages/{conv}"), &who.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let message = page["data"].as_array().expect("a page").iter().find(|m| m["id"] == id).cloned();
    message.expect("in the history").get("reactions").cloned().unwrap_or(json!([]))
}

async fn send(gw: &Gateway, from: &User, to: &str, text: &str) -> (String, String) {
    let (status, sent) = gw.post("/api/messages", &from.token, json!({ "receiverId": to, "content": text })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    (sent["data"]["conversationId"].as_str().unwrap().to_owned(), sent["data"]["id"].as_str().unwrap().to_owned())
}

async fn reactions_count_per_kind_and_the_history_marks_the_callers_own(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (conv, id) = send(&gw, &alice, &bob.id, "lunch?").await;
    let mut alice_ws = gw.connect(&alice).await;
    for (who, kind) in [(&bob, THUMBS), (&bob, ":tada:"), (&alice, THUMBS), (&bob, THUMBS)] {
        let (status, answer) = react(&gw, who, &id, kind, true).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            (answer["data"]["messageId"].as_str(), answer["data"]["userId"].as_str()),
            (Some(id.as_str()), Some(who.id.as_str()))
        );
    }
    let added = alice_ws.event("reactionAdded").await;
    assert_eq!((added["reaction"].as_str(), added["userId"].as_str()), (Some("👍"), Some(bob.id.as_str())), "{added}");
    assert_eq!(
        reactions_seen(&gw, &bob, &conv, &id).await,
        json!([{ "reaction": "👍", "count": 2, "mine": true }, { "reaction": ":tada:", "count": 1, "mine": true }])
    );
    assert_eq!(
        reactions_seen(&gw, &alice, &conv, &id).await,
        json!([{ "reaction": "👍", "count": 2, "mine": true }, { "reaction": ":tada:", "count": 1 }])
    );
    // Taken back, twice: the second changes nothing.
    for _ in 0..2 {
        assert_eq!(react(&gw, &bob, &id, THUMBS, false).await.0, StatusCode::OK);
    }
    assert_eq!(
        reactions_seen(&gw, &bob, &conv, &id).await,
        json!([{ "reaction": ":tada:", "count": 1, "mine": true }, { "reaction": "👍", "count": 1 }])
    );
    // A deleted message shows no reactions, and takes no more.
    assert_eq!(gw.delete(format!("/api/messages/{id}"), &alice.token).await.0, StatusCode::OK);
    assert_eq!(reactions_seen(&gw, &bob, &conv, &id).await, json!([]));
    assert_eq!(react(&gw, &bob, &id, ":new:", true).await.0, StatusCode::NOT_FOUND);
}

async fn concurrent_toggles_keep_every_count_exact(store: Store) {
    let gw = Gateway::start(store).await;
    let owner = gw.user("owner").await;
    let mut members = Vec::new();
    for i in 0..8 {
        members.push(gw.user(&format!("m{i}")).await);
    }
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (_, group) = gw.post("/api/groups", &owner.token, json!({ "name": "busy", "members": ids })).await;
    let group = group["data"]["id"].as_str().expect("a group").to_owned();
    let (_, id) = send(&gw, &owner, &group, "vote").await;
    // Every member reacts three times at once; then the even ones take it back, twice at once.
    let adds = members.iter().flat_map(|m| (0..3).map(move |_| m)).map(|m| react(&gw, m, &id, ":yes:", true));
    assert!(join_all(adds).await.iter().all(|(s, _)| *s == StatusCode::OK));
    let evens: Vec<&User> = members.iter().step_by(2).collect();
    let removes = evens.iter().flat_map(|m| [*m, *m]).map(|m| react(&gw, m, &id, ":yes:", false));
    assert!(join_all(removes).await.iter().all(|(s, _)| *s == StatusCode::OK));
    let seen = reactions_seen(&gw, &owner, &group, &id).await;
    assert_eq!(seen, json!([{ "reaction": ":yes:", "count": members.len() - evens.len() }]));
}

async fn bad_reactions_are_refused_and_change_nothing(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let (conv, id) = send(&gw, &alice, &bob.id, "hi").await;
    for bad in ["a", "%F0%9F%91%8D%F0%9F%91%8D", ":UPPER:", "%3Ca%3E", ":x", "%E2%80%8B"] {
        let (status, answer) = react(&gw, &bob, &id, bad, true).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
        assert_eq!(answer["error"]["code"], "VALIDATION_ERROR");
    }
    let long = format!(":{}:", "a".repeat(33));
    assert_eq!(react(&gw, &bob, &id, &long, true).await.0, StatusCode::BAD_REQUEST);
    // A stranger is told what a missing message would tell them.
    let missing = format!("msg_{}", ulid::Ulid::generate());
    assert_eq!(react(&gw, &eve, &id, ":ok:", true).await, react(&gw, &eve, &missing, ":ok:", true).await);
    assert_eq!(react(&gw, &eve, &id, ":ok:", true).await.0, StatusCode::NOT_FOUND);
    assert_eq!(reactions_seen(&gw, &bob, &conv, &id).await, json!([]));
    // At most 50 kinds; a kind already there still counts more.
    for i in 0..50 {
        assert_eq!(react(&gw, &bob, &id, &format!(":k{i}:"), true).await.0, StatusCode::OK);
    }
    let (status, answer) = react(&gw, &bob, &id, ":one-more:", true).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("CONFLICT")));
    assert_eq!(react(&gw, &alice, &id, ":k0:", true).await.0, StatusCode::OK);
    let seen = reactions_seen(&gw, &alice, &conv, &id).await;
    assert_eq!(seen.as_array().map(Vec::len), Some(50));
    assert_eq!(seen[0], json!({ "reaction": ":k0:", "count": 2, "mine": true }));
}

async fn reactions_over_the_websocket_reach_every_member_and_repeat_harmlessly(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (conv, id) = send(&gw, &alice, &bob.id, "news").await;
    let (mut alice_ws, mut bob_ws) = (gw.connect(&alice).await, gw.connect(&bob).await);
    let frame = |action: &str| json!({ "action": action, "messageId": id, "reaction": "🎉" });
    bob_ws.send(frame("react")).await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(ws.event("reactionAdded").await["reaction"], "🎉");
    }
    // Again: confirmed to bob, nothing new for alice.
    bob_ws.send(frame("react")).await;
    assert_eq!(bob_ws.event("reactionAdded").await["userId"], bob.id);
    assert!(alice_ws.try_event("reactionAdded", std::time::Duration::from_millis(500)).await.is_none());
    bob_ws.send(frame("unreact")).await;
    assert_eq!(alice_ws.event("reactionRemoved").await["reaction"], "🎉");
    bob_ws.send(json!({ "action": "react", "messageId": id, "reaction": "not one" })).await;
    assert_eq!(bob_ws.event("error").await["code"], "VALIDATION_ERROR");
    assert_eq!(reactions_seen(&gw, &alice, &conv, &id).await, json!([]));
}
