//! The declaration of every Lambda function, once: its routes and their handlers, memory and
//! timeout, the AWS actions it may call (hence its IAM policy), who may call each route, and each
//! route's DynamoDB budget. The Lambda entry point and the local gateway serve this table;
//! `cargo xtask generate` writes `template.yaml` and the budget table of
//! `docs/DYNAMODB_BUDGET.md` from it; tests hold the code to it (budget and IAM: `budget.rs`).
//! Adding a route is its handler plus one `route(…)` line here (then regenerate).

use chat::iam::Action::{self, *};
use chat::iam::Resource;

use crate::http::{self, HttpHandler};
use crate::ws::{handlers as ws, WsHandler};
use crate::{http_handler, ws_handler};
use chat::models::ConversationKind::{Channel, Group};
use Access::*;
use Function::*;
use Memory::*;

/// Declares the function enum with each function's name (the template's `Handler`, read back
/// from `_HANDLER` at cold start): one place for the name.
macro_rules! functions {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// A Lambda function of the stack.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Function { $($variant),* }

        impl Function {
            pub const ALL: &'static [Function] = &[$(Function::$variant),*];

            pub const fn name(self) -> &'static str {
                match self { $(Function::$variant => $name),* }
            }
        }
    };
}

functions! {
    HttpDefault = "http-default",
    AuthRegister = "auth-register",
    AuthLogin = "auth-login",
    AuthLogout = "auth-logout",
    AuthRefresh = "auth-refresh",
    AuthWsTicket = "auth-ws-ticket",
    UsersList = "users-list",
    UsersMe = "users-me",
    UsersGet = "users-get",
    UsersUpdate = "users-update",
    UsersDelete = "users-delete",
    ConversationsStart = "conversations-start",
    ConversationsList = "conversations-list",
    ConversationsGet = "conversations-get",
    ConversationsDelete = "conversations-delete",
    ConversationsRead = "conversations-read",
    ConversationsPins = "conversations-pins",
    Sync = "sync",
    MessagesSend = "messages-send",
    MessagesList = "messages-list",
    MessagesEdit = "messages-edit",
    MessagesReact = "messages-react",
    MessagesDelete = "messages-delete",
    GroupsCreate = "groups-create",
    GroupsMembers = "groups-members",
    GroupsGet = "groups-get",
    GroupsList = "groups-list",
    StatusSet = "status-set",
    StatusGet = "status-get",
    NotificationsCreate = "notifications-create",
    NotificationsList = "notifications-list",
    NotificationsRead = "notifications-read",
    UploadsCreate = "uploads-create",
    AttachmentsGet = "attachments-get",
    UsersAvatar = "users-avatar",
    WsAuthorizer = "ws-authorizer",
    WsConnect = "ws-connect",
    WsDisconnect = "ws-disconnect",
    WsDefault = "ws-default",
    WsSendMessage = "ws-send-message",
    WsTyping = "ws-typing",
    WsEditMessage = "ws-edit-message",
    WsReact = "ws-react",
    WsMarkAsRead = "ws-mark-as-read",
    WsDelivered = "ws-delivered",
    WsJoinConversation = "ws-join-conversation",
    WsLeaveConversation = "ws-leave-conversation",
    WsSetStatus = "ws-set-status",
    WsPing = "ws-ping",
    DevicesRegister = "devices-register",
    DevicesList = "devices-list",
    DevicesDelete = "devices-delete",
    ConversationsSettings = "conversations-settings",
    ConversationsPolicy = "conversations-policy",
    PhonePush = "phone-push",
    UsersBlock = "users-block",
    ReportsCreate = "reports-create",
    ReportsReview = "reports-review",
    AuditList = "audit-list",
    GroupsBans = "groups-bans",
}

impl Function {
    /// The function named by `_HANDLER`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Its declaration (every function has one: `declarations_cover_every_function_once…`).
    pub fn decl(self) -> Option<&'static Decl> {
        FUNCTIONS.iter().find(|d| d.function == self)
    }
}

#[derive(Clone, Copy)]
pub enum Handler {
    Http(HttpHandler),
    /// The HTTP API's `$default` route: what no other route matches.
    HttpDefault(HttpHandler),
    Ws(WsHandler),
    /// The `$connect` REQUEST authorizer.
    Authorizer,
    /// The table's DynamoDB stream (`crate::stream`): phone push.
    Stream,
}

/// Memory, as the template's parameters size it (Lambda gives CPU in proportion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// `FunctionMemorySize` (the Globals' default): a few round trips, no fan-out.
    Light,
    /// `FanOutMemorySize`: concurrent signed posts to `@connections`.
    FanOut,
    /// `PasswordHashMemorySize`: argon2id.
    PasswordHash,
}

/// The Lambda binary that serves a function: each links only the dependencies its functions
/// use, so that every zip stays small as the SDK set grows (docs/PERFORMANCE.md). A function's
/// bundle follows from its declaration (`Decl::bundle`): argon2 for the functions that hash or
/// verify passwords, the S3 or SNS client for those whose actions call them. Each bundle is
/// one package under `lambda/` (cargo features cannot be passed through `sam build`: the
/// package's dependency on this crate names them), whose binary picks its function by
/// `_HANDLER` like the others. The embedded store (redb) is in none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bundle {
    /// DynamoDB, `@connections`, Secrets Manager, JWT: what every function has.
    Light,
    /// + argon2id.
    Password,
    /// + the S3 client (attachments).
    S3,
    /// + the SNS client (phone push).
    Sns,
}

impl Bundle {
    pub const ALL: &'static [Bundle] = &[Bundle::Light, Bundle::Password, Bundle::S3, Bundle::Sns];

    /// The binary's name (SAM's `BuildProperties: Binary`, `cargo lambda build --bin`).
    pub const fn binary(self) -> &'static str {
        match self {
            Bundle::Light => "bootstrap-light",
            Bundle::Password => "bootstrap-password",
            Bundle::S3 => "bootstrap-s3",
            Bundle::Sns => "bootstrap-sns",
        }
    }

    /// Its package's folder (the template's `CodeUri`: `sam build` builds that package alone,
    /// so no other member's features leak into it).
    pub const fn package_dir(self) -> &'static str {
        match self {
            Bundle::Light => "lambda/light",
            Bundle::Password => "lambda/password",
            Bundle::S3 => "lambda/s3",
            Bundle::Sns => "lambda/sns",
        }
    }

    /// The features of this crate its package enables (checked against lambda/*/Cargo.toml).
    pub const fn features(self) -> &'static [&'static str] {
        match self {
            Bundle::Light => &[],
            Bundle::Password => &["password"],
            Bundle::S3 => &["s3"],
            Bundle::Sns => &["sns"],
        }
    }

    /// Whether this build links what a function of `self` uses.
    pub const fn linked(self) -> bool {
        match self {
            Bundle::Light => true,
            Bundle::Password => cfg!(feature = "password"),
            Bundle::S3 => cfg!(feature = "s3"),
            Bundle::Sns => cfg!(feature = "sns"),
        }
    }
}

/// Who may call a route (the least privileged caller it answers with success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Anyone,
    /// A signed-in user (a valid token; on WebSocket routes, an authorized connection).
    User,
    /// A system admin only.
    Admin,
}

/// What one call of a route may cost in DynamoDB (`docs/DYNAMODB_BUDGET.md`): requests and
/// sequential round trips are checked by `budget.rs`; capacity and the path are documentation.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub requests: usize,
    pub rounds: usize,
    pub rcu: &'static str,
    pub wcu: &'static str,
    pub what: &'static str,
}

const fn budget(requests: usize, rounds: usize, rcu: &'static str, wcu: &'static str, what: &'static str) -> Budget {
    Budget { requests, rounds, rcu, wcu, what }
}

/// One route key of a function.
#[derive(Clone, Copy)]
pub struct RouteDecl {
    /// API Gateway's route key: `POST /api/users/register`, `$connect`, `sendMessage`, …
    pub key: &'static str,
    pub handler: Handler,
    pub access: Access,
    pub budget: Budget,
    /// Costlier cases of the route, measured and checked like it (`PUT /api/users/{id} password`).
    pub variants: &'static [(&'static str, Budget)],
    /// What it takes and answers (`docs/openapi.json`, `docs/asyncapi.yaml`). Only with the
    /// `schema` feature: a Lambda build declares it all the same and keeps none of it.
    #[cfg(feature = "schema")]
    pub contract: Contract,
}

const fn route(key: &'static str, handler: Handler, access: Access, budget: Budget) -> RouteDecl {
    RouteDecl {
        key,
        handler,
        access,
        budget,
        variants: &[],
        #[cfg(feature = "schema")]
        contract: Contract::NONE,
    }
}

/// A schema of the contract, made when the document is generated.
#[cfg(feature = "schema")]
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

#[cfg(feature = "schema")]
fn schema_of<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

/// A route's contract: its operation's name and prose, the types of its body, parameters and
/// reply, and the statuses it answers beyond those its declaration implies (`docs/openapi.json`
/// adds 400 for a body or query, 401 for `User`/`Admin`, 403 for `Admin`, 413, 429, 503).
#[cfg(feature = "schema")]
#[derive(Clone, Copy)]
pub struct Contract {
    /// `operationId` (HTTP) or the message name (WebSocket).
    pub operation: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    /// The body's type; `body_optional`: an empty body is the same as `{}`.
    pub body: Option<SchemaFn>,
    pub body_optional: bool,
    /// A type whose fields are the path (or query) parameters.
    pub path: Option<SchemaFn>,
    pub query: Option<SchemaFn>,
    /// `data` of the success envelope, and the statuses it comes with (the first the usual).
    pub reply: Option<SchemaFn>,
    pub statuses: &'static [u16],
    /// `data` is a list of `reply`, with `nextCursor` when more may follow.
    pub page: bool,
    pub errors: &'static [u16],
    /// Sets the session cookie.
    pub cookie: bool,
}

#[cfg(feature = "schema")]
impl Contract {
    const NONE: Self = Self {
        operation: "",
        summary: "",
        description: "",
        body: None,
        body_optional: false,
        path: None,
        query: None,
        reply: None,
        statuses: &[],
        page: false,
        errors: &[],
        cookie: false,
    };
}

/// The contract's builders: each sets one thing with the `schema` feature, and nothing without.
macro_rules! contract_builders {
    ($($(#[$doc:meta])* fn $name:ident$(<$t:ident>)?($c:ident $(, $arg:ident: $ty:ty)*) $body:block)*) => {
        #[cfg(feature = "schema")]
        #[allow(dead_code)]
        impl RouteDecl {
            $($(#[$doc])* const fn $name$(<$t: schemars::JsonSchema>)?(mut self $(, $arg: $ty)*) -> Self {
                let $c = &mut self.contract;
                $body
                self
            })*
        }
        #[cfg(not(feature = "schema"))]
        #[allow(dead_code)]
        impl RouteDecl {
            $(const fn $name$(<$t>)?(self $(, $arg: $ty)*) -> Self {
                $(let _ = ($arg,);)*
                self
            })*
        }
    };
}

contract_builders! {
    /// `operationId` (or the WebSocket message's name), summary and description.
    fn doc(c, operation: &'static str, summary: &'static str, description: &'static str) {
        c.operation = operation;
        c.summary = summary;
        c.description = description;
    }
    fn body<T>(c) {
        c.body = Some(schema_of::<T> as SchemaFn);
    }
    /// A body that may be left out.
    fn optional_body<T>(c) {
        c.body = Some(schema_of::<T> as SchemaFn);
        c.body_optional = true;
    }
    fn path<T>(c) {
        c.path = Some(schema_of::<T> as SchemaFn);
    }
    fn query<T>(c) {
        c.query = Some(schema_of::<T> as SchemaFn);
    }
    /// `{success: true, data: T}` with one of `statuses`.
    fn reply<T>(c, statuses: &'static [u16]) {
        c.reply = Some(schema_of::<T> as SchemaFn);
        c.statuses = statuses;
    }
    /// `{success: true, data: [T…], nextCursor?}`, 200.
    fn page<T>(c) {
        c.reply = Some(schema_of::<T> as SchemaFn);
        c.statuses = &[200];
        c.page = true;
    }
    /// Error statuses beyond those the declaration implies.
    fn errors(c, statuses: &'static [u16]) {
        c.errors = statuses;
    }
    fn sets_cookie(c) {
        c.cookie = true;
    }
}

const fn http_route(key: &'static str, handler: HttpHandler, access: Access, budget: Budget) -> RouteDecl {
    route(key, Handler::Http(handler), access, budget)
}

const fn ws_route(key: &'static str, handler: WsHandler, access: Access, budget: Budget) -> RouteDecl {
    route(key, Handler::Ws(handler), access, budget)
}

impl RouteDecl {
    const fn variants(self, variants: &'static [(&'static str, Budget)]) -> Self {
        Self { variants, ..self }
    }
}

/// A Lambda function: everything the template and the tests need to know about it.
pub struct Decl {
    pub function: Function,
    pub memory: Memory,
    /// Seconds; `None`: the Globals' 10 s.
    pub timeout_s: Option<u16>,
    /// Computes the dummy hash at cold start (see `chat::auth::prepare_login`); links argon2.
    pub verifies_passwords: bool,
    /// Hashes new passwords: links argon2 (`Bundle::Password`).
    pub hashes_passwords: bool,
    /// What its code path calls. Every function reads one item at cold start (`App::warm`):
    /// `GetItem` for all. The IAM test fails on a call outside this list.
    pub actions: &'static [Action],
    /// Why it needs those actions (the comment above it in the template).
    pub why: &'static str,
    pub routes: &'static [RouteDecl],
}

impl Decl {
    const fn new(function: Function, memory: Memory) -> Self {
        Self {
            function,
            memory,
            timeout_s: None,
            verifies_passwords: false,
            hashes_passwords: false,
            actions: &[],
            why: "",
            routes: &[],
        }
    }
    const fn timeout_s(self, seconds: u16) -> Self {
        Self { timeout_s: Some(seconds), ..self }
    }
    const fn verifies_passwords(self) -> Self {
        Self { verifies_passwords: true, ..self }
    }
    const fn hashes_passwords(self) -> Self {
        Self { hashes_passwords: true, ..self }
    }
    const fn actions(self, actions: &'static [Action]) -> Self {
        Self { actions, ..self }
    }
    const fn why(self, why: &'static str) -> Self {
        Self { why, ..self }
    }
    const fn routes(self, routes: &'static [RouteDecl]) -> Self {
        Self { routes, ..self }
    }

    /// Fed by the table's stream (phone push), not by an API.
    pub fn is_stream(&self) -> bool {
        self.routes.iter().any(|r| matches!(r.handler, Handler::Stream))
    }

    pub fn is_http(&self) -> bool {
        self.routes.iter().any(|r| matches!(r.handler, Handler::Http(_) | Handler::HttpDefault(_)))
    }

    /// Signs or verifies tokens: every HTTP function (each authenticates its caller or, for
    /// register and login, issues a token) and the `$connect` authorizer. The WebSocket routes
    /// behind the authorizer read its context, not the token. These read the signing keys at
    /// cold start (on Lambda from Secrets Manager, `GetJwtSecret`).
    pub fn uses_tokens(&self) -> bool {
        self.routes.iter().any(|r| matches!(r.handler, Handler::Http(_) | Handler::Authorizer))
    }

    /// The bundles whose dependencies it needs beyond `Light` (at most one: a test).
    pub fn needs(&self) -> Vec<Bundle> {
        let uses = |r: Resource| self.actions.iter().any(|a| a.resource() == r);
        [
            (Bundle::Password, self.hashes_passwords || self.verifies_passwords),
            (Bundle::S3, uses(Resource::Attachments)),
            (Bundle::Sns, uses(Resource::PhonePush)),
        ]
        .into_iter()
        .filter_map(|(b, needed)| needed.then_some(b))
        .collect()
    }

    /// The binary that serves it.
    pub fn bundle(&self) -> Bundle {
        self.needs().first().copied().unwrap_or(Bundle::Light)
    }

    /// What its IAM policy grants: the declared actions, and reading the signing secret if it
    /// uses tokens.
    pub fn grants(&self) -> Vec<Action> {
        let mut all = self.actions.to_vec();
        if self.uses_tokens() {
            all.push(GetJwtSecret);
        }
        all
    }
}

/// The HTTP API's `$default` route, named apart from the WebSocket API's `$default`.
pub const HTTP_DEFAULT_KEY: &str = "HTTP $default";

/// The `$connect` authorizer's route key (not an API route: API Gateway calls it at the handshake).
pub const AUTHORIZER_KEY: &str = "$authorizer";

/// The phone push function's trigger (not an API route: the table's stream invokes it).
pub const STREAM_KEY: &str = "$stream";

/// A route with the function serving it: what the gateway and the entry point look up.
#[derive(Clone, Copy)]
pub struct Route {
    pub function: Function,
    pub key: &'static str,
    pub handler: Handler,
}

/// Every route of every function, in declaration order.
pub fn routes() -> Vec<Route> {
    FUNCTIONS
        .iter()
        .flat_map(|d| d.routes.iter().map(|r| Route { function: d.function, key: r.key, handler: r.handler }))
        .collect()
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

/// HTTP APIs refuse two routes whose paths put differently named variables at the same level
/// under the same prefix (`/api/messages/{id}` and `/api/messages/{messageId}`): the first
/// such pair, if any.
pub fn conflicting_path_variables<'a>(paths: &[&'a str]) -> Option<(&'a str, &'a str)> {
    fn var(segment: &str) -> Option<&str> {
        segment.strip_prefix('{')?.strip_suffix('}')
    }
    paths.iter().enumerate().find_map(|(i, a)| {
        paths[i + 1..].iter().find_map(|b| {
            for (x, y) in a.split('/').zip(b.split('/')) {
                match (var(x), var(y)) {
                    (Some(v), Some(w)) if v != w => return Some((*a, *b)),
                    (Some(_), Some(_)) => {}
                    (None, None) if x == y => {}
                    _ => return None,
                }
            }
            None
        })
    })
}

#[rustfmt::skip]
pub static FUNCTIONS: &[Decl] = {
    use http::{auth, conversations as conv, devices, groups, messages as msg, moderation as moder, notifications as notif, status, sync, uploads, users};
    use {
        chat::events::{MessageDeleted, PinChange, PresenceView, ReactionChange, ReadReceipt},
        chat::ids::{ConversationId, DeviceId, GroupId, MessageId, NotificationId, UploadId, UserId},
        chat::repo::{devices::Device, settings::Settings},
        chat::models::{Message, UserView},
        chat::repo::notifications::Notification,
        chat::service::{conversations::ConversationView, groups::GroupView, notifications::Marked, pins::PinView},
        chat::service::policy::PolicyView,
        chat::service::users::{SessionView, TicketView, Updated},
        chat::ids::{ReportId},
        chat::repo::{blocks::Block, moderation::{AuditEntry, Report}},
        chat::service::moderation::{BanChange, BlockChange, SuspensionLifted},
        chat::service::uploads::{AvatarSet, UploadTicket},
        http::IdPath,
    };
    &[
    Decl::new(HttpDefault, Light)
        .actions(&[GetItem])
        .why("the HTTP API's $default route: 405 with Allow for a path served with other methods, else 404. No store call (the GetItem is the cold start's warm-up).")
        .routes(&[
            route(HTTP_DEFAULT_KEY, Handler::HttpDefault(http_handler!(http::router::unmatched)), Anyone, budget(0, 0, "0", "0", "what no route matches: 405 + `Allow`, or 404")),
        ]),
    Decl::new(AuthRegister, PasswordHash)
        .hashes_passwords()
        .actions(&[GetItem, BatchGetItem, PutItem])
        .why("register (three shapes): authenticate only for a role:admin body (BatchGetItem); user + username/email locks in one transaction (PutItem). argon2id hash.")
        .routes(&[
            http_route("POST /api/users/register", http_handler!(auth::register), Anyone, budget(1, 1, "0", "6", "transaction: user + username lock + email lock")).doc("register", "Create a user", "Anyone. A token is read only when `role: admin` is asked for (an admin's token is then required).").body::<auth::RegisterBody>().reply::<SessionView>(&[201]).sets_cookie().errors(&[401, 403, 409]),
            http_route("POST /api/auth/signup", http_handler!(auth::register), Anyone, budget(1, 1, "0", "6", "same function as register")).doc("signup", "Create a user", "Anyone. A token is read only when `role: admin` is asked for (an admin's token is then required).").body::<auth::RegisterBody>().reply::<SessionView>(&[201]).sets_cookie().errors(&[401, 403, 409]),
            http_route("POST /users/auth/create", http_handler!(auth::register_with_email), Anyone, budget(1, 1, "0", "6", "as register")).doc("legacyCreate", "Create a user (seed 001)", "A username is derived from the email.").body::<auth::EmailRegisterBody>().reply::<SessionView>(&[201]).sets_cookie().errors(&[409]),
        ]),
    Decl::new(AuthLogin, PasswordHash)
        .verifies_passwords()
        .actions(&[GetItem, BatchGetItem, UpdateItem, DeleteItem])
        .why("login (username or email): lock + failure counters (BatchGetItem), the user (GetItem) and the attempt's reservation (UpdateItem), argon2id verify, then the name's counter reset (DeleteItem) or the address's failure (UpdateItem).")
        .routes(&[
            http_route("POST /api/users/login", http_handler!(auth::login), Anyone, budget(6, 3, "2", "4", "lock + failure counters (one batch) → user ‖ name reservation ‖ address count → argon2 → name reset ‖ address given back (see above)")).doc("loginUsers", "Log in with a username or an email", "401 for an unknown user and for a wrong password alike. Repeated failures for one login name (or from one address) are slowed down: 429 `RATE_LIMITED` until an exponentially growing delay has passed; the counter forgets after 15 minutes and a successful login resets it. A suspended account (right password): 403 `ACCOUNT_SUSPENDED` with `details.until`.").body::<auth::LoginBody>().reply::<SessionView>(&[200]).sets_cookie().errors(&[401, 403]),
            http_route("POST /api/auth/login", http_handler!(auth::login), Anyone, budget(6, 3, "2", "4", "same function as login")).doc("login", "Log in with a username or an email", "401 for an unknown user and for a wrong password alike. Repeated failures for one login name (or from one address) are slowed down: 429 `RATE_LIMITED` until an exponentially growing delay has passed; the counter forgets after 15 minutes and a successful login resets it. A suspended account (right password): 403 `ACCOUNT_SUSPENDED` with `details.until`.").body::<auth::LoginBody>().reply::<SessionView>(&[200]).sets_cookie().errors(&[401, 403]),
            http_route("POST /users/auth/login", http_handler!(auth::login_with_email), Anyone, budget(6, 3, "1.5", "4", "as login")).doc("legacyLogin", "Log in by email (seed 001)", "404 for any failed login (seed 001), throttled like the other logins.").body::<auth::EmailLoginBody>().reply::<SessionView>(&[200]).sets_cookie().errors(&[403, 404]),
        ]),
    Decl::new(AuthLogout, Light)
        .actions(&[GetItem, BatchGetItem, Query, PutItem, UpdateItem, DeleteItem, PostToConnection, DeleteConnection, DeleteEndpoint])
        .why("logout: authenticate (BatchGetItem), revoke the jti (PutItem); the connections the token opened: the presence (GetItem), their items (BatchGetItem); each removed (presence UpdateItem; connection, admin-room, room entries DeleteItem) and closed (DELETE @connections); the last one's `presence` event (Query, BatchGetItem, POST). A `deviceId`: that device (GetItem), removed with its token's lock (DeleteItem, one transaction) and its SNS endpoint (DeleteEndpoint).")
        .routes(&[
            http_route("POST /api/auth/logout", http_handler!(auth::logout), User, budget(7, 4, "2 + 0.5 per connection", "1 + 3 per ended connection", "session → revocation put ‖ presence (`connSet`) → the connections' items (batch per 100; those of this token's `jti` end) → each removed (connection ‖ presence ‖ admin room), then `DELETE @connections`; measured: one of two connections ends; ending the user's last also broadcasts `presence` (as PUT /api/status)")).doc("logout", "Revoke the token and clear the cookie", "`deviceId`: the session's phone, unregistered from push with it.").optional_body::<auth::LogoutBody>().reply::<auth::LoggedOut>(&[200]).sets_cookie().variants(&[
                ("device", budget(9, 4, "2.5 + 0.5 per connection", "3 + 3 per ended connection", "as above, and the device named (`GetItem`) → removed with its token's lock (one transaction) ‖ its SNS endpoint deleted, alongside the connections' removal")),
            ]),
        ]),
    Decl::new(AuthRefresh, Light)
        .actions(&[GetItem, BatchGetItem, Query, PutItem, UpdateItem, DeleteItem, PostToConnection, DeleteConnection])
        .why("refresh: authenticate (BatchGetItem), revoke the old jti (PutItem); the connections the token opened: the presence (GetItem), their items (BatchGetItem); each removed (presence UpdateItem; connection, admin-room, room entries DeleteItem) and closed (DELETE @connections); the last one's `presence` event (Query, BatchGetItem, POST).")
        .routes(&[
            http_route("POST /api/auth/refresh", http_handler!(auth::refresh), User, budget(7, 4, "2 + 0.5 per connection", "1 + 3 per ended connection", "as logout, for the old token")).doc("refresh", "A new token (the old one is revoked)", "").reply::<SessionView>(&[200]).sets_cookie(),
        ]),
    Decl::new(AuthWsTicket, Light)
        .actions(&[GetItem, BatchGetItem, PutItem])
        .why("WebSocket ticket: authenticate (BatchGetItem), store the single-use ticket (PutItem).")
        .routes(&[
            http_route("POST /api/auth/ws-ticket", http_handler!(auth::ws_ticket), User, budget(2, 2, "1", "1", "session → the ticket (conditional put, 30 s TTL)")).doc("wsTicket", "A single-use WebSocket ticket (30 s): connect with `?ticket=` instead of a token in the URL (browsers)", "").reply::<TicketView>(&[201]),
        ]),
    Decl::new(UsersList, Light)
        .actions(&[GetItem, BatchGetItem, QueryIndex])
        .why("directory: authenticate (BatchGetItem), one page of GSI1 partition USERS (Query on the index).")
        .routes(&[
            http_route("GET /api/users", http_handler!(users::list), User, budget(2, 2, "1 + page", "0", "session → one GSI1 page")).doc("listUsers", "The user directory", "Admins: every user, every field. Others: the other users' public fields.").query::<users::ListQuery>().page::<UserView>(),
        ]),
    Decl::new(UsersMe, Light)
        .actions(&[GetItem, BatchGetItem])
        .why("me: the authentication read (BatchGetItem) is the answer.")
        .routes(&[
            http_route("GET /api/users/me", http_handler!(users::me), User, budget(1, 1, "1", "0", "the session check returns the user")).doc("me", "The caller", "").reply::<UserView>(&[200]),
        ]),
    Decl::new(UsersGet, Light)
        .actions(&[GetItem, BatchGetItem])
        .why("get: authenticate (BatchGetItem), the user (GetItem).")
        .routes(&[
            http_route("GET /api/users/{id}", http_handler!(users::get), User, budget(2, 2, "1.5", "0", "session → user")).doc("getUser", "A user", "Public fields; private ones for oneself and admins.").path::<IdPath<UserId>>().reply::<UserView>(&[200]).errors(&[404]),
        ]),
    Decl::new(UsersUpdate, PasswordHash)
        .verifies_passwords()
        .hashes_passwords()
        .actions(&[GetItem, BatchGetItem, Query, PutItem, UpdateItem, DeleteItem, PostToConnection, DeleteConnection])
        .why("update: authenticate (BatchGetItem), the user (GetItem), one transaction: the user (PutItem, conditional) and moved username/email locks (DeleteItem + PutItem). argon2id on a password change. A password or role change ends every connection of the user: the presence (GetItem), each removed (UpdateItem, DeleteItem) and closed (DELETE @connections); `presence` (Query, POST).")
        .routes(&[
            http_route("PUT /api/users/{id}", http_handler!(users::update), User, budget(3, 3, "1.5", "2–8", "session → user → transaction (user, moved locks); a profile change")).doc("updateUser", "Update a profile or password", "Oneself or an admin.").path::<IdPath<UserId>>().body::<users::UpdateBody>().reply::<Updated>(&[200]).sets_cookie().errors(&[403, 404, 409]).variants(&[
                ("password", budget(9, 7, "2.5 + contacts'", "2–8 + 3 per connection", "as above, then every connection of the user ends: presence → each removed (connection ‖ presence ‖ admin room) and closed → `presence` broadcast (memberships ‖ admin room → contacts' presences); measured: one connection, no contacts")),
                ("role", budget(9, 7, "2.5 + contacts'", "2–8 + 3 per connection", "as a password change: a connection's role (authorizer context, admin room) is fixed at `$connect`, so the client reconnects")),
            ]),
        ]),
    Decl::new(UsersDelete, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, UpdateItem, DeleteItem, PostToConnection, DeleteConnection, DeleteEndpoint])
        .why("delete: authenticate (BatchGetItem), the user (GetItem), user + locks (DeleteItem, one transaction), then every live connection: removed (presence UpdateItem; connection, admin-room and room entries DeleteItem) and closed (DELETE @connections); the last one's `presence` event (Query, BatchGetItem, POST); alongside, the user's phones (Query): each device and token lock (DeleteItem, one transaction) and SNS endpoint (DeleteEndpoint).")
        .routes(&[
            http_route("DELETE /api/users/{id}", http_handler!(users::delete), User, budget(10, 7, "3 + contacts'", "6 + 3 per connection + 2 per device", "session → user → transaction → presence ‖ devices (`Query`) → each connection removed and closed ‖ each device removed with its endpoint → `presence` broadcast; measured: one connection, no contacts, no device")).doc("deleteUser", "Delete a user", "Oneself or an admin. Tokens are revoked and live connections closed; messages stay, attributed to a deleted user.").path::<IdPath<UserId>>().reply::<users::Deleted<UserId>>(&[200]).errors(&[403, 404]),
        ]),
    Decl::new(ConversationsStart, Light)
        .actions(&[GetItem, BatchGetItem, PutItem])
        .why("start: authenticate (BatchGetItem), both users (GetItem; two for a username), the conversation (GetItem), created with both memberships in one transaction (PutItem).")
        .routes(&[
            http_route("POST /api/conversations/start", http_handler!(conv::start), User, budget(6, 5, "3", "6", "session → both users (concurrently) → the two block items (batch: refused while either blocks the other) → conversation → create transaction")).doc("startConversation", "Create or return the direct conversation of two users", "201 when created, 200 when it existed: exactly one per pair.").body::<conv::StartBody>().reply::<ConversationView>(&[201, 200]).errors(&[403, 404]),
        ]),
    Decl::new(ConversationsList, Light)
        .actions(&[GetItem, BatchGetItem, Query, QueryIndex])
        .why("list: authenticate (BatchGetItem), my memberships (Query on the table) or, admin ?all=true, GSI1 partition CONVS (Query on the index); conversations and members (BatchGetItem).")
        .routes(&[
            http_route("GET /api/conversations", http_handler!(conv::list), User, budget(4, 4, "1 + conversations + members", "0", "session → memberships query → conversations (batch) → members (batch)")).doc("listConversations", "My conversations, most recent activity first", "").query::<conv::ListQuery>().page::<ConversationView>().errors(&[403]),
        ]),
    Decl::new(ConversationsGet, Light)
        .actions(&[GetItem, BatchGetItem])
        .why("get: authenticate, conversation + summary, members (BatchGetItem), my read marker (GetItem).")
        .routes(&[
            http_route("GET /api/conversations/{id}", http_handler!(conv::get), User, budget(4, 3, "2.5", "0", "session → conversation + summary (batch) → members ‖ my read marker")).doc("getConversation", "A conversation", "Members and admins.").path::<IdPath<ConversationId>>().reply::<ConversationView>(&[200]).errors(&[403, 404]),
        ]),
    Decl::new(ConversationsDelete, Light)
        .timeout_s(29)
        .actions(&[GetItem, BatchGetItem, Query, DeleteItem, DeleteObject])
        .why("delete (admin): authenticate (BatchGetItem), the conversation (GetItem), its messages (Query on the table), transactions of 100 deletes (DeleteItem); the messages' files and previews (s3:DeleteObject) and their upload records (DeleteItem). Not a hot path: longer timeout.")
        .routes(&[
            http_route("DELETE /api/conversations/{id}", http_handler!(conv::delete), Admin, budget(4, 4, "1.5 + messages", "2 per item", "admin only; session → conversation → messages query → delete transactions")).doc("deleteConversation", "Delete a conversation and its messages", "Admins only.").path::<IdPath<ConversationId>>().reply::<users::Deleted<ConversationId>>(&[200]).errors(&[404]),
        ]),
    Decl::new(ConversationsRead, FanOut)
        .actions(&[GetItem, BatchGetItem, UpdateItem, DeleteItem, PostToConnection])
        .why("read: authenticate, conversation + summary (BatchGetItem), the message (GetItem), the read marker (UpdateItem), receipts to the members' connections (BatchGetItem, POST @connections; a 410 Gone connection is removed: UpdateItem + DeleteItem).")
        .routes(&[
            http_route("POST /api/conversations/{id}/read", http_handler!(conv::read), User, budget(4, 4, "3", "1", "session → conversation ‖ message → marker → receipts fan-out (one presence batch for reader and others)")).doc("markRead", "Mark read up to a message (default: everything)", "Members only. REST twin of the `markAsRead` WebSocket action.").path::<IdPath<ConversationId>>().optional_body::<conv::ReadBody>().reply::<ReadReceipt>(&[200]).errors(&[403, 404]),
        ]),
    Decl::new(ConversationsPins, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, QueryIndex, PutItem, DeleteItem, UpdateItem, ConditionCheckItem, PostToConnection])
        .why("pins: pin/unpin: authenticate (BatchGetItem), the conversation (GetItem) and the message by id (GetItem in the conversation its id names; an id of the older form: Query on GSI1) concurrently; one transaction: the pin item (PutItem if absent / DeleteItem if present), META's pinCount (UpdateItem ADD, capped), the message not deleted (ConditionCheckItem); messagePinned/Unpinned to the members (BatchGetItem, POST, 410 Gone cleanup: UpdateItem + DeleteItem). List: the conversation (GetItem) ‖ the pins (Query), their messages (BatchGetItem).")
        .routes(&[
            http_route("POST /api/conversations/{id}/pins/{messageId}", http_handler!(conv::pin, true), User, budget(5, 3, "2", "6", "session ‖ conversation ‖ message (`GetItem`: its id names the conversation) → transaction (pin item, META's count, message check) → fan-out")).doc("pinMessage", "Pin a message", "Any member of a direct conversation; the owner and admins of a group or channel; system admins. Idempotent; at most 50 pins per conversation (409); `messagePinned` to the members when it changed.").path::<conv::PinPath>().reply::<PinChange>(&[200]).errors(&[403, 404, 409]),
            http_route("DELETE /api/conversations/{id}/pins/{messageId}", http_handler!(conv::pin, false), User, budget(5, 3, "2", "4", "as POST, without the message check")).doc("unpinMessage", "Unpin a message", "As pinning; idempotent; `messageUnpinned` to the members when it changed.").path::<conv::PinPath>().reply::<PinChange>(&[200]).errors(&[403, 404]),
            http_route("GET /api/conversations/{id}/pins", http_handler!(conv::pins), User, budget(4, 3, "1.5 + pins/2", "0", "session → conversation ‖ pins query → their messages (batch)")).doc("listPins", "The pinned messages of a conversation", "Members and admins; in message order, at most 50 (one page). A deleted message stays listed as its tombstone until unpinned.").path::<IdPath<ConversationId>>().page::<PinView>().errors(&[403, 404]),
        ]),
    Decl::new(Sync, Light)
        .actions(&[GetItem, BatchGetItem, Query])
        .why("sync: authenticate (BatchGetItem), the caller's memberships and the notifications since the token (Query on the table, concurrently), the conversations' META + SUMMARY, the other member's membership of direct ones and the caller's presence (whom they blocked: those users' messages come marked) (BatchGetItem); per changed conversation, concurrently, its new messages, its change log and, when they changed, its pins (Query on the table); the edited messages (BatchGetItem). Writes nothing.")
        .routes(&[
            http_route("GET /api/sync", http_handler!(sync::get), User, budget(8, 4, "2 + conversations × 1.5 + changes/2", "0", "session ‖ memberships ‖ removals (a range of my notifications) → META + SUMMARY (+ the other member's membership of a direct conversation) per conversation and the caller's presence, batch per 33 → per changed conversation (at most 10 a page), concurrently: new messages (a range of `MSGS#c`) ‖ change log (`CHG#c`) ‖ pins when they changed → the edited messages (batch); measured: one changed conversation")).doc("sync", "Everything that changed for me since a token", "For a client coming back after hours offline, instead of one history request per conversation: across all the caller's conversations, new messages (thread replies included), edits, deletes, reactions, read and delivery markers (the caller's own; the other member's in a direct conversation), pins, and conversations joined, changed or left. Paged: while `next` is set, call again with it; then keep `token` for the next sync. No `since`: no changes and the token of now.").query::<sync::SyncQuery>().reply::<chat::service::sync::SyncPage>(&[200]).errors(&[410]),
        ]),
    Decl::new(MessagesSend, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, PutItem, UpdateItem, DeleteItem, PostToConnection, GetObject, DeleteObjectTagging])
        .why("send (four seed shapes): authenticate + conversation, summary, idempotency key, receiver, the attachments' upload records (BatchGetItem); each attachment's object checked (HeadObject: s3:GetObject) and kept (s3:DeleteObjectTagging), its record claimed in the transaction (UpdateItem); a retried clientMessageId's message and the summary (GetItem); the idempotency key (PutItem, conditional); the summary's count and last message (UpdateItem); the message (PutItem, or one transaction with a reply's root counters and thread entry, a new conversation and its memberships, the attachments' claims), its seq rewritten when another send counted first (UpdateItem); a group sender's read marker (UpdateItem); fan-out: presences (BatchGetItem), admin room (Query on the table), a stored notification for an absent direct recipient (PutItem), POST @connections, 410 Gone cleanup (UpdateItem + DeleteItem).")
        .routes(&[
            http_route("POST /api/messages/send", http_handler!(msg::send_text_to_receiver), User, budget(7, 3, "3", "3", "session ‖ conversation + summary + idempotency key (+ in a direct conversation the two users' block items: refused while either blocks the other) (one batch) ‖ the sender's flood counter (conditional `ADD`, 1 WCU) → (with a `clientMessageId`, the key claimed: +1 request, +1 round trip, +1 WCU) → the message (`PutItem`, at the `seq` after the count read) → one `UpdateItem` of the summary: the count, the last message and the sender's read position, conditional on the count read (the other side counted first: the `seq` reserved, the message's rewritten, then the last message: +2 requests) ‖ fan-out lookups (presences ‖ admin room) → pushes. No transaction: concurrent sends never refuse each other; no read marker write")).doc("sendMessage000", "Send a message (seed 000)", "201 once stored; 200 with the stored message for a retried `clientMessageId`.").body::<msg::ReceiverText>().reply::<Message>(&[201, 200]).errors(&[403, 404, 409]).variants(&[
                ("attachments", budget(7, 3, "2.5", "8", "with two attachments: their records join the first batch; the message and their claims are one transaction (the object checks are S3 calls, between the first batch and the reservation)")),
                ("username", budget(8, 4, "2.5", "3", "seed 000's `\"receiver\": \"bob\"`: the username's lock (`GetItem`) → as above (a name's id is needed for the conversation's key; ids stay at 3 round trips before the fan-out). The sender's name is checked against the session's user, no read")),
            ]),
            http_route("POST /api/messages", http_handler!(msg::send_content_to_receiver), User, budget(7, 3, "2", "3", "same")).doc("sendMessage002", "Send a message (seed 002)", "201 once stored; 200 with the stored message for a retried `clientMessageId`.").body::<msg::ReceiverContent>().reply::<Message>(&[201, 200]).errors(&[403, 404, 409]).variants(&[
                ("slow mode", budget(10, 5, "2", "6", "a member's send in a group in slow mode: their turn taken after the first read (conditional `UpdateItem` of their slow-mode item `SLOW#<conv>`; of two concurrent sends one passes)")),
                ("reply", budget(8, 4, "2.5", "9", "a thread reply (`parentId`): the parent read in the same batch; the message, the root's counters (`ADD replyCount`, `lastReplyAt`, the replier's time) and the thread's index entry are one transaction (none of them the summary); a reply kept to its thread is not the last message (no summary update)")),
            ]),
            http_route("POST /api/messages/send/{id}", http_handler!(msg::send_to_path_user), User, budget(7, 3, "2", "3", "same")).doc("sendMessage003", "Send a message to user {id} (seed 003)", "").path::<msg::TargetPath>().body::<msg::MessageToPathUser>().reply::<Message>(&[201, 200]).errors(&[403, 404, 409]),
            http_route("POST /chat", http_handler!(msg::send_details_to_receiver), User, budget(7, 3, "2", "3", "as POST /api/messages")).doc("legacyChat", "Send a message (seed 001)", "").body::<msg::ReceiverDetails>().reply::<Message>(&[201, 200]).errors(&[403, 404, 409]),
        ]),
    Decl::new(MessagesList, Light)
        .actions(&[GetItem, BatchGetItem, Query, QueryIndex, UpdateItem, DeleteItem, PostToConnection])
        .why("history: authenticate (BatchGetItem), the conversation (GetItem), a page of messages (Query on the table) and the reader's presence (GetItem: the users they blocked, whose messages come marked) concurrently; the other user of a not-yet-started direct conversation (GetItem). The newest page marks its messages delivered (UpdateItem, conditional) and, when the marker moved, tells the other members (BatchGetItem, POST, 410 Gone cleanup: UpdateItem + DeleteItem); a page with reactions: the caller's own (Query). Threads: the message by id (GetItem in the conversation its id names; an id of the older form: Query on GSI1), the thread's index (Query), its replies (BatchGetItem).")
        .routes(&[
            http_route("GET /api/messages/{id}", http_handler!(msg::list), User, budget(6, 4, "1.5 + page", "1", "session → conversation ‖ messages query ‖ my presence (`blockSet`: `senderBlocked` marks) → the newest page: delivery marker (conditional write) → `messagesDelivered` to the others when it moved (one presence batch)")).doc("listMessages", "Messages of a conversation, oldest first", "Members and admins. Without a cursor: the latest page; `nextCursor` goes further back (or forward with `after`). A member fetching the newest page has its messages delivered (`messagesDelivered` to the others when their marker moves); each message carries its reaction counts and the caller's own.").path::<msg::TargetPath>().query::<msg::HistoryQuery>().page::<Message>().errors(&[403, 404]).variants(&[
                ("reactions", budget(7, 4, "1.5 + page + mine", "1", "a page where some message has reactions: the caller's own in the page's range (one Query, alongside the marker)")),
            ]),
            http_route("GET /api/messages/{id}/replies", http_handler!(msg::replies), User, budget(6, 3, "2.5 + page", "0", "session ‖ the message (`GetItem`: its id names the conversation) ‖ my presence (`senderBlocked` marks) → the thread's index (one Query) ‖ conversation → the replies (batch)")).doc("listReplies", "The replies of a thread, oldest first", "Members and admins. `{id}` is the thread's root or any reply in it. The cursors of history: without one, the latest page; `nextCursor` goes further back (or forward with `after`). A message the caller cannot read is 404.").path::<IdPath<MessageId>>().query::<msg::HistoryQuery>().page::<Message>().errors(&[403, 404]).variants(&[
                ("reactions", budget(7, 4, "2.5 + page + mine", "0", "a page where some reply has reactions: the caller's own (one Query)")),
            ]),
            http_route("GET /chat/conversation/{senderId}/{receiverId}", http_handler!(msg::list_between), User, budget(6, 4, "1.5 + page", "1", "as GET /api/messages/{id}")).doc("legacyConversation", "The conversation between two users (seed 001)", "The caller must be one of the two (admins: any two).").path::<msg::BetweenPath>().query::<msg::HistoryQuery>().page::<Message>().errors(&[403, 404]),
        ]),
    Decl::new(MessagesEdit, FanOut)
        .actions(&[GetItem, BatchGetItem, QueryIndex, PutItem, UpdateItem, ConditionCheckItem, DeleteItem, PostToConnection])
        .why("edit (the sender): authenticate (BatchGetItem) and the message by id (GetItem in the conversation its id names; an id of the older form: Query on GSI1) concurrently; one transaction: the message (UpdateItem, conditional on the text read), the sender's membership (ConditionCheckItem), the summary's lastMessage copy when it is the last (UpdateItem); the conversation (GetItem) alongside; messageEdited to the members (BatchGetItem, POST, 410 Gone cleanup: UpdateItem + DeleteItem). The sync's change-log entry (PutItem, TTL) and the summary's changedAt (UpdateItem) ride in the same transaction.")
        .routes(&[
            http_route("PATCH /api/messages/{id}", http_handler!(msg::edit), User, budget(5, 3, "2", "8", "session ‖ message (`GetItem`: its id names the conversation) → transaction (message, membership check, summary copy and `changedAt`, change-log entry) ‖ conversation → fan-out; an edit of an older message retries the transaction without the copy (+1 request, +1 round trip)")).doc("editMessage", "Edit a message", "The sender only, while a member (admins may delete, not rewrite). `editedAt` is set; `messageEdited` is pushed to the members and the conversation's `lastMessage` follows. A deleted message is 404; 409 when another edit came first. The same text again changes nothing.").path::<IdPath<MessageId>>().body::<msg::Edit>().reply::<Message>(&[200]).errors(&[403, 404, 409]).variants(&[
                ("older", budget(6, 4, "2", "8", "an older message: the transaction with the summary's copy fails on its `seq`, and runs again without it")),
            ]),
        ]),
    Decl::new(MessagesReact, FanOut)
        .actions(&[GetItem, BatchGetItem, QueryIndex, PutItem, DeleteItem, UpdateItem, ConditionCheckItem, PostToConnection])
        .why("react / unreact: authenticate (BatchGetItem) and the message by id (GetItem in the conversation its id names; an id of the older form: Query on GSI1) concurrently; one transaction: the caller's reaction item (PutItem if absent / DeleteItem if present), their membership (ConditionCheckItem), the message's counter for the kind (UpdateItem ADD, not on a deleted message); the conversation (GetItem) alongside; reactionAdded/Removed to the members (BatchGetItem, POST, 410 Gone cleanup: UpdateItem + DeleteItem). The sync's change-log entry (PutItem, TTL) and the summary's changedAt (UpdateItem) ride in the same transaction.")
        .routes(&[
            http_route("PUT /api/messages/{id}/reactions/{reaction}", http_handler!(msg::react, true), User, budget(5, 3, "2", "10", "session ‖ message (`GetItem`: its id names the conversation) → transaction (reaction item, membership check, counter, summary's `changedAt`, change-log entry) ‖ conversation → fan-out")).doc("addReaction", "React to a message", "Members; one reaction of a kind per user, idempotent (the answer is the same either way; `reactionAdded` goes to the members only when it changed). At most 50 kinds per message (409).").path::<msg::ReactionPath>().reply::<ReactionChange>(&[200]).errors(&[400, 404, 409]),
            http_route("DELETE /api/messages/{id}/reactions/{reaction}", http_handler!(msg::react, false), User, budget(5, 3, "2", "10", "as PUT")).doc("removeReaction", "Take one's reaction back", "Idempotent; `reactionRemoved` goes to the members only when it changed.").path::<msg::ReactionPath>().reply::<ReactionChange>(&[200]).errors(&[400, 404]),
        ]),
    Decl::new(MessagesDelete, FanOut)
        .actions(&[GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, QueryIndex, PostToConnection, DeleteObject])
        .why("delete: authenticate (BatchGetItem), the message by id (GetItem in the conversation its id names; an id of the older form: Query on GSI1), its conversation (GetItem), the tombstone (UpdateItem), messageDeleted to the members (BatchGetItem, POST, 410 Gone cleanup: UpdateItem + DeleteItem). The sync's change-log entry (PutItem, TTL) and the summary's changedAt (UpdateItem) ride in the same transaction; its files and previews deleted (s3:DeleteObject) and their records (DeleteItem).")
        .routes(&[
            http_route("DELETE /api/messages/{id}", http_handler!(msg::delete), User, budget(5, 5, "3", "6", "session → message (`GetItem`: its id names the conversation) → conversation + summary (one batch) → one transaction: tombstone, the summary (`lastMessage` copy when it is the last message; `changedAt`), change-log entry → fan-out")).doc("deleteMessage", "Delete (tombstone) a message", "The sender, the conversation's admins, or an admin. `messageDeleted` is pushed to the members.").path::<IdPath<MessageId>>().reply::<MessageDeleted>(&[200]).errors(&[403, 404]),
        ]),
    Decl::new(GroupsCreate, FanOut)
        .timeout_s(29)
        .actions(&[GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, PostToConnection])
        .why("create group/channel: authenticate, members by id (BatchGetItem) or username (GetItem x2), META + memberships in transactions of 100 (PutItem), membership event (BatchGetItem, POST, 410 cleanup: UpdateItem + DeleteItem), a stored notification per member (PutItem). Up to MaxGroupMembers members: longer timeout.")
        .routes(&[
            http_route("POST /api/groups", http_handler!(groups::create, Group), User, budget(7, 7, "1.5 + members/2", "4 + 2 per member", "session → members (batch per 100) → META + owner transaction → memberships (transaction per 100) → `membership` event ‖ members view; each added member: a notification put, pushed with the event (the audience's presence read once; measured: 1 member)")).doc("createGroup", "Create a group", "The creator is its owner. Groups are private.").body::<groups::CreateBody>().reply::<GroupView>(&[201]).errors(&[404]),
            http_route("POST /api/channels", http_handler!(groups::create, Channel), User, budget(7, 7, "same", "same", "same function as groups")).doc("createChannel", "Create a channel", "The creator is its owner. Channels are public: any user may find, read and join them.").body::<groups::CreateBody>().reply::<GroupView>(&[201]).errors(&[404]),
        ]),
    Decl::new(GroupsMembers, FanOut)
        .timeout_s(29)
        .actions(&[GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, PostToConnection])
        .why("members: authenticate, the member (BatchGetItem or GetItem), the group (GetItem), one transaction: META version + set (UpdateItem) and the membership (PutItem or DeleteItem); promote/demote (UpdateItem); membership event and notification as groups-create.")
        .routes(&[
            http_route("PUT /api/groups/{id}/members", http_handler!(groups::members, Group), User, budget(7, 5, "3", "5", "session → member ‖ group → transaction (META conditional on its version + membership) → event and notification (one presence read) ‖ view")).doc("changeGroupMembers", "Add, remove, promote or demote a member", "The owner and admins; a user may remove themself.").path::<IdPath<GroupId>>().body::<groups::MembersBody>().reply::<GroupView>(&[200]).errors(&[403, 404, 409]),
            http_route("PUT /api/channels/{id}/members", http_handler!(groups::members, Channel), User, budget(6, 4, "3", "4", "a user joining a channel: no notification to themselves")).doc("changeChannelMembers", "Add, remove, promote or demote a member", "The owner and admins; a user may remove themself or join (add themself).").path::<IdPath<GroupId>>().body::<groups::MembersBody>().reply::<GroupView>(&[200]).errors(&[403, 404, 409]),
        ]),
    Decl::new(GroupsGet, Light)
        .actions(&[GetItem, BatchGetItem])
        .why("get: authenticate (BatchGetItem), the group (GetItem), its members (BatchGetItem).")
        .routes(&[
            http_route("GET /api/groups/{id}", http_handler!(groups::get, Group), User, budget(3, 3, "1 + members/2", "0", "session → META → members (batch per 100)")).doc("getGroup", "A group with its members", "Members and admins.").path::<IdPath<GroupId>>().reply::<GroupView>(&[200]).errors(&[403, 404]),
            http_route("GET /api/channels/{id}", http_handler!(groups::get, Channel), User, budget(3, 3, "same", "0", "")).doc("getChannel", "A channel with its members", "Any user.").path::<IdPath<GroupId>>().reply::<GroupView>(&[200]).errors(&[403, 404]),
        ]),
    Decl::new(GroupsList, Light)
        .actions(&[GetItem, BatchGetItem, Query, QueryIndex])
        .why("list: authenticate, my memberships (Query on the table) and conversations (BatchGetItem); ?discover=true: public channels (Query on GSI1).")
        .routes(&[
            http_route("GET /api/groups", http_handler!(groups::list, Group), User, budget(3, 3, "as GET /api/conversations", "0", "my memberships of that kind (direct ones skipped by id), then their META + SUMMARY")).doc("listGroups", "The groups I belong to", "").page::<ConversationView>(),
            http_route("GET /api/channels", http_handler!(groups::list, Channel), User, budget(2, 2, "1 + page", "0", "`?discover=true`: one GSI1 query of `channel#` (mine: as GET /api/groups)")).doc("listChannels", "The channels I belong to", "").query::<groups::ChannelsQuery>().page::<groups::ChannelItem>(),
        ]),
    Decl::new(StatusSet, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, UpdateItem, DeleteItem, PostToConnection])
        .why("status: authenticate (BatchGetItem), presence (GetItem), new status (UpdateItem), presence event to contacts (memberships: Query on the table; conversations, presences: BatchGetItem; admin room: Query) and, leaving busy, missed messages (Query, BatchGetItem) to my devices (POST @connections, 410 cleanup: UpdateItem + DeleteItem).")
        .routes(&[
            http_route("PUT /api/status", http_handler!(status::set), User, budget(7, 4, "2 + contacts' conversations", "1", "session → (presence → status update) ‖ (memberships → their conversations) ‖ admin room → contacts' presences → `presence` pushes")).doc("setStatus", "Set my status", "`userId`, if given, must be the caller (403).").body::<status::StatusBody>().reply::<PresenceView>(&[200]).errors(&[403]),
        ]),
    Decl::new(StatusGet, Light)
        .actions(&[GetItem, BatchGetItem])
        .why("status of a user: authenticate, user + presence (BatchGetItem).")
        .routes(&[
            http_route("GET /api/status/{userId}", http_handler!(status::get), User, budget(2, 2, "1.5", "0", "session → user + presence + whether they blocked me (one batch)")).doc("getStatus", "A user's status", "").path::<status::UserPath>().reply::<PresenceView>(&[200]).errors(&[404]),
        ]),
    Decl::new(NotificationsCreate, FanOut)
        .actions(&[GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, PostToConnection])
        .why("send (admin): authenticate (BatchGetItem), the user (GetItem), the notification (PutItem), pushed to the user's devices (BatchGetItem, POST, 410 cleanup: UpdateItem + DeleteItem).")
        .routes(&[
            http_route("POST /api/notifications", http_handler!(notif::create), Admin, budget(4, 4, "1.5", "1", "session → user → put → push lookup")).doc("createNotification", "Notify a user", "Admins only.").body::<notif::SendBody>().reply::<Notification>(&[201]).errors(&[404]),
        ]),
    Decl::new(NotificationsList, Light)
        .actions(&[GetItem, BatchGetItem, Query])
        .why("mine: authenticate (BatchGetItem), pages of my notifications (Query on the table).")
        .routes(&[
            http_route("GET /api/notifications", http_handler!(notif::list), User, budget(2, 2, "1 + page", "0", "session → one query page (`?unread=true` reads on, at most 10 pages)")).doc("listNotifications", "My notifications, newest first", "").query::<notif::ListQuery>().page::<Notification>(),
        ]),
    Decl::new(NotificationsRead, Light)
        .actions(&[GetItem, BatchGetItem, Query, UpdateItem])
        .why("mark read: one (UpdateItem) or all (Query on the table, transactions of 100 UpdateItem).")
        .routes(&[
            http_route("POST /api/notifications/{id}/read", http_handler!(notif::read_one), User, budget(2, 2, "0.5", "1", "session → conditional update (404 when not yours)")).doc("readNotification", "Mark one of my notifications read", "").path::<IdPath<NotificationId>>().reply::<Notification>(&[200]).errors(&[404]),
            http_route("POST /api/notifications/read", http_handler!(notif::read_all), User, budget(2, 2, "0.5 + page", "2 per unread", "session → unread page → a transaction per 100 unread")).doc("readAllNotifications", "Mark all my notifications read", "").reply::<Marked>(&[200]),
        ]),
    Decl::new(UploadsCreate, Light)
        .actions(&[GetItem, BatchGetItem, PutItem, PutObject, PutObjectTagging])
        .why("upload: authenticate (BatchGetItem), an attachment's conversation (GetItem), the upload record (PutItem, 24 h TTL); the presigned PUT is signed with this role, so it needs s3:PutObject and, for its pending tag, s3:PutObjectTagging (no S3 call is made).")
        .routes(&[
            http_route("POST /api/uploads", http_handler!(uploads::create), User, budget(3, 3, "1", "1", "session → conversation (attachments) → the record (conditional put)")).doc("createUpload", "Ask to upload a file (an attachment or an avatar)", "Answers a presigned `PUT` valid 15 minutes: send exactly `size` bytes with the listed headers straight to the object store, then name `uploadId` in a message's `attachments`. Attachments: members of the conversation only (404 otherwise). An upload never attached is removed after 24 hours.").body::<uploads::CreateUpload>().reply::<UploadTicket>(&[201]).errors(&[404]),
        ]),
    Decl::new(AttachmentsGet, Light)
        .actions(&[GetItem, BatchGetItem, GetObject])
        .why("download: authenticate (BatchGetItem), the upload record (GetItem), the caller's membership of its conversation (GetItem); the presigned GET is signed with this role (s3:GetObject; no S3 call is made).")
        .routes(&[
            http_route("GET /api/attachments/{id}", http_handler!(uploads::download), User, budget(3, 3, "1", "0", "session → record → membership")).doc("getAttachment", "Download an attachment (302 to a URL valid 5 minutes)", "Members of its conversation only; 404 alike for a missing attachment and one the caller may not see. `?thumbnail=true`: the preview of an image, once made.").path::<IdPath<UploadId>>().query::<uploads::DownloadQuery>().reply::<serde_json::Value>(&[302]).errors(&[404]),
        ]),
    Decl::new(UsersAvatar, Light)
        .actions(&[GetItem, BatchGetItem, UpdateItem, DeleteItem, GetObject, DeleteObjectTagging, DeleteObject])
        .why("avatar: authenticate (BatchGetItem), the upload record and the user (GetItem) concurrently; the object checked (HeadObject: s3:GetObject) and kept (s3:DeleteObjectTagging); one transaction: the record claimed and the user's profilePicture set (UpdateItem); the previous avatar's objects (s3:DeleteObject) and record (DeleteItem).")
        .routes(&[
            http_route("PUT /api/users/me/avatar", http_handler!(uploads::set_avatar), User, budget(4, 2, "1.5", "4", "session ‖ record ‖ user → transaction (claim + profilePicture); replacing an avatar adds its record's delete")).doc("setAvatar", "Make an avatar upload my profile picture", "The upload must be the caller's, `purpose: \"avatar\"`, uploaded as declared (404 / 400 otherwise; 409 when already used). `profilePicture` becomes `/api/attachments/{uploadId}`, which any signed-in user may follow; the previous avatar's file is deleted.").body::<uploads::SetAvatar>().reply::<AvatarSet>(&[200]).errors(&[404, 409]),
        ]),
    Decl::new(WsAuthorizer, Light)
        .actions(&[GetItem, BatchGetItem, DeleteItem])
        .why("$connect authorizer: the token's user and revocation (BatchGetItem); a browser's ticket is taken first (DeleteItem).")
        .routes(&[
            route(AUTHORIZER_KEY, Handler::Authorizer, Anyone, budget(1, 1, "1", "0", "session check at `$connect`"))
                .variants(&[("ticket", budget(2, 2, "1", "1", "the ticket taken (DeleteItem, single use) → the session of its token"))]),
        ]),
    Decl::new(WsConnect, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, PutItem, UpdateItem, PostToConnection])
        .why("$connect: connection + admin room (PutItem) and presence (UpdateItem) in one transaction; the first connection brings the user online: presence (GetItem), presence event to contacts (Query, BatchGetItem, POST). A refused $connect pushes nothing.")
        .routes(&[
            ws_route("$connect", ws_handler!(ws::connect), User, budget(2, 1, "0", "2–3", "connection ‖ presence (returned) ‖ admin room; the first connection also broadcasts `presence` (as PUT /api/status)")),
        ]),
    Decl::new(WsDisconnect, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, UpdateItem, DeleteItem, PostToConnection])
        .why("$disconnect: presence (UpdateItem), connection, admin-room and room entries (DeleteItem); a typing indicator it held ends (conversation: GetItem, room: Query, POST, 410 cleanup); the last connection takes the user offline (presence event: Query, BatchGetItem, POST).")
        .routes(&[
            ws_route("$disconnect", ws_handler!(ws::disconnect), User, budget(3, 1, "0", "3", "connection ‖ presence ‖ admin room (+ typing stop fan-out)")),
        ]),
    Decl::new(WsDefault, Light)
        .actions(&[GetItem, PostToConnection])
        .why("$default: an `error` event (POST) for an unknown or missing action.")
        .routes(&[
            ws_route("$default", ws_handler!(ws::default), User, budget(0, 0, "0", "0", "`error` event only")),
        ]),
    Decl::new(WsSendMessage, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, PutItem, UpdateItem, DeleteItem, PostToConnection, DeleteConnection, GetObject, DeleteObjectTagging])
        .why("sendMessage / chatMessage: as messages-send, the connection check (GetItem) in place of the authentication read. A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("sendMessage", ws_handler!(ws::send_message), User, budget(8, 4, "3", "4", "conversation + summary + idempotency key + the direct conversation's block items (batch) ‖ the connection still open (`GetItem`) ‖ the flood counter (conditional `ADD`) → the idempotency key claimed → the message (`PutItem`) → the summary's count, last message and the sender's read position in one conditional update (in a group: the `seq` reserved ‖ the key claimed → the message → the last message ‖ the sender's read marker) ‖ fan-out lookups → pushes; a direct message to a user who is busy or not connected adds one notification put")).doc("sendMessage", "Send a message (stored, then pushed).", "Members only (`error` FORBIDDEN otherwise; NOT_FOUND for an unknown conversation or user).\nAcknowledged with `messageReceived` on this connection once durably stored; `chatMessage`\ngoes to every other connection of every member (busy members excepted), `newMessage` to\nthe admin room. A retried `clientMessageId` is acknowledged again with the stored message\n(`duplicate: true`) and pushed to nobody.").body::<ws::SendMessage>(),
            ws_route("chatMessage", ws_handler!(ws::send_message), User, budget(7, 3, "2", "3", "alias of sendMessage")).doc("chatMessage", "Alias of sendMessage (seed 000).", "").body::<ws::SendMessage>(),
        ]),
    Decl::new(WsTyping, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, UpdateItem, DeleteItem, PostToConnection, DeleteConnection])
        .why("typing: the conversation (GetItem), the connection's typing state (UpdateItem), its room (Query on the table), my presence (GetItem) and the viewers' blocks of me (BatchGetItem): no typing between a blocker and the blocked, POST, 410 cleanup (UpdateItem + DeleteItem). A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("typing", ws_handler!(ws::typing), User, budget(6, 3, "3", "1", "conversation ‖ connection open → connection update ‖ (room ‖ my presence: those I blocked → the other viewers' block items of me: those who blocked me) → fan-out")).doc("typing", "Start or stop a typing indicator (members only); pushed as `typingStatus` to the other members. It ends on `isTyping:false`, on disconnect, or at `expiresAt` (≤ 10 s).", "").body::<ws::Typing>(),
        ]),
    Decl::new(WsEditMessage, FanOut)
        .actions(&[GetItem, BatchGetItem, QueryIndex, PutItem, UpdateItem, ConditionCheckItem, DeleteItem, PostToConnection, DeleteConnection])
        .why("editMessage: as messages-edit, the connection check (GetItem) in place of the session check. A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("editMessage", ws_handler!(ws::edit_message), User, budget(5, 3, "2.5", "8", "as PATCH /api/messages/{id}, the connection check in place of the session check")).doc("editMessage", "Edit a message (as PATCH /api/messages/{id}); `messageEdited` to every member's connections, this one included.", "").body::<ws::EditMessage>(),
        ]),
    Decl::new(WsReact, FanOut)
        .actions(&[GetItem, BatchGetItem, QueryIndex, PutItem, DeleteItem, UpdateItem, ConditionCheckItem, PostToConnection, DeleteConnection])
        .why("react / unreact: as messages-react, the connection check (GetItem) in place of the session check. A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("react", ws_handler!(ws::react), User, budget(5, 3, "2", "10", "as PUT /api/messages/{id}/reactions/{reaction}, the connection check in place of the session check")).doc("react", "React to a message; `reactionAdded` to the members (again: confirmed to this connection only).", "").body::<ws::ReactTo>(),
            ws_route("unreact", ws_handler!(ws::react), User, budget(5, 3, "2", "10", "as react")).doc("unreact", "Take one's reaction back; `reactionRemoved` to the members (again: confirmed to this connection only).", "").body::<ws::ReactTo>(),
        ]),
    Decl::new(WsMarkAsRead, FanOut)
        .actions(&[GetItem, BatchGetItem, UpdateItem, DeleteItem, PostToConnection, DeleteConnection])
        .why("markAsRead: as conversations-read, without the authentication read. A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("markAsRead", ws_handler!(ws::mark_as_read), User, budget(4, 4, "2.5", "1", "connection open → conversation ‖ message → marker → receipts fan-out (as the HTTP route, the connection check in place of the session check)")).doc("markAsRead", "Mark read up to a message (default everything); `messagesMarkedRead` to the reader's devices, `messagesRead` to the other members. Members only.", "").body::<ws::MarkAsRead>(),
        ]),
    Decl::new(WsDelivered, Light)
        .actions(&[GetItem, BatchGetItem, UpdateItem, DeleteItem, PostToConnection, DeleteConnection])
        .why("delivered: the connection (GetItem), the conversation + summary (BatchGetItem) ‖ the message (GetItem), the delivery marker (UpdateItem, conditional: one write per acknowledged batch); messagesDelivered to the other members when it moved (BatchGetItem, POST, 410 Gone cleanup: UpdateItem + DeleteItem). A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("delivered", ws_handler!(ws::delivered), User, budget(4, 4, "2", "1", "connection open → conversation ‖ message → marker → messagesDelivered to the others (one presence batch)")).doc("delivered", "This device received the conversation's messages up to `upToMessageId` (default: all): one acknowledgement per batch; `messagesDelivered` to the other members when the marker moved. Nothing comes back.", "").body::<ws::MarkAsRead>(),
        ]),
    Decl::new(WsJoinConversation, Light)
        .actions(&[GetItem, PutItem, UpdateItem, DeleteItem, PostToConnection, DeleteConnection])
        .why("joinConversation: conversation and connection (GetItem), one transaction: viewing (UpdateItem), room entry (PutItem), previous room entry (DeleteItem). A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("joinConversation", ws_handler!(ws::join_conversation), User, budget(3, 2, "1", "4", "conversation ‖ connection (open, as the check) → transaction: viewing + room entry (+ leaving the previous room)")).doc("joinConversation", "This connection views a conversation (joins its room). Members only.", "").body::<ws::ViewConversation>(),
        ]),
    Decl::new(WsLeaveConversation, Light)
        .actions(&[GetItem, UpdateItem, DeleteItem, PostToConnection, DeleteConnection])
        .why("leaveConversation: room entry (DeleteItem) and viewing (UpdateItem). A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("leaveConversation", ws_handler!(ws::leave_conversation), User, budget(3, 1, "0.5", "2", "room entry ‖ viewing ‖ connection open")).doc("leaveConversation", "This connection stops viewing.", "").body::<ws::ViewConversation>(),
        ]),
    Decl::new(WsSetStatus, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, UpdateItem, DeleteItem, PostToConnection, DeleteConnection])
        .why("setStatus: as status-set, without the authentication read; the presence back (POST). A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("setStatus", ws_handler!(ws::set_status), User, budget(7, 4, "2.5 + contacts' conversations", "1", "as PUT /api/status, the connection check in place of the session check")).doc("setStatus", "Set my status; answered with `presence`, and `presence` goes to my contacts.", "").body::<ws::SetStatus>(),
        ]),
    Decl::new(WsPing, Light)
        .actions(&[GetItem, PostToConnection, DeleteConnection])
        .why("ping: `pong` (POST). A frame on a connection whose token has expired closes it (DELETE @connections).")
        .routes(&[
            ws_route("ping", ws_handler!(ws::ping), User, budget(1, 1, "0.5", "0", "connection open → `pong`")).doc("ping", "Keep-alive; answered with `pong`.", ""),
        ]),
    Decl::new(DevicesRegister, Light)
        .actions(&[GetItem, BatchGetItem, Query, PutItem, DeleteItem, CreatePlatformEndpoint, DeleteEndpoint])
        .why("register a phone: authenticate (BatchGetItem) ‖ the token's lock (GetItem) ‖ my devices (Query); its SNS endpoint (CreatePlatformEndpoint; a token moving from another user: the old endpoint deleted, DeleteEndpoint); the device and the lock in one transaction (PutItem; the previous holder's device: DeleteItem).")
        .routes(&[
            http_route("POST /api/devices", http_handler!(devices::register), User, budget(4, 2, "2 + devices/2", "4–6", "session ‖ the token's lock (`GetItem`) ‖ my devices (`Query`) → `CreatePlatformEndpoint` → transaction: device + lock (+ the previous holder's device deleted); the same token again: no write; an 11th device: the oldest removed (+1 transaction, `DeleteEndpoint`)")).doc("registerDevice", "Register a phone for push notifications", "Idempotent per token: 201 when registered now, 200 when it was already the caller's. A token registered by another user moves to the caller (the old registration and its SNS endpoint are removed). With push off for the platform (no platform application configured) the device is kept with `pushEnabled: false`. A user keeps at most 10 devices: an 11th unregisters the oldest.").body::<devices::RegisterBody>().reply::<Device>(&[201, 200]).errors(&[409]),
        ]),
    Decl::new(DevicesList, Light)
        .actions(&[GetItem, BatchGetItem, Query])
        .why("my devices: authenticate (BatchGetItem), one Query of my partition's DEVICE# items.")
        .routes(&[
            http_route("GET /api/devices", http_handler!(devices::list), User, budget(2, 2, "1 + devices/2", "0", "session → one query")).doc("listDevices", "My registered phones", "").page::<Device>(),
        ]),
    Decl::new(DevicesDelete, Light)
        .actions(&[GetItem, BatchGetItem, DeleteItem, DeleteEndpoint])
        .why("remove one of my devices: authenticate (BatchGetItem) ‖ the device (GetItem); device + token lock (DeleteItem, one transaction) ‖ its SNS endpoint (DeleteEndpoint).")
        .routes(&[
            http_route("DELETE /api/devices/{id}", http_handler!(devices::delete), User, budget(3, 2, "1.5", "4", "session ‖ device (`GetItem`) → transaction (device + lock) ‖ `DeleteEndpoint`")).doc("deleteDevice", "Unregister one of my phones", "Another user's device is the 404 of a missing one.").path::<IdPath<DeviceId>>().reply::<users::Deleted<DeviceId>>(&[200]).errors(&[404]),
        ]),
    Decl::new(ConversationsSettings, Light)
        .actions(&[GetItem, BatchGetItem, UpdateItem])
        .why("my settings of a conversation: authenticate (BatchGetItem), my membership (UpdateItem, conditional on it).")
        .routes(&[
            http_route("PUT /api/conversations/{id}/settings", http_handler!(conv::settings), User, budget(2, 2, "1", "1", "session → conditional update of my membership (404 when not a member)")).doc("setConversationSettings", "My settings of a conversation: mute and push preview", "Members only. Replaces the settings: `mutedUntil` (no phone push until then; a mention still comes through unless `mentionsThroughMute` is false), `preview` (`full`, `sender_only`: the default, `none`).").path::<IdPath<ConversationId>>().body::<conv::SettingsBody>().reply::<Settings>(&[200]).errors(&[404]),
        ]),
    Decl::new(ConversationsPolicy, Light)
        .actions(&[GetItem, BatchGetItem, UpdateItem, PutItem])
        .why("a conversation's policy (read-only, slow mode, message lifetime): authenticate (BatchGetItem) alongside the conversation (GetItem), then its META (UpdateItem, conditional on its version) with the audit entry (PutItem), in one transaction.")
        .routes(&[
            http_route("PATCH /api/conversations/{id}/policy", http_handler!(conv::policy), User, budget(3, 2, "1.5", "4", "session ‖ conversation → conditional update of META (on its `version`) and the audit entry, one transaction; nothing changed: no write")).doc("setConversationPolicy", "Read-only, slow mode and disappearing messages", "Groups and channels: their owner and admins, and system admins (members: 403). A direct conversation: either member, its message lifetime only. `readOnly`: only the owner and admins post (others: 403). `slowModeSeconds`: a member posts at most once per interval (429 `RATE_LIMITED` with `Retry-After`; owner and admins exempt). `messageLifetimeSeconds`: messages sent from now on carry `expiresAt` and disappear then from history, threads, sync, pins and lists (the table's TTL removes them later). A field absent stays as it is; 0 turns slow mode or the lifetime off. 409 when a membership change came in between.").path::<IdPath<ConversationId>>().body::<conv::PolicyBody>().reply::<PolicyView>(&[200]).errors(&[403, 404, 409]),
        ]),
    Decl::new(PhonePush, FanOut)
        .timeout_s(60)
        .actions(&[GetItem, BatchGetItem, Query, PutItem, DeleteItem, Publish, DeleteEndpoint])
        .why("phone push, fed by the table's stream (new messages, admin notifications): the conversation and sender, the recipients' presences and memberships (BatchGetItem); per recipient to push to: devices and memberships (Query), summaries for the badge (BatchGetItem); per device a claim (PutItem, conditional), the push (sns:Publish); a disabled endpoint: the device and its lock (DeleteItem), the endpoint (DeleteEndpoint); a failed push gives its claim back (DeleteItem).")
        .routes(&[
            route(STREAM_KEY, Handler::Stream, Anyone, budget(6, 6, "1.5 + 1 per recipient + their conversations/2", "1 per device", "a direct message to a member with one device and no connection: conversation + sender (batch) → presence + membership (batch) → devices (`Query`) → memberships (`Query`) → summaries (batch) → claim (conditional put) → `Publish`")),
        ]),
    Decl::new(UsersBlock, Light)
        .actions(&[GetItem, BatchGetItem, Query, PutItem, UpdateItem, DeleteItem])
        .why("block / unblock: authenticate (BatchGetItem) and the user (GetItem) concurrently; one transaction: the block item (PutItem if absent / DeleteItem if present) and the blocker's presence (UpdateItem: blockSet, blockCount capped). My blocks: one Query of my partition's BLOCK# items.")
        .routes(&[
            http_route("PUT /api/users/{id}/block", http_handler!(moder::block, true), User, budget(3, 2, "1.5", "4", "session ‖ user → transaction (block item + the blocker's presence: `blockSet`, `blockCount` capped at 1000)")).doc("blockUser", "Block a user", "Private and immediate: the blocked user cannot start or send to a direct conversation with the blocker (refused like any other send), sees neither their presence nor their typing, and triggers no notification or push for them; in shared groups and channels the blocker gets no live event of their messages and history marks them (`senderBlocked`). Idempotent; at most 1000 blocks (409).").path::<IdPath<UserId>>().reply::<BlockChange>(&[200]).errors(&[403, 404, 409]),
            http_route("DELETE /api/users/{id}/block", http_handler!(moder::block, false), User, budget(2, 2, "1", "4", "session → transaction (block item deleted if present + the presence's set and count)")).doc("unblockUser", "Unblock a user", "Idempotent; a user who no longer exists can still be unblocked (a malformed id names nothing: 404).").path::<IdPath<UserId>>().reply::<BlockChange>(&[200]).errors(&[403, 404]),
            http_route("GET /api/users/me/blocks", http_handler!(moder::blocks), User, budget(2, 2, "1 + page", "0", "session → one Query of `BLOCK#` items")).doc("listBlocks", "The users I blocked", "Paged by user id.").query::<moder::BlocksQuery>().page::<Block>(),
        ]),
    Decl::new(ReportsCreate, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, QueryIndex, PutItem, UpdateItem, DeleteItem, PostToConnection])
        .why("report: authenticate (BatchGetItem) and the message by id (GetItem in the conversation its id names; an id of the older form: Query on GSI1) or the user (GetItem) concurrently; the message's conversation (GetItem); one transaction: the report and its lock (PutItem, conditional); `report` to the admin room (Query, POST, 410 cleanup: UpdateItem + DeleteItem).")
        .routes(&[
            http_route("POST /api/messages/{id}/reports", http_handler!(moder::report_message), User, budget(5, 4, "2", "4", "session ‖ message (`GetItem`: its id names the conversation) → conversation → transaction (report + lock) → admin room → `report`")).doc("reportMessage", "Report a message", "Anyone who can read it (members; admins); anyone else gets the 404 of a missing message. One open report per reporter and message: 409 until it is resolved. Connected admins get a `report` event.").path::<IdPath<MessageId>>().body::<moder::ReportBody>().reply::<Report>(&[201]).errors(&[403, 404, 409]),
            http_route("POST /api/users/{id}/reports", http_handler!(moder::report_user), User, budget(4, 3, "1.5", "4", "session ‖ user → transaction (report + lock) → admin room → `report`")).doc("reportUser", "Report a user", "One open report per reporter and user: 409 until it is resolved. Connected admins get a `report` event.").path::<IdPath<UserId>>().body::<moder::ReportBody>().reply::<Report>(&[201]).errors(&[403, 404, 409]),
        ]),
    Decl::new(ReportsReview, FanOut)
        .actions(&[GetItem, BatchGetItem, Query, QueryIndex, PutItem, UpdateItem, DeleteItem, PostToConnection, DeleteConnection, DeleteObject])
        .why("review (admins): reports of a status (Query on GSI1). Lift a suspension: the user (GetItem); one transaction: the user (UpdateItem, conditional on its suspendedUntil), the audit entry (PutItem). Resolve: the report (GetItem); one transaction: the report open → resolved (UpdateItem, conditional), its lock (DeleteItem), the audit entry (PutItem) and the action's writes: a suspension (UpdateItem of the user) or a ban (the group's META: GetItem, UpdateItem conditional on its version; the membership: DeleteItem). After it: a suspended user's connections end (presence: GetItem; each removed: UpdateItem, DeleteItem; DELETE @connections; `presence`: Query, BatchGetItem, POST); a deleted message is tombstoned as DELETE /api/messages/{id} does (GetItem, BatchGetItem, UpdateItem, PutItem, s3:DeleteObject, POST); a ban tells the members (PutItem, BatchGetItem, POST).")
        .routes(&[
            http_route("GET /api/reports", http_handler!(moder::reports), Admin, budget(2, 2, "1 + page", "0", "admins; session → one GSI1 page of `REPORTS#<status>`, oldest first")).doc("listReports", "Reports to review", "Admins only. `status=open` (the default) or `resolved`; oldest first, paged.").query::<moder::ReportsQuery>().page::<Report>(),
            http_route("POST /api/reports/{id}/resolve", http_handler!(moder::resolve), Admin, budget(3, 3, "1.5", "6", "admins; session → report (strongly consistent) → transaction (report open → resolved, lock deleted, audit entry); `dismiss`")).doc("resolveReport", "Resolve a report", "Admins only. `dismiss`; `delete_message` (tombstones it, `messageDeleted` to the members); `suspend_user` (the reported user or the message's sender: every token revoked, every socket closed at once, login refused with 403 `ACCOUNT_SUSPENDED` until `until`, or for good); `ban_from_channel` (the sender out of the message's group or channel, and kept out). The transition and its audit entry (and a suspension's or ban's writes) are one transaction: of two admins resolving one report, one wins and the other gets 409.").path::<IdPath<ReportId>>().body::<moder::ResolveBody>().reply::<Report>(&[200]).errors(&[404, 409]).variants(&[
                ("suspend_user", budget(9, 6, "2.5 + contacts'", "8 + 3 per connection", "as dismiss, the user's suspension in the transaction (+1 item) → their connections end: presence → each removed and closed → `presence` broadcast (memberships ‖ admin room → contacts' presences); measured: one connection, no contacts")),
                ("ban_from_channel", budget(6, 5, "2", "10", "session → report → the group (GetItem) → transaction (+ META conditional on its version, the membership deleted) → the removal's notification ‖ the members' presences → pushes")),
            ]),
            http_route("DELETE /api/users/{id}/suspension", http_handler!(moder::lift_suspension), Admin, budget(3, 3, "1.5", "4", "admins; session → the user (strongly consistent) → transaction (`suspendedUntil` removed, conditional on the one read; the audit entry); not suspended: no write")).doc("liftSuspension", "Lift a user's suspension early", "Admins only. The user may log in again (tokens issued before the suspension stay revoked). Idempotent: a user not suspended is answered alike, with no audit entry. Audited (`suspension_lifted`).").path::<IdPath<UserId>>().reply::<SuspensionLifted>(&[200]).errors(&[403, 404, 409]),
        ]),
    Decl::new(AuditList, Light)
        .actions(&[GetItem, BatchGetItem, Query])
        .why("audit log (admins): authenticate (BatchGetItem), one Query of the AUDIT partition, newest first.")
        .routes(&[
            http_route("GET /api/audit", http_handler!(moder::audit), Admin, budget(2, 2, "1 + page", "0", "admins; session → one backward Query of `AUDIT`")).doc("listAudit", "The audit log of moderators' actions", "Admins only; newest first, paged: who (`actorId`), what (`action`), when (`at`), and the user, message, conversation and report acted on.").query::<moder::AuditQuery>().page::<AuditEntry>(),
        ]),
    Decl::new(GroupsBans, FanOut)
        .actions(&[GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, PostToConnection])
        .why("ban / unban: authenticate (BatchGetItem), the group (GetItem) and the user (GetItem) concurrently; one transaction: META (UpdateItem conditional on its version: out of memberSet/adminSet, into banSet), the membership (DeleteItem), the audit entry (PutItem); a banned member: the removal's notification (PutItem) and `membership` event (BatchGetItem, POST, 410 cleanup: UpdateItem + DeleteItem).")
        .routes(&[
            http_route("PUT /api/groups/{id}/bans/{userId}", http_handler!(moder::ban, Group, true), User, budget(6, 3, "2", "8", "session ‖ group ‖ user → transaction (META, membership, audit entry) → a member banned: notification ‖ presences → `membership`")).doc("banFromGroup", "Ban a user from a group", "The owner and admins of the group, and system admins. The user leaves the group and cannot be added again until unbanned. Idempotent; audited.").path::<moder::BanPath>().reply::<BanChange>(&[200]).errors(&[403, 404, 409]),
            http_route("DELETE /api/groups/{id}/bans/{userId}", http_handler!(moder::ban, Group, false), User, budget(4, 2, "1.5", "4", "session ‖ group ‖ user → transaction (META, audit entry)")).doc("unbanFromGroup", "Lift a ban from a group", "As banning; the user is not added back.").path::<moder::BanPath>().reply::<BanChange>(&[200]).errors(&[403, 404, 409]),
            http_route("PUT /api/channels/{id}/bans/{userId}", http_handler!(moder::ban, Channel, true), User, budget(6, 3, "2", "8", "as groups")).doc("banFromChannel", "Ban a user from a channel", "The owner and admins of the channel, and system admins. The user leaves the channel and cannot join again until unbanned. Idempotent; audited.").path::<moder::BanPath>().reply::<BanChange>(&[200]).errors(&[403, 404, 409]),
            http_route("DELETE /api/channels/{id}/bans/{userId}", http_handler!(moder::ban, Channel, false), User, budget(4, 2, "1.5", "4", "as groups")).doc("unbanFromChannel", "Lift a ban from a channel", "As banning; the user may join again.").path::<moder::BanPath>().reply::<BanChange>(&[200]).errors(&[403, 404, 409]),
        ]),
    ]
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn declarations_cover_every_function_once_and_every_route_key_once() {
        let declared: Vec<Function> = FUNCTIONS.iter().map(|d| d.function).collect();
        assert_eq!(declared, Function::ALL, "one declaration per function, in the enum's order");
        let mut keys = BTreeSet::new();
        for r in routes() {
            assert!(keys.insert(r.key), "route key {} declared twice", r.key);
        }
        for d in FUNCTIONS {
            assert!(!d.routes.is_empty(), "{} has no route", d.function.name());
            assert!(d.actions.contains(&GetItem), "{}: every function warms up with a GetItem", d.function.name());
            assert_eq!(Function::from_name(d.function.name()), Some(d.function));
        }
    }

    #[test]
    fn every_function_fits_one_bundle_and_only_password_functions_get_the_password_memory() {
        for d in FUNCTIONS {
            let needs = d.needs();
            assert!(
                needs.len() <= 1,
                "{} needs {needs:?}: add a bundle linking both (Bundle, lambda/…) or split the function",
                d.function.name()
            );
            assert_eq!(d.memory == PasswordHash, d.bundle() == Bundle::Password, "{}", d.function.name());
            assert!(!d.actions.contains(&GetJwtSecret), "{}: GetJwtSecret follows from uses_tokens", d.function.name());
        }
        let bundle = |f: Function| f.decl().map(Decl::bundle);
        assert_eq!(bundle(AuthLogin), Some(Bundle::Password));
        assert_eq!(bundle(AuthRegister), Some(Bundle::Password));
        assert_eq!(bundle(UsersMe), Some(Bundle::Light));
        assert!(AuthLogin.decl().is_some_and(|d| d.grants().contains(&GetJwtSecret)));
        assert!(WsAuthorizer.decl().is_some_and(|d| d.grants().contains(&GetJwtSecret)));
        assert!(WsSendMessage.decl().is_some_and(|d| !d.grants().contains(&GetJwtSecret)));
    }

    /// Each bundle's package enables exactly its features, and names its binary.
    #[test]
    fn each_bundle_package_builds_its_binary_with_its_features() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        for b in Bundle::ALL {
            let manifest = std::fs::read_to_string(format!("{root}/{}/Cargo.toml", b.package_dir())).expect("manifest");
            assert!(manifest.contains(&format!("name = \"{}\"", b.binary())), "{}: binary name", b.package_dir());
            let features: Vec<String> = b.features().iter().map(|f| format!("\"{f}\"")).collect();
            let line = format!("features = [{}]", features.join(", "));
            assert!(manifest.contains(&line), "{}: expected `{line}`", b.package_dir());
            assert!(manifest.contains("default-features = false"), "{}: the defaults (redb) stay out", b.package_dir());
        }
    }

    #[test]
    fn no_two_http_routes_name_a_path_variable_differently_at_the_same_level() {
        let paths: Vec<&str> = routes().iter().filter_map(|r| http_parts(r.key)).map(|(_, p)| p).collect();
        assert_eq!(conflicting_path_variables(&paths), None);
        let conflict = ["/api/messages/{id}", "/api/messages/send", "/api/messages/{messageId}"];
        assert_eq!(conflicting_path_variables(&conflict), Some(("/api/messages/{id}", "/api/messages/{messageId}")));
        assert_eq!(conflicting_path_variables(&["/a/{x}/b/{y}", "/a/{x}/c/{z}", "/b/{z}"]), None);
    }
}
