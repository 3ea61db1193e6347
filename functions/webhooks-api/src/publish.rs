//! `webhook-events`: a batch of a table's change stream becomes events on the bus and pending
//! deliveries to the tenants' endpoints, then the deliverer is woken.
//!
//! Nothing here is lost on failure and nothing is made twice by a retry: any failure fails the
//! whole batch, which Lambda sends again (in order: a stream shard waits for its batch), and a
//! delivery's key is its stream position, so writing it again changes nothing. The bus sees
//! such an event twice (EventBridge is at-least-once anyway); receivers deduplicate on its id.

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

/// The batch's events that count, in stream order: unreadable records are logged and skipped
/// (sending them again would not make them readable), and a data table's changes count only if
/// the table is the tenant's live storage (not a tier migration's copy or purge).
async fn changes(deps: &PublishDeps, records: &[Value]) -> Result<Vec<Changed>, Error> {
    let mut changed = Vec::new();
    for raw in records {
        let record = match StreamRecord::from_lambda(raw) {
            Ok(record) => record,
            Err(err) => {
                tracing::error!(error = %err, "stream record skipped");
                continue;
            }
        };
        match interpret(&record, &deps.control_table) {
            Ok(Some(change)) => changed.push(change),
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = %err, sequence = %record.sequence, "stream record skipped")
            }
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
    Ok(kept)
}

pub async fn function_handler(
    deps: &PublishDeps,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let records = event.payload["Records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let changes = changes(deps, &records).await?;
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
    let by_type = events.iter().fold(BTreeMap::new(), |mut counts, event| {
        *counts.entry(event.kind.as_str()).or_insert(0_usize) += 1;
        counts
    });
    tracing::info!(
        records = records.len(),
        events = events.len(),
        deliveries = deliveries.len(),
        by_type = ?by_type,
        "stream batch published"
    );
    Ok(json!({ "batchItemFailures": [] }))
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
