//! Real-time load, side by side: K WebSocket clients in 1:1 conversations (K/2 pairs) and in
//! groups of G, each sending M messages, against (1) the release local gateway
//! (`CHAT_STORE=memory`, every push through its `@connections` API, as in AWS) and (2) a
//! Node.js Socket.IO server doing the same work in memory (`bench/node/server.js`, seed 004's
//! design). Same generator, same clients, same run; loopback only; bounded in count and time.
//!
//! Each client sends, waits for its `messageReceived`, and sends again (closed loop), unless
//! `--rate R` paces every client at R messages per second (open loop). Every `chatMessage`
//! carries its send time; the receiver's clock is the same process's, so latency is
//! send → receive as the recipient sees it.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat::auth::Tokens;
use chat::models::{Role, User};
use chat::Config;
use chat_bench::{proc_cpu_secs, proc_status_kb, Stats};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use crate::{write_json, Args};

type Error = Box<dyn std::error::Error + Send + Sync>;

const SECRET: &str = "perf-load-secret-0123456789abcdef-0123456789";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Gateway,
    /// The same gateway library served by `perf serve`, its tokio blocking pool capped
    /// (`--max-blocking-threads`, default 8): how much of the gateway's cost is that pool.
    GatewayCapped,
    Node,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gateway => "Rust local gateway",
            Kind::GatewayCapped => "Rust local gateway, blocking pool capped",
            Kind::Node => "Node.js Socket.IO",
        }
    }

    fn send_frame(self, conversation: &str, text: &str, cmid: &str) -> String {
        let data = json!({ "conversationId": conversation, "text": text, "clientMessageId": cmid });
        match self {
            Kind::Gateway | Kind::GatewayCapped => {
                let mut d = data;
                d["action"] = "sendMessage".into();
                d.to_string()
            }
            Kind::Node => format!("42{}", json!(["sendMessage", data])),
        }
    }

    /// `(event, data)` of a server frame; `None` for protocol frames.
    fn decode(self, text: &str) -> Option<(String, Value)> {
        match self {
            Kind::Gateway | Kind::GatewayCapped => {
                let v: Value = serde_json::from_str(text).ok()?;
                Some((v["event"].as_str()?.to_owned(), v["data"].clone()))
            }
            Kind::Node => {
                let v: Value = serde_json::from_str(text.strip_prefix("42")?).ok()?;
                Some((v[0].as_str()?.to_owned(), v[1].clone()))
            }
        }
    }
}

struct Server {
    kind: Kind,
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn start(kind: Kind, args: &Args, group: usize) -> Result<Server, Error> {
    let port = free_port()?;
    let mut cmd = match kind {
        Kind::Gateway | Kind::GatewayCapped => {
            let mut c = if kind == Kind::GatewayCapped {
                let mut c = Command::new(std::env::current_exe()?);
                c.arg("serve").env("PERF_MAX_BLOCKING_THREADS", args.get("max-blocking-threads").unwrap_or("8"));
                c
            } else {
                Command::new(args.get("gateway").unwrap_or("target/release/local-gateway"))
            };
            c.env("CHAT_STORE", "memory")
                .env("CHAT_ENV", "local")
                .env("JWT_SECRET", SECRET)
                .env("CHAT_MAX_GROUP_MEMBERS", group.max(2).to_string())
                // The local API Gateway limits (20 frames/s per connection, 100/s per user) would
                // throttle a closed-loop client: lifted for the load test.
                .env("CHAT_HTTP_STAGE_RATE", "inf")
                .env("CHAT_HTTP_STAGE_BURST", "inf")
                .env("CHAT_RATE_USER_PER_SEC", "inf")
                .env("CHAT_RATE_USER_BURST", "inf")
                .env("CHAT_RATE_CONNECTION_PER_SEC", "inf")
                .env("CHAT_RATE_CONNECTION_BURST", "inf")
                .env("RUST_LOG", std::env::var("PERF_GATEWAY_LOG").unwrap_or_else(|_| "error".into()));
            c
        }
        Kind::Node => {
            let mut c = Command::new(args.get("node").unwrap_or("node"));
            c.arg(args.get("node-server").unwrap_or("bench/node/server.js")).env("JWT_SECRET", SECRET);
            c
        }
    };
    let child = cmd
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let server = Server { kind, child, port };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{} did not listen on {port}", kind.name()).into())
}

#[derive(Clone)]
struct Client {
    id: String,
    token: String,
}

/// Gateway: registered over HTTP (argon2 each, as any user). Node: tokens minted with the
/// shared secret (the Node server keeps no users).
async fn users(server: &Server, k: usize) -> Result<Vec<Client>, Error> {
    match server.kind {
        Kind::Node => {
            let tokens = Tokens::new(&Config { jwt_secret: SECRET.as_bytes().to_vec(), ..Config::for_tests() });
            (0..k)
                .map(|i| {
                    let user = User::new(&format!("load{i}"), String::new(), Role::User, "");
                    let token = tokens.issue(&user).map_err(|e| e.to_string())?.0;
                    Ok(Client { id: user.id.to_string(), token })
                })
                .collect()
        }
        Kind::Gateway | Kind::GatewayCapped => {
            let http = reqwest::Client::new();
            let url = format!("http://127.0.0.1:{}/api/users/register", server.port);
            let sem = Arc::new(Semaphore::new(2));
            let tasks: Vec<_> = (0..k)
                .map(|i| {
                    let (http, url, sem) = (http.clone(), url.clone(), sem.clone());
                    tokio::spawn(async move {
                        let _permit = sem.acquire().await;
                        let name = format!("load{i}-{}", &ulid::Ulid::generate().to_string()[20..]).to_lowercase();
                        let res = http
                            .post(&url)
                            .json(&json!({ "username": name, "password": "load test password" }))
                            .send()
                            .await?;
                        let body: Value = res.json().await?;
                        let id =
                            body["data"]["user"]["id"].as_str().ok_or_else(|| format!("register: {body}"))?.to_owned();
                        let token = body["data"]["token"].as_str().unwrap_or_default().to_owned();
                        Ok::<_, Error>(Client { id, token })
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(k);
            for t in tasks {
                out.push(t.await??);
            }
            Ok(out)
        }
    }
}

/// Conversations: `size` consecutive clients each. Returns the conversation of every client.
async fn conversations(server: &Server, clients: &[Client], size: usize, tag: &str) -> Result<Vec<String>, Error> {
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", server.port);
    let mut of_client = vec![String::new(); clients.len()];
    let mut declared = Vec::new();
    for (g, chunk) in clients.chunks(size).enumerate() {
        if chunk.len() < 2 {
            continue;
        }
        let id = match server.kind {
            Kind::Node => format!("{tag}{g}"),
            Kind::Gateway | Kind::GatewayCapped => {
                let (path, body) = if size == 2 {
                    ("/api/conversations/start", json!({ "participants": [chunk[0].id, chunk[1].id] }))
                } else {
                    let members: Vec<&str> = chunk[1..].iter().map(|c| c.id.as_str()).collect();
                    ("/api/groups", json!({ "name": format!("{tag}{g}"), "members": members }))
                };
                let res = http.post(format!("{base}{path}")).bearer_auth(&chunk[0].token).json(&body).send().await?;
                let v: Value = res.json().await?;
                v["data"]["id"].as_str().ok_or_else(|| format!("{path}: {v}"))?.to_owned()
            }
        };
        let kind = if size == 2 { "direct" } else { "group" };
        declared
            .push(json!({ "id": id, "kind": kind, "members": chunk.iter().map(|c| c.id.clone()).collect::<Vec<_>>() }));
        for i in 0..chunk.len() {
            of_client[g * size + i] = id.clone();
        }
    }
    if server.kind == Kind::Node {
        let res = http.post(format!("{base}/setup")).json(&json!({ "conversations": declared })).send().await?;
        if !res.status().is_success() {
            return Err(format!("node setup: {}", res.status()).into());
        }
    }
    Ok(of_client)
}

/// What every client's reader reports.
struct Shared {
    base: Instant,
    latencies_us: Mutex<Vec<f64>>,
    delivered: AtomicUsize,
    errors: AtomicUsize,
    last_delivery_us: AtomicUsize,
    /// Client connections that ended (closed or failed) before the end of the run.
    lost: AtomicUsize,
    /// Deliveries of the current phase carry this prefix.
    phase: Mutex<String>,
}

struct Conn {
    out: mpsc::UnboundedSender<Message>,
    /// `messageReceived` (clientMessageId) or `error` (None) for this client's sends.
    acks: mpsc::UnboundedReceiver<Option<String>>,
}

async fn connect(kind: Kind, port: u16, client: &Client, shared: Arc<Shared>) -> Result<Conn, Error> {
    let url = match kind {
        Kind::Gateway | Kind::GatewayCapped => format!("ws://127.0.0.1:{port}/ws?token={}", client.token),
        Kind::Node => format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"),
    };
    let (ws, _) = tokio_tungstenite::connect_async(&url).await?;
    let (mut sink, mut read) = ws.split();
    if kind == Kind::Node {
        // Engine.IO open packet, then the Socket.IO CONNECT with the token, then its answer.
        let open = read.next().await.ok_or("closed")??;
        if !open.to_text().unwrap_or_default().starts_with('0') {
            return Err(format!("unexpected Engine.IO open: {open:?}").into());
        }
        sink.send(Message::Text(format!("40{}", json!({ "token": client.token })).into())).await?;
        let ok = read.next().await.ok_or("closed")??;
        if !ok.to_text().unwrap_or_default().starts_with("40") {
            return Err(format!("Socket.IO refused the connection: {ok:?}").into());
        }
    }
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
    });
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let pong = out_tx.clone();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = read.next().await {
            let Message::Text(text) = msg else { continue };
            if kind == Kind::Node && text.as_str() == "2" {
                let _ = pong.send(Message::Text("3".into()));
                continue;
            }
            let Some((event, data)) = kind.decode(&text) else { continue };
            match event.as_str() {
                "chatMessage" => {
                    let now = shared.base.elapsed().as_micros() as usize;
                    let text = data["message"]["text"].as_str().unwrap_or_default();
                    let mut parts = text.split('|');
                    let (phase, sent) =
                        (parts.next().unwrap_or_default(), parts.next().and_then(|s| s.parse::<usize>().ok()));
                    let current = shared.phase.lock().map(|p| p.clone()).unwrap_or_default();
                    if let (true, Some(sent)) = (phase == current, sent) {
                        shared
                            .latencies_us
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(now.saturating_sub(sent) as f64);
                        shared.delivered.fetch_add(1, Ordering::Relaxed);
                        shared.last_delivery_us.fetch_max(now, Ordering::Relaxed);
                    }
                }
                "messageReceived" => {
                    let _ = ack_tx.send(data["clientMessageId"].as_str().map(str::to_owned));
                }
                "error" => {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    let _ = ack_tx.send(None);
                }
                _ => {}
            }
        }
        shared.lost.fetch_add(1, Ordering::Relaxed);
    });
    Ok(Conn { out: out_tx, acks: ack_rx })
}

#[derive(Debug, Clone)]
struct PhaseResult {
    scenario: String,
    sends: usize,
    expected: usize,
    delivered: usize,
    errors: usize,
    seconds: f64,
    latency_ms: Stats,
    server_cpu_s: f64,
}

async fn phase(
    server: &Server,
    conns: &mut [Conn],
    convs: &[String],
    shared: &Arc<Shared>,
    scenario: &str,
    fan: usize,
    m: usize,
    rate: Option<f64>,
    limit: Duration,
) -> PhaseResult {
    *shared.phase.lock().unwrap_or_else(|e| e.into_inner()) = scenario.to_owned();
    shared.latencies_us.lock().unwrap_or_else(|e| e.into_inner()).clear();
    shared.delivered.store(0, Ordering::SeqCst);
    shared.errors.store(0, Ordering::SeqCst);
    let active: Vec<usize> = (0..conns.len()).filter(|i| !convs[*i].is_empty()).collect();
    let expected = active.len() * m * (fan - 1);
    let cpu0 = proc_cpu_secs(server.child.id()).unwrap_or(0.0);
    let start_us = shared.base.elapsed().as_micros() as usize;
    shared.last_delivery_us.store(start_us, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + limit;
    let sends = Arc::new(AtomicUsize::new(0));
    let kind = server.kind;
    let mut tasks = Vec::new();
    // Each client's loop owns its connection's halves for the phase.
    let taken: Vec<(usize, mpsc::UnboundedSender<Message>, mpsc::UnboundedReceiver<Option<String>>)> = active
        .iter()
        .map(|&i| {
            let (tx, rx) = mpsc::unbounded_channel();
            let acks = std::mem::replace(&mut conns[i].acks, rx);
            drop(tx);
            (i, conns[i].out.clone(), acks)
        })
        .collect();
    for (i, out, mut acks) in taken {
        let (conv, shared, sends, scenario) = (convs[i].clone(), shared.clone(), sends.clone(), scenario.to_owned());
        tasks.push(tokio::spawn(async move {
            // Paced clients start spread over one interval, so the offered load is even.
            if let Some(r) = rate {
                let spread = ((i as u64 * 7919) % 1000) as f64 / 1000.0;
                tokio::time::sleep(Duration::from_secs_f64(spread / r)).await;
            }
            let t0 = tokio::time::Instant::now();
            let mut pending = 0usize;
            for n in 0..m {
                if let Some(r) = rate {
                    tokio::time::sleep_until(t0 + Duration::from_secs_f64(n as f64 / r)).await;
                }
                let sent = shared.base.elapsed().as_micros();
                let cmid = format!("{i}-{n}-{}", ulid::Ulid::generate());
                let text = format!("{scenario}|{sent}|{n}");
                if out.send(Message::Text(kind.send_frame(&conv, &text, &cmid).into())).is_err() {
                    break;
                }
                sends.fetch_add(1, Ordering::Relaxed);
                pending += 1;
                if rate.is_none() {
                    // Closed loop: the next message after this one's acknowledgement.
                    match tokio::time::timeout_at(deadline, acks.recv()).await {
                        Ok(Some(_)) => pending -= 1,
                        _ => break,
                    }
                }
            }
            while pending > 0 {
                match tokio::time::timeout_at(deadline, acks.recv()).await {
                    Ok(Some(_)) => pending -= 1,
                    _ => break,
                }
            }
            acks
        }));
    }
    let mut returned = Vec::new();
    for t in tasks {
        returned.push(t.await.ok());
    }
    for (&i, acks) in active.iter().zip(returned) {
        if let Some(acks) = acks {
            conns[i].acks = acks;
        }
    }
    // Deliveries still in flight after the last acknowledgement.
    while shared.delivered.load(Ordering::SeqCst) < expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let end_us = shared.last_delivery_us.load(Ordering::SeqCst);
    let cpu1 = proc_cpu_secs(server.child.id()).unwrap_or(0.0);
    let lat: Vec<f64> =
        shared.latencies_us.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|us| us / 1e3).collect();
    PhaseResult {
        scenario: scenario.to_owned(),
        sends: sends.load(Ordering::SeqCst),
        expected,
        delivered: shared.delivered.load(Ordering::SeqCst),
        errors: shared.errors.load(Ordering::SeqCst),
        seconds: (end_us.saturating_sub(start_us)) as f64 / 1e6,
        latency_ms: Stats::of(&lat),
        server_cpu_s: cpu1 - cpu0,
    }
}

struct ServerResult {
    kind: Kind,
    setup_s: f64,
    rss_start_mb: f64,
    rss_connected_mb: f64,
    rss_end_mb: f64,
    hwm_mb: f64,
    threads_end: u64,
    lost: usize,
    phases: Vec<PhaseResult>,
}

async fn run_server(kind: Kind, args: &Args) -> Result<ServerResult, Error> {
    let k: usize = args.num("clients", 1000);
    let m: usize = args.num("messages", 20);
    let g: usize = args.num("group", 10);
    let rate: Option<f64> = args.get("rate").and_then(|r| r.parse().ok());
    let limit = Duration::from_secs(args.num("phase-timeout", 120));
    let setup = Instant::now();
    let server = start(kind, args, g).await?;
    let pid = server.child.id();
    let mb = |field| proc_status_kb(pid, field).unwrap_or(0) as f64 / 1024.0;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let clients = users(&server, k).await?;
    let pairs = conversations(&server, &clients, 2, "dm").await?;
    let groups = conversations(&server, &clients, g, "grp").await?;
    let rss_start = mb("VmRSS");
    let shared = Arc::new(Shared {
        base: Instant::now(),
        latencies_us: Mutex::default(),
        delivered: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
        last_delivery_us: AtomicUsize::new(0),
        lost: AtomicUsize::new(0),
        phase: Mutex::default(),
    });
    let sem = Arc::new(Semaphore::new(32));
    let connecting: Vec<_> = clients
        .iter()
        .map(|c| {
            let (c, shared, sem, port) = (c.clone(), shared.clone(), sem.clone(), server.port);
            tokio::spawn(async move {
                let _p = sem.acquire().await;
                connect(kind, port, &c, shared).await
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(k);
    for c in connecting {
        conns.push(c.await??);
    }
    // Presence broadcasts of the connections settle.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let rss_connected = mb("VmRSS");
    let setup_s = setup.elapsed().as_secs_f64();
    let mut phases = Vec::new();
    phases.push(phase(&server, &mut conns, &pairs, &shared, "1:1", 2, m, rate, limit).await);
    phases.push(phase(&server, &mut conns, &groups, &shared, &format!("group of {g}"), g, m, rate, limit).await);
    let (rss_end, hwm) = (mb("VmRSS"), mb("VmHWM"));
    let threads_end = proc_status_kb(pid, "Threads").unwrap_or(0);
    let lost = shared.lost.load(Ordering::SeqCst);
    drop(conns);
    Ok(ServerResult {
        kind,
        setup_s,
        rss_start_mb: rss_start,
        rss_connected_mb: rss_connected,
        rss_end_mb: rss_end,
        hwm_mb: hwm,
        threads_end,
        lost,
        phases,
    })
}

pub fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let k: usize = args.num("clients", 1000);
    let m: usize = args.num("messages", 20);
    let g: usize = args.num("group", 10);
    if k > 5000 || m > 1000 {
        return Err("bounded: at most 5000 clients and 1000 messages each".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let targets = args.get("targets").unwrap_or("gateway,node").to_owned();
    let results: Vec<ServerResult> = rt.block_on(async {
        let mut out = Vec::new();
        for t in targets.split(',') {
            let kind = match t {
                "node" => Kind::Node,
                "gateway-capped" => Kind::GatewayCapped,
                _ => Kind::Gateway,
            };
            eprintln!("load: {} ...", kind.name());
            out.push(run_server(kind, args).await.map_err(|e| e.to_string())?);
        }
        Ok::<_, String>(out)
    })?;
    let mode = args.get("rate").map_or("closed loop (next send after the acknowledgement)".to_owned(), |r| {
        format!("paced at {r} messages/s per client")
    });
    println!("\n### WebSocket load: {k} clients, {m} messages each, {mode}; 1:1 = {} pairs, groups of {g}\n", k / 2);
    println!("| server | scenario | sends | deliveries (expected) | errors | seconds | delivered msg/s | latency p50 ms | p99 ms | max ms | server CPU s | server CPU µs per delivery |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut json_out = Vec::new();
    for r in &results {
        for p in &r.phases {
            let rate = p.delivered as f64 / p.seconds.max(1e-9);
            println!(
                "| {} | {} | {} | {} ({}) | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {:.2} | {:.0} |",
                r.kind.name(),
                p.scenario,
                p.sends,
                p.delivered,
                p.expected,
                p.errors,
                p.seconds,
                rate,
                p.latency_ms.p50,
                p.latency_ms.p99,
                p.latency_ms.max,
                p.server_cpu_s,
                p.server_cpu_s * 1e6 / p.delivered.max(1) as f64
            );
            json_out.push(json!({
                "server": r.kind.name(), "scenario": p.scenario, "sends": p.sends, "expected": p.expected,
                "delivered": p.delivered, "errors": p.errors, "seconds": p.seconds, "delivered_per_s": rate,
                "latency_p50_ms": p.latency_ms.p50, "latency_p99_ms": p.latency_ms.p99, "latency_max_ms": p.latency_ms.max,
                "server_cpu_s": p.server_cpu_s,
            }));
        }
    }
    println!("\n| server | setup s | RSS before clients MB | RSS with {k} clients MB | RSS at end MB | peak RSS MB | threads at end | connections lost |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut mem = Vec::new();
    for r in &results {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
            r.kind.name(),
            r.setup_s,
            r.rss_start_mb,
            r.rss_connected_mb,
            r.rss_end_mb,
            r.hwm_mb,
            r.threads_end,
            r.lost
        );
        mem.push(json!({ "server": r.kind.name(), "rss_start_mb": r.rss_start_mb, "rss_connected_mb": r.rss_connected_mb, "rss_end_mb": r.rss_end_mb, "hwm_mb": r.hwm_mb, "threads_end": r.threads_end, "lost": r.lost }));
    }
    if let (Some(a), Some(b)) =
        (results.iter().find(|r| r.kind == Kind::Gateway), results.iter().find(|r| r.kind == Kind::Node))
    {
        println!("\n| scenario | delivered msg/s, Rust ÷ Node | p50 latency, Rust ÷ Node | p99 latency, Rust ÷ Node | CPU per delivery, Rust ÷ Node |");
        println!("|---|---|---|---|---|");
        for (pa, pb) in a.phases.iter().zip(&b.phases) {
            let ra = pa.delivered as f64 / pa.seconds.max(1e-9);
            let rb = pb.delivered as f64 / pb.seconds.max(1e-9);
            let ca = pa.server_cpu_s / pa.delivered.max(1) as f64;
            let cb = pb.server_cpu_s / pb.delivered.max(1) as f64;
            println!(
                "| {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                pa.scenario,
                ra / rb,
                pa.latency_ms.p50 / pb.latency_ms.p50,
                pa.latency_ms.p99 / pb.latency_ms.p99,
                ca / cb
            );
        }
        println!(
            "\nMemory with {k} clients connected (RSS growth from before the clients): Rust {:.1} MB, Node {:.1} MB",
            a.rss_connected_mb - a.rss_start_mb,
            b.rss_connected_mb - b.rss_start_mb
        );
    }
    write_json(
        args,
        &json!({ "clients": k, "messages": m, "group": g, "rate": args.get("rate"), "phases": json_out, "memory": mem }),
    );
    Ok(())
}
