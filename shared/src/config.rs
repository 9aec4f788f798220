//! Configuration, read once from the environment into a typed struct.

use std::path::PathBuf;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// DynamoDB (AWS, or a compatible server at `DYNAMODB_ENDPOINT`).
    Dynamo { table: String, endpoint: Option<String> },
    /// redb under `dir` (the local default).
    Embedded { dir: PathBuf },
    /// redb in memory (tests).
    Memory,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreKind,
    /// The signing key when it comes from the environment (`JWT_SECRET`: local gateway, tests);
    /// empty when the keys come from Secrets Manager or the function uses no token.
    pub jwt_secret: Vec<u8>,
    /// On Lambda, the Secrets Manager secret holding the signing keys (`JWT_SECRET_ARN`): read at
    /// cold start by the functions that sign or verify tokens (`crate::secrets`).
    pub jwt_secret_arn: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub token_ttl_secs: i64,
    /// The `@connections` endpoint (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
    pub ws_endpoint: Option<String>,
    /// `Secure` on the `jwt` cookie; off only for plain-HTTP local use.
    pub cookie_secure: bool,
    pub max_group_members: usize,
    /// Failed logins of one name that cost nothing; then each blocks longer (`login_guard`).
    pub login_free_failures: u32,
    /// The same for one source address (password spraying across names).
    pub login_free_failures_per_ip: u32,
    /// The block after the first failure beyond the allowance (then doubling).
    pub login_base_delay_ms: i64,
    /// Password hashes (argon2) running or waiting in one process before more are refused with
    /// 503 (`auth::Hasher`): bounds memory and latency under a burst of logins.
    pub hash_queue: usize,
    /// How long the change log behind `GET /api/sync` keeps changes (`CHAT_SYNC_RETENTION_DAYS`,
    /// default 30): older tokens answer `RESYNC_REQUIRED`; change items expire by TTL after it.
    pub sync_retention_days: i64,
    /// Phone push (SNS mobile push): the platform applications; push is off for a platform
    /// whose application is not configured.
    pub push: PushConfig,
    /// Attachments and avatars: sizes, types, counts (`uploads::UploadLimits`).
    pub uploads: crate::uploads::UploadLimits,
    /// The word filter applied on send and edit (`CHAT_WORD_FILTER`, `wordfilter`).
    pub word_filter: crate::wordfilter::WordFilter,
    /// Flood protection: sends per user and window, counted in the table (`service::policy`).
    pub send_rate: SendRate,
    /// Global retention: every message sent disappears after this long
    /// (`CHAT_MESSAGE_RETENTION_DAYS`; none by default). A conversation's own lifetime, when
    /// shorter, wins.
    pub message_retention_secs: Option<i64>,
    /// The certificate authorities the AWS clients trust (`CHAT_TLS_ROOTS`, `tls`).
    pub tls_roots: crate::tls::TlsRoots,
}

/// At most `limit` sends per user in each fixed window of `window_secs` (`CHAT_SEND_RATE_LIMIT`,
/// `CHAT_SEND_RATE_WINDOW_SECS`); a limit of 0 turns the check off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRate {
    pub limit: i64,
    pub window_secs: i64,
}

impl Default for SendRate {
    /// Ten a second sustained over a minute: far above a person typing, well below a script.
    fn default() -> Self {
        Self { limit: 600, window_secs: 60 }
    }
}

/// The SNS platform applications (the stack's parameters; empty: push off for that platform).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushConfig {
    /// `PUSH_APNS_APPLICATION_ARN`
    pub apns: Option<String>,
    /// `PUSH_APNS_SANDBOX_APPLICATION_ARN`
    pub apns_sandbox: Option<String>,
    /// `PUSH_FCM_APPLICATION_ARN`
    pub fcm: Option<String>,
    /// `SNS_ENDPOINT`: an SNS-compatible server (moto locally); AWS when absent.
    pub endpoint: Option<String>,
}

impl PushConfig {
    /// Whether any platform has push on.
    pub fn enabled(&self) -> bool {
        self.apns.is_some() || self.apns_sandbox.is_some() || self.fcm.is_some()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("JWT_SECRET_ARN (or JWT_SECRET) is required outside local development (set CHAT_ENV=local to use a development secret)")]
    MissingSecret,
    #[error("JWT_SECRET must be at least 32 bytes")]
    ShortSecret,
    #[error("{0} is not a valid number")]
    NotANumber(&'static str),
    #[error("CHAT_WORD_FILTER: {0}")]
    WordFilter(String),
    #[error("{0}")]
    TlsRoots(String),
}

/// A fixed secret for local development only; `Config::from_env` refuses it unless `CHAT_ENV=local`.
const LOCAL_DEV_SECRET: &str = "local-development-secret-not-for-production-use";

impl Config {
    /// Lambda functions: DynamoDB at `TABLE_NAME`, a real secret required.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let local = get("CHAT_ENV").as_deref() == Some("local");
        let jwt_secret_arn = get("JWT_SECRET_ARN").filter(|s| !s.is_empty());
        let jwt_secret = match get("JWT_SECRET") {
            Some(s) if s.len() < 32 => return Err(ConfigError::ShortSecret),
            Some(s) => s.into_bytes(),
            None if jwt_secret_arn.is_some() => Vec::new(),
            None if local => LOCAL_DEV_SECRET.as_bytes().to_vec(),
            None => return Err(ConfigError::MissingSecret),
        };
        let endpoint = get("DYNAMODB_ENDPOINT").filter(|s| !s.is_empty());
        let table = get("TABLE_NAME").unwrap_or_else(|| "chat".to_owned());
        let store = match get("CHAT_STORE").as_deref() {
            Some("memory") => StoreKind::Memory,
            Some("embedded") => StoreKind::Embedded { dir: data_dir(&get) },
            Some("dynamodb") => StoreKind::Dynamo { table, endpoint },
            _ if endpoint.is_some() || !local => StoreKind::Dynamo { table, endpoint },
            _ => StoreKind::Embedded { dir: data_dir(&get) },
        };
        let number = |key: &'static str, default: i64| -> Result<i64, ConfigError> {
            get(key).map_or(Ok(default), |v| v.parse().map_err(|_| ConfigError::NotANumber(key)))
        };
        Ok(Self {
            store,
            jwt_secret,
            jwt_secret_arn,
            jwt_issuer: get("JWT_ISSUER").unwrap_or_else(|| "chat-backend".to_owned()),
            jwt_audience: get("JWT_AUDIENCE").unwrap_or_else(|| "chat-clients".to_owned()),
            token_ttl_secs: number("JWT_TTL_SECS", 3600)?,
            ws_endpoint: get("WS_MANAGEMENT_ENDPOINT").filter(|s| !s.is_empty()),
            cookie_secure: get("COOKIE_SECURE").as_deref() != Some("false"),
            max_group_members: number("CHAT_MAX_GROUP_MEMBERS", 1000)? as usize,
            login_free_failures: number("CHAT_LOGIN_FREE_FAILURES", 5)?.clamp(1, 1000) as u32,
            login_free_failures_per_ip: number("CHAT_LOGIN_FREE_FAILURES_PER_IP", 50)?.clamp(1, 100_000) as u32,
            login_base_delay_ms: number("CHAT_LOGIN_BASE_DELAY_MS", 1000)?.clamp(1, 900_000),
            hash_queue: number("CHAT_HASH_QUEUE", 16)?.clamp(1, 10_000) as usize,
            sync_retention_days: number("CHAT_SYNC_RETENTION_DAYS", 30)?.clamp(1, 365),
            push: PushConfig {
                apns: get("PUSH_APNS_APPLICATION_ARN").filter(|s| !s.is_empty()),
                apns_sandbox: get("PUSH_APNS_SANDBOX_APPLICATION_ARN").filter(|s| !s.is_empty()),
                fcm: get("PUSH_FCM_APPLICATION_ARN").filter(|s| !s.is_empty()),
                endpoint: get("SNS_ENDPOINT").filter(|s| !s.is_empty()),
            },
            uploads: crate::uploads::UploadLimits::from_lookup(&get, &number)?,
            word_filter: crate::wordfilter::WordFilter::parse(&get("CHAT_WORD_FILTER").unwrap_or_default())
                .map_err(ConfigError::WordFilter)?,
            send_rate: SendRate {
                limit: number("CHAT_SEND_RATE_LIMIT", SendRate::default().limit)?.max(0),
                window_secs: number("CHAT_SEND_RATE_WINDOW_SECS", SendRate::default().window_secs)?.clamp(1, 86_400),
            },
            message_retention_secs: Some(number("CHAT_MESSAGE_RETENTION_DAYS", 0)?.clamp(0, 3650) * 86_400)
                .filter(|s| *s > 0),
            tls_roots: crate::tls::TlsRoots::from_lookup(&get).map_err(ConfigError::TlsRoots)?,
        })
    }

    /// A configuration for tests: in-memory store, fixed secret.
    pub fn for_tests() -> Self {
        Self {
            store: StoreKind::Memory,
            jwt_secret: LOCAL_DEV_SECRET.as_bytes().to_vec(),
            jwt_secret_arn: None,
            jwt_issuer: "chat-backend".to_owned(),
            jwt_audience: "chat-clients".to_owned(),
            token_ttl_secs: 3600,
            ws_endpoint: None,
            cookie_secure: false,
            max_group_members: 1000,
            login_free_failures: 5,
            login_free_failures_per_ip: 50,
            login_base_delay_ms: 1000,
            // Many test gateways share one test process: the gate has its own test.
            hash_queue: 10_000,
            sync_retention_days: 30,
            push: PushConfig::default(),
            uploads: crate::uploads::UploadLimits::default(),
            word_filter: crate::wordfilter::WordFilter::default(),
            send_rate: SendRate::default(),
            message_retention_secs: None,
            tls_roots: crate::tls::TlsRoots::System,
        }
    }
}

fn data_dir(get: &impl Fn(&str) -> Option<String>) -> PathBuf {
    get("CHAT_DATA_DIR").map_or_else(|| PathBuf::from(".chat-data"), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn outside_local_development_a_missing_secret_refuses_to_start() {
        assert!(matches!(config(&[]), Err(ConfigError::MissingSecret)));
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(matches!(config(&[("JWT_SECRET", "short")]), Err(ConfigError::ShortSecret)));
    }

    #[test]
    fn a_secret_arn_replaces_the_secret() {
        let c = config(&[("JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:jwt")]).unwrap();
        assert_eq!(c.jwt_secret_arn.as_deref(), Some("arn:aws:secretsmanager:us-east-1:1:secret:jwt"));
        assert!(c.jwt_secret.is_empty());
    }

    #[test]
    fn local_development_defaults_to_the_embedded_store() {
        let c = config(&[("CHAT_ENV", "local")]).unwrap();
        assert_eq!(c.store, StoreKind::Embedded { dir: PathBuf::from(".chat-data") });
    }

    #[test]
    fn moderation_settings_are_read_once_into_the_config() {
        let c = config(&[
            ("CHAT_ENV", "local"),
            ("CHAT_WORD_FILTER", "refuse:spamword"),
            ("CHAT_SEND_RATE_LIMIT", "5"),
            ("CHAT_MESSAGE_RETENTION_DAYS", "30"),
        ])
        .unwrap();
        assert_eq!(c.word_filter.check("spamword"), crate::wordfilter::Verdict::Refused);
        assert_eq!(c.send_rate, SendRate { limit: 5, window_secs: 60 });
        assert_eq!(c.message_retention_secs, Some(30 * 86_400));
        assert!(matches!(
            config(&[("CHAT_ENV", "local"), ("CHAT_WORD_FILTER", "ban:x")]),
            Err(ConfigError::WordFilter(_))
        ));
        assert_eq!(config(&[("CHAT_ENV", "local")]).unwrap().message_retention_secs, None);
    }

    #[test]
    fn a_dynamodb_endpoint_selects_dynamodb() {
        let c = config(&[("CHAT_ENV", "local"), ("DYNAMODB_ENDPOINT", "http://127.0.0.1:5005")]).unwrap();
        assert!(matches!(c.store, StoreKind::Dynamo { endpoint: Some(_), .. }));
    }
}
