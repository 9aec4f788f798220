//! `bootstrap-thumbnail`: the attachments bucket's `Object Created` events on `uploads/`, through
//! EventBridge (template.yaml, `ThumbnailFunction`). For each new image: its record (GetItem), the
//! object (GetObject, refused past `MAX_INPUT_BYTES` before reading), the preview written to
//! `thumbs/<id>` (PutObject; tagged pending like its upload unless already attached) and the
//! record's dimensions (UpdateItem). A file that is not a decodable image within the limits is
//! logged and skipped: no retry can change it.

use aws_sdk_s3::primitives::ByteStream;
use chat::repo::uploads as records;
use chat::store::DynamoTable;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

struct Env {
    s3: aws_sdk_s3::Client,
    table: DynamoTable,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table_name = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let env = Env { s3: aws_sdk_s3::Client::new(&sdk), table: DynamoTable::new(DynamoTable::client_from_config(&sdk, None), table_name) };
    let env = &env;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        for (bucket, key) in objects(&ev.payload) {
            let (bucket, key) = (bucket.as_str(), key.as_str());
            if let Err(e) = one(env, bucket, key).await {
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
    let Some(upload) = records::get(&env.table, &id).await? else { return Ok(()) };
    if !thumbnail::handles(upload.content_type.as_str()) {
        return Ok(());
    }
    let object = env.s3.get_object().bucket(bucket).key(key).send().await?;
    if object.content_length().unwrap_or(i64::MAX) > thumbnail::MAX_INPUT_BYTES as i64 {
        tracing::warn!(key, "too large for a preview");
        return Ok(());
    }
    let bytes = object.body.collect().await?.into_bytes();
    let preview = match thumbnail::preview(&bytes, upload.content_type.as_str()) {
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
        .key(chat::uploads::thumbnail_key(&id))
        .content_type(thumbnail::CONTENT_TYPE)
        .body(ByteStream::from(preview.bytes));
    if upload.attached_to.is_none() {
        put = put.tagging(chat::attachments::PENDING_TAG);
    }
    put.send().await?;
    records::set_preview(&env.table, &id, preview.width, preview.height, true).await?;
    Ok(())
}
