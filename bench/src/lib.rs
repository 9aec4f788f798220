//! The performance harness behind `scripts/perf-*.sh` and `docs/PERFORMANCE.md`: statistics,
//! process figures from `/proc`, a capacity-unit accounting `Table` wrapper, API Gateway event
//! builders for in-process handler calls, and seeding helpers that bypass argon2.

pub mod capacity;
pub mod events;

use std::time::Duration;

use chat::models::{Role, User};
use chat::store::Table;

/// Median, percentiles and mean of a sample (in whatever unit it was taken).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let pick = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Self {
            n: v.len(),
            min: v[0],
            p50: pick(0.5),
            p90: pick(0.9),
            p99: pick(0.99),
            max: v[v.len() - 1],
            mean: v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

/// Milliseconds of a duration, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time of this whole process (every thread), from `CLOCK_PROCESS_CPUTIME_ID`.
pub fn process_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A field of `/proc/<pid>/status` in kB (`VmHWM` = peak RSS, `VmRSS` = current).
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// CPU time of every thread of a process so far, in ms, at nanosecond resolution
/// (`/proc/<pid>/task/*/schedstat`, first field): unlike wall time, it does not grow when other
/// work shares the machine, so builds of two profiles compare on a busy machine too.
pub fn proc_cpu_ns_ms(pid: u32) -> Option<f64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Some(ns as f64 / 1e6)
}

/// User and system CPU seconds of a process so far (`/proc/<pid>/stat`, fields 14 and 15).
pub fn proc_cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// A user written straight to the store (no argon2: the password hash is a placeholder, so
/// this user cannot log in; tokens are issued directly with `App::tokens`).
pub async fn seed_user(table: &dyn Table, prefix: &str) -> User {
    seed_user_with_role(table, prefix, Role::User).await
}

pub async fn seed_user_with_role(table: &dyn Table, prefix: &str, role: Role) -> User {
    let name = format!("{prefix}-{}", &ulid::Ulid::generate().to_string()[16..]).to_lowercase();
    let user = User::new(&name, "unused".into(), role, &chat::clock::iso(0));
    chat::repo::users::create(table, &user).await.expect("seeding a user");
    user
}

/// The machine, for the report header.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or(0, |kb| kb / 1024 / 1024);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem} GiB RAM, Linux {}", kernel.trim())
}
