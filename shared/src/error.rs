//! One error type for every route, mapped once to a status and the SPEC §3 envelope.

use serde::Serialize;
use serde_json::{json, Value};

use crate::store::StoreError;

/// An error as clients see it: the envelope's `error`, and the WebSocket `error` event's data.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    #[cfg_attr(feature = "schema", schemars(with = "ErrorCode"))]
    pub code: &'static str,
    pub message: String,
    /// For a validation error: the field and the issue, or the unknown members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// Every `code` an error may have, with its HTTP status (`AppError::code`, `AppError::status`).
pub const CODES: [(&str, u16); 12] = [
    ("VALIDATION_ERROR", 400),
    ("UNAUTHORIZED", 401),
    ("FORBIDDEN", 403),
    ("ACCOUNT_SUSPENDED", 403),
    ("NOT_FOUND", 404),
    ("METHOD_NOT_ALLOWED", 405),
    ("CONFLICT", 409),
    ("RESYNC_REQUIRED", 410),
    ("PAYLOAD_TOO_LARGE", 413),
    ("RATE_LIMITED", 429),
    ("INTERNAL", 500),
    ("UNAVAILABLE", 503),
];

/// The schema of `ErrorBody::code`: one of `CODES`.
pub struct ErrorCode;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for ErrorCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = CODES.iter().map(|(c, _)| *c).collect();
        let described: Vec<String> = CODES.iter().map(|(c, s)| format!("{s} {c}")).collect();
        schemars::json_schema!({
            "type": "string",
            "enum": codes,
            "description": format!("{}; a 500 never tells its cause, a 503 may be retried (`Retry-After`).", described.join(", ")),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    Validation { message: String, details: Option<Value> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// A suspended account (login, or a session that outlived the suspension's start): until
    /// `until` (RFC 3339), or for good when `None`.
    #[error("this account is suspended")]
    AccountSuspended { until: Option<String> },
    #[error("{0}")]
    NotFound(String),
    /// Members named by a request that no user answers to (404: a referenced object is
    /// missing; the request itself is well-formed). Only what could be a username is named.
    #[error("unknown members")]
    UnknownMembers(Vec<String>),
    #[error("{0}")]
    Conflict(String),
    /// A sync token older than the change log's retention: the client reloads its state.
    #[error("{0}")]
    ResyncRequired(String),
    /// The path exists for other methods (`allow`, for the `Allow` header).
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: String },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    RateLimited(String),
    /// Refused by a per-user limit that says when to come back (slow mode, flood protection):
    /// 429 with `Retry-After`, and `details.retryAfter` (seconds) for WebSocket clients.
    #[error("{message}")]
    RetryLater { message: String, secs: u64 },
    /// The store is down or throttling: the client may retry.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// Too much work queued in this process (password hashing): the client may retry shortly.
    #[error("too busy; retry shortly")]
    Overloaded,
    /// Anything unexpected. The cause is logged once, never sent to the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation { message: message.into(), details: None }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Validation {
            details: Some(json!({ "field": field, "issue": message })),
            message: format!("{field}: {message}"),
        }
    }

    /// A request body (`what`: "body", "message") that did not parse. The message says where
    /// and what was expected, never what was sent: serde's own text quotes the submitted value
    /// (`invalid type: integer `98765432123``), which may be a password.
    pub fn bad_json(what: &str, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        // No position for an error found after the input was read (a tagged enum's fields).
        let at = match e.line() {
            0 => String::new(),
            line => format!(" at line {line} column {}", e.column()),
        };
        let message = match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => format!("invalid {what}: malformed JSON{at}"),
            Category::Data => format!("invalid {what}: {}{at}", describe_data_error(&e.to_string())),
        };
        Self::Validation { message, details: None }
    }

    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Validation { .. } => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) | Self::AccountSuspended { .. } => 403,
            Self::NotFound(_) | Self::UnknownMembers(_) => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict(_) => 409,
            Self::ResyncRequired(_) => 410,
            Self::PayloadTooLarge => 413,
            Self::RateLimited(_) | Self::RetryLater { .. } => 429,
            Self::Unavailable(_) | Self::Overloaded => 503,
            Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "VALIDATION_ERROR",
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::AccountSuspended { .. } => "ACCOUNT_SUSPENDED",
            Self::NotFound(_) | Self::UnknownMembers(_) => "NOT_FOUND",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::Conflict(_) => "CONFLICT",
            Self::ResyncRequired(_) => "RESYNC_REQUIRED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RateLimited(_) | Self::RetryLater { .. } => "RATE_LIMITED",
            Self::Unavailable(_) | Self::Overloaded => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// Seconds a client should wait before retrying (`Retry-After`), for the errors that say so.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Unavailable(_) | Self::Overloaded => Some(1),
            Self::RetryLater { secs, .. } => Some((*secs).max(1)),
            _ => None,
        }
    }

    /// `{"code", "message", "details"?}`: the body of an HTTP error and of a WebSocket `error` event.
    pub fn body(&self) -> ErrorBody {
        let details = match self {
            Self::Validation { details, .. } => details.clone(),
            Self::UnknownMembers(names) => Some(json!({ "unknown": names })),
            Self::RetryLater { secs, .. } => Some(json!({ "retryAfter": (*secs).max(1) })),
            Self::AccountSuspended { until } => Some(json!({ "until": until })),
            _ => None,
        };
        ErrorBody { code: self.code(), message: self.to_string(), details }
    }

    /// The whole HTTP error envelope.
    pub fn envelope(&self) -> Value {
        json!({ "success": false, "error": self.body() })
    }

    /// Logs the error once, with its cause chain for faults.
    pub fn log(&self) {
        crate::metrics::count_error(self);
        if self.status() >= 500 {
            let mut chain = String::new();
            let mut source = std::error::Error::source(self);
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(code = self.code(), cause = %chain, "request failed");
        } else {
            tracing::info!(code = self.code(), message = %self, "request refused");
        }
    }
}

/// serde's data error without the submitted value: "invalid type: integer `5`, expected a
/// string" → "wrong type, expected a string"; a field name is echoed only when it is one of
/// ours (`missing field`) or a plain identifier (`unknown field`).
fn describe_data_error(serde_message: &str) -> String {
    let message = serde_message.split(" at line ").next().unwrap_or_default();
    let expected = message.split_once(", expected ").map(|(_, e)| e);
    let quoted = message
        .split('`')
        .nth(1)
        .filter(|n| !n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let with_expected = |what: &str| match expected {
        Some(e) => format!("{what}, expected {e}"),
        None => what.to_owned(),
    };
    if message.starts_with("missing field") || message.starts_with("duplicate field") {
        let kind = if message.starts_with("missing") { "missing field" } else { "duplicate field" };
        return quoted.map_or_else(|| kind.to_owned(), |n| format!("{kind} `{n}`"));
    }
    if message.starts_with("unknown field") {
        return quoted
            .map_or_else(|| with_expected("unknown field"), |n| with_expected(&format!("unknown field `{n}`")));
    }
    if message.starts_with("invalid type") {
        return with_expected("wrong type");
    }
    if message.starts_with("unknown variant") || message.starts_with("invalid value") {
        return with_expected("invalid value");
    }
    if message.starts_with("invalid length") {
        return with_expected("wrong number of elements");
    }
    "wrong shape".to_owned()
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Throttled | StoreError::Unavailable(_) => Self::Unavailable(e),
            other => Self::internal(other),
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspended_account_is_a_403_naming_the_end_of_its_suspension() {
        let e = AppError::AccountSuspended { until: Some("2030-01-01T00:00:00.000Z".into()) };
        assert_eq!((e.status(), e.code()), (403, "ACCOUNT_SUSPENDED"));
        assert_eq!(e.body().details, Some(json!({ "until": "2030-01-01T00:00:00.000Z" })));
        assert!(CODES.contains(&("ACCOUNT_SUSPENDED", 403)));
        let for_good = AppError::AccountSuspended { until: None };
        assert_eq!(for_good.body().details, Some(json!({ "until": null })));
    }

    #[test]
    fn codes_lists_every_code_with_its_status() {
        let errors = [
            AppError::validation("x"),
            AppError::Unauthorized("x".into()),
            AppError::Forbidden("x".into()),
            AppError::AccountSuspended { until: None },
            AppError::NotFound("x".into()),
            AppError::MethodNotAllowed { allow: "GET".into() },
            AppError::Conflict("x".into()),
            AppError::ResyncRequired("x".into()),
            AppError::PayloadTooLarge,
            AppError::RateLimited("x".into()),
            AppError::internal("x"),
            AppError::Overloaded,
        ];
        let listed: Vec<(&str, u16)> = errors.iter().map(|e| (e.code(), e.status())).collect();
        assert_eq!(listed, CODES);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        password: String,
        role: Option<crate::models::Role>,
    }

    fn error_of(body: &str) -> String {
        let e = serde_json::from_str::<Login>(body).unwrap_err();
        AppError::bad_json("body", &e).to_string()
    }

    #[test]
    fn a_type_error_says_what_was_expected_without_the_submitted_value() {
        let m = error_of(r#"{"username":"a","password":98765432123}"#);
        assert!(!m.contains("98765432123"), "{m}");
        assert!(m.contains("wrong type, expected a string"), "{m}");
    }

    #[test]
    fn an_unknown_enum_value_or_a_strange_field_name_is_not_echoed() {
        let m = error_of(r#"{"username":"a","password":"b","role":"s3cr3t-value"}"#);
        assert!(!m.contains("s3cr3t"), "{m}");
        let m = error_of(r#"{"username":"a","password":"b","<img src=x>":1}"#);
        assert!(!m.contains("img"), "{m}");
        assert!(error_of(r#"{"username":"a","password":"b","extra":1}"#).contains("unknown field `extra`"));
        assert!(error_of(r#"{"username":"a"}"#).contains("missing field `password`"));
        assert!(error_of(r#"{"username":"a""#).contains("malformed JSON"));
    }
}
