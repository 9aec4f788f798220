//! Fan-out: one message to a group of N members (N = 1, 10, 100, 1000), every member connected
//! by a real WebSocket client, through the local gateway (in this process, over a request-
//! counting embedded in-memory store). Members are written straight to the store (no argon2).
//! Reports the store requests of one send (`Counted`), the time to the sender's
//! `messageReceived` and to the last member's `chatMessage`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::store::counted::{requests, round_trips};
use chat::store::{Counted, EmbeddedTable, Table};
use chat::Config;
use chat_bench::capacity::Capacity;
use chat_bench::{ms, seed_user, Stats};
use futures::{SinkExt, StreamExt};
use local_gateway::{Limits, Rate};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::{write_json, Args};

type Error = Box<dyn std::error::Error>;
type Sink = futures::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// A connected client: its sink, and a reader task reporting `(client, event, text, when)`.
async fn connect(
    url: &str,
    index: usize,
    events: mpsc::UnboundedSender<(usize, String, String, Instant)>,
) -> Result<Sink, Error> {
    let (stream, _) = tokio_tungstenite::connect_async(url).await?;
    let (sink, mut read) = stream.split();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = read.next().await {
            if let Message::Text(t) = msg {
                let at = Instant::now();
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                let event = v["event"].as_str().unwrap_or_default().to_owned();
                let text = v["data"]["message"]["text"].as_str().unwrap_or_default().to_owned();
                if events.send((index, event, text, at)).is_err() {
                    break;
                }
            }
        }
    });
    Ok(sink)
}

struct Row {
    members: usize,
    requests: usize,
    batch_gets: usize,
    rounds: usize,
    rru: f64,
    wru: f64,
    ack: Stats,
    last: Stats,
}

async fn one_size(n: usize, runs: usize) -> Result<Row, Error> {
    let capacity = Arc::new(Capacity::new(EmbeddedTable::in_memory()?));
    let counted = Arc::new(Counted::new(capacity.clone()));
    let mut config = Config::for_tests();
    config.max_group_members = n.max(2);
    let limits = Limits {
        http_stage: Rate::UNLIMITED,
        per_user: Rate::UNLIMITED,
        per_connection: Rate::UNLIMITED,
        ..Limits::default()
    };
    let running = local_gateway::start(
        config,
        Some(counted.clone() as Arc<dyn Table>),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        limits,
    )
    .await?;
    let app = running.gateway.app.clone();
    let addr = running.addr;
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        users.push(seed_user(app.table(), &format!("m{i}")).await);
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Everyone connects before the group exists, so no presence broadcasts go to N contacts.
    let mut sinks = Vec::with_capacity(n);
    for (i, u) in users.iter().enumerate() {
        let token = app.tokens.issue(u)?.0;
        sinks.push(connect(&format!("ws://{addr}/ws?token={token}"), i, tx.clone()).await?);
    }
    let owner_token = app.tokens.issue(&users[0])?.0;
    let members: Vec<String> = users[1..].iter().map(|u| u.id.to_string()).collect();
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/groups"))
        .bearer_auth(&owner_token)
        .json(&json!({ "name": format!("fanout {n}"), "members": members }))
        .send()
        .await?;
    let status = res.status();
    let body: Value = res.json().await?;
    if !status.is_success() {
        return Err(format!("creating the group of {n}: {status} {body}").into());
    }
    let group = body["data"]["id"].as_str().ok_or("no group id")?.to_owned();
    // Let the membership events and notifications land, then drop them.
    tokio::time::sleep(Duration::from_millis(300 + n as u64)).await;
    while rx.try_recv().is_ok() {}

    let (mut acks, mut lasts, mut reqs, mut batches, mut rounds) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut rru, mut wru) = (0.0, 0.0);
    // Run 0 warms up; the last run is the capacity-accounting one (not timed).
    for run in 0..runs + 2 {
        let accounting = run == runs + 1;
        capacity.enable(accounting);
        capacity.take();
        counted.take();
        let text = format!("fanout {n} run {run}");
        let frame = json!({ "action": "sendMessage", "conversationId": group, "text": text, "clientMessageId": ulid::Ulid::generate().to_string() });
        let t0 = Instant::now();
        sinks[0].send(Message::Text(frame.to_string().into())).await?;
        let (mut ack, mut received, mut last) = (None, 0, t0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while ack.is_none() || received < n - 1 {
            let Ok(Some((i, event, t, at))) = tokio::time::timeout_at(deadline, rx.recv()).await else {
                return Err(format!("{n} members: {received} of {} deliveries within 60 s", n - 1).into());
            };
            match event.as_str() {
                "messageReceived" if i == 0 => ack = Some(at),
                "chatMessage" if i != 0 && t == text => {
                    received += 1;
                    last = last.max(at);
                }
                _ => {}
            }
        }
        // The fan-out's bookkeeping (if any) ends right after the last push.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let records = counted.take();
        capacity.enable(false);
        if accounting {
            let tally = capacity.take();
            (rru, wru) = (tally.rru, tally.wru);
            continue;
        }
        if run == 0 {
            continue; // warm-up
        }
        acks.push(ms(ack.unwrap_or(t0) - t0));
        lasts.push(ms(last - t0));
        reqs.push(requests(&records));
        batches.push(records.iter().filter(|r| r.op == "BatchGetItem").map(|r| r.requests).sum::<usize>());
        rounds.push(round_trips(&records));
    }
    running.task.abort();
    Ok(Row {
        members: n,
        requests: reqs.iter().copied().max().unwrap_or(0),
        batch_gets: batches.iter().copied().max().unwrap_or(0),
        rounds: rounds.iter().copied().max().unwrap_or(0),
        rru,
        wru,
        ack: Stats::of(&acks),
        last: Stats::of(&lasts),
    })
}

pub fn run(args: &Args) -> Result<(), Error> {
    let sizes = args.list("sizes", &[1, 10, 100, 1000]);
    let runs = args.num("runs", 5);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let mut rows = Vec::new();
        for n in sizes {
            rows.push(one_size(n, runs).await?);
        }
        println!("\n### Fan-out of one `sendMessage` to a group of N members, all connected ({runs} runs each, local gateway, embedded in-memory store)\n");
        println!("| members N | store requests | of which BatchGetItem | round trips (embedded) | RRU | WRU | ack p50 ms | last delivery p50 ms | last delivery max ms | µs per delivery |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        let mut out = Vec::new();
        for r in &rows {
            let per = if r.members > 1 { r.last.p50 * 1e3 / (r.members - 1) as f64 } else { f64::NAN };
            println!(
                "| {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.0} |",
                r.members, r.requests, r.batch_gets, r.rounds, r.rru, r.wru, r.ack.p50, r.last.p50, r.last.max, per
            );
            out.push(json!({
                "members": r.members, "requests": r.requests, "batch_gets": r.batch_gets, "rounds": r.rounds, "rru": r.rru, "wru": r.wru,
                "ack_p50_ms": r.ack.p50, "last_p50_ms": r.last.p50, "last_max_ms": r.last.max,
            }));
        }
        write_json(args, &json!({ "runs": runs, "sizes": out }));
        Ok(())
    })
}
