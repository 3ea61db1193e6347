//! `billing-sweep`: suspends the tenants whose grace period ran out with no word from the
//! payment provider.
//!
//! A failed payment starts a grace period; the provider's next event after its end suspends the
//! tenant, but the provider may send none for days. So a schedule (EventBridge, hourly) runs this
//! sweep: it lists the accounts still awaiting suspension whose first failure is older than the
//! grace period (a sparse index of the control table, so the sweep reads only them), and for
//! each one records the suspension on the account, suspends the tenant (never one a platform
//! operator reactivated or is migrating: see `http_handler::reconcile`) and tells the customer.
//!
//! Each run then sends the e-mails held in the outbox (any function's, see
//! `shared::mail::Deferring`): those the mail service refused earlier.
//!
//! The account is saved first, conditioned on its version: a payment recorded meanwhile wins, and
//! the sweep re-reads. Should the function stop between the save and the suspension, the
//! provider's next event (it retries a failed payment for days) finds the account suspended and
//! brings the tenant in line.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

use shared::billing::subscription;
use shared::domain::email::EmailAddress;
use shared::ids::TenantId;
use shared::jobs::JobQueue;
use shared::mail::{self, Deferring, Delivered, Language, Mailer, Outbox, deliver_held};
use shared::store::StoreError;
use shared::store::billing::BillingStore;
use shared::store::control::TenantStore;
use shared::tenancy::access::Clock;

use crate::http_handler::{BillingConfig, live_tenant, reconcile, send_all, unix};

/// The most accounts one run handles (the next run takes the rest).
pub const BATCH: usize = 500;

#[derive(Debug)]
pub struct SweepDeps<C, J, M> {
    pub control: C,
    pub jobs: J,
    pub mailer: M,
    pub config: BillingConfig,
    pub clock: Arc<dyn Clock>,
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Accounts whose grace period had run out.
    pub due: usize,
    /// Tenants suspended by this run.
    pub suspended: usize,
    /// Accounts that could not be handled (logged; the next run tries again).
    pub failed: usize,
    /// Held e-mails sent, and still refused.
    pub mail: Delivered,
}

/// The scheduled event's handler: its content is not read (any invocation sweeps).
pub async fn function_handler<C, J, M>(
    deps: &SweepDeps<C, J, M>,
    _event: LambdaEvent<Value>,
) -> Result<Swept, Error>
where
    C: TenantStore + BillingStore + Outbox,
    J: JobQueue,
    M: Mailer,
{
    let swept = sweep(deps).await?;
    tracing::info!(
        due = swept.due,
        suspended = swept.suspended,
        failed = swept.failed,
        mail_sent = swept.mail.sent,
        mail_kept = swept.mail.kept,
        "billing sweep done"
    );
    Ok(swept)
}

pub async fn sweep<C, J, M>(deps: &SweepDeps<C, J, M>) -> Result<Swept, StoreError>
where
    C: TenantStore + BillingStore + Outbox,
    J: JobQueue,
    M: Mailer,
{
    let now = unix(deps.clock.now());
    let failed_by = now.saturating_sub(deps.config.grace.as_secs() as i64);
    let due = deps.control.grace_expired(failed_by, BATCH).await?;
    let mut swept = Swept {
        due: due.len(),
        ..Swept::default()
    };
    for tenant in due {
        match suspend(deps, &tenant, now).await {
            Ok(true) => swept.suspended += 1,
            Ok(false) => {}
            Err(err) => {
                swept.failed += 1;
                tracing::error!(tenant_id = %tenant, error = %err, "the grace period's end could not be applied");
            }
        }
    }
    swept.mail = deliver_held(&deps.mailer, &deps.control, BATCH).await?;
    Ok(swept)
}

/// Records the end of `tenant`'s grace period and suspends it. Returns whether it suspended.
async fn suspend<C, J, M>(
    deps: &SweepDeps<C, J, M>,
    tenant: &TenantId,
    now: i64,
) -> Result<bool, StoreError>
where
    C: TenantStore + BillingStore + Outbox,
    J: JobQueue,
    M: Mailer,
{
    for _ in 0..3 {
        let before = deps.control.account(tenant).await?;
        let mut after = before.clone();
        after.suspended_for_payment =
            subscription::grace_deadline(before.billing.subscription.as_ref(), deps.config.grace)
                .is_some_and(|deadline| now >= deadline);
        if after == before {
            // Paid, or suspended, meanwhile.
            return Ok(false);
        }
        match deps.control.save_account(tenant, &after, None).await {
            Ok(_) => {}
            Err(StoreError::VersionConflict) => continue,
            Err(err) => return Err(err),
        }
        let Some(record) = live_tenant(&deps.control, tenant).await? else {
            return Ok(false);
        };
        let suspended = reconcile(&deps.control, &deps.jobs, &record, &before, &after).await?;
        if suspended
            && let Some(to) = after
                .email
                .as_deref()
                .and_then(|raw| EmailAddress::parse(raw).ok())
        {
            let notice = mail::suspended(
                &to,
                record.name.as_str(),
                &deps.config.billing_page(),
                Language::of(record.settings.locale.as_deref()),
            );
            let mailer = Deferring {
                mailer: &deps.mailer,
                outbox: &deps.control,
            };
            send_all(&mailer, tenant, &[notice]).await;
        }
        return Ok(suspended);
    }
    Err(StoreError::VersionConflict)
}
