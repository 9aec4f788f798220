//! `bootstrap-thumbnail`: the attachments bucket's `Object Created` events on `uploads/`, through
//! EventBridge (template.yaml, `ThumbnailFunction`). For each new image: its record (GetItem), the
//! object (GetObject, refused past `MAX_INPUT_BYTES` before reading), the preview written to
//! `thumbs/<id>` (PutObject; tagged pending like its upload unless already attached) and the
//! record's dimensions (UpdateItem, only on an existing record). A file that is not a decodable
//! image within the limits is logged and skipped: no retry can change it.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

struct Env {
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let env = Env { s3: aws_sdk_s3::Client::new(&sdk), dynamodb: aws_sdk_dynamodb::Client::new(&sdk), table };
    let env = &env;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        for (bucket, key) in objects(&ev.payload) {
            if let Err(e) = one(env, &bucket, &key).await {
                tracing::error!(error = %e, key, "preview failed");
                return Err(e);
            }
        }
        Ok::<(), Error>(())
    }))
    .await
}

/// The objects an event names: EventBridge's `Object Created` (the template's rule) or a bucket
/// notification's `Records`.
fn objects(event: &Value) -> Vec<(String, String)> {
    let pair = |b: &Value, k: &Value| Some((b.as_str()?.to_owned(), k.as_str()?.to_owned()));
    if let Some(d) = event.get("detail") {
        return pair(&d["bucket"]["name"], &d["object"]["key"]).into_iter().collect();
    }
    let records = event["Records"].as_array().map(Vec::as_slice).unwrap_or_default();
    records.iter().filter_map(|r| pair(&r["s3"]["bucket"]["name"], &r["s3"]["object"]["key"])).collect()
}

async fn one(env: &Env, bucket: &str, key: &str) -> Result<(), Error> {
    let Some(id) = thumbnail::upload_of(key) else { return Ok(()) };
    let (pk, sk) = thumbnail::record_key(id);
    let record = env
        .dynamodb
        .get_item()
        .table_name(&env.table)
        .key("pk", AttributeValue::S(pk.clone()))
        .key("sk", AttributeValue::S(sk.clone()))
        .consistent_read(true)
        .send()
        .await?;
    let Some(item) = record.item else { return Ok(()) };
    let content_type = item.get("contentType").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    if !thumbnail::handles(&content_type) {
        return Ok(());
    }
    let attached = item.contains_key("attachedTo");
    let object = env.s3.get_object().bucket(bucket).key(key).send().await?;
    if object.content_length().unwrap_or(i64::MAX) > thumbnail::MAX_INPUT_BYTES as i64 {
        tracing::warn!(key, "too large for a preview");
        return Ok(());
    }
    let bytes = object.body.collect().await?.into_bytes();
    let preview = match thumbnail::preview(&bytes, &content_type) {
        Ok(p) => p,
        Err(refused) => {
            tracing::warn!(key, %refused, "no preview");
            return Ok(());
        }
    };
    let mut put = env
        .s3
        .put_object()
        .bucket(bucket)
        .key(thumbnail::thumbnail_key(id))
        .content_type(thumbnail::CONTENT_TYPE)
        .body(ByteStream::from(preview.bytes));
    if !attached {
        put = put.tagging(thumbnail::PENDING_TAG);
    }
    put.send().await?;
    let n = |v: u32| AttributeValue::N(v.to_string());
    let updated = env
        .dynamodb
        .update_item()
        .table_name(&env.table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .update_expression("SET width = :w, height = :h, thumbnail = :t")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":w", n(preview.width))
        .expression_attribute_values(":h", n(preview.height))
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .send()
        .await;
    match updated {
        Ok(_) => Ok(()),
        // Deleted meanwhile (its message too): nothing to record.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
