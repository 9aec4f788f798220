//! Capacity units per request, computed from item sizes with DynamoDB's published rules.
//!
//! Why computed: the local DynamoDB-compatible server (moto 5.2.5) does answer
//! `ReturnConsumedCapacity=TOTAL`, but with constants (0.5 per `GetItem` whatever the size,
//! 1 per key of a `BatchGetItem`, 1.0 per `PutItem`, nothing for `TransactWriteItems`), not
//! with what DynamoDB would charge. So this wrapper sizes every item read or written and applies
//! the rules of the DynamoDB developer guide ("Read/write capacity unit consumption",
//! "Item sizes and formats", "Capacity for transactions", "GSI write amplification"):
//!
//! - reads: 4 KB units, eventually consistent = half a unit, strongly consistent = one unit;
//!   `GetItem` and each key of `BatchGetItem` is rounded up separately (a missing item still
//!   costs the minimum); a `Query` rounds the sum of the returned items up once; GSI reads are
//!   eventually consistent;
//! - writes: 1 KB units, the larger of the item before and after (`PutItem` over an existing
//!   item, `UpdateItem`); `DeleteItem` the deleted item; minimum 1;
//! - transactions: two units per item (write or `ConditionCheck`);
//! - GSI1 (all attributes projected): every write that puts, changes or removes an item's GSI1
//!   entry costs the index one more write of the new item's size (two when the GSI key changes:
//!   delete + put); a transaction does not double index writes.
//!
//! To size the items a write replaces, the wrapper reads them from the inner table outside the
//! tally (turn it on with `enable` only for accounting passes, not while timing).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chat::store::{Condition, Item, Key, Page, Query, StoreError, Table, Update, WriteOp, BATCH_GET_MAX};
use serde_json::Value;

/// What the requests since the last `take` cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub requests: usize,
    /// Read request units (on-demand) = read capacity units (provisioned).
    pub rru: f64,
    /// Write request units, base table and GSI.
    pub wru: f64,
    pub ops: Vec<&'static str>,
}

pub struct Capacity<T> {
    inner: T,
    enabled: AtomicBool,
    tally: Mutex<Tally>,
}

/// DynamoDB's size of one attribute value (developer guide, "Item sizes and formats").
fn value_size(v: &Value, string_set: bool) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Number(n) => {
            let digits: String = n.to_string().chars().filter(char::is_ascii_digit).collect();
            let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
            significant.div_ceil(2) + 1
        }
        Value::Bool(_) | Value::Null => 1,
        Value::Array(items) if string_set => items.iter().map(|i| value_size(i, false)).sum(),
        Value::Array(items) => 3 + items.iter().map(|i| value_size(i, false) + 1).sum::<usize>(),
        Value::Object(map) => 3 + map.iter().map(|(k, v)| k.len() + value_size(v, false) + 1).sum::<usize>(),
    }
}

/// Bytes of an item as DynamoDB counts them: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, v)| name.len() + value_size(v, name.ends_with("Set"))).sum()
}

fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

fn gsi_key(item: Option<&Item>) -> Option<(Value, Value)> {
    let item = item?;
    Some((item.get("gsi1pk")?.clone(), item.get("gsi1sk")?.clone()))
}

/// Index writes caused by replacing `before` with `after` (either may be absent).
fn gsi_units(before: Option<&Item>, after: Option<&Item>) -> f64 {
    match (gsi_key(before), gsi_key(after)) {
        (None, None) => 0.0,
        (Some(_), None) => write_units(before.map_or(0, item_size)),
        (None, Some(_)) => write_units(after.map_or(0, item_size)),
        (Some(a), Some(b)) if a == b => write_units(before.map_or(0, item_size).max(after.map_or(0, item_size))),
        (Some(_), Some(_)) => write_units(before.map_or(0, item_size)) + write_units(after.map_or(0, item_size)),
    }
}

/// Base-table units of a write replacing `before` with `after`.
fn base_units(before: Option<&Item>, after: Option<&Item>) -> f64 {
    write_units(before.map_or(0, item_size).max(after.map_or(0, item_size)))
}

impl<T: Table> Capacity<T> {
    pub fn new(inner: T) -> Self {
        Self { inner, enabled: AtomicBool::new(false), tally: Mutex::default() }
    }

    /// Accounting on (reads the replaced items to size them) or off (a plain pass-through).
    pub fn enable(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.tally.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn on(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    fn add(&self, op: &'static str, requests: usize, rru: f64, wru: f64) {
        let mut t = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        t.requests += requests;
        t.rru += rru;
        t.wru += wru;
        t.ops.push(op);
    }

    /// The current item, read outside the tally.
    async fn peek(&self, key: &Key) -> Option<Item> {
        self.inner.get(key, true).await.ok().flatten()
    }
}

fn op_key(op: &WriteOp) -> Key {
    match op {
        WriteOp::Put { item, .. } => Key::new(
            item.get("pk").and_then(Value::as_str).unwrap_or_default(),
            item.get("sk").and_then(Value::as_str).unwrap_or_default(),
        ),
        WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => key.clone(),
    }
}

#[async_trait]
impl<T: Table> Table for Capacity<T> {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        let out = self.inner.get(key, consistent).await;
        if self.on() {
            let size = out.as_ref().ok().and_then(|o| o.as_ref()).map_or(0, item_size);
            self.add("GetItem", 1, read_units(size, consistent), 0.0);
        }
        out
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let out = self.inner.batch_get(keys).await;
        if self.on() {
            let unique: std::collections::BTreeSet<&Key> = keys.iter().collect();
            let found: Vec<usize> = out.as_ref().map(|items| items.iter().map(item_size).collect()).unwrap_or_default();
            let missing = unique.len().saturating_sub(found.len());
            let rru = found.iter().map(|s| read_units(*s, false)).sum::<f64>() + missing as f64 * read_units(0, false);
            self.add("BatchGetItem", unique.len().div_ceil(BATCH_GET_MAX).max(1), rru, 0.0);
        }
        out
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let out = self.inner.query(query).await;
        if self.on() {
            let size = out.as_ref().map(|p| p.items.iter().map(item_size).sum()).unwrap_or(0);
            self.add("Query", 1, read_units(size, false), 0.0);
        }
        out
    }

    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        if !self.on() {
            return self.inner.put(item, cond).await;
        }
        let key = op_key(&WriteOp::Put { item: item.clone(), cond: None });
        let before = self.peek(&key).await;
        let after = item.clone();
        let out = self.inner.put(item, cond).await;
        let after = out.is_ok().then_some(after);
        let wru = base_units(before.as_ref(), after.as_ref()) + gsi_units(before.as_ref(), after.as_ref());
        self.add("PutItem", 1, 0.0, wru);
        out
    }

    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        if !self.on() {
            return self.inner.update(key, updates, cond).await;
        }
        let before = self.peek(key).await;
        let out = self.inner.update(key, updates, cond).await;
        let after = out.as_ref().ok().cloned();
        let after = after.as_ref().or(before.as_ref());
        let wru = base_units(before.as_ref(), after) + gsi_units(before.as_ref(), after);
        self.add("UpdateItem", 1, 0.0, wru);
        out
    }

    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        if !self.on() {
            return self.inner.delete(key, cond).await;
        }
        let before = self.peek(key).await;
        let out = self.inner.delete(key, cond).await;
        let removed = out.as_ref().is_ok_and(|_| before.is_some());
        let wru = base_units(before.as_ref(), None) + if removed { gsi_units(before.as_ref(), None) } else { 0.0 };
        self.add("DeleteItem", 1, 0.0, wru);
        out
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        if !self.on() {
            return self.inner.transact(ops).await;
        }
        let keys: Vec<(Key, bool)> = ops.iter().map(|op| (op_key(op), matches!(op, WriteOp::Check { .. }))).collect();
        let mut before = Vec::with_capacity(keys.len());
        for (k, _) in &keys {
            before.push(self.peek(k).await);
        }
        let out = self.inner.transact(ops).await;
        let mut wru = 0.0;
        for ((key, check), before) in keys.iter().zip(&before) {
            if *check {
                wru += 2.0 * base_units(before.as_ref(), None);
                continue;
            }
            let after = if out.is_ok() { self.peek(key).await } else { before.clone() };
            wru += 2.0 * base_units(before.as_ref(), after.as_ref());
            if out.is_ok() {
                wru += gsi_units(before.as_ref(), after.as_ref());
            }
        }
        self.add("TransactWriteItems", 1, 0.0, wru);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_follow_the_developer_guide() {
        let item: Item =
            json!({ "pk": "abc", "n": 12345, "ok": true, "tagSet": ["ab", "c"] }).as_object().unwrap().clone();
        // pk: 2 + 3; n: 1 + (5 digits -> 3 bytes + 1); ok: 2 + 1; tagSet: 6 + 3
        assert_eq!(item_size(&item), 5 + 5 + 3 + 9);
        assert_eq!(read_units(4096, false), 0.5);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1025), 2.0);
    }
}
