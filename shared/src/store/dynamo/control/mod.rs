//! The DynamoDB adapter of the control-table ports (see [`crate::keys`] for the layout), one
//! file per aggregate: tenants, members, people (profiles and sign-up), billing, the outbox.

use aws_sdk_dynamodb::Client;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Get, Put, ReturnValuesOnConditionCheckFailure, TransactGetItem,
    TransactWriteItem,
};

use super::item::key_map;
use super::{Item, TableScope, backend, built};
use crate::domain::Tier;
use crate::domain::revocation::Revocations;
use crate::domain::tenant::TenantStatus;
use crate::ids::TenantId;
use crate::keys::{self, ItemKey};
use crate::store::StoreError;

mod billing;
mod items;
mod members;
mod outbox;
mod people;
mod tenants;

use items::{LOCATION_PROJECTION, PLAN_LOWERED, parse_revocations, require_mfa_of};
pub(crate) use items::{REVOKED, Revocation, parse_member, parse_tenant};
#[cfg(test)]
pub(crate) use items::{member_item, tenant_item};

/// The part of a tenant record that the data APIs read (and cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLocation {
    pub status: TenantStatus,
    /// The dedicated table of a silo tenant.
    pub data_table: Option<String>,
    pub tier: Tier,
    pub revoked: Revocations,
    pub require_mfa: bool,
    pub plan_lowered: bool,
    pub user_count: u64,
}

/// The control table, reached with the function's own credentials.
#[derive(Debug, Clone)]
pub struct DynamoControl {
    pub(super) scope: TableScope,
}

/// Which sort keys of an index partition a query reads.
pub(crate) enum SortKey {
    Below(String),
    After(String),
}

impl DynamoControl {
    pub fn new(client: Client, table: String) -> Self {
        Self {
            scope: TableScope { client, table },
        }
    }

    pub(crate) fn table(&self) -> &str {
        &self.scope.table
    }

    pub(crate) async fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        self.scope.get(key).await
    }

    /// A query of one partition of the control index, with the sort keys `sort` names if given.
    pub(crate) fn index_query(
        &self,
        partition: &str,
        sort: Option<SortKey>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let query = self
            .scope
            .client
            .query()
            .table_name(self.table())
            .index_name(keys::GSI1)
            .expression_attribute_names("#pk", keys::GSI1_PK)
            .expression_attribute_values(":partition", AttributeValue::S(partition.to_owned()));
        let (condition, bound) = match sort {
            None => return query.key_condition_expression("#pk = :partition"),
            Some(SortKey::Below(bound)) => ("#pk = :partition AND #sk < :bound", bound),
            Some(SortKey::After(bound)) => ("#pk = :partition AND #sk > :bound", bound),
        };
        query
            .key_condition_expression(condition)
            .expression_attribute_names("#sk", keys::GSI1_SK)
            .expression_attribute_values(":bound", AttributeValue::S(bound))
    }

    /// What the data APIs need of a tenant record: its status, dedicated table (if any), tier
    /// and revocations. A read projected to exactly those attributes, because that is all the
    /// data APIs' own role may read of the control table (the IAM condition
    /// `dynamodb:Attributes` in template.yaml).
    pub async fn tenant_location(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<TenantLocation>, StoreError> {
        let output = self
            .scope
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::tenant(tenant))))
            .projection_expression(LOCATION_PROJECTION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#revoked", REVOKED)
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        output
            .item
            .map(|map| {
                let item = Item(map);
                Ok(TenantLocation {
                    status: item.parse_s("status", |raw| TenantStatus::parse(raw).ok_or(()))?,
                    data_table: item.get_s("data_table").ok().map(str::to_owned),
                    tier: item.parse_s("tier", |raw| Tier::parse(raw).ok_or(()))?,
                    revoked: parse_revocations(&item)?,
                    require_mfa: require_mfa_of(&item),
                    plan_lowered: item.get_bool(PLAN_LOWERED).unwrap_or(false),
                    user_count: item.get_n("user_count").unwrap_or(0),
                })
            })
            .transpose()
    }

    pub(crate) fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = built(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(item.into_map()))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Deletes an item that is absent or belongs to `tenant` (so a removal never fails on a
    /// record that an earlier, interrupted removal already deleted).
    pub(crate) fn delete_owned(
        &self,
        key: &ItemKey,
        tenant: &TenantId,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = built(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(key_map(key)))
                .condition_expression("attribute_not_exists(pk) OR tenant_id = :tenant")
                .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Reads several items in one strongly consistent (serializable) request.
    pub(crate) async fn transact_get<const N: usize>(
        &self,
        keys: [ItemKey; N],
    ) -> Result<[Option<Item>; N], StoreError> {
        let gets = keys
            .iter()
            .map(|key| {
                built(
                    Get::builder()
                        .table_name(self.table())
                        .set_key(Some(key_map(key)))
                        .build(),
                )
                .map(|get| TransactGetItem::builder().get(get).build())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .scope
            .client
            .transact_get_items()
            .set_transact_items(Some(gets))
            .send()
            .await
            .map_err(backend)?;
        let mut responses = output.responses.unwrap_or_default().into_iter();
        Ok(std::array::from_fn(|_| {
            responses
                .next()
                .and_then(|response| response.item)
                .filter(|item| !item.is_empty())
                .map(Item)
        }))
    }

    pub(crate) async fn member_items(&self, tenant: &TenantId) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .scope
                .client
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(keys::members_partition(tenant)),
                )
                .expression_attribute_values(
                    ":prefix",
                    AttributeValue::S(keys::MEMBER_PREFIX.to_owned()),
                )
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(backend)?;
            items.extend(output.items.unwrap_or_default().into_iter().map(Item));
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}
