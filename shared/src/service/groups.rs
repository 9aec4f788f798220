//! Groups (private) and channels (public: anyone may find and join them).

use std::collections::{BTreeSet, HashMap};

use futures::future::join_all;
use futures::{stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::conversations::{self, ConversationView};
use super::{fanout, Actor};
use crate::app::App;
use crate::clock::{iso, now_ms, now_secs};
use crate::error::AppError;
use crate::events::{Event, MembersChanged, MembershipAction, MembershipChange, NotificationPush, RoleChanged};
use crate::ids::{ConversationId, GroupId, UserId};
use crate::models::{ConversationKind, NotificationKind, Person};
use crate::repo::notifications::{GroupNote, Notification, NotificationData};
use crate::repo::{self, conversations::Conversation, groups::Change};

/// Concurrent notifications written when many members are added at once.
const NOTIFY_CONCURRENCY: usize = 16;
/// Concurrent membership changes on one group retry on its version this many times.
const CHANGE_ATTEMPTS: u32 = 8;

/// The longest group or channel name, in characters.
pub const NAME_MAX: usize = 100;

pub fn parse_name(name: &str) -> Result<String, AppError> {
    crate::text::parse("name", name, 1, NAME_MAX, crate::text::Lines::Single)
}

/// Resolves members given as ids or usernames: one `BatchGetItem` per 100 ids, one lookup per
/// username (concurrently). Unknown members are a 400 naming them.
async fn resolve(app: &App, who: &[String]) -> Result<Vec<UserId>, AppError> {
    let (ids, names): (Vec<_>, Vec<_>) = who.iter().partition(|w| UserId::parse(w).is_some());
    let ids: Vec<UserId> = ids.iter().filter_map(|w| UserId::parse(w)).collect();
    let found: BTreeSet<UserId> = repo::users::get_many(app.table(), &ids).await?.into_iter().map(|u| u.id).collect();
    let mut missing: Vec<String> = ids.iter().filter(|i| !found.contains(*i)).map(ToString::to_string).collect();
    let mut by_name = Vec::new();
    for chunk in names.chunks(NOTIFY_CONCURRENCY) {
        for found in join_all(chunk.iter().map(|n| lookup(app, n))).await {
            by_name.push(found?);
        }
    }
    let mut out: Vec<UserId> = found.into_iter().collect();
    for (name, id) in by_name {
        match id {
            Some(id) => out.push(id),
            // Named back only when it could be a username: no arbitrary submitted text echoed.
            None => {
                missing.push(crate::models::Username::parse(&name).map_or_else(|_| "(not a username)".into(), |_| name))
            }
        }
    }
    if !missing.is_empty() {
        return Err(AppError::UnknownMembers(missing));
    }
    Ok(out)
}

async fn lookup(app: &App, name: &str) -> Result<(String, Option<UserId>), AppError> {
    let user = repo::users::find_by_username(app.table(), name).await?;
    Ok((name.to_owned(), user.map(|u| u.id)))
}

fn not_this_kind(kind: ConversationKind) -> AppError {
    AppError::not_found(kind.as_str())
}

fn too_many_members(app: &App) -> AppError {
    AppError::field("members", format!("at most {} members", app.config.max_group_members))
}

/// Creates a group or channel owned by the caller, with `members` (ids or usernames).
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, members = members.len()))]
pub async fn create(
    app: &App,
    actor: &Actor,
    kind: ConversationKind,
    name: &str,
    members: &[String],
) -> Result<GroupView, AppError> {
    let name = parse_name(name)?;
    if members.len() > app.config.max_group_members {
        return Err(too_many_members(app));
    }
    let mut member_set: BTreeSet<UserId> = resolve(app, members).await?.into_iter().collect();
    member_set.insert(actor.user_id.clone());
    if member_set.len() > app.config.max_group_members {
        return Err(too_many_members(app));
    }
    let now = iso(now_ms());
    let c = Conversation {
        id: ConversationId::group(&GroupId::generate()),
        kind,
        name: Some(name),
        owner_id: Some(actor.user_id.clone()),
        member_set: member_set.into_iter().collect(),
        admin_set: vec![],
        created_at: now.clone(),
        version: 0,
        policy: Default::default(),
        ban_set: vec![],
    };
    repo::groups::create(app.table(), &c, &now).await?;
    let added: Vec<UserId> = c.member_set.iter().filter(|m| **m != actor.user_id).cloned().collect();
    let ((), view) = tokio::join!(announce(app, actor, &c, &added, MembershipAction::Added), view(app, actor, &c));
    view
}

/// Tells the members concerned: one `membership` event to the members and the affected users,
/// and a stored notification, pushed live with it, to each affected user but the actor. The
/// notifications are written while the audience's presence is read (once, for both events).
pub(crate) async fn announce(
    app: &App,
    actor: &Actor,
    c: &Conversation,
    affected: &[UserId],
    action: MembershipAction,
) {
    let change = MembershipChange::Members(MembersChanged {
        conversation_id: c.id.clone(),
        kind: c.kind,
        name: c.name.clone(),
        action,
        by: actor.user_id.clone(),
        user_id: affected.first().cloned(),
        user_ids: affected.to_vec(),
    });
    let mut audience = c.member_set.clone();
    audience.extend(affected.iter().filter(|u| !c.is_member(u)).cloned());
    let added = action == MembershipAction::Added;
    let kind = if added { NotificationKind::AddedToGroup } else { NotificationKind::RemovedFromGroup };
    let (verb, preposition) = if added { ("added", "to") } else { ("removed", "from") };
    let text = format!("{} {verb} you {preposition} {}", actor.username, c.name.as_deref().unwrap_or_default());
    let note = NotificationData::Group(GroupNote { conversation_id: c.id.clone(), by: actor.user_id.clone() });
    let (created_at, secs) = (iso(now_ms()), now_secs());
    let notes: Vec<Notification> = affected
        .iter()
        .filter(|u| **u != actor.user_id)
        .map(|u| Notification::new(u, kind, &text, note.clone(), created_at.clone()))
        .collect();
    let writes = stream::iter(notes)
        .map(|n| async move {
            let stored = repo::notifications::create(app.table(), &n, secs).await;
            (n, stored)
        })
        .buffer_unordered(NOTIFY_CONCURRENCY)
        .collect::<Vec<_>>();
    let (written, connections) = tokio::join!(writes, fanout::connections(app, &audience));
    // Only a stored notification is pushed (it can be marked read).
    let mut pushed: HashMap<UserId, Vec<u8>> = HashMap::new();
    for (n, stored) in written {
        match stored {
            Ok(()) => {
                let frame = Event::Notification(NotificationPush::Stored(n.clone())).frame();
                pushed.insert(n.user_id.clone(), frame);
            }
            Err(e) => tracing::warn!(error = %e, "membership notification not stored"),
        }
    }
    let connections = match connections {
        Ok(connections) => connections,
        Err(e) => {
            tracing::warn!(error = %e, "membership event and notifications not pushed");
            return;
        }
    };
    let event = Event::Membership(change).frame();
    fanout::push_each(app, connections, |user| {
        std::iter::once(event.clone()).chain(pushed.get(user).cloned()).collect()
    })
    .await;
}

/// Details with members: members of a group (and admins); anyone for a channel.
pub async fn get(app: &App, actor: &Actor, id: &ConversationId, kind: ConversationKind) -> Result<GroupView, AppError> {
    let c = load(app, id, kind).await?;
    check_can_see(actor, &c)?;
    view(app, actor, &c).await
}

pub(crate) async fn load(app: &App, id: &ConversationId, kind: ConversationKind) -> Result<Conversation, AppError> {
    repo::conversations::get(app.table(), id).await?.filter(|c| c.kind == kind).ok_or_else(|| not_this_kind(kind))
}

/// A private group is invisible to non-members: the same 404 as a group that does not exist.
pub(crate) fn check_can_see(actor: &Actor, c: &Conversation) -> Result<(), AppError> {
    if c.kind == ConversationKind::Channel || c.is_member(&actor.user_id) || actor.is_admin() {
        Ok(())
    } else {
        Err(not_this_kind(c.kind))
    }
}

/// A group or channel with its members in full.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub id: ConversationId,
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    pub name: Option<String>,
    pub owner_id: Option<UserId>,
    /// The group admins (the owner is not listed).
    pub admins: Vec<UserId>,
    pub members: Vec<GroupMember>,
    pub member_count: usize,
    pub is_member: bool,
    pub created_at: String,
}

/// A member and their role in the group.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct GroupMember {
    #[serde(flatten)]
    pub person: Person,
    pub role: GroupRole,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupRole {
    Owner,
    Admin,
    Member,
}

async fn view(app: &App, actor: &Actor, c: &Conversation) -> Result<GroupView, AppError> {
    let users: HashMap<_, _> =
        repo::users::get_many(app.table(), &c.member_set).await?.into_iter().map(|u| (u.id.clone(), u)).collect();
    let members = c
        .member_set
        .iter()
        .map(|id| GroupMember {
            person: Person::public(id, users.get(id)),
            role: if c.owner_id.as_ref() == Some(id) {
                GroupRole::Owner
            } else if c.admin_set.contains(id) {
                GroupRole::Admin
            } else {
                GroupRole::Member
            },
        })
        .collect();
    Ok(GroupView {
        id: c.id.clone(),
        kind: c.kind,
        name: c.name.clone(),
        owner_id: c.owner_id.clone(),
        admins: c.admin_set.clone(),
        members,
        member_count: c.member_set.len(),
        is_member: c.is_member(&actor.user_id),
        created_at: c.created_at.clone(),
    })
}

/// The groups (or channels) I belong to.
pub async fn list(app: &App, actor: &Actor, kind: ConversationKind) -> Result<Vec<ConversationView>, AppError> {
    conversations::list_of(app, actor, Some(kind)).await
}

/// A public channel as anyone may find it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelListing {
    pub id: ConversationId,
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    pub name: Option<String>,
    pub member_count: usize,
    pub is_member: bool,
    pub created_at: String,
}

/// Every public channel (the first 100 by id).
pub async fn discover(app: &App, actor: &Actor) -> Result<Vec<ChannelListing>, AppError> {
    let kind = ConversationKind::Channel;
    let (all, _) = repo::conversations::list_all(app.table(), Some(kind), crate::models::MAX_PAGE, None).await?;
    Ok(all
        .into_iter()
        .map(|c| ChannelListing {
            is_member: c.is_member(&actor.user_id),
            member_count: c.member_set.len(),
            id: c.id,
            kind: c.kind,
            name: c.name,
            created_at: c.created_at,
        })
        .collect())
}

/// The `action` of a member change, as the API spells it (`add`, `remove`, `promote`, `demote`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberAction {
    Add,
    Remove,
    /// Owner only: make a member a group admin, or back.
    Promote,
    Demote,
}

/// `{memberId, action}`: group admins (owner, admins) and system admins add and remove anyone
/// but the owner; a user may remove themselves, and join a channel. Idempotent.
#[tracing::instrument(skip_all, fields(actor = %actor.user_id, group = %id))]
pub async fn change_member(
    app: &App,
    actor: &Actor,
    id: &ConversationId,
    kind: ConversationKind,
    member: &str,
    action: MemberAction,
) -> Result<GroupView, AppError> {
    // The member and the group do not depend on each other: read both at once. An unknown
    // member is seed 002's 404, told only to whoever may see the group (after its own 404).
    let wanted = [member.to_owned()];
    let (member, first) = tokio::join!(resolve(app, &wanted), load(app, id, kind));
    let first = first?;
    check_can_see(actor, &first)?;
    let member = match member {
        Ok(mut found) => found.remove(0),
        Err(AppError::Validation { .. }) => return Err(AppError::not_found("member")),
        Err(e) => return Err(e),
    };
    let mut loaded = Some(first);
    for _ in 0..CHANGE_ATTEMPTS {
        let c = match loaded.take() {
            Some(c) => c,
            None => load(app, id, kind).await?,
        };
        check_can_see(actor, &c)?;
        let manager = c.is_admin(&actor.user_id) || actor.is_admin();
        let is_self = member == actor.user_id;
        let allowed = match action {
            MemberAction::Add => manager || (is_self && kind == ConversationKind::Channel),
            MemberAction::Remove => manager || is_self,
            MemberAction::Promote | MemberAction::Demote => {
                c.owner_id.as_ref() == Some(&actor.user_id) || actor.is_admin()
            }
        };
        if !allowed {
            return Err(AppError::Forbidden("only the group's owner or admins may do that".into()));
        }
        if action == MemberAction::Add && c.ban_set.contains(&member) {
            return Err(AppError::Forbidden("this user is banned from this group".into()));
        }
        if c.owner_id.as_ref() == Some(&member) && action != MemberAction::Add {
            return Err(AppError::Conflict("the owner stays in the group".into()));
        }
        let done = match action {
            MemberAction::Add if c.is_member(&member) => return view(app, actor, &c).await,
            MemberAction::Remove if !c.is_member(&member) => return view(app, actor, &c).await,
            MemberAction::Add if c.member_set.len() >= app.config.max_group_members => {
                return Err(too_many_members(app));
            }
            MemberAction::Add | MemberAction::Remove => {
                let change = if action == MemberAction::Add { Change::Add } else { Change::Remove };
                repo::groups::change_member(app.table(), &c, &member, change, &iso(now_ms())).await?
            }
            MemberAction::Promote | MemberAction::Demote if !c.is_member(&member) => {
                return Err(AppError::not_found("member"));
            }
            MemberAction::Promote | MemberAction::Demote => {
                repo::groups::set_admin(app.table(), &c, &member, action == MemberAction::Promote).await?
            }
        };
        if done {
            let c = applied(c, &member, action);
            let verb = match action {
                MemberAction::Add => MembershipAction::Added,
                MemberAction::Remove => MembershipAction::Removed,
                MemberAction::Promote => MembershipAction::Promoted,
                MemberAction::Demote => MembershipAction::Demoted,
            };
            let tell = async {
                if matches!(action, MemberAction::Add | MemberAction::Remove) {
                    announce(app, actor, &c, std::slice::from_ref(&member), verb).await;
                    Ok(())
                } else {
                    let change = RoleChanged {
                        conversation_id: c.id.clone(),
                        user_id: member.clone(),
                        action: verb,
                        by: actor.user_id.clone(),
                    };
                    fanout::to_members(app, &c, None, &Event::Membership(MembershipChange::Role(change))).await
                }
            };
            let (told, view) = tokio::join!(tell, view(app, actor, &c));
            told?;
            return view;
        }
    }
    Err(AppError::Conflict("the group is changing too fast; retry".into()))
}

/// The group as the change just written left it (no need to read it back).
fn applied(mut c: Conversation, member: &UserId, action: MemberAction) -> Conversation {
    c.version += 1;
    match action {
        MemberAction::Add => c.member_set.push(member.clone()),
        MemberAction::Remove => {
            c.member_set.retain(|m| m != member);
            c.admin_set.retain(|m| m != member);
        }
        MemberAction::Promote => c.admin_set.push(member.clone()),
        MemberAction::Demote => c.admin_set.retain(|m| m != member),
    }
    c
}

#[cfg(test)]
mod tests {
    use super::MemberAction;

    #[test]
    fn member_actions_read_as_the_api_spells_them() {
        for (s, a) in [
            ("add", MemberAction::Add),
            ("remove", MemberAction::Remove),
            ("promote", MemberAction::Promote),
            ("demote", MemberAction::Demote),
        ] {
            assert_eq!(serde_json::from_value::<MemberAction>(s.into()).unwrap(), a);
        }
        assert!(serde_json::from_value::<MemberAction>("Add".into()).is_err());
    }
}
