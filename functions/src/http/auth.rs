//! Registration (`/api/users/register`, `/api/auth/signup`, and by name and email at
//! `/users/auth/create`), login (by username or email; by email answering 404 at
//! `/users/auth/login`), logout, refresh.

use chat::auth::{clear_cookie, session_cookie};
use chat::models::{bounded, Email, Password, Profile, Role, Username};
#[cfg(feature = "schema")]
use chat::models::{
    COMPANY_MAX, FIRST_NAME_MAX, FULL_NAME_MAX, GENDER_MAX, LAST_NAME_MAX, PHONE_MAX, PROFILE_PICTURE_MAX,
};
use chat::service::users::{self, Registration, Session};
#[cfg(feature = "schema")]
use chat::text::Text;
use chat::{App, AppError};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;

use super::{body, caller, optional_caller, Reply};

/// A new user: seed 002's fields and the signup form's (`fullName`, `confirmPassword`,
/// `gender`). Any other field (`id`, `createdAt`, `passwordHash`, …) is refused with 400.
///
/// Both registration shapes: seed 002's (`firstName`, `lastName`) and the signup form's
/// (`fullName`, `confirmPassword`, `gender`). Unknown fields (`id`, `createdAt`, …) are refused.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterBody {
    #[cfg_attr(feature = "schema", schemars(with = "Username"))]
    username: String,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Email>"))]
    email: Option<String>,
    #[cfg_attr(feature = "schema", schemars(with = "Password"))]
    password: String,
    /// Must equal `password` (400 otherwise).
    #[serde(default)]
    confirm_password: Option<String>,
    /// Split at the first space into `firstName` and `lastName` where those are not given.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, FULL_NAME_MAX, false>>"))]
    full_name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, FIRST_NAME_MAX, false>>"))]
    first_name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, LAST_NAME_MAX, false>>"))]
    last_name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, COMPANY_MAX, false>>"))]
    company: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, PHONE_MAX, false>>"))]
    phone: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, PROFILE_PICTURE_MAX, false>>"))]
    profile_picture: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Text<0, GENDER_MAX, false>>"))]
    gender: Option<String>,
    /// `admin` needs an admin's token (403 otherwise).
    #[serde(default)]
    role: Option<Role>,
}

impl RegisterBody {
    fn parse(self) -> Result<Registration, AppError> {
        if self.confirm_password.as_ref().is_some_and(|c| *c != self.password) {
            return Err(AppError::field("confirmPassword", "does not match password"));
        }
        let (mut first, mut last) = (self.first_name, self.last_name);
        if let Some(full) = bounded("fullName", self.full_name, 128)? {
            let (f, l) = full.split_once(' ').map_or((full.as_str(), ""), |(f, l)| (f, l.trim()));
            first = first.or(Some(f.to_owned()));
            last = last.or((!l.is_empty()).then(|| l.to_owned()));
        }
        Ok(Registration {
            username: Username::parse(&self.username)?,
            email: self.email.as_deref().map(Email::parse).transpose()?,
            password: Password::parse(&self.password)?,
            profile: Profile {
                first_name: first,
                last_name: last,
                company: self.company,
                phone: self.phone,
                profile_picture: self.profile_picture,
                gender: self.gender,
            }
            .parse()?,
            role: self.role.unwrap_or_default(),
        })
    }
}

pub fn session_reply(app: &App, session: &Session, created: bool) -> Reply {
    Reply::ok(session.view()).status(created).cookie(session_cookie(
        &session.token,
        app.tokens.ttl_secs(),
        app.config.cookie_secure,
    ))
}

pub async fn register(app: &App, req: Request) -> Result<Reply, AppError> {
    let reg = body::<RegisterBody>(&req)?.parse()?;
    let caller = if reg.role == Role::Admin { optional_caller(app, &req).await? } else { None };
    let session = users::register(app, caller.as_ref(), reg).await?;
    Ok(session_reply(app, &session, true))
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(extend("anyOf" = [
    { "required": ["login"], "properties": { "login": { "type": "string" } } },
    { "required": ["username"], "properties": { "username": { "type": "string" } } },
    { "required": ["email"], "properties": { "email": { "type": "string" } } },
])))]
/// A username or an email address (`login`, `username` or `email`: the first given is used),
/// and the password. An unknown user and a wrong password get the same 401.
pub struct LoginBody {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    login: Option<String>,
    password: String,
}

pub async fn login(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: LoginBody = body(&req)?;
    let login = b
        .login
        .or(b.username)
        .or(b.email)
        .ok_or_else(|| AppError::field("username", "username or email is required"))?;
    let session = users::login(app, &login, b.password, source_ip(&req).as_deref()).await?;
    Ok(session_reply(app, &session, false))
}

/// The client's address as API Gateway saw it (`requestContext.http.sourceIp`).
pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

/// The answer of a logout: `loggedOut` is always `true`.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoggedOut {
    pub logged_out: bool,
}

/// A logout may name the session's phone, whose push registration ends with it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogoutBody {
    /// One of the caller's devices (`POST /api/devices`): unregistered; another user's or an
    /// unknown one changes nothing.
    #[cfg_attr(feature = "schema", schemars(with = "Option<chat::ids::DeviceId>"))]
    device_id: Option<String>,
}

pub async fn logout(app: &App, req: Request) -> Result<Reply, AppError> {
    let empty = <[u8]>::iter(req.body().as_ref()).all(u8::is_ascii_whitespace);
    let b: LogoutBody = if empty { LogoutBody::default() } else { body(&req)? };
    let device = b
        .device_id
        .as_deref()
        .map(|s| chat::ids::DeviceId::parse(s).ok_or_else(|| AppError::field("deviceId", "not a device id")))
        .transpose()?;
    let caller = caller(app, &req).await?;
    let (ended, unregistered) = tokio::join!(users::logout(app, &caller), async {
        match &device {
            Some(id) => chat::service::devices::unregister_own(app, &caller.actor(), id).await,
            None => Ok(()),
        }
    });
    ended.and(unregistered)?;
    Ok(Reply::ok(LoggedOut { logged_out: true }).cookie(clear_cookie(app.config.cookie_secure)))
}

/// `POST /api/auth/ws-ticket`: a single-use, 30-second ticket for `?ticket=` on the WebSocket
/// URL, so a browser never puts its token in a URL.
pub async fn ws_ticket(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    Ok(Reply::created(users::ws_ticket(app, &caller).await?))
}

pub async fn refresh(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let session = users::refresh(app, &caller).await?;
    Ok(session_reply(app, &session, false))
}

/// Registration by name and email, without a username (seed 001).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailRegisterBody {
    #[cfg_attr(feature = "schema", schemars(with = "Text<0, FIRST_NAME_MAX, false>"))]
    first_name: String,
    #[cfg_attr(feature = "schema", schemars(with = "Text<0, LAST_NAME_MAX, false>"))]
    last_name: String,
    #[cfg_attr(feature = "schema", schemars(with = "Email"))]
    email: String,
    #[cfg_attr(feature = "schema", schemars(with = "Password"))]
    password: String,
}

/// A username from the email's local part, made unique with a short random suffix (the user may
/// change it later).
fn username_for(email: &Email) -> Result<Username, AppError> {
    let local: String = email
        .as_str()
        .split('@')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(24)
        .collect();
    let suffix = chat::ids::UserId::generate().to_string().to_lowercase();
    Username::parse(&format!(
        "{}-{}",
        if local.len() >= 3 { local.as_str() } else { "user" },
        &suffix[suffix.len() - 5..]
    ))
}

pub async fn register_with_email(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: EmailRegisterBody = body(&req)?;
    let email = Email::parse(&b.email)?;
    let profile = Profile { first_name: Some(b.first_name), last_name: Some(b.last_name), ..Profile::default() };
    let reg = Registration {
        profile: profile.parse()?,
        ..Registration::minimal(username_for(&email)?, Password::parse(&b.password)?, Role::User)
    };
    let reg = Registration { email: Some(email), ..reg };
    let session = users::register(app, None, reg).await?;
    Ok(session_reply(app, &session, true))
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailLoginBody {
    email: String,
    password: String,
}

/// Login by email, where any failure is a 404 (seed 001).
pub async fn login_with_email(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: EmailLoginBody = body(&req)?;
    match users::login(app, &b.email, b.password, source_ip(&req).as_deref()).await {
        Ok(session) => Ok(session_reply(app, &session, false)),
        Err(AppError::Unauthorized(_)) => Err(AppError::NotFound("invalid email or password".into())),
        Err(e) => Err(e),
    }
}
