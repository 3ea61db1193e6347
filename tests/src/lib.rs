//! Connections to the local servers that `make test` (scripts/test.sh) starts, read from the
//! environment it exports. A missing variable fails the test with instructions; nothing skips.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use shared::store::dynamo::{DynamoStore, PooledTable, TableScope};

/// The value of a variable `make test` exports, or a panic that says how to get it.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set. These tests need the local servers: run them with `make test`, \
             which starts the local DynamoDB server (moto) and exports {name}."
        )
    })
}

/// A DynamoDB client for the local server.
pub fn dynamodb() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(env("TENANTRY_DYNAMODB_ENDPOINT"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "tenantry-tests",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The DynamoDB store adapter on the local pooled data table.
pub fn pooled_store() -> DynamoStore<PooledTable> {
    DynamoStore::new(PooledTable(TableScope {
        client: dynamodb(),
        table: env("TENANTRY_DATA_TABLE"),
    }))
}

/// The DynamoDB control-table adapter on the local control table.
pub fn control_store() -> shared::store::dynamo::DynamoControl {
    shared::store::dynamo::DynamoControl::new(dynamodb(), env("TENANTRY_CONTROL_TABLE"))
}
