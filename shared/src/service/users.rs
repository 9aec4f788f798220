//! Registration, login, profile updates and deletion.

use serde::Serialize;

use crate::app::{App, Caller};
use crate::auth::Claims;
use crate::clock::{iso, now_ms};
use crate::error::AppError;
use crate::ids::{TokenId, UserId};
use crate::login_guard::{self, Counter, Policy};
use crate::models::{Email, Password, Profile, Role, User, UserView, Username, Visibility};
use crate::repo;
use crate::service::realtime;
use crate::store::Key;

/// A parsed registration.
#[derive(Debug)]
pub struct Registration {
    pub username: Username,
    pub email: Option<Email>,
    pub password: Password,
    pub profile: Profile,
    pub role: Role,
}

impl Registration {
    /// Just the credentials and the role; the profile fields start empty.
    pub fn minimal(username: Username, password: Password, role: Role) -> Self {
        Self { username, email: None, password, profile: Profile::default(), role }
    }
}

pub struct Session {
    pub user: User,
    pub token: String,
    pub claims: Claims,
}

impl Session {
    /// What the client gets (the token is also set as a cookie).
    pub fn view(&self) -> SessionView {
        SessionView {
            user: self.user.view(Visibility::Private),
            token: self.token.clone(),
            expires_at: self.claims.exp,
        }
    }
}

/// A session as the client gets it: the user in full and the token, valid until `expiresAt`
/// (seconds since the epoch).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub user: UserView,
    pub token: String,
    pub expires_at: i64,
}

/// A profile after an update, and the new token when the user changed their own password.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct Updated {
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Creates a user. `role: admin` needs an admin caller (SPEC §2: no self-promotion).
#[tracing::instrument(skip_all, fields(username = %reg.username.as_str()))]
pub async fn register(app: &App, caller: Option<&Caller>, reg: Registration) -> Result<Session, AppError> {
    if reg.role == Role::Admin && !caller.is_some_and(Caller::is_admin) {
        return Err(AppError::Forbidden("only an admin may create an admin".into()));
    }
    let user = new_user(app, reg).await?;
    repo::users::create(app.table(), &user).await?;
    let (token, claims) = app.tokens.issue(&user)?;
    Ok(Session { user, token, claims })
}

async fn new_user(app: &App, reg: Registration) -> Result<User, AppError> {
    let hash = app.hasher.hash(reg.password).await?;
    Ok(User {
        email: reg.email.map(|e| e.as_str().to_owned()),
        profile: reg.profile,
        ..User::new(reg.username.as_str(), hash, reg.role, &iso(now_ms()))
    })
}

/// Makes sure an admin with this username exists (the bootstrap path: `CHAT_ADMIN_USERNAME` /
/// `CHAT_ADMIN_PASSWORD` locally, the `create-admin` command on AWS). An existing user of that
/// name is left as it is.
pub async fn ensure_admin(app: &App, username: Username, password: Password) -> Result<bool, AppError> {
    if repo::users::find_by_login(app.table(), username.as_str()).await?.is_some() {
        return Ok(false);
    }
    let user = new_user(app, Registration::minimal(username, password, Role::Admin)).await?;
    match repo::users::create(app.table(), &user).await {
        Ok(()) => Ok(true),
        Err(AppError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The same answer, after the same work, for an unknown user and a wrong password; slowed down
/// after repeated failures of the name or the address (`login_guard`).
///
/// DynamoDB: the login lock and both failure counters (one `BatchGetItem`) → the user ‖ the
/// attempt's reservations on the name and the address (`GetItem` ‖ `UpdateItem` ‖ `UpdateItem`,
/// and the address's block once past its allowance) → argon2 → on success, both given back
/// (`DeleteItem` ‖ `UpdateItem`); on failure nothing more (already counted).
#[tracing::instrument(skip_all)]
pub async fn login(app: &App, login: &str, password: String, source_ip: Option<&str>) -> Result<Session, AppError> {
    let (table, config, now) = (app.table(), &app.config, now_ms());
    // The lock that `repo::users::find_by_login` reads, fetched here with the counters.
    let normalized = login_guard::normalize(login);
    // No account's name is this long or has control characters (nor could its counter be
    // stored), and no password is this long: the answer of an unknown user, without touching the
    // store or hashing; it says nothing about who exists.
    if normalized.is_empty()
        || normalized.len() > 254
        || password.len() > 1024
        || normalized.chars().any(char::is_control)
    {
        return Err(AppError::Unauthorized("invalid credentials".into()));
    }
    let lock_key = repo::users::login_lock(&normalized);
    let name_key = login_guard::name_key(login);
    let ip_key = source_ip.map(login_guard::ip_key);
    let mut wanted = vec![lock_key.clone(), name_key.clone()];
    wanted.extend(ip_key.clone());
    let items = table.batch_get(&wanted).await?;
    let counter = |key: &Key| Counter::from_item(repo::pick(&items, key).as_ref(), now);
    let (name, ip) = (counter(&name_key), ip_key.as_ref().map(counter).unwrap_or_default());
    name.check(now)?;
    ip.check(now)?;

    let user_id = repo::pick(&items, &lock_key)
        .and_then(|lock| repo::string_field(&lock, "userId"))
        .and_then(|id| UserId::parse(&id));
    let user = async {
        match &user_id {
            Some(id) => repo::users::get(table, id).await,
            None => Ok(None),
        }
    };
    let policy = |free| Policy { free, base_delay_ms: config.login_base_delay_ms };
    let reserve = login_guard::reserve(table, &name_key, &name, now, policy(config.login_free_failures));
    let reserve_ip = async {
        match &ip_key {
            Some(key) => login_guard::reserve_ip(table, key, &ip, now, policy(config.login_free_failures_per_ip)).await,
            None => Ok(()),
        }
    };
    let (user, (), ()) = tokio::try_join!(user, reserve, reserve_ip)?;
    let ok = app.hasher.verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    match user {
        Some(user) if ok => {
            // Not being able to forget the failures must not fail a correct login: the
            // reservations expire with their windows anyway.
            let release_ip = async {
                match &ip_key {
                    Some(key) => login_guard::release_ip(table, key).await,
                    None => Ok(()),
                }
            };
            let (reset, released) = tokio::join!(login_guard::reset(table, &name_key), release_ip);
            if let Err(e) = reset.and(released) {
                tracing::warn!(error = %e, "could not forget a login failure");
            }
            // Told only to whoever knows the password: a suspension is no secret to its user.
            if let Some(until) = user.suspension(&iso(now_ms())) {
                return Err(AppError::AccountSuspended { until });
            }
            let (token, claims) = app.tokens.issue(&user)?;
            Ok(Session { user, token, claims })
        }
        _ => Err(AppError::Unauthorized("invalid credentials".into())),
    }
}

/// Revokes the caller's token until it expires and ends the connections opened with it.
#[tracing::instrument(skip_all, fields(user = %caller.id()))]
pub async fn logout(app: &App, caller: &Caller) -> Result<(), AppError> {
    end_token(app, caller).await
}

/// A fresh token; the old one is revoked (so a refresh cannot multiply live tokens) and its
/// connections end: the client reconnects with the new one.
#[tracing::instrument(skip_all, fields(user = %caller.id()))]
pub async fn refresh(app: &App, caller: &Caller) -> Result<Session, AppError> {
    let (token, claims) = app.tokens.issue(&caller.user)?;
    end_token(app, caller).await?;
    Ok(Session { user: caller.user.clone(), token, claims })
}

/// The revocation and the end of the token's connections (SPEC §7), concurrently; both run to
/// completion (a half-done removal would leave a connection open), then the first error counts.
async fn end_token(app: &App, caller: &Caller) -> Result<(), AppError> {
    let ending = realtime::Ending::OpenedWith(&caller.claims.jti);
    let (revoked, ended) = tokio::join!(
        repo::tokens::revoke(app.table(), &caller.claims),
        realtime::end_connections(app, caller.id(), ending),
    );
    revoked.and(ended)
}

/// A parsed profile update; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub username: Option<Username>,
    pub email: Option<Email>,
    pub password: Option<Password>,
    pub current_password: Option<String>,
    pub profile: Profile,
    pub is_onboarding_completed: Option<bool>,
    pub role: Option<Role>,
}

pub fn may_manage(caller: &Caller, target: &UserId) -> bool {
    caller.id() == target || caller.is_admin()
}

/// A user: every field for self and admins, the public ones for others. One `GetItem`.
pub async fn get(app: &App, caller: &Caller, id: &UserId) -> Result<UserView, AppError> {
    let user = repo::users::get(app.table(), id).await?.ok_or_else(|| AppError::not_found("user"))?;
    let visibility = if may_manage(caller, id) { Visibility::Private } else { Visibility::Public };
    Ok(user.view(visibility))
}

/// The directory, by id, `limit` at most after `after` (the last id of the previous page):
/// admins see every user, every field; others the other users' public fields (the sidebar).
/// Returns the next cursor when more may follow.
pub async fn directory(
    app: &App,
    caller: &Caller,
    limit: u32,
    after: Option<&UserId>,
) -> Result<(Vec<UserView>, Option<String>), AppError> {
    let (users, next) = repo::users::list(app.table(), limit, after).await?;
    let visibility = if caller.is_admin() { Visibility::Private } else { Visibility::Public };
    let shown = users.iter().filter(|u| caller.is_admin() || u.id != *caller.id()).map(|u| u.view(visibility));
    Ok((shown.collect(), next.map(|id| id.to_string())))
}

/// Self or admin. Changing the password invalidates every older token; a user changing their
/// own password must give the current one, and gets a new token back. A password or role change
/// ends the user's connections: older tokens are dead, and a connection's role (the authorizer's
/// context, the admin room) is fixed at `$connect`, so the client reconnects to get the new one.
#[tracing::instrument(skip_all, fields(target = %target))]
pub async fn update(
    app: &App,
    caller: &Caller,
    target: &UserId,
    patch: ProfileUpdate,
) -> Result<(User, Option<Session>), AppError> {
    if !may_manage(caller, target) {
        return Err(AppError::Forbidden("you may only change your own profile".into()));
    }
    if patch.role.is_some_and(|r| r != caller.user.role || caller.id() != target) && !caller.is_admin() {
        return Err(AppError::Forbidden("only an admin may change roles".into()));
    }
    let before = repo::users::get(app.table(), target).await?.ok_or_else(|| AppError::not_found("user"))?;
    let mut after = before.clone();
    if let Some(password) = patch.password {
        if caller.id() == target {
            let current = patch.current_password.unwrap_or_default();
            if !app.hasher.verify(current, Some(before.password_hash.clone())).await? {
                // A credential check, not a malformed request: 403 (401 would end the session).
                return Err(AppError::Forbidden("currentPassword does not match".into()));
            }
        }
        after.password_hash = app.hasher.hash(password).await?;
        after.tokens_valid_after = Some(TokenId::generate().to_string());
    }
    if let Some(u) = patch.username {
        after.username = u.as_str().to_owned();
    }
    if let Some(e) = patch.email {
        after.email = Some(e.as_str().to_owned());
    }
    after.profile.apply(patch.profile);
    if let Some(done) = patch.is_onboarding_completed {
        after.is_onboarding_completed = done;
    }
    if let Some(role) = patch.role {
        after.role = role;
    }
    after.updated_at = iso(now_ms());
    repo::users::update(app.table(), &before, &after).await?;
    // The authorizer's context (role, username) is fixed at `$connect`: a socket must not carry
    // an old role or name past the change (the name is the sender's in every push).
    let context_changed = after.role != before.role || after.username != before.username;
    if after.tokens_valid_after != before.tokens_valid_after || context_changed {
        realtime::end_connections(app, target, realtime::Ending::All).await?;
    }
    let session = if after.tokens_valid_after != before.tokens_valid_after && caller.id() == target {
        let (token, claims) = app.tokens.issue(&after)?;
        Some(Session { user: after.clone(), token, claims })
    } else {
        None
    };
    Ok((after, session))
}

/// Self or admin. Tokens die with the user (authentication reads the user); live connections
/// are closed; messages stay, attributed to a deleted user.
#[tracing::instrument(skip_all, fields(target = %target))]
pub async fn delete(app: &App, caller: &Caller, target: &UserId) -> Result<(), AppError> {
    if !may_manage(caller, target) {
        return Err(AppError::Forbidden("you may only delete your own account".into()));
    }
    let user = repo::users::get(app.table(), target).await?.ok_or_else(|| AppError::not_found("user"))?;
    repo::users::delete(app.table(), &user).await?;
    // A deleted account's phones get nothing more: their registrations and endpoints go too.
    let (ended, unregistered) = tokio::join!(
        realtime::end_connections(app, target, realtime::Ending::All),
        super::devices::unregister_all(app, target),
    );
    ended.and(unregistered)
}

/// A WebSocket ticket, for clients that cannot send a token at the handshake (browsers).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    /// Pass as `?ticket=` on the WebSocket URL: once, within 30 seconds.
    pub ticket: String,
    pub expires_at: String,
}

/// A single-use ticket standing for the caller's token (one `PutItem`): the connection it opens
/// ends with that token.
#[tracing::instrument(skip_all, fields(user = %caller.id()))]
pub async fn ws_ticket(app: &App, caller: &Caller) -> Result<TicketView, AppError> {
    let now = crate::clock::now_secs();
    let token = (&caller.claims.jti, caller.claims.exp);
    let (ticket, stored) = repo::tickets::create(app.table(), caller.id(), token, now).await?;
    Ok(TicketView { ticket, expires_at: iso(stored.ttl * 1000) })
}

/// The session a ticket stands for, the ticket used up (one `DeleteItem`, then the token's
/// session check, one `BatchGetItem`): a used, expired or unknown ticket, or one whose token
/// has ended since, is a 401.
pub async fn redeem_ticket(app: &App, ticket: &str) -> Result<(User, TokenId, i64), AppError> {
    let now = crate::clock::now_secs();
    let taken = repo::tickets::redeem(app.table(), ticket, now).await?;
    let ticket = taken
        .filter(|t| t.token_expires_at >= now)
        .ok_or_else(|| AppError::Unauthorized("invalid or expired ticket".into()))?;
    let user = app.live_user(&ticket.user_id, &ticket.token_id).await?;
    Ok((user, ticket.token_id, ticket.token_expires_at))
}
