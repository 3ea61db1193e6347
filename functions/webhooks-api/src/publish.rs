//! `webhook-events`: a batch of a table's change stream becomes events on the bus and pending
//! deliveries to the tenants' endpoints, then the deliverer is woken.
//!
//! Nothing here is lost on failure and nothing is made twice by a retry: a batch that fails is
//! published again record by record, each tried a few times; a record that still fails, or
//! cannot be read, is kept whole in the failed-records queue (see [`crate::parking`]) and the
//! shard goes on, so one poison record neither blocks its shard for a day nor is lost when the
//! stream forgets it. Only a record that can be neither published nor kept is reported failed
//! (`batchItemFailures`): Lambda sends it and those after it again, a handful of times. A
//! delivery's key is its stream position, so writing it again changes nothing; the bus may see
//! an event twice (EventBridge is at-least-once anyway), and receivers deduplicate on its id.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

use shared::events::{BUS_SOURCE, Event};
use shared::ids::TenantId;
use shared::store::dynamo::DynamoControl;
use shared::store::dynamo::changes::{Changed, Origin, StreamRecord, interpret};
use shared::webhooks::Pending;

use crate::kick::{Deliverer, EndpointRef};
use crate::parking::{Parking, sequence_of};

/// How many times a record of a failed batch is tried on its own before it is kept aside.
const RECORD_ATTEMPTS: u32 = 3;

/// How many entries one `PutEvents` takes.
const BUS_BATCH: usize = 10;

#[derive(Debug)]
pub struct PublishDeps {
    pub control: DynamoControl,
    pub bus: Bus,
    pub deliverer: Deliverer,
    /// The control table's name: every other table holds tenant data.
    pub control_table: String,
    /// The pooled data table's name.
    pub pooled_table: String,
    /// Where a record that cannot be published is kept.
    pub parking: Parking,
}

/// The platform's event bus.
#[derive(Debug, Clone)]
pub struct Bus {
    pub client: aws_sdk_eventbridge::Client,
    pub name: String,
}

impl Bus {
    async fn put(&self, events: &[Event]) -> Result<(), Error> {
        for chunk in events.chunks(BUS_BATCH) {
            let entries = chunk
                .iter()
                .map(|event| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.name)
                        .source(BUS_SOURCE)
                        .detail_type(event.kind.as_str())
                        .detail(serde_json::to_string(event).unwrap_or_default())
                        .build()
                })
                .collect();
            let output = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| format!("PutEvents: {}", DisplayErrorContext(err)))?;
            if output.failed_entry_count > 0 {
                return Err(format!(
                    "PutEvents refused {} of {} events",
                    output.failed_entry_count,
                    chunk.len()
                )
                .into());
            }
        }
        Ok(())
    }
}

/// The batch's changes that count, in stream order, and the records that cannot be read (with
/// why), which sending again would not make readable. A data table's changes count only if the
/// table is the tenant's live storage (not a tier migration's copy or purge).
async fn changes<'a>(
    deps: &PublishDeps,
    records: &'a [Value],
) -> Result<(Vec<Changed>, Vec<(&'a Value, String)>), Error> {
    let mut changed = Vec::new();
    let mut unreadable = Vec::new();
    for raw in records {
        let record = match StreamRecord::from_lambda(raw) {
            Ok(record) => record,
            Err(err) => {
                unreadable.push((raw, err.to_string()));
                continue;
            }
        };
        match interpret(&record, &deps.control_table) {
            Ok(Some(change)) => changed.push(change),
            Ok(None) => {}
            Err(err) => unreadable.push((raw, err.to_string())),
        }
    }
    let mut live: HashMap<TenantId, Option<String>> = HashMap::new();
    let mut kept = Vec::with_capacity(changed.len());
    for change in changed {
        if let Origin::Data { table } = &change.origin {
            let storage = match live.get(&change.tenant) {
                Some(storage) => storage.clone(),
                None => {
                    let storage =
                        deps.control
                            .tenant_location(&change.tenant)
                            .await?
                            .map(|location| {
                                location
                                    .data_table
                                    .unwrap_or_else(|| deps.pooled_table.clone())
                            });
                    live.insert(change.tenant, storage.clone());
                    storage
                }
            };
            if storage.as_deref() != Some(table.as_str()) {
                continue;
            }
        }
        kept.push(change);
    }
    Ok((kept, unreadable))
}

pub async fn function_handler(
    deps: &PublishDeps,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let records = event.payload["Records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Err(err) = publish(deps, &records).await {
        tracing::warn!(error = %err, records = records.len(), "the batch failed: its records are published one by one");
        return Ok(json!({ "batchItemFailures": one_by_one(deps, &records).await }));
    }
    Ok(json!({ "batchItemFailures": [] }))
}

/// Publishes each record on its own, tried [`RECORD_ATTEMPTS`] times; one that still fails is
/// kept in the failed-records queue and the others go on. Returns what to report failed: the
/// first record that could be neither published nor kept (Lambda sends it and those after it
/// again), or nothing.
async fn one_by_one(deps: &PublishDeps, records: &[Value]) -> Vec<Value> {
    for record in records {
        let mut failure = None;
        for attempt in 0..RECORD_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(250 << attempt)).await;
            }
            match publish(deps, std::slice::from_ref(record)).await {
                Ok(()) => {
                    failure = None;
                    break;
                }
                Err(err) => failure = Some(err.to_string()),
            }
        }
        let Some(why) = failure else { continue };
        let sequence = sequence_of(record);
        match deps.parking.park(record, &why).await {
            Ok(()) => {
                tracing::error!(sequence, reason = %why, "a stream record could not be published: kept in the failed-records queue");
            }
            Err(err) => {
                tracing::error!(sequence, reason = %why, error = %err, "a stream record could be neither published nor kept: reported failed");
                return vec![json!({ "itemIdentifier": sequence })];
            }
        }
    }
    Vec::new()
}

/// Publishes `records`: their events on the bus, their deliveries queued, the deliverer woken;
/// the records that cannot be read kept aside, last (so that a failure before leaves them for
/// the record-by-record retry, which keeps each once).
async fn publish(deps: &PublishDeps, records: &[Value]) -> Result<(), Error> {
    let (changes, unreadable) = changes(deps, records).await?;
    let events: Vec<Event> = changes.iter().flat_map(|c| c.events.clone()).collect();
    deps.bus.put(&events).await?;

    let tenants: BTreeSet<TenantId> = changes.iter().map(|c| c.tenant).collect();
    let mut deliveries = Vec::new();
    let mut endpoints = BTreeSet::new();
    for tenant in tenants {
        let webhooks = deps.control.webhooks(&tenant).await?;
        if webhooks.is_empty() {
            continue;
        }
        for change in changes.iter().filter(|c| c.tenant == tenant) {
            for (n, event) in change.events.iter().enumerate() {
                // An endpoint gets the changes made from the second it was registered on.
                let registered = |w: &&shared::webhooks::Webhook| {
                    w.created_at.unix_seconds() <= change.at.unix_seconds()
                };
                for webhook in webhooks
                    .iter()
                    .filter(|w| w.wants(event.kind))
                    .filter(registered)
                {
                    deliveries.push(Pending {
                        webhook: webhook.id,
                        order: format!("{:0>40}.{n}", change.sequence),
                        event: event.clone(),
                    });
                    endpoints.insert(EndpointRef {
                        tenant_id: tenant,
                        webhook_id: webhook.id,
                    });
                }
            }
        }
    }
    deps.control.enqueue(&deliveries).await?;
    deps.deliverer.kick(endpoints.into_iter().collect()).await?;
    for (record, why) in &unreadable {
        deps.parking.park(record, why).await?;
        tracing::error!(sequence = sequence_of(record), reason = %why, "an unreadable stream record: kept in the failed-records queue");
    }
    let by_type = events.iter().fold(BTreeMap::new(), |mut counts, event| {
        *counts.entry(event.kind.as_str()).or_insert(0_usize) += 1;
        counts
    });
    tracing::info!(
        records = records.len(),
        events = events.len(),
        deliveries = deliveries.len(),
        unreadable = unreadable.len(),
        by_type = ?by_type,
        "stream batch published"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::events::EventType;

    /// The sample in `events/` (what `sam local invoke -e` sends) reads as Lambda's event does.
    #[test]
    fn the_sample_stream_batch_means_a_created_then_updated_product() {
        let path =
            shared::testing::events_dir().join("webhook-events/product-created-then-updated.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path:?}: {err}"));
        let batch: Value = serde_json::from_str(&text).unwrap_or_default();
        let records = batch["Records"].as_array().cloned().unwrap_or_default();
        let kinds: Vec<(EventType, u64)> = records
            .iter()
            .filter_map(|raw| StreamRecord::from_lambda(raw).ok())
            .filter_map(|record| interpret(&record, "tenantry-control").ok().flatten())
            .flat_map(|changed| changed.events)
            .map(|event| (event.kind, event.object.version))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (EventType::ProductCreated, 1),
                (EventType::ProductUpdated, 2)
            ]
        );
    }
}
