//! The port of a tenant's account with the payment provider, in the control table.

use std::future::Future;
use std::time::Duration;

use super::{ListPage, StoreError};
use crate::billing::Account;
use crate::ids::TenantId;

/// How long a handled webhook event is remembered (the provider retries for 3 days).
pub const EVENT_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What [`BillingStore::save_account`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Saved,
    /// The event was handled before: nothing was written.
    Duplicate,
}

/// Everything billing keeps in DynamoDB.
pub trait BillingStore: Send + Sync {
    /// The tenant's account; a default one (version 0) if nothing was recorded yet.
    fn account(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Account, StoreError>> + Send;

    /// Records `customer` as the tenant's customer at the provider, unless it has one already:
    /// returns the tenant's customer (so concurrent requests agree on one).
    fn attach_customer(
        &self,
        tenant: &TenantId,
        customer: &str,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// The tenant a customer of the provider belongs to.
    fn tenant_of_customer(
        &self,
        customer: &str,
    ) -> impl Future<Output = Result<Option<TenantId>, StoreError>> + Send;

    /// Whether the event was handled already.
    fn event_seen(&self, event: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Writes `account` (not its customer) if the stored account is still at `account.version`
    /// ([`StoreError::VersionConflict`] otherwise), together with `event`'s idempotency record
    /// when there is one, atomically: an event handled before writes nothing
    /// ([`Saved::Duplicate`]). An account [`Account::awaiting_suspension`] is listed by
    /// [`BillingStore::grace_expired`] until it is suspended or paid; one that is
    /// [`Account::paying`], by [`BillingStore::billed_tenants`].
    fn save_account(
        &self,
        tenant: &TenantId,
        account: &Account,
        event: Option<&str>,
    ) -> impl Future<Output = Result<Saved, StoreError>> + Send;

    /// The tenants awaiting suspension whose payment failed first at or before `failed_by`
    /// (unix seconds), oldest first, at most `limit`.
    fn grace_expired(
        &self,
        failed_by: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TenantId>, StoreError>> + Send;

    /// Every tenant whose account the sweep brings in line (awaiting suspension, or
    /// [`Account::paying`]), a page of at most `limit` after `after` (the previous page's
    /// `next_cursor`: an opaque position, for the sweep only).
    fn billed_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<ListPage<TenantId>, StoreError>> + Send;
}
