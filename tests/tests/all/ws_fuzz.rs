//! WebSocket fuzzing: random, malformed, binary, deeply nested, oversize and unknown-action
//! frames, generated from a seed (`WS_FUZZ_SEED` to replay; the seed is printed). Every such
//! frame gets exactly one `error` event, the connection stays usable (a `ping` still gets its
//! `pong`), and the server never falls over: a message above API Gateway's 128 KB ends that
//! connection only, and a new connection and HTTP still work.

use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Gateway, Store, Ws};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// Text that is never an id, a status or an action: it starts with `x-`.
    fn junk_text(&mut self, max: usize) -> String {
        let alphabet: Vec<char> = "ab{}[]\":,\\ \t\n\0é€😀\u{202e}\u{feff}\u{7f}".chars().collect();
        let n = self.below(max + 1);
        std::iter::once("x-".to_owned()).chain((0..n).map(|_| self.pick(&alphabet).to_string())).collect()
    }
    /// A JSON value of any type but a valid id.
    fn junk_value(&mut self, depth: u32) -> Value {
        match self.below(if depth > 2 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(self.below(2) == 0),
            2 => json!(self.next() as i64),
            3 => json!(f64::from_bits(self.next() & 0x7FEF_FFFF_FFFF_FFFF)),
            4 => json!(self.junk_text(20)),
            5 => Value::Array((0..self.below(4)).map(|_| self.junk_value(depth + 1)).collect()),
            _ => {
                let key = self.junk_text(5);
                json!({ key: self.junk_value(depth + 1) })
            }
        }
    }
}

/// The actions whose frames name something that must parse (a conversation id, a status).
const ACTIONS: [(&str, &str); 7] = [
    ("sendMessage", "conversationId"),
    ("chatMessage", "conversationId"),
    ("typing", "conversationId"),
    ("markAsRead", "conversationId"),
    ("joinConversation", "conversationId"),
    ("leaveConversation", "conversationId"),
    ("setStatus", "status"),
];

/// One frame that the server must refuse with an `error` event. (Binary frames and frames
/// above 32 KB end the connection, as on AWS: `frames_api_gateway_refuses_close_the_connection`.)
fn bad_frame(rng: &mut Rng) -> (&'static str, Message) {
    match rng.below(6) + 1 {
        1 => ("text junk", Message::Text(rng.junk_text(300).into())),
        2 => {
            let (action, field) = *rng.pick(&ACTIONS);
            let full = json!({ "action": action, field: "x", "text": "t", "isTyping": true }).to_string();
            let cut = rng.below(full.len() - 1) + 1;
            ("truncated JSON", Message::Text(full[..cut].to_owned().into()))
        }
        3 => {
            let (action, field) = *rng.pick(&ACTIONS);
            let mut frame = json!({ "action": action, field: rng.junk_value(0) });
            for extra in ["text", "isTyping", "upToMessageId", "receiverId", "clientMessageId", "activity"] {
                if rng.below(2) == 0 {
                    frame[extra] = rng.junk_value(0);
                }
            }
            ("wrong types", Message::Text(frame.to_string().into()))
        }
        4 => {
            let action = match rng.below(4) {
                0 => json!(rng.junk_text(12)),
                1 => json!(*rng.pick(&["$connect", "$disconnect", "$default", "$authorizer", "PING", "sendmessage"])),
                2 => rng.junk_value(1),
                _ => Value::Null,
            };
            ("unknown action", Message::Text(json!({ "action": action, "data": rng.junk_value(0) }).to_string().into()))
        }
        5 => {
            // Far beyond serde_json's recursion limit (128), within the 32 KB frame limit.
            let open = if rng.below(2) == 0 { "[" } else { "{\"a\":" };
            let depth = 200 + rng.below(30 * 1024 / open.len() - 200);
            ("deep nesting", Message::Text(format!("{{\"action\":{}", open.repeat(depth)).into()))
        }
        _ => {
            let weird = *rng.pick(&[
                r#"{"action":"sendMessage","conversationId":"\ud800","text":"lone surrogate"}"#,
                r#"{"action":"sendMessage","conversationId":"dm_\u0000","text":"nul"}"#,
                r#"{"action":"typing","conversationId":"grp_01JD0000000000000000000000","isTyping":1e999}"#,
                r#"{"action":"markAsRead","conversationId":"grp_01JD0000000000000000000000","upToMessageId":"msg_../../etc"}"#,
                r#"{"action":"setStatus","status":"online","activity":"x","activity":"dup"}"#,
                // Duplicate keys: the last one wins, leaving a sendMessage without text.
                r#"{"action":"ping","action":"sendMessage"}"#,
                "\u{feff}{\"action\":\"ping\"}",
                "",
            ]);
            ("edge cases", Message::Text(weird.to_owned().into()))
        }
    }
}

/// Reads events until `n` `error` events came; returns them (panics after a long quiet).
async fn errors(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match ws.try_event("error", Duration::from_secs(20)).await {
            Some(e) => out.push(e),
            None => panic!("{} of {n} error events, then silence", out.len()),
        }
    }
    out
}

const FRAMES: usize = 600;
const BATCH: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_frame_gets_an_error_event_and_the_connection_stays_usable() {
    let seed = std::env::var("WS_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_CAFE_F00D_u64);
    println!("ws fuzz seed {seed} (replay with WS_FUZZ_SEED={seed})");
    let mut rng = Rng(seed.max(1));
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let mut ws = gw.connect(&alice).await;
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for batch in 0..FRAMES / BATCH {
        for _ in 0..BATCH {
            let (kind, frame) = bad_frame(&mut rng);
            *kinds.entry(kind).or_default() += 1;
            ws.send_raw(frame).await;
        }
        let got = errors(&mut ws, BATCH).await;
        for e in &got {
            let code = e["code"].as_str().unwrap_or_default();
            assert!(
                ["VALIDATION_ERROR", "PAYLOAD_TOO_LARGE", "NOT_FOUND", "FORBIDDEN"].contains(&code),
                "batch {batch}: unexpected error {e}"
            );
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        }
        ws.send(json!({ "action": "ping" })).await;
        assert!(ws.event("pong").await["time"].is_string(), "batch {batch}: the connection is still usable");
    }
    println!("ws fuzz: {FRAMES} frames {kinds:?}");
    // Nothing more was pending: no frame got two answers.
    assert!(ws.try_event("error", Duration::from_millis(300)).await.is_none(), "an extra error event");
    // The connection still does real work.
    let bob = gw.user("bob").await;
    ws.send(json!({ "action": "sendMessage", "receiverId": bob.id, "text": "still here" })).await;
    assert_eq!(ws.event("messageReceived").await["message"]["text"], "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_api_gateway_refuses_close_the_connection_with_its_codes() {
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let cases: [(&str, Message, u16); 3] = [
        (
            "a frame above 32 KB",
            Message::Text(json!({ "action": "ping", "pad": "y".repeat(33 * 1024) }).to_string().into()),
            1009,
        ),
        ("a message above 128 KB", Message::Text("z".repeat(200 * 1024).into()), 1009),
        ("a binary frame", Message::Binary(vec![1, 2, 3].into()), 1003),
    ];
    for (what, frame, code) in cases {
        let mut ws = gw.connect(&alice).await;
        ws.send_raw(frame).await;
        assert_eq!(ws.close_code(Duration::from_secs(10)).await, Some(code), "{what}");
    }
    // Up to 32 KB is one frame API Gateway takes.
    let mut ws = gw.connect(&alice).await;
    ws.send(json!({ "action": "ping", "pad": "y".repeat(31 * 1024) })).await;
    assert!(ws.event("pong").await.is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_above_128_kb_ends_that_connection_only() {
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let mut doomed = gw.connect(&alice).await;
    let mut other = gw.connect(&alice).await;
    doomed.send_raw(Message::Text("z".repeat(200 * 1024).into())).await;
    assert!(doomed.closed(Duration::from_secs(10)).await, "the oversize message ends the connection");
    other.send(json!({ "action": "ping" })).await;
    assert!(other.event("pong").await.is_object(), "the other connection is unaffected");
    let mut fresh = gw.connect(&alice).await;
    fresh.send(json!({ "action": "ping" })).await;
    assert!(fresh.event("pong").await.is_object(), "new connections still work");
    assert_eq!(gw.get("/api/users/me", &alice.token).await.0, 200, "HTTP still works");
}
