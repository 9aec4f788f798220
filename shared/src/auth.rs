//! Passwords (argon2id, feature `password`) and tokens (JWT, HS256 pinned; keys from the
//! configuration or, on Lambda, from Secrets Manager: `crate::secrets`).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm as JwtAlg, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::now_secs;
use crate::config::Config;
use crate::error::AppError;
use crate::ids::{TokenId, UserId};
use crate::models::{Password, Role, User};
use crate::secrets::SecretsManagerKeys;

/// argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane): only in binaries built with the
/// `password` feature (the functions whose declaration hashes or verifies passwords).
#[cfg(feature = "password")]
mod argon {
    use argon2::password_hash::phc::PasswordHash;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};
    use argon2::{Algorithm, Argon2, Params, Version};

    use crate::error::AppError;
    use crate::models::Password;

    fn argon2() -> Argon2<'static> {
        let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    pub fn hash_password(password: &Password) -> Result<String, AppError> {
        argon2()
            .hash_password(password.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(e.to_string()))
    }

    /// The hash an unknown user's password is checked against, so that both cases cost one hash.
    pub fn dummy_hash() -> &'static str {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        DUMMY.get_or_init(|| {
            Password::parse("dummy-password-for-timing").ok().and_then(|p| hash_password(&p).ok()).unwrap_or_default()
        })
    }

    pub fn verify_password(password: &str, hash: Option<&str>) -> Result<bool, AppError> {
        let Ok(parsed) = PasswordHash::new(hash.unwrap_or(dummy_hash())) else { return Ok(false) };
        Ok(argon2().verify_password(password.as_bytes(), &parsed).is_ok() && hash.is_some())
    }
}

/// A binary without the `password` feature serves no function that hashes (the entry point
/// refuses to start one): reaching this is a bug, answered as one.
#[cfg(not(feature = "password"))]
mod argon {
    use crate::error::AppError;
    use crate::models::Password;

    fn missing() -> AppError {
        AppError::internal("this binary is built without password hashing (feature `password`)")
    }

    pub fn hash_password(_: &Password) -> Result<String, AppError> {
        Err(missing())
    }

    pub fn dummy_hash() -> &'static str {
        ""
    }

    pub fn verify_password(_: &str, _: Option<&str>) -> Result<bool, AppError> {
        Err(missing())
    }
}

pub fn hash_password(password: &Password) -> Result<String, AppError> {
    argon::hash_password(password)
}

/// Computes the dummy hash ahead of the first login (functions that log users in start it at
/// cold start, in the background): a login of an unknown user checks against it, so that it
/// costs a hash like a known user's; one arriving first waits for it.
pub fn prepare_login() {
    argon::dummy_hash();
}

/// Constant work whether or not the user exists: a missing user is checked against a dummy hash.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    argon::verify_password(password, hash).unwrap_or(false)
}

/// Bounds argon2 work in one process: a hash takes 19 MiB and tens of milliseconds of a core,
/// so unbounded concurrent logins (the local gateway serves many at once; a Lambda instance
/// serves one) would take the memory and the latency of every request with them. At most one
/// hash per core runs; up to `Config::hash_queue` run or wait; past that the answer is 503 with
/// `Retry-After`. Built once per `App`.
pub struct Hasher {
    running: tokio::sync::Semaphore,
    /// Hashes running or waiting.
    pending: std::sync::atomic::AtomicUsize,
    max_pending: usize,
}

/// Counts a hash as pending for as long as it lives (also when its request is dropped).
struct Pending<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Hasher {
    pub fn new(max_pending: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            running: tokio::sync::Semaphore::new(cores),
            pending: std::sync::atomic::AtomicUsize::new(0),
            max_pending: max_pending.max(1),
        }
    }

    /// Runs argon2 off the async workers, through the gate.
    async fn gated<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        if let Some(function) = crate::iam::passwords_denied() {
            return Err(AppError::internal(format!(
                "{function} hashes a password, but its declaration does not say so: its Lambda binary has no argon2"
            )));
        }
        let _pending = Pending(&self.pending);
        if self.pending.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= self.max_pending {
            return Err(AppError::Overloaded);
        }
        let _permit = self.running.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(AppError::internal)
    }

    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        self.gated(move || hash_password(&password)).await?
    }

    /// Constant work whether or not the user exists (`verify_password`).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        self.gated(move || argon::verify_password(&password, hash.as_deref())).await?
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: UserId,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: TokenId,
}

/// One HS256 key: signs when it is the current one, verifies while it is accepted.
pub struct SigningKey {
    /// The secret's version (Secrets Manager's `VersionId`; `static` for a configured key).
    pub version: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    pub fn new(version: impl Into<String>, secret: &[u8]) -> Self {
        Self {
            version: version.into(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// The keys in force: `current` signs and verifies; `previous` (the secret's `AWSPREVIOUS`)
/// still verifies until `previous_until` (epoch seconds), so that the tokens signed before a
/// rotation live out their lifetime. No key at all in a function that neither signs nor
/// verifies tokens (its declaration says so): every token is then refused.
#[derive(Default)]
pub struct KeySet {
    pub current: Option<SigningKey>,
    pub previous: Option<SigningKey>,
    pub previous_until: i64,
}

impl KeySet {
    pub fn single(secret: &[u8]) -> Self {
        let current = (!secret.is_empty()).then(|| SigningKey::new("static", secret));
        Self { current, previous: None, previous_until: 0 }
    }

    /// The keys a token may be signed with now, current first.
    fn accepted(&self, now: i64) -> impl Iterator<Item = &SigningKey> {
        self.current.iter().chain(self.previous.iter().filter(move |_| now < self.previous_until))
    }
}

/// The keys as last read, and when (for the refresh).
struct Loaded {
    keys: Arc<KeySet>,
    at: Instant,
}

/// Issues and verifies tokens. Built once per cold start; on Lambda the keys come from
/// Secrets Manager (`crate::secrets`) and are read again every `REFRESH` (`refresh_if_stale`,
/// before an invocation) and when a token's signature matches no key in force (`verify_fresh`:
/// another instance may already sign with a key this one has not read yet).
pub struct Tokens {
    loaded: RwLock<Loaded>,
    source: Option<SecretsManagerKeys>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

/// How long keys read from Secrets Manager are used before they are read again.
pub const REFRESH: Duration = Duration::from_secs(300);
/// At most one read per this interval when a signature matches no key (a flood of forged tokens
/// costs one `GetSecretValue` a second per instance, not one per token).
const REFRESH_ON_MISS: Duration = Duration::from_secs(1);

impl Tokens {
    /// The configured key (`JWT_SECRET`; the local gateway and tests): never refreshed.
    pub fn new(config: &Config) -> Self {
        Self::with_keys(config, KeySet::single(&config.jwt_secret), None)
    }

    /// Keys read from Secrets Manager now (cold start), refreshed from it later.
    pub async fn from_secrets_manager(config: &Config, source: SecretsManagerKeys) -> Result<Self, AppError> {
        let keys = source.fetch(config.token_ttl_secs).await?;
        Ok(Self::with_keys(config, keys, Some(source)))
    }

    fn with_keys(config: &Config, keys: KeySet, source: Option<SecretsManagerKeys>) -> Self {
        let mut validation = Validation::new(JwtAlg::HS256);
        validation.algorithms = vec![JwtAlg::HS256];
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            loaded: RwLock::new(Loaded { keys: Arc::new(keys), at: Instant::now() }),
            source,
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl_secs: config.token_ttl_secs,
        }
    }

    fn keys(&self) -> Arc<KeySet> {
        self.loaded.read().map_or_else(|e| e.into_inner().keys.clone(), |l| l.keys.clone())
    }

    fn loaded_at(&self) -> Instant {
        self.loaded.read().map_or_else(|e| e.into_inner().at, |l| l.at)
    }

    /// Reads the keys again (Secrets Manager only). A failed read keeps the keys in force.
    pub async fn refresh(&self) {
        let Some(source) = &self.source else { return };
        match source.fetch(self.ttl_secs).await {
            Ok(keys) => {
                let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
                *loaded = Loaded { keys: Arc::new(keys), at: Instant::now() };
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the JWT keys failed; the keys in force stay");
                // Not again at once: the next try after REFRESH_ON_MISS.
                let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
                loaded.at = Instant::now().checked_sub(REFRESH - REFRESH_ON_MISS).unwrap_or_else(Instant::now);
            }
        }
    }

    /// Before an invocation: the keys read again when older than `REFRESH`.
    pub async fn refresh_if_stale(&self) {
        if self.source.is_some() && self.loaded_at().elapsed() >= REFRESH {
            self.refresh().await;
        }
    }

    /// The version of the key that signs now (`static` for a configured key).
    pub fn signing_version(&self) -> Option<String> {
        self.keys().current.as_ref().map(|k| k.version.clone())
    }

    pub fn issue(&self, user: &User) -> Result<(String, Claims), AppError> {
        let keys = self.keys();
        let key = keys.current.as_ref().ok_or_else(|| AppError::internal("this function holds no signing key"))?;
        let iat = now_secs();
        let claims = Claims {
            sub: user.id.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            role: user.role,
            iat,
            exp: iat + self.ttl_secs,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: TokenId::generate(),
        };
        let token = encode(&Header::new(JwtAlg::HS256), &claims, &key.encoding).map_err(AppError::internal)?;
        Ok((token, claims))
    }

    /// Signature (any key in force), algorithm, `exp`, `nbf`, `iss` and `aud`, with the keys as
    /// last read. Revocation is checked against the store by `App::authenticate`.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        self.check(token).map_err(|_| invalid())
    }

    /// As `verify`; a signature that matches no key in force first reads the keys again (at most
    /// once a second), in case another instance already signs with a newer one.
    pub async fn verify_fresh(&self, token: &str) -> Result<Claims, AppError> {
        match self.check(token) {
            Err(Miss::Signature) if self.source.is_some() && self.loaded_at().elapsed() >= REFRESH_ON_MISS => {
                self.refresh().await;
                self.check(token).map_err(|_| invalid())
            }
            other => other.map_err(|_| invalid()),
        }
    }

    fn check(&self, token: &str) -> Result<Claims, Miss> {
        let keys = self.keys();
        let now = now_secs();
        let mut outcome = Err(Miss::Signature);
        for key in keys.accepted(now) {
            match decode::<Claims>(token, &key.decoding, &self.validation) {
                Ok(d) => {
                    outcome = Ok(d.claims);
                    break;
                }
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {}
                Err(_) => return Err(Miss::Invalid),
            }
        }
        let claims = outcome?;
        if claims.iat > now + self.validation.leeway as i64 {
            return Err(Miss::Invalid);
        }
        Ok(claims)
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }
}

/// Why a token was refused: no key in force signed it, or it is invalid for another reason.
enum Miss {
    Signature,
    Invalid,
}

fn invalid() -> AppError {
    AppError::Unauthorized("invalid or expired token".into())
}

/// The token of a request: `Authorization: Bearer …`, else the `jwt` cookie, else (WebSocket
/// connect only) the `token` query parameter.
pub fn token_from(authorization: Option<&str>, cookie: Option<&str>, query_token: Option<&str>) -> Option<String> {
    let bearer = authorization.and_then(|h| {
        let (scheme, token) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
    });
    let cookie =
        || cookie?.split(';').find_map(|c| c.trim().strip_prefix("jwt=").map(str::to_owned)).filter(|t| !t.is_empty());
    bearer.or_else(cookie).or_else(|| query_token.map(str::to_owned)).filter(|t| !t.is_empty())
}

pub fn session_cookie(token: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("jwt={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}")
}

pub fn clear_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::iso;

    fn user() -> User {
        User { email: Some("a@example.com".into()), ..User::new("alice", String::new(), Role::User, &iso(0)) }
    }

    #[test]
    fn a_token_issued_verifies_with_its_claims() {
        let tokens = Tokens::new(&Config::for_tests());
        let (token, claims) = tokens.issue(&user()).unwrap();
        assert_eq!(tokens.verify(&token).unwrap(), claims);
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let tokens = Tokens::new(&Config::for_tests());
        let mut other = Config::for_tests();
        other.jwt_secret = b"another-secret-that-is-long-enough-000".to_vec();
        let (token, _) = Tokens::new(&other).issue(&user()).unwrap();
        assert!(tokens.verify(&token).is_err());
    }

    #[test]
    fn an_unsigned_alg_none_token_is_refused() {
        let tokens = Tokens::new(&Config::for_tests());
        let (token, _) = tokens.issue(&user()).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        // {"alg":"none","typ":"JWT"}
        let forged = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(tokens.verify(&forged).is_err());
    }

    #[test]
    fn a_token_for_another_audience_is_refused() {
        let mut other = Config::for_tests();
        other.jwt_audience = "someone-else".into();
        let (token, _) = Tokens::new(&other).issue(&user()).unwrap();
        assert!(Tokens::new(&Config::for_tests()).verify(&token).is_err());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let mut short = Config::for_tests();
        short.token_ttl_secs = -60;
        let (token, _) = Tokens::new(&short).issue(&user()).unwrap();
        assert!(Tokens::new(&Config::for_tests()).verify(&token).is_err());
    }

    #[test]
    fn the_bearer_header_wins_over_the_cookie_and_the_query() {
        assert_eq!(token_from(Some("Bearer abc"), Some("jwt=def"), Some("ghi")).as_deref(), Some("abc"));
        assert_eq!(token_from(None, Some("x=1; jwt=def"), Some("ghi")).as_deref(), Some("def"));
        assert_eq!(token_from(Some("Basic xyz"), None, Some("ghi")).as_deref(), Some("ghi"));
        assert_eq!(token_from(None, Some("jwt="), None), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_past_the_queue_is_refused_with_a_retryable_503_instead_of_piling_up() {
        let hasher = Hasher::new(4);
        let burst = (0..10).map(|_| hasher.gated(|| std::thread::sleep(std::time::Duration::from_millis(300))));
        let results = futures::future::join_all(burst).await;
        let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(refused.len(), 6, "4 run or wait, the rest are refused");
        assert!(refused.iter().all(|e| e.status() == 503 && e.retry_after() == Some(1)));
        assert_eq!(hasher.pending.load(std::sync::atomic::Ordering::SeqCst), 0, "every slot given back");
        assert!(hasher.gated(|| ()).await.is_ok(), "and the gate opens again");
    }

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let p = Password::parse("correct horse").unwrap();
        let hash = hash_password(&p).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong horse", Some(&hash)));
        assert!(!verify_password("correct horse", None));
    }
}
