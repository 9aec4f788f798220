//! Metrics: one recorder per invocation, flushed once at its end.
//!
//! The code that does the work counts into the invocation's `Recorder` (task-local: `scope`
//! runs an invocation inside one; outside any, counting does nothing): messages sent, fan-outs
//! and pushes (`push::fan_out`, the one push path), connections opened and closed, refusals
//! (`AppError::log`), DynamoDB requests (`store::Metered`) and the capacity they consumed
//! (`store::DynamoTable`, from `ReturnConsumedCapacity: TOTAL`). At the end of the invocation
//! the Lambda adapter prints the `Snapshot` as one CloudWatch Embedded Metric Format line on
//! stdout (`Snapshot::emf`, in `namespace()`: CloudWatch extracts the metrics from the log; no API call), and the
//! local gateway adds it to its `Registry`, served as Prometheus text at `GET /@metrics`.
//! Names are the same in both. Counting is a relaxed atomic add into a fixed array: nothing is
//! allocated until the line is written.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

use crate::error::AppError;

/// The CloudWatch namespace of every metric, unless `METRICS_NAMESPACE` names another (the
/// template sets `ChatBackend/<stack name>`, so that two stacks of one account stay apart); the
/// one dimension is `Function`.
pub const NAMESPACE: &str = "ChatBackend";

/// `METRICS_NAMESPACE`, else `NAMESPACE` (read once).
pub fn namespace() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("METRICS_NAMESPACE").ok().filter(|n| !n.is_empty()).unwrap_or_else(|| NAMESPACE.into())
    })
}

macro_rules! metrics {
    ($($(#[doc = $doc:literal])* $variant:ident: $unit:literal, $help:literal;)*) => {
        /// A metric the functions emit (CloudWatch name = Prometheus name).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Metric { $($(#[doc = $doc])* $variant),* }

        impl Metric {
            pub const ALL: &'static [Metric] = &[$(Metric::$variant),*];

            pub const fn name(self) -> &'static str {
                match self { $(Metric::$variant => stringify!($variant)),* }
            }

            /// The CloudWatch unit.
            pub const fn unit(self) -> &'static str {
                match self { $(Metric::$variant => $unit),* }
            }

            /// One line of what it counts (Prometheus `# HELP`).
            pub const fn help(self) -> &'static str {
                match self { $(Metric::$variant => $help),* }
            }
        }
    };
}

metrics! {
    MessagesSentDirect: "Count", "Direct messages stored (a retried clientMessageId is not counted)";
    MessagesSentGroup: "Count", "Group messages stored";
    MessagesSentChannel: "Count", "Channel messages stored";
    /// The largest fan-out of the invocation (connections one event batch went to).
    FanOutSize: "Count", "Connections of the invocation's largest fan-out";
    PushesAttempted: "Count", "POST @connections calls made (each is a billed WebSocket message)";
    PushesDelivered: "Count", "POST @connections calls that succeeded";
    PushesGone: "Count", "POST @connections calls answered 410 Gone (the connection is removed)";
    PushesFailed: "Count", "POST @connections calls that failed otherwise or timed out";
    ConnectionsOpened: "Count", "WebSocket connections accepted at $connect";
    ConnectionsClosed: "Count", "WebSocket connections ended at $disconnect";
    AuthFailures: "Count", "Requests refused as unauthenticated (401, a refused $connect token)";
    RateLimited: "Count", "Requests refused by the functions' own limits (429: login throttling, hash queue)";
    ServerErrors: "Count", "Requests answered with a 5xx error by a function";
    DynamoDBRequests: "Count", "DynamoDB requests made (a BatchGetItem of 250 keys is 3)";
    DynamoDBReadCapacity: "Count", "DynamoDB read capacity units consumed (on-demand: read request units)";
    DynamoDBWriteCapacity: "Count", "DynamoDB write capacity units consumed (on-demand: write request units)";
    Latency: "Milliseconds", "Handler latency";
}

const N: usize = Metric::ALL.len();

/// Capacity units come in halves: they are counted in thousandths.
const CAPACITY_SCALE: f64 = 1000.0;

impl Metric {
    /// The value as emitted: capacity in units, the rest as counted.
    fn value(self, raw: u64) -> f64 {
        match self {
            Metric::DynamoDBReadCapacity | Metric::DynamoDBWriteCapacity => raw as f64 / CAPACITY_SCALE,
            _ => raw as f64,
        }
    }
}

/// What one invocation counted.
pub struct Recorder {
    values: [AtomicU64; N],
}

impl Recorder {
    fn new() -> Self {
        Self { values: std::array::from_fn(|_| AtomicU64::new(0)) }
    }
}

tokio::task_local! {
    static CURRENT: Recorder;
}

/// Adds `n` to `metric` in the current invocation (nothing outside one).
pub fn add(metric: Metric, n: u64) {
    if n > 0 {
        let _ = CURRENT.try_with(|r| r.values[metric as usize].fetch_add(n, Relaxed));
    }
}

/// Raises `metric` to `n` if it is below (a per-invocation maximum).
pub fn max(metric: Metric, n: u64) {
    let _ = CURRENT.try_with(|r| r.values[metric as usize].fetch_max(n, Relaxed));
}

/// Consumed capacity, as DynamoDB reported it.
pub fn capacity(read: f64, write: f64) {
    let milli = |u: f64| if u.is_finite() && u > 0.0 { (u * CAPACITY_SCALE).round() as u64 } else { 0 };
    add(Metric::DynamoDBReadCapacity, milli(read));
    add(Metric::DynamoDBWriteCapacity, milli(write));
}

/// A refusal or failure answered to a client (`AppError::log` calls it).
pub fn count_error(e: &AppError) {
    match e {
        AppError::Unauthorized(_) => add(Metric::AuthFailures, 1),
        AppError::RateLimited(_) | AppError::RetryLater { .. } => add(Metric::RateLimited, 1),
        e if e.status() >= 500 => add(Metric::ServerErrors, 1),
        _ => {}
    }
}

/// Runs one invocation of `function` with its own recorder; returns its output and what it
/// counted, with its latency.
pub async fn scope<F: Future>(function: &'static str, f: F) -> (F::Output, Snapshot) {
    let started = Instant::now();
    CURRENT
        .scope(Recorder::new(), async move {
            let out = f.await;
            let mut values = [0u64; N];
            let _ = CURRENT.try_with(|r| {
                for (v, a) in values.iter_mut().zip(&r.values) {
                    *v = a.load(Relaxed);
                }
            });
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            values[Metric::Latency as usize] = (latency_ms * 1000.0).round() as u64;
            (out, Snapshot { function, values })
        })
        .await
}

/// What one invocation counted (`Latency` in microseconds, emitted in milliseconds).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub function: &'static str,
    values: [u64; N],
}

impl Snapshot {
    /// A metric's value as emitted.
    pub fn get(&self, metric: Metric) -> f64 {
        let raw = self.values[metric as usize];
        match metric {
            Metric::Latency => raw as f64 / 1000.0,
            m => m.value(raw),
        }
    }

    /// One CloudWatch Embedded Metric Format line: namespace `NAMESPACE`, dimension `Function`,
    /// the metrics that moved (and `Latency` always: its sample count is the invocations), and
    /// as plain properties (searchable in Logs Insights, no metric cost) the route, the request
    /// id and the X-Ray trace id.
    pub fn emf(
        &self,
        namespace: &str,
        timestamp_ms: i64,
        route: Option<&str>,
        request_id: Option<&str>,
        trace_id: Option<&str>,
    ) -> String {
        let moved = || Metric::ALL.iter().filter(|m| **m == Metric::Latency || self.values[**m as usize] > 0);
        let mut line = String::with_capacity(512);
        let _ = write!(
            line,
            r#"{{"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":[{{"Namespace":{},"Dimensions":[["Function"]],"Metrics":["#,
            json_string(namespace)
        );
        for (i, m) in moved().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(line, r#"{sep}{{"Name":"{}","Unit":"{}"}}"#, m.name(), m.unit());
        }
        let _ = write!(line, r#"]}}]}},"Function":{}"#, json_string(self.function));
        for m in moved() {
            let _ = write!(line, r#","{}":{}"#, m.name(), self.get(*m));
        }
        for (name, value) in [("route", route), ("requestId", request_id), ("traceId", trace_id)] {
            if let Some(v) = value {
                let _ = write!(line, r#","{name}":{}"#, json_string(v));
            }
        }
        line.push('}');
        line
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Latency buckets of the Prometheus histogram (milliseconds).
const LATENCY_BUCKETS_MS: [f64; 10] = [5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0];

#[derive(Default)]
struct Totals {
    values: [u64; N],
    invocations: u64,
    /// Per bucket of `LATENCY_BUCKETS_MS`: invocations at most that long (cumulative on output).
    latency_buckets: [u64; LATENCY_BUCKETS_MS.len()],
    latency_sum_us: u64,
    fan_outs: u64,
    fan_out_max: u64,
}

/// What a process's invocations counted, per function (the local gateway's, served at
/// `GET /@metrics`).
#[derive(Default)]
pub struct Registry {
    by_function: Mutex<BTreeMap<&'static str, Totals>>,
}

impl Registry {
    pub fn add(&self, s: &Snapshot) {
        let mut all = self.by_function.lock().unwrap_or_else(|e| e.into_inner());
        let t = all.entry(s.function).or_default();
        for m in Metric::ALL {
            let v = s.values[*m as usize];
            match m {
                Metric::Latency => {
                    t.latency_sum_us += v;
                    let ms = v as f64 / 1000.0;
                    if let Some(i) = LATENCY_BUCKETS_MS.iter().position(|b| ms <= *b) {
                        t.latency_buckets[i] += 1;
                    }
                }
                Metric::FanOutSize if v > 0 => {
                    t.values[*m as usize] += v;
                    t.fan_outs += 1;
                    t.fan_out_max = t.fan_out_max.max(v);
                }
                _ => t.values[*m as usize] += v,
            }
        }
        t.invocations += 1;
    }

    /// A counter's total for `function` (as emitted: capacity in units).
    pub fn total(&self, function: &str, metric: Metric) -> f64 {
        let all = self.by_function.lock().unwrap_or_else(|e| e.into_inner());
        all.get(function).map_or(0.0, |t| metric.value(t.values[metric as usize]))
    }

    /// Connections opened less connections closed, all functions: what the dashboard computes
    /// from the same two counters.
    pub fn live_connections(&self) -> i64 {
        let all = self.by_function.lock().unwrap_or_else(|e| e.into_inner());
        let sum = |m: Metric| all.values().map(|t| t.values[m as usize] as i64).sum::<i64>();
        (sum(Metric::ConnectionsOpened) - sum(Metric::ConnectionsClosed)).max(0)
    }

    /// Prometheus text format (0.0.4): each counter per function, `FanOutSize` as a summary
    /// (`_sum`, `_count`, `_max`), `Latency` as a histogram, and the `LiveConnections` gauge.
    pub fn prometheus(&self) -> String {
        let live = self.live_connections();
        let all = self.by_function.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for m in Metric::ALL {
            let name = m.name();
            match m {
                Metric::Latency => {
                    let _ = writeln!(out, "# HELP {name} {} (milliseconds)\n# TYPE {name} histogram", m.help());
                    for (f, t) in all.iter() {
                        let mut cumulative = 0;
                        for (b, n) in LATENCY_BUCKETS_MS.iter().zip(t.latency_buckets) {
                            cumulative += n;
                            let _ = writeln!(out, "{name}_bucket{{function=\"{f}\",le=\"{b}\"}} {cumulative}");
                        }
                        let _ = writeln!(out, "{name}_bucket{{function=\"{f}\",le=\"+Inf\"}} {}", t.invocations);
                        let _ = writeln!(out, "{name}_sum{{function=\"{f}\"}} {}", t.latency_sum_us as f64 / 1000.0);
                        let _ = writeln!(out, "{name}_count{{function=\"{f}\"}} {}", t.invocations);
                    }
                }
                Metric::FanOutSize => {
                    let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} summary", m.help());
                    for (f, t) in all.iter().filter(|(_, t)| t.fan_outs > 0) {
                        let _ = writeln!(out, "{name}_sum{{function=\"{f}\"}} {}", t.values[*m as usize]);
                        let _ = writeln!(out, "{name}_count{{function=\"{f}\"}} {}", t.fan_outs);
                        let _ = writeln!(out, "{name}_max{{function=\"{f}\"}} {}", t.fan_out_max);
                    }
                }
                _ => {
                    let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} counter", m.help());
                    for (f, t) in all.iter().filter(|(_, t)| t.values[*m as usize] > 0) {
                        let _ = writeln!(out, "{name}{{function=\"{f}\"}} {}", m.value(t.values[*m as usize]));
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP LiveConnections WebSocket connections open (ConnectionsOpened - ConnectionsClosed)\n# TYPE LiveConnections gauge\nLiveConnections {live}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_invocation_counts_into_its_own_recorder_and_nothing_outside_one() {
        add(Metric::PushesAttempted, 5); // outside: ignored, no panic
        let ((), s) = scope("messages-send", async {
            add(Metric::MessagesSentGroup, 1);
            add(Metric::PushesAttempted, 3);
            max(Metric::FanOutSize, 3);
            max(Metric::FanOutSize, 2);
            capacity(0.5, 2.0);
            count_error(&AppError::Unauthorized("x".into()));
        })
        .await;
        assert_eq!(s.get(Metric::MessagesSentGroup), 1.0);
        assert_eq!(s.get(Metric::PushesAttempted), 3.0);
        assert_eq!(s.get(Metric::FanOutSize), 3.0);
        assert_eq!(s.get(Metric::DynamoDBReadCapacity), 0.5);
        assert_eq!(s.get(Metric::AuthFailures), 1.0);
        assert!(s.get(Metric::Latency) >= 0.0);

        let line = s.emf(NAMESPACE, 1_700_000_000_000, Some("POST /api/messages"), Some("req-1"), Some("Root=1-abc"));
        let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Function"]]));
        let names: Vec<&str> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .map(|a| a.iter().filter_map(|m| m["Name"].as_str()).collect())
            .unwrap_or_default();
        // Every metric listed has its value; metrics that did not move are left out.
        for n in &names {
            assert!(v[*n].is_number(), "{n}");
        }
        assert!(names.contains(&"Latency") && !names.contains(&"MessagesSentDirect"));
        assert_eq!(v["Function"], "messages-send");
        assert_eq!(v["DynamoDBWriteCapacity"], 2.0);
        assert_eq!((v["requestId"].as_str(), v["traceId"].as_str()), (Some("req-1"), Some("Root=1-abc")));
        assert!(!line.contains('\n'));

        let registry = Registry::default();
        registry.add(&s);
        registry.add(&s);
        assert_eq!(registry.total("messages-send", Metric::PushesAttempted), 6.0);
        let text = registry.prometheus();
        assert!(text.contains("PushesAttempted{function=\"messages-send\"} 6\n"), "{text}");
        assert!(text.contains("Latency_count{function=\"messages-send\"} 2\n"), "{text}");
        assert!(text.contains("FanOutSize_max{function=\"messages-send\"} 3\n"), "{text}");
        assert!(text.contains("LiveConnections 0\n"), "{text}");
    }

    #[tokio::test]
    async fn the_live_connections_gauge_is_opened_less_closed() {
        let registry = Registry::default();
        for (f, m) in [
            ("ws-connect", Metric::ConnectionsOpened),
            ("ws-connect", Metric::ConnectionsOpened),
            ("ws-disconnect", Metric::ConnectionsClosed),
        ] {
            let ((), s) = scope(f, async move { add(m, 1) }).await;
            registry.add(&s);
        }
        assert_eq!(registry.live_connections(), 1);
    }
}
