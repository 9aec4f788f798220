//! Dollars per million messages: this design (measured handler CPU, counted DynamoDB units,
//! memory sizes from `template.yaml`) against the canonical AWS sample design
//! (`aws-samples/simple-websockets-chat-app`: every `sendmessage` Scans the whole connections
//! table and posts to what it finds), on one model with one set of published prices.
//!
//! What is measured comes from `perf handlers --json` (CPU per route, read/write request
//! units, CPU of one `@connections` post) and the declared budgets (`functions/src/routes.rs`: round
//! trips). What cannot be measured without an AWS account is an explicit, printed assumption:
//! in-region DynamoDB and `@connections` latencies, the sample's Scan time.

use serde_json::{json, Value};

use crate::{write_json, Args};

type Error = Box<dyn std::error::Error>;

/// us-east-1 list prices (first tier), with where they come from.
struct Prices;

impl Prices {
    const LAMBDA_ARM_GB_S: f64 = 0.000_013_333_4;
    const LAMBDA_X86_GB_S: f64 = 0.000_016_666_7;
    const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    const WS_MESSAGE: f64 = 1.00 / 1e6;
    const WS_CONNECTION_MINUTE: f64 = 0.25 / 1e6;
    const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
    const DDB_WRU: f64 = 0.625 / 1e6;
    const DDB_RRU: f64 = 0.125 / 1e6;

    const SOURCES: &'static [&'static str] = &[
        "AWS Lambda pricing (aws.amazon.com/lambda/pricing), US East (N. Virginia), first tier: Arm $0.0000133334 per GB-second, x86 $0.0000166667 per GB-second, $0.20 per million requests; duration billed per 1 ms",
        "Amazon API Gateway pricing (aws.amazon.com/api-gateway/pricing), US East (N. Virginia): WebSocket APIs $1.00 per million messages (first billion; sent and received both count, metered in 32 KB) and $0.25 per million connection minutes; HTTP APIs $1.00 per million requests (first 300 million)",
        "Amazon DynamoDB pricing for on-demand capacity (aws.amazon.com/dynamodb/pricing/on-demand), US East (N. Virginia): $0.625 per million write request units, $0.125 per million read request units",
    ];
}

/// Memory (MB) of a function in `template.yaml`: its own `MemorySize` (a number or a `!Ref` to
/// a parameter's default), else the global one.
fn memory_of(template: &str, function: &str) -> Option<f64> {
    let param = |name: &str| -> Option<f64> {
        let at = template.find(&format!("\n  {name}:\n"))?;
        let block = &template[at..];
        block
            .lines()
            .skip(2)
            .take(8)
            .find_map(|l| l.trim().strip_prefix("Default:"))
            .and_then(|v| v.trim().parse().ok())
    };
    let value = |v: &str| -> Option<f64> {
        let v = v.trim();
        v.strip_prefix("!Ref ").map_or_else(|| v.parse().ok(), |p| param(p.trim()))
    };
    let handler = template.find(&format!("Handler: {function}\n"))?;
    let start = template[..handler].rfind("Type: AWS::Serverless::Function")?;
    let end = template[handler..].find("Type: AWS::").map_or(template.len(), |e| handler + e);
    let own = template[start..end].lines().find_map(|l| l.trim().strip_prefix("MemorySize:")).and_then(value);
    own.or_else(|| {
        let globals = template.find("\nGlobals:")?;
        template[globals..].lines().find_map(|l| l.trim().strip_prefix("MemorySize:")).and_then(value)
    })
}

/// Sequential round trips of a route, as declared (`functions/src/routes.rs`).
fn rounds_of(route: &str) -> Option<f64> {
    functions::routes::FUNCTIONS.iter().flat_map(|d| d.routes).find(|r| r.key == route).map(|r| r.budget.rounds as f64)
}

#[derive(Default, Clone)]
struct Line {
    what: String,
    lambda: f64,
    dynamodb: f64,
    ws_messages: f64,
    http_api: f64,
    connection_minutes: f64,
    detail: String,
}

impl Line {
    fn total(&self) -> f64 {
        self.lambda + self.dynamodb + self.ws_messages + self.http_api + self.connection_minutes
    }
}

struct Model {
    ddb_ms: f64,
    post_ms: f64,
    post_cpu_us: f64,
    minutes_per_message: f64,
}

impl Model {
    /// One invocation of `mb` MB running `cpu_us` of (1-vCPU) CPU plus I/O waits, billed per ms.
    fn lambda(&self, mb: f64, cpu_us: f64, wait_ms: f64, price_gb_s: f64) -> (f64, f64) {
        // Lambda gives one full vCPU at 1769 MB, proportionally less below.
        let cpu_ms = cpu_us / 1e3 * (1769.0 / mb).max(1.0);
        let billed_ms = (cpu_ms + wait_ms).ceil().max(1.0);
        (Prices::LAMBDA_REQUEST + mb / 1024.0 * billed_ms / 1e3 * price_gb_s, billed_ms)
    }

    /// This design: one function invocation per message, measured CPU and units.
    #[allow(clippy::too_many_arguments)]
    fn ours(&self, what: &str, route: &Value, mb: f64, rounds: f64, members: f64, ws: bool) -> Line {
        let pushes = members - 1.0 + if ws { 1.0 } else { 0.0 }; // chatMessage to the others (+ messageReceived)
        let cpu = route["cpu_p50_us"].as_f64().unwrap_or(0.0) + pushes * self.post_cpu_us;
        let waves = (pushes / chat::push::PUSH_CONCURRENCY as f64).ceil();
        let (lambda, billed) =
            self.lambda(mb, cpu, rounds * self.ddb_ms + waves * self.post_ms, Prices::LAMBDA_ARM_GB_S);
        let (rru, wru) = (route["rru"].as_f64().unwrap_or(0.0), route["wru"].as_f64().unwrap_or(0.0));
        Line {
            what: what.to_owned(),
            lambda: lambda * 1e6,
            dynamodb: (rru * Prices::DDB_RRU + wru * Prices::DDB_WRU) * 1e6,
            ws_messages: (pushes + if ws { 1.0 } else { 0.0 }) * Prices::WS_MESSAGE * 1e6,
            http_api: if ws { 0.0 } else { Prices::HTTP_API_REQUEST * 1e6 },
            connection_minutes: self.minutes_per_message * Prices::WS_CONNECTION_MINUTE * 1e6,
            detail: format!(
                "arm64 {mb:.0} MB, billed {billed:.0} ms; {rru} RRU + {wru} WRU; {} WebSocket messages{}",
                pushes + if ws { 1.0 } else { 0.0 },
                if ws { "" } else { " + 1 HTTP API request" }
            ),
        }
    }

    /// The AWS sample: Scan of all `connections` (items of `item_bytes`), then one post per
    /// member found (a FilterExpression keeps the conversation's members: like for like).
    fn sample(&self, what: &str, connections: f64, item_bytes: f64, members: f64, store_message: bool) -> Line {
        let bytes = connections * item_bytes;
        let rru = (bytes / 4096.0).ceil().max(1.0) * 0.5;
        let pages = (bytes / 1_048_576.0).ceil().max(1.0);
        // Assumed Scan time: one round trip per 1 MB page plus 40 ms per MB read.
        let scan_ms = pages * self.ddb_ms + bytes / 1_048_576.0 * 40.0;
        let posts = members; // the sample posts to every matching connection, the sender's too
        let waves = (posts / 50.0).ceil(); // the JS SDK's default of 50 sockets per host
        let store = if store_message { self.ddb_ms } else { 0.0 };
        let (lambda, billed) = self.lambda(256.0, 0.0, scan_ms + waves * self.post_ms + store, Prices::LAMBDA_X86_GB_S);
        let wru = if store_message { 1.0 } else { 0.0 };
        Line {
            what: what.to_owned(),
            lambda: lambda * 1e6,
            dynamodb: (rru * Prices::DDB_RRU + wru * Prices::DDB_WRU) * 1e6,
            ws_messages: (1.0 + posts) * Prices::WS_MESSAGE * 1e6,
            http_api: 0.0,
            connection_minutes: self.minutes_per_message * Prices::WS_CONNECTION_MINUTE * 1e6,
            detail: format!(
                "x86 256 MB Node.js, billed {billed:.0} ms (CPU not counted); Scan of {connections:.0} items = {rru} RRU{}; {} WebSocket messages",
                if store_message { " + 1 WRU (message put)" } else { "" },
                1.0 + posts
            ),
        }
    }
}

pub fn run(args: &Args) -> Result<(), Error> {
    let handlers: Value =
        serde_json::from_str(&std::fs::read_to_string(args.get("handlers").unwrap_or("target/perf/handlers.json"))?)?;
    let template = std::fs::read_to_string(args.get("template").unwrap_or("template.yaml"))?;
    let model = Model {
        ddb_ms: args.num("ddb-ms", 5.0),
        post_ms: args.num("post-ms", 10.0),
        post_cpu_us: handlers["push"]["cpu_per_post_p50_us"].as_f64().unwrap_or(0.0),
        minutes_per_message: args.num("minutes-per-message", 4.8),
    };
    let routes = &handlers["routes"];
    let ws_mb = memory_of(&template, "ws-send-message").ok_or("ws-send-message in template.yaml")?;
    let http_mb = memory_of(&template, "messages-send").ok_or("messages-send in template.yaml")?;
    let ws_rounds = rounds_of("sendMessage").unwrap_or(3.0);
    let http_rounds = rounds_of("POST /api/messages").unwrap_or(3.0);
    let item_bytes: f64 = args.num("sample-item-bytes", 28.0);

    let mut lines = vec![
        model.ours("this design, 1:1, WebSocket sendMessage", &routes["sendMessage"], ws_mb, ws_rounds, 2.0, true),
        model.ours(
            "this design, 1:1, POST /api/messages",
            &routes["POST /api/messages"],
            http_mb,
            http_rounds,
            2.0,
            false,
        ),
        model.ours(
            "this design, group of 100, WebSocket sendMessage",
            &routes["sendMessage, group of 100"],
            ws_mb,
            ws_rounds,
            100.0,
            true,
        ),
    ];
    let sizes: Vec<usize> = args.list("connections", &[1_000, 10_000, 100_000]);
    for members in [2.0, 100.0] {
        for &c in &sizes {
            let label = if members == 2.0 { "1:1" } else { "group of 100" };
            lines.push(model.sample(
                &format!("AWS sample, {label}, {c} connections"),
                c as f64,
                item_bytes,
                members,
                false,
            ));
        }
    }
    for &c in &sizes {
        lines.push(model.sample(
            &format!("AWS sample + message stored, 1:1, {c} connections"),
            c as f64,
            item_bytes,
            2.0,
            true,
        ));
    }

    println!("\n### Dollars per million messages (us-east-1 list prices)\n");
    println!(
        "Assumptions: DynamoDB round trip {} ms, one wave of `@connections` posts {} ms (in-region), {} connection minutes per message sent (users online 8 h a day sending 100 messages a day), one connection per member, no admin connected; this design's CPU scaled by 1769 MB / memory (one vCPU at 1769 MB); `@connections` post CPU {:.0} µs (measured). The sample's connection items are {item_bytes} bytes (`connectionId` only).\n",
        model.ddb_ms, model.post_ms, model.minutes_per_message, model.post_cpu_us
    );
    println!("| design | Lambda | DynamoDB | WebSocket messages | HTTP API | connection minutes | **total** | what |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut out = Vec::new();
    for l in &lines {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | **{:.2}** | {} |",
            l.what,
            l.lambda,
            l.dynamodb,
            l.ws_messages,
            l.http_api,
            l.connection_minutes,
            l.total(),
            l.detail
        );
        out.push(json!({
            "what": l.what, "lambda": l.lambda, "dynamodb": l.dynamodb, "ws_messages": l.ws_messages,
            "http_api": l.http_api, "connection_minutes": l.connection_minutes, "total": l.total(), "detail": l.detail,
        }));
    }
    println!("\nAs written, the sample posts every message to every connection in the table (one room): per million messages that is {} WebSocket messages per connection, e.g. ${:.0} at {} connections, before the Scan.", "one million", sizes.last().copied().unwrap_or(0) as f64 * Prices::WS_MESSAGE * 1e6, sizes.last().copied().unwrap_or(0));
    println!("\nPrices:\n");
    for s in Prices::SOURCES {
        println!("- {s}");
    }
    write_json(args, &json!({ "lines": out, "ws_memory_mb": ws_mb, "http_memory_mb": http_mb }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_resolve_parameters() {
        let t = "Parameters:\n  Big:\n    Type: Number\n    Default: 512\nGlobals:\n  Function:\n    MemorySize: 256\nResources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: a\n      MemorySize: !Ref Big\n  B:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: b\n";
        assert_eq!(memory_of(t, "a"), Some(512.0));
        assert_eq!(memory_of(t, "b"), Some(256.0));
    }
}
