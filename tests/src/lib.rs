//! Connections to the local servers that `make test` (scripts/test.sh) starts, read from the
//! environment it exports. A missing variable fails the test with instructions; nothing skips.

pub mod stack;

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

/// SDK configuration for the local servers: their endpoint for every service, fixed dummy
/// credentials (moto routes requests by their signature, so they must be signed).
pub fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(env("TENANTRY_DYNAMODB_ENDPOINT"))
        .region(Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                "local",
                "local",
                None,
                None,
                "tenantry-tests",
            )),
        )
        .build()
}

/// The prefix of silo tables in the test stack.
pub fn silo_prefix() -> String {
    format!(
        "{}-tenant-",
        env("TENANTRY_DATA_TABLE").trim_end_matches("-data")
    )
}

/// Tenant storage (pooled table and silos) with the test stack's names.
pub fn tenant_storage() -> shared::tenancy::storage::TenantStorage {
    shared::tenancy::storage::TenantStorage::new(
        dynamodb(),
        env("TENANTRY_DATA_TABLE"),
        silo_prefix(),
    )
}

/// A migrator that does not wait for caches to drain (no API instance caches anything here),
/// reading 3 items a page, so that copies of the tests' small tenants span several pages.
pub fn migrator() -> shared::tenancy::migration::Migrator {
    shared::tenancy::migration::Migrator::new(
        tenant_storage().with_page_items(3),
        dynamodb(),
        env("TENANTRY_CONTROL_TABLE"),
        std::time::Duration::ZERO,
    )
}

/// The tenant-scoped resolver of the data APIs, against the local STS and DynamoDB.
pub fn tenant_access(
    clock: std::sync::Arc<dyn shared::tenancy::access::Clock>,
) -> shared::tenancy::access::TenantAccess {
    shared::tenancy::access::TenantAccess::new(
        sdk_config(),
        "arn:aws:iam::123456789012:role/tenantry-test-tenant-data".to_owned(),
        control_store(),
        env("TENANTRY_DATA_TABLE"),
        clock,
    )
}
