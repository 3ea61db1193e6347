//! A tenant's data as a whole: provisioning, copying, verifying, purging. Used by the jobs
//! function under its own (cross-tenant) role, never by a request handler.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_table::DeleteTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, DeleteRequest, PutRequest, SseSpecification, TableStatus,
    WriteRequest,
};

use crate::ids::TenantId;
use crate::keys;
use crate::store::StoreError;

fn backend<E: std::error::Error + 'static, R: std::fmt::Debug>(err: SdkError<E, R>) -> StoreError {
    StoreError::Backend(DisplayErrorContext(err).to_string())
}

/// The storage of every tenant: the pooled table and the silo tables.
#[derive(Debug, Clone)]
pub struct TenantStorage {
    client: Client,
    pooled_table: String,
    silo_prefix: String,
}

/// What a partition holds: sort key → version (items without a version count as 0).
type PartitionSummary = BTreeMap<String, u64>;

impl TenantStorage {
    /// `silo_prefix` names the dedicated tables: `<prefix><tenant id>`. The tenant id is in the
    /// name as the session tag carries it, so IAM can restrict a tenant's credentials to its own
    /// table (`table/<prefix>${aws:PrincipalTag/TenantId}` in template.yaml).
    pub fn new(client: Client, pooled_table: String, silo_prefix: String) -> Self {
        Self {
            client,
            pooled_table,
            silo_prefix,
        }
    }

    pub fn pooled_table(&self) -> &str {
        &self.pooled_table
    }

    pub fn silo_table(&self, tenant: &TenantId) -> String {
        format!("{}{tenant}", self.silo_prefix)
    }

    /// Creates the tenant's dedicated table with the pooled table's key schema (read from the
    /// pooled table itself, so the two can never differ) and waits until it is active.
    /// Idempotent: an existing table is simply awaited.
    pub async fn provision_silo(&self, tenant: &TenantId) -> Result<String, StoreError> {
        let table = self.silo_table(tenant);
        let pooled = self
            .client
            .describe_table()
            .table_name(&self.pooled_table)
            .send()
            .await
            .map_err(backend)?
            .table
            .ok_or_else(|| StoreError::Backend("DescribeTable returned no table".into()))?;
        let created = self
            .client
            .create_table()
            .table_name(&table)
            .set_key_schema(Some(pooled.key_schema().to_vec()))
            .set_attribute_definitions(Some(
                pooled
                    .attribute_definitions()
                    .iter()
                    .filter(|definition| {
                        pooled
                            .key_schema()
                            .iter()
                            .any(|key| key.attribute_name() == definition.attribute_name())
                    })
                    .cloned()
                    .collect(),
            ))
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .tags(
                aws_sdk_dynamodb::types::Tag::builder()
                    .key("TenantId")
                    .value(tenant.to_string())
                    .build()
                    .map_err(|err| StoreError::Backend(err.to_string()))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => tracing::info!(tenant_id = %tenant, table, "silo table created"),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(CreateTableError::ResourceInUseException(_))
                ) =>
            {
                tracing::info!(tenant_id = %tenant, table, "silo table already exists")
            }
            Err(err) => return Err(backend(err)),
        }
        self.wait_until_active(&table).await?;
        Ok(table)
    }

    async fn wait_until_active(&self, table: &str) -> Result<(), StoreError> {
        for attempt in 0..120u64 {
            let status = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(backend)?
                .table
                .and_then(|t| t.table_status);
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500 + 100 * attempt.min(20))).await;
        }
        Err(StoreError::Backend(format!(
            "table {table} did not become active"
        )))
    }

    /// Deletes a tenant's dedicated table. Idempotent. Refuses the pooled table.
    pub async fn delete_silo(&self, table: &str) -> Result<(), StoreError> {
        if table == self.pooled_table || !table.starts_with(&self.silo_prefix) {
            return Err(StoreError::Backend(format!(
                "refusing to delete {table}: not a silo table"
            )));
        }
        match self.client.delete_table().table_name(table).send().await {
            Ok(_) => Ok(()),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(DeleteTableError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(backend(err)),
        }
    }

    /// Whether a table exists.
    pub async fn table_exists(&self, table: &str) -> Result<bool, StoreError> {
        match self.client.describe_table().table_name(table).send().await {
            Ok(_) => Ok(true),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(DescribeTableError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(false)
            }
            Err(err) => Err(backend(err)),
        }
    }

    /// Every item of one partition, page by page, strongly consistent.
    async fn partition_items(
        &self,
        table: &str,
        partition: &str,
    ) -> Result<Vec<std::collections::HashMap<String, AttributeValue>>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn write_batches(
        &self,
        table: &str,
        mut requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        while !requests.is_empty() {
            let rest = requests.split_off(requests.len().min(25));
            let mut batch = std::mem::replace(&mut requests, rest);
            for attempt in 1..=8u64 {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(table, batch)
                    .send()
                    .await
                    .map_err(backend)?;
                batch = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
                if batch.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            if !batch.is_empty() {
                return Err(StoreError::Backend(
                    "BatchWriteItem kept items unprocessed".into(),
                ));
            }
        }
        Ok(())
    }

    /// Copies every item of `tenant` from one table to another (overwriting: idempotent).
    /// `stop_after` is a test hook that fails the copy after that many items, as a crash would.
    pub async fn copy_tenant(
        &self,
        tenant: &TenantId,
        from: &str,
        to: &str,
        stop_after: Option<u64>,
    ) -> Result<u64, StoreError> {
        let mut copied = 0;
        for partition in keys::tenant_partitions(tenant) {
            let mut requests = Vec::new();
            for item in self.partition_items(from, &partition).await? {
                if stop_after.is_some_and(|limit| copied >= limit) {
                    self.write_batches(to, requests).await?;
                    return Err(StoreError::Backend(format!(
                        "copy interrupted after {copied} items"
                    )));
                }
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|err| StoreError::Backend(err.to_string()))?;
                requests.push(WriteRequest::builder().put_request(put).build());
                copied += 1;
            }
            self.write_batches(to, requests).await?;
        }
        Ok(copied)
    }

    async fn summary(
        &self,
        tenant: &TenantId,
        table: &str,
    ) -> Result<BTreeMap<String, PartitionSummary>, StoreError> {
        let mut summary = BTreeMap::new();
        for partition in keys::tenant_partitions(tenant) {
            let mut versions = PartitionSummary::new();
            for item in self.partition_items(table, &partition).await? {
                let sk = item
                    .get(keys::SK)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let version = item
                    .get("version")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                versions.insert(sk, version);
            }
            if !versions.is_empty() {
                summary.insert(partition, versions);
            }
        }
        Ok(summary)
    }

    /// Checks that `to` holds exactly the tenant's items of `from`, each at the same version.
    /// Returns the number of items.
    pub async fn verify_copy(
        &self,
        tenant: &TenantId,
        from: &str,
        to: &str,
    ) -> Result<u64, StoreError> {
        let source = self.summary(tenant, from).await?;
        let target = self.summary(tenant, to).await?;
        if source != target {
            let count = |s: &BTreeMap<String, PartitionSummary>| {
                s.values().map(BTreeMap::len).sum::<usize>()
            };
            return Err(StoreError::Backend(format!(
                "copy of tenant {tenant} from {from} to {to} differs: {} items vs {}",
                count(&source),
                count(&target)
            )));
        }
        Ok(source.values().map(|p| p.len() as u64).sum())
    }

    /// Deletes every item of `tenant` in `table`. Idempotent. Returns how many were deleted.
    pub async fn purge_tenant(&self, tenant: &TenantId, table: &str) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for partition in keys::tenant_partitions(tenant) {
            let mut requests = Vec::new();
            for item in self.partition_items(table, &partition).await? {
                let key = [keys::PK, keys::SK]
                    .into_iter()
                    .filter_map(|name| item.get(name).map(|value| (name.to_owned(), value.clone())))
                    .collect();
                let delete = DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map_err(|err| StoreError::Backend(err.to_string()))?;
                requests.push(WriteRequest::builder().delete_request(delete).build());
                deleted += 1;
            }
            self.write_batches(table, requests).await?;
        }
        Ok(deleted)
    }

    /// How many items `tenant` has in `table`.
    pub async fn count_items(&self, tenant: &TenantId, table: &str) -> Result<u64, StoreError> {
        Ok(self
            .summary(tenant, table)
            .await?
            .values()
            .map(|p| p.len() as u64)
            .sum())
    }
}
