//! Phone push (SNS mobile push) end to end through the local gateway, which emulates the
//! table's stream and invokes the push function off the request path: on the embedded store
//! with SNS's recording stand-in, and on DynamoDB with the real `aws-sdk-sns` client against
//! moto's SNS (platform applications and endpoints created there).

use std::sync::Arc;

use chat::phone_push::{Recording, Sent};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};
use crate::support;

both_stores!(
    a_device_registers_once_per_token_moves_to_another_user_and_is_deleted_by_its_owner_only,
    bad_device_registrations_are_refused_and_store_nothing,
    a_logout_naming_its_device_unregisters_it,
    an_offline_member_gets_one_push_per_message_with_the_badge_and_an_online_one_none,
    busy_or_muted_members_get_no_push_and_a_mention_comes_through_a_mute,
    the_preview_setting_decides_what_a_push_shows,
    the_same_stream_event_handled_twice_pushes_once_per_device,
    a_disabled_endpoint_is_deleted_with_its_device,
    an_admin_notification_is_pushed_to_an_offline_user,
    settings_are_for_members_only_and_bad_settings_are_refused,
    a_deleted_account_loses_its_devices_and_endpoints,
    a_muted_member_still_gets_the_mention_notification_live,
    a_push_that_starts_before_its_message_is_counted_still_counts_it_in_the_badge,
);

/// A gateway with phone push on for APNs and FCM.
async fn push_gateway(store: Store) -> Gateway {
    let mut config = crate::harness::config(store);
    match store {
        Store::Memory => {
            config.push.apns = Some("arn:aws:sns:us-east-1:000000000000:app/APNS/chat-test".into());
            config.push.fcm = Some("arn:aws:sns:us-east-1:000000000000:app/GCM/chat-test".into());
        }
        Store::Dynamo => {
            let sns = sns_client().await;
            for (platform, slot) in [("APNS", &mut config.push.apns), ("GCM", &mut config.push.fcm)] {
                let created = sns
                    .create_platform_application()
                    .name(support::unique_name("chat"))
                    .platform(platform)
                    .attributes("PlatformCredential", "test-credential")
                    .attributes("PlatformPrincipal", "test-principal")
                    .send()
                    .await
                    .expect("moto creates the platform application");
                *slot = created.platform_application_arn().map(str::to_owned);
            }
            config.push.endpoint = Some(support::dynamodb_endpoint());
        }
    }
    Gateway::spawn(config, None).await
}

async fn sns_client() -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&support::local_sdk_config(&support::dynamodb_endpoint()).await)
}

fn recording(gw: &Gateway) -> Arc<Recording> {
    gw.running.gateway.recording.clone().expect("push is on")
}

/// Waits until the push function has handled every record the table's stream emitted.
async fn settled(gw: &Gateway) {
    gw.running.gateway.stream.as_ref().expect("push is on").settled().await;
}

/// The pushes sent to `token`'s endpoint, oldest first.
fn pushes_to(gw: &Gateway, token: &str) -> Vec<Sent> {
    recording(gw).sent().into_iter().filter(|s| s.token == token).collect()
}

/// A push's platform payload (SNS takes it as a JSON string).
fn payload(sent: &Sent, key: &str) -> Value {
    serde_json::from_str(sent.message[key].as_str().expect("a platform entry")).expect("JSON")
}

async fn register(gw: &Gateway, user: &User, platform: &str, token: &str) -> (StatusCode, Value) {
    gw.post("/api/devices", &user.token, json!({ "platform": platform, "token": token, "appVersion": "1.2.3" })).await
}

async fn devices(gw: &Gateway, user: &User) -> Vec<Value> {
    let (status, list) = gw.get("/api/devices", &user.token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().expect("a list").clone()
}

fn token(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::generate()).to_lowercase()
}

async fn send(gw: &Gateway, from: &User, to: &str, text: &str) -> Value {
    let (status, sent) = gw.post("/api/messages", &from.token, json!({ "receiverId": to, "content": text })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent["data"].clone()
}

async fn group_of(gw: &Gateway, owner: &User, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (status, group) = gw.post("/api/groups", &owner.token, json!({ "name": "team", "members": ids })).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    group["data"]["id"].as_str().expect("an id").to_owned()
}

async fn a_device_registers_once_per_token_moves_to_another_user_and_is_deleted_by_its_owner_only(store: Store) {
    let gw = push_gateway(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let phone = token("apns");
    let (status, first) = register(&gw, &alice, "apns", &phone).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        (first["data"]["platform"].as_str(), first["data"]["pushEnabled"].as_bool()),
        (Some("apns"), Some(true))
    );
    assert!(first["data"].get("token").is_none(), "the token stays on the server: {first}");
    let (status, again) = register(&gw, &alice, "apns", &phone).await;
    assert_eq!((status, &again["data"]["id"]), (StatusCode::OK, &first["data"]["id"]), "{again}");
    assert_eq!(devices(&gw, &alice).await.len(), 1);

    // The phone changes hands: the token moves to bob, alice's registration and endpoint go.
    let (status, moved) = register(&gw, &bob, "apns", &phone).await;
    assert_eq!(status, StatusCode::CREATED, "{moved}");
    assert!(devices(&gw, &alice).await.is_empty());
    assert_eq!(devices(&gw, &bob).await.len(), 1);
    let endpoints: Vec<_> = recording(&gw).endpoints().into_iter().filter(|(_, t)| *t == phone).collect();
    assert_eq!(endpoints.len(), 1, "one endpoint per token: {endpoints:?}");

    let id = moved["data"]["id"].as_str().expect("an id");
    let (status, _) = gw.delete(format!("/api/devices/{id}"), &alice.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another user's device is a missing one");
    assert_eq!(devices(&gw, &bob).await.len(), 1);
    let (status, deleted) = gw.delete(format!("/api/devices/{id}"), &bob.token).await;
    assert_eq!((status, deleted["data"]["deleted"].as_bool()), (StatusCode::OK, Some(true)), "{deleted}");
    assert!(devices(&gw, &bob).await.is_empty());
    assert!(recording(&gw).endpoints().iter().all(|(_, t)| *t != phone), "its endpoint is deleted");
    // Registered again afterwards: a new device.
    assert_eq!(register(&gw, &bob, "apns", &phone).await.0, StatusCode::CREATED);
    // A flood of registrations keeps the newest ten: the oldest go, with their endpoints.
    let tokens: Vec<String> = (0..12).map(|i| token(&format!("flood{i}-"))).collect();
    for t in &tokens {
        assert_eq!(register(&gw, &bob, "fcm", t).await.0, StatusCode::CREATED);
    }
    assert_eq!(devices(&gw, &bob).await.len(), chat::service::devices::MAX_DEVICES);
    let live: Vec<String> = recording(&gw).endpoints().into_iter().map(|(_, t)| t).collect();
    assert!(!live.contains(&phone) && !live.contains(&tokens[0]) && live.contains(&tokens[11]), "{live:?}");
}

async fn bad_device_registrations_are_refused_and_store_nothing(store: Store) {
    let gw = push_gateway(store).await;
    let alice = gw.user("alice").await;
    let long = "a".repeat(2000);
    let bad = [
        json!({ "platform": "blackberry", "token": "abc" }),
        json!({ "platform": "fcm", "token": "" }),
        json!({ "platform": "fcm", "token": long }),
        json!({ "platform": "fcm", "token": "has space" }),
        json!({ "platform": "fcm", "token": "abc", "appVersion": "" }),
        json!({ "platform": "fcm", "token": "abc", "userId": alice.id }),
        json!({ "token": "abc" }),
    ];
    for body in bad {
        let (status, res) = gw.post("/api/devices", &alice.token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {res}");
        assert_eq!(res["success"], false);
    }
    assert!(devices(&gw, &alice).await.is_empty());
    assert_eq!(
        gw.call(reqwest::Method::POST, "/api/devices", None, Some(json!({"platform":"fcm","token":"x"}))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = gw.delete("/api/devices/not-a-device", &alice.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_logout_naming_its_device_unregisters_it(store: Store) {
    let gw = push_gateway(store).await;
    let bob = gw.user("bob").await;
    let phone = token("fcm");
    let (_, device) = register(&gw, &bob, "fcm", &phone).await;
    let id = device["data"]["id"].as_str().expect("an id");
    let (status, out) = gw.post("/api/auth/logout", &bob.token, json!({ "deviceId": id })).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let creds = json!({ "username": bob.username, "password": "correct horse battery" });
    let (_, login) = gw.post_anon("/api/auth/login", creds).await;
    let again = User { token: login["data"]["token"].as_str().expect("a token").to_owned(), ..bob.clone() };
    assert!(devices(&gw, &again).await.is_empty());
    assert!(recording(&gw).endpoints().iter().all(|(_, t)| *t != phone));
    let (status, _) = gw.post("/api/auth/logout", &again.token, json!({ "deviceId": "nope" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn an_offline_member_gets_one_push_per_message_with_the_badge_and_an_online_one_none(store: Store) {
    let gw = push_gateway(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let phone = token("fcm");
    assert_eq!(register(&gw, &bob, "fcm", &phone).await.0, StatusCode::CREATED);
    let first = send(&gw, &alice, &bob.id, "hello").await;
    let second = send(&gw, &alice, &bob.id, "are you there?").await;
    settled(&gw).await;
    let pushes = pushes_to(&gw, &phone);
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    let last = payload(&pushes[1], "GCM");
    let message = &last["fcmV1Message"]["message"];
    assert_eq!(message["notification"]["title"], alice.username.as_str());
    assert_eq!(message["notification"]["body"], "New message", "sender only by default: {last}");
    assert_eq!(message["data"]["conversationId"], second["conversationId"]);
    assert_eq!(message["data"]["messageId"], second["id"]);
    assert_eq!(message["data"]["badge"], "2", "two unread");
    assert_eq!(message["android"]["collapse_key"], first["conversationId"]);
    assert!(pushes[0].message["default"].is_string());
    // Alice (the sender) has no device; nothing else went out.
    assert_eq!(recording(&gw).sent().len(), 2);

    // Connected: the message arrives over the socket, no push.
    let mut ws = gw.connect(&bob).await;
    gw.wait_connections(&bob, 1).await;
    send(&gw, &alice, &bob.id, "now you are here").await;
    ws.event("chatMessage").await;
    settled(&gw).await;
    assert_eq!(pushes_to(&gw, &phone).len(), 2);
}

async fn busy_or_muted_members_get_no_push_and_a_mention_comes_through_a_mute(store: Store) {
    let gw = push_gateway(store).await;
    let (alice, bob, carol) = (gw.user("alice").await, gw.user("bob").await, gw.user("carol").await);
    let group = group_of(&gw, &alice, &[&bob, &carol]).await;
    let (bob_phone, carol_phone) = (token("b"), token("c"));
    register(&gw, &bob, "apns", &bob_phone).await;
    register(&gw, &carol, "fcm", &carol_phone).await;
    assert_eq!(gw.put("/api/status", &bob.token, json!({ "status": "busy" })).await.0, StatusCode::OK);
    let mute = json!({ "mutedUntil": "2100-01-01T00:00:00Z" });
    let (status, settings) = gw.put(format!("/api/conversations/{group}/settings"), &carol.token, mute).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["data"]["mutedUntil"], "2100-01-01T00:00:00.000Z");
    assert_eq!(settings["data"]["preview"], "sender_only");

    send(&gw, &alice, &group, "hello all").await;
    settled(&gw).await;
    assert!(pushes_to(&gw, &bob_phone).is_empty(), "busy: none");
    assert!(pushes_to(&gw, &carol_phone).is_empty(), "muted: none");

    let mention = send(&gw, &alice, &group, &format!("@{} please look", carol.username)).await;
    settled(&gw).await;
    let pushes = pushes_to(&gw, &carol_phone);
    assert_eq!(pushes.len(), 1, "a mention comes through the mute");
    let p = payload(&pushes[0], "GCM");
    assert_eq!(p["fcmV1Message"]["message"]["data"]["kind"], "mention");
    assert_eq!(p["fcmV1Message"]["message"]["data"]["messageId"], mention["id"]);
    assert!(pushes_to(&gw, &bob_phone).is_empty());

    // Mentions through a mute turned off: none.
    let strict = json!({ "mutedUntil": "2100-01-01T00:00:00Z", "mentionsThroughMute": false });
    assert_eq!(gw.put(format!("/api/conversations/{group}/settings"), &carol.token, strict).await.0, StatusCode::OK);
    send(&gw, &alice, &group, &format!("@{} again", carol.username)).await;
    settled(&gw).await;
    assert_eq!(pushes_to(&gw, &carol_phone).len(), 1);
    // A mute that has ended mutes nothing.
    let ended = json!({ "mutedUntil": "2001-01-01T00:00:00Z" });
    assert_eq!(gw.put(format!("/api/conversations/{group}/settings"), &carol.token, ended).await.0, StatusCode::OK);
    send(&gw, &alice, &group, "back").await;
    settled(&gw).await;
    assert_eq!(pushes_to(&gw, &carol_phone).len(), 2);
}

async fn the_preview_setting_decides_what_a_push_shows(store: Store) {
    let gw = push_gateway(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let phone = token("apns");
    register(&gw, &bob, "apns", &phone).await;
    let first = send(&gw, &alice, &bob.id, "first").await;
    let conv = first["conversationId"].as_str().expect("an id").to_owned();
    let group = group_of(&gw, &alice, &[&bob]).await;
    for (target, preview) in [(&conv, "full"), (&group, "full")] {
        let body = json!({ "preview": preview });
        assert_eq!(gw.put(format!("/api/conversations/{target}/settings"), &bob.token, body).await.0, StatusCode::OK);
    }
    send(&gw, &alice, &conv, "secret plans").await;
    send(&gw, &alice, &group, "group plans").await;
    assert_eq!(
        gw.put(format!("/api/conversations/{conv}/settings"), &bob.token, json!({ "preview": "none" })).await.0,
        StatusCode::OK
    );
    send(&gw, &alice, &conv, "hidden").await;
    settled(&gw).await;
    let pushes: Vec<Value> = pushes_to(&gw, &phone).iter().map(|s| payload(s, "APNS")).collect();
    assert_eq!(pushes.len(), 4, "{pushes:?}");
    let alert = |i: usize| (pushes[i]["aps"]["alert"]["title"].clone(), pushes[i]["aps"]["alert"]["body"].clone());
    assert_eq!(alert(0), (json!(alice.username), json!("New message")), "the default: sender only");
    assert_eq!(alert(1), (json!(alice.username), json!("secret plans")), "full, direct");
    assert_eq!(alert(2), (json!("team"), json!(format!("{}: group plans", alice.username))), "full, a group");
    assert_eq!(alert(3), (json!("New message"), Value::Null), "none");
    assert_eq!(pushes[1]["aps"]["thread-id"], conv.as_str());
    assert_eq!(pushes[2]["aps"]["thread-id"], group.as_str());
    assert_eq!(pushes[3]["aps"]["badge"], 4, "unread over both conversations");
    assert_eq!(pushes[3]["conversationId"], conv.as_str());
}

async fn the_same_stream_event_handled_twice_pushes_once_per_device(store: Store) {
    let gw = push_gateway(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let (ios, android) = (token("ios"), token("android"));
    register(&gw, &bob, "apns", &ios).await;
    register(&gw, &bob, "fcm", &android).await;
    let sent = send(&gw, &alice, &bob.id, "once").await;
    settled(&gw).await;
    assert_eq!((pushes_to(&gw, &ios).len(), pushes_to(&gw, &android).len()), (1, 1));
    // The stream delivers the record again (a retry after a timeout): nothing more goes out.
    let conv = chat::ids::ConversationId::parse(sent["conversationId"].as_str().unwrap()).unwrap();
    let id = chat::ids::MessageId::parse(sent["id"].as_str().unwrap()).unwrap();
    let item = gw.app().table().get(&chat::repo::keys::message(&conv, &id), true).await.unwrap().expect("stored");
    let event =
        functions::stream::StreamEvent { records: vec![functions::stream::StreamRecord::insert(&item, "9".into())] };
    let sns = recording(&gw);
    for _ in 0..2 {
        let out = functions::stream::handle(gw.app(), sns.as_ref(), event.clone()).await;
        assert!(out.batch_item_failures.is_empty(), "{out:?}");
    }
    assert_eq!((pushes_to(&gw, &ios).len(), pushes_to(&gw, &android).len()), (1, 1));
}

async fn a_disabled_endpoint_is_deleted_with_its_device(store: Store) {
    let gw = push_gateway(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let phone = token("stale");
    register(&gw, &bob, "fcm", &phone).await;
    let (arn, _) = recording(&gw).endpoints().into_iter().find(|(_, t)| *t == phone).expect("an endpoint");
    // The platform refused the token (the app was uninstalled): SNS disables the endpoint.
    match store {
        Store::Memory => recording(&gw).disable(&arn),
        Store::Dynamo => {
            sns_client()
                .await
                .set_endpoint_attributes()
                .endpoint_arn(&arn)
                .attributes("Enabled", "false")
                .send()
                .await
                .expect("moto disables the endpoint");
        }
    }
    send(&gw, &alice, &bob.id, "anyone?").await;
    settled(&gw).await;
    assert!(pushes_to(&gw, &phone).is_empty());
    assert!(devices(&gw, &bob).await.is_empty(), "the device is removed");
    assert!(recording(&gw).endpoints().iter().all(|(a, _)| *a != arn), "its endpoint is deleted");
    if store == Store::Dynamo {
        let gone = sns_client().await.get_endpoint_attributes().endpoint_arn(&arn).send().await;
        assert!(gone.is_err(), "moto no longer has the endpoint");
    }
    // Registering the token again works (a reinstalled app).
    assert_eq!(register(&gw, &bob, "fcm", &phone).await.0, StatusCode::CREATED);
}

async fn an_admin_notification_is_pushed_to_an_offline_user(store: Store) {
    let gw = push_gateway(store).await;
    let (admin, bob) = (gw.admin("root").await, gw.user("bob").await);
    let phone = token("fcm");
    register(&gw, &bob, "fcm", &phone).await;
    let (status, _) =
        gw.post("/api/notifications", &admin.token, json!({ "userId": bob.id, "message": "maintenance at 5" })).await;
    assert_eq!(status, StatusCode::CREATED);
    settled(&gw).await;
    let pushes = pushes_to(&gw, &phone);
    assert_eq!(pushes.len(), 1);
    let p = payload(&pushes[0], "GCM");
    assert_eq!(p["fcmV1Message"]["message"]["notification"]["body"], "maintenance at 5");
    assert_eq!(p["fcmV1Message"]["message"]["data"]["kind"], "admin");
}

async fn settings_are_for_members_only_and_bad_settings_are_refused(store: Store) {
    let gw = push_gateway(store).await;
    let (alice, bob, eve) = (gw.user("alice").await, gw.user("bob").await, gw.user("eve").await);
    let conv = send(&gw, &alice, &bob.id, "hi").await["conversationId"].as_str().unwrap().to_owned();
    let path = format!("/api/conversations/{conv}/settings");
    let (status, _) = gw.put(&path, &eve.token, json!({ "preview": "full" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a non-member sees no conversation");
    let (status, _) = gw.put("/api/conversations/nope/settings", &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for bad in [json!({ "preview": "everything" }), json!({ "mutedUntil": "tomorrow" }), json!({ "muted": true })] {
        let (status, res) = gw.put(&path, &alice.token, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {res}");
    }
    let (status, s) = gw.put(&path, &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["data"], json!({ "conversationId": conv, "preview": "sender_only", "mentionsThroughMute": true }));
}

async fn a_deleted_account_loses_its_devices_and_endpoints(store: Store) {
    let gw = push_gateway(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let phone = token("gone");
    register(&gw, &bob, "apns", &phone).await;
    send(&gw, &alice, &bob.id, "before").await;
    settled(&gw).await;
    let (status, _) = gw.delete(format!("/api/users/{}", bob.id), &bob.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(recording(&gw).endpoints().iter().all(|(_, t)| *t != phone), "the endpoint is deleted");
    let bob_id = chat::ids::UserId::parse(&bob.id).unwrap();
    assert!(chat::repo::devices::list(gw.app().table(), &bob_id).await.unwrap().is_empty());
    send(&gw, &alice, &bob.id, "after").await;
    settled(&gw).await;
    assert_eq!(pushes_to(&gw, &phone).len(), 1, "only the message before the deletion");
}

async fn a_muted_member_still_gets_the_mention_notification_live(store: Store) {
    let gw = push_gateway(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let group = group_of(&gw, &alice, &[&bob]).await;
    let mute = json!({ "mutedUntil": "2100-01-01T00:00:00Z", "mentionsThroughMute": false });
    assert_eq!(gw.put(format!("/api/conversations/{group}/settings"), &bob.token, mute).await.0, StatusCode::OK);
    let mut ws = gw.connect(&bob).await;
    gw.wait_connections(&bob, 1).await;
    let sent = send(&gw, &alice, &group, &format!("@{} ping", bob.username)).await;
    let note = ws.event("notification").await;
    assert_eq!((note["type"].as_str(), note["data"]["messageId"].as_str()), (Some("mention"), sent["id"].as_str()));
}

/// A direct conversation's send stores its message, then counts it (`repo::messages::count`);
/// the push starts from the store's stream, so it can read the summary before the count: the
/// badge counts the pushed message anyway, once.
async fn a_push_that_starts_before_its_message_is_counted_still_counts_it_in_the_badge(store: Store) {
    use chat::ids::{ConversationId, MessageId, UserId};
    use chat::repo::messages as msgs;
    use chat::service::mobile_push::badge;

    let gw = push_gateway(store).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let first = send(&gw, &alice, &bob.id, "first").await;
    let conv = ConversationId::parse(first["conversationId"].as_str().unwrap()).unwrap();
    let bob_id = UserId::parse(&bob.id).unwrap();
    let table = gw.app().table();
    let key = chat::repo::keys::message(&conv, &MessageId::parse(first["id"].as_str().unwrap()).unwrap());
    let stored = table.get(&key, true);
    let first = msgs::read(stored.await.unwrap().expect("the first message")).unwrap();
    // The second message stored, its count not yet made.
    let second =
        chat::models::Message { id: MessageId::generate(&conv), seq: 2, text: "second".into(), ..first.clone() };
    table.put(msgs::message_item(&second).unwrap(), None).await.unwrap();
    assert_eq!(badge(gw.app(), &bob_id, None).await.unwrap(), 1, "the summary counts one so far");
    assert_eq!(badge(gw.app(), &bob_id, Some(&second)).await.unwrap(), 2, "the pushed message counts");
    // Once counted, it counts once.
    msgs::count(table, &second, "tag", true).await.unwrap();
    assert_eq!(badge(gw.app(), &bob_id, Some(&second)).await.unwrap(), 2);
    assert_eq!(badge(gw.app(), &bob_id, None).await.unwrap(), 2);
}
