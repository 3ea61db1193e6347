//! Cold-start wiring shared by every function's `main`.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::{ConfigError, DataConfig};
use crate::store::dynamo::{DynamoStore, PooledTable, TableScope};

/// The SDK configuration from the environment (region, credentials, and endpoint overrides such
/// as `AWS_ENDPOINT_URL_DYNAMODB`, which the local stack sets).
pub async fn aws_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The data store of a function that serves tenant data.
pub async fn data_store() -> Result<DynamoStore<PooledTable>, ConfigError> {
    let config = DataConfig::from_env()?;
    let sdk = aws_config().await;
    Ok(DynamoStore::new(PooledTable(TableScope {
        client: aws_sdk_dynamodb::Client::new(&sdk),
        table: config.data_table,
    })))
}
