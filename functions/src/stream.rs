//! The phone push function's trigger: records of the table's DynamoDB stream (new images), as
//! Lambda delivers them, typed here (no extra dependency: the same JSON the event source mapping
//! sends). The event source mapping's filter (`FILTER_PATTERNS`, in the template) lets through
//! only new message items and new admin notifications, so the function runs for nothing else;
//! the local gateway applies the same filter (`matches`) when it emulates the trigger.
//!
//! Why a stream: the send's acknowledgement never waits for SNS, and the send path pays
//! nothing more (no queue message, no extra write: the stream is the message item's own
//! write; Lambda's reads of the stream are free). Retries are the event source mapping's
//! (bisect on error, a maximum age and attempts), failures go to an SQS dead-letter queue, and
//! the per-device claims (`repo::devices::claim_push`) keep retries from pushing twice.

use std::collections::HashMap;

use chat::phone_push::PhonePush;
use chat::repo::notifications::Notification;
use chat::store::Item;
use chat::{App, AppError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The event source mapping's filter: inserts of message items (`MSGS#…`) and of admin
/// notifications (`USER#… / NOTIF#…` with `type: admin`). Each is one `Filters` pattern.
pub const FILTER_PATTERNS: &[&str] = &[
    r#"{"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "MSGS#"}]}}}}"#,
    r#"{"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "NOTIF#"}]}}, "NewImage": {"type": {"S": ["admin"]}}}}"#,
];

/// A DynamoDB attribute value in DynamoDB's JSON (`{"S": "…"}`, `{"N": "1"}`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttributeValue {
    S(String),
    N(String),
    #[serde(rename = "BOOL")]
    Bool(bool),
    #[serde(rename = "NULL")]
    Null(bool),
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    L(Vec<AttributeValue>),
    M(HashMap<String, AttributeValue>),
}

impl AttributeValue {
    /// As the stores write it (`store::dynamo`): `…Set` attributes are string sets.
    pub fn of(name: &str, v: &Value) -> Self {
        match v {
            Value::Array(a) if name.ends_with("Set") => {
                Self::Ss(a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            }
            other => Self::plain(other),
        }
    }

    fn plain(v: &Value) -> Self {
        match v {
            Value::Null => Self::Null(true),
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::N(n.to_string()),
            Value::String(s) => Self::S(s.clone()),
            Value::Array(a) => Self::L(a.iter().map(Self::plain).collect()),
            Value::Object(m) => Self::M(m.iter().map(|(k, v)| (k.clone(), Self::plain(v))).collect()),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Self::S(s) => Value::String(s.clone()),
            Self::N(n) => {
                n.parse::<i64>().map(Value::from).or_else(|_| n.parse::<f64>().map(Value::from)).unwrap_or(Value::Null)
            }
            Self::Bool(b) => Value::Bool(*b),
            Self::Null(_) => Value::Null,
            Self::Ss(s) => Value::Array(s.iter().cloned().map(Value::String).collect()),
            Self::L(l) => Value::Array(l.iter().map(Self::to_json).collect()),
            Self::M(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    fn as_s(&self) -> Option<&str> {
        match self {
            Self::S(s) => Some(s),
            _ => None,
        }
    }
}

pub type Image = HashMap<String, AttributeValue>;

/// What Lambda gets from a DynamoDB stream (`NEW_IMAGE`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records")]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID", default)]
    pub event_id: String,
    /// `INSERT`, `MODIFY`, `REMOVE`.
    #[serde(rename = "eventName")]
    pub event_name: String,
    #[serde(rename = "eventSource", default)]
    pub event_source: String,
    pub dynamodb: StreamData,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamData {
    pub keys: Image,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<Image>,
    pub sequence_number: String,
    #[serde(default)]
    pub stream_view_type: String,
}

impl StreamRecord {
    /// The record of an item's insertion (what the local gateway builds after a write).
    pub fn insert(item: &Item, sequence_number: String) -> Self {
        let image: Image = item.iter().map(|(k, v)| (k.clone(), AttributeValue::of(k, v))).collect();
        let keys =
            image.iter().filter(|(k, _)| *k == "pk" || *k == "sk").map(|(k, v)| (k.clone(), v.clone())).collect();
        Self {
            event_id: sequence_number.clone(),
            event_name: "INSERT".into(),
            event_source: "aws:dynamodb".into(),
            dynamodb: StreamData {
                keys,
                new_image: Some(image),
                sequence_number,
                stream_view_type: "NEW_IMAGE".into(),
            },
        }
    }

    fn key(&self, name: &str) -> &str {
        self.dynamodb.keys.get(name).and_then(AttributeValue::as_s).unwrap_or("")
    }

    fn new_attr(&self, name: &str) -> Option<&str> {
        self.dynamodb.new_image.as_ref()?.get(name)?.as_s()
    }

    /// Whether `FILTER_PATTERNS` let it through.
    pub fn matches(&self) -> bool {
        self.event_name == "INSERT"
            && (self.key("pk").starts_with("MSGS#")
                || (self.key("sk").starts_with("NOTIF#") && self.new_attr("type") == Some("admin")))
    }

    fn item(&self) -> Item {
        self.dynamodb.new_image.iter().flatten().map(|(k, v)| (k.clone(), v.to_json())).collect()
    }
}

/// The answer that makes Lambda retry only the failed records (`ReportBatchItemFailures`).
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    pub item_identifier: String,
}

/// Pushes what each record asks for; a record that failed (SNS or the store unavailable) is
/// reported for a retry, which sends only the pushes not claimed yet.
pub async fn handle(app: &App, sns: &dyn PhonePush, event: StreamEvent) -> BatchResponse {
    let mut out = BatchResponse::default();
    for record in event.records.iter().filter(|r| r.matches()) {
        if let Err(e) = one(app, sns, record).await {
            e.log();
            out.batch_item_failures.push(ItemFailure { item_identifier: record.dynamodb.sequence_number.clone() });
        }
    }
    out
}

async fn one(app: &App, sns: &dyn PhonePush, record: &StreamRecord) -> Result<(), AppError> {
    let item = record.item();
    let pushed = if record.key("pk").starts_with("MSGS#") {
        chat::service::mobile_push::message(app, sns, &chat::repo::messages::from_stored(item)?).await?
    } else {
        let n: Notification = chat::repo::from_item(item)?;
        chat::service::mobile_push::notification(app, sns, &n).await?
    };
    tracing::info!(sent = pushed.sent, removed = pushed.removed, "phone push");
    Ok(())
}

/// Lambda's entry: the handler with the binary's SNS client.
pub async fn serve(app: &App, event: StreamEvent) -> Result<BatchResponse, AppError> {
    let sns = app.phone_push.as_deref().ok_or_else(|| AppError::internal("the SNS client is not linked"))?;
    Ok(handle(app, sns, event).await)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(item: Value) -> StreamRecord {
        StreamRecord::insert(item.as_object().expect("an object"), "1".into())
    }

    #[test]
    fn the_filter_lets_through_new_messages_and_admin_notifications_only() {
        assert!(record(json!({ "pk": "MSGS#dm_a_b", "sk": "msg_1", "text": "hi" })).matches());
        assert!(record(json!({ "pk": "USER#u", "sk": "NOTIF#n", "type": "admin" })).matches());
        assert!(!record(json!({ "pk": "USER#u", "sk": "NOTIF#n", "type": "mention" })).matches());
        assert!(!record(json!({ "pk": "CONV#c", "sk": "SUMMARY" })).matches());
        let mut modify = record(json!({ "pk": "MSGS#dm_a_b", "sk": "msg_1" }));
        modify.event_name = "MODIFY".into();
        assert!(!modify.matches());
        for pattern in FILTER_PATTERNS {
            let p: Value = serde_json::from_str(pattern).expect("a JSON pattern");
            assert_eq!(p["eventName"], json!(["INSERT"]));
        }
    }

    #[test]
    fn a_record_reads_as_lambda_sends_it_and_gives_the_item_back() {
        let item =
            json!({ "pk": "MSGS#c", "sk": "m", "seq": 3, "mentionSet": ["1"], "deleted": false, "m": { "a": null } });
        let r = record(item.clone());
        let wire = serde_json::to_value(StreamEvent { records: vec![r] }).expect("serializes");
        assert_eq!(wire["Records"][0]["dynamodb"]["NewImage"]["seq"], json!({ "N": "3" }));
        assert_eq!(wire["Records"][0]["dynamodb"]["NewImage"]["mentionSet"], json!({ "SS": ["1"] }));
        assert_eq!(wire["Records"][0]["dynamodb"]["Keys"]["pk"], json!({ "S": "MSGS#c" }));
        let back: StreamEvent = serde_json::from_value(wire).expect("deserializes");
        assert_eq!(Value::Object(back.records[0].item()), item);
    }
}
