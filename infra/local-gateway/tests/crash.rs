//! The local gateway killed with `kill -9` in the middle of a load of sends: after a restart on
//! the same data directory, every message that was acknowledged (201) is there. The embedded
//! store commits durably before a handler answers, so an acknowledgement is a promise.
//!
//! This runs the real binary (`CARGO_BIN_EXE_local-gateway`, which cargo builds for this test),
//! with the embedded store in a temporary directory.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_local-gateway");

struct Data(PathBuf);

impl Drop for Data {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Starts the gateway on `data` and waits until it answers.
async fn start(data: &Data) -> (Process, String) {
    assert!(std::path::Path::new(BINARY).exists(), "the local-gateway binary is missing at {BINARY}");
    let port = free_port();
    let child = Command::new(BINARY)
        .env("PORT", port.to_string())
        .env("CHAT_STORE", "embedded")
        .env("CHAT_DATA_DIR", &data.0)
        .env("CHAT_ENV", "local")
        .env("RUST_LOG", "warn")
        .env("CHAT_HTTP_STAGE_RATE", "100000")
        .env("CHAT_HTTP_STAGE_BURST", "100000")
        .env("CHAT_RATE_USER_PER_SEC", "100000")
        .env("CHAT_RATE_USER_BURST", "100000")
        .env_remove("DYNAMODB_ENDPOINT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway starts");
    let process = Process(child);
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..300 {
        if reqwest::get(format!("{base}/openapi.json")).await.is_ok_and(|r| r.status().is_success()) {
            return (process, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway did not answer on {base}");
}

async fn call(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = client.post(format!("{base}{path}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(res) => (res.status(), res.json().await.unwrap_or(Value::Null)),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Value::Null),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_a_kill_9() {
    let data = Data(std::env::temp_dir().join(format!("chat-crash-{}", std::process::id())));
    std::fs::create_dir_all(&data.0).expect("data dir");
    let (mut gateway, base) = start(&data).await;
    let client = reqwest::Client::new();
    let mut users = Vec::new();
    for name in ["alice", "bob"] {
        let (status, body) =
            call(&client, &base, "/api/users/register", None, json!({ "username": name, "password": "password 123" }))
                .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        users.push((
            body["data"]["user"]["id"].as_str().unwrap_or_default().to_owned(),
            body["data"]["token"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let ((alice, alice_token), (bob, bob_token)) = (users[0].clone(), users[1].clone());

    // Four senders, as fast as they can, each remembering what was acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for sender in 0..4 {
        let (client, base, acked, stop) = (client.clone(), base.clone(), acked.clone(), stop.clone());
        let (token, to) =
            if sender % 2 == 0 { (alice_token.clone(), bob.clone()) } else { (bob_token.clone(), alice.clone()) };
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let text = format!("s{sender}-{i}");
                let body = json!({ "receiverId": to, "content": text, "clientMessageId": text });
                match call(&client, &base, "/api/messages", Some(&token), body).await {
                    (StatusCode::CREATED, res) => {
                        let id = res["data"]["id"].as_str().unwrap_or_default().to_owned();
                        acked.lock().unwrap_or_else(|e| e.into_inner()).push((id, text));
                    }
                    (StatusCode::CONFLICT, _) => {} // too busy: not acknowledged, fine
                    _ => break,                     // the gateway is gone
                }
            }
        }));
    }
    // Kill it mid-load, once a good number of sends were acknowledged.
    for _ in 0..600 {
        if acked.lock().unwrap_or_else(|e| e.into_inner()).len() >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gateway.0.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    let _ = gateway.0.wait();
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        let _ = s.await;
    }
    drop(gateway);
    let acked = acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(acked.len() >= 20, "the load ran: {} acknowledged", acked.len());

    // Restart on the same data: every acknowledged message is there.
    let (_gateway, base) = start(&data).await;
    let mut stored = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.as_ref().map(|c| format!("&after={c}")).unwrap_or_default();
        let res = client
            .get(format!("{base}/api/messages/{bob}?limit=100{after}"))
            .bearer_auth(&alice_token)
            .send()
            .await
            .expect("the restarted gateway answers");
        assert_eq!(res.status(), StatusCode::OK);
        let page: Value = res.json().await.expect("JSON");
        let items = page["data"].as_array().cloned().unwrap_or_default();
        if cursor.is_none() && page["nextCursor"].is_string() {
            // Without a cursor the latest page comes first: walk from the very beginning instead.
            cursor = Some("msg_00000000000000000000000000".into());
            continue;
        }
        stored.extend(items.iter().filter_map(|m| m["id"].as_str().map(str::to_owned)));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let lost: Vec<_> = acked.iter().filter(|(id, _)| !stored.contains(id)).collect();
    println!("{} sends acknowledged before the kill, {} messages stored after the restart", acked.len(), stored.len());
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // And the store still works.
    let (status, _) =
        call(&client, &base, "/api/messages", Some(&alice_token), json!({ "receiverId": bob, "content": "after" }))
            .await;
    assert_eq!(status, StatusCode::CREATED);
}
