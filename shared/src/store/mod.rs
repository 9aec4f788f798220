//! Storage: one single-table abstraction (`Table`) with two implementations.
//!
//! The domain code (`crate::repo`) is written once against `Table`, whose operations map
//! one-to-one onto DynamoDB requests. That keeps the two stores behaviourally identical (one
//! conformance suite, `tests/tests/all/conformance.rs`) and makes the per-route DynamoDB budget
//! measurable on either store by counting `Table` calls (`Counted`).
//!
//! Item conventions (see `KEYS.md` beside this file for the key design):
//! - every item has string attributes `pk` and `sk`; optional `gsi1pk`/`gsi1sk` put it in GSI1;
//! - `ttl` (epoch seconds) marks ephemeral items; readers treat expired items as absent, since
//!   DynamoDB deletes them lazily;
//! - an attribute whose name ends in `Set` is a DynamoDB string set (JSON array of strings here;
//!   an empty set is stored as an absent attribute, as DynamoDB requires).

pub mod counted;
pub mod dynamo;
/// The embedded store (redb): local gateway and tests; never in a Lambda binary (feature `embedded`).
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod granted;
pub mod metered;

use async_trait::async_trait;
use serde_json::Value;

pub use counted::{Counted, OpRecord};
pub use dynamo::DynamoTable;
#[cfg(feature = "embedded")]
pub use embedded::EmbeddedTable;
pub use granted::Granted;
pub use metered::Metered;

/// An item: attribute name to value.
pub type Item = serde_json::Map<String, Value>;

/// DynamoDB's limits that the domain code relies on.
pub const BATCH_GET_MAX: usize = 100;
pub const TRANSACT_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

/// A condition on the current state of the item a write targets.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `attribute_not_exists(pk)`: the item does not exist.
    NotExists,
    /// `attribute_exists(pk)`: the item exists.
    Exists,
    /// The item exists and `attr = value`.
    Equals(String, Value),
    /// The item does not exist, or it has no `attr`, or `attr < value` (numbers or strings).
    /// Used for monotonic fields such as read markers.
    AbsentOrLessThan(String, Value),
    /// The item exists and has no `attr` (a message not tombstoned: no `deleted`).
    ExistsWithout(String),
    /// The item does not exist, or has no `attr`, or `attr <> value`: a write not yet made by
    /// the writer that `value` names (a send's reservation of its `seq`).
    AbsentOrNotEquals(String, Value),
}

/// One action of an update; several run atomically in one `UpdateItem`.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// `SET attr = value`
    Set(String, Value),
    /// `SET attr = if_not_exists(attr, value)`
    SetIfAbsent(String, Value),
    /// `ADD attr n` (a missing number counts as 0)
    Add(String, i64),
    /// `REMOVE attr`
    Remove(String),
    /// `ADD attr {strings}` on a string set (`attr` must end in `Set`)
    AddToSet(String, Vec<String>),
    /// `DELETE attr {strings}` on a string set; an emptied set disappears
    DeleteFromSet(String, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Put {
        item: Item,
        cond: Option<Condition>,
    },
    Update {
        key: Key,
        updates: Vec<Update>,
        cond: Option<Condition>,
    },
    Delete {
        key: Key,
        cond: Option<Condition>,
    },
    /// `ConditionCheck`: writes nothing, fails the transaction when `cond` does not hold.
    Check {
        key: Key,
        cond: Condition,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// The base table: partition `pk`, sort `sk`.
    Table,
    /// GSI1: partition `gsi1pk`, sort `gsi1sk`, all attributes projected.
    Gsi1,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortCond {
    All,
    BeginsWith(String),
    /// strictly greater
    After(String),
    /// strictly less
    Before(String),
    /// inclusive on both ends
    Between(String, String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sort: SortCond,
    /// Items to evaluate (and return) at most, as DynamoDB's `Limit`.
    pub limit: Option<u32>,
    /// Ascending sort key order when true.
    pub forward: bool,
    /// `ExclusiveStartKey`: the `next` of the previous page.
    pub start: Option<Item>,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>, sort: SortCond) -> Self {
        Self { index, pk: pk.into(), sort, limit: None, forward: true, start: None }
    }
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn start(mut self, start: Option<Item>) -> Self {
        self.start = start;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// `LastEvaluatedKey`: the key attributes (table and index) of the last item, when more may follow.
    pub next: Option<Item>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A single write's condition did not hold.
    #[error("conditional check failed")]
    ConditionFailed,
    /// A transaction was cancelled; `failed` holds the indexes of the operations whose
    /// condition did not hold (empty when cancelled for another reason, e.g. a conflict).
    #[error("transaction cancelled (failed conditions at {failed:?})")]
    TransactionCancelled { failed: Vec<usize> },
    /// Throttled after the SDK's retries.
    #[error("store throttled")]
    Throttled,
    /// The store cannot be reached.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Invalid request or unexpected data (a bug, not a user error).
    #[error("store error: {0}")]
    Other(String),
    /// The function's role does not grant the call (`iam::Grant`; on AWS, AccessDeniedException).
    #[error("access denied: {function} is not granted {action}")]
    AccessDenied { function: &'static str, action: &'static str },
}

/// The single-table store. Each method is exactly one DynamoDB request, except `batch_get`,
/// which is `ceil(keys / 100)` concurrent `BatchGetItem` requests (plus retries of unprocessed keys).
#[async_trait]
pub trait Table: Send + Sync + 'static {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError>;
    /// Returns the items found, in no particular order. Duplicate keys are read once.
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError>;
    /// Returns the item after the update (`ALL_NEW`).
    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError>;
    /// Returns the deleted item, if there was one (`ALL_OLD`).
    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError>;
    /// All or nothing (`TransactWriteItems`), at most `TRANSACT_MAX` operations on distinct items.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;
}

/// DynamoDB's key size limits (bytes of UTF-8).
pub const MAX_PK_BYTES: usize = 2048;
pub const MAX_SK_BYTES: usize = 1024;

/// Whether an item could be stored at `key` on every store: non-empty, within DynamoDB's size
/// limits, and without NUL (the embedded store's separator). Reads of a key that cannot exist
/// find nothing instead of failing, so a lookup by a client-supplied string (a username, an
/// email, a login) is a clean miss whatever the string, never a 500.
pub fn storable(key: &Key) -> bool {
    storable_pk(&key.pk) && !key.sk.is_empty() && key.sk.len() <= MAX_SK_BYTES && !key.sk.contains('\0')
}

pub fn storable_pk(pk: &str) -> bool {
    !pk.is_empty() && pk.len() <= MAX_PK_BYTES && !pk.contains('\0')
}

/// The key attributes of an item (used to build `Page::next`).
pub fn key_of(item: &Item, index: Index) -> Item {
    let names: &[&str] = match index {
        Index::Table => &["pk", "sk"],
        Index::Gsi1 => &["pk", "sk", "gsi1pk", "gsi1sk"],
    };
    names.iter().filter_map(|n| item.get(*n).map(|v| (n.to_string(), v.clone()))).collect()
}

/// True when the item carries a `ttl` in the past (DynamoDB may not have deleted it yet).
pub fn is_expired(item: &Item, now_epoch_secs: i64) -> bool {
    item.get("ttl").and_then(Value::as_i64).is_some_and(|ttl| ttl <= now_epoch_secs)
}

/// A shared table is a table (lets wrappers such as `Counted` hold any store).
#[async_trait]
impl<T: Table + ?Sized> Table for std::sync::Arc<T> {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        (**self).get(key, consistent).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        (**self).batch_get(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        (**self).query(query).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        (**self).put(item, cond).await
    }
    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        (**self).update(key, updates, cond).await
    }
    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        (**self).delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        (**self).transact(ops).await
    }
}
