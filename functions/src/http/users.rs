//! `/api/users`: directory, me, get, update, delete.

use chat::ids::UserId;
use chat::models::Limit;
use chat::models::{parse_limit, Email, Password, Profile, Role, Username, Visibility, DEFAULT_PAGE};
#[cfg(feature = "schema")]
use chat::models::{COMPANY_MAX, FIRST_NAME_MAX, GENDER_MAX, LAST_NAME_MAX, PHONE_MAX, PROFILE_PICTURE_MAX};
use chat::service::users::{self, ProfileUpdate};
#[cfg(feature = "schema")]
use chat::text::Text;
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;

/// `GET /api/users`'s parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct ListQuery {
    /// Page size, 1 to 100 (400 otherwise).
    pub limit: Option<Limit>,
    /// `nextCursor` of the previous page (400 when not a user id).
    pub cursor: Option<UserId>,
}

/// The answer of a deletion: `deleted` is always `true`.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Deleted{Id}"))]
pub struct Deleted<Id> {
    pub deleted: bool,
    pub id: Id,
}

use super::{body, caller, path_id, query_param, Reply};

fn limit(req: &Request) -> Result<u32, AppError> {
    Ok(parse_limit(query_param(req, "limit").as_deref())?.unwrap_or(DEFAULT_PAGE))
}

/// Admins: every user, every field. Others: the other users' public fields (the sidebar).
pub async fn list(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    // The cursor is the last user id of the previous page.
    let after = query_param(&req, "cursor")
        .map(|c| UserId::parse(&c).ok_or_else(|| AppError::field("cursor", "invalid cursor")))
        .transpose()?;
    let (users, next) = users::directory(app, &caller, limit(&req)?, after.as_ref()).await?;
    Ok(Reply::page(users, next))
}

pub async fn me(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::ok(caller.user.view(Visibility::Private)))
}

pub async fn get(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let id = path_id(&req, "id", UserId::parse, "user")?;
    Ok(Reply::ok(users::get(app, &caller, &id).await?))
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateBody {
    #[cfg_attr(feature = "schema", schemars(with = "Option<Username>"))]
    username: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<Email>"))]
    email: Option<String>,
    /// Your own password needs `currentPassword` (403 when it does not match); ends every connection of the user, and the
    /// answer carries a new token (also set as the cookie) when it is yours.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Password>"))]
    password: Option<String>,
    current_password: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, FIRST_NAME_MAX, false>>"))]
    first_name: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, LAST_NAME_MAX, false>>"))]
    last_name: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, COMPANY_MAX, false>>"))]
    company: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, PHONE_MAX, false>>"))]
    phone: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, PROFILE_PICTURE_MAX, false>>"))]
    profile_picture: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, GENDER_MAX, false>>"))]
    gender: Option<String>,
    is_onboarding_completed: Option<bool>,
    /// Admins only (403 otherwise).
    role: Option<Role>,
}

impl UpdateBody {
    fn parse(self) -> Result<ProfileUpdate, AppError> {
        Ok(ProfileUpdate {
            username: self.username.as_deref().map(Username::parse).transpose()?,
            email: self.email.as_deref().map(Email::parse).transpose()?,
            password: self.password.as_deref().map(Password::parse).transpose()?,
            current_password: self.current_password,
            profile: Profile {
                first_name: self.first_name,
                last_name: self.last_name,
                company: self.company,
                phone: self.phone,
                profile_picture: self.profile_picture,
                gender: self.gender,
            }
            .parse()?,
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
    let data =
        users::Updated { user: user.view(Visibility::Private), token: session.as_ref().map(|s| s.token.clone()) };
    Ok(match session {
        Some(s) => {
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
    Ok(Reply::ok(Deleted { deleted: true, id }))
}
