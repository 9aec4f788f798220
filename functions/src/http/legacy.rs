//! Seed 001's routes: `/users/auth/create`, `/users/auth/login`, `/chat`,
//! `/chat/conversation/:senderId/:receiverId`.

use chat::ids::UserId;
use chat::models::{Email, Password, Profile, Role, Username};
use chat::service::messages::{self, Outgoing, PageRequest, Target};
use chat::service::users::{self, Registration};
use chat::{App, AppError};
use lambda_http::Request;
use serde::Deserialize;
use serde_json::json;

use super::{auth::session_reply, body, caller, path_id, query_param, Reply};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    first_name: String,
    last_name: String,
    email: String,
    password: String,
}

/// A username from the email's local part, made unique with a short random suffix (seed 001
/// has no usernames; the user may change it later).
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

pub async fn create(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: CreateBody = body(&req)?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

/// Seed 001 answers 404 to any failed login.
pub async fn login(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: LoginBody = body(&req)?;
    match users::login(app, &b.email, b.password, super::auth::source_ip(&req).as_deref()).await {
        Ok(session) => Ok(session_reply(app, &session, false)),
        Err(AppError::Unauthorized(_)) => Err(AppError::NotFound("invalid email or password".into())),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Details {
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChatBody {
    #[serde(default)]
    sender: Option<String>,
    receiver: String,
    message_details: Details,
    #[serde(default)]
    client_message_id: Option<String>,
}

pub async fn chat(app: &App, req: Request) -> Result<Reply, AppError> {
    let b: ChatBody = body(&req)?;
    let out = Outgoing::parse(Target::parse(&b.receiver)?, &b.message_details.text, b.client_message_id)?;
    super::messages::send(app, &req, b.sender, out).await
}

/// The conversation between two users; the caller must be one of them (or an admin).
pub async fn conversation(app: &App, req: Request) -> Result<Reply, AppError> {
    let caller = caller(app, &req).await?;
    let a = path_id(&req, "senderId", UserId::parse, "user")?;
    let b = path_id(&req, "receiverId", UserId::parse, "user")?;
    let actor = caller.actor();
    let (me, other) = if *caller.id() == a { (&a, &b) } else { (&b, &a) };
    if caller.id() != me && !actor.is_admin() {
        return Err(AppError::Forbidden("you are not part of this conversation".into()));
    }
    let (bq, aq, lq) = (query_param(&req, "before"), query_param(&req, "after"), query_param(&req, "limit"));
    let page = PageRequest::parse(bq.as_deref(), aq.as_deref(), lq.as_deref())?;
    let as_member = chat::service::Actor { user_id: me.clone(), ..actor.clone() };
    let (items, next) = messages::list(app, &as_member, &Target::User(other.clone()), &page).await?;
    Ok(Reply::page(items.iter().map(|m| json!(m)).collect(), next))
}
