//! Handler cost per route, in-process over the embedded in-memory store: the Lambda side of an
//! invocation (event JSON → `aws_lambda_events` type → handler → response), timed as wall time
//! and as CPU time of the whole process (the embedded store runs on tokio's blocking threads).
//! Push goes to `NoPush`: the fan-out's store reads are in, the `@connections` posts are not.
//!
//! The same pass sizes every DynamoDB request with `chat_bench::capacity::Capacity`: requests,
//! read and write request units per route. Argon2 routes (register, login) are timed apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::models::{Role, User};
use chat::push::NoPush;
use chat::service::Actor;
use chat::store::EmbeddedTable;
use chat::{App, Config};
use chat_bench::capacity::{Capacity, Tally};
use chat_bench::{events, ms, process_cpu, seed_user, seed_user_with_role, Stats};
use functions::routes::{routes, Handler, Route};
use serde_json::{json, Value};

use crate::{write_json, Args};

type Error = Box<dyn std::error::Error>;

/// One invocation, as the Runtime API would hand it over.
enum Call {
    Http { key: &'static str, json: String },
    Ws { key: &'static str, json: String },
    Authorize { json: String },
}

fn http(key: &'static str, path: &str, query: &str, token: &str, body: Option<Value>) -> Call {
    Call::Http { key, json: events::http_v2_json(key, path, query, Some(token), body.as_ref()) }
}

fn http_anon(key: &'static str, path: &str, body: Value) -> Call {
    Call::Http { key, json: events::http_v2_json(key, path, "", None, Some(&body)) }
}

fn ws(key: &'static str, conn: &str, actor: &Actor, body: Option<Value>) -> Call {
    Call::Ws { key, json: events::ws_json(key, conn, Some(actor), body.as_ref()) }
}

struct Ctx {
    app: Arc<App>,
    table: Arc<Capacity<EmbeddedTable>>,
    routes: Vec<Route>,
    alice: User,
    bob: User,
    carol: User,
    erin: User,
    alice_token: String,
    admin_token: String,
    dave_token: String,
    alice_actor: Actor,
    conv: String,
    group: String,
    /// A group of 100 (alice and 99 others), every member with one registered connection.
    group100: String,
    alice_conn: String,
}

fn actor(u: &User) -> Actor {
    Actor { user_id: u.id.clone(), username: u.username.clone(), role: u.role }
}

impl Ctx {
    /// Runs one call; returns the response body (JSON text) or an error naming the status.
    async fn invoke(&self, call: &Call) -> Result<String, String> {
        match call {
            Call::Http { key, json } => {
                let req = lambda_http::request::from_str(json).map_err(|e| e.to_string())?;
                let res = functions::lambda::serve_http(self.app.clone(), &self.routes, req).await;
                let body = String::from_utf8_lossy(res.body().as_ref()).into_owned();
                if !res.status().is_success() {
                    return Err(format!("{key}: {} {body}", res.status()));
                }
                Ok(body)
            }
            Call::Ws { key, json } => {
                let handler = self
                    .routes
                    .iter()
                    .find_map(|r| match r.handler {
                        Handler::Ws(h) if r.key == *key => Some(h),
                        _ => None,
                    })
                    .ok_or_else(|| format!("no WebSocket route {key}"))?;
                let ev = serde_json::from_str(json).map_err(|e| e.to_string())?;
                let res = functions::ws::respond(self.app.clone(), handler, ev).await;
                if res.status_code != 200 {
                    return Err(format!("{key}: {}", res.status_code));
                }
                serde_json::to_string(&res).map_err(|e| e.to_string())
            }
            Call::Authorize { json } => {
                let ev = serde_json::from_str(json).map_err(|e| e.to_string())?;
                let policy = functions::ws::authorize(&self.app, &ev).await.map_err(|e| e.to_string())?;
                Ok(policy.to_string())
            }
        }
    }

    async fn must(&self, call: Call) -> Value {
        let body = self.invoke(&call).await.unwrap_or_else(|e| panic!("setup call failed: {e}"));
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    async fn token(&self, u: &User) -> String {
        self.app.tokens.issue(u).expect("a token").0
    }

    /// The call for iteration `i` of `route`, after any untimed setup, and its untimed cleanup.
    async fn prepare(&self, route: &str, i: usize) -> (Call, Option<Call>) {
        let (a, t) = (&self.alice, self.alice_token.as_str());
        let conv = self.conv.as_str();
        let unique = || ulid::Ulid::generate().to_string();
        let call = match route {
            "GET /api/users/me" => http("GET /api/users/me", "/api/users/me", "", t, None),
            "GET /api/users" => http("GET /api/users", "/api/users", "limit=20", t, None),
            "GET /api/users/{id}" => http("GET /api/users/{id}", &format!("/api/users/{}", self.bob.id), "", t, None),
            "PUT /api/users/{id}" => {
                let body = json!({ "company": format!("ACME {}", i % 2) });
                http("PUT /api/users/{id}", &format!("/api/users/{}", a.id), "", t, Some(body))
            }
            "POST /api/conversations/start" => {
                let body = json!({ "participants": [a.id, self.bob.id] });
                http("POST /api/conversations/start", "/api/conversations/start", "", t, Some(body))
            }
            "GET /api/conversations" => http("GET /api/conversations", "/api/conversations", "", t, None),
            "GET /api/conversations/{id}" => {
                http("GET /api/conversations/{id}", &format!("/api/conversations/{conv}"), "", t, None)
            }
            "POST /api/conversations/{id}/read" => http(
                "POST /api/conversations/{id}/read",
                &format!("/api/conversations/{conv}/read"),
                "",
                t,
                Some(json!({})),
            ),
            "POST /api/messages" => {
                let body = json!({ "receiverId": conv, "content": format!("perf message {i}") });
                http("POST /api/messages", "/api/messages", "", t, Some(body))
            }
            "GET /api/messages/{id}" => {
                http("GET /api/messages/{id}", &format!("/api/messages/{conv}"), "limit=50", t, None)
            }
            "DELETE /api/messages/{id}" => {
                let sent = self
                    .must(http(
                        "POST /api/messages",
                        "/api/messages",
                        "",
                        t,
                        Some(json!({ "receiverId": conv, "content": "doomed" })),
                    ))
                    .await;
                let id = sent["data"]["id"].as_str().unwrap_or_default().to_owned();
                http("DELETE /api/messages/{id}", &format!("/api/messages/{id}"), "", t, None)
            }
            "POST /api/groups" => {
                let body = json!({ "name": format!("g{i}"), "members": [self.erin.id] });
                http("POST /api/groups", "/api/groups", "", &self.dave_token, Some(body))
            }
            "PUT /api/groups/{id}/members" => {
                let action = if i % 2 == 0 { "add" } else { "remove" };
                let body = json!({ "memberId": self.carol.id, "action": action });
                http("PUT /api/groups/{id}/members", &format!("/api/groups/{}/members", self.group), "", t, Some(body))
            }
            "GET /api/groups/{id}" => http("GET /api/groups/{id}", &format!("/api/groups/{}", self.group), "", t, None),
            "GET /api/groups" => http("GET /api/groups", "/api/groups", "", t, None),
            "PUT /api/status" => {
                let body = json!({ "status": if i % 2 == 0 { "away" } else { "online" } });
                http("PUT /api/status", "/api/status", "", t, Some(body))
            }
            "GET /api/status/{userId}" => {
                http("GET /api/status/{userId}", &format!("/api/status/{}", self.bob.id), "", t, None)
            }
            "POST /api/notifications" => {
                let body = json!({ "userId": self.erin.id, "message": format!("note {i}") });
                http("POST /api/notifications", "/api/notifications", "", &self.admin_token, Some(body))
            }
            "GET /api/notifications" => http("GET /api/notifications", "/api/notifications", "limit=20", t, None),
            "POST /api/notifications/read" => {
                http("POST /api/notifications/read", "/api/notifications/read", "", t, Some(json!({})))
            }
            "POST /api/auth/refresh" => {
                let token = self.token(&self.carol).await;
                http("POST /api/auth/refresh", "/api/auth/refresh", "", &token, Some(json!({})))
            }
            "POST /api/auth/logout" => {
                let token = self.token(&self.carol).await;
                http("POST /api/auth/logout", "/api/auth/logout", "", &token, Some(json!({})))
            }
            "$authorizer" => {
                Call::Authorize { json: events::authorizer_json(&format!("{}=", unique()), &self.alice_token) }
            }
            "$connect" => {
                let conn = format!("{}=", unique());
                let cleanup = ws("$disconnect", &conn, &self.alice_actor, None);
                return (ws("$connect", &conn, &self.alice_actor, None), Some(cleanup));
            }
            "$disconnect" => {
                let conn = format!("{}=", unique());
                self.must(ws("$connect", &conn, &self.alice_actor, None)).await;
                ws("$disconnect", &conn, &self.alice_actor, None)
            }
            "sendMessage, group of 100" => {
                let body = json!({ "action": "sendMessage", "conversationId": self.group100, "text": format!("ws {i}"), "clientMessageId": unique() });
                ws("sendMessage", &self.alice_conn, &self.alice_actor, Some(body))
            }
            "sendMessage" => {
                let body = json!({ "action": "sendMessage", "conversationId": conv, "text": format!("ws {i}"), "clientMessageId": unique() });
                ws("sendMessage", &self.alice_conn, &self.alice_actor, Some(body))
            }
            "typing" => {
                let body = json!({ "action": "typing", "conversationId": conv, "isTyping": i % 2 == 0 });
                ws("typing", &self.alice_conn, &self.alice_actor, Some(body))
            }
            "markAsRead" => {
                let body = json!({ "action": "markAsRead", "conversationId": conv });
                ws("markAsRead", &self.alice_conn, &self.alice_actor, Some(body))
            }
            "joinConversation" => {
                let body = json!({ "action": "joinConversation", "conversationId": conv });
                let leave = json!({ "action": "leaveConversation", "conversationId": conv });
                let cleanup = ws("leaveConversation", &self.alice_conn, &self.alice_actor, Some(leave));
                return (ws("joinConversation", &self.alice_conn, &self.alice_actor, Some(body)), Some(cleanup));
            }
            "leaveConversation" => {
                let join = json!({ "action": "joinConversation", "conversationId": conv });
                self.must(ws("joinConversation", &self.alice_conn, &self.alice_actor, Some(join))).await;
                let body = json!({ "action": "leaveConversation", "conversationId": conv });
                ws("leaveConversation", &self.alice_conn, &self.alice_actor, Some(body))
            }
            "setStatus" => {
                let body = json!({ "action": "setStatus", "status": if i % 2 == 0 { "away" } else { "online" } });
                ws("setStatus", &self.alice_conn, &self.alice_actor, Some(body))
            }
            "ping" => ws("ping", &self.alice_conn, &self.alice_actor, Some(json!({ "action": "ping" }))),
            "$default" => ws("$default", &self.alice_conn, &self.alice_actor, Some(json!({ "action": "nope" }))),
            other => panic!("no scenario for {other}"),
        };
        (call, None)
    }
}

/// The routes measured, in order (reads before the writes that grow what they read).
const ROUTES: &[&str] = &[
    "GET /api/users/me",
    "GET /api/users",
    "GET /api/users/{id}",
    "GET /api/conversations",
    "GET /api/conversations/{id}",
    "GET /api/messages/{id}",
    "GET /api/groups/{id}",
    "GET /api/groups",
    "GET /api/status/{userId}",
    "GET /api/notifications",
    "$authorizer",
    "ping",
    "$default",
    "typing",
    "joinConversation",
    "leaveConversation",
    "$connect",
    "$disconnect",
    "markAsRead",
    "POST /api/conversations/{id}/read",
    "POST /api/conversations/start",
    "sendMessage",
    "sendMessage, group of 100",
    "POST /api/messages",
    "DELETE /api/messages/{id}",
    "PUT /api/users/{id}",
    "PUT /api/status",
    "setStatus",
    "PUT /api/groups/{id}/members",
    "POST /api/groups",
    "POST /api/notifications",
    "POST /api/notifications/read",
    "POST /api/auth/refresh",
    "POST /api/auth/logout",
];

async fn setup() -> Result<Ctx, Error> {
    let table = Arc::new(Capacity::new(EmbeddedTable::in_memory()?));
    // Thousands of sends from one user a minute: the flood counter still counts each (its write
    // is part of every send's cost), at a limit this run never reaches.
    let config =
        Config { send_rate: chat::config::SendRate { limit: 1 << 40, window_secs: 60 }, ..Config::for_tests() };
    let app = Arc::new(App::with_parts(config, table.clone(), Arc::new(NoPush)));
    let t = app.table();
    let (alice, bob, carol, dave, erin) = (
        seed_user(t, "alice").await,
        seed_user(t, "bob").await,
        seed_user(t, "carol").await,
        seed_user(t, "dave").await,
        seed_user(t, "erin").await,
    );
    let admin = seed_user_with_role(t, "admin", Role::Admin).await;
    let mut ctx = Ctx {
        app: app.clone(),
        table,
        routes: routes(),
        alice_token: app.tokens.issue(&alice)?.0,
        admin_token: app.tokens.issue(&admin)?.0,
        dave_token: app.tokens.issue(&dave)?.0,
        alice_actor: actor(&alice),
        alice,
        bob,
        carol,
        erin,
        conv: String::new(),
        group: String::new(),
        group100: String::new(),
        alice_conn: format!("{}=", ulid::Ulid::generate()),
    };
    let t = ctx.alice_token.clone();
    let sent = ctx
        .must(http(
            "POST /api/messages",
            "/api/messages",
            "",
            &t,
            Some(json!({ "receiverId": ctx.bob.id, "content": "hello" })),
        ))
        .await;
    ctx.conv = sent["data"]["conversationId"].as_str().ok_or("no conversation id")?.to_owned();
    let g = ctx
        .must(http("POST /api/groups", "/api/groups", "", &t, Some(json!({ "name": "perf", "members": [ctx.bob.id] }))))
        .await;
    ctx.group = g["data"]["id"].as_str().ok_or("no group id")?.to_owned();
    // Connected: alice (sends), bob viewing the conversation (typing and read receipts), an admin.
    let (bob_actor, admin_actor) = (actor(&ctx.bob), actor(&admin));
    ctx.must(ws("$connect", &ctx.alice_conn.clone(), &ctx.alice_actor.clone(), None)).await;
    let bob_conn = format!("{}=", ulid::Ulid::generate());
    ctx.must(ws("$connect", &bob_conn, &bob_actor, None)).await;
    let join = json!({ "action": "joinConversation", "conversationId": ctx.conv });
    ctx.must(ws("joinConversation", &bob_conn, &bob_actor, Some(join))).await;
    ctx.must(ws("$connect", &format!("{}=", ulid::Ulid::generate()), &admin_actor, None)).await;
    for i in 0..5 {
        let note = json!({ "userId": ctx.alice.id, "message": format!("welcome {i}") });
        let admin_token = ctx.admin_token.clone();
        ctx.must(http("POST /api/notifications", "/api/notifications", "", &admin_token, Some(note))).await;
    }
    for i in 0..20 {
        let body = json!({ "receiverId": ctx.conv, "content": format!("history {i}") });
        ctx.must(http("POST /api/messages", "/api/messages", "", &t, Some(body))).await;
    }
    let mut members = Vec::new();
    for i in 0..99 {
        let u = seed_user(ctx.app.table(), &format!("member{i}")).await;
        let c = chat::repo::connections::Connection::new(
            format!("{}=", ulid::Ulid::generate()),
            u.id.clone(),
            Role::User,
            chat::clock::now_ms(),
        );
        chat::repo::connections::connect(
            ctx.app.table(),
            &c,
            &chat::clock::iso(chat::clock::now_ms()),
            chat::clock::now_secs(),
        )
        .await?;
        members.push(u.id.to_string());
    }
    let g = ctx
        .must(http("POST /api/groups", "/api/groups", "", &t, Some(json!({ "name": "hundred", "members": members }))))
        .await;
    ctx.group100 = g["data"]["id"].as_str().ok_or("no group id")?.to_owned();
    Ok(ctx)
}

struct RouteFigures {
    route: &'static str,
    function: &'static str,
    wall: Stats,
    cpu: Stats,
    tally: Tally,
}

async fn measure(ctx: &Ctx, route: &'static str, budget: Duration, max_iters: usize) -> RouteFigures {
    let key = route.split(',').next().unwrap_or(route);
    let function = ctx.routes.iter().find(|r| r.key == key).map_or("?", |r| r.function.name());
    let mut i = 0;
    // Warm-up, then one accounting pass, then the timed iterations.
    for _ in 0..10 {
        let (call, cleanup) = ctx.prepare(route, i).await;
        ctx.invoke(&call).await.unwrap_or_else(|e| panic!("{route}: {e}"));
        if let Some(c) = cleanup {
            ctx.invoke(&c).await.unwrap_or_else(|e| panic!("{route} cleanup: {e}"));
        }
        i += 1;
    }
    let (call, cleanup) = ctx.prepare(route, i).await;
    ctx.table.take();
    ctx.table.enable(true);
    ctx.invoke(&call).await.unwrap_or_else(|e| panic!("{route}: {e}"));
    ctx.table.enable(false);
    let tally = ctx.table.take();
    if let Some(c) = cleanup {
        ctx.invoke(&c).await.ok();
    }
    i += 1;
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let started = Instant::now();
    while (started.elapsed() < budget || wall.len() < 30) && wall.len() < max_iters {
        let (call, cleanup) = ctx.prepare(route, i).await;
        let (c0, w0) = (process_cpu(), Instant::now());
        let out = ctx.invoke(&call).await;
        let (w1, c1) = (w0.elapsed(), process_cpu());
        out.unwrap_or_else(|e| panic!("{route}: {e}"));
        wall.push(ms(w1) * 1e3);
        cpu.push(ms(c1 - c0) * 1e3);
        if let Some(c) = cleanup {
            ctx.invoke(&c).await.ok();
        }
        i += 1;
    }
    RouteFigures { route, function, wall: Stats::of(&wall), cpu: Stats::of(&cpu), tally }
}

/// Register and login: argon2id at the production parameters (m = 19 MiB, t = 2, p = 1).
async fn argon2_routes(ctx: &Ctx, runs: usize) -> Vec<(String, Stats, Stats)> {
    let password = "correct horse battery";
    let mut out = Vec::new();
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let mut name = String::new();
    for _ in 0..runs {
        name = format!("login{}", &ulid::Ulid::generate().to_string()[18..]).to_lowercase();
        let call = http_anon(
            "POST /api/users/register",
            "/api/users/register",
            json!({ "username": name, "password": password }),
        );
        let (c0, w0) = (process_cpu(), Instant::now());
        ctx.invoke(&call).await.unwrap_or_else(|e| panic!("register: {e}"));
        wall.push(ms(w0.elapsed()));
        cpu.push(ms(process_cpu() - c0));
    }
    out.push(("POST /api/users/register".to_owned(), Stats::of(&wall), Stats::of(&cpu)));
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let call =
            http_anon("POST /api/users/login", "/api/users/login", json!({ "username": name, "password": password }));
        let (c0, w0) = (process_cpu(), Instant::now());
        ctx.invoke(&call).await.unwrap_or_else(|e| panic!("login: {e}"));
        wall.push(ms(w0.elapsed()));
        cpu.push(ms(process_cpu() - c0));
    }
    out.push(("POST /api/users/login".to_owned(), Stats::of(&wall), Stats::of(&cpu)));
    // argon2 alone, for reference.
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let pw = chat::models::Password::parse(password).expect("password");
    for _ in 0..runs {
        let (c0, w0) = (process_cpu(), Instant::now());
        chat::auth::hash_password(&pw).expect("hash");
        wall.push(ms(w0.elapsed()));
        cpu.push(ms(process_cpu() - c0));
    }
    out.push(("argon2id hash alone".to_owned(), Stats::of(&wall), Stats::of(&cpu)));
    out
}

/// CPU of one `@connections` post from a function (SigV4 signing, HTTP/1.1 client, the SDK's
/// orchestration), against a stub server in another process that answers 200 at once:
/// the push work a fan-out adds per connection, which `NoPush` leaves out of the route figures.
async fn push_cost(rounds: usize) -> Result<(Stats, Stats), Error> {
    use std::io::BufRead;
    let mut stub = std::process::Command::new(std::env::current_exe()?)
        .arg("stub")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(stub.stdout.take().ok_or("stub stdout")?).read_line(&mut line)?;
    let port: u16 = line.trim().parse()?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            Some("token".into()),
            None,
            "perf",
        ))
        .load()
        .await;
    let push: Arc<dyn chat::push::Push> =
        Arc::new(chat::push::ApiGatewayPush::new(&sdk, &format!("http://127.0.0.1:{port}/prod")));
    // A `chatMessage` frame of ordinary size.
    let payload = serde_json::to_vec(
        &json!({ "event": "chatMessage", "data": { "message": { "id": "msg_01JZ0000000000000000000000", "text": "a message of ordinary length, about sixty characters long" } } }),
    )?;
    let deliveries = || (0..100).map(|i| (format!("Conn{i:012}AbCd="), payload.clone())).collect::<Vec<_>>();
    chat::push::fan_out(&push, deliveries()).await;
    let (mut cpu_per_post, mut wall_per_100) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (c0, w0) = (process_cpu(), Instant::now());
        chat::push::fan_out(&push, deliveries()).await;
        wall_per_100.push(ms(w0.elapsed()));
        cpu_per_post.push(ms(process_cpu() - c0) * 1e3 / 100.0);
    }
    let _ = stub.kill();
    let _ = stub.wait();
    Ok((Stats::of(&cpu_per_post), Stats::of(&wall_per_100)))
}

/// `perf stub`: answers 200 to everything on a free loopback port (printed on stdout).
pub fn stub() -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        let app = axum::Router::new().fallback(|| async { "" });
        axum::serve(listener, app).await?;
        Ok(())
    })
}

pub fn run(args: &Args) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let ctx = setup().await?;
        let budget = Duration::from_millis(args.num("ms-per-route", 400));
        let max_iters = args.num("iters", 5000);
        let only = args.get("only");
        let mut rows = Vec::new();
        for route in ROUTES.iter().filter(|r| only.is_none_or(|o| r.contains(o))) {
            rows.push(measure(&ctx, route, budget, max_iters).await);
        }
        println!("\n### Handler cost per route (in-process, embedded in-memory store, push discarded)\n");
        println!(
            "| route | function | n | wall p50 µs | CPU p50 µs | CPU p90 µs | requests | RRU | WRU | requests made |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        let mut json_rows = serde_json::Map::new();
        for r in &rows {
            println!(
                "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} |",
                r.route,
                r.function,
                r.cpu.n,
                r.wall.p50,
                r.cpu.p50,
                r.cpu.p90,
                r.tally.requests,
                r.tally.rru,
                r.tally.wru,
                r.tally.ops.join(", ")
            );
            json_rows.insert(
                r.route.to_owned(),
                json!({
                    "function": r.function, "n": r.cpu.n,
                    "wall_p50_us": r.wall.p50, "cpu_p50_us": r.cpu.p50, "cpu_p90_us": r.cpu.p90,
                    "requests": r.tally.requests, "rru": r.tally.rru, "wru": r.tally.wru, "ops": r.tally.ops,
                }),
            );
        }
        let runs = args.num("argon2-runs", 10);
        let argon = if only.is_none() { argon2_routes(&ctx, runs).await } else { Vec::new() };
        let mut argon_json = serde_json::Map::new();
        if !argon.is_empty() {
            println!("\n### Argon2id routes (m = 19 MiB, t = 2, p = 1), {runs} runs each\n");
            println!("| what | wall p50 ms | wall p90 ms | CPU p50 ms |");
            println!("|---|---|---|---|");
            for (what, wall, cpu) in &argon {
                println!("| {what} | {:.1} | {:.1} | {:.1} |", wall.p50, wall.p90, cpu.p50);
                argon_json.insert(
                    what.clone(),
                    json!({ "wall_p50_ms": wall.p50, "wall_p90_ms": wall.p90, "cpu_p50_ms": cpu.p50 }),
                );
            }
        }
        let (push_cpu, push_wall) = push_cost(args.num("push-rounds", 30)).await?;
        println!("\n### One `@connections` post (SigV4 + HTTP client), to a stub in another process\n");
        println!("| CPU per post p50 µs | p90 µs | wall of a 100-post fan-out p50 ms (64 in flight, loopback) |");
        println!("|---|---|---|");
        println!("| {:.1} | {:.1} | {:.2} |", push_cpu.p50, push_cpu.p90, push_wall.p50);
        write_json(
            args,
            &json!({ "routes": json_rows, "argon2": argon_json, "push": { "cpu_per_post_p50_us": push_cpu.p50, "fanout100_wall_p50_ms": push_wall.p50 } }),
        );
        Ok(())
    })
}
