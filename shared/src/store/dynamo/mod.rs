//! The DynamoDB adapter of the store ports.
//!
//! Which table (and which credentials) serve a tenant is decided by a [`TableResolver`]: one
//! pooled table for every tenant, or per-tenant tables and tenant-scoped credentials (see
//! [`crate::store::dynamo`]'s callers). The adapter itself never sees anything but one tenant's
//! keys, built by [`crate::keys`].

use std::future::Future;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, SdkError};

use super::StoreError;
use crate::ids::TenantId;
use crate::keys::ItemKey;

mod api_clients;
pub mod changes;
mod control;
mod creators;
mod item;
mod orders;
mod products;
mod webhooks;

pub use control::{DynamoControl, TenantLocation};
pub use item::Item;

/// The client and table that serve one tenant's data.
#[derive(Debug, Clone)]
pub struct TableScope {
    pub client: Client,
    pub table: String,
}

impl TableScope {
    /// One strongly consistent `GetItem` of `key`.
    pub(crate) async fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(output.item.map(Item))
    }
}

/// The errors of the single-item writes whose condition can fail.
pub(crate) trait ConditionFailure {
    fn condition_failed(&self) -> bool;
}

impl ConditionFailure for aws_sdk_dynamodb::operation::put_item::PutItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailure for aws_sdk_dynamodb::operation::update_item::UpdateItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

/// Whether a single-item write failed only because its condition did not hold.
pub(crate) fn condition_failed<E: ConditionFailure, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error()
        .is_some_and(ConditionFailure::condition_failed)
}

/// Parses the items of a query's or scan's answer, in their order.
pub(crate) fn parse_all<T>(
    items: Option<Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>>,
    mut parse: impl FnMut(&Item) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    items
        .unwrap_or_default()
        .into_iter()
        .map(|map| parse(&Item(map)))
        .collect()
}

/// Decides which client and table serve a tenant.
pub trait TableResolver: Send + Sync + 'static {
    fn resolve(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<TableScope, StoreError>> + Send;
}

/// Every tenant in one table, reached with the function's own credentials.
#[derive(Debug, Clone)]
pub struct PooledTable(pub TableScope);

impl TableResolver for PooledTable {
    async fn resolve(&self, _tenant: &TenantId) -> Result<TableScope, StoreError> {
        Ok(self.0.clone())
    }
}

/// The DynamoDB adapter: implements every store port for the tenant data tables.
#[derive(Debug)]
pub struct DynamoStore<R> {
    resolver: Arc<R>,
}

impl<R> Clone for DynamoStore<R> {
    fn clone(&self) -> Self {
        Self {
            resolver: Arc::clone(&self.resolver),
        }
    }
}

impl<R: TableResolver> DynamoStore<R> {
    pub fn new(resolver: R) -> Self {
        Self {
            resolver: Arc::new(resolver),
        }
    }

    async fn scope(&self, tenant: &TenantId) -> Result<TableScope, StoreError> {
        self.resolver.resolve(tenant).await
    }
}

impl<R: crate::authority::CallerStanding> crate::authority::CallerStanding for DynamoStore<R> {
    async fn standing(
        &self,
        caller: &crate::context::TenantContext,
    ) -> Result<crate::authority::Standing, StoreError> {
        self.resolver.standing(caller).await
    }
}

impl<T: crate::authority::CallerStanding> crate::authority::CallerStanding for Arc<T> {
    async fn standing(
        &self,
        caller: &crate::context::TenantContext,
    ) -> Result<crate::authority::Standing, StoreError> {
        T::standing(self, caller).await
    }
}

pub(crate) use super::backend;

pub(crate) fn built<T>(result: Result<T, BuildError>) -> Result<T, StoreError> {
    result.map_err(|err| StoreError::backend(format!("invalid request: {err}")))
}

impl<R: TableResolver> DynamoStore<R> {
    /// Lists one of a tenant's sharded collections newest first: one `Query` per shard that is
    /// not exhausted, run concurrently, merged by sort key (see [`crate::pagination`]).
    async fn list_sharded<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        collection: crate::keys::Collection,
        name: &str,
        limit: usize,
        cursor: Option<&str>,
        parse: fn(&Item) -> Result<T, StoreError>,
    ) -> Result<super::ListPage<T>, StoreError> {
        use crate::pagination::{Cursor, Position, ShardPage, merge_newest_first};

        let shards = usize::from(crate::keys::SHARDS);
        let cursor = match cursor {
            None => Cursor::start(*tenant, name, shards),
            Some(raw) => Cursor::decode(raw, tenant, name, shards, |sk| {
                ulid::Ulid::from_string(sk).is_ok()
            })
            .map_err(|_| StoreError::InvalidCursor)?,
        };
        let scope = self.scope(tenant).await?;
        let mut queries = tokio::task::JoinSet::new();
        for (shard, position) in cursor.positions.iter().enumerate() {
            let before = match position {
                Position::Done => continue,
                Position::Start => None,
                Position::Before(sk) => Some(sk.clone()),
            };
            let mut query = scope
                .client
                .query()
                .table_name(&scope.table)
                .expression_attribute_names("#pk", crate::keys::PK)
                .expression_attribute_values(
                    ":pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(crate::keys::partition(
                        tenant,
                        collection,
                        shard as u8,
                    )),
                )
                .scan_index_forward(false)
                .limit(limit as i32);
            query = match before {
                None => query.key_condition_expression("#pk = :pk"),
                Some(sk) => query
                    .key_condition_expression("#pk = :pk AND #sk < :before")
                    .expression_attribute_names("#sk", crate::keys::SK)
                    .expression_attribute_values(
                        ":before",
                        aws_sdk_dynamodb::types::AttributeValue::S(sk),
                    ),
            };
            queries.spawn(async move {
                let output = query.send().await.map_err(backend)?;
                let more = output.last_evaluated_key().is_some();
                let mut items = Vec::new();
                for map in output.items.unwrap_or_default() {
                    let item = Item(map);
                    let sk = item.get_s(crate::keys::SK)?.to_owned();
                    items.push((sk, parse(&item)?));
                }
                Ok::<_, StoreError>((shard, ShardPage { items, more }))
            });
        }
        let mut pages: Vec<Option<ShardPage<T>>> = (0..shards).map(|_| None).collect();
        while let Some(joined) = queries.join_next().await {
            let (shard, page) = joined
                .map_err(|err| StoreError::backend(format!("query task failed: {err}")))??;
            pages[shard] = Some(page);
        }
        let page = merge_newest_first(cursor, pages, limit);
        Ok(super::ListPage {
            items: page.items,
            next_cursor: page.next.map(|next| next.encode()),
        })
    }
}

/// For a cancelled transaction: the indexes of the actions whose condition failed, each with the
/// item as it was when `ReturnValuesOnConditionCheckFailure` asked for it. `None` for any other
/// error.
pub(crate) fn failed_conditions(
    err: &SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        impl std::fmt::Debug,
    >,
) -> Option<Vec<(usize, Option<Item>)>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => Some(
            cancelled
                .cancellation_reasons()
                .iter()
                .enumerate()
                .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
                .map(|(index, reason)| (index, reason.item().cloned().map(Item)))
                .collect(),
        ),
        _ => None,
    }
}

/// Runs a write transaction, retrying (briefly) when DynamoDB cancelled it only because another
/// transaction was touching the same items at that moment: the caller then sees the outcome of
/// its own conditions, not a spurious failure.
pub(crate) async fn transact(
    scope: &TableScope,
    actions: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
) -> Result<(), TransactionFailure> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = scope
            .client
            .transact_write_items()
            .set_transact_items(Some(actions.clone()))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        if let Some(failed) = failed_conditions(&err) {
            if !failed.is_empty() {
                return Err(TransactionFailure::Conditions(failed));
            }
            let conflicted = matches!(
                err.as_service_error(),
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons().iter().any(|r| r.code() == Some("TransactionConflict"))
            );
            if conflicted && attempt < 4 {
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
                continue;
            }
        }
        return Err(TransactionFailure::Other(backend(err)));
    }
}

/// Why [`transact`] failed.
#[derive(Debug)]
pub(crate) enum TransactionFailure<G = usize> {
    /// These actions' conditions failed (what each guards, or its index in the transaction for
    /// [`transact`]; the item as it was).
    Conditions(Vec<(G, Option<Item>)>),
    Other(StoreError),
}

/// A write transaction whose actions are named by what their condition guards, so that a
/// cancellation is read by meaning (`failed.includes(Guard::Sku)`) and never by the position an
/// action happened to take in the list (which moves when an action is added or made optional).
pub(crate) struct Transaction<G> {
    actions: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    guards: Vec<G>,
}

impl<G: Copy> Transaction<G> {
    pub(crate) fn new() -> Self {
        Self {
            actions: Vec::new(),
            guards: Vec::new(),
        }
    }

    /// Adds `action`, whose condition (if any) guards `guard`.
    pub(crate) fn push(&mut self, guard: G, action: aws_sdk_dynamodb::types::TransactWriteItem) {
        self.actions.push(action);
        self.guards.push(guard);
    }

    /// Runs it as [`transact`] does; a cancellation names the guards that failed, in the order of
    /// the actions.
    pub(crate) async fn run(self, scope: &TableScope) -> Result<(), TransactionFailure<G>> {
        match transact(scope, self.actions).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Other(err)) => Err(TransactionFailure::Other(err)),
            Err(TransactionFailure::Conditions(failed)) => Err(TransactionFailure::Conditions(
                failed
                    .into_iter()
                    .map(|(index, item)| (self.guards[index], item))
                    .collect(),
            )),
        }
    }
}

/// What a cancelled [`Transaction`] reports, read by guard.
pub(crate) trait Failed<G> {
    /// Whether the condition guarding `guard` failed.
    fn includes(&self, guard: G) -> bool;
}

impl<G: PartialEq> Failed<G> for [(G, Option<Item>)] {
    fn includes(&self, guard: G) -> bool {
        self.iter().any(|(failed, _)| *failed == guard)
    }
}

impl<R: TableResolver> super::UsageReader for DynamoStore<R> {
    /// One `BatchGetItem` of the two counter items.
    async fn usage(&self, tenant: &TenantId, year_month: &str) -> Result<super::Usage, StoreError> {
        let scope = self.scope(tenant).await?;
        let products = crate::keys::product_count(tenant);
        let orders = crate::keys::monthly_order_count(tenant, year_month);
        let keys = built(
            aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .keys(item::key_map(&products))
                .keys(item::key_map(&orders))
                .consistent_read(true)
                .build(),
        )?;
        let output = scope
            .client
            .batch_get_item()
            .request_items(&scope.table, keys)
            .send()
            .await
            .map_err(backend)?;
        let mut usage = super::Usage::default();
        for map in output
            .responses
            .and_then(|mut r| r.remove(&scope.table))
            .unwrap_or_default()
        {
            let item = Item(map);
            let count: u64 = item.get_n("n").unwrap_or(0);
            if item.get_s(crate::keys::SK)? == products.sk {
                usage.products = count;
            } else {
                usage.orders_this_month = count;
            }
        }
        Ok(usage)
    }
}
