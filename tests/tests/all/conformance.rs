//! One suite, run against every `Table`: the embedded store in memory and on disk, and DynamoDB
//! (a local DynamoDB-compatible server, see `scripts/test.sh`). The domain code is only as
//! portable as these cases are identical on all of them.

use chat::store::{Condition, EmbeddedTable, Index, Item, Key, Query, SortCond, StoreError, Table, Update, WriteOp};
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Value};

use crate::support::{self, TempDir};

/// Runs each case against each store, as `<store>::<case>`.
macro_rules! suite {
    ($($case:ident),+ $(,)?) => {
        mod in_memory {
            $(#[tokio::test]
            async fn $case() {
                super::$case(&crate::support::memory_table()).await;
            })+
        }
        mod on_disk {
            $(#[tokio::test]
            async fn $case() {
                let dir = crate::support::TempDir::new();
                super::$case(&chat::store::EmbeddedTable::open(dir.path()).expect("open store")).await;
            })+
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $case() {
                super::$case(&crate::support::dynamo_table().await).await;
            })+
        }
    };
}

suite!(
    put_then_get_returns_the_item_as_written,
    a_put_that_requires_absence_fails_on_an_existing_item_and_leaves_it_untouched,
    writes_that_require_the_item_fail_when_it_is_missing,
    an_equals_condition_guards_writes_on_the_current_value,
    absent_or_less_than_only_lets_a_value_move_forward,
    exists_without_needs_the_item_and_not_the_attribute,
    absent_or_not_equals_lets_a_writer_through_once_until_another_writes,
    update_applies_every_action_and_returns_the_new_item,
    updating_a_missing_item_creates_it_from_its_key,
    delete_returns_the_old_item,
    a_transaction_applies_every_operation,
    a_failed_transaction_writes_nothing_and_reports_the_failed_conditions,
    batch_get_reads_250_keys_once_each_and_skips_missing_ones,
    query_on_the_table_honours_sort_conditions_and_direction,
    query_on_the_gsi_honours_sort_conditions_and_orders_ties_by_table_key,
    paginating_with_a_limit_visits_every_item_exactly_once,
    a_conditional_update_of_the_gsi_key_moves_the_item_between_index_partitions,
);

fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

async fn get(t: &dyn Table, k: &Key) -> Option<Item> {
    t.get(k, true).await.expect("get")
}

fn assert_condition_failed<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(matches!(result, Err(StoreError::ConditionFailed)), "expected ConditionFailed, got {result:?}");
}

/// The sort keys of a query's items, all pages.
fn sks(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i["sk"].as_str().expect("sk")).collect()
}

async fn query_sks(t: &dyn Table, query: Query) -> Vec<String> {
    let page = t.query(&query).await.expect("query");
    sks(&page.items).into_iter().map(str::to_owned).collect()
}

async fn put_all(t: &dyn Table, items: Vec<Item>) {
    stream::iter(items).map(|i| t.put(i, None)).buffer_unordered(16).try_collect::<Vec<_>>().await.expect("put");
}

async fn put_then_get_returns_the_item_as_written(t: &dyn Table) {
    let k = key("user#1", "profile");
    let written = item(json!({
        "pk": "user#1", "sk": "profile",
        "name": "Ann", "count": 3, "negative": -12, "ratio": 1.5,
        "whole": 2.0, "admin": true, "nothing": null,
        "list": [1, "two", {"three": false}, [null]],
        "map": {"nested": {"empty": [], "n": 7}},
        "tagSet": ["b", "a", "b"],
        "emptySet": [],
    }));
    t.put(written, None).await.expect("put");
    let expected = item(json!({
        "pk": "user#1", "sk": "profile",
        "name": "Ann", "count": 3, "negative": -12, "ratio": 1.5,
        "whole": 2, "admin": true, "nothing": null,
        "list": [1, "two", {"three": false}, [null]],
        "map": {"nested": {"empty": [], "n": 7}},
        // Sets come back sorted and deduplicated; empty ones do not exist.
        "tagSet": ["a", "b"],
    }));
    assert_eq!(t.get(&k, true).await.expect("get"), Some(expected.clone()));
    assert_eq!(t.get(&k, false).await.expect("get"), Some(expected));
    assert_eq!(get(t, &key("user#1", "missing")).await, None);

    // A put replaces the whole item.
    let replacement = item(json!({"pk": "user#1", "sk": "profile", "name": "Bob"}));
    t.put(replacement.clone(), None).await.expect("put");
    assert_eq!(get(t, &k).await, Some(replacement));
}

async fn a_put_that_requires_absence_fails_on_an_existing_item_and_leaves_it_untouched(t: &dyn Table) {
    let original = item(json!({"pk": "user#1", "sk": "profile", "name": "Ann"}));
    t.put(original.clone(), Some(Condition::NotExists)).await.expect("first put");
    let second = item(json!({"pk": "user#1", "sk": "profile", "name": "Bob"}));
    assert_condition_failed(t.put(second, Some(Condition::NotExists)).await);
    assert_eq!(get(t, &key("user#1", "profile")).await, Some(original));
}

async fn writes_that_require_the_item_fail_when_it_is_missing(t: &dyn Table) {
    let k = key("user#1", "profile");
    let written = item(json!({"pk": "user#1", "sk": "profile", "name": "Ann"}));
    assert_condition_failed(t.put(written.clone(), Some(Condition::Exists)).await);
    assert_condition_failed(
        t.update(&k, vec![Update::Set("name".into(), json!("Bob"))], Some(Condition::Exists)).await,
    );
    assert_condition_failed(t.delete(&k, Some(Condition::Exists)).await);
    assert_eq!(get(t, &k).await, None, "a failed update must not create the item");

    t.put(written, None).await.expect("put");
    let replacement = item(json!({"pk": "user#1", "sk": "profile", "name": "Bob"}));
    t.put(replacement.clone(), Some(Condition::Exists)).await.expect("put on an existing item");
    assert_eq!(get(t, &k).await, Some(replacement));
}

async fn an_equals_condition_guards_writes_on_the_current_value(t: &dyn Table) {
    let k = key("room#1", "meta");
    t.put(item(json!({"pk": "room#1", "sk": "meta", "version": 1, "name": "a"})), None).await.expect("put");

    let set_name = |name: &str| vec![Update::Set("name".into(), json!(name))];
    let updated =
        t.update(&k, set_name("b"), Some(Condition::Equals("version".into(), json!(1)))).await.expect("update");
    assert_eq!(updated["name"], json!("b"));
    assert_condition_failed(t.update(&k, set_name("c"), Some(Condition::Equals("version".into(), json!(2)))).await);
    assert_condition_failed(t.update(&k, set_name("c"), Some(Condition::Equals("name".into(), json!("a")))).await);
    let other = item(json!({"pk": "room#1", "sk": "meta", "version": 9}));
    assert_condition_failed(t.put(other, Some(Condition::Equals("version".into(), json!("1")))).await);
    assert_condition_failed(t.delete(&k, Some(Condition::Equals("version".into(), json!(2)))).await);
    let current = item(json!({"pk": "room#1", "sk": "meta", "version": 1, "name": "b"}));
    assert_eq!(get(t, &k).await, Some(current.clone()));

    let deleted = t.delete(&k, Some(Condition::Equals("version".into(), json!(1)))).await.expect("delete");
    assert_eq!(deleted, Some(current));
    // On a missing item there is nothing to be equal to.
    assert_condition_failed(t.update(&k, set_name("d"), Some(Condition::Equals("version".into(), json!(1)))).await);
    assert_eq!(get(t, &k).await, None);
}

async fn absent_or_less_than_only_lets_a_value_move_forward(t: &dyn Table) {
    let k = key("member#1", "room#1");
    let advance = |attr: &str, v: Value| {
        (vec![Update::Set(attr.into(), v.clone())], Some(Condition::AbsentOrLessThan(attr.into(), v)))
    };
    // A missing item is "absent".
    let (updates, cond) = advance("readSeq", json!(5));
    t.update(&k, updates, cond).await.expect("first marker");
    for stale in [3, 5] {
        let (updates, cond) = advance("readSeq", json!(stale));
        assert_condition_failed(t.update(&k, updates, cond).await);
    }
    assert_eq!(get(t, &k).await.expect("item")["readSeq"], json!(5));
    let (updates, cond) = advance("readSeq", json!(9));
    t.update(&k, updates, cond).await.expect("newer marker");

    // An existing item without the attribute; then strings compare by bytes.
    let (updates, cond) = advance("readAt", json!("2024-01-02"));
    t.update(&k, updates, cond).await.expect("absent attribute");
    let (updates, cond) = advance("readAt", json!("2024-01-01"));
    assert_condition_failed(t.update(&k, updates, cond).await);
    let (updates, cond) = advance("readAt", json!("2024-01-03"));
    t.update(&k, updates, cond).await.expect("later string");
    assert_eq!(
        get(t, &k).await,
        Some(item(json!({"pk": "member#1", "sk": "room#1", "readSeq": 9, "readAt": "2024-01-03"})))
    );
}

async fn absent_or_not_equals_lets_a_writer_through_once_until_another_writes(t: &dyn Table) {
    let k = key("room#1", "summary");
    let reserve = |by: &str| {
        let updates = vec![Update::Add("seq".into(), 1), Update::Set("by".into(), json!(by))];
        (updates, Some(Condition::AbsentOrNotEquals("by".into(), json!(by))))
    };
    // A missing item passes; the same writer again does not; another writer does, then the first again.
    let (u, c) = reserve("a");
    assert_eq!(t.update(&k, u, c).await.expect("first")["seq"], json!(1));
    let (u, c) = reserve("a");
    assert_condition_failed(t.update(&k, u, c).await);
    let (u, c) = reserve("b");
    assert_eq!(t.update(&k, u, c).await.expect("another writer")["seq"], json!(2));
    let (u, c) = reserve("a");
    assert_eq!(t.update(&k, u, c).await.expect("the first after another")["seq"], json!(3));
    // An existing item without the attribute passes.
    let other = key("room#2", "summary");
    t.put(item(json!({"pk": "room#2", "sk": "summary", "seq": 7})), None).await.expect("put");
    let (u, c) = reserve("a");
    assert_eq!(t.update(&other, u, c).await.expect("absent attribute")["seq"], json!(8));
}

async fn exists_without_needs_the_item_and_not_the_attribute(t: &dyn Table) {
    let k = key("msg#1", "m");
    let bump = || vec![Update::Add("count".into(), 1)];
    let live = || Some(Condition::ExistsWithout("deleted".into()));
    // A missing item: the update must not create it.
    assert_condition_failed(t.update(&k, bump(), live()).await);
    assert_eq!(get(t, &k).await, None);
    t.put(item(json!({"pk": "msg#1", "sk": "m"})), None).await.expect("put");
    assert_eq!(t.update(&k, bump(), live()).await.expect("live")["count"], json!(1));
    t.update(&k, vec![Update::Set("deleted".into(), json!(true))], None).await.expect("tombstone");
    assert_condition_failed(t.update(&k, bump(), live()).await);
    let op = WriteOp::Update { key: k.clone(), updates: bump(), cond: live() };
    assert!(matches!(t.transact(vec![op]).await, Err(StoreError::TransactionCancelled { .. })));
    assert_eq!(get(t, &k).await.expect("item")["count"], json!(1));
}

async fn update_applies_every_action_and_returns_the_new_item(t: &dyn Table) {
    let k = key("room#1", "meta");
    t.put(
        item(json!({
            "pk": "room#1", "sk": "meta", "name": "a", "kept": "k", "count": 10, "gone": "x",
            "memberSet": ["u1", "u2"], "bannedSet": ["u8", "u9"], "mutedSet": ["u5"],
        })),
        None,
    )
    .await
    .expect("put");
    let new = t
        .update(
            &k,
            vec![
                Update::Set("name".into(), json!("b")),
                Update::Set("topic".into(), json!({"text": "hi", "by": ["u1"]})),
                Update::SetIfAbsent("kept".into(), json!("ignored")),
                Update::SetIfAbsent("created".into(), json!(7)),
                Update::Add("count".into(), -3),
                Update::Add("messages".into(), 5),
                Update::Remove("gone".into()),
                Update::Remove("neverThere".into()),
                Update::AddToSet("memberSet".into(), vec!["u3".into(), "u1".into()]),
                Update::AddToSet("inviteSet".into(), vec!["u7".into()]),
                Update::AddToSet("emptyAddSet".into(), vec![]),
                Update::DeleteFromSet("bannedSet".into(), vec!["u8".into(), "u0".into()]),
                Update::DeleteFromSet("mutedSet".into(), vec!["u5".into()]),
                Update::DeleteFromSet("missingSet".into(), vec!["u5".into()]),
            ],
            None,
        )
        .await
        .expect("update");
    let expected = item(json!({
        "pk": "room#1", "sk": "meta", "name": "b", "topic": {"text": "hi", "by": ["u1"]},
        "kept": "k", "created": 7, "count": 7, "messages": 5,
        "memberSet": ["u1", "u2", "u3"], "inviteSet": ["u7"], "bannedSet": ["u9"],
    }));
    assert_eq!(new, expected);
    assert_eq!(get(t, &k).await, Some(expected));

    // Setting a set to an empty array removes it; to a list, replaces it (sorted, deduplicated).
    let new = t
        .update(
            &k,
            vec![
                Update::Set("memberSet".into(), json!([])),
                Update::Set("inviteSet".into(), json!(["u9", "u1", "u9"])),
                Update::SetIfAbsent("otherSet".into(), json!(["b", "a"])),
            ],
            None,
        )
        .await
        .expect("update");
    assert_eq!(new.get("memberSet"), None);
    assert_eq!(new["inviteSet"], json!(["u1", "u9"]));
    assert_eq!(new["otherSet"], json!(["a", "b"]));
}

async fn updating_a_missing_item_creates_it_from_its_key(t: &dyn Table) {
    let k = key("counter#1", "c");
    let updates = || vec![Update::Add("n".into(), 1), Update::AddToSet("userSet".into(), vec!["u1".into()])];
    let created = t.update(&k, updates(), None).await.expect("update");
    assert_eq!(created, item(json!({"pk": "counter#1", "sk": "c", "n": 1, "userSet": ["u1"]})));
    let again = t.update(&k, updates(), None).await.expect("update");
    assert_eq!(again, item(json!({"pk": "counter#1", "sk": "c", "n": 2, "userSet": ["u1"]})));
    assert_eq!(get(t, &k).await, Some(again));
}

async fn delete_returns_the_old_item(t: &dyn Table) {
    let k = key("msg#1", "m");
    let written = item(json!({"pk": "msg#1", "sk": "m", "body": "hello", "seenSet": ["u1"]}));
    t.put(written.clone(), None).await.expect("put");
    assert_eq!(t.delete(&k, None).await.expect("delete"), Some(written));
    assert_eq!(get(t, &k).await, None);
    assert_eq!(t.delete(&k, None).await.expect("second delete"), None);
}

async fn a_transaction_applies_every_operation(t: &dyn Table) {
    put_all(
        t,
        vec![
            item(json!({"pk": "t", "sk": "deleted"})),
            item(json!({"pk": "t", "sk": "updated", "n": 1})),
            item(json!({"pk": "t", "sk": "checked", "v": 1})),
        ],
    )
    .await;
    t.transact(vec![
        WriteOp::Put { item: item(json!({"pk": "t", "sk": "new", "tagSet": ["x"]})), cond: Some(Condition::NotExists) },
        WriteOp::Update {
            key: key("t", "updated"),
            updates: vec![Update::Add("n".into(), 1), Update::AddToSet("tagSet".into(), vec!["y".into()])],
            cond: Some(Condition::Exists),
        },
        WriteOp::Delete { key: key("t", "deleted"), cond: Some(Condition::Exists) },
        WriteOp::Check { key: key("t", "checked"), cond: Condition::Equals("v".into(), json!(1)) },
    ])
    .await
    .expect("transaction");
    assert_eq!(get(t, &key("t", "new")).await, Some(item(json!({"pk": "t", "sk": "new", "tagSet": ["x"]}))));
    assert_eq!(
        get(t, &key("t", "updated")).await,
        Some(item(json!({"pk": "t", "sk": "updated", "n": 2, "tagSet": ["y"]})))
    );
    assert_eq!(get(t, &key("t", "deleted")).await, None);
    assert_eq!(get(t, &key("t", "checked")).await, Some(item(json!({"pk": "t", "sk": "checked", "v": 1}))));
}

async fn a_failed_transaction_writes_nothing_and_reports_the_failed_conditions(t: &dyn Table) {
    let before = vec![
        item(json!({"pk": "t", "sk": "a", "v": 1})),
        item(json!({"pk": "t", "sk": "b", "v": 1})),
        item(json!({"pk": "t", "sk": "c", "v": 1})),
    ];
    put_all(t, before.clone()).await;
    let result = t
        .transact(vec![
            WriteOp::Put { item: item(json!({"pk": "t", "sk": "new"})), cond: None },
            WriteOp::Check { key: key("t", "a"), cond: Condition::Equals("v".into(), json!(2)) },
            WriteOp::Update { key: key("t", "b"), updates: vec![Update::Set("v".into(), json!(5))], cond: None },
            WriteOp::Put { item: item(json!({"pk": "t", "sk": "c", "v": 9})), cond: Some(Condition::NotExists) },
            WriteOp::Delete { key: key("t", "missing"), cond: None },
        ])
        .await;
    match result {
        Err(StoreError::TransactionCancelled { failed }) => assert_eq!(failed, vec![1, 3]),
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(get(t, &key("t", "new")).await, None);
    let after = t.query(&Query::new(Index::Table, "t", SortCond::All)).await.expect("query");
    assert_eq!(after.items, before);
}

async fn batch_get_reads_250_keys_once_each_and_skips_missing_ones(t: &dyn Table) {
    let items: Vec<Item> =
        (0..250).map(|i| item(json!({"pk": format!("user#{i:03}"), "sk": "profile", "i": i}))).collect();
    put_all(t, items.clone()).await;
    let mut keys: Vec<Key> = (0..250).map(|i| key(&format!("user#{i:03}"), "profile")).collect();
    keys.extend((0..20).map(|i| key(&format!("user#{i:03}"), "profile")));
    keys.extend((0..5).map(|i| key(&format!("ghost#{i}"), "profile")));
    let mut found = t.batch_get(&keys).await.expect("batch get");
    found.sort_by_key(|i| i["i"].as_i64());
    assert_eq!(found, items);
    assert_eq!(t.batch_get(&[]).await.expect("empty batch get"), Vec::<Item>::new());
}

async fn query_on_the_table_honours_sort_conditions_and_direction(t: &dyn Table) {
    // Sort keys order by UTF-8 bytes: "Z" < "a" < "b#1" < ... < "é".
    let in_room = ["a", "b#1", "b#2", "b#3", "c", "ca", "Z", "é"];
    let mut items: Vec<Item> = in_room.iter().map(|sk| item(json!({"pk": "room#1", "sk": sk}))).collect();
    // Neighbouring partitions must never leak into a query.
    items.push(item(json!({"pk": "room#10", "sk": "b#1"})));
    items.push(item(json!({"pk": "room#", "sk": "b#1"})));
    items.push(item(json!({"pk": "room", "sk": "b#1"})));
    put_all(t, items).await;

    let q = |sort: SortCond| Query::new(Index::Table, "room#1", sort);
    let cases: Vec<(SortCond, Vec<&str>)> = vec![
        (SortCond::All, vec!["Z", "a", "b#1", "b#2", "b#3", "c", "ca", "é"]),
        (SortCond::BeginsWith("b#".into()), vec!["b#1", "b#2", "b#3"]),
        (SortCond::BeginsWith("c".into()), vec!["c", "ca"]),
        (SortCond::BeginsWith("nothing".into()), vec![]),
        (SortCond::After("b#2".into()), vec!["b#3", "c", "ca", "é"]),
        (SortCond::After("c".into()), vec!["ca", "é"]),
        (SortCond::Before("b#2".into()), vec!["Z", "a", "b#1"]),
        (SortCond::Before("b".into()), vec!["Z", "a"]),
        (SortCond::Between("b#1".into(), "c".into()), vec!["b#1", "b#2", "b#3", "c"]),
        (SortCond::Between("b".into(), "b#2".into()), vec!["b#1", "b#2"]),
    ];
    for (sort, expected) in cases {
        assert_eq!(query_sks(t, q(sort.clone())).await, expected, "{sort:?} forward");
        let backward: Vec<&str> = expected.iter().rev().copied().collect();
        assert_eq!(query_sks(t, q(sort.clone()).backward()).await, backward, "{sort:?} backward");
    }
    assert_eq!(query_sks(t, q(SortCond::All).limit(2)).await, vec!["Z", "a"]);
    assert_eq!(query_sks(t, q(SortCond::All).backward().limit(2)).await, vec!["é", "ca"]);
    assert_eq!(query_sks(t, Query::new(Index::Table, "room#2", SortCond::All)).await, Vec::<String>::new());
}

async fn query_on_the_gsi_honours_sort_conditions_and_orders_ties_by_table_key(t: &dyn Table) {
    let entry = |pk: &str, gsk: &str| item(json!({"pk": pk, "sk": "meta", "gsi1pk": "owner#1", "gsi1sk": gsk}));
    put_all(
        t,
        vec![
            entry("room#c", "2024-01-02"),
            entry("room#a", "2024-01-02"),
            entry("room#b", "2024-01-02"),
            entry("room#d", "2024-01-01"),
            entry("room#e", "2024-01-03"),
            entry("room#f", "2024-02-01"),
            // Not in this GSI partition, or not in the GSI at all.
            item(json!({"pk": "room#g", "sk": "meta", "gsi1pk": "owner#10", "gsi1sk": "2024-01-02"})),
            item(json!({"pk": "room#h", "sk": "meta", "gsi1pk": "owner#1"})),
            item(json!({"pk": "room#i", "sk": "meta"})),
        ],
    )
    .await;
    let pks = |items: &[Item]| items.iter().map(|i| i["pk"].as_str().expect("pk").to_owned()).collect::<Vec<_>>();
    let q = |sort: SortCond| Query::new(Index::Gsi1, "owner#1", sort);
    let cases: Vec<(SortCond, Vec<&str>)> = vec![
        (SortCond::All, vec!["room#d", "room#a", "room#b", "room#c", "room#e", "room#f"]),
        (SortCond::BeginsWith("2024-01".into()), vec!["room#d", "room#a", "room#b", "room#c", "room#e"]),
        (SortCond::After("2024-01-02".into()), vec!["room#e", "room#f"]),
        (SortCond::Before("2024-01-02".into()), vec!["room#d"]),
        (SortCond::Between("2024-01-02".into(), "2024-01-03".into()), vec!["room#a", "room#b", "room#c", "room#e"]),
    ];
    for (sort, expected) in cases {
        let page = t.query(&q(sort.clone())).await.expect("query");
        assert_eq!(pks(&page.items), expected, "{sort:?} forward");
        let page = t.query(&q(sort.clone()).backward()).await.expect("query");
        let backward: Vec<&str> = expected.iter().rev().copied().collect();
        assert_eq!(pks(&page.items), backward, "{sort:?} backward");
    }
    // The index projects whole items.
    let page = t.query(&q(SortCond::Before("2024-01-02".into()))).await.expect("query");
    assert_eq!(page.items, vec![entry("room#d", "2024-01-01")]);
}

/// A report's review (`repo::moderation`): its status is its GSI1 partition, moved by a
/// conditional `UpdateItem` in a transaction; the first transition wins.
async fn a_conditional_update_of_the_gsi_key_moves_the_item_between_index_partitions(t: &dyn Table) {
    let report = item(json!({"pk": "report#1", "sk": "r", "gsi1pk": "status#open", "gsi1sk": "1", "status": "open"}));
    put_all(t, vec![report]).await;
    let resolve = || {
        vec![WriteOp::Update {
            key: key("report#1", "r"),
            updates: vec![
                Update::Set("status".into(), json!("resolved")),
                Update::Set("gsi1pk".into(), json!("status#resolved")),
            ],
            cond: Some(Condition::Equals("status".into(), json!("open"))),
        }]
    };
    t.transact(resolve()).await.expect("the first transition");
    assert!(matches!(t.transact(resolve()).await, Err(StoreError::TransactionCancelled { failed }) if failed == [0]));
    let in_partition = |pk: &'static str| async move {
        t.query(&Query::new(Index::Gsi1, pk, SortCond::All)).await.expect("query").items.len()
    };
    assert_eq!((in_partition("status#open").await, in_partition("status#resolved").await), (0, 1));
}

async fn paginating_with_a_limit_visits_every_item_exactly_once(t: &dyn Table) {
    // Ten items; on the GSI they share sort keys in runs of three, so pages split ties.
    let items: Vec<Item> = (0..10)
        .map(|i| {
            item(
                json!({"pk": "room#1", "sk": format!("msg#{i:02}"), "gsi1pk": "feed", "gsi1sk": format!("t{}", i / 3)}),
            )
        })
        .collect();
    put_all(t, items).await;
    let table_sorts =
        [SortCond::All, SortCond::After("msg#02".into()), SortCond::Between("msg#03".into(), "msg#07".into())];
    let gsi_sorts = [SortCond::All, SortCond::After("t0".into()), SortCond::Between("t1".into(), "t2".into())];
    for (index, pk, sorts) in [(Index::Table, "room#1", table_sorts), (Index::Gsi1, "feed", gsi_sorts)] {
        for sort in sorts {
            for forward in [true, false] {
                let mut base = Query::new(index, pk, sort.clone());
                base.forward = forward;
                let all = t.query(&base).await.expect("query").items;
                assert!(all.len() >= 5, "{index:?} {sort:?}: {all:?}");
                for limit in [1, 3, 4, 10, 11] {
                    let mut seen = Vec::new();
                    let mut start = None;
                    for round in 0.. {
                        assert!(round <= all.len() + 1, "pagination does not end ({index:?} {sort:?} limit {limit})");
                        let page = t.query(&base.clone().limit(limit).start(start)).await.expect("query");
                        assert!(page.items.len() <= limit as usize);
                        // A short page is the last one. (A full page may have a `next` even when
                        // nothing follows: DynamoDB does, moto does not.)
                        if page.items.len() < limit as usize {
                            assert_eq!(page.next, None);
                        }
                        seen.extend(page.items);
                        start = page.next;
                        if start.is_none() {
                            break;
                        }
                    }
                    assert_eq!(sks(&seen), sks(&all), "{index:?} {sort:?} forward={forward} limit {limit}");
                }
            }
        }
    }
}

/// The embedded store keeps its data across a reopen of its directory.
#[tokio::test]
async fn reopening_the_directory_keeps_the_data() {
    let dir = TempDir::new();
    let written = item(json!({"pk": "user#1", "sk": "profile", "gsi1pk": "users", "gsi1sk": "ann", "tagSet": ["a"]}));
    {
        let t = EmbeddedTable::open(dir.path()).expect("open");
        t.put(written.clone(), None).await.expect("put");
        t.update(&key("user#1", "counter"), vec![Update::Add("n".into(), 2)], None).await.expect("update");
    }
    let t = EmbeddedTable::open(dir.path()).expect("reopen");
    assert_eq!(get(&t, &key("user#1", "profile")).await, Some(written.clone()));
    assert_eq!(get(&t, &key("user#1", "counter")).await.expect("counter")["n"], json!(2));
    let page = t.query(&Query::new(Index::Gsi1, "users", SortCond::All)).await.expect("query");
    assert_eq!(page.items, vec![written]);
}

const WRITER_DIR: &str = "CHAT_TEST_WRITER_DIR";

/// A write the embedded store acknowledged survives a kill -9 of the process that made it.
#[tokio::test]
async fn a_killed_process_loses_no_acknowledged_write() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = TempDir::new();
    let mut writer = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "conformance::writer_killed_by_the_kill_test", "--ignored", "--nocapture"])
        .env(WRITER_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn writer");
    let stdout = BufReader::new(writer.stdout.take().expect("stdout"));
    let mut acknowledged = 0;
    for line in stdout.lines() {
        if let Some(n) = line.expect("writer output").strip_prefix("acknowledged ") {
            acknowledged = n.parse().expect("count");
            if acknowledged >= 50 {
                break;
            }
        }
    }
    writer.kill().expect("kill -9"); // SIGKILL on Unix
    writer.wait().expect("wait");
    assert!(acknowledged >= 50, "the writer stopped early");

    let t = EmbeddedTable::open(dir.path()).expect("reopen after kill");
    let keys: Vec<Key> = (0..acknowledged).map(|i| key("kill", &format!("{i:05}"))).collect();
    assert_eq!(t.batch_get(&keys).await.expect("batch get").len(), acknowledged);
}

/// The writer process of `a_killed_process_loses_no_acknowledged_write`: writes until killed.
#[tokio::test]
#[ignore = "a helper process, run by a_killed_process_loses_no_acknowledged_write"]
async fn writer_killed_by_the_kill_test() {
    let dir = std::env::var(WRITER_DIR).expect("run by a_killed_process_loses_no_acknowledged_write");
    let t = EmbeddedTable::open(std::path::Path::new(&dir)).expect("open");
    // Bounded, in case the parent died without killing this process.
    for i in 0..10_000 {
        t.put(item(json!({"pk": "kill", "sk": format!("{i:05}")})), None).await.expect("put");
        println!("acknowledged {}", i + 1);
    }
}

/// An unreachable DynamoDB endpoint is reported as `Unavailable`, not as a bug.
#[tokio::test]
async fn an_unreachable_dynamodb_is_reported_as_unavailable() {
    let sdk = support::local_sdk_config("http://127.0.0.1:9").await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    let t = chat::store::DynamoTable::new(aws_sdk_dynamodb::Client::from_conf(config), "absent");
    let result = t.get(&key("a", "b"), false).await;
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "got {result:?}");
}
