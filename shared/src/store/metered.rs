//! A `Table` wrapper that counts the DynamoDB requests of the invocation (`metrics`,
//! `DynamoDBRequests`), as `Counted` counts them for the budget test: no request of its own.
//! `App::with_parts` puts it around every store.

use async_trait::async_trait;

use super::{Condition, Item, Key, Page, Query, StoreError, Table, Update, WriteOp, BATCH_GET_MAX};
use crate::metrics::{self, Metric};

pub struct Metered<T>(pub T);

fn requests(n: usize) {
    metrics::add(Metric::DynamoDBRequests, n as u64);
}

#[async_trait]
impl<T: Table> Table for Metered<T> {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        requests(1);
        self.0.get(key, consistent).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        requests(keys.len().div_ceil(BATCH_GET_MAX));
        self.0.batch_get(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        requests(1);
        self.0.query(query).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        requests(1);
        self.0.put(item, cond).await
    }
    async fn update(&self, key: &Key, updates: Vec<Update>, cond: Option<Condition>) -> Result<Item, StoreError> {
        requests(1);
        self.0.update(key, updates, cond).await
    }
    async fn delete(&self, key: &Key, cond: Option<Condition>) -> Result<Option<Item>, StoreError> {
        requests(1);
        self.0.delete(key, cond).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        requests(1);
        self.0.transact(ops).await
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::store::{Counted, EmbeddedTable};

    #[tokio::test]
    async fn counts_what_the_budget_counts() {
        let table = Metered(Counted::new(EmbeddedTable::in_memory().expect("store")));
        let keys: Vec<Key> = (0..250).map(|i| Key::new(format!("p{i}"), "s")).collect();
        let ((), s) = metrics::scope("test", async {
            let _ = table.get(&Key::new("a", "b"), false).await;
            let _ = table.batch_get(&keys).await;
            let _ = table.batch_get(&[]).await;
        })
        .await;
        assert_eq!(s.get(Metric::DynamoDBRequests), crate::store::counted::requests(&table.0.take()) as f64);
        assert_eq!(s.get(Metric::DynamoDBRequests), 4.0);
    }
}
