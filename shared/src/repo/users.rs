//! Users, with uniqueness of username and email kept by lock items in the same transaction.

use serde_json::json;

use super::{from_item, keys, pick, string_field, to_item};
use crate::error::AppError;
use crate::ids::UserId;
use crate::models::{User, Username};
use crate::store::{Condition, Index, Item, Page, Query, SortCond, StoreError, Table, WriteOp};

fn user_item(user: &User) -> Result<Item, AppError> {
    let mut item = to_item(&keys::user(&user.id), user)?;
    item.extend(directory_keys(&user.id));
    Ok(item)
}

/// The user's place in the directory (GSI1, sorted by user id).
fn directory_keys(id: &UserId) -> [(String, serde_json::Value); 2] {
    [("gsi1pk".into(), keys::USERS_GSI.into()), ("gsi1sk".into(), id.as_str().into())]
}

fn lock(key: crate::store::Key, user: &UserId) -> Result<Item, AppError> {
    to_item(&key, &json!({ "userId": user }))
}

fn taken(e: StoreError) -> AppError {
    match e {
        StoreError::TransactionCancelled { ref failed } if !failed.is_empty() => {
            AppError::Conflict("username or email already taken".into())
        }
        other => other.into(),
    }
}

/// One `TransactWriteItems`: the user and its username (and email) locks.
pub async fn create(table: &dyn Table, user: &User) -> Result<(), AppError> {
    let mut ops = vec![
        WriteOp::Put { item: user_item(user)?, cond: Some(Condition::NotExists) },
        WriteOp::Put {
            item: lock(keys::username(&user.username.to_lowercase()), &user.id)?,
            cond: Some(Condition::NotExists),
        },
    ];
    if let Some(email) = &user.email {
        ops.push(WriteOp::Put {
            item: lock(keys::email(&email.to_lowercase()), &user.id)?,
            cond: Some(Condition::NotExists),
        });
    }
    match table.transact(ops).await {
        // A retry of a transaction whose answer was lost finds its own writes: that is success.
        Err(StoreError::TransactionCancelled { .. }) if table.get(&keys::user(&user.id), true).await?.is_some() => {
            Ok(())
        }
        other => other.map_err(taken),
    }
}

/// One `GetItem`.
pub async fn get(table: &dyn Table, id: &UserId) -> Result<Option<User>, AppError> {
    table.get(&keys::user(id), false).await?.map(from_item).transpose()
}

/// One `BatchGetItem` per 100 users.
pub async fn get_many(table: &dyn Table, ids: &[UserId]) -> Result<Vec<User>, AppError> {
    let keys: Vec<_> = ids.iter().map(keys::user).collect();
    table.batch_get(&keys).await?.into_iter().map(from_item).collect()
}

/// The lock item a normalized login name (`login_guard::normalize`) points at: the email's when
/// it has an `@`, else the username's.
pub fn login_lock(normalized: &str) -> crate::store::Key {
    if normalized.contains('@') {
        keys::email(normalized)
    } else {
        keys::username(normalized)
    }
}

/// The id a username points at, from its lock alone (one `GetItem`): enough to address a user
/// a request names; whoever needs the user reads it (a send reads it in its first batch).
pub async fn id_by_username(table: &dyn Table, name: &Username) -> Result<Option<UserId>, AppError> {
    let lock = table.get(&keys::username(&name.key()), false).await?;
    Ok(lock.and_then(|l| string_field(&l, "userId")).and_then(|s| UserId::parse(&s)))
}

/// Login by username or email: `GetItem` on the lock, then `GetItem` on the user.
pub async fn find_by_login(table: &dyn Table, login: &str) -> Result<Option<User>, AppError> {
    let key = login_lock(&crate::login_guard::normalize(login));
    let Some(lock) = table.get(&key, false).await? else { return Ok(None) };
    let Some(id) = string_field(&lock, "userId").and_then(|s| UserId::parse(&s)) else { return Ok(None) };
    get(table, &id).await
}

/// One `TransactWriteItems`: the user (only if unchanged since `before` was read) and any
/// username/email lock moves.
pub async fn update(table: &dyn Table, before: &User, after: &User) -> Result<(), AppError> {
    let mut ops = vec![WriteOp::Put {
        item: user_item(after)?,
        cond: Some(Condition::Equals("updatedAt".into(), before.updated_at.clone().into())),
    }];
    let owned = || Some(Condition::Equals("userId".into(), json!(before.id)));
    if before.username.to_lowercase() != after.username.to_lowercase() {
        ops.push(WriteOp::Delete { key: keys::username(&before.username.to_lowercase()), cond: owned() });
        ops.push(WriteOp::Put {
            item: lock(keys::username(&after.username.to_lowercase()), &after.id)?,
            cond: Some(Condition::NotExists),
        });
    }
    let (old_email, new_email) =
        (before.email.as_ref().map(|e| e.to_lowercase()), after.email.as_ref().map(|e| e.to_lowercase()));
    if old_email != new_email {
        if let Some(old) = &old_email {
            ops.push(WriteOp::Delete { key: keys::email(old), cond: owned() });
        }
        if let Some(new) = &new_email {
            ops.push(WriteOp::Put { item: lock(keys::email(new), &after.id)?, cond: Some(Condition::NotExists) });
        }
    }
    table.transact(ops).await.map_err(|e| match e {
        StoreError::TransactionCancelled { ref failed } if failed.contains(&0) => {
            AppError::Conflict("the user changed meanwhile; retry".into())
        }
        other => taken(other),
    })
}

/// One `TransactWriteItems`: the user and its locks.
pub async fn delete(table: &dyn Table, user: &User) -> Result<(), AppError> {
    let mut ops = vec![
        WriteOp::Delete { key: keys::user(&user.id), cond: Some(Condition::Exists) },
        WriteOp::Delete { key: keys::username(&user.username.to_lowercase()), cond: None },
    ];
    if let Some(email) = &user.email {
        ops.push(WriteOp::Delete { key: keys::email(&email.to_lowercase()), cond: None });
    }
    table.transact(ops).await.map_err(|e| match e {
        StoreError::TransactionCancelled { .. } => AppError::not_found("user"),
        other => other.into(),
    })
}

/// One `Query` on GSI1: every user, oldest first, a page at a time.
/// A page of the directory after the user `after`, and the cursor of the next page (its last
/// user's id) when there is more: one `Query` on GSI1.
pub async fn list(
    table: &dyn Table,
    limit: u32,
    after: Option<&UserId>,
) -> Result<(Vec<User>, Option<UserId>), AppError> {
    let start = after.map(|id| {
        let key = keys::user(id);
        let mut item: Item = [("pk".to_owned(), key.pk.into()), ("sk".to_owned(), key.sk.into())].into_iter().collect();
        item.extend(directory_keys(id));
        item
    });
    let Page { items, next } =
        table.query(&Query::new(Index::Gsi1, keys::USERS_GSI, SortCond::All).limit(limit).start(start)).await?;
    let users: Vec<User> = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    let cursor = next.and_then(|_| users.last()).map(|u| u.id.clone());
    Ok((users, cursor))
}

/// The user and whether the token `jti` was revoked, in one `BatchGetItem`.
pub async fn session(
    table: &dyn Table,
    id: &UserId,
    jti: &crate::ids::TokenId,
) -> Result<(Option<User>, bool), AppError> {
    let (user_key, revoked_key) = (keys::user(id), keys::revoked(jti));
    let items = table.batch_get(&[user_key.clone(), revoked_key.clone()]).await?;
    let user = pick(&items, &user_key).map(from_item).transpose()?;
    let revoked = pick(&items, &revoked_key).is_some_and(|i| !crate::store::is_expired(&i, crate::clock::now_secs()));
    Ok((user, revoked))
}

/// A user by username only (a name with an `@` would be looked up as an email: none, without a
/// read): as `find_by_login`.
pub async fn find_by_username(table: &dyn Table, name: &str) -> Result<Option<User>, AppError> {
    if name.contains('@') {
        return Ok(None);
    }
    find_by_login(table, name).await
}
