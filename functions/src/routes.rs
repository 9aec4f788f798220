//! The route table: every HTTP route and WebSocket route, and the Lambda function serving it.
//! The local gateway serves exactly this table, and a test checks `template.yaml` against it,
//! so adding a route is one handler plus one line here (and its function in the template).

use crate::http::{self, HttpHandler};
use crate::ws::{handlers as ws, WsHandler};
use crate::{http_handler, ws_handler};
use chat::models::ConversationKind::{Channel, Group};

#[derive(Clone, Copy)]
pub enum Handler {
    Http(HttpHandler),
    Ws(WsHandler),
    /// The `$connect` REQUEST authorizer.
    Authorizer,
}

#[derive(Clone, Copy)]
pub struct Route {
    /// The Lambda function (the template's `Handler`, the `_HANDLER` of its runtime).
    pub function: &'static str,
    /// API Gateway's route key: `POST /api/users/register`, `$connect`, `sendMessage`, …
    pub key: &'static str,
    pub handler: Handler,
}

const fn h(function: &'static str, key: &'static str, handler: HttpHandler) -> Route {
    Route { function, key, handler: Handler::Http(handler) }
}

const fn w(function: &'static str, key: &'static str, handler: WsHandler) -> Route {
    Route { function, key, handler: Handler::Ws(handler) }
}

/// The function name of the `$connect` authorizer.
pub const AUTHORIZER: &str = "ws-authorizer";

pub fn routes() -> Vec<Route> {
    use http::{auth, conversations as conv, groups, messages as msg, notifications as notif, status, users};
    vec![
        h("auth-register", "POST /api/users/register", http_handler!(auth::register)),
        h("auth-register", "POST /api/auth/signup", http_handler!(auth::register)),
        h("auth-login", "POST /api/users/login", http_handler!(auth::login)),
        h("auth-login", "POST /api/auth/login", http_handler!(auth::login)),
        h("auth-logout", "POST /api/auth/logout", http_handler!(auth::logout)),
        h("auth-refresh", "POST /api/auth/refresh", http_handler!(auth::refresh)),
        h("users-list", "GET /api/users", http_handler!(users::list)),
        h("users-me", "GET /api/users/me", http_handler!(users::me)),
        h("users-get", "GET /api/users/{id}", http_handler!(users::get)),
        h("users-update", "PUT /api/users/{id}", http_handler!(users::update)),
        h("users-delete", "DELETE /api/users/{id}", http_handler!(users::delete)),
        h("conversations-start", "POST /api/conversations/start", http_handler!(conv::start)),
        h("conversations-list", "GET /api/conversations", http_handler!(conv::list)),
        h("conversations-get", "GET /api/conversations/{id}", http_handler!(conv::get)),
        h("conversations-delete", "DELETE /api/conversations/{id}", http_handler!(conv::delete)),
        h("conversations-read", "POST /api/conversations/{id}/read", http_handler!(conv::read)),
        h("messages-send", "POST /api/messages/send", http_handler!(msg::send_text_to_receiver)),
        h("messages-send", "POST /api/messages", http_handler!(msg::send_content_to_receiver)),
        h("messages-send", "POST /api/messages/send/{id}", http_handler!(msg::send_to_path_user)),
        h("messages-list", "GET /api/messages/{id}", http_handler!(msg::list)),
        h("messages-delete", "DELETE /api/messages/{messageId}", http_handler!(msg::delete)),
        h("groups-create", "POST /api/groups", http_handler!(groups::create, Group)),
        h("groups-create", "POST /api/channels", http_handler!(groups::create, Channel)),
        h("groups-members", "PUT /api/groups/{id}/members", http_handler!(groups::members, Group)),
        h("groups-members", "PUT /api/channels/{id}/members", http_handler!(groups::members, Channel)),
        h("groups-get", "GET /api/groups/{id}", http_handler!(groups::get, Group)),
        h("groups-get", "GET /api/channels/{id}", http_handler!(groups::get, Channel)),
        h("groups-list", "GET /api/groups", http_handler!(groups::list, Group)),
        h("groups-list", "GET /api/channels", http_handler!(groups::list, Channel)),
        h("status-set", "PUT /api/status", http_handler!(status::set)),
        h("status-get", "GET /api/status/{userId}", http_handler!(status::get)),
        h("notifications-create", "POST /api/notifications", http_handler!(notif::create)),
        h("notifications-list", "GET /api/notifications", http_handler!(notif::list)),
        h("notifications-read", "POST /api/notifications/{id}/read", http_handler!(notif::read_one)),
        h("notifications-read", "POST /api/notifications/read", http_handler!(notif::read_all)),
        h("auth-register", "POST /users/auth/create", http_handler!(auth::register_with_email)),
        h("auth-login", "POST /users/auth/login", http_handler!(auth::login_with_email)),
        h("messages-send", "POST /chat", http_handler!(msg::send_details_to_receiver)),
        h("messages-list", "GET /chat/conversation/{senderId}/{receiverId}", http_handler!(msg::list_between)),
        Route { function: AUTHORIZER, key: "$authorizer", handler: Handler::Authorizer },
        w("ws-connect", "$connect", ws_handler!(ws::connect)),
        w("ws-disconnect", "$disconnect", ws_handler!(ws::disconnect)),
        w("ws-default", "$default", ws_handler!(ws::default)),
        w("ws-send-message", "sendMessage", ws_handler!(ws::send_message)),
        w("ws-send-message", "chatMessage", ws_handler!(ws::send_message)),
        w("ws-typing", "typing", ws_handler!(ws::typing)),
        w("ws-mark-as-read", "markAsRead", ws_handler!(ws::mark_as_read)),
        w("ws-join-conversation", "joinConversation", ws_handler!(ws::join_conversation)),
        w("ws-leave-conversation", "leaveConversation", ws_handler!(ws::leave_conversation)),
        w("ws-set-status", "setStatus", ws_handler!(ws::set_status)),
        w("ws-ping", "ping", ws_handler!(ws::ping)),
    ]
}

/// An HTTP route key split into method and path template.
pub fn http_parts(key: &str) -> Option<(&str, &str)> {
    key.split_once(' ')
}

/// The route of a WebSocket frame's `action` (route selection `$request.body.action`).
pub fn ws_route_key(action: Option<&str>, routes: &[Route]) -> &'static str {
    routes
        .iter()
        .filter(|r| matches!(r.handler, Handler::Ws(_)) && !r.key.starts_with('$'))
        .find(|r| Some(r.key) == action)
        .map_or("$default", |r| r.key)
}
