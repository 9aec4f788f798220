//! `perf`: the performance harness (docs/PERFORMANCE.md). One binary, one subcommand per figure:
//!
//! ```text
//! perf handlers   [--iters N] [--json F]   handler CPU per route, in-process, embedded store;
//!                                          DynamoDB requests and capacity units per route;
//!                                          login latency at the argon2 parameters
//! perf cold-start --bootstrap PATH --dynamodb URL [--runs N] [--json F]
//!                 [--functions a,b] [--secrets-manager on] [--tls-roots amazon|system] [--cert-file F]
//!                                          Lambda Runtime API emulator: init and first request
//! perf fanout     [--sizes 1,10,100,1000] [--runs N] [--json F]
//!                                          one message to N members through the local gateway
//! perf load       --gateway PATH --node-server PATH [--clients K] [--messages M] [--group G]
//!                                          K WebSocket clients against the local gateway and
//!                                          against a Node.js Socket.IO server, same run
//! perf load       ... --targets gateway,gateway-capped,node [--max-blocking-threads 8]
//!                                          also the gateway library on a runtime whose
//!                                          blocking pool is capped (`perf serve`)
//! perf cost       [--handlers F] [--template template.yaml]
//!                                          dollars per million messages, ours and the AWS sample
//! perf hot        [--senders 10,100,500] [--messages M] [--members K] [--dynamodb URL]
//!                                          one hot conversation: accepted and refused sends,
//!                                          sends/s, the order checked
//! ```
//!
//! Every subcommand prints a Markdown table; `--json F` also writes the figures to `F`.

mod cmd;

use std::collections::HashMap;

/// `--name value` pairs after the subcommand.
pub struct Args(HashMap<String, String>);

impl Args {
    fn parse(args: &[String]) -> Self {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let value = it.next().cloned().unwrap_or_default();
                map.insert(name.to_owned(), value);
            }
        }
        Self(map)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    pub fn list(&self, name: &str, default: &[usize]) -> Vec<usize> {
        self.get(name)
            .map_or_else(|| default.to_vec(), |v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
    }
}

/// Writes `value` as pretty JSON to the `--json` path, when given.
pub fn write_json(args: &Args, value: &serde_json::Value) {
    if let Some(path) = args.get("json") {
        if let Some(dir) = std::path::Path::new(path).parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, serde_json::to_string_pretty(value).unwrap_or_default()).expect("writing the JSON report");
        eprintln!("wrote {path}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = argv.first() else {
        eprintln!("usage: perf handlers|cold-start|fanout|load|cost [--options]  (see bench/src/main.rs)");
        std::process::exit(2);
    };
    let args = Args::parse(&argv[1..]);
    if command != "stub" && command != "serve" {
        println!(
            "<!-- perf {} | {} | {} | load average {} -->",
            argv.join(" "),
            chat::clock::iso(chat::clock::now_ms()),
            chat_bench::machine(),
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    match command.as_str() {
        "handlers" => cmd::handlers::run(&args),
        "cold-start" => cmd::cold_start::run(&args),
        "fanout" => cmd::fanout::run(&args),
        "load" => cmd::load::run(&args),
        "cost" => cmd::cost::run(&args),
        "stub" => cmd::handlers::stub(),
        "serve" => cmd::serve::run(&args),
        "store-mem" => cmd::store_mem::run(&args),
        "hot" => cmd::hot::run(&args),
        other => Err(format!("unknown subcommand {other}").into()),
    }
}
