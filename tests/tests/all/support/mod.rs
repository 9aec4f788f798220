//! Helpers shared by the test modules of this binary (each module uses a subset of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use chat::store::{DynamoTable, EmbeddedTable};

/// The local DynamoDB-compatible server started by `scripts/test.sh`. Tests that need it fail
/// rather than skip without it, so that a green run always means DynamoDB was exercised.
pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh, which starts a local DynamoDB server")
    })
}

/// SDK configuration for the local server: dummy credentials and region, set explicitly so
/// nothing is looked up in the environment or a profile.
pub async fn local_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint)
        .load()
        .await
}

pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&local_sdk_config(&dynamodb_endpoint()).await)
}

/// A name no other test uses (tables, users, rooms...).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::generate()).to_lowercase()
}

/// A user name no other test uses: `prefix` and the random end of a fresh ULID, lowercase
/// (usernames are 3 to 32 characters).
pub fn unique_username(prefix: &str) -> String {
    format!("{prefix}{}", &ulid::Ulid::generate().to_string()[16..]).to_lowercase()
}

/// A new, empty table of its own on the local server.
pub async fn dynamo_table() -> DynamoTable {
    let table = DynamoTable::new(dynamo_client().await, unique_name("test"));
    table.create_table_if_missing().await.expect("creating the test table");
    table
}

pub fn memory_table() -> EmbeddedTable {
    EmbeddedTable::in_memory().expect("in-memory store")
}

/// A temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(unique_name("chat-test"));
        std::fs::create_dir_all(&path).expect("creating a temporary directory");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
