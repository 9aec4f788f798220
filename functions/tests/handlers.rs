//! Handlers are plain async functions: called here with API Gateway events built from fixtures
//! (`tests/events/`, shaped as AWS sends them), on an in-memory store, without any gateway.

use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use chat::push::{Push, PushError};
use chat::store::EmbeddedTable;
use chat::{App, Config};
use functions::routes::{routes, Handler};
use serde_json::{json, Value};

/// Records what handlers push.
#[derive(Default)]
struct Recorded(Mutex<Vec<(String, Value)>>);

#[async_trait::async_trait]
impl Push for Recorded {
    async fn post(&self, connection_id: &str, payload: Vec<u8>) -> Result<(), PushError> {
        let frame = serde_json::from_slice(&payload).map_err(|e| PushError::Failed(e.to_string()))?;
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push((connection_id.to_owned(), frame));
        Ok(())
    }
    async fn close(&self, _: &str) -> Result<(), PushError> {
        Ok(())
    }
}

fn app() -> (Arc<App>, Arc<Recorded>) {
    let push = Arc::new(Recorded::default());
    let table = Arc::new(EmbeddedTable::in_memory().expect("store"));
    (Arc::new(App::with_parts(Config::for_tests(), table, push.clone())), push)
}

fn handler(key: &str) -> Handler {
    routes().into_iter().find(|r| r.key == key).map(|r| r.handler).expect("a route")
}

fn event(name: &str) -> Value {
    let path = format!("{}/tests/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

async fn http(app: &Arc<App>, key: &str, ev: Value) -> (u16, Value) {
    let Handler::Http(h) = handler(key) else { panic!("{key} is not an HTTP route") };
    let req = lambda_http::request::from_str(&ev.to_string()).expect("an API Gateway v2 event");
    let res = functions::http::respond(app.clone(), h, req).await;
    let body: Value = serde_json::from_slice(res.body().as_ref()).expect("JSON body");
    (res.status().as_u16(), body)
}

#[tokio::test]
async fn the_register_handler_answers_an_api_gateway_event_without_a_gateway() {
    let (app, _) = app();
    let (status, body) = http(&app, "POST /api/users/register", event("http-register.json")).await;
    assert_eq!(status, 201, "{body}");
    let token = body["data"]["token"].as_str().expect("a token").to_owned();
    // The same event shape for another route: the caller's own profile with the token.
    let mut me = event("http-register.json");
    me["routeKey"] = "GET /api/users/me".into();
    me["rawPath"] = "/api/users/me".into();
    me["requestContext"]["http"]["method"] = "GET".into();
    me["requestContext"]["http"]["path"] = "/api/users/me".into();
    me["headers"]["authorization"] = format!("Bearer {token}").into();
    me.as_object_mut().map(|o| o.remove("body"));
    let (status, body) = http(&app, "GET /api/users/me", me).await;
    assert_eq!((status, body["data"]["username"].as_str()), (200, Some("handler-alice")), "{body}");
}

#[tokio::test]
async fn a_bad_body_in_an_event_is_a_400_envelope_from_the_handler_itself() {
    let (app, _) = app();
    let mut ev = event("http-register.json");
    ev["body"] = json!("{\"username\": 5}");
    let (status, body) = http(&app, "POST /api/users/register", ev).await;
    assert_eq!(
        (status, body["success"].as_bool(), body["error"]["code"].as_str()),
        (400, Some(false), Some("VALIDATION_ERROR"))
    );
}

#[tokio::test]
async fn the_ping_handler_answers_a_websocket_event_with_a_pong_push() {
    let (app, push) = app();
    let (_, registered) = http(&app, "POST /api/users/register", event("http-register.json")).await;
    let user = registered["data"]["user"]["id"].as_str().expect("an id").to_owned();
    let mut ev = event("ws-ping.json");
    let connection = ev["requestContext"]["connectionId"].as_str().expect("id").to_owned();
    ev["requestContext"]["authorizer"] = json!({ "userId": user, "username": "handler-alice", "role": "user" });
    // `$connect` first: a frame is served only on a stored connection.
    let Handler::Ws(connect) = handler("$connect") else { panic!("$connect") };
    let mut connect_ev = ev.clone();
    connect_ev["requestContext"]["routeKey"] = "$connect".into();
    connect_ev["requestContext"]["eventType"] = "CONNECT".into();
    let connect_ev: ApiGatewayWebsocketProxyRequest = serde_json::from_value(connect_ev).expect("a WebSocket event");
    assert_eq!(functions::ws::respond(app.clone(), connect, connect_ev).await.status_code, 200);
    let Handler::Ws(ping) = handler("ping") else { panic!("ping") };
    let ev: ApiGatewayWebsocketProxyRequest = serde_json::from_value(ev).expect("a WebSocket event");
    assert_eq!(functions::ws::respond(app.clone(), ping, ev).await.status_code, 200);
    let pushed = push.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(pushed.iter().any(|(c, f)| *c == connection && f["event"] == "pong"), "{pushed:?}");
}
