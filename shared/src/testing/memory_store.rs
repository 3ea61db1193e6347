//! An in-memory store for fast handler tests. It passes the same contract suite
//! ([`super::contract`]) as the DynamoDB adapter, so handler tests that use it mean something.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::authority::{CallerStanding, Standing};
use crate::context::TenantContext;
use crate::domain::Tier;
use crate::domain::order::{Order, OrderStatus, PricedOrder};
use crate::domain::product::Product;
use crate::domain::revocation::Revocations;
use crate::domain::tenant::TenantStatus;
use crate::domain::text::Sku;
use crate::domain::time::Timestamp;
use crate::ids::{OrderId, ProductId, TenantId, UserId};
use crate::pagination::{Cursor, Position};
use crate::plans::Limit;
use crate::store::{
    ListPage, ORDERS, OrderStore, PRODUCTS, ProductLookup, ProductStore, StoreError, Usage,
    UsageReader,
};

#[derive(Debug, Default)]
struct TenantData {
    products: BTreeMap<ProductId, Product>,
    skus: HashMap<Sku, ProductId>,
    orders: BTreeMap<OrderId, Order>,
    orders_by_month: HashMap<String, u64>,
}

/// What the control table would say of a tenant, as far as the data APIs read it.
#[derive(Debug, Clone)]
struct Record {
    status: TenantStatus,
    tier: Option<Tier>,
    revoked: Revocations,
    require_mfa: bool,
    plan_lowered: bool,
    users: u64,
}

impl Default for Record {
    fn default() -> Self {
        Self {
            status: TenantStatus::Active,
            tier: None,
            revoked: Revocations::new(),
            require_mfa: false,
            plan_lowered: false,
            users: 1,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    tenants: HashMap<TenantId, TenantData>,
    not_ready: Vec<TenantId>,
    records: HashMap<TenantId, Record>,
}

/// A whole store in a mutex: every operation is trivially atomic.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `tenant`'s data unavailable, as while its silo table is being created.
    pub fn mark_not_ready(&self, tenant: TenantId) {
        self.lock().not_ready.push(tenant);
    }

    /// Records that the tenant's plan was lowered while it has `users` users.
    pub fn set_plan_lowered(&self, tenant: TenantId, users: u64) {
        let mut state = self.lock();
        let record = state.records.entry(tenant).or_default();
        record.plan_lowered = true;
        record.users = users;
    }

    /// Sets the tenant's stored status (a suspension, an offboarding).
    pub fn set_status(&self, tenant: TenantId, status: TenantStatus) {
        self.lock().records.entry(tenant).or_default().status = status;
    }

    /// Sets the tenant's stored tier (until then, the caller's token's tier is taken as stored).
    pub fn set_tier(&self, tenant: TenantId, tier: Tier) {
        self.lock().records.entry(tenant).or_default().tier = Some(tier);
    }

    /// Sets whether the tenant requires a second factor.
    pub fn set_require_mfa(&self, tenant: TenantId, required: bool) {
        self.lock().records.entry(tenant).or_default().require_mfa = required;
    }

    /// Records a revocation of `user`'s grants before `at`, as a removal or demotion would.
    pub fn revoke(&self, tenant: TenantId, user: UserId, at: u64) {
        self.lock()
            .records
            .entry(tenant)
            .or_default()
            .revoked
            .insert(user, at);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already; keep serving the rest.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with_tenant<T>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&mut TenantData) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut state = self.lock();
        if state.not_ready.contains(tenant) {
            return Err(StoreError::TenantNotReady);
        }
        f(state.tenants.entry(*tenant).or_default())
    }
}

/// Newest-first page over ids that sort by time, with a one-position cursor.
fn page<K: Ord + ToString + Copy, V: Clone>(
    map: &BTreeMap<K, V>,
    tenant: &TenantId,
    collection: &str,
    limit: usize,
    cursor: Option<&str>,
    parse: impl Fn(&str) -> Option<K>,
) -> Result<ListPage<V>, StoreError> {
    let position = match cursor {
        None => Position::Start,
        Some(raw) => {
            let cursor = Cursor::decode(raw, tenant, collection, 1, |sk| parse(sk).is_some())
                .map_err(|_| StoreError::InvalidCursor)?;
            cursor
                .positions
                .into_iter()
                .next()
                .unwrap_or(Position::Done)
        }
    };
    let candidates: Vec<(&K, &V)> = match &position {
        Position::Start => map.iter().rev().collect(),
        Position::Before(sk) => {
            let bound = parse(sk).ok_or(StoreError::InvalidCursor)?;
            map.range(..bound).rev().collect()
        }
        Position::Done => Vec::new(),
    };
    let items: Vec<V> = candidates
        .iter()
        .take(limit)
        .map(|(_, v)| (*v).clone())
        .collect();
    let next_cursor = (candidates.len() > limit).then(|| {
        let last = candidates[limit - 1].0;
        Cursor {
            tenant: *tenant,
            collection: collection.to_owned(),
            positions: vec![Position::Before(last.to_string())],
        }
        .encode()
    });
    Ok(ListPage { items, next_cursor })
}

impl CallerStanding for MemoryStore {
    async fn standing(&self, caller: &TenantContext) -> Result<Standing, StoreError> {
        let record = self
            .lock()
            .records
            .get(&caller.tenant_id)
            .cloned()
            .unwrap_or_default();
        crate::authority::check(caller, record.status, &record.revoked, record.require_mfa)?;
        Ok(Standing {
            tier: record.tier.unwrap_or(caller.tier),
            plan_lowered: record.plan_lowered,
            users: record.users,
        })
    }
}

impl ProductLookup for MemoryStore {
    async fn get_products(
        &self,
        tenant: &TenantId,
        ids: &[ProductId],
    ) -> Result<Vec<Product>, StoreError> {
        self.with_tenant(tenant, |data| {
            Ok(ids
                .iter()
                .filter_map(|id| data.products.get(id).cloned())
                .collect())
        })
    }
}

impl ProductStore for MemoryStore {
    async fn create_product(
        &self,
        tenant: &TenantId,
        product: &Product,
        max_products: u64,
    ) -> Result<(), StoreError> {
        self.with_tenant(tenant, |data| {
            if data.products.contains_key(&product.id) {
                return Err(StoreError::VersionConflict);
            }
            if data.skus.contains_key(&product.sku) {
                return Err(StoreError::SkuTaken);
            }
            if data.products.len() as u64 >= max_products {
                return Err(StoreError::QuotaExceeded {
                    limit: Limit::Products,
                    max: max_products,
                });
            }
            data.skus.insert(product.sku.clone(), product.id);
            data.products.insert(product.id, product.clone());
            Ok(())
        })
    }

    async fn get_product(&self, tenant: &TenantId, id: &ProductId) -> Result<Product, StoreError> {
        self.with_tenant(tenant, |data| {
            data.products.get(id).cloned().ok_or(StoreError::NotFound)
        })
    }

    async fn list_products(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListPage<Product>, StoreError> {
        self.with_tenant(tenant, |data| {
            page(&data.products, tenant, PRODUCTS, limit, cursor, |sk| {
                ProductId::parse(sk).ok()
            })
        })
    }

    async fn replace_product(
        &self,
        tenant: &TenantId,
        current: &Product,
        replacement: &Product,
    ) -> Result<(), StoreError> {
        self.with_tenant(tenant, |data| {
            let stored = data.products.get(&current.id).ok_or(StoreError::NotFound)?;
            if stored.version != current.version {
                return Err(StoreError::VersionConflict);
            }
            if replacement.sku != stored.sku {
                if data.skus.contains_key(&replacement.sku) {
                    return Err(StoreError::SkuTaken);
                }
                data.skus.remove(&stored.sku);
                data.skus.insert(replacement.sku.clone(), replacement.id);
            }
            data.products.insert(replacement.id, replacement.clone());
            Ok(())
        })
    }

    async fn delete_product(
        &self,
        tenant: &TenantId,
        id: &ProductId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.with_tenant(tenant, |data| {
            let stored = data.products.get(id).ok_or(StoreError::NotFound)?;
            if expected_version.is_some_and(|v| v != stored.version) {
                return Err(StoreError::VersionConflict);
            }
            let sku = stored.sku.clone();
            data.skus.remove(&sku);
            data.products.remove(id);
            Ok(())
        })
    }
}

impl OrderStore for MemoryStore {
    async fn place_order(
        &self,
        tenant: &TenantId,
        priced: &PricedOrder,
        max_per_month: u64,
    ) -> Result<(), StoreError> {
        self.with_tenant(tenant, |data| {
            let unchanged = priced
                .product_versions
                .iter()
                .all(|(id, version)| data.products.get(id).is_some_and(|p| p.version == *version));
            if !unchanged {
                return Err(StoreError::ProductsChanged);
            }
            let month = priced.order.created_at.year_month();
            let placed = data.orders_by_month.entry(month).or_default();
            if *placed >= max_per_month {
                return Err(StoreError::QuotaExceeded {
                    limit: Limit::OrdersPerMonth,
                    max: max_per_month,
                });
            }
            if data.orders.contains_key(&priced.order.id) {
                return Err(StoreError::VersionConflict);
            }
            *placed += 1;
            data.orders.insert(priced.order.id, priced.order.clone());
            Ok(())
        })
    }

    async fn get_order(&self, tenant: &TenantId, id: &OrderId) -> Result<Order, StoreError> {
        self.with_tenant(tenant, |data| {
            data.orders.get(id).cloned().ok_or(StoreError::NotFound)
        })
    }

    async fn list_orders(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListPage<Order>, StoreError> {
        self.with_tenant(tenant, |data| {
            page(&data.orders, tenant, ORDERS, limit, cursor, |sk| {
                OrderId::parse(sk).ok()
            })
        })
    }

    async fn change_order_status(
        &self,
        tenant: &TenantId,
        id: &OrderId,
        to: OrderStatus,
        expected_version: Option<u64>,
    ) -> Result<Order, StoreError> {
        self.with_tenant(tenant, |data| {
            let order = data.orders.get_mut(id).ok_or(StoreError::NotFound)?;
            if !order.status.allowed_next().contains(&to) {
                return Err(StoreError::InvalidTransition {
                    from: order.status,
                    to,
                });
            }
            if expected_version.is_some_and(|v| v != order.version) {
                return Err(StoreError::VersionConflict);
            }
            order.status = to;
            order.version += 1;
            order.updated_at = Timestamp::now();
            Ok(order.clone())
        })
    }
}

impl UsageReader for MemoryStore {
    async fn usage(&self, tenant: &TenantId, year_month: &str) -> Result<Usage, StoreError> {
        self.with_tenant(tenant, |data| {
            Ok(Usage {
                products: data.products.len() as u64,
                orders_this_month: data.orders_by_month.get(year_month).copied().unwrap_or(0),
            })
        })
    }
}

impl MemoryStore {
    /// Deletes every item of `tenant`, as offboarding does.
    pub fn purge_tenant(&self, tenant: &TenantId) -> u64 {
        let removed = self.lock().tenants.remove(tenant);
        removed
            .map(|data| (data.products.len() + data.orders.len()) as u64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    crate::store_contract_tests!(super::MemoryStore::new());
}
