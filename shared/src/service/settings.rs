//! A member's own settings of a conversation: mute (phone push) and what a push shows.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Actor;
use crate::app::App;
use crate::clock::iso;
use crate::error::AppError;
use crate::ids::ConversationId;
use crate::repo::settings::{self, Preview, Settings};

/// `mutedUntil` as given (RFC 3339), stored in the one ISO form whose text sorts as time does.
pub fn parse_muted_until(v: Option<&str>) -> Result<Option<String>, AppError> {
    v.map(|s| {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| iso((t.unix_timestamp_nanos() / 1_000_000) as i64))
            .map_err(|_| AppError::field("mutedUntil", "an RFC 3339 date-time (e.g. 2030-01-01T00:00:00Z)"))
    })
    .transpose()
}

/// Replaces the caller's settings of a conversation (members only: anyone else gets the 404 of
/// a missing conversation). One conditional `UpdateItem` after the session check.
pub async fn set(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
    muted_until: Option<String>,
    preview: Option<Preview>,
    mentions_through_mute: Option<bool>,
) -> Result<Settings, AppError> {
    let s = Settings {
        conversation_id: Some(id.clone()),
        muted_until,
        preview: preview.unwrap_or_default(),
        mentions_through_mute: mentions_through_mute.unwrap_or(true),
    };
    settings::set(app.table(), &actor.user_id, id, &s).await?.ok_or_else(|| AppError::not_found("conversation"))
}
