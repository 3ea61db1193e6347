//! Webhook endpoints, their pending deliveries and recent attempts, in the control table (see
//! [`crate::keys`] for the layout and [`crate::webhooks`] for the rules).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, Select, WriteRequest};

use super::control::SortKey;
use super::item::key_map;
use super::{ConditionFailure, DynamoControl, Item, backend, condition_failed, parse_all};
use crate::domain::time::Timestamp;
use crate::events::{Event, EventType};
use crate::ids::{TenantId, UserId, WebhookId};
use crate::keys;
use crate::store::StoreError;
use crate::webhooks::{ATTEMPT_RETENTION, Attempt, Pending, SigningSecret, Webhook, WebhookPart};

/// How many writes one `BatchWriteItem` takes.
const BATCH: usize = 25;

/// How many times [`DynamoControl::change_webhook`] reads and writes again after losing to
/// another writer (a deliverer and a few admins at most write one endpoint).
const CHANGE_ATTEMPTS: usize = 8;

/// The attributes of one part of an endpoint's record: those it sets, and those it removes
/// (an optional field that is now empty).
struct PartAttributes {
    set: Vec<(&'static str, AttributeValue)>,
    remove: Vec<&'static str>,
}

fn part_attributes(webhook: &Webhook, part: WebhookPart) -> Result<PartAttributes, StoreError> {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    let mut optional = |name: &'static str, value: Option<AttributeValue>| match value {
        Some(value) => set.push((name, value)),
        None => remove.push(name),
    };
    match part {
        WebhookPart::Settings => {
            let events = webhook
                .events
                .iter()
                .map(|kind| AttributeValue::S(kind.as_str().to_owned()))
                .collect();
            optional("events", Some(AttributeValue::L(events)));
            optional("enabled", Some(AttributeValue::Bool(webhook.enabled)));
            optional(
                "description",
                webhook.description.clone().map(AttributeValue::S),
            );
            optional(
                "status_reason",
                webhook.status_reason.clone().map(AttributeValue::S),
            );
        }
        WebhookPart::Secrets => {
            let secrets = serde_json::to_string(&webhook.secrets)
                .map_err(|err| StoreError::backend(format!("webhook secrets: {err}")))?;
            optional("secrets", Some(AttributeValue::S(secrets)));
            optional(
                "secret_by",
                webhook
                    .secret_by
                    .as_ref()
                    .map(|user| AttributeValue::S(user.to_string())),
            );
        }
        WebhookPart::Delivery => {
            let number = |n: u64| AttributeValue::N(n.to_string());
            optional("failures", Some(number(u64::from(webhook.failures))));
            optional("failing_since", webhook.failing_since.map(number));
            // Listed in the index while failing, so the retry sweep finds it without a scan.
            let due = webhook.next_attempt_ms.filter(|_| webhook.enabled);
            optional("next_attempt", due.map(number));
            optional(
                keys::GSI1_PK,
                due.map(|_| AttributeValue::S(keys::FAILING_WEBHOOKS.to_owned())),
            );
            optional(
                keys::GSI1_SK,
                due.map(|due| {
                    AttributeValue::S(keys::failing_webhook_sort_key(
                        due,
                        &webhook.tenant_id,
                        &webhook.id,
                    ))
                }),
            );
        }
    }
    Ok(PartAttributes { set, remove })
}

/// A new endpoint's whole record: every part, its identity and its version.
fn webhook_item(webhook: &Webhook) -> Result<Item, StoreError> {
    let mut item = Item::new(&keys::webhook(&webhook.tenant_id, &webhook.id))
        .s("entity", "webhook")
        .s("tenant_id", webhook.tenant_id.to_string())
        .s("webhook_id", webhook.id.to_string())
        .s("url", webhook.url.clone())
        .s("created_at", webhook.created_at.to_string())
        .n("version", webhook.version);
    if let Some(creator) = &webhook.created_by {
        item = item.s("created_by", creator.to_string());
    }
    for part in [
        WebhookPart::Settings,
        WebhookPart::Secrets,
        WebhookPart::Delivery,
    ] {
        for (name, value) in part_attributes(webhook, part)?.set {
            item = item.value(name, value);
        }
    }
    Ok(item)
}

fn parse_webhook(item: &Item) -> Result<Webhook, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("webhook: {what}"));
    let events = item
        .get_list("events")?
        .iter()
        .map(|value| {
            value
                .as_s()
                .ok()
                .and_then(|raw| EventType::parse(raw))
                .ok_or_else(|| corrupt("events"))
        })
        .collect::<Result<_, _>>()?;
    let secrets: Vec<SigningSecret> =
        serde_json::from_str(item.get_s("secrets")?).map_err(|_| corrupt("secrets"))?;
    Ok(Webhook {
        id: item.parse_s("webhook_id", WebhookId::parse)?,
        tenant_id: item.parse_s("tenant_id", TenantId::parse)?,
        url: item.get_s("url")?.to_owned(),
        events,
        description: item.get_s("description").ok().map(str::to_owned),
        enabled: item.get_bool("enabled")?,
        status_reason: item.get_s("status_reason").ok().map(str::to_owned),
        failing_since: item.get_n("failing_since").ok(),
        failures: item.get_n("failures").unwrap_or(0),
        next_attempt_ms: item.get_n("next_attempt").ok(),
        secrets,
        created_at: item.parse_s("created_at", |raw| Timestamp::parse(raw).ok_or(()))?,
        version: item.get_n("version").unwrap_or(0),
        created_by: optional_user(item, "created_by")?,
        secret_by: optional_user(item, "secret_by")?,
    })
}

/// A user id attribute that older records lack.
pub(super) fn optional_user(item: &Item, name: &str) -> Result<Option<UserId>, StoreError> {
    if item.0.contains_key(name) {
        item.parse_s(name, UserId::parse).map(Some)
    } else {
        Ok(None)
    }
}

fn pending_item(pending: &Pending) -> Result<Item, StoreError> {
    let event = serde_json::to_string(&pending.event)
        .map_err(|err| StoreError::backend(format!("event: {err}")))?;
    Ok(
        Item::new(&keys::pending_delivery(&pending.webhook, &pending.order))
            .s("entity", "pending-delivery")
            .s("order", pending.order.clone())
            .s("event", event),
    )
}

fn parse_pending(webhook: &WebhookId, item: &Item) -> Result<Pending, StoreError> {
    let event: Event = serde_json::from_str(item.get_s("event")?)
        .map_err(|err| StoreError::Corrupt(format!("pending delivery: {err}")))?;
    Ok(Pending {
        webhook: *webhook,
        order: item.get_s("order")?.to_owned(),
        event,
    })
}

fn attempt_item(webhook: &WebhookId, attempt: &Attempt) -> Result<Item, StoreError> {
    let json = serde_json::to_string(attempt)
        .map_err(|err| StoreError::backend(format!("attempt: {err}")))?;
    let expires = Timestamp::now().unix_seconds() + ATTEMPT_RETENTION.as_secs() as i64;
    Ok(Item::new(&keys::delivery_attempt(webhook, &attempt.id))
        .s("entity", "delivery-attempt")
        .s("attempt", json)
        .n(keys::TTL, expires))
}

impl DynamoControl {
    /// A query of one partition's items whose sort key starts with `prefix`.
    pub(super) fn prefix_query(
        &self,
        pk: String,
        prefix: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.scope
            .client
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            .consistent_read(true)
    }

    /// How many items of partition `pk` have a sort key starting with `prefix` (one `Query`
    /// that counts; the tenant-scoped lists it serves are a few dozen items at most).
    pub(super) async fn count_prefix(&self, pk: String, prefix: &str) -> Result<u64, StoreError> {
        let count = self
            .prefix_query(pk, prefix)
            .select(Select::Count)
            .send()
            .await
            .map_err(backend)?
            .count;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Writes `requests` in batches, sending again what DynamoDB left unprocessed.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH) {
            let mut todo = chunk.to_vec();
            let mut round = 0_u32;
            while !todo.is_empty() {
                if round == 8 {
                    return Err(StoreError::backend(
                        "BatchWriteItem left writes unprocessed".to_owned(),
                    ));
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
                }
                let output = self
                    .scope
                    .client
                    .batch_write_item()
                    .request_items(self.table(), todo)
                    .send()
                    .await
                    .map_err(backend)?;
                todo = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(self.table()))
                    .unwrap_or_default();
                round += 1;
            }
        }
        Ok(())
    }

    /// Registers `webhook` if the tenant has fewer than `max` endpoints (`false` otherwise).
    /// One `Query` that counts, then one conditional `PutItem`.
    pub async fn create_webhook(&self, webhook: &Webhook, max: u64) -> Result<bool, StoreError> {
        let pk = keys::webhook(&webhook.tenant_id, &webhook.id).pk;
        if self.count_prefix(pk, keys::WEBHOOK_PREFIX).await? >= max {
            return Ok(false);
        }
        self.scope
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(webhook_item(webhook)?.0))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(backend)?;
        Ok(true)
    }

    /// The tenant's endpoints, oldest first. One `Query` of the tenant's partition.
    pub async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>, StoreError> {
        let output = self
            .prefix_query(
                keys::webhook(tenant, &WebhookId::nil()).pk,
                keys::WEBHOOK_PREFIX,
            )
            .send()
            .await
            .map_err(backend)?;
        parse_all(output.items, parse_webhook)
    }

    pub async fn webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StoreError> {
        self.get(&keys::webhook(tenant, id))
            .await?
            .map(|item| parse_webhook(&item))
            .transpose()
    }

    /// Writes `parts` of an endpoint's record from `webhook`, and nothing else, if the stored
    /// version is still the one `webhook` was read at; then `webhook` holds the new version.
    /// `false` when another writer changed the record since (or deleted it): read it again and
    /// redo the change on what is there now.
    pub async fn update_webhook(
        &self,
        webhook: &mut Webhook,
        parts: &[WebhookPart],
    ) -> Result<bool, StoreError> {
        let mut update = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::webhook(
                &webhook.tenant_id,
                &webhook.id,
            ))))
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(
                ":next",
                AttributeValue::N((webhook.version + 1).to_string()),
            );
        // A record written before versions has none: it is version 0.
        update = if webhook.version == 0 {
            update.condition_expression("attribute_exists(pk) AND attribute_not_exists(#version)")
        } else {
            update
                .condition_expression("#version = :read")
                .expression_attribute_values(
                    ":read",
                    AttributeValue::N(webhook.version.to_string()),
                )
        };
        let (mut set, mut remove) = (vec!["#version = :next".to_owned()], Vec::new());
        for (i, part) in parts.iter().enumerate() {
            let attributes = part_attributes(webhook, *part)?;
            for (j, (name, value)) in attributes.set.into_iter().enumerate() {
                let (alias, placeholder) = (format!("#a{i}_{j}"), format!(":v{i}_{j}"));
                set.push(format!("{alias} = {placeholder}"));
                update = update
                    .expression_attribute_names(&alias, name)
                    .expression_attribute_values(&placeholder, value);
            }
            for (j, name) in attributes.remove.into_iter().enumerate() {
                let alias = format!("#r{i}_{j}");
                remove.push(alias.clone());
                update = update.expression_attribute_names(&alias, name);
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let saved = held(update.update_expression(expression).send().await)?;
        if saved {
            webhook.version += 1;
        }
        Ok(saved)
    }

    /// Changes an endpoint's record: `change` is applied to the record as stored (`read`, if
    /// given, else read now) and names the parts it changed (none: nothing to write); they are
    /// written conditioned on the version read, and when another writer came first the record is
    /// read again and `change` applied again, to what is there now. The saved record, or `None`
    /// if the endpoint is gone. A writer that keeps losing is [`StoreError::VersionConflict`].
    pub async fn change_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        read: Option<Webhook>,
        mut change: impl FnMut(&mut Webhook) -> &'static [WebhookPart],
    ) -> Result<Option<Webhook>, StoreError> {
        let mut read = read;
        for _ in 0..CHANGE_ATTEMPTS {
            let current = match read.take() {
                Some(webhook) => Some(webhook),
                None => self.webhook(tenant, id).await?,
            };
            let Some(mut webhook) = current else {
                return Ok(None);
            };
            let parts = change(&mut webhook);
            if parts.is_empty() || self.update_webhook(&mut webhook, parts).await? {
                return Ok(Some(webhook));
            }
        }
        Err(StoreError::VersionConflict)
    }

    /// Deletes an endpoint and drops its pending deliveries (`false` if there was none).
    pub async fn delete_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> Result<bool, StoreError> {
        let output = self
            .scope
            .client
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::webhook(tenant, id))))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(backend)?;
        if output.attributes.is_none() {
            return Ok(false);
        }
        self.drop_pending(id).await?;
        Ok(true)
    }

    /// Deletes every pending delivery of an endpoint.
    pub async fn drop_pending(&self, id: &WebhookId) -> Result<(), StoreError> {
        loop {
            let pending = self.pending(id, 100).await?;
            if pending.is_empty() {
                return Ok(());
            }
            let deletes = pending
                .iter()
                .map(|p| delete_request(&keys::pending_delivery(id, &p.order)))
                .collect::<Result<_, _>>()?;
            self.batch_write(deletes).await?;
        }
    }

    /// Queues deliveries. Writing one again is harmless: its key is its stream position.
    pub async fn enqueue(&self, deliveries: &[Pending]) -> Result<(), StoreError> {
        let puts = deliveries
            .iter()
            .map(|pending| {
                let put = PutRequest::builder()
                    .set_item(Some(pending_item(pending)?.0))
                    .build()
                    .map_err(|err| StoreError::backend(err.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, StoreError>>()?;
        self.batch_write(puts).await
    }

    /// The oldest `limit` pending deliveries of an endpoint, in order.
    pub async fn pending(&self, id: &WebhookId, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let output = self
            .prefix_query(keys::endpoint_partition(id), keys::PENDING_PREFIX)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(backend)?;
        parse_all(output.items, |item| parse_pending(id, item))
    }

    /// Records an attempt; a delivered event leaves the queue in the same request.
    pub async fn record_attempt(
        &self,
        id: &WebhookId,
        attempt: &Attempt,
        delivered: Option<&Pending>,
    ) -> Result<(), StoreError> {
        let put = PutRequest::builder()
            .set_item(Some(attempt_item(id, attempt)?.0))
            .build()
            .map_err(|err| StoreError::backend(err.to_string()))?;
        let mut writes = vec![WriteRequest::builder().put_request(put).build()];
        if let Some(pending) = delivered {
            writes.push(delete_request(&keys::pending_delivery(id, &pending.order))?);
        }
        self.batch_write(writes).await
    }

    /// The endpoint's attempts of the last days, newest first.
    pub async fn attempts(&self, id: &WebhookId, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        let output = self
            .prefix_query(keys::endpoint_partition(id), keys::ATTEMPT_PREFIX)
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100) as i32)
            .send()
            .await
            .map_err(backend)?;
        parse_all(output.items, |item| {
            serde_json::from_str(item.get_s("attempt")?)
                .map_err(|err| StoreError::Corrupt(format!("delivery attempt: {err}")))
        })
    }

    /// Failing endpoints whose next attempt is due at `now_ms`, earliest first.
    pub async fn failing_webhooks_due(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(TenantId, WebhookId)>, StoreError> {
        let output = self
            .index_query(
                keys::FAILING_WEBHOOKS,
                Some(SortKey::Below(keys::failing_webhook_bound(now_ms))),
            )
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(backend)?;
        parse_all(output.items, |item| {
            Ok((
                item.parse_s("tenant_id", TenantId::parse)?,
                item.parse_s("webhook_id", WebhookId::parse)?,
            ))
        })
    }

    /// Takes the endpoint's delivery lease until `until_ms` for `holder`, if no one holds it:
    /// one deliverer at a time per endpoint keeps deliveries in order. `false` if held, or if
    /// the endpoint is gone.
    pub async fn lease_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        holder: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::webhook(tenant, id))))
            .update_expression("SET lease_until = :until, lease_holder = :holder")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until < :now)",
            )
            .expression_attribute_values(":until", AttributeValue::N(until_ms.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        held(result)
    }

    /// Gives the lease back (if `holder` still has it).
    pub async fn release_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        holder: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::webhook(tenant, id))))
            .update_expression("REMOVE lease_until, lease_holder")
            .condition_expression("lease_holder = :holder")
            .expression_attribute_values(":holder", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        held(result).map(|_| ())
    }
}

/// Whether a conditional write's condition held (`false` when it did not: not an error).
fn held<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: std::error::Error + ConditionFailure + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if condition_failed(&err) => Ok(false),
        Err(err) => Err(backend(err)),
    }
}

fn delete_request(key: &keys::ItemKey) -> Result<WriteRequest, StoreError> {
    let delete = DeleteRequest::builder()
        .set_key(Some(key_map(key)))
        .build()
        .map_err(|err| StoreError::backend(err.to_string()))?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}
