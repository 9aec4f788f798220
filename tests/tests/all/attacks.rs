//! Attacks on authentication (RFC 8725, OWASP API2): forged and stale tokens are refused with
//! 401 over HTTP (header and cookie) and at the WebSocket handshake; no self-promotion or mass
//! assignment; no user enumeration through login or registration answers; login brute force
//! slowed down (ASVS 6.3.1) without locking the real user out for good.

use chat::clock::now_secs;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite;

use crate::harness::{Gateway, Store, User, Ws};

fn b64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn unb64(s: &str) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let vals: Vec<u32> = s.bytes().filter_map(|c| T.iter().position(|t| *t == c).map(|p| p as u32)).collect();
    vals.chunks(4)
        .flat_map(|c| {
            let n = c.iter().enumerate().fold(0u32, |n, (i, v)| n | (v << (18 - 6 * i)));
            (0..c.len().saturating_sub(1)).map(move |i| (n >> (16 - 8 * i)) as u8)
        })
        .collect()
}

/// A token from raw header and claims JSON, with the given signature bytes.
fn raw_token(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()), b64(signature))
}

struct Forge<'a> {
    gw: &'a Gateway,
    user: &'a User,
}

impl Forge<'_> {
    fn secret(&self) -> Vec<u8> {
        self.gw.app().config.jwt_secret.clone()
    }

    /// The claims a real token of this user carries.
    fn claims(&self) -> Value {
        let now = now_secs();
        json!({
            "sub": self.user.id, "username": self.user.username, "email": null, "role": "user",
            "iat": now, "exp": now + 3600, "iss": "chat-backend", "aud": "chat-clients",
            "jti": chat::ids::TokenId::generate(),
        })
    }

    fn sign(&self, alg: Algorithm, claims: &Value, key: &[u8]) -> String {
        encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).expect("encode")
    }

    fn hs256(&self, claims: &Value) -> String {
        self.sign(Algorithm::HS256, claims, &self.secret())
    }

    fn with(&self, patch: Value) -> String {
        let mut claims = self.claims();
        for (k, v) in patch.as_object().expect("object") {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        self.hs256(&claims)
    }

    /// Every forgery: (what, token).
    fn attacks(&self) -> Vec<(&'static str, String)> {
        let (claims, now) = (self.claims(), now_secs());
        let good = self.hs256(&claims);
        let parts: Vec<&str> = good.split('.').collect();
        let mut payload: Value = serde_json::from_slice(&unb64(parts[1])).expect("payload");
        payload["role"] = "admin".into();
        let promoted = format!("{}.{}.{}", parts[0], b64(payload.to_string().as_bytes()), parts[2]);
        let mut other = payload.clone();
        other["role"] = "user".into();
        other["sub"] = chat::ids::UserId::generate().to_string().into();
        let resubbed = format!("{}.{}.{}", parts[0], b64(other.to_string().as_bytes()), parts[2]);
        let none = |alg: &str| raw_token(json!({ "alg": alg, "typ": "JWT" }), &claims, b"");
        let mut attacks = vec![
            ("alg none", none("none")),
            ("alg None", none("None")),
            ("alg NONE", none("NONE")),
            (
                "alg none with the real signature",
                format!("{}.{}.{}", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1], parts[2]),
            ),
            ("HS384 with the real secret", self.sign(Algorithm::HS384, &claims, &self.secret())),
            ("HS512 with the real secret", self.sign(Algorithm::HS512, &claims, &self.secret())),
            ("RS256 header, HMAC signature (key confusion)", {
                let header = json!({ "alg": "RS256", "typ": "JWT" });
                let unsigned = format!("{}.{}", b64(header.to_string().as_bytes()), parts[1]);
                let sig = jsonwebtoken::crypto::sign(
                    unsigned.as_bytes(),
                    &EncodingKey::from_secret(&self.secret()),
                    Algorithm::HS256,
                )
                .expect("sign");
                format!("{unsigned}.{sig}")
            }),
            ("ES256 header, junk signature", raw_token(json!({ "alg": "ES256" }), &claims, &[7u8; 64])),
            ("kid path injection, empty key", {
                let mut h = Header::new(Algorithm::HS256);
                h.kid = Some("../../../../dev/null".into());
                encode(&h, &claims, &EncodingKey::from_secret(b"")).expect("encode")
            }),
            ("jku pointing elsewhere", {
                let mut h = Header::new(Algorithm::HS256);
                h.jku = Some("http://127.0.0.1:1/keys.json".into());
                encode(&h, &claims, &EncodingKey::from_secret(b"attacker-key-attacker-key-attacker")).expect("encode")
            }),
            ("wrong key", self.sign(Algorithm::HS256, &claims, b"another-secret-that-is-long-enough-0000")),
            ("empty key", self.sign(Algorithm::HS256, &claims, b"")),
            ("role promoted in the payload", promoted),
            ("sub changed in the payload", resubbed),
            ("signature stripped", format!("{}.{}.", parts[0], parts[1])),
            ("signature truncated", good[..good.len() - 4].to_owned()),
            ("expired", self.with(json!({ "iat": now - 7200, "exp": now - 3600 }))),
            ("not yet valid (nbf)", self.with(json!({ "nbf": now + 3600 }))),
            ("issued in the future (iat)", self.with(json!({ "iat": now + 3600, "exp": now + 7200 }))),
            ("wrong issuer", self.with(json!({ "iss": "evil" }))),
            ("wrong audience", self.with(json!({ "aud": "someone-else" }))),
            ("audience list without ours", self.with(json!({ "aud": ["x", "y"] }))),
            ("no exp", self.with(json!({ "exp": null }))),
            ("no iat", self.with(json!({ "iat": null }))),
            ("no iss", self.with(json!({ "iss": null }))),
            ("no aud", self.with(json!({ "aud": null }))),
            ("no jti", self.with(json!({ "jti": null }))),
            ("a user that never existed", self.with(json!({ "sub": chat::ids::UserId::generate() }))),
            ("sub of another kind", self.with(json!({ "sub": "grp_01JD0000000000000000000000" }))),
            ("exp as a string", self.with(json!({ "exp": "9999999999" }))),
            ("not a JWT", "garbage".into()),
            ("two parts", format!("{}.{}", parts[0], parts[1])),
            ("four parts", format!("{good}.x")),
            ("8 KB of junk", "a".repeat(8 * 1024)),
        ];
        attacks.push(("whitespace inside", format!("{} {}", &good[..10], &good[10..])));
        attacks
    }
}

async fn refused_at_connect(gw: &Gateway, token: &str) -> bool {
    matches!(Ws::connect(&gw.ws_url(&urlencode(token))).await, Err(tungstenite::Error::Http(r)) if r.status() == 401)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn cookie_status(gw: &Gateway, token: &str) -> StatusCode {
    let res = reqwest::Client::new()
        .get(format!("{}/api/users/me", gw.http))
        .header("cookie", format!("jwt={token}"))
        .send()
        .await
        .expect("answers");
    res.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_forged_or_malformed_token_is_refused_over_http_and_at_connect() {
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let forge = Forge { gw: &gw, user: &alice };
    // The forger's tools work: its honest token is accepted everywhere.
    let honest = forge.hs256(&forge.claims());
    assert_eq!(gw.get("/api/users/me", &honest).await.0, StatusCode::OK);
    assert!(!refused_at_connect(&gw, &honest).await);
    let attacks = forge.attacks();
    let mut failures = Vec::new();
    for (what, token) in &attacks {
        let (status, body) = gw.get("/api/users/me", token).await;
        if status != StatusCode::UNAUTHORIZED || body["error"]["code"] != "UNAUTHORIZED" {
            failures.push(format!("{what}: bearer → {status} {body}"));
        }
        if !token.contains(' ') && cookie_status(&gw, token).await != StatusCode::UNAUTHORIZED {
            failures.push(format!("{what}: cookie accepted"));
        }
        if !refused_at_connect(&gw, token).await {
            failures.push(format!("{what}: WebSocket connect not refused with 401"));
        }
    }
    println!("{} token attacks x (bearer, cookie, WebSocket connect)", attacks.len());
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_die_with_logout_a_password_change_and_the_account() {
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let forge = Forge { gw: &gw, user: &alice };
    let (t1, t2, t3) = (forge.hs256(&forge.claims()), forge.hs256(&forge.claims()), forge.hs256(&forge.claims()));
    assert_eq!(gw.post("/api/auth/logout", &t1, json!({})).await.0, StatusCode::OK);
    let change = json!({ "password": "a new password", "currentPassword": "correct horse battery" });
    let (status, changed) = gw.put(format!("/api/users/{}", alice.id), &t2, change).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let after_change = changed["data"]["token"].as_str().expect("a new token").to_owned();
    for (what, token) in [("after logout", &t1), ("after a password change", &t2), ("an older one", &t3)] {
        assert_eq!(gw.get("/api/users/me", token).await.0, StatusCode::UNAUTHORIZED, "{what}");
        assert!(refused_at_connect(&gw, token).await, "{what}: connect");
    }
    assert_eq!(gw.get("/api/users/me", &after_change).await.0, StatusCode::OK);
    let (status, _) = gw.delete(format!("/api/users/{}", alice.id), &after_change).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gw.get("/api/users/me", &after_change).await.0, StatusCode::UNAUTHORIZED, "after deletion");
    assert!(refused_at_connect(&gw, &after_change).await, "after deletion: connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_promotion_and_mass_assignment_are_refused_and_change_nothing() {
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let (_, before) = gw.get("/api/users/me", &alice.token).await;
    let fields = [
        ("id", json!("usr_01JD0000000000000000000000")),
        ("createdAt", json!("2000-01-01T00:00:00Z")),
        ("updatedAt", json!("2000-01-01T00:00:00Z")),
        ("passwordHash", json!("$argon2id$v=19$m=19456,t=2,p=1$x$y")),
        ("password_hash", json!("x")),
        ("tokensValidAfter", json!("tok_0")),
        ("Role", json!("admin")),
        ("isAdmin", json!(true)),
        ("__proto__", json!({ "role": "admin" })),
    ];
    let mut attempts = 0;
    for (field, value) in &fields {
        let mut reg = json!({ "username": crate::support::unique_username("m"), "password": "password 123" });
        reg[*field] = value.clone();
        for path in ["/api/users/register", "/api/auth/signup"] {
            let (status, body) = gw.post_anon(path, reg.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} with {field}: {body}");
            attempts += 1;
        }
        let (status, body) = gw.put(format!("/api/users/{}", alice.id), &alice.token, json!({ *field: value })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "update with {field}: {body}");
        attempts += 1;
    }
    // `role: admin` is a known field, refused for who is not an admin: 403.
    let promote = json!({ "username": "wannabe-admin", "password": "password 123", "role": "admin" });
    for token in [None, Some(alice.token.as_str())] {
        assert_eq!(
            gw.call(Method::POST, "/api/users/register", token, Some(promote.clone())).await.0,
            StatusCode::FORBIDDEN
        );
        attempts += 1;
    }
    let me = format!("/api/users/{}", alice.id);
    assert_eq!(gw.put(&me, &alice.token, json!({ "role": "admin" })).await.0, StatusCode::FORBIDDEN);
    // A duplicate key cannot smuggle a second value past the check.
    let raw = r#"{"username":"dupe-key","password":"password 123","role":"user","role":"admin"}"#;
    let res = reqwest::Client::new()
        .post(format!("{}/api/users/register", gw.http))
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "duplicate keys");
    attempts += 2;
    let (_, after) = gw.get("/api/users/me", &alice.token).await;
    assert_eq!(before, after, "nothing changed");
    assert_eq!(after["data"]["role"], "user");
    println!("{attempts} mass-assignment and promotion attempts refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_registration_answers_do_not_tell_who_exists() {
    let gw = Gateway::start(Store::Memory).await;
    let alice = gw.user("alice").await;
    let email = format!("{}@example.com", alice.username);
    let update = json!({ "email": email });
    assert_eq!(gw.put(format!("/api/users/{}", alice.id), &alice.token, update).await.0, 200);
    for (path, known, unknown) in [
        (
            "/api/users/login",
            json!({ "username": alice.username, "password": "wrong password" }),
            json!({ "username": "nobody-here", "password": "wrong password" }),
        ),
        (
            "/api/auth/login",
            json!({ "email": email, "password": "wrong password" }),
            json!({ "email": "nobody@example.com", "password": "wrong password" }),
        ),
        (
            "/api/auth/login",
            json!({ "login": alice.username.to_uppercase(), "password": "x" }),
            json!({ "login": "NOBODY-HERE", "password": "x" }),
        ),
        (
            "/users/auth/login",
            json!({ "email": email, "password": "wrong password" }),
            json!({ "email": "nobody@example.com", "password": "wrong password" }),
        ),
    ] {
        let (a, b) = (gw.post_anon(path, known).await, gw.post_anon(path, unknown).await);
        assert_eq!(a, b, "{path}: a wrong password and an unknown user answer alike");
        assert!(a.0.is_client_error());
    }
    // Registration must say "taken", but not which of username and email.
    let taken_name = json!({ "username": alice.username, "email": "fresh@example.com", "password": "password 123" });
    let taken_email = json!({ "username": "fresh-name", "email": email, "password": "password 123" });
    let (a, b) =
        (gw.post_anon("/api/users/register", taken_name).await, gw.post_anon("/api/users/register", taken_email).await);
    assert_eq!((a.0, b.0), (StatusCode::CONFLICT, StatusCode::CONFLICT));
    assert_eq!(a.1, b.1, "the same answer for a taken username and a taken email");
}

/// A gateway whose login counters are small enough to reach quickly.
async fn throttled_gateway(free: u32, free_per_ip: u32) -> Gateway {
    let mut config = crate::harness::config(Store::Memory);
    config.login_free_failures = free;
    config.login_free_failures_per_ip = free_per_ip;
    // Long enough that the block outlasts a debug build's argon2; the real default is 1 s.
    config.login_base_delay_ms = 600_000;
    Gateway::spawn(config, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_login_failures_are_slowed_down_and_the_real_user_gets_back_in() {
    let gw = throttled_gateway(3, 1000).await;
    let alice = gw.user("alice").await;
    let wrong = json!({ "username": alice.username, "password": "wrong password" });
    let right = json!({ "username": alice.username, "password": "correct horse battery" });
    let ghost = json!({ "username": "nobody-here", "password": "wrong password" });
    for _ in 0..3 {
        assert_eq!(gw.post_anon("/api/auth/login", wrong.clone()).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(gw.post_anon("/api/auth/login", ghost.clone()).await.0, StatusCode::UNAUTHORIZED);
    }
    // Blocked now: even the right password waits, and a real name looks like an unknown one.
    let (status, blocked) = gw.post_anon("/api/auth/login", right.clone()).await;
    assert_eq!((status, blocked["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("RATE_LIMITED")));
    let (ghost_status, ghost_blocked) = gw.post_anon("/api/auth/login", ghost.clone()).await;
    assert_eq!(ghost_status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(blocked["error"]["code"], ghost_blocked["error"]["code"]);
    // The same name in another case, on the other route, is the same counter.
    let shout = json!({ "username": alice.username.to_uppercase(), "password": "correct horse battery" });
    assert_eq!(gw.post_anon("/api/users/login", shout).await.0, StatusCode::TOO_MANY_REQUESTS);
    // Never for good: once the delay has passed (moved into the past here rather than waited
    // for), the real user gets in, which resets the counter.
    let key = chat::login_guard::name_key(&alice.username);
    let table = gw.app().table();
    let past = chat::clock::now_ms() - 1;
    table.update(&key, vec![chat::store::Update::Set("until".into(), past.into())], None).await.expect("rewind");
    assert_eq!(gw.post_anon("/api/auth/login", right.clone()).await.0, StatusCode::OK);
    assert!(table.get(&key, true).await.expect("read").is_none(), "a success resets the counter");
    assert_eq!(gw.post_anon("/api/auth/login", wrong.clone()).await.0, StatusCode::UNAUTHORIZED, "free failures again");
    // The counter expires by itself too (its TTL ends the window).
    let counter = table.get(&key, true).await.expect("read").expect("a failure is counted");
    assert!(counter["ttl"].as_i64().expect("ttl") > now_secs(), "{counter:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_parallel_guesses_gets_no_more_tries_than_a_sequence() {
    let gw = throttled_gateway(3, 1000).await;
    let alice = gw.user("alice").await;
    let wrong = json!({ "username": alice.username, "password": "wrong password" });
    let statuses = futures::future::join_all((0..20).map(|_| gw.post_anon("/api/auth/login", wrong.clone()))).await;
    let checked = statuses.iter().filter(|(s, _)| *s == StatusCode::UNAUTHORIZED).count();
    let limited = statuses.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(checked + limited, 20, "{statuses:?}");
    assert!((1..=3).contains(&checked), "{checked} passwords checked out of a burst of 20, allowance 3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_spraying_from_one_address_is_slowed_down() {
    let gw = throttled_gateway(1000, 3).await;
    for i in 0..3 {
        let body = json!({ "username": format!("sprayed-{i}"), "password": "Summer2026!" });
        assert_eq!(gw.post_anon("/api/auth/login", body).await.0, StatusCode::UNAUTHORIZED);
    }
    let body = json!({ "username": "sprayed-next", "password": "Summer2026!" });
    assert_eq!(gw.post_anon("/api/auth/login", body).await.0, StatusCode::TOO_MANY_REQUESTS);
}
