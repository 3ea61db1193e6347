//! Orders and the monthly order counter.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use super::item::key_map;
use super::{
    DynamoStore, Failed, Item, TableResolver, Transaction, TransactionFailure, backend, built,
};
use crate::domain::money::{Amount, Currency, Quantity};
use crate::domain::order::{Order, OrderLine, OrderStatus, PricedOrder};
use crate::domain::text::{ProductName, Sku};
use crate::domain::time::Timestamp;
use crate::ids::{OrderId, ProductId, TenantId, UserId};
use crate::keys::{self, Collection};
use crate::plans::Limit;
use crate::store::{ListPage, ORDERS, OrderStore, StoreError};

pub(super) fn order_item(tenant: &TenantId, order: &Order) -> Item {
    let lines = order
        .lines
        .iter()
        .map(|line| {
            AttributeValue::M(HashMap::from([
                (
                    "product_id".to_owned(),
                    AttributeValue::S(line.product_id.to_string()),
                ),
                (
                    "name".to_owned(),
                    AttributeValue::S(line.name.as_str().to_owned()),
                ),
                (
                    "sku".to_owned(),
                    AttributeValue::S(line.sku.as_str().to_owned()),
                ),
                (
                    "unit_price".to_owned(),
                    AttributeValue::N(line.unit_price.minor_units().to_string()),
                ),
                (
                    "quantity".to_owned(),
                    AttributeValue::N(line.quantity.get().to_string()),
                ),
                (
                    "line_total".to_owned(),
                    AttributeValue::N(line.line_total.minor_units().to_string()),
                ),
            ]))
        })
        .collect();
    Item::new(&keys::order(tenant, &order.id))
        .s("entity", "order")
        .s("tenant_id", tenant.to_string())
        .s("id", order.id.to_string())
        .s("status", order.status.as_str())
        .value("lines", AttributeValue::L(lines))
        .s("currency", order.currency.as_str())
        .n("total", order.total.minor_units())
        .n("version", order.version)
        .s("created_by", order.created_by.as_str())
        .s("created_at", order.created_at.to_string())
        .s("updated_at", order.updated_at.to_string())
}

fn parse_amount(item: &Item, name: &str) -> Result<Amount, StoreError> {
    Amount::new("amount", item.get_n(name)?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse_line(value: &AttributeValue) -> Result<OrderLine, StoreError> {
    let line = Item(
        value
            .as_m()
            .map_err(|_| StoreError::Corrupt("order line is not a map".into()))?
            .clone(),
    );
    Ok(OrderLine {
        product_id: line.parse_s("product_id", ProductId::parse)?,
        name: line.parse_s("name", ProductName::parse)?,
        sku: line.parse_s("sku", Sku::parse)?,
        unit_price: parse_amount(&line, "unit_price")?,
        quantity: Quantity::new(line.get_n("quantity")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        line_total: parse_amount(&line, "line_total")?,
    })
}

fn parse_status(item: &Item) -> Result<OrderStatus, StoreError> {
    item.parse_s("status", |raw| OrderStatus::parse(raw).ok_or(()))
}

pub(super) fn parse_order(item: &Item) -> Result<Order, StoreError> {
    Ok(Order {
        id: item.parse_s("id", OrderId::parse)?,
        status: parse_status(item)?,
        lines: item
            .get_list("lines")?
            .iter()
            .map(parse_line)
            .collect::<Result<_, _>>()?,
        currency: item.parse_s("currency", Currency::parse)?,
        total: parse_amount(item, "total")?,
        version: item.get_n("version")?,
        created_by: item.parse_s("created_by", UserId::parse)?,
        created_at: item.parse_s("created_at", |raw| Timestamp::parse(raw).ok_or(()))?,
        updated_at: item.parse_s("updated_at", |raw| Timestamp::parse(raw).ok_or(()))?,
    })
}

/// What the conditions of an order's transaction guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// The order is new.
    Order,
    /// The month's order counter under the plan's limit.
    Quota,
    /// A product still at the version its price was read from.
    Price,
}

impl<R: TableResolver> OrderStore for DynamoStore<R> {
    /// One transaction: the order, the month's counter (enforcing the plan limit), and a version
    /// check of every product the prices were copied from.
    async fn place_order(
        &self,
        tenant: &TenantId,
        priced: &PricedOrder,
        max_per_month: u64,
    ) -> Result<(), StoreError> {
        let scope = self.scope(tenant).await?;
        let order = &priced.order;
        let put = built(
            aws_sdk_dynamodb::types::Put::builder()
                .table_name(&scope.table)
                .set_item(Some(order_item(tenant, order).into_map()))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let counter = built(
            Update::builder()
                .table_name(&scope.table)
                .set_key(Some(key_map(&keys::monthly_order_count(
                    tenant,
                    &order.created_at.year_month(),
                ))))
                .update_expression("ADD n :one")
                .condition_expression("attribute_not_exists(n) OR n < :max")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":max", AttributeValue::N(max_per_month.to_string()))
                .build(),
        )?;
        let mut transaction = Transaction::new();
        transaction.push(Guard::Order, TransactWriteItem::builder().put(put).build());
        transaction.push(
            Guard::Quota,
            TransactWriteItem::builder().update(counter).build(),
        );
        for (product, version) in &priced.product_versions {
            let check = built(
                ConditionCheck::builder()
                    .table_name(&scope.table)
                    .set_key(Some(key_map(&keys::product(tenant, product))))
                    .condition_expression("version = :version")
                    .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
                    .build(),
            )?;
            transaction.push(
                Guard::Price,
                TransactWriteItem::builder().condition_check(check).build(),
            );
        }
        match transaction.run(&scope).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Conditions(failed)) => Err(if failed.includes(Guard::Price) {
                StoreError::ProductsChanged
            } else if failed.includes(Guard::Quota) {
                StoreError::QuotaExceeded {
                    limit: Limit::OrdersPerMonth,
                    max: max_per_month,
                }
            } else {
                StoreError::VersionConflict
            }),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    async fn get_order(&self, tenant: &TenantId, id: &OrderId) -> Result<Order, StoreError> {
        let scope = self.scope(tenant).await?;
        match scope.get(&keys::order(tenant, id)).await? {
            Some(item) => parse_order(&item),
            None => Err(StoreError::NotFound),
        }
    }

    async fn list_orders(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListPage<Order>, StoreError> {
        self.list_sharded(
            tenant,
            Collection::Orders,
            ORDERS,
            limit,
            cursor,
            parse_order,
        )
        .await
    }

    /// One conditional `UpdateItem`: the condition admits only the statuses `to` may be reached
    /// from, and on failure DynamoDB returns the stored item, which tells a missing order, a
    /// forbidden move and a stale version apart without a second read.
    async fn change_order_status(
        &self,
        tenant: &TenantId,
        id: &OrderId,
        to: OrderStatus,
        expected_version: Option<u64>,
    ) -> Result<Order, StoreError> {
        let previous = to.allowed_previous();
        if previous.is_empty() {
            // Nothing may move to `to` (it is `pending`): report the order's actual status.
            let current = self.get_order(tenant, id).await?;
            return Err(StoreError::InvalidTransition {
                from: current.status,
                to,
            });
        }
        let scope = self.scope(tenant).await?;
        let placeholders: Vec<String> = (0..previous.len()).map(|i| format!(":from{i}")).collect();
        let mut condition = format!(
            "attribute_exists(pk) AND #status IN ({})",
            placeholders.join(", ")
        );
        let mut update = scope
            .client
            .update_item()
            .table_name(&scope.table)
            .set_key(Some(key_map(&keys::order(tenant, id))))
            .update_expression("SET #status = :to, updated_at = :now ADD version :one")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", AttributeValue::S(to.as_str().to_owned()))
            .expression_attribute_values(":now", AttributeValue::S(Timestamp::now().to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (placeholder, status) in placeholders.iter().zip(&previous) {
            update = update.expression_attribute_values(
                placeholder,
                AttributeValue::S(status.as_str().to_owned()),
            );
        }
        if let Some(version) = expected_version {
            condition.push_str(" AND version = :expected");
            update = update
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string()));
        }
        match update.condition_expression(condition).send().await {
            Ok(output) => parse_order(&Item(output.attributes.unwrap_or_default())),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    match failed.item() {
                        None => Err(StoreError::NotFound),
                        Some(old) => {
                            let from = parse_status(&Item(old.clone()))?;
                            if previous.contains(&from) {
                                Err(StoreError::VersionConflict)
                            } else {
                                Err(StoreError::InvalidTransition { from, to })
                            }
                        }
                    }
                }
                _ => Err(backend(err)),
            },
        }
    }
}
