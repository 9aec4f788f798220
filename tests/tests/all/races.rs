//! Races, on both stores: what must happen once happens once, whatever the interleaving.
//! Each scenario fires its requests at once (a barrier of futures over real HTTP) and checks
//! the outcome and the stored state.

use std::collections::BTreeSet;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store};

const N: usize = 12;

both_stores!(
    concurrent_registrations_of_one_username_let_exactly_one_win,
    concurrent_starts_of_one_conversation_make_one_conversation,
    concurrent_sends_with_one_client_message_id_store_one_message,
    concurrent_sends_to_one_conversation_are_all_stored_in_one_order,
    concurrent_member_changes_leave_a_consistent_group,
    concurrent_senders_in_one_group_are_all_accepted_in_a_gapless_order,
);

async fn concurrent_registrations_of_one_username_let_exactly_one_win(store: Store) {
    let gw = Gateway::start(store).await;
    let name = crate::support::unique_username("race");
    // Case variants of one name are one name.
    let attempts = (0..N).map(|i| {
        let username = if i % 2 == 0 { name.clone() } else { name.to_uppercase() };
        gw.post_anon("/api/users/register", json!({ "username": username, "password": "password 123" }))
    });
    let results = join_all(attempts).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let conflicts = results.iter().filter(|(s, _)| *s == StatusCode::CONFLICT).count();
    assert_eq!((created, conflicts), (1, N - 1), "{results:?}");
    let winner = results.iter().find(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| b.clone()).expect("a winner");
    let token = winner["data"]["token"].as_str().expect("token");
    let (status, me) = gw.get("/api/users/me", token).await;
    assert_eq!((status, me["data"]["id"].clone()), (StatusCode::OK, winner["data"]["user"]["id"].clone()));
}

async fn concurrent_starts_of_one_conversation_make_one_conversation(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let starts = (0..N).map(|i| {
        let (token, participants) = if i % 2 == 0 {
            (&alice.token, json!([alice.id, bob.username]))
        } else {
            (&bob.token, json!([bob.id, alice.id]))
        };
        gw.post("/api/conversations/start", token, json!({ "participants": participants }))
    });
    let results = join_all(starts).await;
    assert!(results.iter().all(|(s, _)| s.is_success()), "{results:?}");
    let ids: BTreeSet<String> =
        results.iter().map(|(_, b)| b["data"]["id"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(ids.len(), 1, "one conversation: {ids:?}");
    let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert!(created <= 1, "{created} answers said created");
    let (_, list) = gw.get("/api/conversations", &alice.token).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
}

async fn concurrent_sends_with_one_client_message_id_store_one_message(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    // The first message creates the conversation; the retries race on creating it too.
    let body = json!({ "receiverId": bob.id, "content": "exactly once", "clientMessageId": "same-id" });
    let mut ws = gw.connect(&alice).await;
    let http = join_all((0..N).map(|_| gw.post("/api/messages", &alice.token, body.clone())));
    let frame =
        json!({ "action": "sendMessage", "receiverId": bob.id, "text": "exactly once", "clientMessageId": "same-id" });
    let (results, ()) = tokio::join!(http, async {
        for _ in 0..3 {
            ws.send(frame.clone()).await;
        }
    });
    assert!(results.iter().all(|(s, _)| s.is_success()), "{results:?}");
    let ids: BTreeSet<String> =
        results.iter().map(|(_, b)| b["data"]["id"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(ids.len(), 1, "one message id for every retry: {ids:?}");
    assert!(results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count() <= 1);
    for _ in 0..3 {
        let ack = ws.event("messageReceived").await;
        assert!(
            ids.contains(ack["message"]["id"].as_str().unwrap_or_default()),
            "the WebSocket retries get the same message: {ack}"
        );
    }
    let (_, history) = gw.get(&format!("/api/messages/{}", alice.id), &bob.token).await;
    assert_eq!(history["data"].as_array().map(Vec::len), Some(1), "{history}");
    let (_, convs) = gw.get("/api/conversations", &bob.token).await;
    assert_eq!(convs["data"][0]["messageCount"], 1);
    assert_eq!(convs["data"][0]["unreadCount"], 1);
}

async fn concurrent_sends_to_one_conversation_are_all_stored_in_one_order(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (_, first) = gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "m0" })).await;
    let conv = first["data"]["conversationId"].as_str().expect("conversation").to_owned();
    let sends = (1..=N).map(|i| {
        let token = if i % 2 == 0 { &alice.token } else { &bob.token };
        gw.post("/api/messages", token, json!({ "receiverId": conv, "content": format!("m{i}") }))
    });
    let results = join_all(sends).await;
    // No transaction on the summary: concurrent sends never refuse each other (issue 19).
    let stored = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(stored, N, "every concurrent send is stored: {results:?}");
    let (_, history) = gw.get(&format!("/api/messages/{conv}?limit=100"), &alice.token).await;
    let messages = history["data"].as_array().expect("messages");
    assert_eq!(messages.len(), stored + 1, "every acknowledged send is stored, and only those");
    let acknowledged: BTreeSet<&str> = results.iter().filter_map(|(_, b)| b["data"]["id"].as_str()).collect();
    let listed: BTreeSet<&str> = messages.iter().skip(1).filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(acknowledged, listed);
    let seqs: Vec<i64> = messages.iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=(stored as i64 + 1)).collect::<Vec<_>>(), "positions are unique and gapless");
    let (_, convs) = gw.get("/api/conversations", &alice.token).await;
    assert_eq!(convs["data"][0]["messageCount"], stored + 1);
}

async fn concurrent_member_changes_leave_a_consistent_group(store: Store) {
    let gw = Gateway::start(store).await;
    let owner = gw.user("owner").await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(gw.user(&format!("m{i}")).await);
    }
    let (status, group) =
        gw.post("/api/groups", &owner.token, json!({ "name": "racy", "members": [users[0].id] })).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let id = group["data"]["id"].as_str().expect("group").to_owned();
    let path = format!("/api/groups/{id}/members");
    // Distinct users added at once: no add may be lost. users[0] is removed and re-added at
    // the same time: either outcome is fine, as long as every view agrees.
    let mut changes: Vec<Value> = users[1..].iter().map(|u| json!({ "memberId": u.id })).collect();
    changes.push(json!({ "memberId": users[0].id, "action": "remove" }));
    changes.push(json!({ "memberId": users[0].id, "action": "add" }));
    changes.push(json!({ "memberId": users[0].id, "action": "remove" }));
    let results = join_all(changes.iter().map(|c| gw.put(&path, &owner.token, c.clone()))).await;
    assert!(results.iter().all(|(s, _)| s.is_success() || *s == StatusCode::CONFLICT), "{results:?}");
    let (_, after) = gw.get(&format!("/api/groups/{id}"), &owner.token).await;
    let members: BTreeSet<String> = after["data"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(after["data"]["memberCount"], members.len(), "{after}");
    for (i, u) in users.iter().enumerate().skip(1) {
        let added = results[i - 1].0.is_success();
        assert_eq!(
            members.contains(&u.id),
            added,
            "user {i}: answered {:?}, member {}",
            results[i - 1],
            members.contains(&u.id)
        );
    }
    // Every member's own view agrees with the group's: they can read it, the others cannot.
    for u in &users {
        let (status, _) = gw.get(&format!("/api/groups/{id}"), &u.token).await;
        let expected = if members.contains(&u.id) { StatusCode::OK } else { StatusCode::NOT_FOUND };
        assert_eq!(status, expected, "{} member={}", u.username, members.contains(&u.id));
        let (_, mine) = gw.get("/api/groups", &u.token).await;
        let listed = mine["data"].as_array().is_some_and(|l| l.iter().any(|g| g["id"] == id));
        assert_eq!(listed, members.contains(&u.id), "{}'s group list agrees", u.username);
    }
}

/// Issue 19: a hot conversation never refuses a send. A hundred senders at once on the embedded
/// store, forty on the local DynamoDB server (a Python process on a shared 2-core machine: more
/// and its answers take longer than the client's 3 s attempt timeout), through the send service,
/// ten members of one group, each with a `clientMessageId`: none is refused, each is stored
/// once, the `seq`s are 1..=n with no gap and history shows them in that order, and the
/// conversation lists the message with the last `seq`.
async fn concurrent_senders_in_one_group_are_all_accepted_in_a_gapless_order(store: Store) {
    use chat::error::AppError;
    use chat::service::messages::{send, Outgoing, Target};
    let senders: usize = if store == Store::Dynamo { 40 } else { 100 };
    let gw = Gateway::start(store).await;
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(gw.user(&format!("hot{i}")).await);
    }
    let ids: Vec<&str> = users.iter().skip(1).map(|u| u.id.as_str()).collect();
    let (status, group) = gw.post("/api/groups", &users[0].token, json!({ "name": "hot", "members": ids })).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let conv = chat::ids::ConversationId::parse(group["data"]["id"].as_str().expect("id")).expect("a conversation id");
    let app = gw.app();
    let sends = (0..senders).map(|i| {
        let user = &users[i % users.len()];
        let actor = chat::service::Actor {
            user_id: chat::ids::UserId::parse(&user.id).expect("a user id"),
            username: user.username.clone(),
            role: chat::models::Role::User,
        };
        let conv = conv.clone();
        async move {
            let out = Outgoing::parse(Target::Conversation(conv.clone()), &format!("hot {i}"), Some(format!("h{i}")))
                .expect("a message");
            send(app, &actor, async { Ok(()) }, out, None).await.map(|o| o.into_message())
        }
    });
    let results = join_all(sends).await;
    let refused = results.iter().filter(|r| matches!(r, Err(AppError::Conflict(_)))).count();
    assert_eq!(refused, 0, "no send refused");
    let sent: BTreeSet<String> = results.into_iter().map(|r| r.expect("stored").id.to_string()).collect();
    // (`?limit=100` reads them all: at most 100.)
    assert_eq!(sent.len(), senders);
    let (_, history) = gw.get(&format!("/api/messages/{conv}?limit=100"), &users[0].token).await;
    let messages = history["data"].as_array().expect("messages");
    let listed: BTreeSet<String> = messages.iter().filter_map(|m| m["id"].as_str().map(str::to_owned)).collect();
    assert_eq!(listed, sent, "every accepted send is stored, once");
    let seqs: Vec<i64> = messages.iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=senders as i64).collect::<Vec<_>>(), "gapless, and history in that order");
    let (_, convs) = gw.get("/api/conversations", &users[1].token).await;
    let listed = convs["data"].as_array().expect("list").iter().find(|c| c["id"] == conv.as_str()).cloned();
    let listed = listed.expect("the group is listed");
    assert_eq!(listed["messageCount"], senders);
    assert_eq!(listed["lastMessage"]["seq"], senders, "the last message is the one with the last seq");
}
