//! Login brute-force slowing (OWASP ASVS 5.0 §6.3.1), without ever locking a user out for good.
//!
//! Failures are counted per login name (username or email, as typed) and per source address,
//! in the table itself (`LOGINFAIL#…` items with a `ttl`), so the count is shared by every
//! Lambda instance. The first `Config::login_free_failures` failures of a name (and
//! `login_free_failures_per_ip` of an address: password spraying across names) cost nothing;
//! after that, each further failure blocks the name (the address) for an exponentially growing
//! delay: 1 s, 2 s, 4 s, … at most 15 minutes. While blocked, a login answers 429
//! `RATE_LIMITED` without checking the password, even a correct one (otherwise the block would
//! not slow guessing at all). A counter forgets 15 minutes after its last failure; a successful
//! login resets the name's counter.
//!
//! The answer depends on the name as typed, never on whether it exists: a blocked unknown name
//! and a blocked real one look the same (no user enumeration).
//!
//! Concurrency: every attempt on a name reserves its slot with a compare-and-set on the
//! counter, recording a failure before the password is checked (undone by the reset on
//! success). A burst of parallel guesses therefore gets one through, the others 429, instead
//! of all of them being checked before the first failure is counted. An address counts its
//! attempts with an atomic `ADD` (every concurrent attempt counts; the window runs from its
//! first failure), and the attempt that reaches the allowance blocks the address with a
//! compare-and-set before its password is checked, so a burst from one address gets no more
//! password checks than a sequence would.

use serde_json::Value;

use crate::error::AppError;
use crate::store::{is_expired, Condition, Item, Key, StoreError, Table, Update};

/// The counter forgets this long after its last failure (and after its block ends).
pub const WINDOW_SECS: i64 = 15 * 60;
/// The longest block.
pub const MAX_DELAY_MS: i64 = 15 * 60 * 1000;

pub fn name_key(login: &str) -> Key {
    Key::new(format!("LOGINFAIL#name#{}", normalize(login)), "LOGINFAIL")
}

pub fn ip_key(ip: &str) -> Key {
    Key::new(format!("LOGINFAIL#ip#{ip}"), "LOGINFAIL")
}

/// Logins are case-insensitive and trimmed (as `repo::users::find_by_login`).
pub fn normalize(login: &str) -> String {
    login.trim().to_lowercase()
}

/// The allowance and the first delay (`Config::login_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures that cost nothing.
    pub free: u32,
    /// The block after the first failure beyond them; each further failure doubles it.
    pub base_delay_ms: i64,
}

/// How long the `failures`-th failure blocks: nothing within the free allowance, then doubling
/// from `base_delay_ms`, at most `MAX_DELAY_MS`.
pub fn delay_ms(failures: i64, policy: Policy) -> i64 {
    let beyond = failures - i64::from(policy.free);
    if beyond < 0 {
        return 0;
    }
    policy.base_delay_ms.max(1).saturating_mul(1i64 << beyond.min(30)).min(MAX_DELAY_MS)
}

/// A counter as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counter {
    /// Failures in the current window (0 when absent or expired).
    pub failures: i64,
    /// Blocked until this time (epoch ms).
    pub until_ms: i64,
    /// The stored `failures`, expired or not: what a compare-and-set must find.
    stored: Option<i64>,
    /// The stored counter's window has ended (DynamoDB deletes expired items lazily).
    expired: bool,
}

impl Counter {
    pub fn from_item(item: Option<&Item>, now_ms: i64) -> Self {
        let Some(item) = item else { return Self::default() };
        let stored = item.get("failures").and_then(Value::as_i64);
        if is_expired(item, now_ms / 1000) {
            return Self { stored, expired: true, ..Self::default() };
        }
        let until_ms = item.get("until").and_then(Value::as_i64).unwrap_or(0);
        Self { failures: stored.unwrap_or(0), until_ms, stored, expired: false }
    }

    /// `Err(RATE_LIMITED)` while blocked.
    pub fn check(&self, now_ms: i64) -> Result<(), AppError> {
        if self.until_ms > now_ms {
            let secs = (self.until_ms - now_ms + 999) / 1000;
            return Err(AppError::RateLimited(format!("too many failed login attempts; retry in {secs} s")));
        }
        Ok(())
    }

    /// The writes that record one more failure blocking for `delay_ms(failures + 1, free)`.
    fn failure_updates(&self, now_ms: i64, policy: Policy) -> Vec<Update> {
        let failures = self.failures + 1;
        let mut updates = vec![Update::Set("failures".into(), failures.into())];
        updates.extend(blocked_until(now_ms + delay_ms(failures, policy)));
        updates
    }
}

/// The writes that block a counter until `until` (epoch ms); it forgets a window after that.
fn blocked_until(until: i64) -> [Update; 2] {
    [Update::Set("until".into(), until.into()), Update::Set("ttl".into(), (until / 1000 + WINDOW_SECS).into())]
}

/// A compare-and-set on a counter: of concurrent attempts, the one whose condition holds goes
/// ahead, the others are refused with 429 `refusal`.
async fn claim(
    table: &dyn Table,
    key: &Key,
    updates: Vec<Update>,
    cond: Condition,
    refusal: &str,
) -> Result<(), AppError> {
    match table.update(key, updates, Some(cond)).await {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(AppError::RateLimited(refusal.into())),
        Err(e) => Err(e.into()),
    }
}

/// Reserves an attempt on a name (one `UpdateItem`): records the failure it will be unless the
/// password turns out right. Of concurrent attempts that read the same counter, one wins; the
/// others are refused with 429.
pub async fn reserve(
    table: &dyn Table,
    key: &Key,
    read: &Counter,
    now_ms: i64,
    policy: Policy,
) -> Result<(), AppError> {
    let cond = match read.stored {
        None => Condition::NotExists,
        Some(v) => Condition::Equals("failures".into(), v.into()),
    };
    let updates = read.failure_updates(now_ms, policy);
    claim(table, key, updates, cond, "another login attempt is in progress; retry in 1 s").await
}

/// Counts an attempt from an address before its password is checked: one `UpdateItem` (`ADD`,
/// so concurrent attempts all count), after a `DeleteItem` when the stored window has ended.
/// Within the allowance the attempt goes ahead. The attempt that reaches it goes ahead only if
/// it is the one that blocks the address (a compare-and-set on `until`, one more `UpdateItem`);
/// the others are refused with 429. A correct password gives the attempt back (`release_ip`).
pub async fn reserve_ip(
    table: &dyn Table,
    key: &Key,
    read: &Counter,
    now_ms: i64,
    policy: Policy,
) -> Result<(), AppError> {
    if read.expired {
        let cond = read.stored.map(|v| Condition::Equals("failures".into(), v.into()));
        match table.delete(key, cond).await {
            Ok(_) | Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let counted = Update::Add("failures".into(), 1);
    let window = Update::SetIfAbsent("ttl".into(), (now_ms / 1000 + WINDOW_SECS).into());
    let after = Counter::from_item(Some(&table.update(key, vec![counted, window], None).await?), now_ms);
    after.check(now_ms)?;
    let delay = delay_ms(after.failures, policy);
    if delay == 0 {
        return Ok(());
    }
    let not_blocked = Condition::AbsentOrLessThan("until".into(), (now_ms + 1).into());
    let block = blocked_until(now_ms + delay).to_vec();
    claim(table, key, block, not_blocked, "too many failed login attempts; retry in 1 s").await
}

/// A correct password was not a failure of its address (one `UpdateItem`).
pub async fn release_ip(table: &dyn Table, key: &Key) -> Result<(), AppError> {
    table.update(key, vec![Update::Add("failures".into(), -1)], Some(Condition::Exists)).await?;
    Ok(())
}

/// A successful login forgets the name's failures (one `DeleteItem`).
pub async fn reset(table: &dyn Table, key: &Key) -> Result<(), AppError> {
    table.delete(key, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_delay_is_free_then_doubles_from_a_second_up_to_fifteen_minutes() {
        let policy = Policy { free: 5, base_delay_ms: 1000 };
        let delays: Vec<_> = (1..=8).map(|n| delay_ms(n, policy)).collect();
        assert_eq!(delays, [0, 0, 0, 0, 1000, 2000, 4000, 8000]);
        assert_eq!(delay_ms(40, policy), MAX_DELAY_MS);
        assert_eq!(delay_ms(i64::MAX, policy), MAX_DELAY_MS);
    }

    #[test]
    fn an_expired_counter_counts_nothing_but_remembers_what_is_stored() {
        let item = json!({ "failures": 9, "until": 10_000, "ttl": 5 });
        let c = Counter::from_item(item.as_object(), 20_000);
        assert_eq!((c.failures, c.until_ms, c.stored), (0, 0, Some(9)));
        assert!(c.check(20_000).is_ok());
    }

    #[test]
    fn a_blocked_counter_refuses_with_rate_limited_until_its_time() {
        let item = json!({ "failures": 6, "until": 12_500, "ttl": 2_000 });
        let c = Counter::from_item(item.as_object(), 10_000);
        let e = c.check(10_000).unwrap_err();
        assert_eq!((e.status(), e.code()), (429, "RATE_LIMITED"));
        assert!(e.to_string().contains("retry in 3 s"), "{e}");
        assert!(c.check(12_500).is_ok());
    }

    #[test]
    fn names_are_counted_case_insensitively_and_trimmed() {
        assert_eq!(name_key(" Alice "), name_key("alice"));
    }
}
