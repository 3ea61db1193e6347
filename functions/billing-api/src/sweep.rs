//! `billing-sweep`: brings every paying tenant in line with its subscription, hourly, whether
//! or not the payment provider says anything.
//!
//! A failed payment starts a grace period; the provider's next event after its end suspends the
//! tenant, but the provider may send none for days. So a schedule (EventBridge, hourly) runs this
//! sweep. It reads two lists of a sparse index of the control table (so it reads only billing
//! accounts, never the tenants at large):
//! - the accounts awaiting suspension whose first failure is older than the grace period: each
//!   has the end of its grace period recorded, and its tenant is suspended (see
//!   `shared::billing::reconcile`) and told;
//! - every account whose subscription decides its tenant's tier (live, or ended and not yet seen
//!   applied): its tenant is brought to the tier it pays for, suspended or reactivated as its
//!   standing says. What that changes is a repair of something an event could not apply (a
//!   migration was under way, a function stopped between two writes): each one is logged.
//!
//! Each run then sends the e-mails held in the outbox (any function's, see
//! `shared::mail::Deferring`): those the mail service refused earlier.
//!
//! The tenant is brought in line first and the account saved last, conditioned on its version:
//! a payment recorded meanwhile wins (the sweep re-reads and brings the tenant in line with it),
//! and should the function stop in between, the next run finds the account as it was and does
//! it again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

use shared::billing::reconcile;
use shared::domain::email::EmailAddress;
use shared::ids::TenantId;
use shared::mail::{self, Deferring, Delivered, Language, Mailer, Outbox, deliver_held};
use shared::store::StoreError;
use shared::store::billing::BillingStore;
use shared::store::control::TenantStore;
use shared::tenancy::access::Clock;
use shared::tenancy::jobs::JobQueue;

use crate::http_handler::{BillingConfig, live_tenant, newly_suspended, send_all, unix};

/// The most accounts awaiting suspension one run handles (the next run takes the rest).
pub const BATCH: usize = 500;

/// How many paying accounts one query reads.
const PAGE: usize = 200;

/// When a run stops reading paying accounts (the function's timeout is longer): the next run
/// starts again from the first.
const BUDGET: Duration = Duration::from_secs(240);

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
    /// Paying accounts checked against their tenant.
    pub checked: usize,
    /// Tenants this run changed because they were not where their subscription says (logged).
    pub repaired: usize,
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
        checked = swept.checked,
        repaired = swept.repaired,
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
    let started = Instant::now();
    let now = unix(deps.clock.now());
    let failed_by = now.saturating_sub(deps.config.grace.as_secs() as i64);
    let due = deps.control.grace_expired(failed_by, BATCH).await?;
    let mut swept = Swept {
        due: due.len(),
        ..Swept::default()
    };
    for tenant in due {
        match bring_in_line(deps, &tenant, now).await {
            Ok(brought) => swept.suspended += usize::from(brought.suspended),
            Err(err) => {
                swept.failed += 1;
                tracing::error!(tenant_id = %tenant, error = %err, "the grace period's end could not be applied");
            }
        }
    }
    let mut after = None;
    loop {
        let page = deps.control.billed_tenants(after.as_deref(), PAGE).await?;
        for tenant in &page.items {
            swept.checked += 1;
            match bring_in_line(deps, tenant, now).await {
                Ok(brought) => {
                    swept.suspended += usize::from(brought.suspended);
                    if let Some(repair) = brought.repair {
                        swept.repaired += 1;
                        tracing::warn!(tenant_id = %tenant, repair = %repair, "billing drift repaired");
                    }
                }
                Err(err) => {
                    swept.failed += 1;
                    tracing::error!(tenant_id = %tenant, error = %err, "a paying tenant could not be checked");
                }
            }
        }
        after = page.next_cursor;
        if after.is_none() {
            break;
        }
        if started.elapsed() > BUDGET {
            tracing::warn!(
                checked = swept.checked,
                "the sweep's time ran out before every paying account was checked"
            );
            break;
        }
    }
    swept.mail = deliver_held(&deps.mailer, &deps.control, BATCH).await?;
    Ok(swept)
}

/// What [`bring_in_line`] did to one tenant.
#[derive(Debug, Default)]
struct Brought {
    /// Suspended for non-payment.
    suspended: bool,
    /// What was changed, when it was not only the end of a grace period.
    repair: Option<String>,
}

/// Brings `tenant` in line with its account at `now`, then records on the account what was
/// applied (see the module's documentation for the order).
async fn bring_in_line<C, J, M>(
    deps: &SweepDeps<C, J, M>,
    tenant: &TenantId,
    now: i64,
) -> Result<Brought, StoreError>
where
    C: TenantStore + BillingStore + Outbox,
    J: JobQueue,
    M: Mailer,
{
    for _ in 0..3 {
        let before = deps.control.account(tenant).await?;
        let mut after = before.clone();
        after.review_grace(now, deps.config.grace);
        let Some(record) = live_tenant(&deps.control, tenant).await? else {
            return Ok(Brought::default());
        };
        let reconciled =
            match reconcile::reconcile(&deps.control, &deps.jobs, &record, &after).await {
                Ok(reconciled) => reconciled,
                Err(StoreError::VersionConflict) => continue,
                Err(err) => return Err(err),
            };
        reconcile::note(&mut after, &record, &reconciled);
        if after != before {
            match deps.control.save_account(tenant, &after, None).await {
                Ok(_) => {}
                Err(StoreError::VersionConflict) => continue,
                Err(err) => return Err(err),
            }
        }
        let suspended = newly_suspended(&before, &after);
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
        // The end of a grace period is the sweep's own work; anything else it changes is a
        // repair of something an event could not apply.
        let grace_ended = after.suspended_for_payment && !before.suspended_for_payment;
        let repair = (reconciled.acted() && !grace_ended).then(|| {
            let change = reconciled.changed.as_ref();
            format!(
                "tier {:?}, status {:?}, migration to {:?}",
                change.and_then(|c| c.tier),
                change.and_then(|c| c.status),
                reconciled.migrating_to
            )
        });
        return Ok(Brought { suspended, repair });
    }
    Err(StoreError::VersionConflict)
}
