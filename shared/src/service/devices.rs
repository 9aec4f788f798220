//! Phone push devices: register (idempotent per token; a token registered by another user
//! moves to the caller and its old endpoint goes), list, remove. Each device maps to an SNS
//! platform endpoint under its platform's application (`Config::push`); with push off for that
//! platform the device is kept without one and nothing is ever sent to it.

use std::future::Future;

use super::Actor;
use crate::app::App;
use crate::clock::{iso, now_ms};
use crate::error::AppError;
use crate::ids::DeviceId;
use crate::repo::devices::{self, Device, Platform, Stored, StoredDevice};

/// The longest device token, in characters (APNs: 64 hex digits; FCM: about 160).
pub const TOKEN_MAX: usize = 1024;
/// The longest `appVersion`.
pub const APP_VERSION_MAX: usize = 32;
/// Devices one user keeps: registering one more unregisters the oldest (a reinstalled app gets
/// a new token, and the old one may not have been refused by its platform yet). Bounds what a
/// flood of registrations can store and what one push costs.
pub const MAX_DEVICES: usize = 10;

/// A device token: 1 to `TOKEN_MAX` visible ASCII characters.
pub fn parse_token(token: &str) -> Result<String, AppError> {
    if token.is_empty() || token.len() > TOKEN_MAX || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::field("token", format!("1 to {TOKEN_MAX} visible ASCII characters")));
    }
    Ok(token.to_owned())
}

/// An app version: 1 to `APP_VERSION_MAX` visible ASCII characters.
pub fn parse_app_version(v: Option<&str>) -> Result<Option<String>, AppError> {
    match v {
        Some(v) if v.is_empty() || v.len() > APP_VERSION_MAX || !v.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(AppError::field("appVersion", format!("1 to {APP_VERSION_MAX} visible ASCII characters")))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// The platform application of `p`, when push is on for it.
pub fn application(app: &App, p: Platform) -> Option<&str> {
    let c = &app.config.push;
    match p {
        Platform::Apns => c.apns.as_deref(),
        Platform::ApnsSandbox => c.apns_sandbox.as_deref(),
        Platform::Fcm => c.fcm.as_deref(),
    }
}

fn phone_push(app: &App) -> Result<&dyn crate::phone_push::PhonePush, AppError> {
    app.phone_push
        .as_deref()
        .ok_or_else(|| AppError::internal("phone push is configured but not linked in this binary"))
}

/// Registers the caller's device. `authenticate` runs concurrently with the token's lock read
/// and the caller's devices (`Query`): two sequential round trips (then
/// `CreatePlatformEndpoint`, between them and the write). Past `MAX_DEVICES`, the oldest goes.
/// Returns the device and whether it is new (201) or was already the caller's (200).
#[tracing::instrument(skip_all, fields(user = %actor.user_id))]
pub async fn register<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    platform: Platform,
    token: String,
    app_version: Option<String>,
) -> Result<(Device, bool), AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let (_, mut held, mine) = tokio::try_join!(
        authenticate,
        devices::by_token(app.table(), &token),
        devices::list(app.table(), &actor.user_id)
    )?;
    for _ in 0..3 {
        let endpoint_app = application(app, platform);
        let existing = held.take();
        if let Some(d) = existing.as_ref().filter(|d| d.user_id == actor.user_id && d.platform == platform) {
            if d.app_version == app_version || app_version.is_none() {
                return Ok((d.clone(), false));
            }
            let updated = Device { app_version: app_version.clone(), ..d.clone() };
            return match devices::store(app.table(), &updated, Some(d)).await? {
                Stored::Done => Ok((updated, false)),
                Stored::Raced => Err(AppError::Conflict("the device changed meanwhile; retry".into())),
            };
        }
        // Another user's (or another platform's) registration of this token: its endpoint goes,
        // so the phone is never pushed to for its previous account.
        if let Some(old) = existing.as_ref().and_then(|d| d.stored.endpoint_arn.as_deref()) {
            if let Err(e) = phone_push(app)?.unregister(old).await {
                tracing::warn!(error = %e, "could not delete the previous endpoint");
            }
        }
        let endpoint_arn = match endpoint_app {
            Some(arn) => Some(phone_push(app)?.register(arn, &token).await?),
            None => None,
        };
        let device = Device {
            id: DeviceId::generate(),
            user_id: actor.user_id.clone(),
            platform,
            app_version: app_version.clone(),
            push_enabled: endpoint_arn.is_some(),
            created_at: iso(now_ms()),
            stored: StoredDevice { token: token.clone(), endpoint_arn },
        };
        match devices::store(app.table(), &device, existing.as_ref()).await? {
            Stored::Done => {
                // Oldest first (ids are time-ordered); the one replaced just now is gone already.
                let kept: Vec<&Device> =
                    mine.iter().filter(|d| Some(&d.id) != existing.as_ref().map(|e| &e.id)).collect();
                let excess = (kept.len() + 1).saturating_sub(MAX_DEVICES);
                for old in kept.into_iter().take(excess) {
                    unregister(app, old).await?;
                }
                return Ok((device, true));
            }
            // A concurrent registration of the same token won: start over from its lock.
            Stored::Raced => held = devices::by_token(app.table(), &token).await?,
        }
    }
    Err(AppError::Conflict("the device token is being registered concurrently; retry".into()))
}

/// The caller's devices.
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<Device>, AppError> {
    devices::list(app.table(), &actor.user_id).await
}

/// Removes one of the caller's devices and its endpoint; another user's id is the 404 of a
/// missing one. `authenticate` runs concurrently with the device's read.
pub async fn remove<A>(app: &App, actor: &Actor, authenticate: A, id: &DeviceId) -> Result<Device, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let (_, found) = tokio::try_join!(authenticate, devices::get(app.table(), &actor.user_id, id))?;
    let device = found.ok_or_else(|| AppError::not_found("device"))?;
    unregister(app, &device).await?;
    Ok(device)
}

/// The device and its lock removed, and its endpoint deleted (concurrently).
pub async fn unregister(app: &App, device: &Device) -> Result<(), AppError> {
    let endpoint = async {
        if let Some(arn) = &device.stored.endpoint_arn {
            if let Err(e) = phone_push(app)?.unregister(arn).await {
                tracing::warn!(error = %e, "could not delete an endpoint");
            }
        }
        Ok::<_, AppError>(())
    };
    tokio::try_join!(devices::remove(app.table(), device), endpoint)?;
    Ok(())
}

/// The caller's device `id`, if it is theirs, unregistered (a logout naming its phone).
pub async fn unregister_own(app: &App, actor: &Actor, id: &DeviceId) -> Result<(), AppError> {
    match devices::get(app.table(), &actor.user_id, id).await? {
        Some(device) => unregister(app, &device).await,
        None => Ok(()),
    }
}

/// Every device of `user` unregistered (an account's deletion): one `Query`, then each as
/// `unregister`, concurrently.
pub async fn unregister_all(app: &App, user: &crate::ids::UserId) -> Result<(), AppError> {
    let all = devices::list(app.table(), user).await?;
    let results = futures::future::join_all(all.iter().map(|d| unregister(app, d))).await;
    results.into_iter().collect()
}
