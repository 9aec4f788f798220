//! `GET /api/sync`: what changed for the caller since a token, in pages.

use chat::models::{parse_limit, Limit};
use chat::service::sync::{self, Token};
use chat::{App, AppError};
use lambda_http::Request;

use super::{concurrent_session, query_param, Reply};

/// `GET /api/sync`'s parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct SyncQuery {
    /// The token of the previous sync (its `token`, or `next` while more pages follow); none:
    /// no changes, and the token of now. Malformed: 400; older than the retention window
    /// (30 days by default): 410 `RESYNC_REQUIRED`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::service::sync::TokenSchema>"))]
    pub since: Option<String>,
    /// Changes per page (about: a page ends after the conversation that reaches it), 1 to 100.
    pub limit: Option<Limit>,
}

pub async fn get(app: &App, req: Request) -> Result<Reply, AppError> {
    // The malformed first (400), then what a well-formed token says (410).
    let limit = parse_limit(query_param(&req, "limit").as_deref())?;
    let since = query_param(&req, "since").map(|s| Token::parse(&s)).transpose()?;
    let (actor, session) = concurrent_session(app, &req, None).await?;
    Ok(Reply::ok(sync::sync(app, &actor, session, since, limit).await?))
}
