//! `Table` on DynamoDB (or any DynamoDB-compatible server): each method is one request.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Display;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, ConsumedCapacity, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnConsumedCapacity, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update as DynUpdate,
};
use aws_sdk_dynamodb::Client;
use futures::future::try_join_all;
use serde_json::{Number, Value};

use super::{Condition, Index, Item, Key, Page, Query, SortCond, StoreError, Table, Update, WriteOp, BATCH_GET_MAX};

type Attrs = HashMap<String, AttributeValue>;

const GSI1: &str = "gsi1";
/// See `DynamoTable::client_from_config`.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
/// Rounds of `UnprocessedKeys` retries before a batch get gives up as throttled.
const BATCH_RETRIES: u32 = 8;

#[derive(Clone, Debug)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// A client for `sdk_config`, pointed at `endpoint` when given (a local server), with
    /// timeouts: the SDK has none for reading an answer, so a DynamoDB endpoint that accepts
    /// connections and never answers would hold a request until the Lambda itself times out.
    /// An attempt gets `ATTEMPT_TIMEOUT` (DynamoDB answers in milliseconds), the whole call with
    /// its retries `OPERATION_TIMEOUT`, then the route answers 503.
    pub fn client_from_config(sdk_config: &aws_config::SdkConfig, endpoint: Option<&str>) -> Client {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk_config).timeout_config(timeouts);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Client::from_conf(builder.build())
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Creates the table with its GSI and TTL when it does not exist yet (local runs and tests;
    /// in AWS the stack owns the table).
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let string_attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(other)
        };
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(other)
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key("gsi1pk", KeyType::Hash)?)
            .key_schema(key("gsi1sk", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(other)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attr("pk")?)
            .attribute_definitions(string_attr("sk")?)
            .attribute_definitions(string_attr("gsi1pk")?)
            .attribute_definitions(string_attr("gsi1sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(e) => return Err(map_err(e)),
        }
        // DynamoDB creates tables asynchronously; writes and the TTL update need it ACTIVE.
        self.client
            .wait_until_table_exists()
            .table_name(&self.table)
            .wait(Duration::from_secs(120))
            .await
            .map_err(|e| StoreError::Other(DisplayErrorContext(&e).to_string()))?;
        let ttl = TimeToLiveSpecification::builder().attribute_name("ttl").enabled(true).build().map_err(other)?;
        // Fails when TTL is already on, and on servers without TTL support: neither matters.
        if let Err(e) =
            self.client.update_time_to_live().table_name(&self.table).time_to_live_specification(ttl).send().await
        {
            tracing::debug!(table = %self.table, error = %DisplayErrorContext(&e), "TTL not enabled");
        }
        Ok(())
    }

    /// One `BatchGetItem` of at most 100 keys, retrying `UnprocessedKeys` with a short backoff.
    async fn batch_get_chunk(&self, keys: Vec<Attrs>) -> Result<Vec<Item>, StoreError> {
        let mut pending = KeysAndAttributes::builder().set_keys(Some(keys)).build().map_err(other)?;
        let mut items = Vec::new();
        for attempt in 0..=BATCH_RETRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt.min(5))).await;
            }
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(map_err)?;
            read(out.consumed_capacity.iter().flatten());
            for attrs in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                items.push(from_attrs(attrs)?);
            }
            match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                Some(rest) if !rest.keys.is_empty() => pending = rest,
                _ => return Ok(items),
            }
        }
        Err(StoreError::Throttled)
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        // DynamoDB would answer a ValidationException: no item can be there.
        if !super::storable(key) {
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)?;
        read(out.consumed_capacity.iter());
        out.item.map(from_attrs).transpose()
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        // BatchGetItem rejects duplicate keys within one request.
        let unique: Vec<&Key> =
            keys.iter().filter(|k| super::storable(k)).collect::<BTreeSet<_>>().into_iter().collect();
        let chunks = unique
            .chunks(BATCH_GET_MAX)
            .map(|chunk| self.batch_get_chunk(chunk.iter().map(|k| key_attrs(k)).collect()));
        Ok(try_join_all(chunks).await?.into_iter().flatten().collect())
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        if !super::storable_pk(&query.pk) {
            return Ok(Page::default());
        }
        let mut expr = Expr::default();
        let (pk_name, sk_name) = match query.index {
            Index::Table => ("pk", "sk"),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        };
        let pk = format!("{} = {}", expr.name(pk_name), expr.value(AttributeValue::S(query.pk.clone())));
        let s = |expr: &mut Expr, v: &str| expr.value(AttributeValue::S(v.to_owned()));
        let sort = match &query.sort {
            SortCond::All => None,
            SortCond::BeginsWith(p) => Some(format!("begins_with({}, {})", expr.name(sk_name), s(&mut expr, p))),
            SortCond::After(v) => Some(format!("{} > {}", expr.name(sk_name), s(&mut expr, v))),
            SortCond::Before(v) => Some(format!("{} < {}", expr.name(sk_name), s(&mut expr, v))),
            SortCond::Between(a, b) => {
                Some(format!("{} BETWEEN {} AND {}", expr.name(sk_name), s(&mut expr, a), s(&mut expr, b)))
            }
        };
        let key_condition = match sort {
            Some(sort) => format!("{pk} AND {sort}"),
            None => pk,
        };
        let start = query.start.as_ref().map(|s| to_attrs(s.clone(), false)).transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name((query.index == Index::Gsi1).then(|| GSI1.to_owned()))
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .set_limit(query.limit.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
            .scan_index_forward(query.forward)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)?;
        read(out.consumed_capacity.iter());
        Ok(Page {
            items: out.items.unwrap_or_default().into_iter().map(from_attrs).collect::<Result<_, _>>()?,
            next: out.last_evaluated_key.filter(|k| !k.is_empty()).map(from_attrs).transpose()?,
        })
    }

    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        let mut expr = Expr::default();
        let cond = cond.map(|c| expr.condition(&c)).transpose()?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(item, true)?))
            .set_condition_expression(cond)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)?;
        write(out.consumed_capacity.iter());
        Ok(())
    }

    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        let mut expr = Expr::default();
        let update = expr.update(&updates)?;
        let cond = cond.map(|c| expr.condition(&c)).transpose()?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_update_expression(update)
            .set_condition_expression(cond)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)?;
        write(out.consumed_capacity.iter());
        from_attrs(out.attributes.unwrap_or_default())
    }

    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        let mut expr = Expr::default();
        let cond = cond.map(|c| expr.condition(&c)).transpose()?;
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(map_err)?;
        write(out.consumed_capacity.iter());
        out.attributes.filter(|a| !a.is_empty()).map(from_attrs).transpose()
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let items = ops.into_iter().map(|op| self.transact_item(op)).collect::<Result<Vec<_>, _>>()?;
        // The SDK retries a transaction whose answer was lost (timeout, 5xx); the token makes
        // such a retry idempotent, instead of applying the writes a second time.
        let token = ulid::Ulid::generate().to_string();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                write(out.consumed_capacity.iter().flatten());
                Ok(())
            }
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    Err(StoreError::TransactionCancelled {
                        failed: failed_indexes(
                            cancelled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")),
                            cancelled.message().unwrap_or_default(),
                        ),
                    })
                }
                _ => Err(map_err(e)),
            },
        }
    }
}

/// Read capacity DynamoDB reported (`ReturnConsumedCapacity: TOTAL`: in the answer, no request
/// of its own) into the invocation's metrics.
fn read<'a>(consumed: impl Iterator<Item = &'a ConsumedCapacity>) {
    crate::metrics::capacity(consumed.filter_map(ConsumedCapacity::capacity_units).sum(), 0.0);
}

fn write<'a>(consumed: impl Iterator<Item = &'a ConsumedCapacity>) {
    crate::metrics::capacity(0.0, consumed.filter_map(ConsumedCapacity::capacity_units).sum());
}

impl DynamoTable {
    fn transact_item(&self, op: WriteOp) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expr::default();
        let item = TransactWriteItem::builder();
        let item = match op {
            WriteOp::Put { item: attrs, cond } => {
                let cond = cond.map(|c| expr.condition(&c)).transpose()?;
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_attrs(attrs, true)?))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values());
                item.put(put.build().map_err(other)?)
            }
            WriteOp::Update { key, updates, cond } => {
                // Unlike UpdateItem, a transaction's Update requires an expression.
                let update = expr
                    .update(&updates)?
                    .ok_or_else(|| StoreError::Other("a transaction update needs at least one action".into()))?;
                let cond = cond.map(|c| expr.condition(&c)).transpose()?;
                let update = DynUpdate::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .update_expression(update)
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values());
                item.update(update.build().map_err(other)?)
            }
            WriteOp::Delete { key, cond } => {
                let cond = cond.map(|c| expr.condition(&c)).transpose()?;
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values());
                item.delete(delete.build().map_err(other)?)
            }
            WriteOp::Check { key, cond } => {
                let cond = expr.condition(&cond)?;
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values());
                item.condition_check(check.build().map_err(other)?)
            }
        };
        Ok(item.build())
    }
}

/// The indexes of the operations cancelled by a failed condition. Reads the structured
/// `CancellationReasons`, falling back to the message DynamoDB formats from them
/// ("... reasons [None, ConditionalCheckFailed]") for servers that only send the message.
fn failed_indexes<'a>(codes: impl Iterator<Item = &'a str>, message: &str) -> Vec<usize> {
    let codes: Vec<&str> = codes.collect();
    let codes = if codes.is_empty() {
        message
            .rsplit_once('[')
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(list, _)| list.split(',').map(str::trim).collect())
            .unwrap_or_default()
    } else {
        codes
    };
    codes.iter().enumerate().filter(|(_, c)| **c == "ConditionalCheckFailed").map(|(i, _)| i).collect()
}

/// Maps any SDK error onto `StoreError` by its kind and error code.
fn map_err<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    // The request got no (readable) answer: network, DNS, timeouts, a connection cut mid-response.
    if matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_)) {
        return StoreError::Unavailable(DisplayErrorContext(&err).to_string());
    }
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("TransactionCanceledException") => StoreError::TransactionCancelled { failed: Vec::new() },
        // A single write on an item a transaction is writing at that moment: cancelled for a
        // conflict, like a transaction (no failed condition); the caller may run it again.
        Some("TransactionConflictException") => StoreError::TransactionCancelled { failed: Vec::new() },
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
            StoreError::Throttled
        }
        _ => StoreError::Other(DisplayErrorContext(&err).to_string()),
    }
}

fn other(e: impl Display) -> StoreError {
    StoreError::Other(e.to_string())
}

/// Expression attribute names and values, shared by the expressions of one request so that
/// their placeholders never collide.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: Attrs,
}

impl Expr {
    // Placeholders are registered only when used: DynamoDB rejects unused names and values.
    fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn json(&mut self, value: &Value) -> Result<String, StoreError> {
        Ok(self.value(to_attr(value)?))
    }

    fn condition(&mut self, cond: &Condition) -> Result<String, StoreError> {
        Ok(match cond {
            Condition::NotExists => "attribute_not_exists(pk)".to_owned(),
            Condition::Exists => "attribute_exists(pk)".to_owned(),
            Condition::Equals(attr, v) => format!("{} = {}", self.name(attr), self.json(v)?),
            Condition::AbsentOrLessThan(attr, v) => {
                let n = self.name(attr);
                format!("attribute_not_exists(pk) OR attribute_not_exists({n}) OR {n} < {}", self.json(v)?)
            }
            Condition::ExistsWithout(attr) => {
                format!("attribute_exists(pk) AND attribute_not_exists({})", self.name(attr))
            }
            Condition::AbsentOrNotEquals(attr, v) => {
                let n = self.name(attr);
                format!("attribute_not_exists(pk) OR attribute_not_exists({n}) OR {n} <> {}", self.json(v)?)
            }
        })
    }

    /// One UpdateExpression for all actions; `None` when nothing is left to do (UpdateItem then
    /// only creates the item if missing).
    fn update(&mut self, updates: &[Update]) -> Result<Option<String>, StoreError> {
        let (mut set, mut add, mut remove, mut delete) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for update in updates {
            match update {
                Update::Set(attr, v) | Update::SetIfAbsent(attr, v) => {
                    let value = match is_set_attr(attr) {
                        true => to_set(attr, v)?.map(AttributeValue::Ss),
                        false => Some(to_attr(v)?),
                    };
                    let if_absent = matches!(update, Update::SetIfAbsent(..));
                    match value {
                        Some(v) => {
                            let (n, v) = (self.name(attr), self.value(v));
                            set.push(match if_absent {
                                true => format!("{n} = if_not_exists({n}, {v})"),
                                false => format!("{n} = {v}"),
                            });
                        }
                        // DynamoDB has no empty sets: setting one removes the attribute.
                        None if !if_absent => remove.push(self.name(attr)),
                        None => {}
                    }
                }
                Update::Add(attr, n) => {
                    let v = self.value(AttributeValue::N(n.to_string()));
                    add.push(format!("{} {v}", self.name(attr)));
                }
                Update::Remove(attr) => remove.push(self.name(attr)),
                // An empty set is invalid in a request, and adding or deleting nothing is a no-op.
                Update::AddToSet(_, values) | Update::DeleteFromSet(_, values) if values.is_empty() => {}
                Update::AddToSet(attr, values) => {
                    let v = self.value(AttributeValue::Ss(sorted_unique(values.clone())));
                    add.push(format!("{} {v}", self.name(attr)));
                }
                Update::DeleteFromSet(attr, values) => {
                    let v = self.value(AttributeValue::Ss(sorted_unique(values.clone())));
                    delete.push(format!("{} {v}", self.name(attr)));
                }
            }
        }
        let clauses: Vec<String> = [("SET", set), ("ADD", add), ("REMOVE", remove), ("DELETE", delete)]
            .into_iter()
            .filter(|(_, parts)| !parts.is_empty())
            .map(|(verb, parts)| format!("{verb} {}", parts.join(", ")))
            .collect();
        Ok((!clauses.is_empty()).then(|| clauses.join(" ")))
    }

    /// DynamoDB rejects empty maps of names or values, so absent rather than empty.
    fn names(&mut self) -> Option<HashMap<String, String>> {
        Some(std::mem::take(&mut self.names)).filter(|m| !m.is_empty())
    }

    fn values(&mut self) -> Option<Attrs> {
        Some(std::mem::take(&mut self.values)).filter(|m| !m.is_empty())
    }
}

fn is_set_attr(name: &str) -> bool {
    name.ends_with("Set")
}

fn sorted_unique(values: Vec<String>) -> Vec<String> {
    values.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
}

/// The strings of a `…Set` attribute's value, `None` when empty (DynamoDB has no empty sets).
fn to_set(attr: &str, value: &Value) -> Result<Option<Vec<String>>, StoreError> {
    let strings = value
        .as_array()
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| StoreError::Other(format!("attribute {attr} must be an array of strings")))?;
    Ok(Some(sorted_unique(strings)).filter(|s| !s.is_empty()))
}

fn key_attrs(key: &Key) -> Attrs {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk.clone())),
        ("sk".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// An item's attributes; with `sets`, top-level `…Set` attributes become string sets (omitted when empty).
fn to_attrs(item: Item, sets: bool) -> Result<Attrs, StoreError> {
    let mut attrs = HashMap::with_capacity(item.len());
    for (name, value) in item {
        if sets && is_set_attr(&name) {
            if let Some(set) = to_set(&name, &value)? {
                attrs.insert(name, AttributeValue::Ss(set));
            }
        } else {
            attrs.insert(name, to_attr(&value)?);
        }
    }
    Ok(attrs)
}

fn to_attr(value: &Value) -> Result<AttributeValue, StoreError> {
    Ok(match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(values) => AttributeValue::L(values.iter().map(to_attr).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| Ok((k.clone(), to_attr(v)?))).collect::<Result<_, StoreError>>()?)
        }
    })
}

fn from_attrs(attrs: Attrs) -> Result<Item, StoreError> {
    attrs.into_iter().map(|(k, v)| Ok((k, from_attr(v)?))).collect()
}

fn from_attr(value: AttributeValue) -> Result<Value, StoreError> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::S(s) => Value::String(s),
        AttributeValue::N(n) => parse_number(&n)?,
        AttributeValue::Ss(set) => Value::Array(sorted_unique(set).into_iter().map(Value::String).collect()),
        AttributeValue::L(values) => Value::Array(values.into_iter().map(from_attr).collect::<Result<_, _>>()?),
        AttributeValue::M(map) => Value::Object(from_attrs(map)?),
        other => return Err(StoreError::Other(format!("unsupported attribute value {other:?}"))),
    })
}

/// DynamoDB numbers are decimals without a type: integral ones come back as `i64`.
fn parse_number(n: &str) -> Result<Value, StoreError> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Value::from(i));
    }
    let f: f64 = n.parse().map_err(|_| StoreError::Other(format!("invalid number {n}")))?;
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Ok(Value::from(f as i64));
    }
    Number::from_f64(f).map(Value::Number).ok_or_else(|| StoreError::Other(format!("invalid number {n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_indexes_come_from_reasons_or_the_message() {
        let reasons = ["None", "ConditionalCheckFailed", "None", "ConditionalCheckFailed"];
        assert_eq!(failed_indexes(reasons.into_iter(), ""), vec![1, 3]);
        let message = "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]";
        assert_eq!(failed_indexes(std::iter::empty(), message), vec![0]);
        assert_eq!(failed_indexes(std::iter::empty(), "no list"), Vec::<usize>::new());
    }

    #[test]
    fn numbers_come_back_as_integers_when_integral() {
        assert_eq!(parse_number("42").ok(), Some(Value::from(42)));
        assert_eq!(parse_number("4.0").ok(), Some(Value::from(4)));
        assert_eq!(parse_number("1.5").ok(), Some(Value::from(1.5)));
    }
}
