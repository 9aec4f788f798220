//! A `Table` (or `Push`) wrapper that records every request: the DynamoDB budget of a route is
//! checked against these records (requests, and sequential round trips = groups of overlapping
//! calls), and a function's declared permissions against the IAM actions they needed.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;

use super::{Condition, Item, Key, Page, Query, StoreError, Table, Update, WriteOp, BATCH_GET_MAX};
use crate::iam::Action;
use crate::push::{Push, PushError};

#[derive(Debug, Clone)]
pub struct OpRecord {
    pub op: &'static str,
    /// DynamoDB requests this call made (a batch get of 250 keys is 3).
    pub requests: usize,
    pub started: Instant,
    pub ended: Instant,
    /// The IAM actions the call needed (a transaction: those of its parts).
    pub actions: Vec<Action>,
}

pub struct Counted<T> {
    inner: T,
    log: Arc<Mutex<Vec<OpRecord>>>,
}

impl<T> Counted<T> {
    pub fn new(inner: T) -> Self {
        Self { inner, log: Arc::default() }
    }

    /// Records into `other`'s log (an `@connections` client beside its table).
    pub fn sharing_log<U>(inner: T, other: &Counted<U>) -> Self {
        Self { inner, log: other.log.clone() }
    }

    /// Takes the records made so far, leaving the log empty.
    pub fn take(&self) -> Vec<OpRecord> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|e| e.into_inner()))
    }

    async fn record<R>(
        &self,
        op: &'static str,
        requests: usize,
        actions: Vec<Action>,
        fut: impl std::future::Future<Output = R>,
    ) -> R {
        let started = Instant::now();
        let out = fut.await;
        let rec = OpRecord { op, requests, started, ended: Instant::now(), actions };
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
        self.record("GetItem", 1, vec![Action::GetItem], self.inner.get(key, consistent)).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let n = keys.len().div_ceil(BATCH_GET_MAX);
        self.record("BatchGetItem", n, vec![Action::BatchGetItem], self.inner.batch_get(keys)).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.record("Query", 1, vec![crate::iam::query_action(query.index)], self.inner.query(query)).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        self.record("PutItem", 1, vec![Action::PutItem], self.inner.put(item, cond)).await
    }
    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        self.record("UpdateItem", 1, vec![Action::UpdateItem], self.inner.update(key, updates, cond)).await
    }
    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.record("DeleteItem", 1, vec![Action::DeleteItem], self.inner.delete(key, cond)).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.record("TransactWriteItems", 1, crate::iam::transact_actions(&ops), self.inner.transact(ops)).await
    }
}

/// `@connections` calls: no DynamoDB request (`requests` 0), so they change no budget figure.
#[async_trait]
impl<T: Push> Push for Counted<T> {
    async fn post(&self, connection_id: &str, payload: Vec<u8>) -> Result<(), PushError> {
        self.record("POST @connections", 0, vec![Action::PostToConnection], self.inner.post(connection_id, payload))
            .await
    }
    async fn close(&self, connection_id: &str) -> Result<(), PushError> {
        self.record("DELETE @connections", 0, vec![Action::DeleteConnection], self.inner.close(connection_id)).await
    }
}
