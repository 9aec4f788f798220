//! Moderation of senders (issue 17, part B): read-only channels, slow mode, the word filter,
//! flood protection and disappearing messages (per conversation and global retention), on both
//! stores.
//!
//! The repository has no test clock: a message "an hour later" is simulated by moving its
//! expiry (the item's `ttl` and `expiresAt`, and the summary's copy) into the past, which is
//! what the readers compare against the wall clock.

use chat::config::SendRate;
use chat::ids::{ConversationId, MessageId};
use chat::repo::keys;
use chat::store::Update;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, config, Gateway, Store, User};

both_stores!(
    a_read_only_channel_takes_posts_from_its_owner_and_admins_only,
    members_cannot_change_a_groups_policy_and_nothing_changes,
    slow_mode_lets_exactly_one_of_two_parallel_sends_by_a_member_through,
    slow_mode_refuses_over_the_websocket_with_an_error_event_saying_when_to_retry,
    the_word_filter_refuses_a_disguised_word_on_send_and_edit_without_repeating_it,
    the_word_filter_masks_a_word_on_send_and_edit,
    flood_protection_answers_429_with_retry_after_past_the_limit,
    past_the_flood_limit_a_retry_of_a_stored_send_still_gets_its_message,
    a_disappearing_conversation_hides_its_expired_messages_everywhere,
    global_retention_expires_every_message_and_a_shorter_lifetime_wins,
);

async fn send(gw: &Gateway, from: &User, to: &str, text: &str) -> (StatusCode, Value) {
    gw.post("/api/messages", &from.token, json!({ "receiverId": to, "content": text })).await
}

async fn sent(gw: &Gateway, from: &User, to: &str, text: &str) -> Value {
    let (status, body) = send(gw, from, to, text).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"].clone()
}

async fn policy(gw: &Gateway, who: &User, conv: &str, body: Value) -> (StatusCode, Value) {
    gw.call(Method::PATCH, format!("/api/conversations/{conv}/policy"), Some(&who.token), Some(body)).await
}

async fn texts(gw: &Gateway, who: &User, conv: &str) -> Vec<String> {
    let (status, page) = gw.get(format!("/api/messages/{conv}"), &who.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
}

/// A group (or channel) of `owner` with `members`; its conversation id.
async fn group(gw: &Gateway, kind: &str, owner: &User, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (status, g) = gw.post(format!("/api/{kind}"), &owner.token, json!({ "name": "mods", "members": ids })).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    g["data"]["id"].as_str().unwrap().to_owned()
}

/// A send with its `Retry-After` header.
async fn send_raw(gw: &Gateway, from: &User, to: &str, text: &str) -> (StatusCode, Option<u64>, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/messages", gw.http))
        .bearer_auth(&from.token)
        .json(&json!({ "receiverId": to, "content": text }))
        .send()
        .await
        .expect("the gateway answers");
    let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (res.status(), retry, res.json().await.unwrap_or(Value::Null))
}

async fn a_read_only_channel_takes_posts_from_its_owner_and_admins_only(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, admin, member) = (gw.user("owner").await, gw.user("cadmin").await, gw.user("member").await);
    let channel = group(&gw, "channels", &owner, &[&admin, &member]).await;
    let promote = json!({ "memberId": admin.id, "action": "promote" });
    assert_eq!(gw.put(format!("/api/channels/{channel}/members"), &owner.token, promote).await.0, StatusCode::OK);
    let (status, set) = policy(&gw, &owner, &channel, json!({ "readOnly": true })).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["data"]["readOnly"], true);
    let (_, view) = gw.get(format!("/api/conversations/{channel}"), &member.token).await;
    assert_eq!(view["data"]["readOnly"], true, "members read the policy back: {view}");

    let (status, refused) = send(&gw, &member, &channel, "can I speak?").await;
    assert_eq!((status, refused["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("FORBIDDEN")), "{refused}");
    sent(&gw, &owner, &channel, "announcement").await;
    sent(&gw, &admin, &channel, "second announcement").await;
    assert_eq!(texts(&gw, &member, &channel).await, ["announcement", "second announcement"], "nothing of the member's");

    // Over the WebSocket alike.
    let mut ws = gw.connect(&member).await;
    ws.send(json!({ "action": "sendMessage", "conversationId": channel, "text": "still me" })).await;
    assert_eq!(ws.event("error").await["code"], "FORBIDDEN");

    assert_eq!(policy(&gw, &owner, &channel, json!({ "readOnly": false })).await.0, StatusCode::OK);
    sent(&gw, &member, &channel, "now I may").await;

    // Each change is in the audit log, newest first: who, where, the rules it set.
    let moderator = gw.admin("moderator").await;
    let (_, audit) = gw.get("/api/audit?limit=2", &moderator.token).await;
    let seen: Vec<_> = audit["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["action"].clone(), e["actorId"].clone(), e["conversationId"].clone(), e["policy"].clone()))
        .collect();
    let entry = |policy: Value| (json!("policy_changed"), json!(owner.id), json!(channel), policy);
    assert_eq!(seen, [entry(json!({})), entry(json!({ "readOnly": true }))], "{audit}");
}

async fn members_cannot_change_a_groups_policy_and_nothing_changes(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, member, stranger) = (gw.user("owner").await, gw.user("member").await, gw.user("stranger").await);
    let g = group(&gw, "groups", &owner, &[&member]).await;
    for body in
        [json!({ "readOnly": true }), json!({ "slowModeSeconds": 60 }), json!({ "messageLifetimeSeconds": 3600 })]
    {
        assert_eq!(policy(&gw, &member, &g, body.clone()).await.0, StatusCode::FORBIDDEN);
        assert_eq!(policy(&gw, &stranger, &g, body).await.0, StatusCode::NOT_FOUND, "the group stays hidden");
    }
    for bad in [json!({ "slowModeSeconds": -1 }), json!({ "messageLifetimeSeconds": 60 }), json!({ "readOnly": "yes" })]
    {
        let (status, body) = policy(&gw, &owner, &g, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (_, view) = gw.get(format!("/api/conversations/{g}"), &owner.token).await;
    assert!(
        view["data"].get("readOnly").is_none()
            && view["data"].get("slowModeSeconds").is_none()
            && view["data"].get("messageLifetimeSeconds").is_none(),
        "{view}"
    );
    sent(&gw, &member, &g, "still free to talk").await;
    sent(&gw, &member, &g, "and again").await;
}

async fn slow_mode_lets_exactly_one_of_two_parallel_sends_by_a_member_through(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, member) = (gw.user("owner").await, gw.user("member").await);
    let g = group(&gw, "groups", &owner, &[&member]).await;
    let (status, set) = policy(&gw, &owner, &g, json!({ "slowModeSeconds": 3600 })).await;
    assert_eq!((status, set["data"]["slowModeSeconds"].as_i64()), (StatusCode::OK, Some(3600)), "{set}");

    let answers = join_all((0..2).map(|i| send_raw(&gw, &member, &g, if i == 0 { "one" } else { "two" }))).await;
    let created = answers.iter().filter(|(s, ..)| *s == StatusCode::CREATED).count();
    let limited: Vec<_> = answers.iter().filter(|(s, ..)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!((created, limited.len()), (1, 1), "{answers:?}");
    let (_, retry, body) = limited[0];
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    assert!(retry.is_some_and(|s| (3500..=3600).contains(&s)), "Retry-After: {retry:?}");
    assert_eq!(texts(&gw, &owner, &g).await.len(), 1, "the refused send stored nothing");
    // A third, later, still waits; the owner is exempt.
    assert_eq!(send_raw(&gw, &member, &g, "three").await.0, StatusCode::TOO_MANY_REQUESTS);
    sent(&gw, &owner, &g, "owners are exempt").await;
    sent(&gw, &owner, &g, "twice").await;
}

async fn slow_mode_refuses_over_the_websocket_with_an_error_event_saying_when_to_retry(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, member) = (gw.user("owner").await, gw.user("member").await);
    let g = group(&gw, "groups", &owner, &[&member]).await;
    assert_eq!(policy(&gw, &owner, &g, json!({ "slowModeSeconds": 600 })).await.0, StatusCode::OK);
    let mut ws = gw.connect(&member).await;
    ws.send(json!({ "action": "sendMessage", "conversationId": g, "text": "first", "clientMessageId": "c1" })).await;
    ws.event("messageReceived").await;
    ws.send(json!({ "action": "sendMessage", "conversationId": g, "text": "second", "clientMessageId": "c2" })).await;
    let error = ws.event("error").await;
    assert_eq!(error["code"], "RATE_LIMITED", "{error}");
    assert!(error["details"]["retryAfter"].as_u64().is_some_and(|s| (1..=600).contains(&s)), "{error}");
    // The connection stays usable, and the retry of the accepted message is still a retry.
    ws.send(json!({ "action": "sendMessage", "conversationId": g, "text": "first", "clientMessageId": "c1" })).await;
    assert_eq!(ws.event("messageReceived").await["duplicate"], true);
}

fn filtered_gateway_config(store: Store) -> chat::Config {
    let mut c = config(store);
    c.word_filter = chat::wordfilter::WordFilter::parse("refuse:spamword;mask:darn").unwrap();
    c
}

async fn the_word_filter_refuses_a_disguised_word_on_send_and_edit_without_repeating_it(store: Store) {
    let gw = Gateway::spawn(filtered_gateway_config(store), None).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    for text in ["buy 5p@mw0rd now", "ＳＰＡＭＷＯＲＤ", "sp\u{200B}amword!"] {
        let (status, body) = send(&gw, &alice, &bob.id, text).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            (body["error"]["code"].as_str(), body["error"]["details"]["reason"].as_str()),
            (Some("VALIDATION_ERROR"), Some("FILTERED_WORD"))
        );
        let said = body.to_string().to_lowercase();
        assert!(!said.contains("spamword") && !said.contains("5p@mw0rd"), "the word is not echoed: {said}");
    }
    let m = sent(&gw, &alice, &bob.id, "a fine message").await;
    let conv = m["conversationId"].as_str().unwrap();
    let id = m["id"].as_str().unwrap();
    let (status, body) = gw
        .call(Method::PATCH, format!("/api/messages/{id}"), Some(&alice.token), Some(json!({ "text": "Spamword!" })))
        .await;
    assert_eq!((status, body["error"]["details"]["reason"].as_str()), (StatusCode::BAD_REQUEST, Some("FILTERED_WORD")));
    assert_eq!(texts(&gw, &bob, conv).await, ["a fine message"], "nothing refused was stored");
    // Over the WebSocket: an error event, the connection usable.
    let mut ws = gw.connect(&alice).await;
    ws.send(json!({ "action": "sendMessage", "conversationId": conv, "text": "spamword" })).await;
    let error = ws.event("error").await;
    assert_eq!(
        (error["code"].as_str(), error["details"]["reason"].as_str()),
        (Some("VALIDATION_ERROR"), Some("FILTERED_WORD"))
    );
    assert!(!error.to_string().contains("spamword"));
}

async fn the_word_filter_masks_a_word_on_send_and_edit(store: Store) {
    let gw = Gateway::spawn(filtered_gateway_config(store), None).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let m = sent(&gw, &alice, &bob.id, "oh DARN it, a darned thing").await;
    assert_eq!(m["text"], "oh **** it, a darned thing", "a longer word is not a match");
    let conv = m["conversationId"].as_str().unwrap().to_owned();
    let id = m["id"].as_str().unwrap();
    let (status, edited) = gw
        .call(
            Method::PATCH,
            format!("/api/messages/{id}"),
            Some(&alice.token),
            Some(json!({ "text": "d4rn, ｄａｒｎ" })),
        )
        .await;
    assert_eq!((status, edited["data"]["text"].as_str()), (StatusCode::OK, Some("****, ****")), "{edited}");
    assert_eq!(texts(&gw, &bob, &conv).await, ["****, ****"]);
    let (_, list) = gw.get("/api/conversations", &bob.token).await;
    assert_eq!(list["data"][0]["lastMessage"]["text"], "****, ****", "the stored copies are masked too");
}

async fn flood_protection_answers_429_with_retry_after_past_the_limit(store: Store) {
    let mut c = config(store);
    // A day's window: the sends below cross at most one window boundary, so 7 sends against
    // a limit of 3 meet at least one refusal whatever the time.
    c.send_rate = SendRate { limit: 3, window_secs: 86_400 };
    let gw = Gateway::spawn(c, None).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut answers = Vec::new();
    for i in 0..7 {
        answers.push(send_raw(&gw, &alice, &bob.id, &format!("message {i}")).await);
    }
    let refused: Vec<_> = answers.iter().filter(|(s, ..)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
    assert!(!refused.is_empty(), "{answers:?}");
    for (_, retry, body) in &refused {
        assert_eq!(body["error"]["code"], "RATE_LIMITED");
        assert!(retry.is_some_and(|s| (1..=86_400).contains(&s)), "Retry-After: {retry:?}");
    }
    let stored = answers.iter().filter(|(s, ..)| *s == StatusCode::CREATED).count();
    assert!(stored <= 6, "at most the limit per window: {stored}");
    // Another user is not slowed down by alice's flood.
    assert_eq!(send_raw(&gw, &bob, &alice.id, "hi").await.0, StatusCode::CREATED);
}

async fn past_the_flood_limit_a_retry_of_a_stored_send_still_gets_its_message(store: Store) {
    let mut c = config(store);
    c.send_rate = SendRate { limit: 2, window_secs: 86_400 };
    let gw = Gateway::spawn(c, None).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let body = |text: &str, client: &str| json!({ "receiverId": bob.id, "content": text, "clientMessageId": client });
    let (status, first) = gw.post("/api/messages", &alice.token, body("kept", "k1")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // Spend the rest of the window (two windows at most meet these sends) until refused.
    let mut refused = false;
    for i in 0..4 {
        let (status, _) = gw.post("/api/messages", &alice.token, body(&format!("more {i}"), &format!("m{i}"))).await;
        refused |= status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(refused, "the limit was reached");
    // The retry (its answer lost, say) is answered with the stored message, not a 429.
    let (status, again) = gw.post("/api/messages", &alice.token, body("kept", "k1")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["data"]["id"], first["data"]["id"]);
    // A new send is still refused.
    assert_eq!(gw.post("/api/messages", &alice.token, body("new", "k2")).await.0, StatusCode::TOO_MANY_REQUESTS);
}

/// Moves a message's expiry into the past, as it reads once its lifetime has passed: the
/// item's `ttl` and `expiresAt`, and the summary's copy when it is the last message.
async fn expire(gw: &Gateway, conv: &str, id: &str) {
    let (conv, id) = (ConversationId::parse(conv).unwrap(), MessageId::parse(id).unwrap());
    let past_ms = chat::clock::now_ms() - 1000;
    let table = gw.app().table();
    let at: Value = chat::clock::iso(past_ms).into();
    let updates = vec![Update::Set("ttl".into(), (past_ms / 1000).into()), Update::Set("expiresAt".into(), at.clone())];
    table.update(&keys::message(&conv, &id), updates, None).await.unwrap();
    let summary = table.get(&keys::summary(&conv), true).await.unwrap().unwrap();
    if let Some(mut last) = summary.get("lastMessage").cloned().filter(|l| l["id"] == id.as_str()) {
        last["expiresAt"] = at;
        table.update(&keys::summary(&conv), vec![Update::Set("lastMessage".into(), last)], None).await.unwrap();
    }
}

/// Whether `at` (an `expiresAt`) is `secs` from now, give or take the test's own seconds (ISO
/// texts sort as times).
fn expires_in(at: &Value, secs: i64) -> bool {
    let now = chat::clock::now_ms();
    let at = at.as_str().unwrap_or_default();
    chat::clock::iso(now + (secs - 15) * 1000).as_str() <= at && at <= chat::clock::iso(now + secs * 1000).as_str()
}

async fn a_disappearing_conversation_hides_its_expired_messages_everywhere(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let kept = sent(&gw, &alice, &bob.id, "before the timer").await;
    assert!(kept.get("expiresAt").is_none(), "{kept}");
    let conv = kept["conversationId"].as_str().unwrap().to_owned();
    let (_, sync) = gw.get("/api/sync", &bob.token).await;
    let token = sync["data"]["token"].as_str().unwrap().to_owned();

    // Either member of a direct conversation sets its lifetime.
    let (status, set) = policy(&gw, &bob, &conv, json!({ "messageLifetimeSeconds": 3600 })).await;
    assert_eq!((status, set["data"]["messageLifetimeSeconds"].as_i64()), (StatusCode::OK, Some(3600)), "{set}");
    let gone = sent(&gw, &alice, &bob.id, "this will vanish").await;
    assert!(expires_in(&gone["expiresAt"], 3600), "{gone}");
    let gone_id = gone["id"].as_str().unwrap().to_owned();
    let reply = gw
        .post("/api/messages", &bob.token, json!({ "receiverId": conv, "content": "a reply", "parentId": kept["id"] }))
        .await;
    assert_eq!(reply.0, StatusCode::CREATED, "{}", reply.1);
    let reply_id = reply.1["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(texts(&gw, &bob, &conv).await, ["before the timer", "this will vanish"]);

    // An hour later.
    expire(&gw, &conv, &gone_id).await;
    expire(&gw, &conv, &reply_id).await;
    assert_eq!(texts(&gw, &bob, &conv).await, ["before the timer"], "history");
    let (_, thread) = gw.get(format!("/api/messages/{}/replies", kept["id"].as_str().unwrap()), &bob.token).await;
    assert_eq!(thread["data"], json!([]), "threads: {thread}");
    let (_, after) = gw.get(format!("/api/messages/{conv}?after={}", kept["id"].as_str().unwrap()), &bob.token).await;
    assert_eq!(after["data"], json!([]), "catch-up: {after}");
    let (_, list) = gw.get("/api/conversations", &bob.token).await;
    assert!(list["data"][0]["lastMessage"].is_null(), "conversation list: {list}");
    let (_, synced) = gw.get(format!("/api/sync?since={token}"), &bob.token).await;
    let shown: Vec<&Value> =
        synced["data"]["changes"].as_array().unwrap().iter().filter(|c| c["type"] == "message").collect();
    assert!(shown.is_empty(), "sync: {synced}");
    let edit = gw
        .call(Method::PATCH, format!("/api/messages/{gone_id}"), Some(&alice.token), Some(json!({ "text": "x" })))
        .await;
    assert_eq!(edit.0, StatusCode::NOT_FOUND, "an expired message is gone for every route");
    let pin =
        gw.call(Method::POST, format!("/api/conversations/{conv}/pins/{gone_id}"), Some(&alice.token), None).await;
    assert_eq!(pin.0, StatusCode::NOT_FOUND);

    // Off again: new messages stay.
    assert_eq!(policy(&gw, &alice, &conv, json!({ "messageLifetimeSeconds": 0 })).await.0, StatusCode::OK);
    assert!(sent(&gw, &alice, &bob.id, "kept again").await.get("expiresAt").is_none());
}

async fn global_retention_expires_every_message_and_a_shorter_lifetime_wins(store: Store) {
    let mut c = config(store);
    c.message_retention_secs = Some(86_400);
    let gw = Gateway::spawn(c, None).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let first = sent(&gw, &alice, &bob.id, "kept a day").await;
    assert!(expires_in(&first["expiresAt"], 86_400), "{first}");
    let conv = first["conversationId"].as_str().unwrap().to_owned();
    assert_eq!(policy(&gw, &alice, &conv, json!({ "messageLifetimeSeconds": 7200 })).await.0, StatusCode::OK);
    let second = sent(&gw, &alice, &bob.id, "kept two hours").await;
    assert!(expires_in(&second["expiresAt"], 7200), "{second}");
    expire(&gw, &conv, first["id"].as_str().unwrap()).await;
    assert_eq!(texts(&gw, &bob, &conv).await, ["kept two hours"]);
}
