//! `Table` on an embedded redb database, for local runs and tests: same semantics as DynamoDB.
//!
//! Layout: table `items` maps `pk \0 sk` to the item's JSON; table `gsi1` holds one empty entry
//! `gsi1pk \0 gsi1sk \0 pk \0 sk` per item in GSI1. Key values never contain NUL (checked on
//! write), so byte order of these keys is DynamoDB's order: by sort key bytes (UTF-8), and on the
//! GSI ties by table key.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::backends::InMemoryBackend;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;

use super::{key_of, Condition, Index, Item, Key, Page, Query, SortCond, StoreError, Table, Update, WriteOp};

const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<&[u8], ()> = TableDefinition::new("gsi1");

/// Lower and upper bounds of a range of encoded keys.
type KeyBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

#[derive(Clone)]
pub struct EmbeddedTable {
    db: Arc<Database>,
}

impl EmbeddedTable {
    /// Opens (or creates) `dir/chat.redb`. Every commit is durable (see `write`). The folder is
    /// the owner's only (0700) and the file too (0600): it holds password hashes and messages.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let io = |what: &str, e: std::io::Error| StoreError::Other(format!("{what} {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(|e| io("creating", e))?;
        let file = dir.join("chat.redb");
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| io("securing", e))?;
            // Created here with its mode, before redb opens it: never readable by others.
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&file)
                .map_err(|e| io("creating the store in", e))?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(|e| io("securing", e))?;
        }
        Self::init(Database::create(file).map_err(db_err)?)
    }

    /// A database that lives and dies with this value.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Database::builder().create_with_backend(InMemoryBackend::new()).map_err(db_err)?)
    }

    /// Creates both tables up front, so that read transactions can always open them.
    fn init(db: Database) -> Result<Self, StoreError> {
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(ITEMS).map_err(db_err)?;
        txn.open_table(GSI1).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs blocking redb work off the async runtime.
    async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| StoreError::Other(format!("store task failed: {e}")))?
    }

    /// Runs `work` in one write transaction, committed only when it succeeds.
    async fn write<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Tables<'_>) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.run(move |db| {
            let mut txn = db.begin_write().map_err(db_err)?;
            // redb's default, made explicit: `commit` returns once the write is on disk, so an
            // acknowledged write survives a crash or kill -9.
            txn.set_durability(Durability::Immediate).map_err(db_err)?;
            let out = {
                let mut tables = Tables {
                    items: txn.open_table(ITEMS).map_err(db_err)?,
                    gsi: txn.open_table(GSI1).map_err(db_err)?,
                };
                work(&mut tables)?
            };
            txn.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }
}

/// The open tables of a write transaction.
struct Tables<'txn> {
    items: redb::Table<'txn, &'static [u8], &'static [u8]>,
    gsi: redb::Table<'txn, &'static [u8], ()>,
}

impl Tables<'_> {
    fn load(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        read_item(&self.items, &item_key(&key.pk, &key.sk)?)
    }

    /// Replaces the stored item `key` (and its GSI entry) with `new`, or deletes it.
    fn store(&mut self, key: &Key, old: Option<&Item>, new: Option<&Item>) -> Result<(), StoreError> {
        if let Some(gsi_key) = old.map(|old| gsi_key(old, key)).transpose()?.flatten() {
            self.gsi.remove(gsi_key.as_slice()).map_err(db_err)?;
        }
        let id = item_key(&key.pk, &key.sk)?;
        match new {
            Some(new) => {
                let json = serde_json::to_vec(new).map_err(|e| StoreError::Other(e.to_string()))?;
                self.items.insert(id.as_slice(), json.as_slice()).map_err(db_err)?;
                if let Some(gsi_key) = gsi_key(new, key)? {
                    self.gsi.insert(gsi_key.as_slice(), ()).map_err(db_err)?;
                }
            }
            None => {
                self.items.remove(id.as_slice()).map_err(db_err)?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, key: &Key, _consistent: bool) -> Result<Option<Item>, StoreError> {
        if !super::storable(key) {
            return Ok(None);
        }
        let id = item_key(&key.pk, &key.sk)?;
        self.run(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            read_item(&txn.open_table(ITEMS).map_err(db_err)?, &id)
        })
        .await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let ids = keys
            .iter()
            .filter(|k| super::storable(k))
            .map(|k| item_key(&k.pk, &k.sk))
            .collect::<Result<BTreeSet<_>, _>>()?;
        self.run(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let items = txn.open_table(ITEMS).map_err(db_err)?;
            ids.iter().filter_map(|id| read_item(&items, id).transpose()).collect()
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let query = query.clone();
        if query.limit == Some(0) {
            return Err(StoreError::Other("query limit must be at least 1".into()));
        }
        if !super::storable_pk(&query.pk) {
            return Ok(Page::default());
        }
        self.run(move |db| {
            let (mut lower, mut upper) = sort_range(&query.pk, &query.sort)?;
            if let Some(start) = &query.start {
                let start = start_key(start, query.index)?;
                // Continue strictly past the previous page's last key, in the query's direction.
                if query.forward {
                    lower = Bound::Excluded(start);
                } else {
                    upper = Bound::Excluded(start);
                }
            }
            let limit = query.limit.map_or(usize::MAX, |n| n as usize);
            let txn = db.begin_read().map_err(db_err)?;
            let items_table = txn.open_table(ITEMS).map_err(db_err)?;
            let bounds = (lower.as_ref().map(Vec::as_slice), upper.as_ref().map(Vec::as_slice));
            let mut items = Vec::new();
            match query.index {
                Index::Table => {
                    let range = items_table.range::<&[u8]>(bounds).map_err(db_err)?;
                    let range: Box<dyn Iterator<Item = _>> =
                        if query.forward { Box::new(range) } else { Box::new(range.rev()) };
                    for entry in range.take(limit) {
                        let (_, json) = entry.map_err(db_err)?;
                        items.push(parse_item(json.value())?);
                    }
                }
                Index::Gsi1 => {
                    let gsi = txn.open_table(GSI1).map_err(db_err)?;
                    let range = gsi.range::<&[u8]>(bounds).map_err(db_err)?;
                    let range: Box<dyn Iterator<Item = _>> =
                        if query.forward { Box::new(range) } else { Box::new(range.rev()) };
                    for entry in range.take(limit) {
                        let (gsi_key, _) = entry.map_err(db_err)?;
                        let id = table_key_of_gsi_key(gsi_key.value())?;
                        let item = read_item(&items_table, &id)?
                            .ok_or_else(|| StoreError::Other("GSI entry without its item".into()))?;
                        items.push(item);
                    }
                }
            }
            // Like DynamoDB, a page that reaches the limit has a `next`, even when nothing follows.
            let next = (items.len() == limit).then(|| items.last().map(|last| key_of(last, query.index))).flatten();
            Ok(Page { items, next })
        })
        .await
    }

    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        let item = normalize(item)?;
        let key = key_from_item(&item)?;
        self.write(move |t| {
            let old = t.load(&key)?;
            if !cond.as_ref().is_none_or(|c| holds(c, old.as_ref())) {
                return Err(StoreError::ConditionFailed);
            }
            t.store(&key, old.as_ref(), Some(&item))
        })
        .await
    }

    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        let key = key.clone();
        self.write(move |t| {
            let old = t.load(&key)?;
            if !cond.as_ref().is_none_or(|c| holds(c, old.as_ref())) {
                return Err(StoreError::ConditionFailed);
            }
            let new = updated(&key, old.as_ref(), &updates)?;
            t.store(&key, old.as_ref(), Some(&new))?;
            Ok(new)
        })
        .await
    }

    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.write(move |t| {
            let old = t.load(&key)?;
            if !cond.as_ref().is_none_or(|c| holds(c, old.as_ref())) {
                return Err(StoreError::ConditionFailed);
            }
            if old.is_some() {
                t.store(&key, old.as_ref(), None)?;
            }
            Ok(old)
        })
        .await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        // Validate up front, as DynamoDB rejects such requests before looking at any item.
        let ops = ops
            .into_iter()
            .map(|op| {
                Ok(match op {
                    WriteOp::Put { item, cond } => WriteOp::Put { item: normalize(item)?, cond },
                    WriteOp::Update { updates, .. } if updates.is_empty() => {
                        return Err(StoreError::Other("a transaction update needs at least one action".into()))
                    }
                    op => op,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let keys = ops.iter().map(op_key).collect::<Result<Vec<_>, _>>()?;
        if keys.iter().collect::<BTreeSet<_>>().len() != keys.len() {
            return Err(StoreError::Other("a transaction cannot include several operations on one item".into()));
        }
        self.write(move |t| {
            // All conditions are checked against the state before the transaction.
            let olds = keys.iter().map(|k| t.load(k)).collect::<Result<Vec<_>, _>>()?;
            let failed: Vec<usize> = ops
                .iter()
                .zip(&olds)
                .enumerate()
                .filter(|(_, (op, old))| op_cond(op).is_some_and(|c| !holds(c, old.as_ref())))
                .map(|(i, _)| i)
                .collect();
            if !failed.is_empty() {
                return Err(StoreError::TransactionCancelled { failed });
            }
            for ((op, key), old) in ops.into_iter().zip(&keys).zip(&olds) {
                match op {
                    WriteOp::Put { item, .. } => t.store(key, old.as_ref(), Some(&item))?,
                    WriteOp::Update { updates, .. } => {
                        t.store(key, old.as_ref(), Some(&updated(key, old.as_ref(), &updates)?))?
                    }
                    WriteOp::Delete { .. } if old.is_some() => t.store(key, old.as_ref(), None)?,
                    WriteOp::Delete { .. } | WriteOp::Check { .. } => {}
                }
            }
            Ok(())
        })
        .await
    }
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Other(format!("embedded store: {}", e.into()))
}

fn op_key(op: &WriteOp) -> Result<Key, StoreError> {
    match op {
        WriteOp::Put { item, .. } => key_from_item(item),
        WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => Ok(key.clone()),
    }
}

fn op_cond(op: &WriteOp) -> Option<&Condition> {
    match op {
        WriteOp::Put { cond, .. } | WriteOp::Update { cond, .. } | WriteOp::Delete { cond, .. } => cond.as_ref(),
        WriteOp::Check { cond, .. } => Some(cond),
    }
}

fn key_from_item(item: &Item) -> Result<Key, StoreError> {
    let attr = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Other(format!("item without string attribute {name}")))
    };
    Ok(Key::new(attr("pk")?, attr("sk")?))
}

/// Joins key values with NUL separators; NUL inside a value would break the ordering.
fn join_key(parts: &[&str]) -> Result<Vec<u8>, StoreError> {
    if parts.iter().any(|p| p.contains('\0')) {
        return Err(StoreError::Other("key values must not contain NUL".into()));
    }
    Ok(parts.join("\0").into_bytes())
}

fn item_key(pk: &str, sk: &str) -> Result<Vec<u8>, StoreError> {
    join_key(&[pk, sk])
}

/// The GSI1 entry of an item, if it has both (string) GSI1 key attributes.
/// Like DynamoDB, index key attributes of another type than string are rejected.
fn gsi_key(item: &Item, key: &Key) -> Result<Option<Vec<u8>>, StoreError> {
    let attr = |name: &str| match item.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(StoreError::Other(format!("{name} must be a string"))),
    };
    match (attr("gsi1pk")?, attr("gsi1sk")?) {
        (Some(gpk), Some(gsk)) => join_key(&[gpk, gsk, &key.pk, &key.sk]).map(Some),
        _ => Ok(None),
    }
}

fn table_key_of_gsi_key(gsi_key: &[u8]) -> Result<Vec<u8>, StoreError> {
    gsi_key
        .splitn(3, |b| *b == 0)
        .nth(2)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| StoreError::Other("malformed GSI entry".into()))
}

/// The encoded key an `ExclusiveStartKey` (a previous page's `next`) points at.
fn start_key(start: &Item, index: Index) -> Result<Vec<u8>, StoreError> {
    let key = key_from_item(start)?;
    match index {
        Index::Table => item_key(&key.pk, &key.sk),
        Index::Gsi1 => gsi_key(start, &key)?.ok_or_else(|| StoreError::Other("start key without GSI1 keys".into())),
    }
}

/// Key bounds of the partition `pk` restricted by `sort`. An encoded key is
/// `pk \0 sort [\0 table key]`, and every byte of a key value is above NUL, so:
/// - keys whose sort value is `s` lie in `[p s, p s \x01)`;
/// - keys whose sort value is below `s` lie before `p s`, and those above it from `p s \x01` on.
fn sort_range(pk: &str, sort: &SortCond) -> Result<KeyBounds, StoreError> {
    let at = |s: &str| join_key(&[pk, s]);
    let past = |s: &str| -> Result<Vec<u8>, StoreError> { Ok([at(s)?, vec![1]].concat()) };
    let partition_end = || -> Result<Vec<u8>, StoreError> { Ok([join_key(&[pk])?, vec![1]].concat()) };
    Ok(match sort {
        SortCond::All => (Bound::Included(at("")?), Bound::Excluded(partition_end()?)),
        SortCond::BeginsWith(prefix) => {
            let end = prefix_end(&at(prefix)?).unwrap_or(partition_end()?);
            (Bound::Included(at(prefix)?), Bound::Excluded(end))
        }
        SortCond::After(s) => (Bound::Included(past(s)?), Bound::Excluded(partition_end()?)),
        SortCond::Before(s) => (Bound::Included(at("")?), Bound::Excluded(at(s)?)),
        SortCond::Between(a, b) if a > b => {
            return Err(StoreError::Other("BETWEEN bounds must be in ascending order".into()));
        }
        SortCond::Between(a, b) => (Bound::Included(at(a)?), Bound::Excluded(past(b)?)),
    })
}

/// The smallest byte string above every string starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn read_item(items: &impl ReadableTable<&'static [u8], &'static [u8]>, id: &[u8]) -> Result<Option<Item>, StoreError> {
    items.get(id).map_err(db_err)?.map(|json| parse_item(json.value())).transpose()
}

fn parse_item(json: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(json).map_err(|e| StoreError::Other(format!("corrupt item: {e}")))
}

fn holds(cond: &Condition, item: Option<&Item>) -> bool {
    match cond {
        Condition::NotExists => item.is_none(),
        Condition::Exists => item.is_some(),
        Condition::Equals(attr, v) => {
            item.and_then(|i| i.get(attr)).is_some_and(|a| compare(a, v) == Some(Ordering::Equal))
        }
        Condition::AbsentOrLessThan(attr, v) => match item.and_then(|i| i.get(attr)) {
            None => true,
            Some(a) => compare(a, v) == Some(Ordering::Less),
        },
        Condition::ExistsWithout(attr) => item.is_some_and(|i| !i.contains_key(attr)),
        Condition::AbsentOrNotEquals(attr, v) => match item.and_then(|i| i.get(attr)) {
            None => true,
            Some(a) => compare(a, v) != Some(Ordering::Equal),
        },
    }
}

/// DynamoDB's comparison: numbers by value, strings by bytes, other values only for equality;
/// `None` for values of different types.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => (a == b).then_some(Ordering::Equal),
    }
}

fn is_set_attr(name: &str) -> bool {
    name.ends_with("Set")
}

/// A `…Set` attribute's value as a sorted array of unique strings, `None` when empty.
fn set_value(attr: &str, value: Value) -> Result<Option<Value>, StoreError> {
    let strings = match value {
        Value::Array(values) => values
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect::<Option<BTreeSet<String>>>(),
        _ => None,
    }
    .ok_or_else(|| StoreError::Other(format!("attribute {attr} must be an array of strings")))?;
    Ok((!strings.is_empty()).then(|| strings.into_iter().map(Value::String).collect()))
}

/// The item as DynamoDB would store it: top-level sets sorted and deduplicated, empty ones
/// dropped (DynamoDB has no empty sets), integral numbers as integers (DynamoDB numbers are
/// decimals, so `2.0` reads back as `2`).
fn normalize(item: Item) -> Result<Item, StoreError> {
    let mut out = Item::new();
    for (name, mut value) in item {
        normalize_numbers(&mut value);
        let value = if is_set_attr(&name) { set_value(&name, value)? } else { Some(value) };
        if let Some(value) = value {
            out.insert(name, value);
        }
    }
    Ok(out)
}

fn normalize_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(values) => values.iter_mut().for_each(normalize_numbers),
        Value::Object(map) => map.values_mut().for_each(normalize_numbers),
        _ => {}
    }
}

/// The item after applying `updates` (UpdateItem creates a missing item from its key).
fn updated(key: &Key, old: Option<&Item>, updates: &[Update]) -> Result<Item, StoreError> {
    let mut item = old.cloned().unwrap_or_else(|| {
        Item::from_iter([
            ("pk".to_owned(), Value::from(key.pk.clone())),
            ("sk".to_owned(), Value::from(key.sk.clone())),
        ])
    });
    for update in updates {
        match update {
            Update::Set(attr, v) => set_attr(&mut item, attr, v.clone())?,
            Update::SetIfAbsent(attr, v) if !item.contains_key(attr) => set_attr(&mut item, attr, v.clone())?,
            Update::SetIfAbsent(..) => {}
            Update::Add(attr, n) => {
                let sum = match item.get(attr) {
                    None => Value::from(*n),
                    Some(Value::Number(x)) => match x.as_i64().and_then(|x| x.checked_add(*n)) {
                        Some(sum) => Value::from(sum),
                        None => Value::from(x.as_f64().unwrap_or_default() + *n as f64),
                    },
                    Some(_) => return Err(StoreError::Other(format!("ADD on non-number attribute {attr}"))),
                };
                item.insert(attr.clone(), sum);
            }
            Update::Remove(attr) => {
                item.remove(attr);
            }
            Update::AddToSet(attr, values) | Update::DeleteFromSet(attr, values) => {
                let mut set = match item.remove(attr) {
                    None => BTreeSet::new(),
                    Some(Value::Array(current)) => {
                        current.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
                    }
                    Some(_) => return Err(StoreError::Other(format!("set operation on non-set attribute {attr}"))),
                };
                if matches!(update, Update::AddToSet(..)) {
                    set.extend(values.iter().cloned());
                } else {
                    set.retain(|s| !values.contains(s));
                }
                if !set.is_empty() {
                    item.insert(attr.clone(), set.into_iter().map(Value::String).collect());
                }
            }
        }
    }
    if item.get("pk") != Some(&Value::from(key.pk.clone())) || item.get("sk") != Some(&Value::from(key.sk.clone())) {
        return Err(StoreError::Other("an update cannot change the key attributes".into()));
    }
    normalize(item)
}

fn set_attr(item: &mut Item, attr: &str, value: Value) -> Result<(), StoreError> {
    let value = if is_set_attr(attr) { set_value(attr, value)? } else { Some(value) };
    match value {
        Some(value) => item.insert(attr.to_owned(), value),
        None => item.remove(attr),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xff]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xff]), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_data_folder_and_its_file_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("chat-perms-{}", ulid::Ulid::generate()));
        let _table = EmbeddedTable::open(&dir).expect("open");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("chat.redb")), 0o600);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn gsi_entries_point_at_their_table_key() {
        let entry = join_key(&["g", "gs", "p", "s"]).unwrap_or_default();
        assert_eq!(table_key_of_gsi_key(&entry).ok(), Some(b"p\0s".to_vec()));
    }
}
