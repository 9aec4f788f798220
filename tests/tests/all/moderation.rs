//! Safety and moderation (issue 17 part A): blocks, reports, their review, suspensions, group
//! and channel bans, the audit log; with the races the issue names (a block while a message is
//! in flight, two admins resolving one report) and the sockets (a suspended user's closes; no
//! typing between a blocker and the blocked).

use std::time::Duration;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};

both_stores!(
    a_blocked_user_cannot_message_the_blocker_and_gets_the_answer_of_any_refused_send,
    in_a_shared_group_the_blocker_gets_nothing_live_from_the_blocked_and_history_marks_them,
    the_blocked_users_reactions_receipts_and_edits_never_reach_the_blocker_and_sync_marks_their_messages,
    neither_a_blocker_nor_the_blocked_sees_the_other_typing_or_the_blockers_presence,
    every_send_in_flight_while_a_block_lands_is_either_stored_or_refused_and_later_ones_are_refused,
    a_report_reaches_the_admins_once_per_reporter_and_object_and_strangers_get_a_404,
    of_two_admins_resolving_one_report_exactly_one_wins_and_the_audit_log_has_one_entry,
    a_suspended_user_loses_their_socket_at_once_and_cannot_log_in,
    a_channel_owner_bans_a_spammer_who_cannot_rejoin_until_unbanned,
    resolving_a_report_can_delete_the_message_or_ban_its_sender_from_the_channel,
);

const QUIET: Duration = Duration::from_millis(700);

async fn block(gw: &Gateway, who: &User, whom: &User, blocking: bool) -> (StatusCode, Value) {
    let method = if blocking { Method::PUT } else { Method::DELETE };
    gw.call(method, format!("/api/users/{}/block", whom.id), Some(&who.token), None).await
}

async fn send(gw: &Gateway, from: &User, to: &str, text: &str) -> (StatusCode, Value) {
    gw.post("/api/messages", &from.token, json!({ "receiverId": to, "content": text })).await
}

async fn group(gw: &Gateway, owner: &User, kind: &str, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (status, g) = gw.post(format!("/api/{kind}"), &owner.token, json!({ "name": "room", "members": ids })).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    g["data"]["id"].as_str().unwrap().to_owned()
}

async fn a_blocked_user_cannot_message_the_blocker_and_gets_the_answer_of_any_refused_send(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (status, first) = send(&gw, &bob, &alice.id, "hi").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let conv = first["data"]["conversationId"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let (status, answer) = block(&gw, &alice, &bob, true).await;
        assert_eq!((status, answer["data"]["blocked"].as_bool()), (StatusCode::OK, Some(true)), "idempotent: {answer}");
    }
    let (_, blocks) = gw.get("/api/users/me/blocks", &alice.token).await;
    assert_eq!(blocks["data"][0]["userId"], bob.id.as_str());
    assert_eq!(blocks["data"].as_array().map(Vec::len), Some(1));
    let (_, none) = gw.get("/api/users/me/blocks", &bob.token).await;
    assert_eq!(none["data"], json!([]), "the blocked user is told nothing");

    let (by_user, refused) = send(&gw, &bob, &alice.id, "still there?").await;
    let (by_conv, again) = send(&gw, &bob, &conv, "hello?").await;
    let (back, blocker) = send(&gw, &alice, &bob.id, "one more thing").await;
    assert_eq!((by_user, by_conv, back), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
    assert_eq!(refused, again);
    assert_eq!(refused, blocker, "the same answer either way: it does not say who blocked whom");
    assert_eq!(refused["error"]["code"], "FORBIDDEN");
    let start = json!({ "participants": [bob.id, alice.id] });
    assert_eq!(gw.post("/api/conversations/start", &bob.token, start.clone()).await, (StatusCode::FORBIDDEN, refused));
    let mut ws = gw.connect(&bob).await;
    ws.send(json!({ "action": "sendMessage", "conversationId": conv, "text": "ws" })).await;
    assert_eq!(ws.event("error").await["code"], "FORBIDDEN");
    let (_, history) = gw.get(format!("/api/messages/{conv}"), &alice.token).await;
    assert_eq!(history["data"].as_array().map(Vec::len), Some(1), "nothing refused was stored: {history}");

    assert_eq!(block(&gw, &alice, &bob, false).await.0, StatusCode::OK);
    assert_eq!(block(&gw, &alice, &bob, false).await.0, StatusCode::OK, "unblocking twice is harmless");
    assert_eq!(send(&gw, &bob, &alice.id, "friends again").await.0, StatusCode::CREATED);
    assert_eq!(gw.post("/api/conversations/start", &bob.token, start).await.0, StatusCode::OK);
    // Blocking oneself or a user no one has.
    assert_eq!(block(&gw, &alice, &alice, true).await.0, StatusCode::FORBIDDEN);
    let ghost = User { id: format!("usr_{}", ulid::Ulid::generate()), ..bob.clone() };
    assert_eq!(block(&gw, &alice, &ghost, true).await.0, StatusCode::NOT_FOUND);
    let bad = gw.call(Method::PUT, "/api/users/not-an-id/block", Some(&alice.token), None).await.0;
    assert_eq!(bad, StatusCode::NOT_FOUND);
}

async fn in_a_shared_group_the_blocker_gets_nothing_live_from_the_blocked_and_history_marks_them(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let g = group(&gw, &carol, "groups", &[&alice, &bob]).await;
    assert_eq!(block(&gw, &alice, &bob, true).await.0, StatusCode::OK);
    let (mut alice_ws, mut carol_ws) = (gw.connect(&alice).await, gw.connect(&carol).await);
    let (status, sent) = send(&gw, &bob, &g, &format!("hey @{}", alice.username)).await;
    assert_eq!(status, StatusCode::CREATED, "the blocked user still talks in the group: {sent}");
    assert_eq!(carol_ws.event("chatMessage").await["message"]["text"], sent["data"]["text"]);
    assert!(alice_ws.try_event("chatMessage", QUIET).await.is_none(), "no live message from the blocked user");
    let (_, notes) = gw.get("/api/notifications", &alice.token).await;
    assert!(
        !notes["data"].as_array().unwrap().iter().any(|n| n["type"] == "mention"),
        "no mention from the blocked user: {notes}"
    );
    assert_eq!(send(&gw, &carol, &g, "and me").await.0, StatusCode::CREATED);
    assert_eq!(alice_ws.event("chatMessage").await["message"]["text"], "and me");
    let marks = |page: &Value| -> Vec<(String, bool)> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["text"].as_str().unwrap().to_owned(), m["senderBlocked"].as_bool().unwrap_or(false)))
            .collect()
    };
    let text = sent["data"]["text"].as_str().unwrap().to_owned();
    let (_, mine) = gw.get(format!("/api/messages/{g}"), &alice.token).await;
    assert_eq!(marks(&mine), [(text.clone(), true), ("and me".to_owned(), false)]);
    let (_, theirs) = gw.get(format!("/api/messages/{g}"), &carol.token).await;
    assert_eq!(marks(&theirs), [(text, false), ("and me".to_owned(), false)], "a mark for the blocker only");
    // Thread replies too.
    let root = sent["data"]["id"].as_str().unwrap().to_owned();
    let reply = json!({ "receiverId": g, "content": "in thread", "parentId": root });
    assert_eq!(gw.post("/api/messages", &bob.token, reply).await.0, StatusCode::CREATED);
    let (_, thread) = gw.get(format!("/api/messages/{root}/replies"), &alice.token).await;
    assert_eq!(marks(&thread), [("in thread".to_owned(), true)]);
    let (_, thread) = gw.get(format!("/api/messages/{root}/replies"), &carol.token).await;
    assert_eq!(marks(&thread), [("in thread".to_owned(), false)]);
}

async fn the_blocked_users_reactions_receipts_and_edits_never_reach_the_blocker_and_sync_marks_their_messages(
    store: Store,
) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let g = group(&gw, &carol, "groups", &[&alice, &bob]).await;
    assert_eq!(block(&gw, &alice, &bob, true).await.0, StatusCode::OK);
    let mut tokens = Vec::new();
    for who in [&alice, &carol] {
        let (_, synced) = gw.get("/api/sync", &who.token).await;
        tokens.push(synced["data"]["token"].as_str().expect("a sync token").to_owned());
    }
    let (_, carols) = send(&gw, &carol, &g, "from carol").await;
    let (_, bobs) = send(&gw, &bob, &g, "from bob").await;
    let (carols, bobs) = (carols["data"]["id"].as_str().unwrap(), bobs["data"]["id"].as_str().unwrap());
    let (mut alice_ws, mut carol_ws) = (gw.connect(&alice).await, gw.connect(&carol).await);

    let (status, _) =
        gw.call(Method::PUT, format!("/api/messages/{carols}/reactions/%F0%9F%91%8D"), Some(&bob.token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(carol_ws.event("reactionAdded").await["userId"], bob.id.as_str());
    assert!(alice_ws.try_event("reactionAdded", QUIET).await.is_none(), "no reaction of the blocked user");

    let (status, _) = gw.post(format!("/api/conversations/{g}/read"), &bob.token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(carol_ws.event("messagesRead").await["userId"], bob.id.as_str());
    assert!(alice_ws.try_event("messagesRead", QUIET).await.is_none(), "no read receipt of the blocked user");

    let edit = Some(json!({ "text": "from bob, edited" }));
    let (status, _) = gw.call(Method::PATCH, format!("/api/messages/{bobs}"), Some(&bob.token), edit).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(carol_ws.event("messageEdited").await["message"]["text"], "from bob, edited");
    assert!(alice_ws.try_event("messageEdited", QUIET).await.is_none(), "no edit of the blocked user");

    // The sync marks the blocked user's messages as history does, for the blocker only.
    let marked = |who: &User, since: &str| {
        let (gw, path, token) = (&gw, format!("/api/sync?since={since}"), who.token.clone());
        async move {
            let (status, page) = gw.get(path, &token).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let mut marks: Vec<(String, String, bool)> = page["data"]["changes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["type"] == "message" || c["type"] == "messageEdited")
                .map(|c| {
                    let m = &c["message"];
                    let blocked = m["senderBlocked"].as_bool().unwrap_or(false);
                    (c["type"].as_str().unwrap().to_owned(), m["text"].as_str().unwrap().to_owned(), blocked)
                })
                .collect();
            marks.sort();
            marks
        }
    };
    let change = |t: &str, text: &str, blocked: bool| (t.to_owned(), text.to_owned(), blocked);
    assert_eq!(
        marked(&alice, &tokens[0]).await,
        [
            change("message", "from bob, edited", true),
            change("message", "from carol", false),
            change("messageEdited", "from bob, edited", true)
        ]
    );
    assert_eq!(
        marked(&carol, &tokens[1]).await,
        [
            change("message", "from bob, edited", false),
            change("message", "from carol", false),
            change("messageEdited", "from bob, edited", false)
        ]
    );
}

async fn neither_a_blocker_nor_the_blocked_sees_the_other_typing_or_the_blockers_presence(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let g = group(&gw, &carol, "groups", &[&alice, &bob]).await;
    let (mut alice_ws, mut bob_ws, mut carol_ws) =
        (gw.connect(&alice).await, gw.connect(&bob).await, gw.connect(&carol).await);
    for ws in [&mut alice_ws, &mut bob_ws, &mut carol_ws] {
        ws.send(json!({ "action": "joinConversation", "conversationId": g })).await;
    }
    gw.wait_room(&g, 3).await;
    // Blocked while the sockets are open: the next frames already follow it.
    assert_eq!(block(&gw, &alice, &bob, true).await.0, StatusCode::OK);
    for ws in [&mut alice_ws, &mut bob_ws, &mut carol_ws] {
        ws.drain(Duration::from_millis(200)).await;
    }
    bob_ws.send(json!({ "action": "typing", "conversationId": g, "isTyping": true })).await;
    assert_eq!(carol_ws.event("typingStatus").await["userId"], bob.id.as_str());
    assert!(alice_ws.try_event("typingStatus", QUIET).await.is_none(), "the blocker does not see the blocked typing");
    alice_ws.send(json!({ "action": "typing", "conversationId": g, "isTyping": true })).await;
    assert_eq!(carol_ws.event("typingStatus").await["userId"], alice.id.as_str());
    assert!(bob_ws.try_event("typingStatus", QUIET).await.is_none(), "the blocked does not see the blocker typing");

    alice_ws.send(json!({ "action": "setStatus", "status": "away" })).await;
    assert_eq!(carol_ws.event("presence").await["userId"], alice.id.as_str());
    let seen_by_bob = bob_ws.try_event("presence", QUIET).await;
    assert!(seen_by_bob.is_none_or(|p| p["userId"] != alice.id.as_str()), "no presence of the blocker");
    let (_, status) = gw.get(format!("/api/status/{}", alice.id), &bob.token).await;
    assert_eq!(
        (status["data"]["online"].as_bool(), status["data"]["status"].as_str(), status["data"]["lastSeen"].as_null()),
        (Some(false), Some("offline"), Some(())),
        "the blocker shows to the blocked as never connected: {status}"
    );
    let (_, status) = gw.get(format!("/api/status/{}", alice.id), &carol.token).await;
    assert_eq!(status["data"]["status"], "away");
}

async fn every_send_in_flight_while_a_block_lands_is_either_stored_or_refused_and_later_ones_are_refused(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (_, first) = send(&gw, &bob, &alice.id, "first").await;
    let conv = first["data"]["conversationId"].as_str().unwrap().to_owned();
    let sends = join_all((0..12).map(|i| {
        let (gw, bob, alice) = (&gw, &bob, &alice);
        async move { send(gw, bob, &alice.id, &format!("m{i}")).await.0 }
    }));
    let (statuses, blocked) = tokio::join!(sends, block(&gw, &alice, &bob, true));
    assert_eq!(blocked.0, StatusCode::OK);
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN),
        "stored or refused, nothing else: {statuses:?}"
    );
    let stored = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let (_, history) = gw.get(format!("/api/messages/{conv}?limit=100"), &alice.token).await;
    assert_eq!(history["data"].as_array().map(Vec::len), Some(1 + stored), "every 201 stored, every 403 not");
    assert_eq!(
        send(&gw, &bob, &alice.id, "after").await.0,
        StatusCode::FORBIDDEN,
        "the block holds from its answer on"
    );
}

async fn report(gw: &Gateway, who: &User, path: &str, body: Value) -> (StatusCode, Value) {
    gw.post(path, &who.token, body).await
}

async fn a_report_reaches_the_admins_once_per_reporter_and_object_and_strangers_get_a_404(store: Store) {
    let gw = Gateway::start(store).await;
    let admin = gw.admin("mod").await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let mut admin_ws = gw.connect(&admin).await;
    let (_, sent) = send(&gw, &bob, &alice.id, "you are awful").await;
    let msg = sent["data"]["id"].as_str().unwrap().to_owned();
    let on_message = format!("/api/messages/{msg}/reports");
    let (status, r) = report(&gw, &alice, &on_message, json!({ "reason": "harassment", "note": "again" })).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(
        (r["data"]["userId"].as_str(), r["data"]["status"].as_str(), r["data"]["reporterId"].as_str()),
        (Some(bob.id.as_str()), Some("open"), Some(alice.id.as_str()))
    );
    let event = admin_ws.event("report").await;
    assert_eq!((event["id"].clone(), event["messageId"].as_str()), (r["data"]["id"].clone(), Some(msg.as_str())));
    let (status, again) = report(&gw, &alice, &on_message, json!({ "reason": "spam" })).await;
    assert_eq!((status, again["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("CONFLICT")));
    // A stranger gets the answer of a message that does not exist.
    let missing = format!("/api/messages/msg_{}/reports", ulid::Ulid::generate());
    let (stranger, missing) = tokio::join!(
        report(&gw, &eve, &on_message, json!({ "reason": "spam" })),
        report(&gw, &eve, &missing, json!({ "reason": "spam" })),
    );
    assert_eq!(stranger, missing);
    assert_eq!(stranger.0, StatusCode::NOT_FOUND);
    for bad in
        [json!({ "reason": "boring" }), json!({ "reason": "spam", "note": "" }), json!({ "reason": "spam", "x": 1 })]
    {
        assert_eq!(
            report(&gw, &alice, &format!("/api/users/{}/reports", bob.id), bad).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(report(&gw, &bob, &on_message, json!({ "reason": "spam" })).await.0, StatusCode::FORBIDDEN, "one's own");
    // Two reports of one user at once: one is stored.
    let on_user = format!("/api/users/{}/reports", bob.id);
    let twice = join_all((0..4).map(|_| report(&gw, &eve, &on_user, json!({ "reason": "spam" })))).await;
    let codes: Vec<StatusCode> = twice.iter().map(|(s, _)| *s).collect();
    assert_eq!(codes.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{codes:?}");

    assert_eq!(gw.get("/api/reports?status=open", &alice.token).await.0, StatusCode::FORBIDDEN);
    let (status, page) = gw.get("/api/reports?status=open&limit=1", &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"][0]["id"], r["data"]["id"], "oldest first");
    let cursor = page["nextCursor"].as_str().expect("a second page").to_owned();
    let (_, next) = gw.get(format!("/api/reports?status=open&limit=1&cursor={cursor}"), &admin.token).await;
    assert_eq!(next["data"][0]["userId"], bob.id.as_str());
    assert_eq!(next["data"][0]["messageId"], Value::Null);
    assert_eq!(gw.get("/api/reports?status=closed", &admin.token).await.0, StatusCode::BAD_REQUEST);
}

async fn of_two_admins_resolving_one_report_exactly_one_wins_and_the_audit_log_has_one_entry(store: Store) {
    let gw = Gateway::start(store).await;
    let (first, second) = (gw.admin("mod-a").await, gw.admin("mod-b").await);
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (_, r) = report(&gw, &alice, &format!("/api/users/{}/reports", bob.id), json!({ "reason": "other" })).await;
    let id = r["data"]["id"].as_str().unwrap().to_owned();
    let resolve = |who: &User| {
        let path = format!("/api/reports/{id}/resolve");
        let token = who.token.clone();
        let gw = &gw;
        async move { gw.post(path, &token, json!({ "action": "dismiss" })).await }
    };
    let (a, b) = tokio::join!(resolve(&first), resolve(&second));
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(codes, [StatusCode::OK, StatusCode::CONFLICT], "{a:?} {b:?}");
    let winner = if a.0 == StatusCode::OK { &a.1 } else { &b.1 };
    assert_eq!(winner["data"]["status"], "resolved");
    let (_, audit) = gw.get("/api/audit", &first.token).await;
    let entries: Vec<&Value> =
        audit["data"].as_array().unwrap().iter().filter(|e| e["reportId"] == id.as_str()).collect();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(
        (entries[0]["action"].as_str(), entries[0]["actorId"].clone()),
        (Some("report_dismissed"), winner["data"]["resolvedBy"].clone())
    );
    assert!(entries[0]["at"].is_string());
    let (_, open) = gw.get("/api/reports", &first.token).await;
    assert_eq!(open["data"], json!([]), "no longer open");
    let (_, resolved) = gw.get("/api/reports?status=resolved", &first.token).await;
    assert_eq!(resolved["data"][0]["id"], id.as_str());
    // Resolved, the reporter may report again; the audit log is the admins'.
    let again = report(&gw, &alice, &format!("/api/users/{}/reports", bob.id), json!({ "reason": "spam" })).await;
    assert_eq!(again.0, StatusCode::CREATED);
    assert_eq!(gw.get("/api/audit", &alice.token).await.0, StatusCode::FORBIDDEN);
    let bad = json!({ "action": "dismiss", "until": "2100-01-01T00:00:00Z" });
    let path = format!("/api/reports/{}/resolve", again.1["data"]["id"].as_str().unwrap());
    assert_eq!(gw.post(&path, &first.token, bad).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(gw.post(&path, &alice.token, json!({ "action": "dismiss" })).await.0, StatusCode::FORBIDDEN);
    let missing = format!("/api/reports/rpt_{}/resolve", ulid::Ulid::generate());
    assert_eq!(gw.post(missing, &first.token, json!({ "action": "dismiss" })).await.0, StatusCode::NOT_FOUND);
}

async fn a_suspended_user_loses_their_socket_at_once_and_cannot_log_in(store: Store) {
    let gw = Gateway::start(store).await;
    let admin = gw.admin("mod").await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut bob_ws = gw.connect(&bob).await;
    gw.wait_connections(&bob, 1).await;
    let (_, r) = report(&gw, &alice, &format!("/api/users/{}/reports", bob.id), json!({ "reason": "hate" })).await;
    let path = format!("/api/reports/{}/resolve", r["data"]["id"].as_str().unwrap());
    let past = json!({ "action": "suspend_user", "until": "2001-01-01T00:00:00Z" });
    assert_eq!(gw.post(&path, &admin.token, past).await.0, StatusCode::BAD_REQUEST, "an end in the past");
    let until = "2100-01-01T00:00:00Z";
    let (status, done) = gw.post(&path, &admin.token, json!({ "action": "suspend_user", "until": until })).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(bob_ws.closed(Duration::from_secs(5)).await, "the suspended user's socket closes at once");
    assert_eq!(gw.get("/api/users/me", &bob.token).await.0, StatusCode::UNAUTHORIZED, "every token revoked");
    let creds = json!({ "username": bob.username, "password": "correct horse battery" });
    let (status, refused) = gw.post_anon("/api/users/login", creds.clone()).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str(), refused["error"]["details"]["until"].as_str()),
        (StatusCode::FORBIDDEN, Some("ACCOUNT_SUSPENDED"), Some("2100-01-01T00:00:00.000Z"))
    );
    let wrong = json!({ "username": bob.username, "password": "not the password" });
    assert_eq!(gw.post_anon("/api/users/login", wrong).await.0, StatusCode::UNAUTHORIZED, "only the password tells");
    let (_, audit) = gw.get("/api/audit?limit=1", &admin.token).await;
    assert_eq!(
        (
            audit["data"][0]["action"].as_str(),
            audit["data"][0]["userId"].as_str(),
            audit["data"][0]["actorId"].as_str()
        ),
        (Some("user_suspended"), Some(bob.id.as_str()), Some(admin.id.as_str()))
    );
    // For good: no end.
    let (_, r) = report(&gw, &bob, &format!("/api/users/{}/reports", alice.id), json!({ "reason": "spam" })).await;
    assert_eq!(r["error"]["code"], "UNAUTHORIZED", "a suspended user acts no more");
    let (_, r) = report(&gw, &admin, &format!("/api/users/{}/reports", alice.id), json!({ "reason": "spam" })).await;
    let path = format!("/api/reports/{}/resolve", r["data"]["id"].as_str().unwrap());
    assert_eq!(gw.post(&path, &admin.token, json!({ "action": "suspend_user" })).await.0, StatusCode::OK);
    let creds = json!({ "username": alice.username, "password": "correct horse battery" });
    let (status, refused) = gw.post_anon("/api/users/login", creds.clone()).await;
    assert_eq!((status, refused["error"]["details"]["until"].clone()), (StatusCode::FORBIDDEN, Value::Null));

    // Lifted early by an admin (audited): she logs in again; lifting again changes nothing.
    let lift = format!("/api/users/{}/suspension", alice.id);
    assert_eq!(gw.call(Method::DELETE, &lift, Some(&bob.token), None).await.0, StatusCode::UNAUTHORIZED);
    let (status, lifted) = gw.call(Method::DELETE, &lift, Some(&admin.token), None).await;
    assert_eq!((status, lifted["data"]["suspended"].clone()), (StatusCode::OK, json!(false)), "{lifted}");
    assert_eq!(gw.post_anon("/api/users/login", creds).await.0, StatusCode::OK);
    assert_eq!(gw.call(Method::DELETE, &lift, Some(&admin.token), None).await.0, StatusCode::OK);
    let (_, audit) = gw.get("/api/audit?limit=2", &admin.token).await;
    let actions: Vec<_> = audit["data"].as_array().into_iter().flatten().map(|e| e["action"].clone()).collect();
    assert_eq!(actions, [json!("suspension_lifted"), json!("user_suspended")], "one entry per lift that lifted");
    let missing = format!("/api/users/usr_{}/suspension", ulid::Ulid::generate());
    assert_eq!(gw.call(Method::DELETE, &missing, Some(&admin.token), None).await.0, StatusCode::NOT_FOUND);
}

async fn ban(gw: &Gateway, who: &User, kind: &str, g: &str, whom: &User, banning: bool) -> (StatusCode, Value) {
    let method = if banning { Method::PUT } else { Method::DELETE };
    gw.call(method, format!("/api/{kind}/{g}/bans/{}", whom.id), Some(&who.token), None).await
}

async fn a_channel_owner_bans_a_spammer_who_cannot_rejoin_until_unbanned(store: Store) {
    let gw = Gateway::start(store).await;
    let admin = gw.admin("mod").await;
    let (owner, spammer, member) = (gw.user("owner").await, gw.user("spammer").await, gw.user("member").await);
    let ch = group(&gw, &owner, "channels", &[&spammer, &member]).await;
    let mut spammer_ws = gw.connect(&spammer).await;
    assert_eq!(ban(&gw, &member, "channels", &ch, &spammer, true).await.0, StatusCode::FORBIDDEN, "a plain member");
    assert_eq!(ban(&gw, &owner, "channels", &ch, &owner, true).await.0, StatusCode::FORBIDDEN, "oneself");
    for _ in 0..2 {
        let (status, b) = ban(&gw, &owner, "channels", &ch, &spammer, true).await;
        assert_eq!((status, b["data"]["banned"].as_bool()), (StatusCode::OK, Some(true)), "idempotent: {b}");
    }
    let removed = spammer_ws.event("membership").await;
    assert_eq!((removed["action"].as_str(), removed["userId"].as_str()), (Some("removed"), Some(spammer.id.as_str())));
    let join = json!({ "memberId": spammer.id });
    let rejoin = gw.put(format!("/api/channels/{ch}/members"), &spammer.token, join.clone()).await;
    assert_eq!(rejoin.0, StatusCode::FORBIDDEN, "{rejoin:?}");
    assert_eq!(
        gw.put(format!("/api/channels/{ch}/members"), &owner.token, join.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(&gw, &spammer, &ch, "buy now").await.0, StatusCode::FORBIDDEN);
    let (_, view) = gw.get(format!("/api/channels/{ch}"), &owner.token).await;
    assert!(!view["data"]["members"].as_array().unwrap().iter().any(|m| m["id"] == spammer.id.as_str()));
    // A system admin may lift it; the user then joins on their own.
    assert_eq!(ban(&gw, &admin, "channels", &ch, &spammer, false).await.0, StatusCode::OK);
    assert_eq!(gw.put(format!("/api/channels/{ch}/members"), &spammer.token, join).await.0, StatusCode::OK);
    let (_, audit) = gw.get("/api/audit", &admin.token).await;
    let actions: Vec<(&str, &str)> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actorId"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [("user_unbanned", admin.id.as_str()), ("user_banned", owner.id.as_str())],
        "newest first, once each"
    );
    // Groups share the model; a private group's ban is a 404 to strangers.
    let g = group(&gw, &owner, "groups", &[&member]).await;
    assert_eq!(ban(&gw, &spammer, "groups", &g, &member, true).await.0, StatusCode::NOT_FOUND);
    assert_eq!(ban(&gw, &owner, "groups", &g, &member, true).await.0, StatusCode::OK);
    assert_eq!(ban(&gw, &owner, "channels", &g, &member, true).await.0, StatusCode::NOT_FOUND, "not a channel");
}

async fn resolving_a_report_can_delete_the_message_or_ban_its_sender_from_the_channel(store: Store) {
    let gw = Gateway::start(store).await;
    let admin = gw.admin("mod").await;
    let (owner, spammer) = (gw.user("owner").await, gw.user("spammer").await);
    let ch = group(&gw, &owner, "channels", &[&spammer]).await;
    let mut owner_ws = gw.connect(&owner).await;
    let (_, first) = send(&gw, &spammer, &ch, "buy now").await;
    let (_, second) = send(&gw, &spammer, &ch, "buy more").await;
    let mut reports = Vec::new();
    for m in [&first, &second] {
        let path = format!("/api/messages/{}/reports", m["data"]["id"].as_str().unwrap());
        let (status, r) = report(&gw, &owner, &path, json!({ "reason": "spam" })).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        reports.push(format!("/api/reports/{}/resolve", r["data"]["id"].as_str().unwrap()));
    }
    owner_ws.drain(Duration::from_millis(200)).await;
    let (status, done) = gw.post(&reports[0], &admin.token, json!({ "action": "delete_message" })).await;
    assert_eq!((status, done["data"]["resolution"].as_str()), (StatusCode::OK, Some("delete_message")));
    assert_eq!(owner_ws.event("messageDeleted").await["messageId"], first["data"]["id"]);
    let (status, done) = gw.post(&reports[1], &admin.token, json!({ "action": "ban_from_channel" })).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(owner_ws.event("membership").await["userId"], spammer.id.as_str());
    let join = json!({ "memberId": spammer.id });
    assert_eq!(gw.put(format!("/api/channels/{ch}/members"), &spammer.token, join).await.0, StatusCode::FORBIDDEN);
    let (_, history) = gw.get(format!("/api/messages/{ch}"), &owner.token).await;
    assert_eq!(history["data"][0]["deleted"], true);
    let (_, audit) = gw.get("/api/audit", &admin.token).await;
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["user_banned", "message_deleted"]);
    // A report of a user has no message to delete, nor a channel.
    let (_, r) = report(&gw, &owner, &format!("/api/users/{}/reports", spammer.id), json!({ "reason": "spam" })).await;
    let path = format!("/api/reports/{}/resolve", r["data"]["id"].as_str().unwrap());
    for action in ["delete_message", "ban_from_channel"] {
        assert_eq!(gw.post(&path, &admin.token, json!({ "action": action })).await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(gw.post(&path, &admin.token, json!({ "action": "shout" })).await.0, StatusCode::BAD_REQUEST);
}
