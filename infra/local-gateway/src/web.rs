//! The web client (`web/` at the repository's root), served at `/` to a browser: the files are
//! embedded at build time, so `cargo run -p local-gateway` serves the app from anywhere. Each
//! answer has its content type, `Cache-Control: no-cache` (an edit shows on reload) and a strict
//! Content-Security-Policy: everything from this origin only, no inline script or style, and
//! `connect-src` limited to this origin's HTTP API and WebSocket API.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The app's files: path below `web/`, content type, contents.
pub const FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../../../web/index.html")),
    ("app.css", "text/css; charset=utf-8", include_str!("../../../web/app.css")),
    ("config.js", "text/javascript; charset=utf-8", include_str!("../../../web/config.js")),
    ("js/api.js", "text/javascript; charset=utf-8", include_str!("../../../web/js/api.js")),
    ("js/app.js", "text/javascript; charset=utf-8", include_str!("../../../web/js/app.js")),
    // Compiled from clients/typescript/src/chat-client.ts (scripts/test-clients.sh checks it is current).
    ("js/chat-client.js", "text/javascript; charset=utf-8", include_str!("../../../web/js/chat-client.js")),
    ("js/dom.js", "text/javascript; charset=utf-8", include_str!("../../../web/js/dom.js")),
    ("js/socket.js", "text/javascript; charset=utf-8", include_str!("../../../web/js/socket.js")),
];

/// Whether a request for `/` comes from a browser navigating to the page (it asks for HTML),
/// rather than an API client (which gets the gateway's JSON information document).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// The Content-Security-Policy: this origin only; `connect-src` adds this host's WebSocket
/// schemes (a Host header that is not a plain host[:port] gets `'self'` only).
pub fn csp(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let plain =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    let ws = if plain { format!(" ws://{host} wss://{host}") } else { String::new() };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'{ws}; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// One of the app's files, with its headers; 404 for any other path.
pub fn file(path: &str, headers: &HeaderMap) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(p, _, _)| *p == path) else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], r#"{"message":"Not Found"}"#)
            .into_response();
    };
    let mut res = (*body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(csp) = HeaderValue::from_str(&csp(headers)) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    res
}

/// `GET /js/{name}`.
pub async fn module(Path(name): Path<String>, headers: HeaderMap) -> Response {
    file(&format!("js/{name}"), &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_web_folder_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let mut on_disk = Vec::new();
        for sub in ["", "js"] {
            for entry in std::fs::read_dir(dir.join(sub)).expect("web/") {
                let entry = entry.expect("entry");
                if entry.file_type().expect("type").is_file() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    on_disk.push(if sub.is_empty() { name } else { format!("{sub}/{name}") });
                }
            }
        }
        on_disk.sort();
        let mut served: Vec<String> = FILES.iter().map(|(p, _, _)| (*p).to_owned()).collect();
        served.sort();
        assert_eq!(served, on_disk, "web/ and web::FILES differ");
    }

    #[test]
    fn the_policy_names_this_host_only_when_it_is_a_plain_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4000"));
        assert!(csp(&headers).contains("connect-src 'self' ws://127.0.0.1:4000 wss://127.0.0.1:4000;"));
        headers.insert(header::HOST, HeaderValue::from_static("evil; script-src *"));
        assert!(csp(&headers).contains("connect-src 'self';"));
    }
}
