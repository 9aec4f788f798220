//! Every example request written in the five seed documents (`../shared/seeds/`), sent as
//! written on both stores, substituting only generated names, ids and tokens (and the values
//! the seeds leave as a type, such as `"string"`). Each checks the status and the response shape
//! the seed documents; where SPEC deliberately differs, the test asserts SPEC's answer and says
//! why in one line. Socket.IO events map to this product's WebSocket actions (SPEC §4).

use std::time::Duration;

use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store, User};
use crate::support::unique_username;

both_stores!(
    seed_000_examples_register_log_in_list_start_send_and_read_naming_users_by_username,
    seed_001_examples_create_log_in_send_and_read_the_conversation_of_two_users,
    seed_002_user_examples_register_log_in_update_get_and_delete,
    seed_002_message_examples_send_to_a_user_or_a_group_read_and_delete,
    seed_002_group_and_channel_examples_create_manage_members_get_and_list,
    seed_002_status_and_notification_examples_set_read_send_and_list,
    seed_003_examples_sign_up_log_in_chat_and_log_out_with_the_jwt_cookie,
    seed_003_busy_status_holds_live_messages_until_available,
    seed_004_socket_flows_send_confirm_broadcast_type_and_mark_read,
    seed_004_rest_examples_log_in_refresh_and_answer_in_the_documented_formats,
);

/// A password SPEC accepts (8..=128 characters), where a seed shows a shorter one or a type.
const PASSWORD: &str = "correct horse battery";

/// A user id nobody has.
const NOBODY: &str = "usr_01JAAAAAAAAAAAAAAAAAAAAAAA";

/// The `data` of a success envelope, after checking the status and the envelope.
#[track_caller]
fn ok(expected: StatusCode, (status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["success"], true, "{body}");
    body["data"].clone()
}

/// The error envelope's code (seed 004's format), after checking the status.
#[track_caller]
fn error(expected: StatusCode, (status, body): (StatusCode, Value)) -> String {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["code"].as_str().unwrap_or_default().to_owned()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("a string: {v}")).to_owned()
}

/// A registered user, from a `{user, token}` answer.
fn user_of(data: &Value) -> User {
    User { id: str_of(&data["user"]["id"]), username: str_of(&data["user"]["username"]), token: str_of(&data["token"]) }
}

async fn register(gw: &Gateway, username: &str) -> User {
    let body = json!({ "username": username, "password": PASSWORD, "role": "user" });
    user_of(&ok(StatusCode::CREATED, gw.post_anon("/api/users/register", body).await))
}

async fn seed_000_examples_register_log_in_list_start_send_and_read_naming_users_by_username(store: Store) {
    let gw = Gateway::start(store).await;
    let (alice, bob) = (unique_username("alice"), unique_username("bob"));

    // 1. Register. SPEC §2: passwords are 8..=128 characters, so the seed's "123456" is a 400.
    let as_written = json!({ "username": alice, "password": "123456", "role": "user" });
    assert_eq!(
        error(StatusCode::BAD_REQUEST, gw.post_anon("/api/users/register", as_written).await),
        "VALIDATION_ERROR"
    );
    // "Role can be user or admin": SPEC §2 honours "admin" only from an admin's token, so 403.
    let admin_role = json!({ "username": alice, "password": PASSWORD, "role": "admin" });
    assert_eq!(error(StatusCode::FORBIDDEN, gw.post_anon("/api/users/register", admin_role).await), "FORBIDDEN");
    let (a, b) = (register(&gw, &alice).await, register(&gw, &bob).await);
    assert_eq!((a.username.as_str(), b.username.as_str()), (alice.as_str(), bob.as_str()));

    // 2. Login: "Response includes JWT token". With the seed's password (never stored) it is 401.
    let login =
        |password: &'static str| gw.post_anon("/api/users/login", json!({ "username": alice, "password": password }));
    assert_eq!(error(StatusCode::UNAUTHORIZED, login("123456").await), "UNAUTHORIZED");
    let session = ok(StatusCode::OK, login(PASSWORD).await);
    assert_eq!(
        (session["user"]["id"].as_str(), session["token"].as_str().map(|t| t.starts_with("eyJ"))),
        (Some(a.id.as_str()), Some(true))
    );

    // 3. List users. SPEC §3: every user gets the directory (others' public fields), admins all.
    let directory = ok(StatusCode::OK, gw.get("/api/users", &a.token).await);
    let bob_entry = directory.as_array().unwrap().iter().find(|u| u["id"] == b.id.as_str()).cloned().unwrap();
    assert!(bob_entry.get("role").is_none() && bob_entry.get("passwordHash").is_none(), "{bob_entry}");
    let admin = gw.admin("admin").await;
    let everyone = ok(StatusCode::OK, gw.get("/api/users", &admin.token).await);
    assert!(everyone.as_array().unwrap().iter().any(|u| u["id"] == a.id.as_str() && u["role"] == "user"));

    // 4. Start conversation with the usernames: created, then the existing one returned.
    let start = json!({ "participants": [alice, bob] });
    let conversation = ok(StatusCode::CREATED, gw.post("/api/conversations/start", &a.token, start.clone()).await);
    let again = ok(StatusCode::OK, gw.post("/api/conversations/start", &a.token, start).await);
    let cid = str_of(&conversation["id"]);
    assert_eq!(again["id"], cid.as_str());

    // 5. Send message, as written: sender and receiver by username.
    let send = json!({ "sender": alice, "receiver": bob, "text": "Hello Bob!" });
    let message = ok(StatusCode::CREATED, gw.post("/api/messages/send", &a.token, send).await);
    assert_eq!(
        (message["text"].as_str(), message["senderId"].as_str(), message["conversationId"].as_str()),
        (Some("Hello Bob!"), Some(a.id.as_str()), Some(cid.as_str()))
    );
    // Ids keep working, names are case-insensitive, and `sender` must be the caller.
    let by_id = json!({ "sender": a.id, "receiver": b.id, "text": "by id" });
    assert_eq!(
        ok(StatusCode::CREATED, gw.post("/api/messages/send", &a.token, by_id).await)["conversationId"],
        cid.as_str()
    );
    let upper = json!({ "sender": alice.to_uppercase(), "receiver": bob.to_uppercase(), "text": "by NAME" });
    assert_eq!(
        ok(StatusCode::CREATED, gw.post("/api/messages/send", &a.token, upper).await)["conversationId"],
        cid.as_str()
    );
    let spoof = json!({ "sender": bob, "receiver": cid, "text": "not me" });
    assert_eq!(error(StatusCode::FORBIDDEN, gw.post("/api/messages/send", &a.token, spoof).await), "FORBIDDEN");
    let nobody = json!({ "sender": alice, "receiver": unique_username("nobody"), "text": "hello?" });
    assert_eq!(error(StatusCode::NOT_FOUND, gw.post("/api/messages/send", &a.token, nobody).await), "NOT_FOUND");

    // 6. Get messages of the conversation.
    let history = ok(StatusCode::OK, gw.get(format!("/api/messages/{cid}"), &b.token).await);
    let texts: Vec<_> = history.as_array().unwrap().iter().map(|m| m["text"].clone()).collect();
    assert_eq!(texts, [json!("Hello Bob!"), json!("by id"), json!("by NAME")]);
}

async fn seed_001_examples_create_log_in_send_and_read_the_conversation_of_two_users(store: Store) {
    let gw = Gateway::start(store).await;
    // Create a new user, as written (each test has a fresh table, so the email is free).
    let create = json!({
        "firstName": "John", "lastName": "Doe", "email": "john.doe@example.com", "password": "password123"
    });
    let created = ok(StatusCode::CREATED, gw.post_anon("/users/auth/create", create.clone()).await);
    assert_eq!(
        (created["user"]["firstName"].as_str(), created["user"]["email"].as_str()),
        (Some("John"), Some("john.doe@example.com"))
    );
    assert_eq!(error(StatusCode::CONFLICT, gw.post_anon("/users/auth/create", create).await), "CONFLICT");

    // User login by email: 200 with a JWT; "404: User not found or invalid credentials".
    let login = json!({ "email": "john.doe@example.com", "password": "password123" });
    let john = user_of(&ok(StatusCode::OK, gw.post_anon("/users/auth/login", login).await));
    let wrong = json!({ "email": "john.doe@example.com", "password": "password124" });
    assert_eq!(error(StatusCode::NOT_FOUND, gw.post_anon("/users/auth/login", wrong).await), "NOT_FOUND");
    let unknown = json!({ "email": "jane.doe@example.com", "password": "password123" });
    assert_eq!(error(StatusCode::NOT_FOUND, gw.post_anon("/users/auth/login", unknown).await), "NOT_FOUND");

    // Send a message: the seed's Mongo ids become this product's user ids.
    let receiver = gw.user("receiver").await;
    let chat = json!({ "sender": john.id, "receiver": receiver.id, "messageDetails": { "text": "Hello!" } });
    let message = ok(StatusCode::CREATED, gw.post("/chat", &john.token, chat).await);
    assert_eq!((message["text"].as_str(), message["senderId"].as_str()), (Some("Hello!"), Some(john.id.as_str())));

    // Get a conversation between two users: from either side.
    for (token, path) in [
        (&john.token, format!("/chat/conversation/{}/{}", john.id, receiver.id)),
        (&receiver.token, format!("/chat/conversation/{}/{}", receiver.id, john.id)),
    ] {
        let conversation = ok(StatusCode::OK, gw.get(&path, token).await);
        assert_eq!(conversation[0]["text"], "Hello!", "{path}");
    }
}

async fn seed_002_user_examples_register_log_in_update_get_and_delete(store: Store) {
    let gw = Gateway::start(store).await;
    let name = unique_username("user");
    // 1.1 Register: 201; 400 for missing parameters (and 409 for a taken name, SPEC §3).
    let registered = ok(
        StatusCode::CREATED,
        gw.post_anon("/api/users/register", json!({ "username": name, "password": PASSWORD })).await,
    );
    let me = user_of(&registered);
    assert_eq!(
        error(StatusCode::BAD_REQUEST, gw.post_anon("/api/users/register", json!({ "username": name })).await),
        "VALIDATION_ERROR"
    );
    let taken = json!({ "username": name, "password": PASSWORD });
    assert_eq!(error(StatusCode::CONFLICT, gw.post_anon("/api/users/register", taken).await), "CONFLICT");

    // 1.2 Login: 200 with a token; 401 for invalid credentials.
    let session =
        ok(StatusCode::OK, gw.post_anon("/api/users/login", json!({ "username": name, "password": PASSWORD })).await);
    assert!(session["token"].is_string());
    let wrong = json!({ "username": name, "password": "not the password" });
    assert_eq!(error(StatusCode::UNAUTHORIZED, gw.post_anon("/api/users/login", wrong).await), "UNAUTHORIZED");

    // 1.3 Update profile `{username, password}`. Changing one's password also needs
    // `currentPassword` (README, decisions: a stolen token must not take the account): 403.
    let renamed = unique_username("renamed");
    let update = json!({ "username": renamed, "password": "a new long password" });
    assert_eq!(
        error(StatusCode::FORBIDDEN, gw.put(format!("/api/users/{}", me.id), &me.token, update).await),
        "FORBIDDEN"
    );
    let update = json!({ "username": renamed, "password": "a new long password", "currentPassword": PASSWORD });
    let updated = ok(StatusCode::OK, gw.put(format!("/api/users/{}", me.id), &me.token, update).await);
    let me = User { username: renamed.clone(), token: str_of(&updated["token"]), ..me };
    assert_eq!(updated["user"]["username"], renamed.as_str(), "{updated}");
    let bad = json!({ "username": "x" });
    assert_eq!(
        error(StatusCode::BAD_REQUEST, gw.put(format!("/api/users/{}", me.id), &me.token, bad).await),
        "VALIDATION_ERROR"
    );
    let admin = gw.admin("admin").await;
    let missing = json!({ "username": unique_username("ghost") });
    assert_eq!(
        error(StatusCode::NOT_FOUND, gw.put(format!("/api/users/{NOBODY}"), &admin.token, missing).await),
        "NOT_FOUND"
    );

    // 1.4 Get user details: 200; 404.
    let details = ok(StatusCode::OK, gw.get(format!("/api/users/{}", me.id), &admin.token).await);
    assert_eq!((details["id"].as_str(), details["username"].as_str()), (Some(me.id.as_str()), Some(renamed.as_str())));
    assert_eq!(error(StatusCode::NOT_FOUND, gw.get(format!("/api/users/{NOBODY}"), &me.token).await), "NOT_FOUND");

    // 1.5 Delete user: 200; then 404.
    ok(StatusCode::OK, gw.delete(format!("/api/users/{}", me.id), &me.token).await);
    assert_eq!(error(StatusCode::NOT_FOUND, gw.get(format!("/api/users/{}", me.id), &admin.token).await), "NOT_FOUND");
    assert_eq!(
        error(StatusCode::NOT_FOUND, gw.delete(format!("/api/users/{}", me.id), &admin.token).await),
        "NOT_FOUND"
    );
}

async fn seed_002_message_examples_send_to_a_user_or_a_group_read_and_delete(store: Store) {
    let gw = Gateway::start(store).await;
    let (sender, receiver) = (gw.user("sender").await, gw.user("receiver").await);
    // 2.1 Send message `{senderId, receiverId, content}` to a user: 201; 400 when incomplete.
    let send = json!({ "senderId": sender.id, "receiverId": receiver.id, "content": "hello" });
    let message = ok(StatusCode::CREATED, gw.post("/api/messages", &sender.token, send).await);
    let (mid, cid) = (str_of(&message["id"]), str_of(&message["conversationId"]));
    assert_eq!(message["text"], "hello");
    let incomplete = json!({ "senderId": sender.id, "content": "to nobody" });
    assert_eq!(
        error(StatusCode::BAD_REQUEST, gw.post("/api/messages", &sender.token, incomplete).await),
        "VALIDATION_ERROR"
    );
    // ... and to a group.
    let group = ok(
        StatusCode::CREATED,
        gw.post("/api/groups", &sender.token, json!({ "name": "Team", "members": [receiver.id] })).await,
    );
    let gid = str_of(&group["id"]);
    let to_group = json!({ "senderId": sender.id, "receiverId": gid, "content": "hello team" });
    assert_eq!(
        ok(StatusCode::CREATED, gw.post("/api/messages", &sender.token, to_group).await)["conversationId"],
        gid.as_str()
    );

    // 2.2 Get messages of a conversation: 200; 404 for one that does not exist.
    let history = ok(StatusCode::OK, gw.get(format!("/api/messages/{cid}"), &receiver.token).await);
    assert_eq!(history[0]["id"], mid.as_str());
    let unknown = chat::ids::GroupId::generate();
    assert_eq!(
        error(StatusCode::NOT_FOUND, gw.get(format!("/api/messages/{unknown}"), &sender.token).await),
        "NOT_FOUND"
    );

    // 2.3 Delete message: 200; 404 for one that does not exist.
    let deleted = ok(StatusCode::OK, gw.delete(format!("/api/messages/{mid}"), &sender.token).await);
    assert_eq!(deleted["messageId"], mid.as_str());
    // Unknown in a conversation the id names, in the older id form (no conversation), and
    // naming a direct conversation no pair has (its users out of order: the schema admits it).
    let conv = chat::ids::ConversationId::group(&chat::ids::GroupId::generate());
    let (lo, hi) = (ulid::Ulid::generate(), ulid::Ulid::generate());
    let unordered = format!("msg_{}.dm_{}_{}", ulid::Ulid::generate(), hi.max(lo), hi.min(lo));
    for unknown in
        [chat::ids::MessageId::generate(&conv).to_string(), format!("msg_{}", ulid::Ulid::generate()), unordered]
    {
        assert_eq!(
            error(StatusCode::NOT_FOUND, gw.delete(format!("/api/messages/{unknown}"), &sender.token).await),
            "NOT_FOUND"
        );
    }
}

async fn seed_002_group_and_channel_examples_create_manage_members_get_and_list(store: Store) {
    let gw = Gateway::start(store).await;
    let (owner, member, joiner) = (gw.user("owner").await, gw.user("member").await, gw.user("joiner").await);
    for kind in ["groups", "channels"] {
        // 3.1 / 3.2 Create `{name, members}`: 201; 400 for missing or invalid parameters.
        let created = ok(
            StatusCode::CREATED,
            gw.post(format!("/api/{kind}"), &owner.token, json!({ "name": "Team", "members": [member.id] })).await,
        );
        let id = str_of(&created["id"]);
        assert_eq!(
            error(
                StatusCode::BAD_REQUEST,
                gw.post(format!("/api/{kind}"), &owner.token, json!({ "members": [] })).await
            ),
            "VALIDATION_ERROR"
        );

        // 3.3 Add/Remove member `{memberId}`: 200; 404 for an unknown group/channel or member.
        let add = json!({ "memberId": joiner.id });
        assert_eq!(
            ok(StatusCode::OK, gw.put(format!("/api/{kind}/{id}/members"), &owner.token, add.clone()).await)
                ["memberCount"],
            3
        );
        let unknown = chat::ids::GroupId::generate();
        assert_eq!(
            error(StatusCode::NOT_FOUND, gw.put(format!("/api/{kind}/{unknown}/members"), &owner.token, add).await),
            "NOT_FOUND",
            "{kind}"
        );
        let nobody = json!({ "memberId": NOBODY });
        assert_eq!(
            error(StatusCode::NOT_FOUND, gw.put(format!("/api/{kind}/{id}/members"), &owner.token, nobody).await),
            "NOT_FOUND",
            "{kind}"
        );
        let remove = json!({ "memberId": joiner.id, "action": "remove" });
        assert_eq!(
            ok(StatusCode::OK, gw.put(format!("/api/{kind}/{id}/members"), &owner.token, remove).await)["memberCount"],
            2
        );

        // 3.4 Get info: 200 with the members; 404.
        let info = ok(StatusCode::OK, gw.get(format!("/api/{kind}/{id}"), &member.token).await);
        assert_eq!(
            (info["name"].as_str(), info["members"].as_array().map(Vec::len)),
            (Some("Team"), Some(2)),
            "{info}"
        );
        assert_eq!(
            error(StatusCode::NOT_FOUND, gw.get(format!("/api/{kind}/{unknown}"), &member.token).await),
            "NOT_FOUND"
        );

        // 3.5 List the ones I belong to: 200.
        let mine = ok(StatusCode::OK, gw.get(format!("/api/{kind}"), &member.token).await);
        assert!(mine.as_array().unwrap().iter().any(|g| g["id"] == id.as_str()), "{kind}: {mine}");
    }
}

async fn seed_002_status_and_notification_examples_set_read_send_and_list(store: Store) {
    let gw = Gateway::start(store).await;
    let (me, other) = (gw.user("me").await, gw.user("other").await);
    // 4.1 Update status `{userId, status}`: 200; 400 for missing or invalid parameters.
    let set = json!({ "userId": me.id, "status": "online" });
    ok(StatusCode::OK, gw.put("/api/status", &me.token, set).await);
    // The seed lists "typing" and "playing" as statuses; SPEC §3 makes them an `activity`: 400.
    let typing = json!({ "userId": me.id, "status": "typing" });
    assert_eq!(error(StatusCode::BAD_REQUEST, gw.put("/api/status", &me.token, typing).await), "VALIDATION_ERROR");
    let playing = json!({ "userId": me.id, "status": "online", "activity": "playing" });
    ok(StatusCode::OK, gw.put("/api/status", &me.token, playing).await);
    assert_eq!(
        error(StatusCode::BAD_REQUEST, gw.put("/api/status", &me.token, json!({ "userId": me.id })).await),
        "VALIDATION_ERROR"
    );

    // 4.2 Get status: 200 with the user's status; 404.
    let status = ok(StatusCode::OK, gw.get(format!("/api/status/{}", me.id), &other.token).await);
    assert_eq!(
        (status["userId"].as_str(), status["activity"].as_str()),
        (Some(me.id.as_str()), Some("playing")),
        "{status}"
    );
    assert!(status["status"].is_string() && status["online"].is_boolean(), "{status}");
    assert_eq!(error(StatusCode::NOT_FOUND, gw.get(format!("/api/status/{NOBODY}"), &other.token).await), "NOT_FOUND");

    // 5.1 Send notification `{userId, message}`: 201. SPEC §3 reserves it to admins: 403 for others.
    let admin = gw.admin("admin").await;
    let note = json!({ "userId": me.id, "message": "welcome" });
    let sent = ok(StatusCode::CREATED, gw.post("/api/notifications", &admin.token, note.clone()).await);
    assert_eq!(sent["message"], "welcome", "{sent}");
    assert_eq!(error(StatusCode::FORBIDDEN, gw.post("/api/notifications", &other.token, note).await), "FORBIDDEN");
    let incomplete = json!({ "userId": me.id });
    assert_eq!(
        error(StatusCode::BAD_REQUEST, gw.post("/api/notifications", &admin.token, incomplete).await),
        "VALIDATION_ERROR"
    );

    // 5.2 Get notifications: 200, mine.
    let mine = ok(StatusCode::OK, gw.get("/api/notifications", &me.token).await);
    assert_eq!(mine[0]["message"], "welcome", "{mine}");
}

/// Seed 003 authenticates from the `jwt` cookie: requests that carry only the cookie.
struct CookieClient {
    http: reqwest::Client,
    base: String,
}

impl CookieClient {
    async fn call(
        &self,
        method: Method,
        path: &str,
        jwt: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(jwt) = jwt {
            req = req.header(header::COOKIE, format!("jwt={jwt}"));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("the gateway answers");
        let cookie = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("jwt=").map(|rest| rest.split(';').next().unwrap_or_default().to_owned()));
        (res.status(), res.json().await.unwrap_or(Value::Null), cookie)
    }
}

async fn seed_003_examples_sign_up_log_in_chat_and_log_out_with_the_jwt_cookie(store: Store) {
    let gw = Gateway::start(store).await;
    let client = CookieClient { http: reqwest::Client::new(), base: gw.http.clone() };
    let (name, friend) = (unique_username("jane"), gw.user("friend").await);
    // POST /api/auth/signup (the body of seed 003's project): 201 and the `jwt` cookie.
    let signup = json!({
        "fullName": "Jane Doe", "username": name, "password": PASSWORD, "confirmPassword": PASSWORD, "gender": "female"
    });
    let (status, body, cookie) = client.call(Method::POST, "/api/auth/signup", None, Some(signup)).await;
    assert_eq!((status, body["success"].clone()), (StatusCode::CREATED, json!(true)), "{body}");
    assert!(cookie.is_some_and(|c| c.starts_with("eyJ")));
    let mismatch = json!({ "username": unique_username("x"), "password": PASSWORD, "confirmPassword": "other one" });
    let (status, ..) = client.call(Method::POST, "/api/auth/signup", None, Some(mismatch)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // POST /api/auth/login: 200 and the cookie; every request below carries only the cookie.
    let login = json!({ "username": name, "password": PASSWORD });
    let (status, body, cookie) = client.call(Method::POST, "/api/auth/login", None, Some(login)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let jwt = cookie.expect("login sets the jwt cookie");
    let me = str_of(&body["data"]["user"]["id"]);

    // GET /api/users: the sidebar of other users.
    let (status, users, _) = client.call(Method::GET, "/api/users", Some(&jwt), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(users["data"].as_array().unwrap().iter().any(|u| u["id"] == friend.id.as_str()), "{users}");

    // POST /api/messages/send/:id `{message}` to user `:id`, then GET /api/messages/:id (that user).
    let (status, sent, _) = client
        .call(
            Method::POST,
            &format!("/api/messages/send/{}", friend.id),
            Some(&jwt),
            Some(json!({ "message": "hi friend" })),
        )
        .await;
    assert_eq!((status, sent["data"]["senderId"].clone()), (StatusCode::CREATED, json!(me)), "{sent}");
    let (status, history, _) =
        client.call(Method::GET, &format!("/api/messages/{}", friend.id), Some(&jwt), None).await;
    assert_eq!((status, history["data"][0]["text"].clone()), (StatusCode::OK, json!("hi friend")), "{history}");
    // protectRoute: no cookie, no access.
    let (status, ..) = client.call(Method::GET, &format!("/api/messages/{}", friend.id), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // POST /api/auth/logout: 200, the cookie cleared, and its token no longer accepted.
    let (status, _, cleared) = client.call(Method::POST, "/api/auth/logout", Some(&jwt), Some(json!({}))).await;
    assert_eq!((status, cleared.as_deref()), (StatusCode::OK, Some("")));
    let (status, ..) = client.call(Method::GET, "/api/users", Some(&jwt), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn seed_003_busy_status_holds_live_messages_until_available(store: Store) {
    let gw = Gateway::start(store).await;
    let (sender, receiver) = (gw.user("sender").await, gw.user("receiver").await);
    let mut ws = gw.connect(&receiver).await;
    // The seed spells the status 'BUZY'; SPEC §3 names it `busy`, so the socket answers an error.
    ws.send(json!({ "action": "setStatus", "status": "BUZY" })).await;
    assert_eq!(ws.event("error").await["code"], "VALIDATION_ERROR");
    ws.send(json!({ "action": "setStatus", "status": "busy" })).await;
    assert_eq!(ws.event("presence").await["status"], "busy");
    let send = json!({ "message": "are you there?" });
    ok(StatusCode::CREATED, gw.post(format!("/api/messages/send/{}", receiver.id), &sender.token, send).await);
    assert!(ws.try_event("chatMessage", Duration::from_millis(500)).await.is_none(), "busy: not pushed live");
    // 'Available' again: what was held is announced.
    ws.send(json!({ "action": "setStatus", "status": "available" })).await;
    let hint = ws.event("notification").await;
    assert_eq!(
        (hint["type"].as_str(), hint["conversations"][0]["lastMessage"]["text"].as_str()),
        (Some("missedMessages"), Some("are you there?"))
    );
}

async fn seed_004_socket_flows_send_confirm_broadcast_type_and_mark_read(store: Store) {
    let gw = Gateway::start(store).await;
    let (a, b) = (gw.user("usera").await, gw.user("userb").await);
    let admin = gw.admin("admin").await;
    let start = json!({ "participants": [a.id, b.id] });
    let cid = str_of(&ok(StatusCode::CREATED, gw.post("/api/conversations/start", &a.token, start).await)["id"]);
    // `io(SOCKET_URL, { auth: { token } })`: a valid token connects, a bad one is refused.
    let (mut a_ws, mut b_ws, mut admin_ws) = (gw.connect(&a).await, gw.connect(&b).await, gw.connect(&admin).await);
    assert!(crate::harness::Ws::connect(&gw.ws_url("not.a.token")).await.is_err());

    // Message sending flow: `chatMessage {conversationId, message}`. SPEC §4 names the text
    // `text`, so the seed's field is an error event, and the socket stays usable.
    a_ws.send(json!({ "action": "chatMessage", "conversationId": cid, "message": "hi" })).await;
    assert_eq!(a_ws.event("error").await["code"], "VALIDATION_ERROR");
    a_ws.send(json!({ "action": "chatMessage", "conversationId": cid, "text": "hi" })).await;
    let confirmation = a_ws.event("messageReceived").await;
    let mid = str_of(&confirmation["message"]["id"]);
    let broadcast = b_ws.event("chatMessage").await;
    assert_eq!(
        (broadcast["message"]["id"].as_str(), broadcast["message"]["text"].as_str()),
        (Some(mid.as_str()), Some("hi"))
    );
    // Rooms: every admin receives new message notifications (`newMessage`).
    assert_eq!(admin_ws.event("newMessage").await["message"]["id"], mid.as_str());

    // Typing indicator flow, to the connections viewing the conversation (its room).
    b_ws.send(json!({ "action": "joinConversation", "conversationId": cid })).await;
    gw.wait_room(&cid, 1).await;
    for is_typing in [true, false] {
        a_ws.send(json!({ "action": "typing", "conversationId": cid, "isTyping": is_typing })).await;
        let ev = b_ws.event("typingStatus").await;
        assert_eq!((ev["userId"].as_str(), ev["isTyping"].as_bool()), (Some(a.id.as_str()), Some(is_typing)));
    }

    // Read receipt flow: `messagesMarkedRead` to the reader, `messagesRead` to the sender.
    b_ws.send(json!({ "action": "markAsRead", "conversationId": cid })).await;
    assert_eq!(b_ws.event("messagesMarkedRead").await["conversationId"], cid.as_str());
    assert_eq!(a_ws.event("messagesRead").await["userId"], b.id.as_str());
}

async fn seed_004_rest_examples_log_in_refresh_and_answer_in_the_documented_formats(store: Store) {
    let gw = Gateway::start(store).await;
    let name = unique_username("client");
    let user = register(&gw, &name).await;
    // POST /auth/login → JWT token + user data; the token carries the role and lasts 1 hour.
    let login =
        ok(StatusCode::OK, gw.post_anon("/api/auth/login", json!({ "username": name, "password": PASSWORD })).await);
    assert_eq!(login["user"]["id"], user.id.as_str());
    let claims = gw.app().verify(login["token"].as_str()).expect("a valid token");
    assert_eq!((claims.role, claims.exp - claims.iat), (chat::models::Role::User, 3600));

    // `api.post('/auth/refresh')`: a new token; the old one stops working (SPEC §2).
    let token = str_of(&login["token"]);
    let refreshed = ok(StatusCode::OK, gw.post("/api/auth/refresh", &token, json!({})).await);
    let fresh = str_of(&refreshed["token"]);
    assert_ne!(fresh, token);
    assert_eq!(error(StatusCode::UNAUTHORIZED, gw.get("/api/users/me", &token).await), "UNAUTHORIZED");
    ok(StatusCode::OK, gw.get("/api/users/me", &fresh).await);

    // Error response format `{success: false, error: {code, message, details}}` for the seed's
    // error types: validation (its test: "should reject empty messages"), authentication,
    // authorization and not found.
    let other = gw.user("other").await;
    let empty = json!({ "receiverId": other.id, "content": "" });
    assert_eq!(error(StatusCode::BAD_REQUEST, gw.post("/api/messages", &fresh, empty).await), "VALIDATION_ERROR");
    assert_eq!(
        error(StatusCode::UNAUTHORIZED, gw.call(Method::GET, "/api/conversations", None, None).await),
        "UNAUTHORIZED"
    );
    // Authorization rules: only admins view all conversations and delete one.
    let start = json!({ "participants": [user.id, other.id] });
    let cid = str_of(&ok(StatusCode::CREATED, gw.post("/api/conversations/start", &fresh, start).await)["id"]);
    assert_eq!(error(StatusCode::FORBIDDEN, gw.get("/api/conversations?all=true", &fresh).await), "FORBIDDEN");
    assert_eq!(error(StatusCode::FORBIDDEN, gw.delete(format!("/api/conversations/{cid}"), &fresh).await), "FORBIDDEN");
    let admin = gw.admin("admin").await;
    let all = ok(StatusCode::OK, gw.get("/api/conversations?all=true", &admin.token).await);
    assert!(all.as_array().unwrap().iter().any(|c| c["id"] == cid.as_str()));
    ok(StatusCode::OK, gw.delete(format!("/api/conversations/{cid}"), &admin.token).await);
    assert_eq!(
        error(StatusCode::NOT_FOUND, gw.get(format!("/api/conversations/{cid}"), &admin.token).await),
        "NOT_FOUND"
    );
}
