//! One error type for every route, mapped once to a status and the SPEC §3 envelope.

use serde_json::{json, Value};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    Validation { message: String, details: Option<Value> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    RateLimited(String),
    /// The store is down or throttling: the client may retry.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] StoreError),
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
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::PayloadTooLarge => 413,
            Self::RateLimited(_) => 429,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "VALIDATION_ERROR",
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RateLimited(_) => "RATE_LIMITED",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// `{"code", "message", "details"?}`: the body of an HTTP error and of a WebSocket `error` event.
    pub fn body(&self) -> Value {
        let mut body = json!({ "code": self.code(), "message": self.to_string() });
        if let Self::Validation { details: Some(d), .. } = self {
            body["details"] = d.clone();
        }
        body
    }

    /// The whole HTTP error envelope.
    pub fn envelope(&self) -> Value {
        json!({ "success": false, "error": self.body() })
    }

    /// Logs the error once, with its cause chain for faults.
    pub fn log(&self) {
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
