//! The object store of the embedded mode: the gateway signs upload and download URLs to its own
//! `/@objects/{key}` (an HMAC of the method, key, type, length, tag and expiry, with a key made at
//! start) and serves them as S3 serves presigned requests: an expired or tampered URL is 403, a
//! body of another length or a `Content-Type` other than the signed one is refused, nothing is
//! stored then. Bytes live under `CHAT_DATA_DIR/objects` (in memory for the memory store). A
//! pending upload (the tag) not kept within `pending_secs` is gone, as the bucket's lifecycle
//! rule does on AWS; an image's upload runs the preview function, as the bucket's notification
//! does.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chat::attachments::{check, Attachments, ObjectHead, Presigned, PENDING_TAG};
use chat::clock::now_secs;
use chat::iam::Action;
use chat::AppError;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::Gateway;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    content_type: String,
    size: i64,
    /// Epoch seconds after which a pending object is gone; `None`: kept.
    pending_until: Option<i64>,
}

pub struct LocalObjects {
    base_url: String,
    key: [u8; 32],
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<String, (Meta, Bytes)>>,
    pending_secs: i64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Object keys are `uploads/<id>` and `thumbs/<id>`: two safe segments, nothing else.
fn valid_key(key: &str) -> bool {
    let mut parts = key.split('/');
    let (Some(prefix), Some(name), None) = (parts.next(), parts.next(), parts.next()) else { return false };
    matches!(prefix, "uploads" | "thumbs")
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl LocalObjects {
    /// `dir`: where bytes persist (`None`: memory).
    pub fn new(base_url: String, dir: Option<PathBuf>, pending_secs: i64) -> Self {
        let mut key = [0u8; 32];
        // Random per start (ULIDs carry 80 random bits each): URLs of an earlier run stop working.
        let seed = format!(
            "{}{}{:?}",
            chat::ids::TokenId::generate(),
            chat::ids::TokenId::generate(),
            std::time::SystemTime::now()
        );
        key.copy_from_slice(&<Sha256 as sha2::Digest>::digest(seed.as_bytes()));
        Self { base_url, key, dir, memory: Mutex::new(HashMap::new()), pending_secs }
    }

    fn sign(&self, parts: &[&str]) -> String {
        // HMAC takes a key of any length; an empty signature (never valid) otherwise.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else { return String::new() };
        mac.update(parts.join("\n").as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    fn verify(&self, parts: &[&str], signature: &str) -> bool {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else { return false };
        mac.update(parts.join("\n").as_bytes());
        let Some(given) = unhex(signature) else { return false };
        mac.verify_slice(&given).is_ok()
    }

    fn url(&self, key: &str, expires: i64, signature: &str) -> String {
        format!("{}/@objects/{key}?X-Chat-Expires={expires}&X-Chat-Signature={signature}", self.base_url)
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(key.replace('/', "_")))
    }

    fn read(&self, key: &str) -> Option<(Meta, Bytes)> {
        let found = match self.path(key) {
            Some(path) => {
                let meta = std::fs::read(path.with_extension("json")).ok()?;
                let meta: Meta = serde_json::from_slice(&meta).ok()?;
                Some((meta, Bytes::from(std::fs::read(&path).ok()?)))
            }
            None => self.memory.lock().ok()?.get(key).cloned(),
        };
        // A pending object past its time is what the lifecycle rule would have removed.
        found.filter(|(m, _)| m.pending_until.is_none_or(|t| t > now_secs()))
    }

    fn write(&self, key: &str, meta: Meta, bytes: Bytes) -> Result<(), String> {
        match self.path(key) {
            Some(path) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
                let meta = serde_json::to_vec(&meta).map_err(|e| e.to_string())?;
                std::fs::write(path.with_extension("json"), meta).map_err(|e| e.to_string())
            }
            None => {
                self.memory.lock().map_err(|e| e.to_string())?.insert(key.to_owned(), (meta, bytes));
                Ok(())
            }
        }
    }

    fn remove(&self, key: &str) {
        match self.path(key) {
            Some(path) => {
                let _ = std::fs::remove_file(path.with_extension("json"));
                let _ = std::fs::remove_file(path);
            }
            None => {
                if let Ok(mut m) = self.memory.lock() {
                    m.remove(key);
                }
            }
        }
    }

    /// The bytes and type of an object, for the preview function run in-process.
    pub fn get(&self, key: &str) -> Option<(String, Bytes)> {
        self.read(key).map(|(m, b)| (m.content_type, b))
    }

    /// Stores a preview (pending like its upload unless that is kept already).
    pub fn put_preview(&self, key: &str, content_type: &str, bytes: Vec<u8>, pending: bool) -> Result<(), String> {
        let pending_until = pending.then(|| now_secs() + self.pending_secs);
        let meta = Meta { content_type: content_type.to_owned(), size: bytes.len() as i64, pending_until };
        self.write(key, meta, Bytes::from(bytes))
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[async_trait]
impl Attachments for LocalObjects {
    async fn upload(&self, key: &str, content_type: &str, size: i64, expires: Duration) -> Result<Presigned, AppError> {
        check(Action::PutObject)?;
        check(Action::PutObjectTagging)?;
        let until = now_secs() + expires.as_secs() as i64;
        let size_s = size.to_string();
        let signature = self.sign(&["PUT", key, content_type, &size_s, PENDING_TAG, &until.to_string()]);
        let headers = BTreeMap::from([
            ("content-type".to_owned(), content_type.to_owned()),
            ("content-length".to_owned(), size_s),
            ("x-amz-tagging".to_owned(), PENDING_TAG.to_owned()),
        ]);
        Ok(Presigned { method: "PUT".into(), url: self.url(key, until, &signature), headers })
    }

    async fn download_url(&self, key: &str, expires: Duration) -> Result<String, AppError> {
        check(Action::GetObject)?;
        let until = now_secs() + expires.as_secs() as i64;
        let signature = self.sign(&["GET", key, "", "", "", &until.to_string()]);
        Ok(self.url(key, until, &signature))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, AppError> {
        check(Action::GetObject)?;
        Ok(self.read(key).map(|(m, _)| ObjectHead { size: m.size, content_type: Some(m.content_type) }))
    }

    async fn keep(&self, key: &str) -> Result<(), AppError> {
        check(Action::DeleteObjectTagging)?;
        if let Some((mut meta, bytes)) = self.read(key) {
            meta.pending_until = None;
            self.write(key, meta, bytes).map_err(AppError::internal)?;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), AppError> {
        check(Action::DeleteObject)?;
        self.remove(key);
        Ok(())
    }
}

/// An S3-style error answer.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(axum::http::header::CONTENT_TYPE, "application/xml")], body).into_response()
}

fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `PUT` / `GET /@objects/{key}?X-Chat-Expires=&X-Chat-Signature=`.
pub async fn serve(
    State(gw): State<Arc<Gateway>>,
    method: Method,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(objects) = gw.objects.clone() else {
        return refuse(StatusCode::NOT_FOUND, "NoSuchBucket", "no local object store");
    };
    let query = query.unwrap_or_default();
    let (Some(expires), Some(signature)) =
        (query_value(&query, "X-Chat-Expires"), query_value(&query, "X-Chat-Signature"))
    else {
        return refuse(StatusCode::FORBIDDEN, "AccessDenied", "a presigned request is required");
    };
    if !valid_key(&key) {
        return refuse(StatusCode::FORBIDDEN, "AccessDenied", "no such key may be signed");
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let signed = match method {
        Method::PUT => {
            let parts = [
                "PUT",
                key.as_str(),
                &header("content-type"),
                &header("content-length"),
                &header("x-amz-tagging"),
                expires.as_str(),
            ];
            objects.verify(&parts, &signature)
        }
        Method::GET | Method::HEAD => objects.verify(&["GET", &key, "", "", "", &expires], &signature),
        _ => return refuse(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "PUT or GET"),
    };
    // A tampered URL, or headers other than the signed ones (type, length, tag): as S3.
    if !signed {
        return refuse(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", "the signature does not match");
    }
    if expires.parse::<i64>().map_or(true, |t| t <= now_secs()) {
        return refuse(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    if method == Method::PUT {
        let declared: i64 = header("content-length").parse().unwrap_or(-1);
        if body.len() as i64 != declared {
            return refuse(StatusCode::BAD_REQUEST, "IncompleteBody", "the body differs from the signed length");
        }
        let meta = Meta {
            content_type: header("content-type"),
            size: declared,
            pending_until: Some(now_secs() + objects.pending_secs),
        };
        if let Err(e) = objects.write(&key, meta, body) {
            tracing::error!(error = %e, "could not store an upload");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "could not store");
        }
        // The bucket notification of an upload: the preview function, in-process.
        if key.starts_with("uploads/") {
            crate::previews::on_upload(&gw, &objects, &key).await;
        }
        return StatusCode::OK.into_response();
    }
    match objects.read(&key) {
        Some((meta, bytes)) => {
            let len = bytes.len();
            let body = if method == Method::HEAD { Bytes::new() } else { bytes };
            (
                StatusCode::OK,
                [
                    (axum::http::header::CONTENT_TYPE, meta.content_type),
                    (axum::http::header::CONTENT_LENGTH, len.to_string()),
                ],
                body,
            )
                .into_response()
        }
        None => refuse(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist."),
    }
}
