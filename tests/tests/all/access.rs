//! The access matrix (OWASP API1 BOLA, API3 property-level, API5 function-level): every HTTP
//! route and every WebSocket action, called by each kind of caller, with the status (or event)
//! each must get. Every id in a path or a body names an object of a fresh fixture owned by
//! someone in particular, so a stranger, a plain member, the owner, a group admin and a system
//! admin each meet it in their own role. A route of `functions/src/routes.rs` with no row here
//! fails the test, so new routes join the matrix.
//!
//! On top of the statuses: no response of any cell carries a secret (password hash, token
//! bookkeeping), and a stranger sees only public profile fields.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use chat::clock::{iso, now_ms};
use chat::models::{Password, Role as UserRole, User as StoredUser};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{eventually, Gateway, Store, Ws};
use crate::support::unique_username;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Anonymous,
    /// A user with no relation to the object.
    Stranger,
    /// A member of the conversation / group who does not own the object.
    Member,
    /// The object's owner: the user themself, a message's sender, a group's owner.
    Owner,
    /// An admin of the group (not its owner); for other objects, just another user.
    GroupAdmin,
    /// A system admin.
    Admin,
}

const ROLES: [Role; 6] = [Role::Anonymous, Role::Stranger, Role::Member, Role::Owner, Role::GroupAdmin, Role::Admin];

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Who the `Owner` column is for a row.
#[derive(Debug, Clone, Copy)]
enum Owner {
    /// alice: sender of `msg`, owner of the group and channel, member of `conv`, owner of `notif`.
    Alice,
    /// A fresh user of its own (routes on `/api/users/{id}` that change or delete it).
    Victim,
}

/// The objects of one cell, fresh each time (a refused or granted write cannot leak into
/// another cell).
struct Fx {
    alice: String,
    alice_email: String,
    partner: String,
    victim: String,
    conv: String,
    msg: String,
    group: String,
    group_msg: String,
    channel: String,
    notif: String,
    /// alice's registered phone.
    device: String,
    /// A file alice sent in `conv` (an upload attached to a message).
    attachment: String,
    /// An avatar upload of alice's, not used yet.
    avatar: String,
    /// An open report (by the stranger, of the victim).
    report: String,
}

type PathFn = fn(&Fx) -> String;
type BodyFn = fn(&Fx, Option<&str>) -> Option<Value>;

struct Row {
    /// The route key of `functions/src/routes.rs` this row exercises.
    key: &'static str,
    label: &'static str,
    method: Method,
    path: PathFn,
    body: BodyFn,
    owner: Owner,
    /// Per role, in `ROLES` order; `None`: not meaningful for this row.
    expect: [Option<u16>; 6],
}

const X: Option<u16> = None;
const fn s(code: u16) -> Option<u16> {
    Some(code)
}

fn no_body(_: &Fx, _: Option<&str>) -> Option<Value> {
    None
}

fn empty(_: &Fx, _: Option<&str>) -> Option<Value> {
    Some(json!({}))
}

#[rustfmt::skip]
fn http_rows() -> Vec<Row> {
    use Owner::*;
    let r = |key, label, method, path: PathFn, body: BodyFn, owner, expect| Row { key, label, method, path, body, owner, expect };
    //                                                                                          anon     stranger member   owner    g.admin  admin
    vec![
        r("POST /api/users/register", "register", Method::POST, |_| "/api/users/register".into(),
          |_, _| Some(json!({ "username": unique_username("r"), "password": "password 123" })), Alice,   [s(201), s(201), X, X, X, s(201)]),
        r("POST /api/users/register", "register an admin", Method::POST, |_| "/api/users/register".into(),
          |_, _| Some(json!({ "username": unique_username("r"), "password": "password 123", "role": "admin" })), Alice, [s(403), s(403), s(403), X, X, s(201)]),
        r("POST /api/auth/signup", "signup", Method::POST, |_| "/api/auth/signup".into(),
          |_, _| Some(json!({ "username": unique_username("s"), "password": "password 123", "confirmPassword": "password 123" })), Alice, [s(201), s(201), X, X, X, s(201)]),
        r("POST /api/auth/signup", "signup an admin", Method::POST, |_| "/api/auth/signup".into(),
          |_, _| Some(json!({ "username": unique_username("s"), "password": "password 123", "role": "admin" })), Alice, [s(403), s(403), X, X, X, s(201)]),
        r("POST /api/users/login", "login", Method::POST, |_| "/api/users/login".into(),
          |f, _| Some(json!({ "username": f.alice_email, "password": PASSWORD })), Alice,       [s(200), X, X, X, X, X]),
        r("POST /api/auth/login", "login", Method::POST, |_| "/api/auth/login".into(),
          |f, _| Some(json!({ "email": f.alice_email, "password": PASSWORD })), Alice,          [s(200), X, X, X, X, X]),
        r("POST /api/auth/logout", "logout", Method::POST, |_| "/api/auth/logout".into(), empty, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("POST /api/auth/refresh", "refresh", Method::POST, |_| "/api/auth/refresh".into(), empty, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("POST /api/auth/ws-ticket", "a WebSocket ticket", Method::POST, |_| "/api/auth/ws-ticket".into(), empty, Alice,
                                                                                                  [s(401), s(201), s(201), s(201), s(201), s(201)]),
        r("GET /api/users", "directory", Method::GET, |_| "/api/users".into(), no_body, Alice,  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("GET /api/users/me", "me", Method::GET, |_| "/api/users/me".into(), no_body, Alice,   [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("GET /api/users/{id}", "a profile", Method::GET, |f| format!("/api/users/{}", f.alice), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("PUT /api/users/{id}", "change a profile", Method::PUT, |f| format!("/api/users/{}", f.victim),
          |_, _| Some(json!({ "firstName": "changed" })), Victim,                               [s(401), s(403), s(403), s(200), s(403), s(200)]),
        r("PUT /api/users/{id}", "make someone an admin", Method::PUT, |f| format!("/api/users/{}", f.victim),
          |_, _| Some(json!({ "role": "admin" })), Victim,                                      [s(401), s(403), s(403), s(403), s(403), s(200)]),
        r("DELETE /api/users/{id}", "delete a user", Method::DELETE, |f| format!("/api/users/{}", f.victim), no_body, Victim,
                                                                                                  [s(401), s(403), s(403), s(200), s(403), s(200)]),
        r("POST /api/conversations/start", "start alice+partner", Method::POST, |_| "/api/conversations/start".into(),
          |f, _| Some(json!({ "participants": [f.alice, f.partner] })), Alice,                  [s(401), s(403), s(200), s(200), s(403), s(200)]),
        r("GET /api/conversations", "my conversations", Method::GET, |_| "/api/conversations".into(), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("GET /api/conversations", "every conversation", Method::GET, |_| "/api/conversations?all=true".into(), no_body, Alice,
                                                                                                  [s(401), s(403), s(403), s(403), s(403), s(200)]),
        r("GET /api/conversations/{id}", "a conversation", Method::GET, |f| format!("/api/conversations/{}", f.conv), no_body, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(404), s(200)]),
        r("GET /api/conversations/{id}", "a group as a conversation", Method::GET, |f| format!("/api/conversations/{}", f.group), no_body, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(200), s(200)]),
        r("DELETE /api/conversations/{id}", "delete a conversation", Method::DELETE, |f| format!("/api/conversations/{}", f.conv), no_body, Alice,
                                                                                                  [s(401), s(403), s(403), s(403), s(403), s(200)]),
        r("POST /api/conversations/{id}/read", "mark read", Method::POST, |f| format!("/api/conversations/{}/read", f.conv), empty, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(404), s(403)]),
        r("POST /api/messages/send", "send (seed 000)", Method::POST, |_| "/api/messages/send".into(),
          |f, _| Some(json!({ "receiver": f.conv, "text": "hi" })), Alice,                      [s(401), s(404), s(201), s(201), s(404), s(403)]),
        r("POST /api/messages/send", "send as alice (seed 000)", Method::POST, |_| "/api/messages/send".into(),
          |f, _| Some(json!({ "sender": f.alice, "receiver": f.conv, "text": "spoof" })), Alice, [s(401), s(403), s(403), s(201), s(403), s(403)]),
        r("POST /api/messages", "send (seed 002)", Method::POST, |_| "/api/messages".into(),
          |f, _| Some(json!({ "receiverId": f.conv, "content": "hi" })), Alice,                 [s(401), s(404), s(201), s(201), s(404), s(403)]),
        r("POST /api/messages", "send as alice (seed 002)", Method::POST, |_| "/api/messages".into(),
          |f, _| Some(json!({ "senderId": f.alice, "receiverId": f.conv, "content": "spoof" })), Alice, [s(401), s(403), s(403), s(201), s(403), s(403)]),
        r("POST /api/messages", "send to a group", Method::POST, |_| "/api/messages".into(),
          |f, _| Some(json!({ "receiverId": f.group, "content": "hi" })), Alice,                [s(401), s(404), s(201), s(201), s(201), s(403)]),
        r("POST /api/messages/send/{id}", "send (seed 003)", Method::POST, |f| format!("/api/messages/send/{}", f.conv),
          |_, _| Some(json!({ "message": "hi" })), Alice,                                       [s(401), s(404), s(201), s(201), s(404), s(403)]),
        r("GET /api/messages/{id}", "history", Method::GET, |f| format!("/api/messages/{}", f.conv), no_body, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(404), s(200)]),
        r("GET /api/messages/{id}", "group history", Method::GET, |f| format!("/api/messages/{}", f.group), no_body, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(200), s(200)]),
        r("GET /api/sync", "my changes since now", Method::GET, |_| "/api/sync".into(), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("GET /api/messages/{id}/replies", "the thread of alice's message", Method::GET, |f| format!("/api/messages/{}/replies", f.msg), no_body, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(404), s(200)]),
        r("GET /api/messages/{id}/replies", "a group thread", Method::GET, |f| format!("/api/messages/{}/replies", f.group_msg), no_body, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(200), s(200)]),
        r("POST /api/messages", "reply to alice's message", Method::POST, |_| "/api/messages".into(),
          |f, _| Some(json!({ "receiverId": f.conv, "content": "re", "parentId": f.msg })), Alice, [s(401), s(404), s(201), s(201), s(404), s(403)]),
        r("PATCH /api/messages/{id}", "edit alice's message", Method::PATCH, |f| format!("/api/messages/{}", f.msg),
          |_, _| Some(json!({ "text": "edited" })), Alice,                                   [s(401), s(404), s(403), s(200), s(404), s(403)]),
        r("PUT /api/messages/{id}/reactions/{reaction}", "react to alice's message", Method::PUT, |f| format!("/api/messages/{}/reactions/:ok:", f.msg),
          no_body, Alice,                                                                      [s(401), s(404), s(200), s(200), s(404), s(404)]),
        r("DELETE /api/messages/{id}/reactions/{reaction}", "take a reaction back", Method::DELETE, |f| format!("/api/messages/{}/reactions/:ok:", f.msg),
          no_body, Alice,                                                                      [s(401), s(404), s(200), s(200), s(404), s(404)]),
        r("POST /api/conversations/{id}/pins/{messageId}", "pin in a direct conversation", Method::POST, |f| format!("/api/conversations/{}/pins/{}", f.conv, f.msg),
          no_body, Alice,                                                                      [s(401), s(404), s(200), s(200), s(404), s(200)]),
        r("POST /api/conversations/{id}/pins/{messageId}", "pin in a group", Method::POST, |f| format!("/api/conversations/{}/pins/{}", f.group, f.group_msg),
          no_body, Alice,                                                                      [s(401), s(404), s(403), s(200), s(200), s(200)]),
        r("GET /api/conversations/{id}/pins", "the group's pins", Method::GET, |f| format!("/api/conversations/{}/pins", f.group),
          no_body, Alice,                                                                      [s(401), s(404), s(200), s(200), s(200), s(200)]),
        r("DELETE /api/conversations/{id}/pins/{messageId}", "unpin in a group", Method::DELETE, |f| format!("/api/conversations/{}/pins/{}", f.group, f.group_msg),
          no_body, Alice,                                                                      [s(401), s(404), s(403), s(200), s(200), s(200)]),
        r("DELETE /api/messages/{id}", "delete alice's message", Method::DELETE, |f| format!("/api/messages/{}", f.msg), no_body, Alice,
                                                                                                  [s(401), s(404), s(403), s(200), s(404), s(200)]),
        r("DELETE /api/messages/{id}", "delete the partner's group message", Method::DELETE, |f| format!("/api/messages/{}", f.group_msg), no_body, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(200), s(200)]),
        r("POST /api/groups", "create a group", Method::POST, |_| "/api/groups".into(),
          |_, _| Some(json!({ "name": "g" })), Alice,                                          [s(401), s(201), s(201), s(201), s(201), s(201)]),
        r("POST /api/channels", "create a channel", Method::POST, |_| "/api/channels".into(),
          |_, _| Some(json!({ "name": "c" })), Alice,                                          [s(401), s(201), s(201), s(201), s(201), s(201)]),
        r("PUT /api/groups/{id}/members", "add someone to a group", Method::PUT, |f| format!("/api/groups/{}/members", f.group),
          |f, _| Some(json!({ "memberId": f.victim })), Alice,                                 [s(401), s(404), s(403), s(200), s(200), s(200)]),
        r("PUT /api/groups/{id}/members", "add oneself to a group", Method::PUT, |f| format!("/api/groups/{}/members", f.group),
          |_, me| Some(json!({ "memberId": me })), Alice,                                       [s(401), s(404), s(403), s(200), s(200), s(200)]),
        r("PUT /api/groups/{id}/members", "remove the partner from a group", Method::PUT, |f| format!("/api/groups/{}/members", f.group),
          |f, _| Some(json!({ "memberId": f.partner, "action": "remove" })), Alice,            [s(401), s(404), s(200), s(200), s(200), s(200)]),
        r("PUT /api/groups/{id}/members", "remove the owner from a group", Method::PUT, |f| format!("/api/groups/{}/members", f.group),
          |f, _| Some(json!({ "memberId": f.alice, "action": "remove" })), Alice,              [s(401), s(404), s(403), s(409), s(409), s(409)]),
        r("PUT /api/groups/{id}/members", "promote the partner", Method::PUT, |f| format!("/api/groups/{}/members", f.group),
          |f, _| Some(json!({ "memberId": f.partner, "action": "promote" })), Alice,           [s(401), s(404), s(403), s(200), s(403), s(200)]),
        r("PUT /api/channels/{id}/members", "join a channel", Method::PUT, |f| format!("/api/channels/{}/members", f.channel),
          |_, me| Some(json!({ "memberId": me })), Alice,                                       [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("PUT /api/channels/{id}/members", "add someone to a channel", Method::PUT, |f| format!("/api/channels/{}/members", f.channel),
          |f, _| Some(json!({ "memberId": f.victim })), Alice,                                 [s(401), s(403), s(403), s(200), s(200), s(200)]),
        r("PUT /api/channels/{id}/members", "join a private group as a channel", Method::PUT, |f| format!("/api/channels/{}/members", f.group),
          |_, me| Some(json!({ "memberId": me })), Alice,                                       [s(401), s(404), s(404), s(404), s(404), s(404)]),
        r("GET /api/groups/{id}", "a group", Method::GET, |f| format!("/api/groups/{}", f.group), no_body, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(200), s(200)]),
        r("GET /api/groups/{id}", "a channel as a group", Method::GET, |f| format!("/api/groups/{}", f.channel), no_body, Alice,
                                                                                                  [s(401), s(404), s(404), s(404), s(404), s(404)]),
        r("GET /api/channels/{id}", "a channel", Method::GET, |f| format!("/api/channels/{}", f.channel), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("GET /api/channels/{id}", "a group as a channel", Method::GET, |f| format!("/api/channels/{}", f.group), no_body, Alice,
                                                                                                  [s(401), s(404), s(404), s(404), s(404), s(404)]),
        r("GET /api/groups", "my groups", Method::GET, |_| "/api/groups".into(), no_body, Alice, [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("GET /api/channels", "my channels", Method::GET, |_| "/api/channels".into(), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("GET /api/channels", "discover channels", Method::GET, |_| "/api/channels?discover=true".into(), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("PUT /api/status", "set my status", Method::PUT, |_| "/api/status".into(),
          |_, _| Some(json!({ "status": "away" })), Alice,                                      [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("PUT /api/status", "set alice's status", Method::PUT, |_| "/api/status".into(),
          |f, _| Some(json!({ "status": "busy", "userId": f.alice })), Alice,                   [s(401), s(403), s(403), s(200), s(403), s(403)]),
        r("GET /api/status/{userId}", "a status", Method::GET, |f| format!("/api/status/{}", f.alice), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("POST /api/notifications", "notify alice", Method::POST, |_| "/api/notifications".into(),
          |f, _| Some(json!({ "userId": f.alice, "message": "hello" })), Alice,                 [s(401), s(403), s(403), s(403), s(403), s(201)]),
        r("GET /api/notifications", "my notifications", Method::GET, |_| "/api/notifications".into(), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("POST /api/notifications/{id}/read", "read alice's notification", Method::POST, |f| format!("/api/notifications/{}/read", f.notif), empty, Alice,
                                                                                                  [s(401), s(404), s(404), s(200), s(404), s(404)]),
        r("POST /api/notifications/read", "read all mine", Method::POST, |_| "/api/notifications/read".into(), empty, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("POST /api/devices", "register a phone", Method::POST, |_| "/api/devices".into(),
          |_, _| Some(json!({ "platform": "fcm", "token": unique_username("t") })), Alice,      [s(401), s(201), s(201), s(201), s(201), s(201)]),
        r("GET /api/devices", "my phones", Method::GET, |_| "/api/devices".into(), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("DELETE /api/devices/{id}", "unregister alice's phone", Method::DELETE, |f| format!("/api/devices/{}", f.device), no_body, Alice,
                                                                                                  [s(401), s(404), s(404), s(200), s(404), s(404)]),
        r("PUT /api/conversations/{id}/settings", "mute a direct conversation", Method::PUT, |f| format!("/api/conversations/{}/settings", f.conv),
          |_, _| Some(json!({ "mutedUntil": "2100-01-01T00:00:00Z" })), Alice,                  [s(401), s(404), s(200), s(200), s(404), s(404)]),
        r("PUT /api/conversations/{id}/settings", "preview of a group", Method::PUT, |f| format!("/api/conversations/{}/settings", f.group),
          |_, _| Some(json!({ "preview": "full" })), Alice,                                     [s(401), s(404), s(200), s(200), s(200), s(404)]),
        r("PATCH /api/conversations/{id}/policy", "disappearing messages in a direct conversation", Method::PATCH, |f| format!("/api/conversations/{}/policy", f.conv),
          |_, _| Some(json!({ "messageLifetimeSeconds": 3600 })), Alice,                        [s(401), s(404), s(200), s(200), s(404), s(403)]),
        r("PATCH /api/conversations/{id}/policy", "slow mode in a group", Method::PATCH, |f| format!("/api/conversations/{}/policy", f.group),
          |_, _| Some(json!({ "slowModeSeconds": 30, "readOnly": true })), Alice,               [s(401), s(404), s(403), s(200), s(200), s(200)]),
        r("POST /api/uploads", "upload to alice's conversation", Method::POST, |_| "/api/uploads".into(),
          |f, _| Some(json!({ "fileName": "a.pdf", "contentType": "application/pdf", "size": 10, "purpose": "attachment", "conversationId": f.conv })), Alice,
                                                                                                  [s(401), s(404), s(201), s(201), s(404), s(404)]),
        r("POST /api/uploads", "upload an avatar", Method::POST, |_| "/api/uploads".into(),
          |_, _| Some(json!({ "fileName": "me.png", "contentType": "image/png", "size": 10, "purpose": "avatar" })), Alice,
                                                                                                  [s(401), s(201), s(201), s(201), s(201), s(201)]),
        r("PUT /api/users/me/avatar", "use alice's avatar upload", Method::PUT, |_| "/api/users/me/avatar".into(),
          |f, _| Some(json!({ "uploadId": f.avatar })), Alice,                                   [s(401), s(404), s(404), s(200), s(404), s(404)]),
        // 302 to the object store, followed: its 200.
        r("GET /api/attachments/{id}", "alice's attachment", Method::GET, |f| format!("/api/attachments/{}", f.attachment), no_body, Alice,
                                                                                                  [s(401), s(404), s(200), s(200), s(404), s(200)]),
        r("PUT /api/users/{id}/block", "block alice", Method::PUT, |f| format!("/api/users/{}/block", f.alice), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(403), s(200), s(200)]),
        r("DELETE /api/users/{id}/block", "unblock alice", Method::DELETE, |f| format!("/api/users/{}/block", f.alice), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(403), s(200), s(200)]),
        r("GET /api/users/me/blocks", "my blocks", Method::GET, |_| "/api/users/me/blocks".into(), no_body, Alice,
                                                                                                  [s(401), s(200), s(200), s(200), s(200), s(200)]),
        r("POST /api/messages/{id}/reports", "report alice's message", Method::POST, |f| format!("/api/messages/{}/reports", f.msg),
          |_, _| Some(json!({ "reason": "spam" })), Alice,                                      [s(401), s(404), s(201), s(403), s(404), s(201)]),
        r("POST /api/messages/{id}/reports", "report the partner's group message", Method::POST, |f| format!("/api/messages/{}/reports", f.group_msg),
          |_, _| Some(json!({ "reason": "hate", "note": "see above" })), Alice,                 [s(401), s(404), s(403), s(201), s(201), s(201)]),
        r("POST /api/users/{id}/reports", "report alice", Method::POST, |f| format!("/api/users/{}/reports", f.alice),
          |_, _| Some(json!({ "reason": "other" })), Alice,                                     [s(401), s(201), s(201), s(403), s(201), s(201)]),
        r("GET /api/reports", "open reports", Method::GET, |_| "/api/reports?status=open".into(), no_body, Alice,
                                                                                                  [s(401), s(403), s(403), s(403), s(403), s(200)]),
        r("POST /api/reports/{id}/resolve", "dismiss a report", Method::POST, |f| format!("/api/reports/{}/resolve", f.report),
          |_, _| Some(json!({ "action": "dismiss" })), Alice,                                   [s(401), s(403), s(403), s(403), s(403), s(200)]),
        r("POST /api/reports/{id}/resolve", "suspend the reported user", Method::POST, |f| format!("/api/reports/{}/resolve", f.report),
          |_, _| Some(json!({ "action": "suspend_user", "until": "2100-01-01T00:00:00Z" })), Alice, [s(401), s(403), s(403), s(403), s(403), s(200)]),
        r("DELETE /api/users/{id}/suspension", "lift the victim's suspension", Method::DELETE, |f| format!("/api/users/{}/suspension", f.victim),
          no_body, Alice,                                                                      [s(401), s(403), s(403), s(403), s(403), s(200)]),
        r("GET /api/audit", "the audit log", Method::GET, |_| "/api/audit".into(), no_body, Alice,
                                                                                                  [s(401), s(403), s(403), s(403), s(403), s(200)]),
        r("PUT /api/groups/{id}/bans/{userId}", "ban the victim from a group", Method::PUT, |f| format!("/api/groups/{}/bans/{}", f.group, f.victim),
          no_body, Alice,                                                                      [s(401), s(404), s(403), s(200), s(200), s(200)]),
        r("PUT /api/groups/{id}/bans/{userId}", "ban the partner from a group", Method::PUT, |f| format!("/api/groups/{}/bans/{}", f.group, f.partner),
          no_body, Alice,                                                                      [s(401), s(404), s(403), s(200), s(200), s(200)]),
        r("PUT /api/groups/{id}/bans/{userId}", "ban the owner from a group", Method::PUT, |f| format!("/api/groups/{}/bans/{}", f.group, f.alice),
          no_body, Alice,                                                                      [s(401), s(404), s(403), s(403), s(409), s(409)]),
        r("DELETE /api/groups/{id}/bans/{userId}", "unban the victim from a group", Method::DELETE, |f| format!("/api/groups/{}/bans/{}", f.group, f.victim),
          no_body, Alice,                                                                      [s(401), s(404), s(403), s(200), s(200), s(200)]),
        r("PUT /api/channels/{id}/bans/{userId}", "ban the victim from a channel", Method::PUT, |f| format!("/api/channels/{}/bans/{}", f.channel, f.victim),
          no_body, Alice,                                                                      [s(401), s(403), s(403), s(200), s(200), s(200)]),
        r("DELETE /api/channels/{id}/bans/{userId}", "unban the victim from a channel", Method::DELETE, |f| format!("/api/channels/{}/bans/{}", f.channel, f.victim),
          no_body, Alice,                                                                      [s(401), s(403), s(403), s(200), s(200), s(200)]),
        r("POST /users/auth/create", "create (seed 001)", Method::POST, |_| "/users/auth/create".into(),
          |_, _| Some(json!({ "firstName": "A", "lastName": "B", "email": format!("{}@example.com", unique_username("e")), "password": "password 123" })), Alice,
                                                                                                  [s(201), X, X, X, X, X]),
        r("POST /users/auth/login", "login (seed 001)", Method::POST, |_| "/users/auth/login".into(),
          |f, _| Some(json!({ "email": f.alice_email, "password": PASSWORD })), Alice,          [s(200), X, X, X, X, X]),
        r("POST /chat", "send (seed 001)", Method::POST, |_| "/chat".into(),
          |f, _| Some(json!({ "receiver": f.conv, "messageDetails": { "text": "hi" } })), Alice, [s(401), s(404), s(201), s(201), s(404), s(403)]),
        r("POST /chat", "send as alice (seed 001)", Method::POST, |_| "/chat".into(),
          |f, _| Some(json!({ "sender": f.alice, "receiver": f.conv, "messageDetails": { "text": "spoof" } })), Alice,
                                                                                                  [s(401), s(403), s(403), s(201), s(403), s(403)]),
        r("GET /chat/conversation/{senderId}/{receiverId}", "a conversation (seed 001)", Method::GET,
          |f| format!("/chat/conversation/{}/{}", f.alice, f.partner), no_body, Alice,         [s(401), s(403), s(200), s(200), s(403), s(200)]),
    ]
}

const PASSWORD: &str = "correct horse battery";

/// A user of the world, stored directly (no argon2 per user) and given tokens by minting.
#[derive(Clone)]
struct Principal {
    user: StoredUser,
}

struct World {
    gw: Gateway,
    hash: String,
    alice: Principal,
    alice_email: String,
    eve: Principal,
    gadmin: Principal,
    admin: Principal,
}

/// Stores a user directly (no argon2 per user: every one shares `hash`).
async fn store_user(gw: &Gateway, hash: &str, prefix: &str, role: UserRole, with_email: bool) -> Principal {
    let mut user = StoredUser::new(&unique_username(prefix), hash.to_owned(), role, &iso(now_ms()));
    if with_email {
        user.email = Some(format!("{}@example.com", user.username));
    }
    chat::repo::users::create(gw.app().table(), &user).await.expect("user stored");
    Principal { user }
}

impl World {
    async fn new() -> Self {
        let gw = Gateway::start(Store::Memory).await;
        let hash = chat::auth::hash_password(&Password::parse(PASSWORD).expect("a valid password")).expect("argon2");
        let alice = store_user(&gw, &hash, "alice", UserRole::User, true).await;
        let eve = store_user(&gw, &hash, "eve", UserRole::User, false).await;
        let gadmin = store_user(&gw, &hash, "gadmin", UserRole::User, false).await;
        let admin = store_user(&gw, &hash, "admin", UserRole::Admin, false).await;
        let alice_email = alice.user.email.clone().unwrap_or_default();
        World { gw, hash, alice, alice_email, eve, gadmin, admin }
    }

    async fn store_user(&self, prefix: &str, role: UserRole) -> Principal {
        store_user(&self.gw, &self.hash, prefix, role, false).await
    }

    fn token(&self, p: &Principal) -> String {
        self.gw.app().tokens.issue(&p.user).expect("token").0
    }

    async fn ok(&self, method: Method, path: &str, token: &str, body: Value) -> Value {
        let (status, res) = self.gw.call(method.clone(), path, Some(token), Some(body)).await;
        assert!(status.is_success(), "fixture {method} {path}: {status} {res}");
        res["data"].clone()
    }

    /// Fresh objects: a partner in a direct conversation with alice (with alice's message in
    /// it), a group and a channel owned by alice with the partner and a promoted group admin,
    /// the partner's message in the group, a notification for alice, and a victim user.
    async fn fixture(&self) -> (Fx, Principal, Principal) {
        let partner = self.store_user("partner", UserRole::User).await;
        let victim = self.store_user("victim", UserRole::User).await;
        let (alice, partner_id, gadmin_id) =
            (self.token(&self.alice), partner.user.id.to_string(), self.gadmin.user.id.to_string());
        let sent = self
            .ok(Method::POST, "/api/messages", &alice, json!({ "receiverId": partner_id, "content": "mine" }))
            .await;
        let mut ids = Vec::new();
        for kind in ["groups", "channels"] {
            let body = json!({ "name": format!("{kind} of alice"), "members": [partner_id, gadmin_id] });
            let created = self.ok(Method::POST, &format!("/api/{kind}"), &alice, body).await;
            let id = created["id"].as_str().expect("group id").to_owned();
            let promote = json!({ "memberId": gadmin_id, "action": "promote" });
            self.ok(Method::PUT, &format!("/api/{kind}/{id}/members"), &alice, promote).await;
            ids.push(id);
        }
        let group_msg = self
            .ok(
                Method::POST,
                "/api/messages",
                &self.token(&partner),
                json!({ "receiverId": ids[0], "content": "partner's" }),
            )
            .await;
        let notif = self
            .ok(
                Method::POST,
                "/api/notifications",
                &self.token(&self.admin),
                json!({ "userId": self.alice.user.id, "message": "hi" }),
            )
            .await;
        let phone = json!({ "platform": "fcm", "token": unique_username("phone") });
        let device = self.ok(Method::POST, "/api/devices", &alice, phone).await;
        let conv = sent["conversationId"].as_str().expect("conversation").to_owned();
        let ask = json!({ "fileName": "f.txt", "contentType": "text/plain", "size": 2, "purpose": "attachment", "conversationId": conv });
        let ticket = self.ok(Method::POST, "/api/uploads", &alice, ask).await;
        let stored = reqwest::Client::new()
            .put(ticket["upload"]["url"].as_str().expect("a URL"))
            .header("content-type", "text/plain")
            .header("x-amz-tagging", "pending=true")
            .body("hi")
            .send()
            .await
            .expect("the object store answers");
        assert!(stored.status().is_success(), "fixture upload: {}", stored.status());
        let attachment = ticket["uploadId"].as_str().expect("an upload id").to_owned();
        let ask_avatar = json!({ "fileName": "me.png", "contentType": "image/png", "size": 2, "purpose": "avatar" });
        let avatar_ticket = self.ok(Method::POST, "/api/uploads", &alice, ask_avatar).await;
        let stored = reqwest::Client::new()
            .put(avatar_ticket["upload"]["url"].as_str().expect("a URL"))
            .header("content-type", "image/png")
            .header("x-amz-tagging", "pending=true")
            .body("hi")
            .send()
            .await
            .expect("the object store answers");
        assert!(stored.status().is_success(), "fixture avatar: {}", stored.status());
        let avatar = avatar_ticket["uploadId"].as_str().expect("an upload id").to_owned();
        let with_file = json!({ "receiverId": conv, "content": "a file", "attachments": [attachment] });
        self.ok(Method::POST, "/api/messages", &alice, with_file).await;
        let reported = format!("/api/users/{}/reports", victim.user.id);
        let report = self.ok(Method::POST, &reported, &self.token(&self.eve), json!({ "reason": "spam" })).await;
        let fx = Fx {
            alice: self.alice.user.id.to_string(),
            alice_email: self.alice_email.clone(),
            partner: partner_id,
            victim: victim.user.id.to_string(),
            conv: sent["conversationId"].as_str().expect("conversation").to_owned(),
            msg: sent["id"].as_str().expect("message").to_owned(),
            group: ids[0].clone(),
            group_msg: group_msg["id"].as_str().expect("message").to_owned(),
            channel: ids[1].clone(),
            notif: notif["id"].as_str().expect("notification").to_owned(),
            device: device["id"].as_str().expect("device").to_owned(),
            attachment,
            avatar,
            report: report["id"].as_str().expect("report").to_owned(),
        };
        (fx, partner, victim)
    }

    fn principal<'a>(
        &'a self,
        role: Role,
        owner: Owner,
        partner: &'a Principal,
        victim: &'a Principal,
    ) -> Option<&'a Principal> {
        match role {
            Role::Anonymous => None,
            Role::Stranger => Some(&self.eve),
            Role::Member => Some(partner),
            Role::Owner => Some(match owner {
                Owner::Alice => &self.alice,
                Owner::Victim => victim,
            }),
            Role::GroupAdmin => Some(&self.gadmin),
            Role::Admin => Some(&self.admin),
        }
    }
}

/// Secrets that no response may carry, whoever asks.
const SECRETS: [&str; 4] = ["passwordHash", "tokensValidAfter", "$argon2", "password_hash"];

/// The declared caller of each route (`functions/src/routes.rs`) agrees with the matrix: a route
/// for anyone never answers an anonymous caller 401, any other always does, and an admin route
/// refuses a plain user.
#[test]
fn every_http_route_is_declared_for_the_callers_the_matrix_lets_in() {
    use functions::routes::{Access, FUNCTIONS};
    let declared: std::collections::BTreeMap<&str, Access> =
        FUNCTIONS.iter().flat_map(|d| d.routes.iter().map(|r| (r.key, r.access))).collect();
    let mut wrong = Vec::new();
    for row in http_rows() {
        let [anon, stranger, ..] = row.expect;
        let ok = match declared.get(row.key) {
            Some(Access::Anyone) => anon != Some(401),
            Some(Access::User) => anon.is_none_or(|s| s == 401),
            Some(Access::Admin) => anon.is_none_or(|s| s == 401) && stranger.is_none_or(|s| s == 403),
            None => false,
        };
        if !ok {
            wrong.push(format!("{} [{}]: declared {:?}", row.key, row.label, declared.get(row.key)));
        }
    }
    assert!(wrong.is_empty(), "declarations and the access matrix disagree:\n{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_http_route_answers_each_kind_of_caller_as_the_matrix_says() {
    let w = World::new().await;
    let rows = http_rows();
    let mut failures = Vec::new();
    let mut cells = 0;
    let mut table = String::new();
    for row in &rows {
        let mut line = format!("{:<48} {:<40}", row.key, row.label);
        for (i, role) in ROLES.iter().enumerate() {
            let Some(expected) = row.expect[i] else {
                line.push_str("     -");
                continue;
            };
            let (fx, partner, victim) = w.fixture().await;
            let who = w.principal(*role, row.owner, &partner, &victim);
            let token = who.map(|p| w.token(p));
            let me = who.map(|p| p.user.id.to_string());
            let (path, body) = ((row.path)(&fx), (row.body)(&fx, me.as_deref()));
            let (status, res) = w.gw.call(row.method.clone(), &path, token.as_deref(), body.clone()).await;
            cells += 1;
            line.push_str(&format!("  {}", status.as_u16()));
            if status.as_u16() != expected {
                failures
                    .push(format!("{} [{}] as {role}: expected {expected}, got {status} {res}", row.key, row.label));
            }
            let text = res.to_string();
            if let Some(secret) = SECRETS.iter().find(|s| text.contains(**s)) {
                failures.push(format!("{} [{}] as {role}: the response carries {secret}: {text}", row.key, row.label));
            }
            if !status.is_success() && (res["success"] != false || !res["error"]["code"].is_string()) {
                failures.push(format!("{} [{}] as {role}: not the error envelope: {res}", row.key, row.label));
            }
            if row.label == "a profile" && *role == Role::Stranger && res["data"].get("email").is_some() {
                failures.push(format!("a stranger sees alice's private fields: {res}"));
            }
        }
        table.push_str(&line);
        table.push('\n');
    }
    println!("{:<48} {:<40}  anon stran membr owner gadmn admin\n{table}{cells} cells", "route", "case");
    let covered: BTreeSet<&str> = rows.iter().map(|r| r.key).collect();
    let missing: Vec<_> = functions::routes::routes()
        .into_iter()
        .filter(|r| matches!(r.handler, functions::routes::Handler::Http(_)))
        .map(|r| r.key)
        .filter(|k| !covered.contains(k))
        .collect();
    assert!(missing.is_empty(), "HTTP routes missing from the access matrix: {missing:?}");
    assert!(failures.is_empty(), "{} of {cells} cells wrong:\n{}", failures.len(), failures.join("\n"));
}

/// What a WebSocket action must produce: an event on the caller's connection, or an `error`
/// event with this code.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Event(&'static str),
    /// No `error` within a second, and the effect is visible in the store (joinConversation).
    Quiet,
    Error(&'static str),
}

struct WsRow {
    action: &'static str,
    label: &'static str,
    frame: fn(&Fx) -> Value,
    /// Per role but anonymous (which cannot connect), in `ROLES` order.
    expect: [Outcome; 5],
}

#[rustfmt::skip]
fn ws_rows() -> Vec<WsRow> {
    use Outcome::*;
    const F: Outcome = Error("FORBIDDEN");
    // A non-member is told the conversation does not exist, as if it did not (SPEC §7).
    const N: Outcome = Error("NOT_FOUND");
    let r = |action, label, frame: fn(&Fx) -> Value, expect| WsRow { action, label, frame, expect };
    //                                                                         stranger member owner g.admin admin
    vec![
        r("sendMessage", "to the conversation", |f| json!({ "action": "sendMessage", "conversationId": f.conv, "text": "hi" }),
          [N, Event("messageReceived"), Event("messageReceived"), N, F]),
        r("sendMessage", "to the group", |f| json!({ "action": "sendMessage", "conversationId": f.group, "text": "hi" }),
          [N, Event("messageReceived"), Event("messageReceived"), Event("messageReceived"), F]),
        r("sendMessage", "a reply to alice's message", |f| json!({ "action": "sendMessage", "conversationId": f.conv, "text": "re", "parentId": f.msg }),
          [N, Event("messageReceived"), Event("messageReceived"), N, F]),
        r("chatMessage", "to the conversation", |f| json!({ "action": "chatMessage", "conversationId": f.conv, "text": "hi" }),
          [N, Event("messageReceived"), Event("messageReceived"), N, F]),
        r("editMessage", "alice's message", |f| json!({ "action": "editMessage", "messageId": f.msg, "text": "edited" }),
          [N, F, Event("messageEdited"), N, F]),
        r("react", "to alice's message", |f| json!({ "action": "react", "messageId": f.msg, "reaction": ":ok:" }),
          [N, Event("reactionAdded"), Event("reactionAdded"), N, N]),
        r("unreact", "on alice's message", |f| json!({ "action": "unreact", "messageId": f.msg, "reaction": ":ok:" }),
          [N, Event("reactionRemoved"), Event("reactionRemoved"), N, N]),
        r("typing", "in the conversation", |f| json!({ "action": "typing", "conversationId": f.conv, "isTyping": true }),
          [N, Quiet, Quiet, N, F]),
        r("markAsRead", "the conversation", |f| json!({ "action": "markAsRead", "conversationId": f.conv }),
          [N, Event("messagesMarkedRead"), Event("messagesMarkedRead"), N, F]),
        r("markAsRead", "up to alice's message", |f| json!({ "action": "markAsRead", "conversationId": f.conv, "upToMessageId": f.msg }),
          [N, Event("messagesMarkedRead"), Event("messagesMarkedRead"), N, F]),
        r("delivered", "the conversation", |f| json!({ "action": "delivered", "conversationId": f.conv }),
          [N, Quiet, Quiet, N, F]),
        r("joinConversation", "the conversation", |f| json!({ "action": "joinConversation", "conversationId": f.conv }),
          [N, Quiet, Quiet, N, F]),
        r("joinConversation", "the group", |f| json!({ "action": "joinConversation", "conversationId": f.group }),
          [N, Quiet, Quiet, Quiet, F]),
        r("leaveConversation", "the conversation", |f| json!({ "action": "leaveConversation", "conversationId": f.conv }),
          [Quiet, Quiet, Quiet, Quiet, Quiet]),
        r("setStatus", "mine", |_| json!({ "action": "setStatus", "status": "away" }),
          [Event("presence"), Event("presence"), Event("presence"), Event("presence"), Event("presence")]),
        r("ping", "", |_| json!({ "action": "ping" }),
          [Event("pong"), Event("pong"), Event("pong"), Event("pong"), Event("pong")]),
    ]
}

/// Exercised elsewhere: not client actions.
const WS_ELSEWHERE: [(&str, &str); 4] = [
    ("$stream", "phone_push.rs: the table's stream invokes the push function, no client does"),
    ("$authorizer", "attacks.rs: every forged token refused at the handshake"),
    ("$default", "ws_fuzz.rs: every unroutable frame gets an error event"),
    ("$disconnect", "fires when a socket closes; e2e.rs (typing ends on disconnect)"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_websocket_action_answers_each_kind_of_caller_as_the_matrix_says() {
    let w = World::new().await;
    // Anonymous: no connection at all.
    assert!(
        matches!(Ws::connect(&w.gw.ws).await, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401),
        "$connect without a token is refused with 401"
    );
    let mut failures = Vec::new();
    let mut cells = 1;
    let rows = ws_rows();
    for row in &rows {
        for (i, role) in ROLES[1..].iter().enumerate() {
            let expected = row.expect[i];
            let (fx, partner, victim) = w.fixture().await;
            let who = w.principal(*role, Owner::Alice, &partner, &victim).expect("a connected role");
            let mut ws = w.gw.connect_token(&w.token(who)).await;
            ws.send((row.frame)(&fx)).await;
            cells += 1;
            let outcome = match expected {
                Outcome::Event(name) => ws.event_or_error(name).await,
                Outcome::Error(_) | Outcome::Quiet => match ws.try_event("error", Duration::from_secs(1)).await {
                    Some(e) => Err(e),
                    None => Ok(Value::Null),
                },
            };
            let ok = match (expected, &outcome) {
                (Outcome::Event(_), Ok(_)) | (Outcome::Quiet, Ok(_)) => true,
                (Outcome::Error(code), Err(e)) => e["code"] == code,
                _ => false,
            };
            if !ok {
                failures
                    .push(format!("{} [{}] as {role}: expected {expected:?}, got {outcome:?}", row.action, row.label));
            }
            if expected == Outcome::Quiet && row.action == "joinConversation" {
                let conv = (row.frame)(&fx)["conversationId"].as_str().unwrap_or_default().to_owned();
                let user = &who.user.id;
                eventually("the connection views the conversation", || async {
                    let presence = chat::repo::connections::presence(w.gw.app().table(), user).await.expect("presence");
                    let mut viewing = false;
                    for conn in &presence.conn_set {
                        let c = chat::repo::connections::get(w.gw.app().table(), conn).await.expect("connection");
                        viewing |= c.and_then(|c| c.viewing).is_some_and(|v| v.as_str() == conv);
                    }
                    viewing
                })
                .await;
            }
            ws.close().await;
        }
    }
    println!("{cells} WebSocket cells");
    let covered: BTreeSet<&str> = rows.iter().map(|r| r.action).chain(WS_ELSEWHERE.iter().map(|(k, _)| *k)).collect();
    let missing: Vec<_> = functions::routes::routes()
        .into_iter()
        .filter(|r| {
            !matches!(r.handler, functions::routes::Handler::Http(_) | functions::routes::Handler::HttpDefault(_))
        })
        .map(|r| r.key)
        .filter(|k| *k != "$connect" && !covered.contains(k))
        .collect();
    assert!(missing.is_empty(), "WebSocket routes missing from the access matrix: {missing:?}");
    assert!(failures.is_empty(), "{} of {cells} cells wrong:\n{}", failures.len(), failures.join("\n"));
}

impl Ws {
    /// The event `name`, or the first `error` event instead.
    async fn event_or_error(&mut self, name: &str) -> Result<Value, Value> {
        let deadline = tokio::time::Instant::now() + crate::harness::EVENT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Some((event, data)) if event == name => return Ok(data),
                Some((event, data)) if event == "error" => return Err(data),
                Some(_) => continue,
                None => return Err(json!({ "code": "TIMEOUT", "message": format!("no {name} event") })),
            }
        }
    }
}
