//! HTTP API adapter: request parsing and the one response envelope.

pub mod auth;
pub mod conversations;
pub mod devices;
pub mod groups;
pub mod messages;
pub mod moderation;
pub mod notifications;
pub mod router;
pub mod status;
pub mod sync;
pub mod uploads;
pub mod users;

use std::future::Future;

use chat::service::Actor;
use std::pin::Pin;
use std::sync::Arc;

use chat::app::Caller;
use chat::{App, AppError};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Bodies above this are refused with 413 (SPEC §3).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub type HttpFuture = Pin<Box<dyn Future<Output = Result<Reply, AppError>> + Send>>;
pub type HttpHandler = fn(Arc<App>, Request) -> HttpFuture;

/// A successful reply: `{"success": true, "data": …}` plus cookies.
#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    /// The envelope, or why `data` could not be serialized (a 500).
    body: Result<Value, String>,
    cookies: Vec<String>,
    /// A redirect's target (`Location`).
    location: Option<String>,
}

impl Reply {
    pub fn ok(data: impl Serialize) -> Self {
        let body = serde_json::to_value(data).map(|data| json!({ "success": true, "data": data }));
        Self { status: StatusCode::OK, body: body.map_err(|e| e.to_string()), cookies: vec![], location: None }
    }
    pub fn created(data: impl Serialize) -> Self {
        Self { status: StatusCode::CREATED, ..Self::ok(data) }
    }
    pub fn status(mut self, created: bool) -> Self {
        self.status = if created { StatusCode::CREATED } else { StatusCode::OK };
        self
    }
    /// A page: `data` is the list, `nextCursor` is there when more may follow.
    pub fn page<T: Serialize>(items: Vec<T>, next: Option<String>) -> Self {
        let mut r = Self::ok(items);
        if let (Ok(body), Some(next)) = (&mut r.body, next) {
            body["nextCursor"] = next.into();
        }
        r
    }
    /// 302 to `url` (the envelope names it too, for clients that do not follow redirects).
    pub fn redirect(url: String) -> Self {
        Self { status: StatusCode::FOUND, location: Some(url.clone()), ..Self::ok(json!({ "url": url })) }
    }
    pub fn cookie(mut self, cookie: String) -> Self {
        self.cookies.push(cookie);
        self
    }
}

fn json_response(status: StatusCode, body: &Value, cookies: &[String]) -> Response<Body> {
    let mut res = Response::new(Body::Text(body.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// Runs a handler and maps its outcome to the envelope; errors are logged here, once.
pub async fn respond(app: Arc<App>, handler: HttpHandler, req: Request) -> Response<Body> {
    if let Some(allow) = router::shadowed(req.method().as_str(), req.uri().path()) {
        return error_response(&AppError::MethodNotAllowed { allow });
    }
    match handler(app, req).await {
        Ok(Reply { status, body: Ok(body), cookies, location }) => {
            let mut res = json_response(status, &body, &cookies);
            if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res
        }
        Ok(Reply { body: Err(e), .. }) => error_response(&AppError::internal(e)),
        Err(e) => error_response(&e),
    }
}

pub fn error_response(e: &AppError) -> Response<Body> {
    e.log();
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = json_response(status, &e.envelope(), &[]);
    if let Some(secs) = e.retry_after() {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let AppError::MethodNotAllowed { allow } = e {
        if let Ok(v) = HeaderValue::from_str(allow) {
            res.headers_mut().insert(header::ALLOW, v);
        }
    }
    res
}

/// The JSON body as `T`: 413 when too large, 400 when missing, malformed or of the wrong shape.
pub fn body<T: DeserializeOwned>(req: &Request) -> Result<T, AppError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::validation("a JSON body is required"));
    }
    serde_json::from_slice(bytes).map_err(|e| AppError::bad_json("body", &e))
}

pub fn token(req: &Request) -> Option<String> {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    chat::auth::token_from(header(header::AUTHORIZATION), header(header::COOKIE), None)
}

/// The caller as the token names them, and the session check to run concurrently with a
/// route's first read (SPEC §6: two round trips). The check also refuses a token whose role is
/// out of date. `sender`, if given, must name the caller, by id or by username: checked against
/// the stored user the session reads anyway (a token's username may predate a rename).
async fn concurrent_session<'a>(
    app: &'a App,
    req: &Request,
    sender: Option<String>,
) -> Result<(Actor, impl Future<Output = Result<(), AppError>> + 'a), AppError> {
    // A signature no cached key matches may be the first of a rotated key: re-read once.
    let claims = app.verify_fresh(token(req).as_deref()).await?;
    let actor = Actor { user_id: claims.sub.clone(), username: claims.username.clone(), role: claims.role };
    let role = actor.role;
    let session = async move {
        let caller = app.session(claims).await?;
        if caller.user.role != role {
            return Err(AppError::Unauthorized("token out of date; log in again".into()));
        }
        if sender.as_deref().is_some_and(|s| !chat::service::messages::names_user(s, &caller.user)) {
            return Err(AppError::Forbidden("sender must be the caller".into()));
        }
        Ok(())
    };
    Ok((actor, session))
}

pub async fn caller(app: &App, req: &Request) -> Result<Caller, AppError> {
    app.authenticate(token(req).as_deref()).await
}

/// The caller when a token is present (registration: an admin may create admins).
pub async fn optional_caller(app: &App, req: &Request) -> Result<Option<Caller>, AppError> {
    match token(req) {
        Some(t) => app.authenticate(Some(&t)).await.map(Some),
        None => Ok(None),
    }
}

pub fn path_param(req: &Request, name: &str) -> Result<String, AppError> {
    req.path_parameters()
        .first(name)
        .map(str::to_owned)
        .ok_or_else(|| AppError::validation(format!("missing path parameter {name}")))
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters().first(name).map(str::to_owned)
}

/// A `true`/`false` query parameter (absent: `false`); anything else is a 400.
pub fn flag(req: &Request, name: &str) -> Result<bool, AppError> {
    match query_param(req, name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(AppError::field(name, "true or false")),
    }
}

/// The schema of a `flag` parameter.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
#[cfg_attr(feature = "schema", schemars(rename_all = "lowercase"))]
pub enum Flag {
    True,
    False,
}

/// The id of a path's `{id}`: `T`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[allow(dead_code)]
pub struct IdPath<T> {
    /// A malformed id names nothing: 404.
    pub id: T,
}

/// Parses an id from the path; a malformed id cannot name anything, so it is a 404.
pub fn path_id<T>(req: &Request, name: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<T, AppError> {
    parse(&path_param(req, name)?).ok_or_else(|| AppError::not_found(what))
}

/// Adapts `async fn(&App, Request) -> Result<Reply, AppError>` to an `HttpHandler`.
#[macro_export]
macro_rules! http_handler {
    ($f:path $(, $arg:expr)*) => {
        (|app: std::sync::Arc<chat::App>, req: lambda_http::Request| -> $crate::http::HttpFuture {
            Box::pin(async move { $f(&app, req $(, $arg)*).await })
        }) as $crate::http::HttpHandler
    };
}
