//! `/api/users`: directory, me, get, update, delete.

use chat::ids::UserId;
use chat::models::{bounded, Email, Password, Role, Username, Visibility, DEFAULT_PAGE, MAX_PAGE};
use chat::service::users::{self, ProfileUpdate};
use chat::store::Item;
use chat::{repo, App, AppError};
use lambda_http::Request;
use serde::Deserialize;
use serde_json::json;

use super::{body, caller, path_id, query_param, Reply};

fn limit(req: &Request) -> Result<u32, AppError> {
    match query_param(req, "limit") {
        None => Ok(DEFAULT_PAGE),
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| AppError::field("limit", format!("1 to {MAX_PAGE}"))),
    }
}

/// The cursor is the last user id of the previous page (GSI1 is sorted by user id).
fn start_key(cursor: Option<String>) -> Result<Option<Item>, AppError> {
    let Some(cursor) = cursor else { return Ok(None) };
    let id = UserId::parse(&cursor).ok_or_else(|| AppError::field("cursor", "invalid cursor"))?;
    let key = repo::keys::user(&id);
    let item = json!({ "pk": key.pk, "sk": key.sk, "gsi1pk": repo::keys::USERS_GSI, "gsi1sk": id });
    Ok(item.as_object().cloned())
}

/// Admins: every user, every field. Others: the other users' public fields (the sidebar).
pub async fn list(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let (users, next) = repo::users::list(app.table(), limit(&req)?, start_key(query_param(&req, "cursor"))?).await?;
    let visibility = if caller.is_admin() { Visibility::Private } else { Visibility::Public };
    let cursor = next.as_ref().and_then(|_| users.last()).map(|u| u.id.to_string());
    let data = users.iter().filter(|u| caller.is_admin() || u.id != *caller.id()).map(|u| u.view(visibility)).collect();
    Ok(Reply::page(data, cursor))
}

pub async fn me(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::ok(caller.user.view(Visibility::Private)))
}

pub async fn get(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = path_id(&req, "id", UserId::parse, "user")?;
    let user = repo::users::get(app.table(), &id).await?.ok_or_else(|| AppError::not_found("user"))?;
    let visibility = if users::may_manage(&caller, &id) { Visibility::Private } else { Visibility::Public };
    Ok(Reply::ok(user.view(visibility)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateBody {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    current_password: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    phone: Option<String>,
    profile_picture: Option<String>,
    gender: Option<String>,
    is_onboarding_completed: Option<bool>,
    role: Option<Role>,
}

impl UpdateBody {
    fn parse(self) -> Result<ProfileUpdate, AppError> {
        Ok(ProfileUpdate {
            username: self.username.as_deref().map(Username::parse).transpose()?,
            email: self.email.as_deref().map(Email::parse).transpose()?,
            password: self.password.as_deref().map(Password::parse).transpose()?,
            current_password: self.current_password,
            first_name: bounded("firstName", self.first_name, 64)?,
            last_name: bounded("lastName", self.last_name, 64)?,
            company: bounded("company", self.company, 100)?,
            phone: bounded("phone", self.phone, 32)?,
            profile_picture: bounded("profilePicture", self.profile_picture, 2048)?,
            gender: bounded("gender", self.gender, 32)?,
            is_onboarding_completed: self.is_onboarding_completed,
            role: self.role,
        })
    }
}

pub async fn update(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = path_id(&req, "id", UserId::parse, "user")?;
    let patch = body::<UpdateBody>(&req)?.parse()?;
    let (user, session) = users::update(app, &caller, &id, patch).await?;
    let mut data = json!({ "user": user.view(Visibility::Private) });
    Ok(match session {
        Some(s) => {
            data["token"] = s.token.clone().into();
            let cookie = chat::auth::session_cookie(&s.token, app.tokens.ttl_secs(), app.config.cookie_secure);
            Reply::ok(data).cookie(cookie)
        }
        None => Reply::ok(data),
    })
}

pub async fn delete(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = path_id(&req, "id", UserId::parse, "user")?;
    users::delete(app, &caller, &id).await?;
    Ok(Reply::ok(json!({ "deleted": true, "id": id })))
}
