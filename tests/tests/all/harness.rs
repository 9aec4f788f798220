//! A local gateway on a random port, and real clients for it: HTTP (reqwest), WebSocket
//! (tokio-tungstenite) and `@connections` (the AWS SDK).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chat::config::StoreKind;
use chat::store::{Counted, Table};
use chat::Config;
use futures::{SinkExt, StreamExt};
use local_gateway::{Limits, Rate, Running};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support;

/// Runs each scenario on the embedded store and on DynamoDB.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Store::Memory).await } )*
        }
        mod dynamodb {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Store::Dynamo).await } )*
        }
    };
}

pub(crate) use both_stores;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The embedded store, in memory.
    Memory,
    /// DynamoDB: the local DynamoDB-compatible server, a fresh table.
    Dynamo,
}

pub struct Gateway {
    pub running: Running,
    pub http: String,
    pub ws: String,
    client: reqwest::Client,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.running.task.abort();
    }
}

pub fn config(store: Store) -> Config {
    let mut config = Config::for_tests();
    // Counted as in production (budgets include the counter), never reached: a test's own pace
    // must not decide its outcome (`policy.rs` tests the limit).
    config.send_rate.limit = i64::MAX;
    if store == Store::Dynamo {
        config.store =
            StoreKind::Dynamo { table: support::unique_name("e2e"), endpoint: Some(support::dynamodb_endpoint()) };
    }
    config
}

/// A fresh table of `store`'s kind, for wrapping.
pub async fn table(store: Store) -> Arc<dyn Table> {
    match store {
        Store::Memory => Arc::new(support::memory_table()),
        Store::Dynamo => Arc::new(support::dynamo_table().await),
    }
}

/// A gateway over a request-counting table.
pub async fn counted(store: Store) -> (Gateway, Arc<Counted<Arc<dyn Table>>>) {
    let counted = Arc::new(Counted::new(table(store).await));
    let gw = Gateway::with_table(store, Some(counted.clone())).await;
    (gw, counted)
}

/// As [`counted`], the `@connections` calls recorded in the same log (as no DynamoDB request).
pub async fn counted_with_push(store: Store) -> (Gateway, Arc<Counted<Arc<dyn Table>>>) {
    let counted = Arc::new(Counted::new(table(store).await));
    let layer = |inner| Arc::new(Counted::sharing_log(inner, &counted)) as Arc<dyn chat::push::Push>;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let running = local_gateway::start_with_push(config(store), Some(counted.clone()), addr, unlimited_rates(), layer)
        .await
        .expect("the local gateway starts");
    (Gateway::from_running(running), counted)
}

/// The default limits without the rate limits (the idle timeout stays).
pub fn unlimited_rates() -> Limits {
    Limits {
        http_stage: Rate::UNLIMITED,
        per_user: Rate::UNLIMITED,
        per_connection: Rate::UNLIMITED,
        ..Limits::default()
    }
}

impl Gateway {
    pub async fn start(store: Store) -> Self {
        Self::with_table(store, None).await
    }

    pub async fn with_table(store: Store, table: Option<Arc<dyn Table>>) -> Self {
        Self::spawn(config(store), table).await
    }

    /// A gateway on a free port without rate limits: a test's own pace must not decide its
    /// outcome (a fast machine would hit the per-user limit); `limits.rs` tests the limits.
    pub async fn spawn(config: Config, table: Option<Arc<dyn Table>>) -> Self {
        Self::spawn_with_limits(config, table, unlimited_rates()).await
    }

    pub async fn spawn_with_limits(config: Config, table: Option<Arc<dyn Table>>, limits: Limits) -> Self {
        let running = local_gateway::start(config, table, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), limits)
            .await
            .expect("the local gateway starts");
        Self::from_running(running)
    }

    pub fn from_running(running: Running) -> Self {
        let addr = running.addr;
        Self { running, http: format!("http://{addr}"), ws: format!("ws://{addr}/ws"), client: reqwest::Client::new() }
    }

    pub fn app(&self) -> &chat::App {
        &self.running.gateway.app
    }

    /// Any request; returns the status and the JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: impl AsRef<str>,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{}", self.http, path.as_ref()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("the gateway answers");
        let status = res.status();
        let body = res.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    // The shorthands take the path by value too (`impl AsRef<str>`), so a closure may return
    // the request for a path it formats as a future.

    pub async fn get(&self, path: impl AsRef<str>, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: impl AsRef<str>, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// A POST without a token (registration, login).
    pub async fn post_anon(&self, path: impl AsRef<str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, None, Some(body)).await
    }

    pub async fn put(&self, path: impl AsRef<str>, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: impl AsRef<str>, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Registers a user with a unique name; returns who they are and their token.
    pub async fn user(&self, prefix: &str) -> User {
        let username = support::unique_username(prefix);
        let (status, body) = self
            .post_anon("/api/users/register", json!({ "username": username, "password": "correct horse battery" }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        User {
            id: body["data"]["user"]["id"].as_str().unwrap().to_owned(),
            username,
            token: body["data"]["token"].as_str().unwrap().to_owned(),
        }
    }

    /// A system admin with a unique name, created as at deploy time (`ensure_admin`), logged in.
    pub async fn admin(&self, prefix: &str) -> User {
        const PASSWORD: &str = "admin password";
        let username = support::unique_username(prefix);
        let created = chat::service::users::ensure_admin(
            self.app(),
            chat::models::Username::parse(&username).unwrap(),
            chat::models::Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap();
        assert!(created, "{username} is a new admin");
        let (status, login) =
            self.post_anon("/api/users/login", json!({ "username": username, "password": PASSWORD })).await;
        assert_eq!(status, StatusCode::OK, "{login}");
        assert_eq!(login["data"]["user"]["role"], "admin");
        User {
            id: login["data"]["user"]["id"].as_str().unwrap().to_owned(),
            username,
            token: login["data"]["token"].as_str().unwrap().to_owned(),
        }
    }

    /// The WebSocket URL with `token` in the query (as the browser client sends it).
    pub fn ws_url(&self, token: &str) -> String {
        format!("{}?token={token}", self.ws)
    }

    /// A WebSocket of whoever `token` is.
    pub async fn connect_token(&self, token: &str) -> Ws {
        Ws::connect(&self.ws_url(token)).await.expect("the WebSocket connects")
    }

    pub async fn connect(&self, user: &User) -> Ws {
        self.connect_token(&user.token).await
    }

    /// Waits until `user` has exactly `n` stored connections (a `$disconnect` or a removal
    /// reached through another path).
    pub async fn wait_connections(&self, user: &User, n: usize) {
        let id = chat::ids::UserId::parse(&user.id).expect("a user id");
        eventually(&format!("{} connections of {}", n, user.username), || async {
            chat::repo::connections::presence(self.app().table(), &id).await.expect("presence").conn_set.len() == n
        })
        .await;
    }

    /// Waits until exactly `n` connections view the conversation `conv` (are in its room):
    /// `joinConversation` and `leaveConversation` send no answer to wait for.
    pub async fn wait_room(&self, conv: &str, n: usize) {
        let conv = chat::ids::ConversationId::parse(conv).expect("a conversation id");
        eventually(&format!("{n} connections viewing {conv}"), || async {
            chat::repo::connections::room(self.app().table(), &conv, chat::clock::now_secs()).await.unwrap().len() == n
        })
        .await;
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub token: String,
}

type Stream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A real WebSocket client.
pub struct Ws {
    stream: Stream,
}

pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

impl Ws {
    pub async fn connect(url: &str) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (stream, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Self { stream })
    }

    pub async fn send(&mut self, frame: Value) {
        self.stream.send(Message::Text(frame.to_string().into())).await.expect("frame sent");
    }

    /// Sends a frame on a socket the server may have closed: whether it went out.
    pub async fn try_send(&mut self, frame: Value) -> bool {
        self.stream.send(Message::Text(frame.to_string().into())).await.is_ok()
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.stream.send(msg).await.expect("frame sent");
    }

    /// The next event named `name`, skipping others; panics after `EVENT_TIMEOUT`.
    pub async fn event(&mut self, name: &str) -> Value {
        self.try_event(name, EVENT_TIMEOUT).await.unwrap_or_else(|| panic!("no {name} event within {EVENT_TIMEOUT:?}"))
    }

    /// The next event named `name` within `wait`, skipping others.
    pub async fn try_event(&mut self, name: &str, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()??.ok()?;
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).expect("events are JSON");
                crate::contract::check_event(&v);
                if v["event"] == name {
                    return Some(v["data"].clone());
                }
            }
        }
    }

    /// The next event within `wait`, whatever its name: `(event, data)`.
    pub async fn next_event(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()??.ok()?;
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).expect("events are JSON");
                crate::contract::check_event(&v);
                return Some((v["event"].as_str().unwrap_or_default().to_owned(), v["data"].clone()));
            }
        }
    }

    /// The events named in `names`, whatever their order, skipping others: name → data (the
    /// first of each name). Panics after `EVENT_TIMEOUT`.
    pub async fn events(&mut self, names: &[&str]) -> HashMap<String, Value> {
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        let mut seen = HashMap::new();
        while !names.iter().all(|n| seen.contains_key(*n)) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Some((name, data)) if names.contains(&name.as_str()) => {
                    seen.entry(name).or_insert(data);
                }
                Some(_) => {}
                None => panic!("not all of {names:?} within {EVENT_TIMEOUT:?}: got {:?}", seen.keys()),
            }
        }
        seen
    }

    /// Discards the events already sent (reads until the socket is quiet for `quiet`).
    pub async fn drain(&mut self, quiet: Duration) {
        while let Ok(Some(_)) = tokio::time::timeout(quiet, self.stream.next()).await {}
    }

    /// Waits for the server to close the socket.
    pub async fn closed(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Waits for the server's close frame: its code, or `None` when the socket ended without
    /// one (or stayed open for `wait`).
    pub async fn close_code(&mut self, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                Err(_) | Ok(None) | Ok(Some(Err(_))) => return None,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// Stores a connection that no socket of the gateway is behind: one API Gateway no longer has
/// (its `$disconnect` was lost), to which a push answers 410; or one that a fake `Push` serves.
pub async fn ghost_connection(table: &dyn Table, user: &chat::ids::UserId, connection_id: &str) {
    let ghost =
        chat::repo::connections::Connection::new(connection_id.to_owned(), user.clone(), chat::models::Role::User, 0);
    chat::repo::connections::connect(table, &ghost, "2026-01-01T00:00:00Z", chat::clock::now_secs())
        .await
        .expect("the ghost connection is stored");
}

/// Polls until `f` holds (state reached through another path, e.g. a `$disconnect`).
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not reached within 5 s");
}
