//! The README as a tested artifact (issue 9): its command blocks are read from README.md itself
//! and run as written, through `sh -c`, the way a new user would paste them: the quick start's
//! `cargo run -p local-gateway` on a free `PORT` with a temporary `CHAT_DATA_DIR`, the `curl`
//! registration (only the port changes), a WebSocket `ping` with the token it returned, and
//! `create-admin` against the same data folder. Every other command block must say it is not
//! run by tests.
//!
//! `cargo run` inside `cargo test` works: cargo holds its build lock only while compiling, not
//! while the tests run (another cargo build running at the same time only makes this one wait).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Ws;
use crate::support::TempDir;

/// A cold `cargo run` may compile and link the binary, and wait for another cargo's build lock.
const START_TIMEOUT: Duration = Duration::from_secs(900);

/// Marks a command block (or the prose next to it) that no test runs.
const NOT_RUN: &str = "not run by tests";

/// The commands of the README this file runs (by how they start); `scripts/test.sh` is the
/// command that runs this file.
const RUN_HERE: [&str; 5] =
    ["cargo run -p local-gateway ", "CHAT_ADMIN_USERNAME=", "curl ", "websocat ", "scripts/test.sh"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md is readable")
}

/// A ```sh block of a markdown text: the heading it is under and its lines.
#[derive(Debug)]
struct Block {
    section: String,
    lines: Vec<String>,
}

impl Block {
    /// Its commands: continuation lines (`\`) joined, comment-only and blank lines dropped.
    fn commands(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = String::new();
        for line in &self.lines {
            let line = line.trim();
            if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
                continue;
            }
            match line.strip_suffix('\\') {
                Some(head) => current.push_str(head),
                None => {
                    current.push_str(line);
                    out.push(std::mem::take(&mut current));
                }
            }
        }
        out
    }

    /// The one command starting with `prefix`.
    fn command(&self, prefix: &str) -> String {
        let found: Vec<_> = self.commands().into_iter().filter(|c| c.starts_with(prefix)).collect();
        assert_eq!(found.len(), 1, "one `{prefix}…` command in the {:?} block: {:?}", self.section, self.lines);
        found.into_iter().next().unwrap_or_default()
    }

    /// The line right after the command starting with `prefix` (the README's "→ answer" comment).
    fn line_after(&self, prefix: &str) -> String {
        let at = self.lines.iter().position(|l| l.starts_with(prefix)).expect("the command is in the block");
        self.lines.get(at + 1).cloned().unwrap_or_default()
    }
}

fn sh_blocks(markdown: &str) -> Vec<Block> {
    enum In {
        Prose,
        Sh(Vec<String>),
        OtherCode,
    }
    let (mut blocks, mut section, mut state) = (Vec::new(), String::new(), In::Prose);
    for line in markdown.lines() {
        let fence = line.trim_start().starts_with("```");
        state = match state {
            In::Prose if line.trim() == "```sh" => In::Sh(Vec::new()),
            In::Prose if fence => In::OtherCode,
            In::Prose => {
                if let Some(h) = line.strip_prefix("## ") {
                    section = h.trim().to_owned();
                }
                In::Prose
            }
            In::Sh(lines) if fence => {
                blocks.push(Block { section: section.clone(), lines });
                In::Prose
            }
            In::Sh(mut lines) => {
                lines.push(line.to_owned());
                In::Sh(lines)
            }
            In::OtherCode if fence => In::Prose,
            In::OtherCode => In::OtherCode,
        };
    }
    blocks
}

/// The blocks of the README's quick start: the run command, then the example calls.
fn quick_start() -> (Block, Block) {
    let mut blocks = sh_blocks(&readme()).into_iter().filter(|b| b.section == "Quick start");
    let run = blocks.next().expect("the quick start has a command block");
    let calls = blocks.next().expect("the quick start has a block of example calls");
    (run, calls)
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("a free port").port()
}

/// `command` through `sh -c`, from the repository root, in a clean environment for the chat
/// variables (a fresh shell: no `DYNAMODB_ENDPOINT` from `scripts/test.sh`), plus `env`.
fn sh(command: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).current_dir(root());
    for var in [
        "PORT",
        "CHAT_DATA_DIR",
        "CHAT_STORE",
        "CHAT_ENV",
        "DYNAMODB_ENDPOINT",
        "TABLE_NAME",
        "JWT_SECRET",
        "CHAT_ADMIN_USERNAME",
        "CHAT_ADMIN_PASSWORD",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// A command run to its end, within `START_TIMEOUT` (a hung build fails the test, not hangs it).
fn run_to_end(mut cmd: Command, what: &str) -> Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("sh starts");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = rx
        .recv_timeout(START_TIMEOUT)
        .unwrap_or_else(|_| panic!("{what}: still running after {START_TIMEOUT:?}"))
        .expect("the command's output");
    assert!(
        out.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A server started with `sh -c` in its own process group; dropping it ends the whole group
/// (`sh`, `cargo`, the gateway), also when the test fails half-way.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(mut cmd: Command, log: PathBuf) -> Self {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(&log).expect("the server log");
        let err = out.try_clone().expect("the server log");
        let child = cmd.process_group(0).stdout(out).stderr(err).spawn().expect("sh starts");
        Self { child, log }
    }

    /// Waits until the port accepts connections; fails early, with the log, if the process ends.
    fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = self.child.try_wait().expect("waiting for the server") {
                panic!("the server exited ({status}) before listening:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "not listening after {START_TIMEOUT:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Whether `actual` has the shape of the README's example answer: every key shown is there
/// with a value of that shape; `{…}` is any object, `"eyJ…"` any string starting `eyJ`.
fn has_shape(shown: &Value, actual: &Value) -> bool {
    match (shown, actual) {
        (Value::Object(s), Value::Object(a)) => s.iter().all(|(k, v)| a.get(k).is_some_and(|x| has_shape(v, x))),
        (Value::String(s), Value::String(a)) => a.starts_with(s.as_str()),
        (s, a) => s == a,
    }
}

/// The example answer of a `# → {…}` comment, as a JSON shape.
fn shown_answer(comment: &str) -> Value {
    let shown = comment.trim().strip_prefix("# →").expect("an answer comment `# → …`").trim();
    serde_json::from_str(&shown.replace("{…}", "{}").replace("…\"", "\"")).expect("the shown answer is JSON")
}

/// `NAME=value` or `NAME='value'` in a shell command line.
fn assignment(command: &str, name: &str) -> String {
    let rest = command.split_once(&format!("{name}=")).expect("the variable is set").1;
    match rest.strip_prefix('\'') {
        Some(quoted) => quoted.split('\'').next().unwrap_or_default().to_owned(),
        None => rest.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_quick_start_runs_as_written_and_create_admin_makes_an_admin_who_logs_in() {
    let (run, calls) = quick_start();
    let run_command = run.command("cargo run -p local-gateway ");
    let data = TempDir::new();
    let data_dir = data.path().to_str().expect("a UTF-8 temporary path").to_owned();

    // `create-admin` first: the embedded store belongs to one process, so the gateway is stopped.
    let admin_block = sh_blocks(&readme())
        .into_iter()
        .find(|b| b.commands().iter().any(|c| c.contains("--bin create-admin")))
        .expect("the README shows create-admin");
    let create_admin = admin_block.command("CHAT_ADMIN_USERNAME=");
    let out = tokio::task::spawn_blocking(move || {
        run_to_end(sh(&create_admin, &[("CHAT_DATA_DIR", &data_dir)]), &create_admin)
    })
    .await
    .expect("create-admin ran");
    let create_admin = admin_block.command("CHAT_ADMIN_USERNAME=");
    let (admin, password) =
        (assignment(&create_admin, "CHAT_ADMIN_USERNAME"), assignment(&create_admin, "CHAT_ADMIN_PASSWORD"));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains(&format!("admin {admin} created")), "{printed}");

    // The run command, as written, on a free port and the same data folder.
    let port = free_port();
    let data_dir = data.path().to_str().unwrap_or_default().to_owned();
    let port_s = port.to_string();
    let server = tokio::task::spawn_blocking(move || {
        let cmd = sh(&run_command, &[("PORT", &port_s), ("CHAT_DATA_DIR", &data_dir)]);
        let mut server = Server::start(cmd, std::env::temp_dir().join(crate::support::unique_name("readme-gw.log")));
        server.wait_listening(port);
        server
    })
    .await
    .expect("the gateway started");

    // The `curl` registration, literally but for the port; the answer has the shape shown.
    let curl = calls.command("curl ").replace(":4000", &format!(":{port}"));
    let out = run_to_end(sh(&curl, &[]), &curl);
    let answer: Value = serde_json::from_slice(&out.stdout).expect("curl printed JSON");
    let shown = shown_answer(&calls.line_after("curl "));
    assert!(has_shape(&shown, &answer), "shown {shown}, answered {answer}\n{}", server.log());
    let token = answer["data"]["token"].as_str().expect("a token").to_owned();

    // The `websocat` line: its URL with the port and the token, then the frame it shows. websocat
    // is not installed here; the tests' own client (tokio-tungstenite) sends the same frame.
    let websocat = calls.command("websocat ");
    let url = websocat.split('"').nth(1).expect("a quoted URL").replace(":4000", &format!(":{port}"));
    let url = url.replace("eyJ…", &token);
    let frame = websocat.split_once("then: ").expect("the frame to send").1;
    let frame: Value = serde_json::from_str(frame.split(" →").next().unwrap_or_default()).expect("a JSON frame");
    let mut ws = Ws::connect(&url).await.expect("the WebSocket connects with the README's URL");
    ws.send(frame).await;
    assert!(ws.event("pong").await["time"].is_string());
    ws.close().await;

    // The admin `create-admin` made logs in through this gateway.
    let login = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/users/login"))
        .json(&json!({ "username": admin, "password": password }))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(login.status(), StatusCode::OK);
    let login: Value = login.json().await.expect("JSON");
    assert_eq!(login["data"]["user"]["role"], "admin", "{login}");
    drop(server);
}

/// Every command block the README shows is run above, or says that it is not.
#[test]
fn every_command_block_of_the_readme_is_run_by_a_test_or_marked_not_run_by_tests() {
    let readme = readme();
    let mut unrun: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for block in sh_blocks(&readme) {
        if block.lines.iter().any(|l| l.contains(NOT_RUN)) {
            continue;
        }
        for command in block.commands() {
            if !RUN_HERE.iter().any(|p| command.starts_with(p) || format!("{command} ").starts_with(p)) {
                unrun.entry(block.section.clone()).or_default().push(command);
            }
        }
    }
    assert!(
        unrun.is_empty(),
        "README commands neither run by tests/tests/all/readme.rs nor marked {NOT_RUN:?}: {unrun:?}"
    );
    // The prose's local-only tools that the tests cannot run say so too.
    let at = readme.find("`cargo lambda watch`").expect("cargo lambda watch is mentioned");
    let paragraph = readme[at..].split("\n\n").next().unwrap_or_default().split_whitespace().collect::<Vec<_>>();
    assert!(paragraph.join(" ").contains(NOT_RUN), "cargo lambda watch: say {NOT_RUN:?}");
}
