//! Performance checks that counts can make (times cannot, on shared CI machines): the quick mode
//! of docs/PERFORMANCE.md. Runs with the workspace tests (`scripts/test.sh`), or alone with
//! `scripts/perf-quick.sh`.
//!
//! - Fan-out: one message to a group of N members costs `8 + ceil(N/100)` DynamoDB requests
//!   (never one per member, never a scan), the same write units whatever N, half a read unit per
//!   member, and exactly one push per member connection plus the sender's acknowledgement.
//! - Artifact size: the Lambda binary's dependency graph keeps one TLS/crypto stack and one
//!   HTTP stack (what a 4 MB zip allows); the zip itself is measured by `scripts/perf-size.sh`
//!   (a release arm64 build: minutes, so not on every run).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chat::models::{ConversationKind, Role};
use chat::push::{Push, PushError};
use chat::repo::connections::Connection;
use chat::service::Actor;
use chat::store::counted::requests;
use chat::store::{Counted, EmbeddedTable};
use chat::{App, Config};
use chat_bench::capacity::Capacity;
use chat_bench::{events, seed_user};
use serde_json::json;

#[derive(Default)]
struct CountingPush(AtomicUsize);

#[async_trait]
impl Push for CountingPush {
    async fn post(&self, _: &str, _: Vec<u8>) -> Result<(), PushError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn close(&self, _: &str) -> Result<(), PushError> {
        Ok(())
    }
}

struct Sent {
    requests: usize,
    batch_gets: usize,
    scans_or_queries: usize,
    rru: f64,
    wru: f64,
    pushes: usize,
}

/// A group of `n` members (the sender included), each with one live connection; one
/// `sendMessage` from the sender's connection, counted at the store and at the push.
async fn send_to_group_of(n: usize) -> Sent {
    send_to(n, false, Some("c1")).await
}

/// As `send_to_group_of`, or (`direct`) the second message of a direct conversation of two.
async fn send_to(n: usize, direct: bool, client_message_id: Option<&str>) -> Sent {
    let capacity = Arc::new(Capacity::new(EmbeddedTable::in_memory().unwrap()));
    let counted = Arc::new(Counted::new(capacity.clone()));
    let push = Arc::new(CountingPush::default());
    let app = Arc::new(App::with_parts(Config::for_tests(), counted.clone(), push.clone()));
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        members.push(seed_user(app.table(), &format!("m{i}")).await);
    }
    let mut connections = Vec::with_capacity(n);
    for m in &members {
        let c =
            Connection::new(format!("{}=", ulid::Ulid::generate()), m.id.clone(), Role::User, chat::clock::now_ms());
        chat::repo::connections::connect(app.table(), &c, &chat::clock::iso(0), chat::clock::now_secs()).await.unwrap();
        connections.push(c.connection_id);
    }
    let sender = Actor { user_id: members[0].id.clone(), username: members[0].username.clone(), role: Role::User };
    let handler = functions::routes::routes()
        .into_iter()
        .find_map(|r| match r.handler {
            functions::routes::Handler::Ws(h) if r.key == "sendMessage" => Some(h),
            _ => None,
        })
        .unwrap();
    let conversation = if direct {
        // The first message starts the conversation.
        let frame = json!({ "action": "sendMessage", "receiverId": members[1].id, "text": "hi" });
        let event = events::ws("sendMessage", &connections[0], Some(&sender), Some(&frame));
        assert_eq!(functions::ws::respond(app.clone(), handler, event).await.status_code, 200);
        chat::ids::ConversationId::direct(&members[0].id, &members[1].id).to_string()
    } else {
        let others: Vec<String> = members[1..].iter().map(|m| m.id.to_string()).collect();
        chat::service::groups::create(&app, &sender, ConversationKind::Group, "perf", &others)
            .await
            .unwrap()
            .id
            .to_string()
    };

    counted.take();
    capacity.take();
    capacity.enable(true);
    push.0.store(0, Ordering::SeqCst);
    let frame = json!({ "action": "sendMessage", "conversationId": conversation, "text": "hello", "clientMessageId": client_message_id });
    let event = events::ws("sendMessage", &connections[0], Some(&sender), Some(&frame));
    let res = functions::ws::respond(app.clone(), handler, event).await;
    assert_eq!(res.status_code, 200);
    capacity.enable(false);
    let records = counted.take();
    let tally = capacity.take();
    Sent {
        requests: requests(&records),
        batch_gets: records.iter().filter(|r| r.op == "BatchGetItem").map(|r| r.requests).sum(),
        scans_or_queries: records.iter().filter(|r| r.op == "Query" || r.op == "Scan").count(),
        rru: tally.rru,
        wru: tally.wru,
        pushes: push.0.load(Ordering::SeqCst),
    }
}

/// A 1:1 send writes what it must and no more (issue 19): the message, the summary (its count,
/// last message and the sender's read position in one update), the flood counter, and with a
/// `clientMessageId` its record; no index entry, no reservation of its own, no read marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_send_writes_one_unit_per_item_it_must_write() {
    for (client_message_id, want) in [(Some("c1"), 4.0), (None, 3.0)] {
        let s = send_to(2, true, client_message_id).await;
        println!("1:1, clientMessageId {client_message_id:?}: {} requests, {} RRU, {} WRU", s.requests, s.rru, s.wru);
        assert_eq!(s.wru, want, "clientMessageId {client_message_id:?}");
        assert_eq!(s.pushes, 2, "the ack and the other member's connection");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_costs_one_batch_read_per_100_members_and_the_same_writes_whatever_the_size() {
    for n in [1, 2, 10, 100, 1000] {
        let s = send_to_group_of(n).await;
        let per_100 = n.div_ceil(100);
        println!(
            "N = {n:>4}: {} requests ({} BatchGetItem), {} RRU, {} WRU, {} pushes",
            s.requests, s.batch_gets, s.rru, s.wru, s.pushes
        );
        // the connection still open (one GetItem) ‖ conversation + summary + idempotency key
        // (one batch) ‖ the flood counter → seq reserved ‖ key claimed → message → presences (a batch per 100
        // members) ‖ admin room (one query) ‖ the summary's last message ‖ the sender's marker.
        assert!(s.requests <= 9 + per_100, "N = {n}: {} requests, at most {}", s.requests, 9 + per_100);
        assert!(s.batch_gets <= 1 + per_100, "N = {n}: {} BatchGetItem requests", s.batch_gets);
        assert!(
            s.scans_or_queries <= 1,
            "N = {n}: {} queries: the fan-out must not query per member",
            s.scans_or_queries
        );
        // Reads: half a unit per member presence, plus the conversation (whose member set
        // grows by about 30 bytes a member: half a unit per 4 KB), summary, key, admin room, connection.
        let conversation = (n as f64 * 40.0 / 4096.0).ceil().max(1.0) * 0.5;
        assert!(s.rru <= 0.5 * n as f64 + conversation + 2.0, "N = {n}: {} RRU", s.rru);
        // Writes do not grow with the group, one unit each, no transaction (issue 19): the seq
        // reserved, the idempotency key, the message (no index entry: its id names the
        // conversation), the summary's last message, the sender's read marker, and the flood
        // counter.
        assert!(s.wru <= 6.0, "N = {n}: {} WRU", s.wru);
        // Every other member's connection once, and the sender's acknowledgement.
        assert_eq!(s.pushes, n, "N = {n}: pushes");
    }
}

/// The crates of one Lambda binary's package (`lambda/<bundle>`) for its target (normal
/// dependencies), resolved as `sam build` and `cargo lambda build -p` build it: alone.
fn lambda_dependencies(package: &str) -> Vec<(String, String)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "--target",
            "aarch64-unknown-linux-gnu",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    let mut crates: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_owned(), parts.next()?.trim_start_matches('v').to_owned()))
        })
        .collect();
    crates.sort();
    crates.dedup();
    crates
}

#[test]
fn the_lambda_binary_keeps_one_tls_stack_and_one_http_stack() {
    // Each bundle links only what its functions use (functions/src/routes.rs, `Bundle`).
    // The preview function (no route) has its own package: the image decoders stay out of
    // every other zip.
    let bundles: [(&str, &[&str]); 5] = [
        ("chat-lambda-light", &[]),
        ("chat-lambda-password", &["argon2"]),
        ("chat-lambda-s3", &["aws-sdk-s3"]),
        ("chat-lambda-sns", &["aws-sdk-sns"]),
        ("chat-lambda-thumbnail", &["aws-sdk-s3", "image"]),
    ];
    for (package, own) in bundles {
        let crates = lambda_dependencies(package);
        let has = |name: &str| crates.iter().any(|(n, _)| n == name);
        // The preview function signs no token: no Secrets Manager client.
        let tokens = package == "chat-lambda-thumbnail" || has("aws-sdk-secretsmanager");
        assert!(has("aws-sdk-dynamodb") && tokens, "{package}: the list looks wrong: {crates:?}");
        for optional in ["argon2", "aws-sdk-s3", "aws-sdk-sns", "image"] {
            assert_eq!(has(optional), own.contains(&optional), "{package}: {optional}");
        }
        // Each of these would add hundreds of KB to a zip that must stay under 4 MB
        // (docs/PERFORMANCE.md, "Artifact size").
        let forbidden = [
            ("redb", "the embedded store, for the local gateway and tests only"),
            ("openssl-sys", "a second TLS library (the SDK uses rustls + aws-lc)"),
            ("native-tls", "a second TLS library"),
            ("ring", "a second crypto library next to aws-lc"),
            ("reqwest", "a second HTTP client next to the SDK's hyper client"),
            // jsonwebtoken signs with aws-lc (`aws_lc_rs`), already linked for TLS: its RustCrypto
            // backend would link RSA and elliptic curves for HS256 alone (150 KB of zip).
            ("rsa", "jsonwebtoken's RustCrypto backend; HS256 runs on aws-lc"),
            ("p256", "jsonwebtoken's RustCrypto backend"),
            ("ed25519-dalek", "jsonwebtoken's RustCrypto backend"),
        ];
        for (name, why) in forbidden {
            assert!(!has(name), "{name} is in {package}: {why}");
        }
        // One version of each heavy crate: two would link both.
        for heavy in ["hyper", "h2", "rustls", "aws-lc-rs", "aws-lc-sys", "tokio", "aws-smithy-runtime", "serde_json"] {
            let versions: Vec<_> = crates.iter().filter(|(n, _)| n == heavy).map(|(_, v)| v.as_str()).collect();
            assert!(versions.len() <= 1, "{package}: {heavy} is linked in {} versions: {versions:?}", versions.len());
        }
    }
}
