//! Issue 3's surface end to end, on both stores: groups and channels, fan-out that scales,
//! status and presence, notifications, rooms, seed 001's routes and the users directory.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, counted, Gateway, Store, User};

both_stores!(
    a_group_gets_messages_from_every_send_form_live_and_in_history,
    removing_a_member_takes_their_access_away_at_once,
    channels_are_public_and_anyone_may_join_or_leave_them,
    group_routes_follow_the_access_matrix,
    a_message_to_300_members_costs_a_batch_read_per_100_and_survives_gone_connections,
    status_changes_reach_contacts_and_busy_users_catch_up_when_back,
    notifications_are_sent_listed_and_marked_read,
    typing_reaches_only_the_connections_viewing_the_conversation,
    seed_001_routes_create_log_in_and_chat,
    the_users_directory_shows_others_public_fields_and_admins_everything,
);

async fn group(gw: &Gateway, owner: &User, members: Value) -> String {
    let (status, g) = gw.post("/api/groups", &owner.token, json!({ "name": "Team", "members": members })).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    g["data"]["id"].as_str().unwrap().to_owned()
}

async fn a_group_gets_messages_from_every_send_form_live_and_in_history(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, ann, ben) = (gw.user("owner").await, gw.user("ann").await, gw.user("ben").await);
    let mut ann_ws = gw.connect(&ann).await;
    // Members by id and by username.
    let gid = group(&gw, &owner, json!([ann.id, ben.username])).await;
    // The membership event and the notification go out concurrently: take them in either order.
    let seen = ann_ws.events(&["membership", "notification"]).await;
    let added = &seen["membership"];
    assert_eq!((added["conversationId"].as_str(), added["action"].as_str()), (Some(gid.as_str()), Some("added")));
    assert_eq!(seen["notification"]["type"], "addedToGroup");
    let mut ben_ws = gw.connect(&ben).await;

    let (status, _) =
        gw.post("/api/messages", &owner.token, json!({ "receiverId": gid, "content": "over REST" })).await;
    assert_eq!(status, StatusCode::CREATED);
    for ws in [&mut ann_ws, &mut ben_ws] {
        let ev = ws.event("chatMessage").await;
        assert_eq!(
            (ev["message"]["text"].as_str(), ev["conversationType"].as_str()),
            (Some("over REST"), Some("group"))
        );
    }
    ann_ws.send(json!({ "action": "sendMessage", "conversationId": gid, "text": "over WS" })).await;
    ann_ws.event("messageReceived").await;
    assert_eq!(ben_ws.event("chatMessage").await["message"]["text"], "over WS");

    let (_, history) = gw.get(&format!("/api/messages/{gid}"), &ben.token).await;
    let texts: Vec<_> = history["data"].as_array().unwrap().iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, [json!("over REST"), json!("over WS")]);
    let (_, mine) = gw.get("/api/groups", &ben.token).await;
    let g = &mine["data"].as_array().unwrap().iter().find(|g| g["id"] == gid.as_str()).cloned().unwrap();
    assert_eq!(g["unreadCount"], 2);
    let (_, details) = gw.get(&format!("/api/groups/{gid}"), &ann.token).await;
    assert_eq!(details["data"]["memberCount"], 3);
    let roles: Vec<_> =
        details["data"]["members"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap().to_owned()).collect();
    assert_eq!(roles.iter().filter(|r| *r == "owner").count(), 1);
}

async fn removing_a_member_takes_their_access_away_at_once(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, ann, ben) = (gw.user("owner").await, gw.user("ann").await, gw.user("ben").await);
    let gid = group(&gw, &owner, json!([ann.id, ben.id])).await;
    let mut ben_ws = gw.connect(&ben).await;
    let mut ann_ws = gw.connect(&ann).await;
    let (status, res) = gw
        .put(format!("/api/groups/{gid}/members"), &owner.token, json!({ "memberId": ben.id, "action": "remove" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{res}");
    assert_eq!(res["data"]["memberCount"], 2);
    assert_eq!(ben_ws.event("membership").await["action"], "removed");
    assert_eq!(ann_ws.event("membership").await["userId"], ben.id.as_str());
    // Reads, sends and live events: all gone (as for any non-member: the group is not found).
    assert_eq!(gw.get(&format!("/api/messages/{gid}"), &ben.token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        gw.post("/api/messages", &ben.token, json!({ "receiverId": gid, "content": "still here?" })).await.0,
        StatusCode::NOT_FOUND
    );
    gw.post("/api/messages", &owner.token, json!({ "receiverId": gid, "content": "after removal" })).await;
    assert_eq!(ann_ws.event("chatMessage").await["message"]["text"], "after removal");
    assert!(ben_ws.try_event("chatMessage", Duration::from_millis(500)).await.is_none());
    // A member may leave on their own; a member may not remove others.
    let (status, _) = gw
        .put(format!("/api/groups/{gid}/members"), &ann.token, json!({ "memberId": owner.id, "action": "remove" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = gw
        .put(format!("/api/groups/{gid}/members"), &ann.token, json!({ "memberId": ann.id, "action": "remove" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gw.get(&format!("/api/groups/{gid}"), &ann.token).await.0, StatusCode::NOT_FOUND);
}

async fn channels_are_public_and_anyone_may_join_or_leave_them(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, walker) = (gw.user("owner").await, gw.user("walker").await);
    let (status, ch) = gw.post("/api/channels", &owner.token, json!({ "name": "general" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let cid = ch["data"]["id"].as_str().unwrap().to_owned();
    let (_, found) = gw.get("/api/channels?discover=true", &walker.token).await;
    assert!(found["data"].as_array().unwrap().iter().any(|c| c["id"] == cid.as_str() && c["isMember"] == false));
    let (status, details) = gw.get(&format!("/api/channels/{cid}"), &walker.token).await;
    assert_eq!((status, details["data"]["isMember"].clone()), (StatusCode::OK, json!(false)));
    assert_eq!(gw.get(&format!("/api/messages/{cid}"), &walker.token).await.0, StatusCode::FORBIDDEN, "join first");
    let join = json!({ "memberId": walker.id });
    let (status, _) = gw.put(format!("/api/channels/{cid}/members"), &walker.token, join).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        gw.post("/api/messages", &walker.token, json!({ "receiverId": cid, "content": "hi all" })).await.0,
        StatusCode::CREATED
    );
    let (_, mine) = gw.get("/api/channels", &walker.token).await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    // A group is not a channel: it cannot be joined, nor seen, by a stranger.
    let gid = group(&gw, &owner, json!([])).await;
    let (status, _) =
        gw.put(format!("/api/groups/{gid}/members"), &walker.token, json!({ "memberId": walker.id })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gw.get(&format!("/api/channels/{gid}"), &owner.token).await.0, StatusCode::NOT_FOUND);
    let leave = json!({ "memberId": walker.id, "action": "remove" });
    let (status, _) = gw.put(format!("/api/channels/{cid}/members"), &walker.token, leave).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        gw.post("/api/messages", &walker.token, json!({ "receiverId": cid, "content": "bye" })).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn group_routes_follow_the_access_matrix(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, member, helper, stranger, extra) = (
        gw.user("owner").await,
        gw.user("member").await,
        gw.user("helper").await,
        gw.user("stranger").await,
        gw.user("extra").await,
    );
    let admin = gw.admin("admin").await.token;
    let gid = group(&gw, &owner, json!([member.id, helper.id])).await;
    let promote = json!({ "memberId": helper.id, "action": "promote" });
    let (status, _) = gw.put(format!("/api/groups/{gid}/members"), &owner.token, promote).await;
    assert_eq!(status, StatusCode::OK);
    let add = |who: &User| json!({ "memberId": who.id });
    // (caller, method, path, body, expected)
    let members = format!("/api/groups/{gid}/members");
    let cases: Vec<(Option<&str>, Method, String, Option<Value>, u16)> = vec![
        (None, Method::GET, format!("/api/groups/{gid}"), None, 401),
        // A private group is invisible to a stranger: the 404 of a missing one (SPEC §7).
        (Some(&stranger.token), Method::GET, format!("/api/groups/{gid}"), None, 404),
        (Some(&member.token), Method::GET, format!("/api/groups/{gid}"), None, 200),
        (Some(&admin), Method::GET, format!("/api/groups/{gid}"), None, 200),
        (None, Method::PUT, members.clone(), Some(add(&extra)), 401),
        (Some(&stranger.token), Method::PUT, members.clone(), Some(add(&extra)), 404),
        (Some(&member.token), Method::PUT, members.clone(), Some(add(&extra)), 403),
        (Some(&helper.token), Method::PUT, members.clone(), Some(add(&extra)), 200),
        (Some(&admin), Method::PUT, members.clone(), Some(json!({ "memberId": extra.id, "action": "remove" })), 200),
        (
            Some(&member.token),
            Method::PUT,
            members.clone(),
            Some(json!({ "memberId": helper.id, "action": "demote" })),
            403,
        ),
        (
            Some(&helper.token),
            Method::PUT,
            members.clone(),
            Some(json!({ "memberId": owner.id, "action": "remove" })),
            409,
        ),
        (
            Some(&owner.token),
            Method::PUT,
            members.clone(),
            Some(json!({ "memberId": extra.id, "action": "kick" })),
            400,
        ),
        (Some(&stranger.token), Method::GET, format!("/api/messages/{gid}"), None, 404),
        (Some(&admin), Method::GET, format!("/api/messages/{gid}"), None, 200),
        (None, Method::POST, "/api/groups".into(), Some(json!({ "name": "x" })), 401),
        (Some(&stranger.token), Method::POST, "/api/groups".into(), Some(json!({ "name": "" })), 400),
        (
            Some(&stranger.token),
            Method::POST,
            "/api/groups".into(),
            Some(json!({ "name": "x", "members": ["no-such-user"] })),
            // Well-formed, naming a user no one is: 404 (README, decisions).
            404,
        ),
    ];
    for (token, method, path, body, expected) in cases {
        let (status, res) = gw.call(method.clone(), &path, token, body.clone()).await;
        assert_eq!(status.as_u16(), expected, "{method} {path} {body:?}: {res}");
    }
}

async fn a_message_to_300_members_costs_a_batch_read_per_100_and_survives_gone_connections(store: Store) {
    let (gw, table) = counted(store).await;
    let owner = gw.user("owner").await;
    // Members are created straight in the store: 300 argon2 hashes would only test argon2.
    let mut ids = Vec::new();
    for i in 0..300 {
        let name = crate::support::unique_username(&format!("m{i}-"));
        let user = chat::models::User::new(&name, "unused".into(), chat::models::Role::User, &chat::clock::iso(0));
        chat::repo::users::create(gw.app().table(), &user).await.unwrap();
        ids.push(user.id);
    }
    let gid = group(&gw, &owner, json!(ids)).await;
    // 20 live sockets (tokens issued directly), and 30 connections API Gateway no longer has.
    let mut sockets = Vec::new();
    for id in ids.iter().take(20) {
        let user = chat::repo::users::get(gw.app().table(), id).await.unwrap().unwrap();
        let (token, _) = gw.app().tokens.issue(&user).unwrap();
        sockets.push(gw.connect_token(&token).await);
    }
    for id in ids.iter().skip(20).take(30) {
        crate::harness::ghost_connection(gw.app().table(), id, &format!("Ghost{}=", ulid::Ulid::generate())).await;
    }
    table.take();
    let (status, _) =
        gw.post("/api/messages", &owner.token, json!({ "receiverId": gid, "content": "to everyone" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let records = table.take();
    for ws in &mut sockets {
        assert_eq!(ws.event("chatMessage").await["message"]["text"], "to everyone");
    }
    let batch_reads: usize = records.iter().filter(|r| r.op == "BatchGetItem").map(|r| r.requests).sum();
    // session + conversation (1 each) + 301 presences (4): never one read per member.
    assert_eq!(batch_reads, 1 + 1 + 301usize.div_ceil(100), "{records:?}");
    let removals = records.iter().filter(|r| r.op == "DeleteItem").count();
    assert_eq!(removals, 30 * 2, "each gone connection is removed (connection + admin-room entry)");
    let requests = chat::store::counted::requests(&records);
    // The send's own 8 (issue 19: session, batch, flood counter, seq, message, last message, marker,
    // admin room),
    // 4 presence batches, 3 per gone connection.
    assert!(requests <= 8 + 4 + 30 * 3, "{requests} requests: {:?}", records.iter().map(|r| r.op).collect::<Vec<_>>());
}

async fn status_changes_reach_contacts_and_busy_users_catch_up_when_back(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "hi" })).await;
    let mut alice_ws = gw.connect(&alice).await;
    let mut bob_ws = gw.connect(&bob).await;
    let online = alice_ws.event("presence").await;
    assert_eq!((online["userId"].as_str(), online["online"].as_bool()), (Some(bob.id.as_str()), Some(true)));

    let (status, res) = gw.put("/api/status", &bob.token, json!({ "status": "away", "activity": "playing" })).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let ev = alice_ws.event("presence").await;
    assert_eq!((ev["status"].as_str(), ev["activity"].as_str()), (Some("away"), Some("playing")));
    let (_, seen) = gw.get(&format!("/api/status/{}", bob.id), &alice.token).await;
    assert_eq!((seen["data"]["status"].as_str(), seen["data"]["online"].as_bool()), (Some("away"), Some(true)));
    assert!(seen["data"]["lastSeen"].is_string());

    // Appear offline: connected, but shown offline.
    bob_ws.send(json!({ "action": "setStatus", "status": "offline" })).await;
    assert_eq!(bob_ws.event("presence").await["status"], "offline");
    assert_eq!(alice_ws.event("presence").await["online"], false);
    let (_, seen) = gw.get(&format!("/api/status/{}", bob.id), &alice.token).await;
    assert_eq!(seen["data"]["online"], false);

    // Busy: stored, not pushed; back online, a hint lists what was missed.
    let busy = json!({ "status": "busy" });
    assert_eq!(gw.put("/api/status", &bob.token, busy).await.0, StatusCode::OK);
    gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "urgent" })).await;
    assert!(bob_ws.try_event("chatMessage", Duration::from_millis(500)).await.is_none());
    gw.put("/api/status", &bob.token, json!({ "status": "available" })).await;
    let hint = bob_ws.event("notification").await;
    assert_eq!(hint["type"], "missedMessages");
    assert_eq!(hint["conversations"][0]["unreadCount"], 2);
    assert_eq!(hint["conversations"][0]["lastMessage"]["text"], "urgent");

    // Others cannot set your status; bad values are 400.
    let spoof = json!({ "status": "busy", "userId": bob.id });
    assert_eq!(gw.put("/api/status", &alice.token, spoof).await.0, StatusCode::FORBIDDEN);
    assert_eq!(gw.put("/api/status", &alice.token, json!({ "status": "asleep" })).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(gw.get("/api/status/usr_01JAAAAAAAAAAAAAAAAAAAAAAA", &alice.token).await.0, StatusCode::NOT_FOUND);

    // The last connection going takes bob offline for alice.
    bob_ws.close().await;
    loop {
        let ev = alice_ws.event("presence").await;
        if ev["online"] == false {
            break;
        }
    }
}

async fn notifications_are_sent_listed_and_marked_read(store: Store) {
    let gw = Gateway::start(store).await;
    let admin = gw.admin("admin").await.token;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let mut alice_ws = gw.connect(&alice).await;
    let (status, _) =
        gw.post("/api/notifications", &admin, json!({ "userId": alice.id, "message": "maintenance at 5" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(alice_ws.event("notification").await["message"], "maintenance at 5");
    assert_eq!(
        gw.post("/api/notifications", &bob.token, json!({ "userId": alice.id, "message": "fake" })).await.0,
        StatusCode::FORBIDDEN
    );
    // A direct message while not connected leaves a notification.
    gw.post("/api/messages", &alice.token, json!({ "receiverId": bob.id, "content": "ping" })).await;
    let (_, bobs) = gw.get("/api/notifications", &bob.token).await;
    assert_eq!(bobs["data"][0]["type"], "message");
    gw.post("/api/notifications", &admin, json!({ "userId": alice.id, "message": "second" })).await;
    let (_, list) = gw.get("/api/notifications", &alice.token).await;
    let messages: Vec<_> = list["data"].as_array().unwrap().iter().map(|n| n["message"].clone()).collect();
    assert_eq!(messages, [json!("second"), json!("maintenance at 5")], "newest first");
    let first = list["data"][1]["id"].as_str().unwrap().to_owned();
    assert_eq!(gw.post(&format!("/api/notifications/{first}/read"), &alice.token, json!({})).await.0, StatusCode::OK);
    assert_eq!(
        gw.post(&format!("/api/notifications/{first}/read"), &bob.token, json!({})).await.0,
        StatusCode::NOT_FOUND,
        "not bob's"
    );
    let (_, unread) = gw.get("/api/notifications?unread=true", &alice.token).await;
    assert_eq!(unread["data"].as_array().unwrap().len(), 1);
    let (_, page) = gw.get("/api/notifications?limit=1", &alice.token).await;
    let cursor = page["nextCursor"].as_str().unwrap();
    let (_, next) = gw.get(&format!("/api/notifications?limit=1&cursor={cursor}"), &alice.token).await;
    assert_eq!(next["data"][0]["message"], "maintenance at 5");
    let (_, all) = gw.post("/api/notifications/read", &alice.token, json!({})).await;
    assert_eq!(all["data"]["marked"], 1);
    let (_, unread) = gw.get("/api/notifications?unread=true", &alice.token).await;
    assert_eq!(unread["data"], json!([]));
}

async fn typing_reaches_only_the_connections_viewing_the_conversation(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, ann, ben) = (gw.user("owner").await, gw.user("ann").await, gw.user("ben").await);
    let gid = group(&gw, &owner, json!([ann.id, ben.id])).await;
    let mut owner_ws = gw.connect(&owner).await;
    let mut ann_ws = gw.connect(&ann).await;
    let mut ben_ws = gw.connect(&ben).await;
    ann_ws.send(json!({ "action": "joinConversation", "conversationId": gid })).await;
    owner_ws.send(json!({ "action": "joinConversation", "conversationId": gid })).await;
    gw.wait_room(&gid, 2).await;
    ben_ws.send(json!({ "action": "typing", "conversationId": gid, "isTyping": true })).await;
    assert_eq!(ann_ws.event("typingStatus").await["userId"], ben.id.as_str());
    assert_eq!(owner_ws.event("typingStatus").await["userId"], ben.id.as_str());
    ann_ws.send(json!({ "action": "leaveConversation", "conversationId": gid })).await;
    gw.wait_room(&gid, 1).await;
    ben_ws.send(json!({ "action": "typing", "conversationId": gid, "isTyping": false })).await;
    assert_eq!(owner_ws.event("typingStatus").await["isTyping"], false);
    assert!(ann_ws.try_event("typingStatus", Duration::from_millis(400)).await.is_none(), "ann left the room");
    owner_ws.close().await;
    gw.wait_room(&gid, 0).await;
}

async fn seed_001_routes_create_log_in_and_chat(store: Store) {
    let gw = Gateway::start(store).await;
    let email = format!("{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
    let create = json!({ "firstName": "Ann", "lastName": "Lee", "email": email, "password": "password 123" });
    let (status, created) = gw.post_anon("/users/auth/create", create.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["data"]["user"]["firstName"], "Ann");
    assert_eq!(gw.post_anon("/users/auth/create", create).await.0, StatusCode::CONFLICT);
    let login = |email: String, password: &'static str| {
        gw.post_anon("/users/auth/login", json!({ "email": email, "password": password }))
    };
    let (status, ok) = login(email.clone(), "password 123").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login(email.clone(), "wrong password").await.0, StatusCode::NOT_FOUND);
    assert_eq!(login("nobody@example.com".into(), "password 123").await.0, StatusCode::NOT_FOUND);
    let ann = User {
        id: ok["data"]["user"]["id"].as_str().unwrap().to_owned(),
        username: ok["data"]["user"]["username"].as_str().unwrap().to_owned(),
        token: ok["data"]["token"].as_str().unwrap().to_owned(),
    };
    let (bob, eve) = (gw.user("bob").await, gw.user("eve").await);
    let chat = json!({ "sender": ann.id, "receiver": bob.id, "messageDetails": { "text": "seed one" } });
    assert_eq!(gw.post("/chat", &ann.token, chat.clone()).await.0, StatusCode::CREATED);
    assert_eq!(gw.post("/chat", &eve.token, chat).await.0, StatusCode::FORBIDDEN, "sender must be the caller");
    let path = format!("/chat/conversation/{}/{}", ann.id, bob.id);
    let (status, conv) = gw.get(&path, &bob.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(conv["data"][0]["text"], "seed one");
    assert_eq!(gw.get(&path, &eve.token).await.0, StatusCode::FORBIDDEN);
}

async fn the_users_directory_shows_others_public_fields_and_admins_everything(store: Store) {
    let gw = Gateway::start(store).await;
    let admin = gw.admin("admin").await.token;
    let (alice, _bob, _carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let (_, dir) = gw.get("/api/users", &alice.token).await;
    let dir = dir["data"].as_array().unwrap().clone();
    assert_eq!(dir.len(), 3, "everyone but the caller: {dir:?}");
    assert!(dir.iter().all(|u| u["id"] != alice.id.as_str() && u.get("email").is_none() && u.get("role").is_none()));
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/users?limit=2&cursor={c}"),
            None => "/api/users?limit=2".into(),
        };
        let (_, page) = gw.get(&path, &admin).await;
        for u in page["data"].as_array().unwrap() {
            assert!(u.get("role").is_some() && u.get("createdAt").is_some());
            seen.push(u["id"].clone());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "every user, admin included, once");
}
