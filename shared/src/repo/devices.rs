//! Phone push devices: `USER#u / DEVICE#<dev_id>` (the user's devices, one `Query`) and a lock
//! per token, `PUSHTOKEN#<sha256(token)> / PUSHTOKEN`, naming the one device that holds it, so a
//! token registered again (or by another user, after a change of account on the phone) is
//! found in one `GetItem` and moves instead of being pushed to twice. The lock carries a copy of
//! the device, so a repeated registration answers from it. `PUSHED#<event> / <dev_id>` records a
//! push sent (put if absent, TTL'd): one push per message per device, whatever retries happen.

use serde::{Deserialize, Serialize};

use super::{from_item, to_item};
use crate::error::AppError;
use crate::ids::{DeviceId, UserId};
use crate::store::{Condition, Key, Query, SortCond, StoreError, Table, WriteOp};

/// How long a push's idempotency record lives: beyond the stream's retention (24 h) and its
/// retries' maximum age.
pub const PUSHED_TTL_SECS: i64 = 2 * 24 * 3600;

/// The push service of a device.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Apple Push Notification service (production).
    Apns,
    /// APNs' sandbox (development builds).
    ApnsSandbox,
    /// Firebase Cloud Messaging.
    Fcm,
}

impl Platform {
    /// SNS's key for this platform in a `MessageStructure=json` document.
    pub fn sns_key(self) -> &'static str {
        match self {
            Platform::Apns => "APNS",
            Platform::ApnsSandbox => "APNS_SANDBOX",
            Platform::Fcm => "GCM",
        }
    }
}

/// A registered device, as stored and as listed (the token stays private to the server).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: DeviceId,
    pub user_id: UserId,
    pub platform: Platform,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Whether pushes reach it: its platform's application is configured (`false`: push is
    /// off on this server for that platform; the device is kept).
    pub push_enabled: bool,
    pub created_at: String,
    #[serde(skip)]
    pub stored: StoredDevice,
}

/// What the API does not show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredDevice {
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_arn: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceItem {
    #[serde(flatten)]
    device: Device,
    #[serde(flatten)]
    stored: StoredDevice,
}

fn device_from(item: crate::store::Item) -> Result<Device, AppError> {
    let DeviceItem { mut device, stored } = from_item(item)?;
    device.stored = stored;
    Ok(device)
}

fn device_item(key: &Key, d: &Device) -> Result<crate::store::Item, AppError> {
    to_item(key, &DeviceItem { device: d.clone(), stored: d.stored.clone() })
}

pub fn key(user: &UserId, id: &DeviceId) -> Key {
    Key::new(format!("USER#{user}"), format!("DEVICE#{id}"))
}

pub fn token_key(token: &str) -> Key {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    Key::new(format!("PUSHTOKEN#{hash}"), "PUSHTOKEN")
}

pub fn pushed_key(event: &str, device: &DeviceId) -> Key {
    Key::new(format!("PUSHED#{event}"), device.as_str())
}

/// The device holding `token`, from its lock: one `GetItem`.
pub async fn by_token(table: &dyn Table, token: &str) -> Result<Option<Device>, AppError> {
    table.get(&token_key(token), true).await?.map(device_from).transpose()
}

/// One of the user's devices: one `GetItem`.
pub async fn get(table: &dyn Table, user: &UserId, id: &DeviceId) -> Result<Option<Device>, AppError> {
    table.get(&key(user, id), false).await?.map(device_from).transpose()
}

/// The user's devices: one `Query`.
pub async fn list(table: &dyn Table, user: &UserId) -> Result<Vec<Device>, AppError> {
    let q = Query::new(crate::store::Index::Table, format!("USER#{user}"), SortCond::BeginsWith("DEVICE#".into()));
    table.query(&q).await?.items.into_iter().map(device_from).collect()
}

/// What a registration's transaction met.
pub enum Stored {
    Done,
    /// The lock changed meanwhile (a concurrent registration of the token).
    Raced,
}

fn raced(r: Result<(), StoreError>) -> Result<Stored, AppError> {
    match r {
        Ok(()) => Ok(Stored::Done),
        Err(StoreError::TransactionCancelled { failed }) if !failed.is_empty() => Ok(Stored::Raced),
        Err(e) => Err(e.into()),
    }
}

/// Stores `d` and its token's lock. `replacing`: the device the lock named (another user's, or
/// the same token's previous registration), removed in the same transaction, conditional on
/// the lock still naming it; otherwise the lock must not exist. One `TransactWriteItems`.
pub async fn store(table: &dyn Table, d: &Device, replacing: Option<&Device>) -> Result<Stored, AppError> {
    let lock = device_item(&token_key(&d.stored.token), d)?;
    let mut ops = vec![WriteOp::Put { item: device_item(&key(&d.user_id, &d.id), d)?, cond: None }];
    match replacing {
        Some(old) if old.id == d.id => {
            ops.push(WriteOp::Put { item: lock, cond: Some(Condition::Equals("id".into(), old.id.as_str().into())) })
        }
        Some(old) => {
            ops.push(WriteOp::Put { item: lock, cond: Some(Condition::Equals("id".into(), old.id.as_str().into())) });
            ops.push(WriteOp::Delete { key: key(&old.user_id, &old.id), cond: None });
        }
        None => ops.push(WriteOp::Put { item: lock, cond: Some(Condition::NotExists) }),
    }
    raced(table.transact(ops).await)
}

/// Removes a device and its token's lock (the lock only while it names this device): one
/// `TransactWriteItems`.
pub async fn remove(table: &dyn Table, d: &Device) -> Result<(), AppError> {
    let ops = vec![
        WriteOp::Delete { key: key(&d.user_id, &d.id), cond: None },
        WriteOp::Delete {
            key: token_key(&d.stored.token),
            cond: Some(Condition::Equals("id".into(), d.id.as_str().into())),
        },
    ];
    match table.transact(ops).await {
        // The token moved to another device meanwhile: only this device's item goes.
        Err(StoreError::TransactionCancelled { failed }) if !failed.is_empty() => {
            table.delete(&key(&d.user_id, &d.id), None).await?;
            Ok(())
        }
        other => Ok(other?),
    }
}

/// Claims the one push of `event` (a message or notification id) to `device`: true when this
/// call is the first (a conditional `PutItem`).
pub async fn claim_push(table: &dyn Table, event: &str, device: &DeviceId, now_secs: i64) -> Result<bool, AppError> {
    let mut item = to_item(&pushed_key(event, device), &serde_json::json!({}))?;
    item.insert("ttl".into(), (now_secs + PUSHED_TTL_SECS).into());
    match table.put(item, Some(Condition::NotExists)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Gives a claim back when the push failed for a reason a retry may fix: one `DeleteItem`.
pub async fn release_push(table: &dyn Table, event: &str, device: &DeviceId) -> Result<(), AppError> {
    table.delete(&pushed_key(event, device), None).await?;
    Ok(())
}
