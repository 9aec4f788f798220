//! The WebSocket contract, checked on every frame the suites receive: each server event must
//! be one `docs/asyncapi.yaml` documents as received, and its payload must conform to that
//! message's schema (`harness::Ws` calls `check_event` on every text frame).

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonschema::Validator;
use serde_json::{json, Value};

/// The AsyncAPI document, as JSON.
pub static ASYNCAPI: LazyLock<Value> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/asyncapi.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
});

/// The message names an operation of `action` (`send`: client actions, `receive`: server events).
pub fn messages(action: &str) -> Vec<String> {
    let ops = ASYNCAPI["operations"].as_object().into_iter().flatten();
    ops.filter(|(_, op)| op["action"] == action)
        .flat_map(|(_, op)| op["messages"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m["$ref"].as_str().and_then(|r| r.rsplit('/').next()).map(str::to_owned))
        .collect()
}

/// A validator of message `name`'s payload, its `$ref`s resolved in the document's components.
pub fn payload_validator(name: &str) -> Validator {
    let schema = json!({
        "$ref": format!("#/components/messages/{name}/payload"),
        "components": ASYNCAPI["components"].clone(),
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(false)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the schema of {name} does not compile: {e}"))
}

/// The server events, by name.
static EVENTS: LazyLock<HashMap<String, Validator>> =
    LazyLock::new(|| messages("receive").into_iter().map(|name| (name.clone(), payload_validator(&name))).collect());

/// Panics, naming the event and what is wrong, unless `frame` is a documented server event
/// whose payload conforms to its schema.
pub fn check_event(frame: &Value) {
    let name = frame["event"].as_str().unwrap_or_default();
    let Some(validator) = EVENTS.get(name) else {
        panic!("the server sent an event the AsyncAPI document does not list as received: {frame}");
    };
    let errors: Vec<String> = validator.iter_errors(frame).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "`{name}` does not conform to docs/asyncapi.yaml: {errors:?}\n{frame}");
}

#[test]
fn every_documented_event_schema_compiles_and_a_wrong_payload_is_refused() {
    assert!(EVENTS.contains_key("newMessage") && EVENTS.contains_key("error"), "{:?}", EVENTS.keys());
    let error = &EVENTS["error"];
    assert!(error.is_valid(&json!({ "event": "error", "data": { "code": "NOT_FOUND", "message": "x" } })));
    assert!(!error.is_valid(&json!({ "event": "error", "data": { "code": "NOPE", "message": "x" } })));
    assert!(!EVENTS["newMessage"].is_valid(&json!({ "event": "newMessage", "data": {} })));
}
