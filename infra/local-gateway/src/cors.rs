//! CORS as the HTTP API answers it from its `CorsConfiguration` (`template.yaml`): preflights
//! (`OPTIONS` with `Access-Control-Request-Method`) are answered by the gateway itself, and
//! responses to an allowed origin carry `Access-Control-Allow-Origin`. The same settings, with
//! the template's defaults, so that a web app on another origin works locally as deployed.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Gateway;

/// The template's `AllowMethods` and `AllowHeaders` (a test keeps them in step).
pub const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type";

/// The template's parameters `CorsAllowOrigins`, `CorsAllowCredentials`, `CorsMaxAge`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_credentials: bool,
    pub max_age_secs: u32,
}

impl Default for Cors {
    fn default() -> Self {
        Self { allow_origins: vec!["*".into()], allow_credentials: false, max_age_secs: 600 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CorsError {
    /// Browsers refuse credentials with `*`, and the template refuses the combination too.
    #[error("CHAT_CORS_ALLOW_CREDENTIALS=true needs explicit origins in CHAT_CORS_ALLOW_ORIGINS, not *")]
    CredentialsWithWildcard,
    #[error("{0} is not valid")]
    Invalid(&'static str),
}

impl Cors {
    /// `CHAT_CORS_ALLOW_ORIGINS` (comma separated), `CHAT_CORS_ALLOW_CREDENTIALS`,
    /// `CHAT_CORS_MAX_AGE`; the template's defaults otherwise.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, CorsError> {
        let d = Self::default();
        let allow_origins = get("CHAT_CORS_ALLOW_ORIGINS").map_or(d.allow_origins, |o| {
            o.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect()
        });
        let allow_credentials = match get("CHAT_CORS_ALLOW_CREDENTIALS").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(CorsError::Invalid("CHAT_CORS_ALLOW_CREDENTIALS")),
        };
        let max_age_secs = get("CHAT_CORS_MAX_AGE")
            .map(|m| m.parse().map_err(|_| CorsError::Invalid("CHAT_CORS_MAX_AGE")))
            .transpose()?
            .unwrap_or(d.max_age_secs);
        if allow_credentials && allow_origins.iter().any(|o| o == "*") {
            return Err(CorsError::CredentialsWithWildcard);
        }
        Ok(Self { allow_origins, allow_credentials, max_age_secs })
    }

    /// The `Access-Control-Allow-Origin` for this origin, if it is allowed.
    fn allow(&self, origin: &str) -> Option<HeaderValue> {
        if self.allow_origins.iter().any(|o| o == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        self.allow_origins.iter().any(|o| o.eq_ignore_ascii_case(origin)).then(|| HeaderValue::from_str(origin).ok())?
    }

    fn decorate(&self, allowed: HeaderValue, headers: &mut HeaderMap) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if self.allow_credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The middleware: preflights answered here (204), other responses decorated.
pub async fn layer(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    let cors = &gw.limits.cors;
    let origin = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_owned);
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let allowed = origin.as_deref().and_then(|o| cors.allow(o));
    if preflight {
        let mut res = StatusCode::NO_CONTENT.into_response();
        if let Some(allowed) = allowed {
            let h = res.headers_mut();
            cors.decorate(allowed, h);
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(cors.max_age_secs));
        }
        return res;
    }
    let mut res = next.run(req).await;
    if let Some(allowed) = allowed {
        cors.decorate(allowed, res.headers_mut());
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(vars: &[(&str, &str)]) -> Result<Cors, CorsError> {
        Cors::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn the_defaults_are_the_templates_and_credentials_with_a_wildcard_refuse_to_start() {
        assert_eq!(cors(&[]), Ok(Cors::default()));
        assert_eq!(cors(&[("CHAT_CORS_ALLOW_CREDENTIALS", "true")]), Err(CorsError::CredentialsWithWildcard));
        let c = cors(&[
            ("CHAT_CORS_ALLOW_CREDENTIALS", "true"),
            ("CHAT_CORS_ALLOW_ORIGINS", "https://a.example, https://b.example"),
        ])
        .expect("explicit origins");
        assert_eq!(c.allow("https://b.example"), Some(HeaderValue::from_static("https://b.example")));
        assert_eq!(c.allow("https://evil.example"), None);
    }

    #[test]
    fn the_template_declares_the_same_cors_configuration() {
        let template = include_str!("../../../template.yaml");
        let line =
            |key: &str| template.lines().find(|l| l.trim_start().starts_with(key)).map(str::trim).unwrap_or_default();
        assert_eq!(line("AllowMethods:"), format!("AllowMethods: [{ALLOW_METHODS}]"));
        assert_eq!(line("AllowHeaders:"), format!("AllowHeaders: [{ALLOW_HEADERS}]"));
        let default_after = |param: &str| {
            let mut lines = template.lines().skip_while(|l| l.trim() != format!("{param}:"));
            lines
                .find(|l| l.trim_start().starts_with("Default:"))
                .map(|l| l.trim().trim_start_matches("Default:").trim().trim_matches('"').to_owned())
        };
        let d = Cors::default();
        assert_eq!(default_after("CorsAllowOrigins").as_deref(), Some(d.allow_origins.join(",").as_str()));
        assert_eq!(default_after("CorsAllowCredentials").as_deref(), Some("false"));
        assert_eq!(default_after("CorsMaxAge"), Some(d.max_age_secs.to_string()));
    }
}
