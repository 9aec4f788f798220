//! Faults: the store down, hanging or throttling (503 `UNAVAILABLE`, never a partial write:
//! every operation is swept with a fault at each of its store calls in turn, then retried),
//! and `@connections` answering 410, 500 or nothing (the gone connection is cleaned up, the
//! other deliveries go on, the send is acknowledged). The crash test (`kill -9` during a load
//! of sends) is in `infra/local-gateway/tests/crash.rs`: it needs the gateway binary.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chat::push::{fan_out, Push, PushError};
use chat::store::{Condition, DynamoTable, Item, Key, Page, Query, StoreError, Table, Update, WriteOp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{both_stores, Gateway, Store};

/// A table that fails its `n`-th call (counting from `arm`) with a throttling or outage error;
/// or, armed with `arm_write`, its `n`-th write, either before it reaches the store or after the
/// store applied it (the answer lost: the caller crashed right after that write).
struct Faulty {
    inner: Arc<dyn Table>,
    calls: AtomicUsize,
    fail_at: AtomicUsize,
    throttle: std::sync::atomic::AtomicBool,
    writes: AtomicUsize,
    fail_write_at: AtomicUsize,
    after_write: std::sync::atomic::AtomicBool,
}

impl Faulty {
    fn new(inner: Arc<dyn Table>) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            fail_at: AtomicUsize::new(0),
            throttle: Default::default(),
            writes: AtomicUsize::new(0),
            fail_write_at: AtomicUsize::new(0),
            after_write: Default::default(),
        }
    }
    /// The `n`-th call from now fails (0: none).
    fn arm(&self, n: usize, throttle: bool) {
        self.calls.store(0, Ordering::SeqCst);
        self.throttle.store(throttle, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
        self.writes.store(0, Ordering::SeqCst);
        self.fail_write_at.store(0, Ordering::SeqCst);
    }
    /// The `n`-th write from now fails (0: none): before the store sees it, or once applied.
    fn arm_write(&self, n: usize, after: bool) {
        self.arm(0, false);
        self.after_write.store(after, Ordering::SeqCst);
        self.fail_write_at.store(n, Ordering::SeqCst);
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
    fn fault(&self) -> Result<(), StoreError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at.load(Ordering::SeqCst) {
            return Err(if self.throttle.load(Ordering::SeqCst) {
                StoreError::Throttled
            } else {
                StoreError::Unavailable("injected fault".into())
            });
        }
        Ok(())
    }
    /// Runs one write under the write fault, if armed for it.
    async fn write<T>(&self, op: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        self.fault()?;
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.fail_write_at.load(Ordering::SeqCst) {
            return op.await;
        }
        if self.after_write.load(Ordering::SeqCst) {
            let _applied = op.await;
        }
        Err(StoreError::Unavailable("injected crash".into()))
    }
}

#[async_trait]
impl Table for Faulty {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        self.fault()?;
        self.inner.get(key, consistent).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.fault()?;
        self.inner.batch_get(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.fault()?;
        self.inner.query(query).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        self.write(self.inner.put(item, cond)).await
    }
    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        self.write(self.inner.update(key, updates, cond)).await
    }
    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.write(self.inner.delete(key, cond)).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.write(self.inner.transact(ops)).await
    }
}

fn unavailable(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::SERVICE_UNAVAILABLE && body["error"]["code"] == "UNAVAILABLE" && body["success"] == false
}

/// A DynamoDB client for an endpoint that is not DynamoDB.
async fn dynamo_at(endpoint: &str) -> Arc<dyn Table> {
    let sdk = crate::support::local_sdk_config(endpoint).await;
    Arc::new(DynamoTable::new(DynamoTable::client_from_config(&sdk, Some(endpoint)), "chat"))
}

async fn every_route_answers_503(gw: &Gateway, what: &str) {
    let user = chat::models::User::new("ghost", String::new(), chat::models::Role::User, "2026-01-01T00:00:00Z");
    let token = gw.app().tokens.issue(&user).expect("token").0;
    let register = json!({ "username": "newcomer", "password": "password 123" });
    let login = json!({ "username": "newcomer", "password": "password 123" });
    let send = json!({ "receiverId": chat::ids::UserId::generate(), "content": "hi" });
    let calls: [(Method, &str, Option<&str>, Option<Value>); 5] = [
        (Method::POST, "/api/users/register", None, Some(register)),
        (Method::POST, "/api/auth/login", None, Some(login)),
        (Method::GET, "/api/users/me", Some(&token), None),
        (Method::POST, "/api/messages", Some(&token), Some(send)),
        (Method::GET, "/api/conversations", Some(&token), None),
    ];
    for (method, path, token, body) in calls {
        let (status, res) = gw.call(method.clone(), path, token, body).await;
        assert!(unavailable(status, &res), "{what}: {method} {path} answered {status} {res}");
    }
    // At the handshake too: not a 401, which would tell the client its token is bad, but what
    // API Gateway answers when its authorizer fails otherwise: 500.
    match crate::harness::Ws::connect(&gw.ws_url(&token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 500, "{what}: connect"),
        other => panic!("{what}: connect: {:?}", other.map(|_| "connected")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_dynamodb_endpoint_down_every_route_answers_503_unavailable() {
    // A port that was free a moment ago: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let gw = Gateway::with_table(Store::Memory, Some(dynamo_at(&format!("http://127.0.0.1:{port}")).await)).await;
    every_route_answers_503(&gw, "endpoint down").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_dynamodb_endpoint_that_never_answers_routes_answer_503_instead_of_hanging() {
    // Accepts connections and reads requests, never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    let blackhole = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            keep.lock().unwrap_or_else(|e| e.into_inner()).push(socket);
        }
    });
    let gw = Gateway::with_table(Store::Memory, Some(dynamo_at(&endpoint).await)).await;
    // The guard only turns a hang into a failure; the client's own timeouts answer first.
    let answered = tokio::time::timeout(Duration::from_secs(120), async {
        let (status, res) =
            gw.post_anon("/api/users/register", json!({ "username": "patient", "password": "password 123" })).await;
        assert!(unavailable(status, &res), "{status} {res}");
    })
    .await;
    blackhole.abort();
    assert!(answered.is_ok(), "the request hung on a silent store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_on_every_route_answers_503_unavailable() {
    let faulty = Arc::new(Faulty::new(Arc::new(crate::support::memory_table())));
    let gw = Gateway::with_table(Store::Memory, Some(faulty.clone())).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    for (method, path, body) in [
        (Method::GET, "/api/users/me", None),
        (Method::GET, "/api/conversations", None),
        (Method::POST, "/api/messages", Some(json!({ "receiverId": bob.id, "content": "x" }))),
        (Method::POST, "/api/groups", Some(json!({ "name": "g" }))),
    ] {
        faulty.arm(1, true);
        let (status, res) = gw.call(method.clone(), path, Some(&alice.token), body).await;
        assert!(unavailable(status, &res), "{method} {path}: {status} {res}");
    }
}

/// One operation under test: runs it (the fault may hit any of its store calls) and returns
/// its answer; `check` then verifies, without faults, that the state is all or nothing.
struct Sweep {
    faulty: Arc<Faulty>,
    faults: usize,
    outcomes: std::collections::BTreeMap<String, usize>,
}

impl Sweep {
    /// Calls `request` once without faults to count its store calls, then once per call with
    /// that call failing; `check(answer, retry)` gets the faulted answer and the answer of the
    /// same request retried without faults.
    async fn run<F, Fut>(&mut self, name: &str, request: F, check: impl Fn(&(StatusCode, Value), &(StatusCode, Value)))
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = (StatusCode, Value)>,
    {
        self.faulty.arm(0, false);
        let (status, res) = request(0).await;
        assert!(status.is_success(), "{name} without a fault: {status} {res}");
        let calls = self.faulty.calls();
        assert!(calls > 0, "{name} made no store call");
        for k in 1..=calls {
            self.faulty.arm(k, k % 2 == 0);
            let faulted = request(k).await;
            self.faulty.arm(0, false);
            let retried = request(k).await;
            self.faults += 1;
            *self.outcomes.entry(format!("{name}: {}", faulted.0.as_u16())).or_default() += 1;
            assert!(
                faulted.0.is_success() || unavailable(faulted.0, &faulted.1),
                "{name}, fault at call {k} of {calls}: {} {}",
                faulted.0,
                faulted.1
            );
            check(&faulted, &retried);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_at_any_store_call_of_an_operation_leaves_nothing_half_done() {
    let faulty = Arc::new(Faulty::new(Arc::new(crate::support::memory_table())));
    let gw = &Gateway::with_table(Store::Memory, Some(faulty.clone())).await;
    let mut sweep = Sweep { faulty, faults: 0, outcomes: Default::default() };
    let alice = gw.user("alice").await;
    let mut partners = Vec::new();
    for i in 0..30 {
        partners.push(gw.user(&format!("p{i}")).await);
    }
    let partners = &partners;

    // Registration: a retry after a fault succeeds (no orphan username lock), or, when the
    // faulted call had succeeded, is a 409 for a user that exists and can log in.
    sweep
        .run(
            "register",
            |k| {
                let body = json!({ "username": format!("reg-{k}"), "email": format!("reg-{k}@example.com"), "password": "password 123" });
                gw.post_anon("/api/users/register", body)
            },
            |faulted, retried| {
                if faulted.0.is_success() {
                    assert_eq!(retried.0, StatusCode::CONFLICT);
                } else {
                    assert_eq!(retried.0, StatusCode::CREATED, "a faulted registration left something behind: {}", retried.1);
                }
            },
        )
        .await;

    // A first message (creates the conversation) with a clientMessageId: after a fault, the
    // retry stores it once; the conversation's count is the number of messages.
    sweep
        .run(
            "first message",
            |k| {
                let body =
                    json!({ "receiverId": partners[k].id, "content": "hello", "clientMessageId": format!("c-{k}") });
                gw.post("/api/messages", &alice.token, body)
            },
            |faulted, retried| {
                assert!(retried.0.is_success(), "retry: {} {}", retried.0, retried.1);
                if faulted.0.is_success() {
                    assert_eq!(
                        retried.1["data"]["id"], faulted.1["data"]["id"],
                        "the retry returns the stored message"
                    );
                }
            },
        )
        .await;
    for (k, p) in partners.iter().enumerate().take(20) {
        let (_, history) = gw.get(&format!("/api/messages/{}", p.id), &alice.token).await;
        let n = history["data"].as_array().map_or(0, Vec::len);
        assert!(n <= 1, "partner {k}: {n} messages for one clientMessageId");
        let (_, convs) = gw.get("/api/conversations", &p.token).await;
        let listed = convs["data"].as_array().map_or(0, Vec::len);
        if n == 1 {
            assert_eq!(listed, 1, "partner {k}: the message exists, the conversation must be listed");
            assert_eq!(convs["data"][0]["messageCount"], 1, "partner {k}: summary agrees");
        }
    }

    // Starting a conversation: both members see it after the retry.
    sweep
        .run(
            "start conversation",
            |k| {
                gw.post(
                    "/api/conversations/start",
                    &alice.token,
                    json!({ "participants": [alice.id, partners[20 + k].id] }),
                )
            },
            |_, retried| assert!(retried.0.is_success(), "{}", retried.1),
        )
        .await;

    // Marking read, deleting a message, adding a group member, changing a profile: after a
    // fault the retry completes it, and the effect is there once.
    let (_, first) =
        gw.post("/api/messages", &partners[25].token, json!({ "receiverId": alice.id, "content": "read me" })).await;
    let conv = first["data"]["conversationId"].as_str().expect("conversation").to_owned();
    sweep
        .run(
            "mark read",
            |_| gw.post(format!("/api/conversations/{conv}/read"), &alice.token, json!({})),
            |_, retried| assert_eq!(retried.1["data"]["unreadCount"], 0, "{}", retried.1),
        )
        .await;
    let mut doomed = Vec::new();
    for i in 0..12 {
        let (_, m) = gw
            .post("/api/messages", &alice.token, json!({ "receiverId": conv, "content": format!("doomed {i}") }))
            .await;
        doomed.push(m["data"]["id"].as_str().expect("message").to_owned());
    }
    let doomed = &doomed;
    sweep
        .run(
            "delete message",
            |k| gw.delete(format!("/api/messages/{}", doomed[k]), &alice.token),
            |_, retried| assert!(retried.0.is_success(), "{}", retried.1),
        )
        .await;
    let (_, history) = gw.get(&format!("/api/messages/{conv}?limit=100"), &alice.token).await;
    let deleted = history["data"].as_array().expect("history").iter().filter(|m| m["deleted"] == true).count();
    assert!(deleted >= 2, "the deletions happened: {deleted}");
    let (status, group) = gw.post("/api/groups", &alice.token, json!({ "name": "sweep" })).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group = group["data"]["id"].as_str().expect("group").to_owned();
    sweep
        .run(
            "add group member",
            |k| gw.put(format!("/api/groups/{group}/members"), &alice.token, json!({ "memberId": partners[k].id })),
            |_, retried| assert!(retried.0.is_success(), "{}", retried.1),
        )
        .await;
    let (_, g) = gw.get(&format!("/api/groups/{group}"), &alice.token).await;
    for m in g["data"]["members"].as_array().expect("members") {
        let id = m["id"].as_str().expect("id");
        if let Some(p) = partners.iter().find(|p| p.id == id) {
            let (_, theirs) = gw.get("/api/groups", &p.token).await;
            let listed = theirs["data"].as_array().is_some_and(|l| l.iter().any(|x| x["id"] == group));
            assert!(listed, "{} is a member and lists the group", p.username);
        }
    }
    sweep
        .run(
            "update profile",
            |k| gw.put(format!("/api/users/{}", alice.id), &alice.token, json!({ "company": format!("c{k}") })),
            |_, retried| assert!(retried.0.is_success(), "{}", retried.1),
        )
        .await;

    println!("{} faults injected: {:?}", sweep.faults, sweep.outcomes);
}

/// The hole this sweep found, now closed: `repo::groups::create` writes the members'
/// memberships first and the group last, so a fault part-way leaves no group at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_while_creating_a_group_leaves_no_half_created_group() {
    let faulty = Arc::new(Faulty::new(Arc::new(crate::support::memory_table())));
    let gw = &Gateway::with_table(Store::Memory, Some(faulty.clone())).await;
    let mut sweep = Sweep { faulty, faults: 0, outcomes: Default::default() };
    let (owner, member) = (gw.user("owner").await, gw.user("member").await);
    sweep
        .run(
            "create group",
            |k| gw.post("/api/groups", &owner.token, json!({ "name": format!("g{k}"), "members": [member.id] })),
            |_, retried| assert!(retried.0.is_success(), "{}", retried.1),
        )
        .await;
    let ids = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .map(|a| a.iter().filter_map(|g| g["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let (mine, theirs) = (gw.get("/api/groups", &owner.token).await.1, gw.get("/api/groups", &member.token).await.1);
    assert_eq!(ids(mine), ids(theirs), "every group its owner lists, its member lists too");
}

/// `@connections` as it may answer: gone, broken, silent, or fine.
#[derive(Default)]
struct FakePush {
    delivered: Mutex<Vec<(String, Vec<u8>)>>,
}

#[async_trait]
impl Push for FakePush {
    async fn post(&self, connection_id: &str, payload: Vec<u8>) -> Result<(), PushError> {
        match connection_id {
            c if c.starts_with("gone") => Err(PushError::Gone),
            c if c.starts_with("broken") => Err(PushError::Failed("500 Internal Server Error".into())),
            c if c.starts_with("silent") => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
            c => {
                self.delivered.lock().unwrap_or_else(|e| e.into_inner()).push((c.to_owned(), payload));
                Ok(())
            }
        }
    }
    async fn close(&self, _: &str) -> Result<(), PushError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_reports_gone_connections_and_delivers_to_the_others_despite_500s_and_silence() {
    let fake = Arc::new(FakePush::default());
    let push: Arc<dyn Push> = fake.clone();
    let deliveries = ["ok-1", "gone-1", "broken-1", "silent-1", "ok-2", "gone-2"]
        .iter()
        .map(|c| (c.to_string(), c.as_bytes().to_vec()))
        .collect();
    let mut gone =
        tokio::time::timeout(Duration::from_secs(60), fan_out(&push, deliveries)).await.expect("fan-out ends");
    gone.sort();
    assert_eq!(gone, ["gone-1", "gone-2"]);
    let delivered: Vec<_> =
        fake.delivered.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(delivered.len(), 2);
    assert!(delivered.contains(&"ok-1".to_owned()) && delivered.contains(&"ok-2".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_is_acknowledged_and_delivered_while_some_connections_are_gone_broken_or_silent() {
    use chat::ids::UserId;
    use chat::repo::connections;
    let fake = Arc::new(FakePush::default());
    let table: Arc<dyn Table> = Arc::new(crate::support::memory_table());
    let app = chat::App::with_parts(chat::Config::for_tests(), table.clone(), fake.clone());
    let (alice, bob) = (UserId::generate(), UserId::generate());
    for (id, name) in [(&alice, "alice"), (&bob, "bob")] {
        let mut u = chat::models::User::new(name, String::new(), chat::models::Role::User, "2026-01-01T00:00:00Z");
        u.id = id.clone();
        chat::repo::users::create(app.table(), &u).await.expect("user");
    }
    for conn in ["ok-bob", "gone-bob", "broken-bob", "silent-bob"] {
        crate::harness::ghost_connection(app.table(), &bob, conn).await;
    }
    let actor =
        chat::service::Actor { user_id: alice.clone(), username: "alice".into(), role: chat::models::Role::User };
    let out = chat::service::messages::Outgoing::parse(
        chat::service::messages::Target::User(bob.clone()),
        "through the storm",
        None,
    )
    .expect("a message");
    let sent = tokio::time::timeout(
        Duration::from_secs(60),
        chat::service::messages::send(&app, &actor, async { Ok(()) }, out, None),
    )
    .await
    .expect("a silent connection does not hold the acknowledgement");
    let outcome = sent.expect("the send succeeds");
    let duplicate = outcome.is_existing();
    let message = outcome.into_message();
    assert!(!duplicate);
    let delivered = fake.delivered.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(
        delivered.iter().any(|(c, p)| c == "ok-bob" && String::from_utf8_lossy(p).contains(message.id.as_str())),
        "the healthy connection got the message: {delivered:?}"
    );
    let presence = connections::presence(app.table(), &bob).await.expect("presence");
    let mut left = presence.conn_set.clone();
    left.sort();
    assert_eq!(left, ["broken-bob", "ok-bob", "silent-bob"], "only the 410 connection is removed");
    assert!(connections::get(app.table(), "gone-bob").await.expect("read").is_none());
}

both_stores!(a_send_failed_between_any_two_of_its_writes_is_stored_once_by_its_retry);

/// Issue 19: a send is several single-item writes (its `seq` reserved ‖ its `clientMessageId`
/// claimed, the message, the summary's last message ‖ the sender's read marker, a notification).
/// Each write in turn fails — before it reaches the store, or after the store applied it (a
/// crash right after it) — and the client retries with the same `clientMessageId`: the message
/// is stored exactly once, the conversation lists it as its last, and the count has no hole.
async fn a_send_failed_between_any_two_of_its_writes_is_stored_once_by_its_retry(store: Store) {
    let faulty = Arc::new(Faulty::new(crate::harness::table(store).await));
    let gw = &Gateway::with_table(store, Some(faulty.clone())).await;
    let (alice, bob) = (gw.user("alice").await, gw.user("bob").await);
    let send = |text: String, client: String| {
        gw.post(
            "/api/messages",
            &alice.token,
            json!({ "receiverId": bob.id, "content": text, "clientMessageId": client }),
        )
    };
    // The first message creates the conversation; the second counts a plain send's writes.
    for i in 0..2 {
        faulty.arm(0, false);
        let (status, res) = send(format!("warm-up {i}"), format!("w-{i}")).await;
        assert!(status.is_success(), "{res}");
    }
    let writes = faulty.writes();
    assert!(writes >= 3, "a send is several writes: {writes}");
    let mut sent = 2;
    for after in [false, true] {
        for k in 1..=writes {
            let (text, client) = (format!("crash at write {k}, after: {after}"), format!("c-{k}-{after}"));
            faulty.arm_write(k, after);
            let faulted = send(text.clone(), client.clone()).await;
            faulty.arm(0, false);
            let retried = send(text.clone(), client.clone()).await;
            sent += 1;
            let at = format!("write {k} of {writes} failed (after it applied: {after})");
            assert!(faulted.0.is_success() || unavailable(faulted.0, &faulted.1), "{at}: {faulted:?}");
            assert!(retried.0.is_success(), "{at}: the retry {retried:?}");
            let id = retried.1["data"]["id"].as_str().expect("an id").to_owned();
            if faulted.0.is_success() {
                assert_eq!(faulted.1["data"]["id"], retried.1["data"]["id"], "{at}: the retry answers the message");
            }
            let (_, history) = gw.get(format!("/api/messages/{}?limit=100", bob.id), &alice.token).await;
            let copies: Vec<&Value> =
                history["data"].as_array().expect("history").iter().filter(|m| m["text"] == text.as_str()).collect();
            assert_eq!(copies.len(), 1, "{at}: stored once, not lost: {history}");
            assert_eq!(copies[0]["id"], id.as_str(), "{at}");
            let (_, convs) = gw.get("/api/conversations", &bob.token).await;
            assert_eq!(convs["data"][0]["lastMessage"]["id"], id.as_str(), "{at}: listed as the last message");
            assert_eq!(convs["data"][0]["messageCount"], sent, "{at}: one seq per message, no hole");
            assert_eq!(copies[0]["seq"], sent, "{at}: the message holds the last seq");
        }
    }
    println!("{store:?}: a send of {writes} writes, each failed before and after it applied, then retried");
}
