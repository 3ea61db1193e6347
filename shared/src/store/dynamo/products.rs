//! Products, SKU claims and the product counter.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use super::item::key_map;
use super::{
    DynamoStore, Failed, Item, TableResolver, Transaction, TransactionFailure, backend, built,
};
use crate::domain::money::{Amount, Currency};
use crate::domain::product::Product;
use crate::domain::text::{Description, ProductName, Sku};
use crate::domain::time::Timestamp;
use crate::ids::{ProductId, TenantId};
use crate::keys::{self, Collection};
use crate::plans::Limit;
use crate::store::{ListPage, PRODUCTS, ProductLookup, ProductStore, StoreError};

pub(super) fn product_item(tenant: &TenantId, product: &Product) -> Item {
    Item::new(&keys::product(tenant, &product.id))
        .s("entity", "product")
        .s("tenant_id", tenant.to_string())
        .s("id", product.id.to_string())
        .s("name", product.name.as_str())
        .s("description", product.description.as_str())
        .s("sku", product.sku.as_str())
        .n("price", product.price.minor_units())
        .s("currency", product.currency.as_str())
        .bool("active", product.active)
        .n("version", product.version)
        .s("created_at", product.created_at.to_string())
        .s("updated_at", product.updated_at.to_string())
}

pub(super) fn parse_product(item: &Item) -> Result<Product, StoreError> {
    Ok(Product {
        id: item.parse_s("id", ProductId::parse)?,
        name: item.parse_s("name", ProductName::parse)?,
        description: item.parse_s("description", Description::parse)?,
        sku: item.parse_s("sku", Sku::parse)?,
        price: Amount::new("price", item.get_n("price")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        currency: item.parse_s("currency", Currency::parse)?,
        active: item.get_bool("active")?,
        version: item.get_n("version")?,
        created_at: item.parse_s("created_at", |raw| Timestamp::parse(raw).ok_or(()))?,
        updated_at: item.parse_s("updated_at", |raw| Timestamp::parse(raw).ok_or(()))?,
    })
}

fn sku_claim(tenant: &TenantId, sku: &Sku, product: &ProductId) -> Item {
    Item::new(&keys::sku(tenant, sku))
        .s("entity", "sku")
        .s("tenant_id", tenant.to_string())
        .s("product_id", product.to_string())
}

fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = built(
        Put::builder()
            .table_name(table)
            .set_item(Some(item.into_map()))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete_claim(
    table: &str,
    tenant: &TenantId,
    sku: &Sku,
    product: &ProductId,
) -> Result<TransactWriteItem, StoreError> {
    let delete = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key_map(&keys::sku(tenant, sku))))
            .condition_expression("product_id = :product")
            .expression_attribute_values(":product", AttributeValue::S(product.to_string()))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// `n + delta` on the product counter; when growing, only while `n < max`.
fn count_products(
    table: &str,
    tenant: &TenantId,
    delta: i64,
    max: Option<u64>,
) -> Result<TransactWriteItem, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key_map(&keys::product_count(tenant))))
        .update_expression("ADD n :delta")
        .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()));
    if let Some(max) = max {
        update = update
            .condition_expression("attribute_not_exists(n) OR n < :max")
            .expression_attribute_values(":max", AttributeValue::N(max.to_string()));
    }
    Ok(TransactWriteItem::builder()
        .update(built(update.build())?)
        .build())
}

impl<R: TableResolver> ProductLookup for DynamoStore<R> {
    /// One `BatchGetItem` (strongly consistent), plus retries of any unprocessed keys.
    async fn get_products(
        &self,
        tenant: &TenantId,
        ids: &[ProductId],
    ) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let scope = self.scope(tenant).await?;
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let keys: Vec<HashMap<String, AttributeValue>> = unique
            .iter()
            .map(|id| key_map(&keys::product(tenant, id)))
            .collect();
        let mut request = Some(built(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build(),
        )?);
        let mut products = Vec::with_capacity(unique.len());
        let mut rounds = 0;
        while let Some(keys_and_attributes) = request.take() {
            rounds += 1;
            if rounds > 5 {
                return Err(StoreError::backend(
                    "BatchGetItem left keys unprocessed five times",
                ));
            }
            let output = scope
                .client
                .batch_get_item()
                .request_items(&scope.table, keys_and_attributes)
                .send()
                .await
                .map_err(backend)?;
            for map in output
                .responses
                .and_then(|mut r| r.remove(&scope.table))
                .unwrap_or_default()
            {
                products.push(parse_product(&Item(map))?);
            }
            request = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(&scope.table));
            if request.is_some() {
                tokio::time::sleep(std::time::Duration::from_millis(20 * rounds)).await;
            }
        }
        Ok(products)
    }
}

/// What the conditions of a product's transactions guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// The product itself: absent when created, at the version read when changed.
    Product,
    /// A SKU claimed by no other product.
    Sku,
    /// The SKU claim being released still names this product.
    OldSku,
    /// The product counter under the plan's limit.
    Quota,
}

impl<R: TableResolver> ProductStore for DynamoStore<R> {
    /// One transaction: the product, its SKU claim, and the counter that enforces the plan limit.
    async fn create_product(
        &self,
        tenant: &TenantId,
        product: &Product,
        max_products: u64,
    ) -> Result<(), StoreError> {
        let scope = self.scope(tenant).await?;
        let mut transaction = Transaction::new();
        transaction.push(
            Guard::Product,
            put_new(&scope.table, product_item(tenant, product))?,
        );
        transaction.push(
            Guard::Sku,
            put_new(&scope.table, sku_claim(tenant, &product.sku, &product.id))?,
        );
        transaction.push(
            Guard::Quota,
            count_products(&scope.table, tenant, 1, Some(max_products))?,
        );
        match transaction.run(&scope).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Conditions(failed)) => Err(if failed.includes(Guard::Sku) {
                StoreError::SkuTaken
            } else if failed.includes(Guard::Quota) {
                StoreError::QuotaExceeded {
                    limit: Limit::Products,
                    max: max_products,
                }
            } else {
                StoreError::VersionConflict
            }),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    async fn get_product(&self, tenant: &TenantId, id: &ProductId) -> Result<Product, StoreError> {
        let scope = self.scope(tenant).await?;
        match scope.get(&keys::product(tenant, id)).await? {
            Some(item) => parse_product(&item),
            None => Err(StoreError::NotFound),
        }
    }

    async fn list_products(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListPage<Product>, StoreError> {
        self.list_sharded(
            tenant,
            Collection::Products,
            PRODUCTS,
            limit,
            cursor,
            parse_product,
        )
        .await
    }

    /// One transaction: the product, conditional on its version, and when the SKU changes the
    /// release of the old claim and the new claim.
    async fn replace_product(
        &self,
        tenant: &TenantId,
        current: &Product,
        replacement: &Product,
    ) -> Result<(), StoreError> {
        let scope = self.scope(tenant).await?;
        let put = built(
            Put::builder()
                .table_name(&scope.table)
                .set_item(Some(product_item(tenant, replacement).into_map()))
                .condition_expression("version = :expected")
                .expression_attribute_values(
                    ":expected",
                    AttributeValue::N(current.version.to_string()),
                )
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        let mut transaction = Transaction::new();
        transaction.push(
            Guard::Product,
            TransactWriteItem::builder().put(put).build(),
        );
        if replacement.sku != current.sku {
            transaction.push(
                Guard::OldSku,
                delete_claim(&scope.table, tenant, &current.sku, &current.id)?,
            );
            transaction.push(
                Guard::Sku,
                put_new(
                    &scope.table,
                    sku_claim(tenant, &replacement.sku, &replacement.id),
                )?,
            );
        }
        match transaction.run(&scope).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Conditions(failed)) => Err(match failed.first() {
                Some((Guard::Product, None)) => StoreError::NotFound,
                Some((Guard::Sku, _)) => StoreError::SkuTaken,
                _ => StoreError::VersionConflict,
            }),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    /// A consistent read (for the SKU to release), then one transaction: the product at the
    /// version read, its SKU claim, and the counter.
    async fn delete_product(
        &self,
        tenant: &TenantId,
        id: &ProductId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let current = self.get_product(tenant, id).await?;
        if expected_version.is_some_and(|v| v != current.version) {
            return Err(StoreError::VersionConflict);
        }
        let scope = self.scope(tenant).await?;
        let delete = built(
            Delete::builder()
                .table_name(&scope.table)
                .set_key(Some(key_map(&keys::product(tenant, id))))
                .condition_expression("version = :expected")
                .expression_attribute_values(
                    ":expected",
                    AttributeValue::N(current.version.to_string()),
                )
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        let mut transaction = Transaction::new();
        transaction.push(
            Guard::Product,
            TransactWriteItem::builder().delete(delete).build(),
        );
        transaction.push(
            Guard::OldSku,
            delete_claim(&scope.table, tenant, &current.sku, id)?,
        );
        transaction.push(
            Guard::Quota,
            count_products(&scope.table, tenant, -1, None)?,
        );
        match transaction.run(&scope).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Conditions(failed)) => Err(match failed.first() {
                Some((Guard::Product, None)) => StoreError::NotFound,
                _ => StoreError::VersionConflict,
            }),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }
}
