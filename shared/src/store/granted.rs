//! A `Table` (and `Push`) wrapper that refuses what the invocation's function is not granted
//! (`iam::Grant`), as IAM does on AWS: the local gateway and the test gateways serve every
//! function through it, so a permission missing from a declaration fails a local test.

use async_trait::async_trait;

use super::{Condition, Item, Key, Page, Query, StoreError, Table, Update, WriteOp};
use crate::iam::{self, Action};
use crate::push::{Push, PushError};

pub struct Granted<T>(pub T);

fn allow(needed: &[Action]) -> Result<(), StoreError> {
    match iam::denied(needed) {
        None => Ok(()),
        Some((function, action)) => {
            tracing::error!(function, action = ?action, "call outside the function's declared permissions");
            Err(StoreError::AccessDenied { function, action: action.iam_name() })
        }
    }
}

#[async_trait]
impl<T: Table> Table for Granted<T> {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        allow(&[Action::GetItem])?;
        self.0.get(key, consistent).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if !keys.is_empty() {
            allow(&[Action::BatchGetItem])?;
        }
        self.0.batch_get(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        allow(&[iam::query_action(query.index)])?;
        self.0.query(query).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        allow(&[Action::PutItem])?;
        self.0.put(item, cond).await
    }
    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        allow(&[Action::UpdateItem])?;
        self.0.update(key, updates, cond).await
    }
    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        allow(&[Action::DeleteItem])?;
        self.0.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        allow(&iam::transact_actions(&ops))?;
        self.0.transact(ops).await
    }
}

/// On AWS an `@connections` call the role does not grant answers 403 (not 410: the
/// connection is not removed).
#[async_trait]
impl<T: Push> Push for Granted<T> {
    async fn post(&self, connection_id: &str, payload: Vec<u8>) -> Result<(), PushError> {
        allow(&[Action::PostToConnection]).map_err(|e| PushError::Failed(format!("403: {e}")))?;
        self.0.post(connection_id, payload).await
    }
    async fn close(&self, connection_id: &str) -> Result<(), PushError> {
        allow(&[Action::DeleteConnection]).map_err(|e| PushError::Failed(format!("403: {e}")))?;
        self.0.close(connection_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::{with_grant, Grant};
    use crate::store::EmbeddedTable;

    #[tokio::test]
    async fn a_call_outside_the_grant_is_access_denied_and_writes_nothing() {
        let table = Granted(EmbeddedTable::in_memory().expect("store"));
        let key = Key::new("pk", "sk");
        let item: Item = serde_json::from_value(serde_json::json!({ "pk": "pk", "sk": "sk" })).expect("item");
        let reader = Grant { function: "reader", actions: &[Action::GetItem], passwords: false };
        let denied = with_grant(reader, table.put(item.clone(), None)).await;
        assert!(matches!(denied, Err(StoreError::AccessDenied { function: "reader", action: "dynamodb:PutItem" })));
        assert!(with_grant(reader, table.get(&key, true)).await.expect("granted").is_none(), "nothing written");
        // Outside an invocation (start-up), nothing is refused.
        table.put(item, None).await.expect("no grant, no limit");
    }
}
