//! Editing a message (`PATCH /api/messages/{id}`, WebSocket `editMessage`): the sender only;
//! every copy follows (history, the conversation's `lastMessage`, the members' sockets); a
//! deleted message stays deleted, also when an edit races the delete.

use futures::future::join;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};

both_stores!(
    the_sender_edits_a_message_and_every_copy_and_member_follows,
    only_the_sender_edits_and_bad_edits_change_nothing,
    an_edit_racing_a_delete_never_brings_the_text_back,
    an_edit_over_the_websocket_reaches_the_editors_other_devices,
    an_edit_read_before_a_delete_is_refused_by_the_store,
    a_sender_who_left_the_group_can_no_longer_edit,
    a_message_is_found_by_its_id_alone_at_once_and_one_with_an_id_of_the_older_form_still_is,
);

async fn send(gw: &Gateway, from: &User, to: &User, text: &str) -> (String, String) {
    let (status, sent) = gw.post("/api/messages", &from.token, json!({ "receiverId": to.id, "content": text })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    (sent["data"]["conversationId"].as_str().unwrap().to_owned(), sent["data"]["id"].as_str().unwrap().to_owned())
}

async fn edit(gw: &Gateway, who: &User, id: &str, body: Value) -> (StatusCode, Value) {
    gw.call(Method::PATCH, format!("/api/messages/{id}"), Some(&who.token), Some(body)).await
}

/// Message `id` as the history of `conv` shows it to `who`.
async fn in_history(gw: &Gateway, who: &User, conv: &str, id: &str) -> Value {
    let (_, page) = gw.get(format!("/api/messages/{conv}"), &who.token).await;
    page["data"].as_array().expect("a page").iter().find(|m| m["id"] == id).cloned().unwrap_or(Value::Null)
}

async fn last_message(gw: &Gateway, who: &User, conv: &str) -> Value {
    let (_, list) = gw.get("/api/conversations", &who.token).await;
    let list = list["data"].as_array().expect("a list");
    list.iter().find(|c| c["id"] == conv).map(|c| c["lastMessage"].clone()).unwrap_or(Value::Null)
}

async fn the_sender_edits_a_message_and_every_copy_and_member_follows(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (conv, older) = send(&gw, &alice, &bob, "helo").await;
    let (_, last) = send(&gw, &alice, &bob, "se you").await;
    let mut bob_ws = gw.connect(&bob).await;
    for (id, text) in [(&last, "see you"), (&older, "hello")] {
        let (status, edited) = edit(&gw, &alice, id, json!({ "text": text })).await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        assert_eq!((edited["data"]["id"].as_str(), edited["data"]["text"].as_str()), (Some(id.as_str()), Some(text)));
        assert!(edited["data"]["editedAt"].is_string(), "{edited}");
        let pushed = bob_ws.event("messageEdited").await;
        assert_eq!(
            (pushed["message"]["id"].as_str(), pushed["message"]["text"].as_str()),
            (Some(id.as_str()), Some(text))
        );
        for who in [&alice, &bob] {
            let seen = in_history(&gw, who, &conv, id).await;
            assert_eq!((seen["text"].as_str(), seen["editedAt"].is_string()), (Some(text), true), "{seen}");
        }
    }
    // The list's copy followed the edit of the last message, and not the older one's.
    for who in [&alice, &bob] {
        let copy = last_message(&gw, who, &conv).await;
        assert_eq!((copy["id"].as_str(), copy["text"].as_str()), (Some(last.as_str()), Some("see you")), "{copy}");
        assert!(copy["editedAt"].is_string(), "{copy}");
    }
    // The same text again is no change: nothing pushed.
    assert_eq!(edit(&gw, &alice, &last, json!({ "text": "see you" })).await.0, StatusCode::OK);
    assert!(bob_ws.try_event("messageEdited", std::time::Duration::from_millis(500)).await.is_none());
}

async fn only_the_sender_edits_and_bad_edits_change_nothing(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, eve, root) =
        (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await, gw.admin("root").await);
    let (conv, id) = send(&gw, &alice, &bob, "original").await;
    let cases: [(&User, Value, StatusCode, &str); 8] = [
        (&bob, json!({ "text": "bob's words" }), StatusCode::FORBIDDEN, "a member, not the sender"),
        (&root, json!({ "text": "admin's words" }), StatusCode::FORBIDDEN, "an admin may delete, not rewrite"),
        (&eve, json!({ "text": "eve's words" }), StatusCode::NOT_FOUND, "a stranger"),
        (&alice, json!({ "text": "" }), StatusCode::BAD_REQUEST, "empty"),
        (&alice, json!({ "text": "\u{200b} " }), StatusCode::BAD_REQUEST, "renders as nothing"),
        (&alice, json!({ "text": "x".repeat(4001) }), StatusCode::BAD_REQUEST, "too long"),
        (&alice, json!({ "text": 42 }), StatusCode::BAD_REQUEST, "not a string"),
        (&alice, json!({ "text": "ok", "senderId": bob.id }), StatusCode::BAD_REQUEST, "an unknown field"),
    ];
    for (who, body, expected, why) in cases {
        let (status, answer) = edit(&gw, who, &id, body).await;
        assert_eq!(status, expected, "{why}: {answer}");
        assert_eq!(answer["success"], false, "{why}");
        assert!(!answer.to_string().contains("words"), "{why}: nothing submitted is echoed: {answer}");
    }
    // A stranger gets the answer of a message that does not exist.
    let missing = format!("msg_{}", ulid::Ulid::generate());
    assert_eq!(
        edit(&gw, &eve, &id, json!({ "text": "x" })).await,
        edit(&gw, &eve, &missing, json!({ "text": "x" })).await
    );
    assert_eq!(edit(&gw, &alice, "not-an-id", json!({ "text": "x" })).await.0, StatusCode::NOT_FOUND);
    let stored = in_history(&gw, &alice, &conv, &id).await;
    assert_eq!((stored["text"].as_str(), stored.get("editedAt")), (Some("original"), None), "{stored}");
    // A deleted message cannot be edited back to life.
    assert_eq!(gw.delete(format!("/api/messages/{id}"), &alice.token).await.0, StatusCode::OK);
    assert_eq!(edit(&gw, &alice, &id, json!({ "text": "resurrected" })).await.0, StatusCode::NOT_FOUND);
    let copy = last_message(&gw, &bob, &conv).await;
    assert_eq!((copy["text"].as_str(), copy["deleted"].as_bool()), (Some(""), Some(true)), "{copy}");
}

async fn an_edit_racing_a_delete_never_brings_the_text_back(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    for round in 0..6 {
        let (conv, id) = send(&gw, &alice, &bob, &format!("round {round}")).await;
        let (edited, deleted) = join(
            edit(&gw, &alice, &id, json!({ "text": "the text that must go" })),
            gw.delete(format!("/api/messages/{id}"), &alice.token),
        )
        .await;
        assert_eq!(deleted.0, StatusCode::OK, "{deleted:?}");
        assert!([StatusCode::OK, StatusCode::NOT_FOUND, StatusCode::CONFLICT].contains(&edited.0), "{edited:?}");
        let seen = in_history(&gw, &bob, &conv, &id).await;
        assert_eq!((seen["deleted"].as_bool(), seen["text"].as_str()), (Some(true), Some("")), "round {round}: {seen}");
        let copy = last_message(&gw, &bob, &conv).await;
        assert_eq!(copy["text"], "", "round {round}: the list's copy: {copy}");
    }
}

async fn an_edit_over_the_websocket_reaches_the_editors_other_devices(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (conv, id) = send(&gw, &alice, &bob, "typo").await;
    let (mut phone, mut laptop, mut bob_ws) =
        (gw.connect(&alice).await, gw.connect(&alice).await, gw.connect(&bob).await);
    phone.send(json!({ "action": "editMessage", "messageId": id, "text": "fixed" })).await;
    for ws in [&mut phone, &mut laptop, &mut bob_ws] {
        assert_eq!(ws.event("messageEdited").await["message"]["text"], "fixed");
    }
    phone.send(json!({ "action": "editMessage", "messageId": id, "text": "" })).await;
    assert_eq!(phone.event("error").await["code"], "VALIDATION_ERROR");
    bob_ws.send(json!({ "action": "editMessage", "messageId": id, "text": "bob's" })).await;
    assert_eq!(bob_ws.event("error").await["code"], "FORBIDDEN");
    assert_eq!(in_history(&gw, &bob, &conv, &id).await["text"], "fixed");
}

/// The race above, made deterministic: the edit's read happens before the delete, its write
/// after; the store's condition (the text as read) refuses it.
async fn an_edit_read_before_a_delete_is_refused_by_the_store(store: Store) {
    use chat::ids::{MessageId, UserId};
    use chat::repo::messages::{self as msgs, Edited};
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (conv, id) = send(&gw, &alice, &bob, "going").await;
    let table = gw.app().table();
    let read = msgs::find(table, &MessageId::parse(&id).expect("an id")).await.expect("read").expect("stored");
    assert_eq!(gw.delete(format!("/api/messages/{id}"), &alice.token).await.0, StatusCode::OK);
    let alice_id = UserId::parse(&alice.id).expect("an id");
    let outcome = msgs::edit(
        table,
        &read,
        &alice_id,
        "back again",
        "2026-01-01T00:00:00.000Z",
        chat::repo::changes::Stamp::now(30),
    )
    .await
    .expect("no fault");
    assert!(matches!(outcome, Edited::Changed), "{outcome:?}");
    let seen = in_history(&gw, &bob, &conv, &id).await;
    assert_eq!((seen["deleted"].as_bool(), seen["text"].as_str()), (Some(true), Some("")), "{seen}");
    assert_eq!(last_message(&gw, &bob, &conv).await["text"], "");
}

async fn a_sender_who_left_the_group_can_no_longer_edit(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (_, group) = gw.post("/api/groups", &alice.token, json!({ "name": "team", "members": [bob.id] })).await;
    let group = group["data"]["id"].as_str().expect("a group").to_owned();
    let (status, sent) = gw.post("/api/messages", &bob.token, json!({ "receiverId": group, "content": "mine" })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let id = sent["data"]["id"].as_str().unwrap().to_owned();
    let removed = json!({ "memberId": bob.id, "action": "remove" });
    assert_eq!(gw.put(format!("/api/groups/{group}/members"), &alice.token, removed).await.0, StatusCode::OK);
    assert_eq!(edit(&gw, &bob, &id, json!({ "text": "after leaving" })).await.0, StatusCode::NOT_FOUND);
    assert_eq!(in_history(&gw, &alice, &group, &id).await["text"], "mine");
}

/// A message's id names its conversation: no index entry is written for it, and the routes that
/// name a message alone read it with one strongly consistent `GetItem` (an edit right after the
/// send finds it). A message stored before, its id `msg_<ULID>` alone, is still found (GSI1).
async fn a_message_is_found_by_its_id_alone_at_once_and_one_with_an_id_of_the_older_form_still_is(store: Store) {
    use chat::ids::{ConversationId, MessageId};
    use chat::repo::messages as msgs;

    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (conv, id) = send(&gw, &alice, &bob, "helo").await;
    assert!(id.ends_with(&format!(".{conv}")), "{id} names {conv}");
    let (conv_id, msg_id) = (ConversationId::parse(&conv).unwrap(), MessageId::parse(&id).unwrap());
    let key = chat::repo::keys::message(&conv_id, &msg_id);
    let stored = gw.app().table().get(&key, true).await.unwrap().expect("the message");
    assert!(!stored.contains_key("gsi1pk"), "no index entry: {stored:?}");
    let (status, edited) = edit(&gw, &alice, &id, json!({ "text": "hello" })).await;
    assert_eq!(status, StatusCode::OK, "{edited}");

    // A message of the older id form, stored as sends stored them before.
    let mut older = msgs::read(stored).unwrap();
    older.id = MessageId::parse(&format!("msg_{}", ulid::Ulid::generate())).unwrap();
    older.text = "from before".into();
    let item = msgs::message_item(&older).unwrap();
    assert!(item.contains_key("gsi1pk"), "an id of the older form is found through GSI1");
    gw.app().table().put(item, None).await.unwrap();
    let older_id = older.id.to_string();
    let (status, edited) = edit(&gw, &alice, &older_id, json!({ "text": "from before, edited" })).await;
    assert_eq!((status, edited["data"]["text"].as_str()), (StatusCode::OK, Some("from before, edited")), "{edited}");
    let (status, reacted) =
        gw.put(format!("/api/messages/{older_id}/reactions/:thumbsup:"), &bob.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reacted}");
    assert_eq!(gw.delete(format!("/api/messages/{older_id}"), &alice.token).await.0, StatusCode::OK);
    assert!(in_history(&gw, &bob, &conv, &older_id).await["deleted"] == true);
}
