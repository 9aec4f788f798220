//! The table's DynamoDB stream and the phone push function's trigger, emulated: every write the
//! functions make goes through `Streamed`, which, once the write succeeded, hands each inserted
//! item the event source mapping's filter lets through (`functions::stream::FILTER_PATTERNS`)
//! to a queue; one task (a shard) invokes the push function with the same typed event Lambda
//! gets, one record at a time, off the request path: a send's acknowledgement never waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use chat::phone_push::PhonePush;
use chat::store::{Condition, Item, Key, Page, Query, StoreError, Table, Update, WriteOp};
use functions::stream::{StreamEvent, StreamRecord};
use tokio::sync::{mpsc, Notify};

use crate::Gateway;

/// The stream: what was emitted and what the push function has handled.
pub struct Stream {
    tx: mpsc::UnboundedSender<StreamRecord>,
    /// Every insert's sequence number (as DynamoDB numbers a shard's records).
    sequence: AtomicU64,
    emitted: AtomicU64,
    handled: AtomicU64,
    idle: Notify,
}

impl Stream {
    /// The stream and its receiving end, for `run`.
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<StreamRecord>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stream = Arc::new(Self {
            tx,
            sequence: AtomicU64::new(0),
            emitted: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            idle: Notify::new(),
        });
        (stream, rx)
    }

    fn emit(&self, item: &Item) {
        let seq = self.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        let record = StreamRecord::insert(item, format!("{seq:021}"));
        if record.matches() {
            self.emitted.fetch_add(1, Ordering::SeqCst);
            let _ = self.tx.send(record);
        }
    }

    /// Waits until every record emitted so far has been handled (tests: "after the push
    /// function ran", with no timer).
    pub async fn settled(&self) {
        loop {
            let notified = self.idle.notified();
            if self.handled.load(Ordering::SeqCst) >= self.emitted.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// The push function's shard: each record in order, invoked as on Lambda (under the push
/// function's grant and metrics). A failed record is logged and left (on AWS: retried, then
/// sent to the dead-letter queue).
pub async fn run(
    gateway: Weak<Gateway>,
    stream: Arc<Stream>,
    sns: Arc<dyn PhonePush>,
    mut rx: mpsc::UnboundedReceiver<StreamRecord>,
) {
    while let Some(record) = rx.recv().await {
        if let Some(gw) = gateway.upgrade() {
            let event = StreamEvent { records: vec![record] };
            let app = gw.app.clone();
            let out = crate::invoke(&gw, functions::routes::Function::PhonePush, async {
                functions::stream::handle(&app, sns.as_ref(), event).await
            })
            .await;
            if !out.batch_item_failures.is_empty() {
                tracing::warn!(?out, "phone push failed for a record");
            }
        }
        stream.handled.fetch_add(1, Ordering::SeqCst);
        stream.idle.notify_waiters();
    }
}

/// A table whose successful inserts feed the stream.
pub struct Streamed<T> {
    pub inner: T,
    pub stream: Arc<Stream>,
}

impl<T> Streamed<T> {
    fn inserted(&self, item: &Item) {
        self.stream.emit(item);
    }
}

#[async_trait]
impl<T: Table> Table for Streamed<T> {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        self.inner.get(key, consistent).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        // Messages and notifications are put under fresh ids: an INSERT for the stream.
        let copy = item.clone();
        self.inner.put(item, cond).await?;
        self.inserted(&copy);
        Ok(())
    }
    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        self.inner.update(key, updates, cond).await
    }
    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let inserts: Vec<Item> = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Put { item, .. } => Some(item.clone()),
                _ => None,
            })
            .collect();
        self.inner.transact(ops).await?;
        for item in &inserts {
            self.inserted(item);
        }
        Ok(())
    }
}
