//! Bringing a tenant in line with its account at the payment provider: the tier it pays for, and
//! a suspension for non-payment applied or lifted.
//!
//! Called from three places, so that nothing the provider said is lost whatever fails between
//! two writes: the webhook (before it records the event, so that a failure here makes the
//! provider send the event again), the hourly sweep (for every paying tenant, so a drift is
//! repaired even when the provider sends nothing more), and the end of a storage migration
//! (which is when a change that arrived during the move can be applied).
//!
//! The rules:
//! - **The tier follows the subscription** while the account has one (live or ended): the tier
//!   it entitles to. A tenant that never subscribed keeps the tier an operator gave it.
//! - **A suspension for non-payment is applied once**: from when the account's grace period
//!   runs out until the account records it applied ([`note`]), so an operator who reactivates
//!   such a tenant is not overruled by the next event, and a suspension that could not be made
//!   (a crash, a migration under way) is made by the next call.
//! - **It is lifted whenever** the tenant is suspended *for payment* and the account is in good
//!   standing: a lift that failed once is made by the next call. A suspension made by an
//!   operator is never lifted here, even one made while a payment suspension stood.
//! - **A tenant whose storage is busy** (provisioning, or a migration under way) is left to the
//!   migration: moving it again or changing its status now would fight the job.

use super::Account;
use super::subscription;
use crate::domain::Tier;
use crate::domain::tenant::{SuspensionCause, Tenant, TenantStatus};
use crate::store::StoreError;
use crate::store::control::{TenantStateChange, TenantStore};
use crate::tenancy::jobs::{JobQueue, TenantJob};

/// What [`reconcile`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// The tenant's storage was busy: nothing was changed (the migration's end reconciles).
    pub deferred: bool,
    /// The change written to the tenant record, if any.
    pub changed: Option<TenantStateChange>,
    /// A storage migration to this tier was dispatched.
    pub migrating_to: Option<Tier>,
    /// The tenant is on the tier its account entitles it to (or its account decides none).
    pub in_line: bool,
}

impl Reconciled {
    /// Whether this call suspended the tenant for non-payment.
    pub fn suspended(&self) -> bool {
        self.changed
            .as_ref()
            .is_some_and(|change| change.status == Some(TenantStatus::Suspended))
    }

    /// Whether anything was changed or dispatched.
    pub fn acted(&self) -> bool {
        self.changed.is_some() || self.migrating_to.is_some()
    }
}

/// The tier `account` entitles its tenant to, when the account decides one (it has a
/// subscription, live or ended).
pub fn entitled(account: &Account) -> Option<Tier> {
    account
        .billing
        .subscription
        .as_ref()
        .map(|subscription| subscription::entitled_tier(Some(subscription)))
}

/// Brings `tenant` in line with `account`, as it is (or is about to be) recorded.
pub async fn reconcile<C, J>(
    control: &C,
    jobs: &J,
    tenant: &Tenant,
    account: &Account,
) -> Result<Reconciled, StoreError>
where
    C: TenantStore,
    J: JobQueue,
{
    let id = tenant.id;
    if matches!(
        tenant.status,
        TenantStatus::Deleting | TenantStatus::Deleted
    ) {
        return Ok(Reconciled {
            in_line: true,
            ..Reconciled::default()
        });
    }
    if tenant.status == TenantStatus::Provisioning || control.migration(&id).await?.is_some() {
        tracing::info!(tenant_id = %id, "storage busy: billing is applied when the migration ends");
        return Ok(Reconciled {
            deferred: true,
            ..Reconciled::default()
        });
    }
    let mut change = TenantStateChange {
        expected_status: Some(tenant.status),
        ..TenantStateChange::default()
    };
    if account.suspended_for_payment
        && !account.suspension_applied
        && tenant.status == TenantStatus::Active
    {
        change.status = Some(TenantStatus::Suspended);
        change.suspended_for = Some(SuspensionCause::Payment);
    }
    let held_for_payment = tenant.status == TenantStatus::Suspended
        && tenant.suspended_for == Some(SuspensionCause::Payment);
    if held_for_payment && !account.suspended_for_payment {
        change.status = Some(TenantStatus::Active);
    }
    let entitled = entitled(account);
    let mut moves_to = None;
    if let Some(entitled) = entitled.filter(|entitled| *entitled != tenant.tier) {
        change.plan_lowered = crate::plans::lowering(tenant.tier, entitled);
        if entitled.is_silo() == tenant.tier.is_silo() {
            change.tier = Some(entitled);
        } else {
            moves_to = Some(entitled);
        }
    }
    let writes = change.status.is_some() || change.tier.is_some() || change.plan_lowered.is_some();
    if writes {
        control.set_tenant_state(&id, change.clone()).await?;
        tracing::info!(tenant_id = %id, tier = ?change.tier, status = ?change.status, "tenant brought in line with its billing");
    }
    let status = change.status.unwrap_or(tenant.status);
    // A move between pooled and own-table storage is the migration job's, which moves an active
    // tenant's data (so it is dispatched once the status above is written). A suspended
    // tenant's storage stays: the call that lifts the suspension moves it.
    let mut migrating_to = None;
    if let Some(to_tier) = moves_to {
        if status == TenantStatus::Active {
            jobs.dispatch(&TenantJob::Migrate {
                tenant_id: id,
                to_tier,
            })
            .await
            .map_err(|err| StoreError::backend(format!("dispatching the migration: {err}")))?;
            tracing::info!(tenant_id = %id, to_tier = %to_tier, "plan changed: storage migration dispatched");
            migrating_to = Some(to_tier);
        } else {
            tracing::info!(tenant_id = %id, to_tier = %to_tier, "suspended: the storage moves once it is active");
        }
    }
    Ok(Reconciled {
        deferred: false,
        in_line: moves_to.is_none(),
        changed: writes.then_some(change),
        migrating_to,
    })
}

/// Notes on `account` (about to be saved) what [`reconcile`] applied to `tenant`, so that it is
/// not applied again: the suspension for non-payment, and the end of a subscription.
pub fn note(account: &mut Account, tenant: &Tenant, reconciled: &Reconciled) {
    if reconciled.deferred {
        return;
    }
    let status = reconciled
        .changed
        .as_ref()
        .and_then(|change| change.status)
        .unwrap_or(tenant.status);
    account.suspension_applied = account.suspended_for_payment
        && (account.suspension_applied || status == TenantStatus::Suspended);
    if let Some(ended) = account
        .billing
        .subscription
        .as_ref()
        .filter(|s| s.standing == subscription::Standing::Ended)
        && reconciled.in_line
    {
        account.settled_end = Some(ended.id.clone());
    }
}
