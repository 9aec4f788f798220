//! A `Table` wrapper that records every request: the DynamoDB budget of a route is checked
//! against these records (requests, and sequential round trips = groups of overlapping calls).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;

use super::{Condition, Item, Key, Page, Query, StoreError, Table, Update, WriteOp, BATCH_GET_MAX};

#[derive(Debug, Clone)]
pub struct OpRecord {
    pub op: &'static str,
    /// DynamoDB requests this call made (a batch get of 250 keys is 3).
    pub requests: usize,
    pub started: Instant,
    pub ended: Instant,
}

pub struct Counted<T> {
    inner: T,
    log: Arc<Mutex<Vec<OpRecord>>>,
}

impl<T: Table> Counted<T> {
    pub fn new(inner: T) -> Self {
        Self { inner, log: Arc::default() }
    }

    /// Takes the records made so far, leaving the log empty.
    pub fn take(&self) -> Vec<OpRecord> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|e| e.into_inner()))
    }

    async fn record<R>(&self, op: &'static str, requests: usize, fut: impl std::future::Future<Output = R>) -> R {
        let started = Instant::now();
        let out = fut.await;
        let rec = OpRecord { op, requests, started, ended: Instant::now() };
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(rec);
        out
    }
}

/// Total DynamoDB requests in `records`.
pub fn requests(records: &[OpRecord]) -> usize {
    records.iter().map(|r| r.requests).sum()
}

/// Sequential round trips: calls that overlap in time ran concurrently and count once; a call
/// that made no request (a batch read of no keys) is no round trip.
pub fn round_trips(records: &[OpRecord]) -> usize {
    let mut spans: Vec<_> = records.iter().filter(|r| r.requests > 0).map(|r| (r.started, r.ended)).collect();
    spans.sort();
    let mut rounds = 0;
    let mut current_end: Option<Instant> = None;
    for (start, end) in spans {
        match current_end {
            Some(e) if start < e => current_end = Some(e.max(end)),
            _ => {
                rounds += 1;
                current_end = Some(end);
            }
        }
    }
    rounds
}

#[async_trait]
impl<T: Table> Table for Counted<T> {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        self.record("GetItem", 1, self.inner.get(key, consistent)).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let n = keys.len().div_ceil(BATCH_GET_MAX);
        self.record("BatchGetItem", n, self.inner.batch_get(keys)).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.record("Query", 1, self.inner.query(query)).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        self.record("PutItem", 1, self.inner.put(item, cond)).await
    }
    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        self.record("UpdateItem", 1, self.inner.update(key, updates, cond)).await
    }
    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.record("DeleteItem", 1, self.inner.delete(key, cond)).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.record("TransactWriteItems", 1, self.inner.transact(ops)).await
    }
}
