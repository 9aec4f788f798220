//! `GET /api/sync`: one call returns exactly what changed for the caller since a token, across
//! their conversations, in pages; old tokens answer `RESYNC_REQUIRED`, malformed ones 400.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};

both_stores!(
    a_sync_without_a_token_returns_nothing_and_a_token_for_now,
    a_sync_returns_exactly_the_changes_since_its_token_and_nothing_the_second_time,
    a_long_absence_pages_with_next_until_caught_up_each_change_once,
    membership_changes_reach_the_members_and_the_removed,
    malformed_tokens_are_refused_and_expired_ones_ask_for_a_resync,
);

/// One whole sync from `token` (following `next`): its changes and the new token.
pub async fn sync_all(gw: &Gateway, who: &User, token: &str, limit: Option<u32>) -> (Vec<Value>, String) {
    let (mut changes, mut since) = (Vec::new(), token.to_owned());
    for _ in 0..100 {
        let limit = limit.map_or(String::new(), |l| format!("&limit={l}"));
        let (status, page) = gw.get(format!("/api/sync?since={since}{limit}"), &who.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        changes.extend(page["data"]["changes"].as_array().expect("changes").iter().cloned());
        match (page["data"]["next"].as_str(), page["data"]["token"].as_str()) {
            (Some(next), None) => since = next.to_owned(),
            (None, Some(token)) => return (changes, token.to_owned()),
            _ => panic!("a page has `next` or `token`: {page}"),
        }
    }
    panic!("no end of pages");
}

pub async fn token_now(gw: &Gateway, who: &User) -> String {
    let (status, page) = gw.get("/api/sync", &who.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["data"]["changes"], json!([]));
    page["data"]["token"].as_str().expect("a token").to_owned()
}

/// A change as a short, comparable description.
pub fn describe(c: &Value) -> String {
    let kind = c["type"].as_str().unwrap_or("?");
    match kind {
        "message" => format!("message {}", c["message"]["text"].as_str().unwrap_or("")),
        "messageEdited" => format!("messageEdited {}", c["message"]["text"].as_str().unwrap_or("")),
        "messageDeleted" => format!("messageDeleted {}", c["messageId"].as_str().unwrap_or("")),
        "reactionAdded" | "reactionRemoved" => {
            format!("{kind} {} {}", c["messageId"].as_str().unwrap_or(""), c["reaction"].as_str().unwrap_or(""))
        }
        "pins" => format!("pins {}", c["messageIds"]),
        "markers" => format!(
            "markers {} read {} delivered {}",
            c["userId"].as_str().unwrap_or(""),
            c["readSeq"],
            c["deliveredSeq"]
        ),
        "conversation" => format!(
            "conversation {} members {}",
            c["conversationId"].as_str().unwrap_or(""),
            c["memberIds"].as_array().map_or(0, Vec::len)
        ),
        "removed" => format!("removed {}", c["conversationId"].as_str().unwrap_or("")),
        other => format!("{other} {c}"),
    }
}

async fn send(gw: &Gateway, from: &User, to: &str, text: &str) -> Value {
    let (status, sent) = gw.post("/api/messages", &from.token, json!({ "receiverId": to, "content": text })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent["data"].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

async fn a_sync_without_a_token_returns_nothing_and_a_token_for_now(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    send(&gw, &bob, &alice.id, "before").await;
    let token = token_now(&gw, &alice).await;
    let (changes, _) = sync_all(&gw, &alice, &token, None).await;
    assert_eq!(changes, Vec::<Value>::new(), "what came before the token is not news");
    assert_eq!(gw.get("/api/sync", "not a token").await.0, StatusCode::UNAUTHORIZED);
}

async fn a_sync_returns_exactly_the_changes_since_its_token_and_nothing_the_second_time(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let first = send(&gw, &alice, &bob.id, "m1").await;
    let conv = first["conversationId"].as_str().unwrap().to_owned();
    let second = send(&gw, &alice, &conv, "m2").await;
    let (b1, b2) = (send(&gw, &bob, &conv, "b1").await, send(&gw, &bob, &conv, "b2").await);
    let (_, group) = gw.post("/api/groups", &alice.token, json!({ "name": "team", "members": [bob.id] })).await;
    let gid = group["data"]["id"].as_str().unwrap().to_owned();
    send(&gw, &alice, &gid, "g1").await;
    // Somebody else's conversation changes too: none of alice's business.
    send(&gw, &eve, &bob.id, "private").await;

    let token = token_now(&gw, &alice).await;
    send(&gw, &bob, &conv, "new one").await;
    let reply = json!({ "receiverId": conv, "content": "in thread", "parentId": id(&first) });
    assert_eq!(gw.post("/api/messages", &bob.token, reply).await.0, StatusCode::CREATED);
    let edit = gw
        .call(
            Method::PATCH,
            format!("/api/messages/{}", id(&b1)),
            Some(&bob.token),
            Some(json!({ "text": "b1 edited" })),
        )
        .await;
    assert_eq!(edit.0, StatusCode::OK, "{}", edit.1);
    assert_eq!(gw.delete(format!("/api/messages/{}", id(&b2)), &bob.token).await.0, StatusCode::OK);
    let react =
        gw.call(Method::PUT, format!("/api/messages/{}/reactions/:tada:", id(&first)), Some(&bob.token), None).await;
    assert_eq!(react.0, StatusCode::OK);
    let pin =
        gw.call(Method::POST, format!("/api/conversations/{conv}/pins/{}", id(&second)), Some(&bob.token), None).await;
    assert_eq!(pin.0, StatusCode::OK, "{}", pin.1);
    assert_eq!(gw.post(format!("/api/conversations/{conv}/read"), &bob.token, json!({})).await.0, StatusCode::OK);
    send(&gw, &bob, &gid, "group news").await;
    // Alice's other device reads the group.
    assert_eq!(gw.post(format!("/api/conversations/{gid}/read"), &alice.token, json!({})).await.0, StatusCode::OK);
    send(&gw, &eve, &bob.id, "still private").await;

    let (changes, token) = sync_all(&gw, &alice, &token, None).await;
    let got: BTreeSet<String> = changes.iter().map(describe).collect();
    let want: BTreeSet<String> = [
        "message new one".to_owned(),
        "message in thread".to_owned(),
        "messageEdited b1 edited".to_owned(),
        format!("messageDeleted {}", id(&b2)),
        format!("reactionAdded {} :tada:", id(&first)),
        format!("pins {}", json!([id(&second)])),
        // Bob's sends moved his read marker (the reply counts: it has a place); his read after
        // them moved nothing.
        format!("markers {} read 6 delivered 0", bob.id),
        "message group news".to_owned(),
        format!("markers {} read 2 delivered 0", alice.id),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "{changes:#?}");
    assert_eq!(changes.len(), want.len(), "each change once: {changes:#?}");
    let reply = changes.iter().find(|c| c["message"]["text"] == "in thread").unwrap();
    assert_eq!(reply["message"]["parentId"], id(&first).as_str());

    let (again, _) = sync_all(&gw, &alice, &token, None).await;
    assert_eq!(again, Vec::<Value>::new(), "nothing new since the last sync");
}

async fn a_long_absence_pages_with_next_until_caught_up_each_change_once(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    send(&gw, &bob, &alice.id, "hello").await;
    send(&gw, &carol, &alice.id, "hello").await;
    let token = token_now(&gw, &alice).await;
    let mut want = BTreeSet::new();
    for i in 0..7 {
        for who in [&bob, &carol] {
            let text = format!("{} {i}", who.username);
            send(&gw, who, &alice.id, &text).await;
            want.insert(format!("message {text}"));
        }
    }
    // Each sender's read marker moved with their sends (1 + 7 messages).
    for who in [&bob, &carol] {
        want.insert(format!("markers {} read 8 delivered 0", who.id));
    }
    let (status, first_page) = gw.get(format!("/api/sync?since={token}&limit=3"), &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(first_page["data"]["next"].is_string() && first_page["data"]["token"].is_null(), "{first_page}");
    let (changes, _) = sync_all(&gw, &alice, &token, Some(3)).await;
    let got: Vec<String> = changes.iter().map(describe).collect();
    assert_eq!(got.len(), 16, "each once: {got:#?}");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}

async fn membership_changes_reach_the_members_and_the_removed(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let (_, group) = gw.post("/api/groups", &alice.token, json!({ "name": "team", "members": [bob.id] })).await;
    let gid = group["data"]["id"].as_str().unwrap().to_owned();
    let (bob_token, carol_token) = (token_now(&gw, &bob).await, token_now(&gw, &carol).await);
    let add = json!({ "memberId": carol.id });
    assert_eq!(gw.put(format!("/api/groups/{gid}/members"), &alice.token, add).await.0, StatusCode::OK);
    let (changes, _) = sync_all(&gw, &carol, &carol_token, None).await;
    let described: Vec<String> = changes.iter().map(describe).collect();
    assert_eq!(described, [format!("conversation {gid} members 3")], "carol joined");
    let (changes, bob_token) = sync_all(&gw, &bob, &bob_token, None).await;
    assert_eq!(changes.iter().map(describe).collect::<Vec<_>>(), [format!("conversation {gid} members 3")]);

    let remove = json!({ "memberId": bob.id, "action": "remove" });
    assert_eq!(gw.put(format!("/api/groups/{gid}/members"), &alice.token, remove).await.0, StatusCode::OK);
    let (changes, _) = sync_all(&gw, &bob, &bob_token, None).await;
    assert_eq!(changes.iter().map(describe).collect::<Vec<_>>(), [format!("removed {gid}")]);
}

async fn malformed_tokens_are_refused_and_expired_ones_ask_for_a_resync(store: Store) {
    let gw = Gateway::start(store).await;
    let alice = gw.user("alice").await;
    let now = chat::clock::now_ms();
    for bad in ["nope", "s1.x", "s1.-1", "s2.1", "s1.1.2.nope.-.-"] {
        let (status, answer) = gw.get(format!("/api/sync?since={bad}"), &alice.token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
        assert_eq!(answer["error"]["code"], "VALIDATION_ERROR");
    }
    for limit in ["0", "101", "x"] {
        let (status, _) = gw.get(format!("/api/sync?limit={limit}"), &alice.token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={limit}");
    }
    let old = format!("s1.{}", now - 31 * 86_400_000);
    let (status, answer) = gw.get(format!("/api/sync?since={old}"), &alice.token).await;
    assert_eq!(status, StatusCode::GONE, "{answer}");
    assert_eq!(answer["error"]["code"], "RESYNC_REQUIRED");
    // Well-formed but issued by no sync here (from the future, a window that ends before it
    // starts): the client cannot trust what it holds, so it resyncs too.
    for foreign in [format!("s1.{}", now + 3_600_000), format!("s1.9.8.{}.-.-", chat::ids::GroupId::generate())] {
        let (status, answer) = gw.get(format!("/api/sync?since={foreign}"), &alice.token).await;
        assert_eq!((status, &answer["error"]["code"]), (StatusCode::GONE, &json!("RESYNC_REQUIRED")), "{foreign}");
    }
    let recent = format!("s1.{}", now - 29 * 86_400_000);
    assert_eq!(gw.get(format!("/api/sync?since={recent}"), &alice.token).await.0, StatusCode::OK);
}
