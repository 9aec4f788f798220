//! `/api/devices`: the caller's phones for push notifications (SNS mobile push).

use chat::ids::DeviceId;
use chat::repo::devices::Platform;
use chat::service::devices;
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

use super::{body, caller, concurrent_session, path_id, Reply};

/// A device to push to.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterBody {
    platform: Platform,
    /// The platform's device token (APNs device token, FCM registration token).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 1024), regex(pattern = "^[!-~]+$")))]
    token: String,
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 32), regex(pattern = "^[!-~]+$")))]
    app_version: Option<String>,
}

/// `POST /api/devices`: 201 when registered now, 200 when the token was already the caller's.
pub async fn register(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: RegisterBody = body(&req)?;
    let token = devices::parse_token(&b.token)?;
    let app_version = devices::parse_app_version(b.app_version.as_deref())?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    let (device, created) = devices::register(app, &actor, session, b.platform, token, app_version).await?;
    Ok(Reply::ok(device).status(created))
}

pub async fn list(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::page(devices::list(app, &caller.actor()).await?, None))
}

pub async fn delete(app: &App, req: Request) -> Result<Reply, AppError> {
    let id = path_id(&req, "id", DeviceId::parse, "device")?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    let device = devices::remove(app, &actor, session, &id).await?;
    Ok(Reply::ok(super::users::Deleted { deleted: true, id: device.id }))
}
