//! WebSocket tickets: a browser cannot put a token in a WebSocket's headers, and a token in the
//! URL lands in access logs and history. A ticket is single-use, lives 30 seconds, and stands
//! for the token it was minted with (so that token's end also ends the connection it opens).

use serde::{Deserialize, Serialize};

use super::{from_item, keys, to_item};
use crate::error::AppError;
use crate::ids::{TokenId, UserId};
use crate::store::{Condition, Table};

pub const TICKET_TTL_SECS: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub user_id: UserId,
    /// The token the ticket was minted with, and when it expires (epoch seconds).
    pub token_id: TokenId,
    #[serde(default)]
    pub token_expires_at: i64,
    /// Epoch seconds; also the item's `ttl`.
    pub ttl: i64,
}

/// A fresh unguessable ticket (the 80 random bits of two ULIDs): one `PutItem`.
pub async fn create(
    table: &dyn Table,
    user: &UserId,
    (jti, token_expires_at): (&TokenId, i64),
    now_secs: i64,
) -> Result<(String, Ticket), AppError> {
    let random = |u: ulid::Ulid| u.random() & ((1u128 << 80) - 1);
    let value = format!("tkt_{:020x}{:020x}", random(ulid::Ulid::generate()), random(ulid::Ulid::generate()));
    let ticket =
        Ticket { user_id: user.clone(), token_id: jti.clone(), token_expires_at, ttl: now_secs + TICKET_TTL_SECS };
    table.put(to_item(&keys::ticket(&value), &ticket)?, Some(Condition::NotExists)).await?;
    Ok((value, ticket))
}

/// Takes the ticket (one `DeleteItem`): of concurrent uses, one gets it. `None` for an unknown,
/// used or expired ticket.
pub async fn redeem(table: &dyn Table, value: &str, now_secs: i64) -> Result<Option<Ticket>, AppError> {
    if !value.starts_with("tkt_") || value.len() != 44 {
        return Ok(None);
    }
    let taken: Option<Ticket> = table.delete(&keys::ticket(value), None).await?.map(from_item).transpose()?;
    Ok(taken.filter(|t| t.ttl > now_secs))
}
