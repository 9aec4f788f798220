//! Revoked tokens: one item per `jti`, expiring with the token.

use serde_json::json;

use super::{keys, to_item};
use crate::auth::Claims;
use crate::error::AppError;
use crate::store::Table;

/// One `PutItem`.
pub async fn revoke(table: &dyn Table, claims: &Claims) -> Result<(), AppError> {
    let item = to_item(&keys::revoked(&claims.jti), &json!({ "userId": claims.sub, "ttl": claims.exp }))?;
    Ok(table.put(item, None).await?)
}
