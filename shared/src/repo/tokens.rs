//! Revoked tokens: one item per `jti`, expiring with the token.

use serde_json::json;

use super::{keys, to_item};
use crate::auth::Claims;
use crate::error::AppError;
use crate::store::{Condition, StoreError, Table};

/// One conditional `PutItem`: a token is revoked once. Of concurrent requests ending the same
/// token (parallel refreshes), one wins and the others are 401, as if they had come after it:
/// a refresh can never mint two live tokens.
pub async fn revoke(table: &dyn Table, claims: &Claims) -> Result<(), AppError> {
    let item = to_item(&keys::revoked(&claims.jti), &json!({ "userId": claims.sub, "ttl": claims.exp }))?;
    match table.put(item, Some(Condition::NotExists)).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(AppError::Unauthorized("invalid or expired token".into())),
        Err(e) => Err(e.into()),
    }
}
