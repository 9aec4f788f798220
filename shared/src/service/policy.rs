//! Channel and conversation moderation on the send path (issue 17, part B): the word filter,
//! flood protection, read-only conversations, slow mode, and message lifetimes; and the policy
//! route that sets them.
//!
//! The send path calls, before its write: `filter_text` (the one text transform), `count_send`
//! (concurrently with its first read) and `admit_send` (once the conversation is read). Edits
//! call `filter_text`. None of them touches the send's transaction.

use std::future::Future;

use serde::Serialize;

use super::conversations::check_access;
use super::Actor;
use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::ids::{ConversationId, UserId};
use crate::models::{ConversationKind, MessageText};
use crate::repo::conversations::{Conversation, Policy};
use crate::repo::moderation::{AuditAction, AuditEntry};
use crate::repo::{self, policy as stored};
use crate::wordfilter::Verdict;

/// The reason code of a text the word filter refuses (`details.reason`).
pub const FILTERED_WORD: &str = "FILTERED_WORD";

/// The shortest and longest slow-mode interval, in seconds (6 h, as the big chat apps allow).
pub const SLOW_MODE_SECONDS: (i64, i64) = (1, 6 * 3600);
/// The shortest and longest message lifetime: 1 hour to 90 days.
pub const LIFETIME_SECONDS: (i64, i64) = (3600, 90 * 86_400);

/// The text as it will be stored: refused (400, reason `FILTERED_WORD`; the word is not
/// repeated back) or with the listed words masked.
pub fn filter_text(app: &App, text: MessageText) -> Result<MessageText, AppError> {
    match app.config.word_filter.check(text.as_str()) {
        Verdict::Clean => Ok(text),
        Verdict::Masked(masked) => MessageText::parse(&masked),
        Verdict::Refused => Err(AppError::Validation {
            message: "text: contains a word that is not allowed here".into(),
            details: Some(serde_json::json!({
                "field": "text",
                "issue": "contains a word that is not allowed here",
                "reason": FILTERED_WORD,
            })),
        }),
    }
}

/// Flood protection: counts a send of `user` in the current fixed window (one conditional
/// `UpdateItem`, run alongside the send's first read: no extra round trip); past the
/// configured limit, 429 with `Retry-After` until the window ends. Off with a limit of 0.
pub async fn count_send(app: &App, user: &UserId) -> Result<(), AppError> {
    let rate = app.config.send_rate;
    if rate.limit <= 0 {
        return Ok(());
    }
    let now = now_secs();
    let window_start = now - now.rem_euclid(rate.window_secs);
    if stored::count_send(app.table(), user, window_start, rate.window_secs, rate.limit).await? {
        return Ok(());
    }
    let secs = (window_start + rate.window_secs - now).max(1) as u64;
    Err(AppError::RetryLater { message: format!("too many messages; retry in {secs} s"), secs })
}

/// The conversation's rules for this sender, checked once the send has read it (before any
/// write): a read-only conversation takes posts from its owner and admins only (403); in slow
/// mode a member posts at most once per interval (429 with `Retry-After`), taken by a
/// conditional write so that of two concurrent sends exactly one passes. Owners, admins and
/// system admins are exempt from slow mode.
pub async fn admit_send(app: &App, sender: &Actor, c: &Conversation) -> Result<(), AppError> {
    let moderator = c.is_admin(&sender.user_id) || sender.is_admin();
    if c.policy.read_only && !moderator {
        return Err(AppError::Forbidden("only the owner and admins post in this conversation".into()));
    }
    let Some(interval) = c.policy.slow_mode_seconds.filter(|s| *s > 0 && !moderator) else { return Ok(()) };
    let now = now_ms();
    match stored::take_turn(app.table(), &sender.user_id, &c.id, now, interval).await? {
        Ok(()) => Ok(()),
        Err(until) => {
            // A concurrent winner read the clock a little after us: never more than the interval.
            let wait = ((until - now).clamp(1, interval * 1000) as u64).div_ceil(1000);
            Err(AppError::RetryLater {
                message: format!("slow mode: one message per member every {interval} s; retry in {wait} s"),
                secs: wait,
            })
        }
    }
}

/// When a message sent now to a conversation of `policy` (none: a conversation being created)
/// disappears: the shorter of its lifetime and the global retention; `None` when neither is set.
pub fn expires_at(app: &App, policy: Option<&Policy>, now_ms: i64) -> Option<String> {
    let own = policy.and_then(|p| p.message_lifetime_seconds);
    let lifetime = match (own, app.config.message_retention_secs) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }?;
    Some(iso(now_ms + lifetime * 1000))
}

/// A change of a conversation's policy (`PATCH /api/conversations/{id}/policy`): each field
/// absent stays as it is; `0` turns slow mode or the lifetime off.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    pub read_only: Option<bool>,
    pub slow_mode_seconds: Option<i64>,
    pub message_lifetime_seconds: Option<i64>,
}

impl PolicyChange {
    /// The fields checked against their ranges (400 naming the field otherwise).
    pub fn parse(read_only: Option<bool>, slow: Option<i64>, lifetime: Option<i64>) -> Result<Self, AppError> {
        let (lo, hi) = SLOW_MODE_SECONDS;
        if slow.is_some_and(|s| s != 0 && !(lo..=hi).contains(&s)) {
            return Err(AppError::field("slowModeSeconds", format!("0 (off) or {lo} to {hi}")));
        }
        let (lo, hi) = LIFETIME_SECONDS;
        if lifetime.is_some_and(|s| s != 0 && !(lo..=hi).contains(&s)) {
            return Err(AppError::field("messageLifetimeSeconds", format!("0 (off) or {lo} to {hi}")));
        }
        Ok(Self { read_only, slow_mode_seconds: slow, message_lifetime_seconds: lifetime })
    }

    fn applied_to(&self, p: &Policy) -> Policy {
        let off_at_zero = |n: i64| Some(n).filter(|n| *n > 0);
        Policy {
            read_only: self.read_only.unwrap_or(p.read_only),
            slow_mode_seconds: self.slow_mode_seconds.map_or(p.slow_mode_seconds, off_at_zero),
            message_lifetime_seconds: self.message_lifetime_seconds.map_or(p.message_lifetime_seconds, off_at_zero),
        }
    }
}

/// A conversation's policy as its members read it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    pub conversation_id: ConversationId,
    /// Only the owner and admins post.
    pub read_only: bool,
    /// Seconds a member waits between two messages; absent: no slow mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_mode_seconds: Option<i64>,
    /// Seconds after which a message sent now disappears; absent: kept (unless a global
    /// retention applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_lifetime_seconds: Option<i64>,
}

impl PolicyView {
    pub fn of(id: &ConversationId, p: &Policy) -> Self {
        Self {
            conversation_id: id.clone(),
            read_only: p.read_only,
            slow_mode_seconds: p.slow_mode_seconds,
            message_lifetime_seconds: p.message_lifetime_seconds,
        }
    }
}

/// Sets a conversation's policy. Groups and channels: their owner and admins, and system
/// admins; a direct conversation: either member, and only its message lifetime (read-only and
/// slow mode mean nothing between two people: 403). Other members: 403; a caller who cannot see
/// the conversation: 404. `authenticate` runs alongside the conversation's read; one
/// conditional `UpdateItem` follows (409 when a membership change came in between).
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, conversation = %id))]
pub async fn set_policy<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    id: &ConversationId,
    change: PolicyChange,
) -> Result<PolicyView, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let (_, c) = tokio::try_join!(authenticate, repo::conversations::get(app.table(), id))?;
    check_access(actor, c.as_ref())?;
    let Some(c) = c else { return Err(AppError::not_found("conversation")) };
    match c.kind {
        ConversationKind::Direct if change.read_only.is_some() || change.slow_mode_seconds.is_some() => {
            return Err(AppError::Forbidden("a direct conversation has no read-only or slow mode".into()));
        }
        ConversationKind::Direct if !c.is_member(&actor.user_id) => {
            return Err(AppError::Forbidden("only its members set a direct conversation's lifetime".into()));
        }
        ConversationKind::Direct => {}
        _ if c.is_admin(&actor.user_id) || actor.is_admin() => {}
        _ => return Err(AppError::Forbidden("only the owner and admins change this conversation's policy".into())),
    }
    let policy = change.applied_to(&c.policy);
    if policy != c.policy
        && !stored::set_policy(app.table(), &c, &policy, audit_entry(actor, &c, &policy).op()?).await?
    {
        return Err(AppError::Conflict("the conversation changed meanwhile; retry".into()));
    }
    Ok(PolicyView::of(&c.id, &policy))
}

/// The audit log's entry of a policy change: who, which conversation, the rules it now has.
fn audit_entry(actor: &Actor, c: &Conversation, policy: &Policy) -> AuditEntry {
    let mut entry = AuditEntry::new(&actor.user_id, AuditAction::PolicyChanged);
    entry.conversation_id = Some(c.id.clone());
    entry.policy = Some(policy.clone());
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_change_keeps_what_it_does_not_name_and_zero_turns_off() {
        let before = Policy { read_only: true, slow_mode_seconds: Some(30), message_lifetime_seconds: Some(7200) };
        let change = PolicyChange::parse(None, Some(0), None).unwrap();
        assert_eq!(
            change.applied_to(&before),
            Policy { read_only: true, slow_mode_seconds: None, message_lifetime_seconds: Some(7200) }
        );
    }

    #[test]
    fn out_of_range_intervals_and_lifetimes_are_refused() {
        assert!(PolicyChange::parse(None, Some(-1), None).is_err());
        assert!(PolicyChange::parse(None, Some(6 * 3600 + 1), None).is_err());
        assert!(PolicyChange::parse(None, None, Some(60)).is_err());
        assert!(PolicyChange::parse(None, None, Some(91 * 86_400)).is_err());
        assert!(PolicyChange::parse(Some(false), Some(10), Some(3600)).is_ok());
    }
}
