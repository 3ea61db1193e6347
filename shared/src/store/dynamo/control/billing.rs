//! Billing: a tenant's account with the payment provider, handled events, and the sweep's lists.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::{DynamoControl, SortKey};
use crate::billing::Account;
use crate::domain::time::Timestamp;
use crate::ids::TenantId;
use crate::keys::{self};
use crate::store::billing::{BillingStore, EVENT_RETENTION, Saved};
use crate::store::dynamo::item::key_map;
use crate::store::dynamo::{
    Failed, Item, Transaction, TransactionFailure, backend, built, transact,
};
use crate::store::{ListPage, StoreError};

/// What the conditions of a billing account's transaction guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// The provider's event, recorded once: a duplicate delivery changes nothing.
    Event,
    /// The account, at the version read.
    Account,
}

impl BillingStore for DynamoControl {
    /// One strongly consistent `GetItem`.
    async fn account(&self, tenant: &TenantId) -> Result<Account, StoreError> {
        let Some(item) = self.get(&keys::billing(tenant)).await? else {
            return Ok(Account::default());
        };
        let mut account = match item.get_s("account") {
            Ok(json) => serde_json::from_str::<Account>(json)
                .map_err(|err| StoreError::Corrupt(format!("billing account: {err}")))?,
            Err(_) => Account::default(),
        };
        account.customer = item.get_s("customer").ok().map(str::to_owned);
        account.version = item.get_n("version").unwrap_or(0);
        Ok(account)
    }

    /// One transaction: the customer on the account (only if it has none) and the customer's
    /// mapping to the tenant; if another request attached one first, a read of it.
    async fn attach_customer(
        &self,
        tenant: &TenantId,
        customer: &str,
    ) -> Result<String, StoreError> {
        let account = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::billing(tenant))))
                .update_expression("SET customer = :customer, tenant_id = :tenant")
                .condition_expression("attribute_not_exists(customer)")
                .expression_attribute_values(":customer", AttributeValue::S(customer.to_owned()))
                .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()))
                .build(),
        )?;
        let mapping = Item::new(&keys::customer(customer))
            .s("entity", "customer")
            .s("tenant_id", tenant.to_string());
        let actions = vec![
            TransactWriteItem::builder().update(account).build(),
            self.put_new(mapping)?,
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(customer.to_owned()),
            Err(TransactionFailure::Conditions(_)) => self
                .account(tenant)
                .await?
                .customer
                .ok_or(StoreError::VersionConflict),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    async fn tenant_of_customer(&self, customer: &str) -> Result<Option<TenantId>, StoreError> {
        self.get(&keys::customer(customer))
            .await?
            .map(|item| item.parse_s("tenant_id", TenantId::parse))
            .transpose()
    }

    async fn event_seen(&self, event: &str) -> Result<bool, StoreError> {
        Ok(self.get(&keys::webhook_event(event)).await?.is_some())
    }

    /// One transaction: the event's record (new, expiring after [`EVENT_RETENTION`]), if any,
    /// and the account at its version, listed in the index while it awaits suspension.
    async fn save_account(
        &self,
        tenant: &TenantId,
        account: &Account,
        event: Option<&str>,
    ) -> Result<Saved, StoreError> {
        let json = serde_json::to_string(account)
            .map_err(|err| StoreError::backend(format!("billing account: {err}")))?;
        let condition = if account.version == 0 {
            "attribute_not_exists(version)"
        } else {
            "version = :expected"
        };
        let listed = match account.awaiting_suspension() {
            Some(since) => Some(keys::past_due_sort_key(since, tenant)),
            None => account.paying().then(|| keys::paying_sort_key(tenant)),
        };
        let expression = if listed.is_some() {
            "SET account = :account, tenant_id = :tenant, version = :next, #ipk = :ipk, #isk = :isk"
        } else {
            "SET account = :account, tenant_id = :tenant, version = :next REMOVE #ipk, #isk"
        };
        let mut update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::billing(tenant))))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#ipk", keys::GSI1_PK)
            .expression_attribute_names("#isk", keys::GSI1_SK)
            .expression_attribute_values(":account", AttributeValue::S(json))
            .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()))
            .expression_attribute_values(
                ":next",
                AttributeValue::N((account.version + 1).to_string()),
            );
        if let Some(sort_key) = listed {
            update = update
                .expression_attribute_values(
                    ":ipk",
                    AttributeValue::S(keys::BILLING_ACCOUNTS.to_owned()),
                )
                .expression_attribute_values(":isk", AttributeValue::S(sort_key));
        }
        if account.version != 0 {
            update = update.expression_attribute_values(
                ":expected",
                AttributeValue::N(account.version.to_string()),
            );
        }
        let mut transaction = Transaction::new();
        if let Some(event) = event {
            let expires = Timestamp::now().unix_seconds() + EVENT_RETENTION.as_secs() as i64;
            let record = Item::new(&keys::webhook_event(event))
                .s("entity", "webhook-event")
                .s("tenant_id", tenant.to_string())
                .n(keys::TTL, expires);
            transaction.push(Guard::Event, self.put_new(record)?);
        }
        transaction.push(
            Guard::Account,
            TransactWriteItem::builder()
                .update(built(update.build())?)
                .build(),
        );
        match transaction.run(&self.scope).await {
            Ok(()) => Ok(Saved::Saved),
            Err(TransactionFailure::Conditions(failed)) if failed.includes(Guard::Event) => {
                Ok(Saved::Duplicate)
            }
            Err(TransactionFailure::Conditions(_)) => Err(StoreError::VersionConflict),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    /// Queries of the index's sparse `BILLING` partition (its `DUE#` keys), page after page up
    /// to `limit`.
    async fn grace_expired(
        &self,
        failed_by: i64,
        limit: usize,
    ) -> Result<Vec<TenantId>, StoreError> {
        let mut due = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .index_query(
                    keys::BILLING_ACCOUNTS,
                    Some(SortKey::Below(keys::past_due_bound(failed_by))),
                )
                .projection_expression("tenant_id")
                .limit(limit.saturating_sub(due.len()).clamp(1, 1000) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            for map in output.items.unwrap_or_default() {
                due.push(Item(map).parse_s("tenant_id", TenantId::parse)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() || due.len() >= limit {
                return Ok(due);
            }
        }
    }

    /// One query of the index's `BILLING` partition, after the sort key `after`.
    async fn billed_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage<TenantId>, StoreError> {
        let output = self
            .index_query(
                keys::BILLING_ACCOUNTS,
                after.map(|after| SortKey::After(after.to_owned())),
            )
            .projection_expression("tenant_id, #isk")
            .expression_attribute_names("#isk", keys::GSI1_SK)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(backend)?;
        let mut items = Vec::new();
        let mut last = None;
        for map in output.items.unwrap_or_default() {
            let item = Item(map);
            items.push(item.parse_s("tenant_id", TenantId::parse)?);
            last = item.get_s(keys::GSI1_SK).ok().map(str::to_owned);
        }
        let next_cursor = output.last_evaluated_key.and(last);
        Ok(ListPage { items, next_cursor })
    }
}
