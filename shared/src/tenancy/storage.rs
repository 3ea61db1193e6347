//! A tenant's data as a whole: provisioning, copying, verifying, purging. Used by the jobs
//! function under its own (cross-tenant) role, never by a request handler.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::Client;

use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_table::DeleteTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::update_table::UpdateTableError;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, DeleteRequest, PointInTimeRecoverySpecification,
    PointInTimeRecoveryStatus, PutRequest, SseSpecification, TableStatus, WriteRequest,
};

use crate::ids::TenantId;
use crate::keys;
use crate::store::StoreError;

/// The filter of the tables' stream mappings (the pooled table's in template.yaml): records
/// that DynamoDB's TTL wrote (expiries) carry a `userIdentity` and never invoke the consumer.
pub const STREAM_FILTER: &str = r#"{"userIdentity": {"type": [{"exists": false}]}}"#;

use crate::store::backend;

/// The storage of every tenant: the pooled table and the silo tables.
#[derive(Debug, Clone)]
pub struct TenantStorage {
    client: Client,
    pooled_table: String,
    silo_prefix: String,
    page_items: i32,
    stream_consumer: Option<StreamConsumer>,
}

/// The function a silo table's change stream is mapped to, as the pooled table's is in the
/// template (`webhook-events`): a premium tenant's events come from its own table.
#[derive(Debug, Clone)]
pub struct StreamConsumer {
    pub lambda: aws_sdk_lambda::Client,
    pub function: String,
    /// Where a batch that failed for a day goes (an SQS queue's ARN).
    pub failures: String,
}

/// A DynamoDB key (`pk`, `sk`), as `ExclusiveStartKey` and `LastEvaluatedKey` carry it.
type Key = HashMap<String, AttributeValue>;

/// How many items one `Query` page holds at most, by default: a copy keeps one page in memory.
pub const PAGE_ITEMS: i32 = 100;

/// The attribute a tier migration's copy puts on every item it writes (when, in ms). The new
/// table's change stream may be read from its start only after the switch to it (a new stream
/// mapping takes a while to start, then reads from the stream's beginning), when the table is
/// the tenant's live storage: the mark tells the events' publisher that those inserts are the
/// copy, not the tenant's own changes (see `store::dynamo::changes`). The API's later writes
/// either replace the whole item (the mark goes) or move its version on.
pub const MIGRATION_COPY: &str = "migration_copy";

struct Page {
    items: Vec<Key>,
    next: Option<Key>,
}

fn position(partition: &str, sk: String) -> Key {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(partition.to_owned())),
        (keys::SK.to_owned(), AttributeValue::S(sk)),
    ])
}

/// Where a copy is: the index of the partition (in [`keys::tenant_partitions`] order) and the
/// sort key of the last item copied in it (`None`: from its start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyPosition {
    pub partition: usize,
    pub after: Option<String>,
}

/// How far a verification got: the partitions (in [`keys::tenant_partitions`] order) found the
/// same on both sides, and how many items they hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyPosition {
    pub partitions: usize,
    pub items: u64,
}

/// Where a copy keeps its position between pages, and a verification between partitions (the
/// migration record, in production), so that a run that stops is resumed where it stopped.
pub trait CopyCheckpoints: Send + Sync {
    fn saved(&self) -> impl Future<Output = Result<Option<CopyPosition>, StoreError>> + Send;
    fn save(&self, position: &CopyPosition) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The verification's saved position (none saved: from the start).
    fn verified(&self) -> impl Future<Output = Result<Option<VerifyPosition>, StoreError>> + Send {
        async { Ok(None) }
    }

    fn save_verified(
        &self,
        _position: &VerifyPosition,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }
}

/// How much one run of a job may still do: a job that would outlast its function's run stops at
/// a saved position and goes on in the next run (see [`crate::tenancy::jobs`]).
pub trait RunBudget: Send + Sync {
    /// Whether the run should stop at the next saved position.
    fn spent(&self) -> bool;
}

/// A run with no end (tests, and work that always fits).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl RunBudget for Unlimited {
    fn spent(&self) -> bool {
        false
    }
}

/// A run that must stop by a moment: the function's deadline less what finishing the current
/// step may take.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub std::time::Instant);

impl RunBudget for Deadline {
    fn spent(&self) -> bool {
        std::time::Instant::now() >= self.0
    }
}

/// What a step that a budget may stop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<T> {
    /// Finished, with its result.
    Done(T),
    /// Stopped at a saved position: the next run goes on from there.
    Paused,
}

/// An order-sensitive digest of a partition's (sort key, version) pairs, and their count: two
/// partitions with the same items at the same versions have equal fingerprints.
#[derive(Debug, Default, PartialEq, Eq)]
struct Fingerprint {
    items: u64,
    digest: u64,
}

impl Fingerprint {
    fn add(&mut self, sk: &str, version: u64) {
        // FNV-1a over the pair, chained: stable, and enough to catch a missing, extra or stale
        // item (the counts are compared too).
        let mut hash = self.digest ^ 0xcbf2_9ce4_8422_2325;
        for byte in sk.bytes().chain([0]).chain(version.to_le_bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.digest = hash;
        self.items += 1;
    }
}

impl TenantStorage {
    /// `silo_prefix` names the dedicated tables: `<prefix><tenant id>`. The tenant id is in the
    /// name as the session tag carries it, so IAM can restrict a tenant's credentials to its own
    /// table (`table/<prefix>${aws:PrincipalTag/TenantId}` in template.yaml).
    pub fn new(client: Client, pooled_table: String, silo_prefix: String) -> Self {
        Self {
            client,
            pooled_table,
            silo_prefix,
            page_items: PAGE_ITEMS,
            stream_consumer: None,
        }
    }

    /// Maps each silo table's stream to `consumer` when it is created, and removes the mapping
    /// when the table is deleted. Without one, silo streams are read by whatever reads every
    /// table's stream (the local stack's poller).
    pub fn with_stream_consumer(mut self, consumer: StreamConsumer) -> Self {
        self.stream_consumer = Some(consumer);
        self
    }

    /// Reads (and copies, and purges) `items` per page instead of [`PAGE_ITEMS`].
    pub fn with_page_items(mut self, items: i32) -> Self {
        self.page_items = items.max(1);
        self
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
            .describe(&self.pooled_table)
            .await?
            .ok_or_else(|| StoreError::backend("the pooled table is gone"))?;
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
            // The same change stream as the pooled table: the tenant's events come from it.
            .set_stream_specification(pooled.stream_specification().cloned())
            .sse_specification(SseSpecification::builder().enabled(true).build())
            // As safe as the shared tables: a table of a paying tenant is not dropped by a
            // mistaken call (offboarding lifts this for the table it deletes, and for no other).
            .deletion_protection_enabled(true)
            .tags(
                aws_sdk_dynamodb::types::Tag::builder()
                    .key("TenantId")
                    .value(tenant.to_string())
                    .build()
                    .map_err(|err| StoreError::backend(err.to_string()))?,
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
        self.protect_silo(&table).await?;
        self.map_stream(&table).await?;
        Ok(table)
    }

    /// Turns on the silo table's deletion protection and point-in-time recovery, where they are
    /// off (a table created before they were set at creation, or changed by hand). Two reads when
    /// both are on already.
    pub async fn protect_silo(&self, table: &str) -> Result<(), StoreError> {
        let protected = self
            .describe(table)
            .await?
            .and_then(|t| t.deletion_protection_enabled)
            .unwrap_or(false);
        if !protected {
            self.client
                .update_table()
                .table_name(table)
                .deletion_protection_enabled(true)
                .send()
                .await
                .map_err(backend)?;
            tracing::info!(table, "deletion protection turned on");
        }
        let backups = self
            .client
            .describe_continuous_backups()
            .table_name(table)
            .send()
            .await
            .map_err(backend)?;
        let recovering = backups
            .continuous_backups_description
            .and_then(|d| d.point_in_time_recovery_description)
            .and_then(|d| d.point_in_time_recovery_status)
            == Some(PointInTimeRecoveryStatus::Enabled);
        if !recovering {
            self.client
                .update_continuous_backups()
                .table_name(table)
                .point_in_time_recovery_specification(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .build()
                        .map_err(|err| StoreError::backend(err.to_string()))?,
                )
                .send()
                .await
                .map_err(backend)?;
            tracing::info!(table, "point-in-time recovery turned on");
        }
        Ok(())
    }

    /// The table's stream (`None` if the table or its stream is gone) and the consumer's
    /// mappings of it.
    async fn stream_mappings(
        &self,
        consumer: &StreamConsumer,
        table: &str,
    ) -> Result<
        Option<(
            String,
            Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration>,
        )>,
        StoreError,
    > {
        let Some(stream) = self
            .describe(table)
            .await?
            .and_then(|t| t.latest_stream_arn)
        else {
            return Ok(None);
        };
        let mappings = consumer
            .lambda
            .list_event_source_mappings()
            .event_source_arn(&stream)
            .function_name(&consumer.function)
            .send()
            .await
            .map_err(|err| StoreError::caused(format!("the stream mappings of {table}"), err))?;
        Ok(Some((stream, mappings.event_source_mappings().to_vec())))
    }

    /// The table's stream, mapped to the consumer with the pooled table's settings (see
    /// `WebhookEventsFunction` in template.yaml). Idempotent: an existing mapping is kept.
    async fn map_stream(&self, table: &str) -> Result<(), StoreError> {
        let Some(consumer) = &self.stream_consumer else {
            return Ok(());
        };
        let (stream, existing) = self
            .stream_mappings(consumer, table)
            .await?
            .ok_or_else(|| StoreError::backend(format!("{table} has no stream")))?;
        if !existing.is_empty() {
            return Ok(());
        }
        let on_failure = aws_sdk_lambda::types::DestinationConfig::builder()
            .on_failure(
                aws_sdk_lambda::types::OnFailure::builder()
                    .destination(&consumer.failures)
                    .build(),
            )
            .build();
        consumer
            .lambda
            .create_event_source_mapping()
            .function_name(&consumer.function)
            .event_source_arn(&stream)
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
            .batch_size(100)
            .maximum_batching_window_in_seconds(1)
            .bisect_batch_on_function_error(true)
            .maximum_record_age_in_seconds(86_400)
            // As the pooled table's mapping in template.yaml: a handful of retries (a record
            // that still fails is kept whole by the function itself), and TTL expiries never
            // invoke it.
            .maximum_retry_attempts(5)
            .filter_criteria(
                aws_sdk_lambda::types::FilterCriteria::builder()
                    .filters(
                        aws_sdk_lambda::types::Filter::builder()
                            .pattern(STREAM_FILTER)
                            .build(),
                    )
                    .build(),
            )
            .destination_config(on_failure)
            .function_response_types(
                aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures,
            )
            .send()
            .await
            .map_err(|err| StoreError::caused(format!("mapping the stream of {table}"), err))?;
        tracing::info!(table, function = %consumer.function, "silo stream mapped");
        Ok(())
    }

    /// Removes the mappings of a table's stream (before the table is deleted).
    async fn unmap_stream(&self, table: &str) -> Result<(), StoreError> {
        let Some(consumer) = &self.stream_consumer else {
            return Ok(());
        };
        let Some((_, mappings)) = self.stream_mappings(consumer, table).await? else {
            return Ok(());
        };
        for uuid in mappings.iter().filter_map(|mapping| mapping.uuid()) {
            consumer
                .lambda
                .delete_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
                .map_err(|err| {
                    StoreError::caused(format!("unmapping the stream of {table}"), err)
                })?;
        }
        Ok(())
    }

    async fn wait_until_active(&self, table: &str) -> Result<(), StoreError> {
        for attempt in 0..120u64 {
            let status = self.describe(table).await?.and_then(|t| t.table_status);
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500 + 100 * attempt.min(20))).await;
        }
        Err(StoreError::backend(format!(
            "table {table} did not become active"
        )))
    }

    /// Deletes a tenant's dedicated table. Idempotent. Refuses the pooled table.
    pub async fn delete_silo(&self, table: &str) -> Result<(), StoreError> {
        if table == self.pooled_table || !table.starts_with(&self.silo_prefix) {
            return Err(StoreError::backend(format!(
                "refusing to delete {table}: not a silo table"
            )));
        }
        self.unmap_stream(table).await?;
        // Its protection is lifted for this table only, right before it goes.
        match self
            .client
            .update_table()
            .table_name(table)
            .deletion_protection_enabled(false)
            .send()
            .await
        {
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateTableError::ResourceNotFoundException(_))
                ) =>
            {
                return Ok(());
            }
            Err(err) => return Err(backend(err)),
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
        Ok(self.describe(table).await?.is_some())
    }

    /// The table's description; `None` if there is no such table.
    async fn describe(
        &self,
        table: &str,
    ) -> Result<Option<aws_sdk_dynamodb::types::TableDescription>, StoreError> {
        match self.client.describe_table().table_name(table).send().await {
            Ok(output) => Ok(output.table),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(DescribeTableError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(backend(err)),
        }
    }

    /// One page of one partition, strongly consistent, from `start` (a page's last key).
    async fn page(
        &self,
        table: &str,
        partition: &str,
        start: Option<Key>,
        keys_only: bool,
    ) -> Result<Page, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
            .consistent_read(true)
            .limit(self.page_items)
            .set_exclusive_start_key(start);
        if keys_only {
            query = query.projection_expression("pk, sk, version");
        }
        let output = query.send().await.map_err(backend)?;
        Ok(Page {
            items: output.items.unwrap_or_default(),
            next: output.last_evaluated_key,
        })
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
                return Err(StoreError::backend("BatchWriteItem kept items unprocessed"));
            }
        }
        Ok(())
    }

    /// Copies every item of `tenant` from one table to another (overwriting: idempotent), a page
    /// at a time: memory holds one page, whatever the tenant's size. After each page the
    /// position is handed to `checkpoints`, and a copy starts from the position it saved last,
    /// so a copy interrupted by a crash resumes from its last finished page.
    pub async fn copy_tenant(
        &self,
        tenant: &TenantId,
        from: &str,
        to: &str,
        checkpoints: &impl CopyCheckpoints,
        budget: &impl RunBudget,
    ) -> Result<Progress<u64>, StoreError> {
        let partitions = keys::tenant_partitions(tenant);
        let resume = checkpoints.saved().await?.unwrap_or_default();
        let mark = AttributeValue::N(crate::domain::time::now_millis().to_string());
        let mut copied = 0;
        for (index, partition) in partitions.iter().enumerate().skip(resume.partition) {
            let mut start = if index == resume.partition {
                resume.after.clone().map(|sk| position(partition, sk))
            } else {
                None
            };
            loop {
                let page = self.page(from, partition, start, false).await?;
                copied += page.items.len() as u64;
                let requests = page
                    .items
                    .into_iter()
                    .map(|mut item| {
                        item.insert(MIGRATION_COPY.to_owned(), mark.clone());
                        PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .map(|put| WriteRequest::builder().put_request(put).build())
                            .map_err(|err| StoreError::backend(err.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.write_batches(to, requests).await?;
                start = page.next;
                let after = start
                    .as_ref()
                    .and_then(|key| key.get(keys::SK))
                    .and_then(|sk| sk.as_s().ok())
                    .cloned();
                let done = after.is_none();
                let next = if done {
                    CopyPosition {
                        partition: index + 1,
                        after: None,
                    }
                } else {
                    CopyPosition {
                        partition: index,
                        after,
                    }
                };
                checkpoints.save(&next).await?;
                if budget.spent() {
                    return Ok(Progress::Paused);
                }
                if done {
                    break;
                }
            }
        }
        Ok(Progress::Done(copied))
    }

    /// Calls `visit` with the (sort key, version) of every item of one partition in sort-key
    /// order, a page at a time.
    async fn each_version(
        &self,
        table: &str,
        partition: &str,
        mut visit: impl FnMut(String, u64),
    ) -> Result<(), StoreError> {
        let mut start = None;
        loop {
            let page = self.page(table, partition, start, true).await?;
            for item in &page.items {
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
                visit(sk, version);
            }
            start = page.next;
            if start.is_none() {
                return Ok(());
            }
        }
    }

    /// Checks that `to` holds exactly the tenant's items of `from`, each at the same version.
    /// Returns the number of items. Reads both sides page by page and compares them as it goes
    /// (both come in sort-key order), holding a fingerprint per partition, not the items.
    pub async fn verify_copy(
        &self,
        tenant: &TenantId,
        from: &str,
        to: &str,
        checkpoints: &impl CopyCheckpoints,
        budget: &impl RunBudget,
    ) -> Result<Progress<u64>, StoreError> {
        let resume = checkpoints.verified().await?.unwrap_or_default();
        let mut total = resume.items;
        let partitions = keys::tenant_partitions(tenant);
        let count = partitions.len();
        for (index, partition) in partitions.into_iter().enumerate().skip(resume.partitions) {
            let (mut source, mut target) = (Fingerprint::default(), Fingerprint::default());
            self.each_version(from, &partition, |sk, version| source.add(&sk, version))
                .await?;
            self.each_version(to, &partition, |sk, version| target.add(&sk, version))
                .await?;
            if source != target {
                return Err(StoreError::backend(format!(
                    "copy of tenant {tenant} from {from} to {to} differs in {partition}: {} items vs {}",
                    source.items, target.items
                )));
            }
            total += source.items;
            checkpoints
                .save_verified(&VerifyPosition {
                    partitions: index + 1,
                    items: total,
                })
                .await?;
            // After a partition, never before: every run moves the verification on.
            if index + 1 < count && budget.spent() {
                return Ok(Progress::Paused);
            }
        }
        Ok(Progress::Done(total))
    }

    /// Deletes every item of `tenant` in `table`, a page at a time. Idempotent. Returns how many
    /// were deleted.
    pub async fn purge_tenant(&self, tenant: &TenantId, table: &str) -> Result<u64, StoreError> {
        match self.purge_tenant_within(tenant, table, &Unlimited).await? {
            Progress::Done(deleted) => Ok(deleted),
            Progress::Paused => Err(StoreError::backend("an unlimited purge paused")),
        }
    }

    /// [`TenantStorage::purge_tenant`], stopping after a page once `budget` is spent (a run that
    /// stops leaves what it did not delete for the next, which finds it again).
    pub async fn purge_tenant_within(
        &self,
        tenant: &TenantId,
        table: &str,
        budget: &impl RunBudget,
    ) -> Result<Progress<u64>, StoreError> {
        let mut deleted = 0;
        for partition in keys::tenant_partitions(tenant) {
            let mut start = None;
            loop {
                let page = self.page(table, &partition, start, true).await?;
                deleted += page.items.len() as u64;
                let requests = page
                    .items
                    .iter()
                    .map(|item| {
                        let key = [keys::PK, keys::SK]
                            .into_iter()
                            .filter_map(|name| {
                                item.get(name).map(|value| (name.to_owned(), value.clone()))
                            })
                            .collect();
                        DeleteRequest::builder()
                            .set_key(Some(key))
                            .build()
                            .map(|delete| WriteRequest::builder().delete_request(delete).build())
                            .map_err(|err| StoreError::backend(err.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let emptied = requests.is_empty();
                self.write_batches(table, requests).await?;
                // A run that stops starts again from the first partition: only a page that
                // deleted something uses the budget, so each run makes progress.
                if !emptied && budget.spent() {
                    return Ok(Progress::Paused);
                }
                start = page.next;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(Progress::Done(deleted))
    }

    /// How many items `tenant` has in `table`.
    pub async fn count_items(&self, tenant: &TenantId, table: &str) -> Result<u64, StoreError> {
        let mut count = 0;
        for partition in keys::tenant_partitions(tenant) {
            self.each_version(table, &partition, |_, _| count += 1)
                .await?;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    /// A silo table's mapping filters its stream as template.yaml filters the pooled table's.
    #[test]
    fn silo_streams_are_filtered_as_the_pooled_tables_stream() {
        let template = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
        )
        .expect("template.yaml");
        let pooled = template
            .split("Stream: !GetAtt DataTable.StreamArn")
            .nth(1)
            .and_then(|mapping| mapping.split("- Pattern: '").nth(1))
            .and_then(|rest| rest.split('\'').next())
            .expect("the pooled table's mapping has a filter");
        assert_eq!(pooled, super::STREAM_FILTER);
    }
}
