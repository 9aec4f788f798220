//! What API Gateway enforces in AWS, enforced locally so that clients meet the same behaviour
//! on a laptop: the HTTP stage's throttling (the template's `HttpThrottling*` defaults), request
//! rates per user over HTTP and WebSocket and per connection over WebSocket, the WebSocket idle
//! timeout and maximum lifetime.
//!
//! In AWS, stage and route throttling cover the rates (`template.yaml`); they are per stage,
//! not per user, so the local limits add per-user ones on purpose, the stricter of the two: a
//! client that behaves here behaves there. A throttled HTTP request or handshake gets API
//! Gateway's own answer (429 `{"message":"Too Many Requests"}`), not the error envelope, so
//! clients handle locally the body they will meet on AWS.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket's parameters: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub const fn new(per_second: f64, burst: f64) -> Self {
        Self { per_second, burst }
    }

    /// No limit at all (tests of other things).
    pub const UNLIMITED: Rate = Rate::new(f64::INFINITY, f64::INFINITY);
}

#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Every HTTP request (and WebSocket handshake) of the stage: the template's
    /// `HttpThrottlingRateLimit` / `HttpThrottlingBurstLimit`.
    pub http_stage: Rate,
    /// HTTP requests and WebSocket frames of one user (anonymous requests: of one address).
    pub per_user: Rate,
    /// Frames of one WebSocket connection.
    pub per_connection: Rate,
    /// A WebSocket connection with no data message either way for this long is closed with 1001
    /// (AWS: 10 minutes; protocol pings and pongs do not count, as on AWS).
    pub idle_timeout: Duration,
    /// A WebSocket connection is closed with 1001 after this long, active or not (AWS: 2 hours).
    pub max_lifetime: Duration,
    /// The HTTP API's CORS configuration.
    pub cors: crate::cors::Cors,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            http_stage: Rate::new(100.0, 200.0),
            per_user: Rate::new(100.0, 200.0),
            per_connection: Rate::new(20.0, 40.0),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(2 * 3600),
            cors: crate::cors::Cors::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error("{0} is not a valid number")]
    NotANumber(&'static str),
    #[error(transparent)]
    Cors(crate::cors::CorsError),
}

impl Limits {
    /// The defaults, overridden by `CHAT_HTTP_STAGE_RATE`, `CHAT_HTTP_STAGE_BURST`,
    /// `CHAT_RATE_USER_PER_SEC`, `CHAT_RATE_USER_BURST`,
    /// `CHAT_RATE_CONNECTION_PER_SEC`, `CHAT_RATE_CONNECTION_BURST` and
    /// `CHAT_WS_IDLE_TIMEOUT_SECS`, `CHAT_WS_MAX_LIFETIME_SECS` (fractions allowed).
    pub fn from_env() -> Result<Self, LimitsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, LimitsError> {
        let d = Self::default();
        let number = |key: &'static str, default: f64| -> Result<f64, LimitsError> {
            match get(key) {
                None => Ok(default),
                Some(v) => v.parse::<f64>().ok().filter(|n| *n > 0.0).ok_or(LimitsError::NotANumber(key)),
            }
        };
        Ok(Self {
            http_stage: Rate::new(
                number("CHAT_HTTP_STAGE_RATE", d.http_stage.per_second)?,
                number("CHAT_HTTP_STAGE_BURST", d.http_stage.burst)?,
            ),
            per_user: Rate::new(
                number("CHAT_RATE_USER_PER_SEC", d.per_user.per_second)?,
                number("CHAT_RATE_USER_BURST", d.per_user.burst)?,
            ),
            per_connection: Rate::new(
                number("CHAT_RATE_CONNECTION_PER_SEC", d.per_connection.per_second)?,
                number("CHAT_RATE_CONNECTION_BURST", d.per_connection.burst)?,
            ),
            idle_timeout: Duration::from_secs_f64(number("CHAT_WS_IDLE_TIMEOUT_SECS", d.idle_timeout.as_secs_f64())?),
            max_lifetime: Duration::from_secs_f64(number("CHAT_WS_MAX_LIFETIME_SECS", d.max_lifetime.as_secs_f64())?),
            cors: crate::cors::Cors::from_lookup(&get).map_err(LimitsError::Cors)?,
        })
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets by key (`user:<id>`, `ip:<address>`, `conn:<id>`).
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Above this many buckets, the full ones (idle long enough to have refilled) are dropped, so
/// the map does not grow with every address ever seen.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    /// Takes one token from `key`'s bucket; `Err(wait)` when empty, with the time until the
    /// next token.
    pub fn check(&self, key: &str, rate: Rate) -> Result<(), Duration> {
        if rate.per_second.is_infinite() {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate.per_second < rate.burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: rate.burst, last: now });
        let refill = now.duration_since(bucket.last).as_secs_f64() * rate.per_second;
        bucket.tokens = (bucket.tokens + refill).min(rate.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate.per_second))
        }
    }

    /// Forgets a key (a closed connection).
    pub fn forget(&self, key: &str) {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_the_wait_for_the_next_token() {
        let limiter = RateLimiter::default();
        let rate = Rate::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(limiter.check("k", rate).is_ok());
        }
        let wait = limiter.check("k", rate).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(limiter.check("other", rate).is_ok(), "buckets are per key");
    }

    #[test]
    fn unlimited_never_refuses() {
        let limiter = RateLimiter::default();
        assert!((0..10_000).all(|_| limiter.check("k", Rate::UNLIMITED).is_ok()));
    }

    #[test]
    fn limits_come_from_the_environment_with_defaults() {
        let l = Limits::from_lookup(|k| (k == "CHAT_WS_IDLE_TIMEOUT_SECS").then(|| "1.5".to_owned())).unwrap();
        assert_eq!(l.idle_timeout, Duration::from_millis(1500));
        assert_eq!(l.per_user, Limits::default().per_user);
        assert!(Limits::from_lookup(|_| Some("-1".into())).is_err());
    }

    #[test]
    fn the_stage_throttle_defaults_are_the_templates() {
        let template = include_str!("../../../template.yaml");
        let default_of = |param: &str| -> Option<f64> {
            let at = template.find(&format!("\n  {param}:"))?;
            let line = template[at..].lines().skip(1).take(5).find(|l| l.trim_start().starts_with("Default:"))?;
            line.trim_start().trim_start_matches("Default:").trim().parse().ok()
        };
        let d = Limits::default().http_stage;
        assert_eq!(default_of("HttpThrottlingRateLimit"), Some(d.per_second));
        assert_eq!(default_of("HttpThrottlingBurstLimit"), Some(d.burst));
    }
}
