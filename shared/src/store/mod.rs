//! Tenant-scoped storage ports and their adapters.
//!
//! Every method takes the tenant first; there is no method that reads across tenants. The ports
//! are narrow so that each function asks only for what it uses, matching its IAM grant.

use std::future::Future;

use crate::domain::order::{Order, OrderStatus, PricedOrder};
use crate::domain::product::Product;
use crate::domain::tenant::TenantStatus;
use crate::ids::{OrderId, ProductId, TenantId};
use crate::plans::Limit;

pub mod billing;
pub mod control;
pub(crate) mod control_cursor;
pub mod dynamo;

/// Why a store call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such item in this tenant (whether it exists in another tenant is never said).
    #[error("not found")]
    NotFound,
    /// The item's version is not the one the caller based its change on.
    #[error("the item was changed by someone else")]
    VersionConflict,
    #[error("the SKU is already used by another product")]
    SkuTaken,
    #[error("the plan's limit {} ({max}) is reached", limit.as_str())]
    QuotaExceeded { limit: Limit, max: u64 },
    #[error("cannot move from {from} to {to}")]
    InvalidTransition { from: OrderStatus, to: OrderStatus },
    /// A product changed between pricing an order and placing it.
    #[error("a product changed while the order was being placed")]
    ProductsChanged,
    #[error("the cursor is not valid for this request")]
    InvalidCursor,
    /// The tenant's data is not available yet (a silo table being created, or a migration).
    #[error("the tenant is being provisioned")]
    TenantNotReady,
    /// The tenant is suspended or being deleted.
    #[error("the tenant is not active")]
    TenantInactive,
    /// The caller is no longer a member, or holds less than the token says (see
    /// [`crate::authority`]).
    #[error("the caller's token carries revoked authority")]
    Revoked,
    /// The tenant requires a second factor and the caller signed in without one.
    #[error("the tenant requires multi-factor authentication")]
    MfaRequired,
    /// The e-mail address already belongs to a user (of this tenant when `same_tenant`).
    #[error("the e-mail address is already in use")]
    EmailTaken { same_tenant: bool },
    /// A person's organizations and invitations are at their maximum.
    #[error("too many organizations")]
    TooManyOrganizations,
    /// The invitation was accepted already.
    #[error("the invitation was answered already")]
    AlreadyAnswered,
    /// The invitation can no longer be accepted.
    #[error("the invitation has expired")]
    InvitationExpired,
    /// The member has not accepted their invitation yet.
    #[error("the invitation is still pending")]
    InvitationPending,
    /// The change would leave the tenant without an admin.
    #[error("a tenant must keep at least one admin")]
    LastAdmin,
    /// The tenant's status cannot change this way (e.g. reactivating a deleted tenant).
    #[error("a tenant that is {from} cannot become {to}")]
    InvalidTenantTransition {
        from: TenantStatus,
        to: TenantStatus,
    },
    /// DynamoDB (or credentials for it) failed: what failed, and the SDK's error with its
    /// chain of causes when there is one. For the logs only.
    #[error("storage backend failure: {message}")]
    Backend {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A stored item that does not parse; the message is for logs only.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A backend failure that no SDK error stands behind (an unexpected answer).
    pub fn backend(message: impl Into<String>) -> Self {
        Self::Backend {
            message: message.into(),
            source: None,
        }
    }

    /// A backend failure with what was being done, and the error behind it.
    pub fn caused(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The error and every cause below it, on one line, for the logs.
    pub fn chain(&self) -> String {
        let mut line = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            line.push_str(": ");
            line.push_str(&err.to_string());
            cause = err.source();
        }
        line
    }
}

/// Any SDK failure that is not an expected condition: kept as the source of a
/// [`StoreError::Backend`], logged, never shown to clients.
pub(crate) fn backend<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::caused("the DynamoDB request failed", err)
}

/// One page of a listing and the opaque cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Reading products: what placing an order needs.
pub trait ProductLookup: Send + Sync {
    /// The products among `ids` that exist in `tenant`; ids of other tenants are simply absent.
    fn get_products(
        &self,
        tenant: &TenantId,
        ids: &[ProductId],
    ) -> impl Future<Output = Result<Vec<Product>, StoreError>> + Send;
}

/// The catalogue: everything `products-api` does.
pub trait ProductStore: Send + Sync {
    /// Stores a new product and claims its SKU, atomically, if the tenant has fewer than
    /// `max_products` products. Never overwrites.
    fn create_product(
        &self,
        tenant: &TenantId,
        product: &Product,
        max_products: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_product(
        &self,
        tenant: &TenantId,
        id: &ProductId,
    ) -> impl Future<Output = Result<Product, StoreError>> + Send;

    /// Newest first.
    fn list_products(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<ListPage<Product>, StoreError>> + Send;

    /// Replaces `current` by `replacement` (same id, next version) if the stored version is still
    /// `current.version`, moving the SKU claim when the SKU changes.
    fn replace_product(
        &self,
        tenant: &TenantId,
        current: &Product,
        replacement: &Product,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the product and releases its SKU; with `expected_version`, only at that version.
    fn delete_product(
        &self,
        tenant: &TenantId,
        id: &ProductId,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Orders: everything `orders-api` does besides reading products.
pub trait OrderStore: Send + Sync {
    /// Stores a new order if every product is still at the version it was priced from and the
    /// tenant placed fewer than `max_per_month` orders this month.
    fn place_order(
        &self,
        tenant: &TenantId,
        order: &PricedOrder,
        max_per_month: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get_order(
        &self,
        tenant: &TenantId,
        id: &OrderId,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;

    /// Newest first.
    fn list_orders(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<ListPage<Order>, StoreError>> + Send;

    /// Moves the order to `to` if that move is allowed from its current status (and, with
    /// `expected_version`, only at that version). Returns the updated order.
    fn change_order_status(
        &self,
        tenant: &TenantId,
        id: &OrderId,
        to: OrderStatus,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;
}

/// The collection names cursors are bound to.
pub(crate) const PRODUCTS: &str = "products";
pub(crate) const ORDERS: &str = "orders";
pub(crate) const MEMBERS: &str = "members";

/// Reading a tenant's usage of its plan (for `GET /tenant`).
pub trait UsageReader: Send + Sync {
    /// Products the tenant has, and orders it placed in `year_month` (`YYYY-MM`).
    fn usage(
        &self,
        tenant: &TenantId,
        year_month: &str,
    ) -> impl Future<Output = Result<Usage, StoreError>> + Send;
}

/// Counters of a tenant's usage in the data table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub products: u64,
    pub orders_this_month: u64,
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    /// A backend failure keeps the error behind it: as its source, and in the line the logs get.
    #[test]
    fn a_backend_failure_keeps_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out");
        let err = StoreError::caused("the DynamoDB request failed", io);
        let source = std::error::Error::source(&err).expect("the cause is kept as the source");
        assert_eq!(source.to_string(), "connection timed out");
        assert_eq!(
            err.chain(),
            "storage backend failure: the DynamoDB request failed: connection timed out"
        );
        let plain = StoreError::backend("an unexpected answer");
        assert!(std::error::Error::source(&plain).is_none());
        assert_eq!(
            plain.chain(),
            "storage backend failure: an unexpected answer"
        );
    }
}
