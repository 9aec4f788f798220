//! The API descriptions against the code. Both documents are generated from the route
//! declarations and the Rust types (`cargo xtask generate`; the xtask crate's staleness test
//! fails when they are not what it writes), so what is left here is what a generator bug would
//! break: `docs/openapi.json` has exactly the HTTP routes of `functions::routes::routes()`, its
//! references resolve, `docs/asyncapi.yaml` has every WebSocket action and every event of
//! `shared/src/events.rs`, and the gateway serves the OpenAPI document at `/openapi.json`.

use std::collections::BTreeSet;

use functions::routes::{http_parts, routes, Handler};
use serde_json::Value;

use crate::harness::{Gateway, Store};

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

fn openapi() -> Value {
    serde_json::from_str(local_gateway::OPENAPI).expect("docs/openapi.json is JSON")
}

fn documented_operations(doc: &Value) -> BTreeSet<String> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter(|m| item.get(**m).is_some()).map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect()
}

fn http_routes() -> BTreeSet<String> {
    routes()
        .into_iter()
        .filter(|r| matches!(r.handler, Handler::Http(_)))
        .filter_map(|r| http_parts(r.key).map(|(m, p)| format!("{m} {p}")))
        .collect()
}

#[test]
fn the_openapi_document_has_exactly_the_http_routes_of_the_route_table() {
    let (documented, routed) = (documented_operations(&openapi()), http_routes());
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "docs/openapi.json and functions/src/routes.rs drifted apart:\n  routes without an operation: {undocumented:?}\n  operations without a route: {unrouted:?}"
    );
}

/// Every `$ref` of both documents points at something, so tools (schemathesis) load it whole.
#[test]
fn every_reference_of_the_contract_documents_resolves() {
    fn walk(v: &Value, doc: &Value, broken: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    if doc.pointer(r.trim_start_matches('#')).is_none() {
                        broken.push(r.clone());
                    }
                }
                map.values().for_each(|v| walk(v, doc, broken));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, doc, broken)),
            _ => {}
        }
    }
    for doc in [openapi(), asyncapi()] {
        let mut broken = Vec::new();
        walk(&doc, &doc, &mut broken);
        assert!(broken.is_empty(), "unresolved references: {broken:?}");
    }
    assert_eq!(openapi()["openapi"], "3.1.0");
    assert_eq!(asyncapi()["asyncapi"], "3.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_the_document_at_openapi_json() {
    let gw = Gateway::start(Store::Memory).await;
    let res = reqwest::get(format!("{}/openapi.json", gw.http)).await.expect("the gateway answers");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let served: Value = res.json().await.expect("JSON");
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json")).expect("the document"),
    )
    .expect("JSON");
    assert_eq!(served, on_disk, "the gateway serves the document of the repository");
}

fn asyncapi() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/asyncapi.yaml"))
        .expect("docs/asyncapi.yaml");
    serde_yaml_ng::from_str(&text).expect("docs/asyncapi.yaml is YAML")
}

/// The `const` of a message's `payload.properties.<field>`.
fn consts(doc: &Value, field: &str) -> BTreeSet<String> {
    doc["components"]["messages"]
        .as_object()
        .expect("components.messages")
        .values()
        .filter_map(|m| m["payload"]["properties"][field]["const"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_asyncapi_document_has_every_websocket_action_of_the_route_table() {
    let documented = consts(&asyncapi(), "action");
    let routed: BTreeSet<String> = routes()
        .into_iter()
        .filter(|r| matches!(r.handler, Handler::Ws(_)) && !r.key.starts_with('$'))
        .map(|r| r.key.to_owned())
        .collect();
    assert_eq!(documented, routed, "docs/asyncapi.yaml and the WebSocket routes drifted apart");
}

#[test]
fn the_asyncapi_document_has_every_server_event() {
    let documented = consts(&asyncapi(), "event");
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src/events.rs"))
        .expect("shared/src/events.rs");
    let events: BTreeSet<String> = source
        .lines()
        .filter(|l| l.trim_start().starts_with("pub const") && l.contains("&str"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect();
    assert!(!events.is_empty());
    let missing: Vec<_> = events.difference(&documented).collect();
    assert!(missing.is_empty(), "events without a description in docs/asyncapi.yaml: {missing:?}");
}
