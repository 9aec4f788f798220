//! Safety and moderation (issue 17): blocks, reports and their review, suspensions, group and
//! channel bans, and the audit log.
//!
//! Blocking is private: nothing tells the blocked user. Its effects are checked per action, never
//! cached per connection: a direct send reads the block item in the batch it reads anyway
//! (`service::messages::send`), and fan-outs read the blocker's `PRESENCE.blockSet` with the
//! presences they read anyway (`repo::blocks`). In a shared group or channel, the blocker gets no
//! live event, mention or push of the blocked user's messages, and their history marks them
//! (`senderBlocked`); the blocked user sees nothing different.

use std::future::Future;

use serde::Serialize;

use super::{fanout, groups, messages, realtime, Actor};
use crate::app::{App, Caller};
use crate::clock::{iso, now_ms};
use crate::error::AppError;
use crate::events::{Event, MembershipAction};
use crate::ids::{AuditId, ConversationId, MessageId, ReportId, UserId};
use crate::models::{ConversationKind, SUSPENDED_FOR_GOOD};
use crate::repo::blocks::{self, Block, Blocked};
use crate::repo::conversations::Conversation;
use crate::repo::moderation::{self as repo, AuditAction, AuditEntry, Reason, Report, ReportStatus, Resolution};
use crate::repo::{self as store, messages as msgs};
use crate::store::StoreError;

/// The longest note of a report, in characters.
pub const NOTE_MAX: usize = 1000;

/// The one answer to a send the conversation does not take from this sender (a block, in
/// either direction): it says nothing about why.
pub fn send_refused() -> AppError {
    AppError::Forbidden("you cannot send messages to this conversation".into())
}

/// The block items that refuse `sender`'s messages to a direct conversation: the other user's
/// block of the sender and the sender's of them (none for a group).
pub fn block_keys(conv: &ConversationId, sender: &UserId) -> Vec<crate::store::Key> {
    match conv.direct_members() {
        Some((a, b)) => {
            let other = if a == *sender { b } else { a };
            vec![blocks::key(&other, sender), blocks::key(sender, &other)]
        }
        None => vec![],
    }
}

/// A block or unblock, as its route answers it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockChange {
    pub user_id: UserId,
    pub blocked: bool,
}

/// Blocks (`blocking`) or unblocks `target`; idempotent. Blocking needs the user to exist (404);
/// unblocking does not (a deleted user's block can still be lifted). Two round trips: session ‖
/// the user, then one transaction (`repo::blocks::set`).
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, target = %target, blocking))]
pub async fn block<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    target: &UserId,
    blocking: bool,
) -> Result<BlockChange, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    if *target == actor.user_id {
        return Err(AppError::Forbidden("you cannot block yourself".into()));
    }
    if blocking {
        let (_, user) = tokio::try_join!(authenticate, store::users::get(app.table(), target))?;
        user.ok_or_else(|| AppError::not_found("user"))?;
    } else {
        authenticate.await?;
    }
    let block = Block { user_id: target.clone(), blocked_at: iso(now_ms()) };
    match blocks::set(app.table(), &actor.user_id, &block, blocking).await? {
        Blocked::Changed | Blocked::Unchanged => Ok(BlockChange { user_id: target.clone(), blocked: blocking }),
        Blocked::Full => Err(AppError::Conflict(format!("you may block at most {} users", blocks::MAX_BLOCKS))),
    }
}

/// The caller's blocks, by user id: one `Query`.
pub async fn blocks(
    app: &App,
    caller: &Caller,
    limit: u32,
    after: Option<&UserId>,
) -> Result<(Vec<Block>, Option<String>), AppError> {
    let (list, next) = blocks::list(app.table(), caller.id(), limit, after).await?;
    Ok((list, next.map(|id| id.to_string())))
}

/// A report as submitted: its reason and an optional note.
#[derive(Debug)]
pub struct NewReport {
    pub reason: Reason,
    pub note: Option<String>,
}

impl NewReport {
    pub fn parse(reason: Reason, note: Option<&str>) -> Result<Self, AppError> {
        let note = note.map(|n| crate::text::parse("note", n, 1, NOTE_MAX, crate::text::Lines::Multi)).transpose()?;
        Ok(Self { reason, note })
    }
}

fn new_report(actor: &Actor, user: UserId, message: Option<(MessageId, ConversationId)>, r: NewReport) -> Report {
    let (message_id, conversation_id) = message.unzip();
    Report {
        id: ReportId::generate(),
        reporter_id: actor.user_id.clone(),
        user_id: user,
        message_id,
        conversation_id,
        reason: r.reason,
        note: r.note,
        status: ReportStatus::Open,
        created_at: iso(now_ms()),
        resolved_by: None,
        resolved_at: None,
        resolution: None,
    }
}

/// Reports a message the caller can read (a member of its conversation, or an admin; anyone
/// else gets the 404 of a missing message). Session ‖ the message (GSI1) → its conversation →
/// the report with its lock (one transaction) → `report` to the admin room.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, message = %id))]
pub async fn report_message<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    id: &MessageId,
    new: NewReport,
) -> Result<Report, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let (_, message) = tokio::try_join!(authenticate, msgs::find(app.table(), id))?;
    let missing = || AppError::not_found("message");
    let message = message.filter(|m| !m.deleted).ok_or_else(missing)?;
    let c = store::conversations::get(app.table(), &message.conversation_id).await?;
    if !c.is_some_and(|c| c.is_member(&actor.user_id) || actor.is_admin()) {
        return Err(missing());
    }
    if message.sender_id == actor.user_id {
        return Err(AppError::Forbidden("you cannot report your own message".into()));
    }
    let report = new_report(actor, message.sender_id, Some((message.id, message.conversation_id)), new);
    submit(app, report).await
}

/// Reports a user (any user is visible to any other). Session ‖ the user → the report with its
/// lock → `report` to the admin room.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, user = %id))]
pub async fn report_user<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    id: &UserId,
    new: NewReport,
) -> Result<Report, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let (_, user) = tokio::try_join!(authenticate, store::users::get(app.table(), id))?;
    user.ok_or_else(|| AppError::not_found("user"))?;
    if *id == actor.user_id {
        return Err(AppError::Forbidden("you cannot report yourself".into()));
    }
    submit(app, new_report(actor, id.clone(), None, new)).await
}

async fn submit(app: &App, report: Report) -> Result<Report, AppError> {
    repo::create(app.table(), &report).await?;
    match fanout::admins(app).await {
        Ok(admins) => fanout::push(app, admins, &Event::Report(report.clone())).await,
        Err(e) => tracing::warn!(error = %e, "report stored, admin room not told"),
    }
    Ok(report)
}

fn admins_only(caller: &Caller, what: &str) -> Result<(), AppError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("only an admin may {what}")))
    }
}

/// Reports of one status, oldest first (admins): one `Query` on GSI1.
pub async fn reports(
    app: &App,
    caller: &Caller,
    status: ReportStatus,
    limit: u32,
    after: Option<&ReportId>,
) -> Result<(Vec<Report>, Option<String>), AppError> {
    admins_only(caller, "review reports")?;
    let (list, next) = repo::list(app.table(), status, limit, after).await?;
    Ok((list, next.map(|id| id.to_string())))
}

/// The audit log, newest first (admins): one `Query`.
pub async fn audit(
    app: &App,
    caller: &Caller,
    limit: u32,
    before: Option<&AuditId>,
) -> Result<(Vec<AuditEntry>, Option<String>), AppError> {
    admins_only(caller, "read the audit log")?;
    let (list, next) = repo::audit(app.table(), limit, before).await?;
    Ok((list, next.map(|id| id.to_string())))
}

/// A user's suspension after `DELETE /api/users/{id}/suspension`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuspensionLifted {
    pub user_id: UserId,
    /// Always false: the user may log in again (their old tokens stay revoked).
    pub suspended: bool,
}

/// Lifts `user`'s suspension before its end (admins): the user's `suspendedUntil` removed and
/// the audit entry, in one transaction. Idempotent: a user not suspended (or whose suspension
/// ended) is answered alike, with no write and no entry. 404 for a user who does not exist.
#[tracing::instrument(skip_all, fields(actor = %caller.id(), user = %user))]
pub async fn lift_suspension(app: &App, caller: &Caller, user: &UserId) -> Result<SuspensionLifted, AppError> {
    admins_only(caller, "lift a suspension")?;
    let lifted = SuspensionLifted { user_id: user.clone(), suspended: false };
    for attempt in 1..=repo::ATTEMPTS {
        let u = store::users::get(app.table(), user).await?.ok_or_else(|| AppError::not_found("user"))?;
        let Some(until) = u.suspended_until.as_deref().filter(|_| u.suspension(&iso(now_ms())).is_some()) else {
            return Ok(lifted);
        };
        let mut entry = AuditEntry::new(caller.id(), AuditAction::SuspensionLifted);
        entry.user_id = Some(user.clone());
        match app.table().transact(vec![repo::lift_op(user, until), entry.op()?]).await {
            Ok(()) => return Ok(lifted),
            // Suspended again (or deleted) meanwhile: read it again.
            Err(StoreError::TransactionCancelled { .. }) if attempt < repo::ATTEMPTS => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("too many changes at once; retry".into()))
}

/// A suspension's end as given (RFC 3339, in the future), stored in the ISO form whose text
/// sorts as time does; `None`: for good.
pub fn parse_until(until: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(until) = until else { return Ok(None) };
    let parsed = super::settings::parse_muted_until(Some(until))
        .map_err(|_| AppError::field("until", "an RFC 3339 date-time (e.g. 2030-01-01T00:00:00Z)"))?;
    match parsed {
        Some(t) if t > iso(now_ms()) => Ok(Some(t)),
        _ => Err(AppError::field("until", "a time in the future")),
    }
}

/// Resolves an open report (admins): the transition open → resolved, its audit entry and the
/// action's own writes in one transaction (two admins resolving one report: one wins, the other
/// gets 409). Deleting a message runs after the transition, through the delete of
/// `DELETE /api/messages/{id}` (its own transaction, with its change log and event); the audit
/// entry records it in the transition's.
#[tracing::instrument(skip_all, fields(actor = %caller.id(), report = %id, ?action))]
pub async fn resolve(
    app: &App,
    caller: &Caller,
    id: &ReportId,
    action: Resolution,
    until: Option<String>,
) -> Result<Report, AppError> {
    admins_only(caller, "review reports")?;
    if until.is_some() && action != Resolution::SuspendUser {
        return Err(AppError::field("until", "only for suspend_user"));
    }
    let mut report = repo::get(app.table(), id).await?.ok_or_else(|| AppError::not_found("report"))?;
    if report.status != ReportStatus::Open {
        return Err(already_resolved());
    }
    let actor = caller.actor();
    let mut entry = AuditEntry::new(caller.id(), AuditAction::ReportDismissed);
    entry.report_id = Some(report.id.clone());
    entry.user_id = Some(report.user_id.clone());
    entry.message_id = report.message_id.clone();
    entry.conversation_id = report.conversation_id.clone();
    let mut ban_target: Option<Conversation> = None;
    let mut done = false;
    for attempt in 1..=repo::ATTEMPTS {
        let mut ops = Vec::new();
        match action {
            Resolution::Dismiss => {}
            Resolution::DeleteMessage => {
                report.message_id.as_ref().ok_or_else(|| AppError::field("action", "a user report has no message"))?;
                entry.action = AuditAction::MessageDeleted;
            }
            Resolution::SuspendUser => {
                if report.user_id == *caller.id() {
                    return Err(AppError::Forbidden("you cannot suspend yourself".into()));
                }
                entry.action = AuditAction::UserSuspended;
                entry.until = until.clone();
                ops.push(repo::suspend_op(&report.user_id, until.as_deref().unwrap_or(SUSPENDED_FOR_GOOD)));
            }
            Resolution::BanFromChannel => {
                let not_in_group = || AppError::field("action", "the report is not of a message in a group or channel");
                let conv = report.conversation_id.as_ref().ok_or_else(not_in_group)?;
                let c = store::conversations::get(app.table(), conv)
                    .await?
                    .filter(|c| c.kind != ConversationKind::Direct)
                    .ok_or_else(not_in_group)?;
                if c.owner_id.as_ref() == Some(&report.user_id) {
                    return Err(AppError::Conflict("the owner cannot be banned".into()));
                }
                entry.action = AuditAction::UserBanned;
                ops.extend(repo::ban_ops(&c, &report.user_id, true));
                ban_target = Some(c);
            }
        }
        let mut all = repo::resolve_ops(&report, caller.id(), action, &entry)?;
        let own = all.len();
        all.extend(ops);
        match app.table().transact(all).await {
            Ok(()) => {
                done = true;
                break;
            }
            Err(StoreError::TransactionCancelled { failed }) if failed.contains(&0) => return Err(already_resolved()),
            Err(StoreError::TransactionCancelled { failed })
                if action == Resolution::SuspendUser && failed.contains(&own) =>
            {
                return Err(AppError::not_found("user"));
            }
            // A conflict (another admin's transition, or the group's version moved under a
            // ban): again after a short wait, the group read again; the report's condition
            // decides between two admins.
            Err(StoreError::TransactionCancelled { .. }) if attempt < repo::ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !done {
        return Err(AppError::Conflict("too many changes at once; retry".into()));
    }
    report.status = ReportStatus::Resolved;
    report.resolved_by = Some(caller.id().clone());
    report.resolved_at = Some(entry.at.clone());
    report.resolution = Some(action);
    match action {
        Resolution::Dismiss => {}
        Resolution::DeleteMessage => {
            if let Some(m) = &report.message_id {
                match messages::delete(app, &actor, m).await {
                    Ok(_) | Err(AppError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Resolution::SuspendUser => {
            realtime::end_connections(app, &report.user_id, realtime::Ending::All).await?;
        }
        Resolution::BanFromChannel => {
            if let Some(c) = ban_target {
                let was_member = c.is_member(&report.user_id);
                let c = banned(c, &report.user_id);
                if was_member {
                    groups::announce(app, &actor, &c, std::slice::from_ref(&report.user_id), MembershipAction::Removed)
                        .await;
                }
            }
        }
    }
    Ok(report)
}

fn already_resolved() -> AppError {
    AppError::Conflict("this report was already resolved".into())
}

/// The group as a ban just left it.
fn banned(mut c: Conversation, user: &UserId) -> Conversation {
    c.version += 1;
    c.member_set.retain(|m| m != user);
    c.admin_set.retain(|m| m != user);
    c.ban_set.push(user.clone());
    c
}

/// A ban or unban, as its route answers it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BanChange {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub banned: bool,
}

/// Bans (`banning`) or unbans `user` from a group or channel: its owner and admins, and system
/// admins. A ban takes the user out (membership event and notification, as a removal) and keeps
/// them out: they cannot join or be added again until unbanned. Idempotent; audited in the
/// change's transaction. Session ‖ the group ‖ the user → one transaction → the removal's event.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, group = %id, user = %user, banning))]
pub async fn ban<A>(
    app: &App,
    actor: &Actor,
    authenticate: A,
    id: &ConversationId,
    kind: ConversationKind,
    user: &UserId,
    banning: bool,
) -> Result<BanChange, AppError>
where
    A: Future<Output = Result<(), AppError>>,
{
    let (_, first, target) =
        tokio::try_join!(authenticate, groups::load(app, id, kind), store::users::get(app.table(), user))?;
    let mut loaded = Some(first);
    let change = BanChange { conversation_id: id.clone(), user_id: user.clone(), banned: banning };
    for attempt in 1..=repo::ATTEMPTS {
        let c = match loaded.take() {
            Some(c) => c,
            None => groups::load(app, id, kind).await?,
        };
        groups::check_can_see(actor, &c)?;
        if !(c.is_admin(&actor.user_id) || actor.is_admin()) {
            return Err(AppError::Forbidden("only the group's owner or admins may ban".into()));
        }
        if banning && target.is_none() {
            return Err(AppError::not_found("user"));
        }
        if *user == actor.user_id {
            return Err(AppError::Forbidden("you cannot ban yourself".into()));
        }
        if c.owner_id.as_ref() == Some(user) {
            return Err(AppError::Conflict("the owner cannot be banned".into()));
        }
        if c.ban_set.contains(user) == banning {
            return Ok(change);
        }
        let action = if banning { AuditAction::UserBanned } else { AuditAction::UserUnbanned };
        let mut entry = AuditEntry::new(&actor.user_id, action);
        entry.user_id = Some(user.clone());
        entry.conversation_id = Some(c.id.clone());
        let mut ops = repo::ban_ops(&c, user, banning);
        ops.push(entry.op()?);
        match app.table().transact(ops).await {
            Ok(()) => {
                if banning && c.is_member(user) {
                    let c = banned(c, user);
                    groups::announce(app, actor, &c, std::slice::from_ref(user), MembershipAction::Removed).await;
                }
                return Ok(change);
            }
            // The group changed meanwhile (its version) or a conflict: read it again.
            Err(StoreError::TransactionCancelled { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict("the group is changing too fast; retry".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspension_ends_in_the_future_or_never() {
        assert_eq!(parse_until(None).unwrap(), None);
        assert_eq!(
            parse_until(Some("2100-01-01T00:00:00+01:00")).unwrap().as_deref(),
            Some("2099-12-31T23:00:00.000Z")
        );
        for bad in ["2001-01-01T00:00:00Z", "tomorrow", ""] {
            assert!(matches!(parse_until(Some(bad)), Err(AppError::Validation { .. })), "{bad}");
        }
    }

    #[test]
    fn a_direct_conversation_is_guarded_by_both_users_blocks_and_a_group_by_none() {
        let (a, b) = (UserId::generate(), UserId::generate());
        let keys = block_keys(&ConversationId::direct(&a, &b), &a);
        assert_eq!(keys, [blocks::key(&b, &a), blocks::key(&a, &b)]);
        assert!(block_keys(&ConversationId::group(&crate::ids::GroupId::generate()), &a).is_empty());
    }

    #[test]
    fn resolutions_and_reasons_read_as_the_api_spells_them() {
        let r: Resolution = serde_json::from_value("ban_from_channel".into()).unwrap();
        assert_eq!(r, Resolution::BanFromChannel);
        assert!(serde_json::from_value::<Reason>("Spam".into()).is_err());
    }
}
