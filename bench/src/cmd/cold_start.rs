//! Cold start: a minimal Lambda Runtime API on loopback (`GET …/invocation/next` hands out one
//! event, `POST …/response` takes the answer), plus the `@connections` API the WebSocket
//! functions push to, and stand-ins for DynamoDB and Secrets Manager that answer instantly (they
//! separate our own init from a local server's latency).
//!
//! Each run spawns the release `bootstrap` as Lambda does (`AWS_LAMBDA_RUNTIME_API`, `_HANDLER`,
//! the function's environment) and records the time from `spawn` to the first `/next` poll
//! (init done: clients built, `App::warm()`'s `GetItem` answered) and to the first response,
//! then the process's peak RSS (`VmHWM`) before it is killed.
//!
//! `--bootstrap` names the binary of a bundle (`target/release/bootstrap-light`, …:
//! functions/src/routes.rs, `Bundle`). With `--secrets-manager`, the signing key is read from a
//! secret created on the local server (moto) at cold start, as on AWS (`JWT_SECRET_ARN`), by the
//! functions that use tokens; otherwise it is `JWT_SECRET`.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chat::push::NoPush;
use chat::store::DynamoTable;
use chat::{App, Config};
use chat_bench::{events, ms, proc_cpu_ns_ms, proc_status_kb, Stats};
use serde_json::{json, Value};

use crate::{write_json, Args};

type Error = Box<dyn std::error::Error>;

const SECRET: &str = "perf-cold-start-secret-0123456789abcdef";

#[derive(Default)]
struct Run {
    event: String,
    served: bool,
    next_at: Option<Instant>,
    response: Option<(Instant, String)>,
    error: Option<String>,
    pushes: usize,
}

#[derive(Clone, Default)]
struct Emulator {
    run: Arc<Mutex<Run>>,
}

impl Emulator {
    fn lock(&self) -> std::sync::MutexGuard<'_, Run> {
        self.run.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn next(State(em): State<Emulator>) -> Response {
    let event = {
        let mut run = em.lock();
        if run.served {
            None
        } else {
            run.served = true;
            run.next_at = Some(Instant::now());
            Some(run.event.clone())
        }
    };
    let Some(event) = event else {
        // The next invocation never comes: the process is killed first.
        tokio::time::sleep(Duration::from_secs(30)).await;
        return StatusCode::GONE.into_response();
    };
    let deadline = chat::clock::now_ms() + 30_000;
    let mut headers = HeaderMap::new();
    let id = ulid::Ulid::generate().to_string();
    headers
        .insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("x")));
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline as u64));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:000000000000:function:perf"),
    );
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (headers, event).into_response()
}

async fn response(State(em): State<Emulator>, body: Bytes) -> StatusCode {
    em.lock().response = Some((Instant::now(), String::from_utf8_lossy(&body).into_owned()));
    StatusCode::ACCEPTED
}

async fn error(State(em): State<Emulator>, body: Bytes) -> StatusCode {
    em.lock().error = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}

async fn push(State(em): State<Emulator>) -> StatusCode {
    em.lock().pushes += 1;
    StatusCode::OK
}

/// A DynamoDB stand-in: every request is answered `{}` (for `GetItem`: no such item).
async fn dynamodb_stub() -> Response {
    ([("content-type", "application/x-amz-json-1.0")], "{}").into_response()
}

/// A Secrets Manager stand-in for `GetSecretValue`: `AWSCURRENT` is the key at once, `AWSPREVIOUS`
/// is absent (no rotation yet), as the functions read them at cold start.
async fn secrets_stub(body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let arn = request["SecretId"].as_str().unwrap_or_default();
    if request["VersionStage"] == "AWSPREVIOUS" {
        let error = json!({ "__type": "ResourceNotFoundException", "message": "no AWSPREVIOUS version" });
        return (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.1")], error.to_string())
            .into_response();
    }
    let out =
        json!({ "ARN": arn, "Name": arn, "SecretString": SECRET, "VersionId": "v1", "VersionStages": ["AWSCURRENT"] });
    ([("content-type", "application/x-amz-json-1.1")], out.to_string()).into_response()
}

/// Where the functions get the signing key.
enum Secret {
    Env,
    /// A secret on the local server (moto), read at cold start with `GetSecretValue`.
    Manager {
        arn: String,
        endpoint: String,
    },
}

/// The signing key as a secret on the local server.
async fn create_secret(endpoint: &str) -> Result<String, Error> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "perf"))
        .endpoint_url(endpoint)
        .load()
        .await;
    let name = format!("perf-cold-{}", ulid::Ulid::generate()).to_lowercase();
    let out = aws_sdk_secretsmanager::Client::new(&sdk).create_secret().name(name).secret_string(SECRET).send().await?;
    Ok(out.arn().ok_or("no ARN")?.to_owned())
}

struct Sample {
    ready_ms: f64,
    /// CPU time of the process when it stopped (at its first `/next` for ready-only runs).
    cpu_ms: f64,
    first_response_ms: Option<f64>,
    hwm_kb: u64,
}

fn spawn_once(
    bootstrap: &str,
    function: &str,
    memory_mb: u32,
    runtime_api: &str,
    dynamodb: &str,
    table: &str,
    em: &Emulator,
    event: &str,
    wait_response: bool,
    cert_file: Option<&str>,
    tls_roots: &str,
    secret: &Secret,
) -> Result<Sample, Error> {
    *em.lock() = Run { event: event.to_owned(), ..Run::default() };
    let mut cmd = Command::new(bootstrap);
    cmd.env_clear().env("CHAT_TLS_ROOTS", tls_roots);
    if let Some(f) = cert_file {
        cmd.env("SSL_CERT_FILE", f);
    }
    match secret {
        Secret::Env => cmd.env("JWT_SECRET", SECRET),
        Secret::Manager { arn, endpoint } => {
            cmd.env("JWT_SECRET_ARN", arn).env("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
        }
    };
    let t0 = Instant::now();
    let mut child = cmd
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("_HANDLER", function)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "perf")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SESSION_TOKEN", "test")
        .env("TABLE_NAME", table)
        .env("DYNAMODB_ENDPOINT", dynamodb)
        .env("WS_MANAGEMENT_ENDPOINT", format!("http://{runtime_api}/prod"))
        .env("COOKIE_SECURE", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let deadline = t0 + Duration::from_secs(20);
    let mut hwm = 0;
    let outcome: Result<(Instant, Option<Instant>), Error> = loop {
        std::thread::sleep(Duration::from_micros(200));
        let (next_at, resp, err) = {
            let run = em.lock();
            (run.next_at, run.response.as_ref().map(|r| r.0), run.error.clone())
        };
        if let Some(h) = proc_status_kb(pid, "VmHWM") {
            hwm = hwm.max(h);
        }
        match (next_at, resp) {
            (Some(n), _) if !wait_response => break Ok((n, None)),
            (Some(n), Some(r)) => break Ok((n, Some(r))),
            _ => {}
        }
        if let Some(e) = err {
            break Err(format!("{function}: the runtime reported an error: {e}").into());
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!("{function}: bootstrap exited early: {status}").into());
        }
        if Instant::now() > deadline {
            break Err(format!("{function}: no answer within 20 s").into());
        }
    };
    // CPU before the wait below: a ready-only run is now blocked on `/next`, spending nothing.
    let cpu_ms = proc_cpu_ns_ms(pid).unwrap_or(f64::NAN);
    // Peak RSS once the first request is answered (the process now waits on the next poll).
    std::thread::sleep(Duration::from_millis(5));
    if let Some(h) = proc_status_kb(pid, "VmHWM") {
        hwm = hwm.max(h);
    }
    let _ = child.kill();
    let _ = child.wait();
    let (next_at, resp_at) = outcome?;
    Ok(Sample { ready_ms: ms(next_at - t0), cpu_ms, first_response_ms: resp_at.map(|r| ms(r - t0)), hwm_kb: hwm })
}

/// Creates the table on the local DynamoDB server and what the events need: users, a token,
/// a direct conversation, a registered (argon2) user for login.
async fn seed(dynamodb: &str, table: &str) -> Result<(Value, String), Error> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "perf"))
        .load()
        .await;
    let store = DynamoTable::new(DynamoTable::client_from_config(&sdk, Some(dynamodb)), table);
    store.create_table_if_missing().await?;
    let mut config = Config::for_tests();
    config.jwt_secret = SECRET.as_bytes().to_vec();
    let app = Arc::new(App::with_parts(config, Arc::new(store.clone()), Arc::new(NoPush)));
    let alice = chat_bench::seed_user(app.table(), "alice").await;
    let bob = chat_bench::seed_user(app.table(), "bob").await;
    let token = app.tokens.issue(&alice)?.0;
    let routes = functions::routes::routes();
    let call = |key: &str, path: &str, token: Option<&str>, body: Value| {
        let json = events::http_v2_json(key, path, "", token, Some(&body));
        let (app, routes) = (app.clone(), routes.clone());
        async move {
            let req = lambda_http::request::from_str(&json).expect("event");
            let res = functions::lambda::serve_http(app, &routes, req).await;
            let body: Value = serde_json::from_slice(res.body().as_ref()).unwrap_or(Value::Null);
            assert!(res.status().is_success(), "seeding: {body}");
            body
        }
    };
    let sent =
        call("POST /api/messages", "/api/messages", Some(&token), json!({ "receiverId": bob.id, "content": "hi" }))
            .await;
    let conv = sent["data"]["conversationId"].as_str().unwrap_or_default().to_owned();
    let login = format!("cold{}", &ulid::Ulid::generate().to_string()[18..]).to_lowercase();
    call(
        "POST /api/users/register",
        "/api/users/register",
        None,
        json!({ "username": login, "password": "correct horse battery" }),
    )
    .await;
    // Reference: one warm GetItem round trip to this server, from this process.
    let mut rtt = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        chat::store::Table::get(&store, &chat::store::Key::new("WARMUP", "WARMUP"), false).await?;
        rtt.push(ms(t.elapsed()));
    }
    let actor = json!({ "userId": alice.id, "username": alice.username, "role": "user" });
    Ok((
        json!({ "token": token, "conv": conv, "login": login, "actor": actor, "getitem_ms": Stats::of(&rtt).p50 }),
        token,
    ))
}

fn event_for(function: &str, seed: &Value, run: usize) -> String {
    let token = seed["token"].as_str().unwrap_or_default();
    let actor: chat::service::Actor = serde_json::from_value(seed["actor"].clone()).expect("actor");
    let conn = format!("{}=", ulid::Ulid::generate());
    match function {
        "users-me" => events::http_v2_json("GET /api/users/me", "/api/users/me", "", Some(token), None),
        "auth-login" => events::http_v2_json(
            "POST /api/users/login",
            "/api/users/login",
            "",
            None,
            Some(&json!({ "username": seed["login"], "password": "correct horse battery" })),
        ),
        "ws-authorizer" => events::authorizer_json(&conn, token),
        "ws-ping" => events::ws_json("ping", &conn, Some(&actor), Some(&json!({ "action": "ping" }))),
        "ws-send-message" => events::ws_json(
            "sendMessage",
            &conn,
            Some(&actor),
            Some(
                &json!({ "action": "sendMessage", "conversationId": seed["conv"], "text": format!("cold {run}"), "clientMessageId": ulid::Ulid::generate().to_string() }),
            ),
        ),
        // The s3 and sns bundles: one function each (their clients are built at init; no call).
        "uploads-create" => events::http_v2_json(
            "POST /api/uploads",
            "/api/uploads",
            "",
            Some(token),
            Some(&json!({ "fileName": "me.png", "contentType": "image/png", "size": 10, "purpose": "avatar" })),
        ),
        "devices-register" => events::http_v2_json(
            "POST /api/devices",
            "/api/devices",
            "",
            Some(token),
            Some(&json!({ "platform": "fcm", "token": format!("cold-start-{run}") })),
        ),
        other => panic!("no event for {other}"),
    }
}

pub fn run(args: &Args) -> Result<(), Error> {
    let bootstrap = args.get("bootstrap").unwrap_or("target/release/bootstrap-light").to_owned();
    let dynamodb =
        args.get("dynamodb").ok_or("--dynamodb URL (a local DynamoDB-compatible server) is required")?.to_owned();
    let runs: usize = args.num("runs", 20);
    let functions: Vec<String> = args
        .get("functions")
        .unwrap_or("users-me,ws-authorizer,ws-ping,ws-send-message,auth-login")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let em = Emulator::default();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .route("/{stage}/@connections/{id}", post(push))
        .route("/ddb", post(dynamodb_stub))
        .route("/ddb/", post(dynamodb_stub))
        .route("/secrets", post(secrets_stub))
        .route("/secrets/", post(secrets_stub))
        .with_state(em.clone());
    rt.spawn(async move { axum::serve(listener, app).await });
    let table = format!("perf-cold-{}", ulid::Ulid::generate()).to_lowercase();
    let (seed, _) = rt.block_on(seed(&dynamodb, &table))?;
    let secret = if args.get("secrets-manager").is_some() {
        Secret::Manager { arn: rt.block_on(create_secret(&dynamodb))?, endpoint: dynamodb.clone() }
    } else {
        Secret::Env
    };
    let size = std::fs::metadata(&bootstrap)?.len();
    let api = addr.to_string();
    let stub = format!("http://{addr}/ddb");
    // The stand-in runs read the key from the Secrets Manager stand-in: no local server's latency.
    let stub_secret = match &secret {
        Secret::Env => Secret::Env,
        Secret::Manager { arn, .. } => Secret::Manager { arn: arn.clone(), endpoint: format!("http://{addr}/secrets") },
    };
    // rustls-native-certs reads `SSL_CERT_FILE` alone when set; unset, it reads the system
    // bundle and every file of the system directory (here Debian's /etc/ssl/certs: ~300 files).
    let bundle = args.get("cert-file").unwrap_or("/etc/ssl/certs/ca-certificates.crt").to_owned();
    let cert_files = std::fs::read_dir("/etc/ssl/certs").map_or(0, |d| d.count());
    // `amazon` (Lambda's default, `chat::tls`): the five bundled roots, so the CA columns agree;
    // `system`: the platform store, which the CA columns then compare.
    let tls_roots = args.get("tls-roots").unwrap_or("amazon").to_owned();

    println!(
        "\n### Cold start of `{bootstrap}` ({:.2} MB on disk), {runs} runs per function, signing key from {}\n",
        size as f64 / 1e6,
        if matches!(secret, Secret::Env) { "JWT_SECRET" } else { "Secrets Manager (moto)" }
    );
    println!(
        "Warm `GetItem` round trip to the local DynamoDB server (moto) from the harness: {:.2} ms (p50).\n",
        seed["getitem_ms"].as_f64().unwrap_or(0.0)
    );
    println!(
        "Columns: local DynamoDB server (moto) or a stand-in answering `{{}}` at once (and, with Secrets Manager, a stand-in answering `GetSecretValue` at once); `CHAT_TLS_ROOTS={tls_roots}`: with `system`, CA roots from the system store ({cert_files} entries in /etc/ssl/certs) or from `SSL_CERT_FILE={bundle}` only; with `amazon`, the bundled Amazon roots in every column.\n"
    );
    println!("| function | ready (1st `/next`) p50 ms | p90 ms | ready, stand-in p50 ms | ready, stand-in + one CA bundle p50 ms | init CPU there, p50 ms | ready, moto + one CA bundle p50 ms | 1st response p50 ms | p90 ms | first invocation p50 ms | peak RSS p50 MB | max MB |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut out = serde_json::Map::new();
    for function in &functions {
        let memory = if function == "auth-login" { 1769 } else { 256 };
        let (mut ready, mut first, mut invoke, mut hwm, mut ready_stub) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut ready_stub_bundle, mut cpu_stub_bundle, mut ready_bundle) = (vec![], vec![], vec![]);
        let run = |dynamodb: &str, event: &str, wait_response: bool, cert_file: Option<&str>| {
            spawn_once(
                &bootstrap,
                function,
                memory,
                &api,
                dynamodb,
                &table,
                &em,
                event,
                wait_response,
                cert_file,
                &tls_roots,
                if dynamodb == stub { &stub_secret } else { &secret },
            )
        };
        // One unmeasured run: the binary into the page cache, the table's first-touch costs.
        run(&dynamodb, &event_for(function, &seed, 0), true, None)?;
        for i in 0..runs {
            let s = run(&dynamodb, &event_for(function, &seed, i + 1), true, None)?;
            ready.push(s.ready_ms);
            let f = s.first_response_ms.unwrap_or(f64::NAN);
            first.push(f);
            invoke.push(f - s.ready_ms);
            hwm.push(s.hwm_kb as f64 / 1024.0);
            // Ready time only: each of these is stopped at its first `/next`.
            let ev = event_for(function, &seed, i + 1);
            ready_stub.push(run(&stub, &ev, false, None)?.ready_ms);
            let sb = run(&stub, &ev, false, Some(&bundle))?;
            ready_stub_bundle.push(sb.ready_ms);
            cpu_stub_bundle.push(sb.cpu_ms);
            ready_bundle.push(run(&dynamodb, &ev, false, Some(&bundle))?.ready_ms);
        }
        let (r, rs, f, inv, h) =
            (Stats::of(&ready), Stats::of(&ready_stub), Stats::of(&first), Stats::of(&invoke), Stats::of(&hwm));
        let (rsb, csb, rb) = (Stats::of(&ready_stub_bundle), Stats::of(&cpu_stub_bundle), Stats::of(&ready_bundle));
        println!(
            "| {function} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.p50, r.p90, rs.p50, rsb.p50, csb.p50, rb.p50, f.p50, f.p90, inv.p50, h.p50, h.max
        );
        out.insert(
            function.clone(),
            json!({
                "ready_p50_ms": r.p50, "ready_p90_ms": r.p90, "ready_stub_p50_ms": rs.p50,
                "ready_stub_bundle_p50_ms": rsb.p50, "init_cpu_stub_bundle_p50_ms": csb.p50, "ready_bundle_p50_ms": rb.p50,
                "first_response_p50_ms": f.p50, "first_response_p90_ms": f.p90,
                "first_invocation_p50_ms": inv.p50, "peak_rss_p50_mb": h.p50, "peak_rss_max_mb": h.max,
            }),
        );
    }
    write_json(args, &json!({ "bootstrap_bytes": size, "moto_getitem_p50_ms": seed["getitem_ms"], "functions": out }));
    Ok(())
}
