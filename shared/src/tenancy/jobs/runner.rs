//! The work behind [`TenantJob`]s, run by the `tenant-jobs` function. Every job is idempotent:
//! Lambda retries a failed asynchronous invocation, and a job can be dispatched again by hand.

use super::JobQueue;
use super::TenantJob;
use crate::billing::provider::{Cancellation, PaymentProvider, ProviderError};
use crate::billing::reconcile;
use crate::billing::subscription::Standing;
use crate::domain::tenant::TenantStatus;
use crate::identity::{AppClients, DirectoryError, UserDirectory};
use crate::ids::TenantId;
use crate::store::StoreError;
use crate::store::billing::BillingStore;
use crate::store::control::{TenantStateChange, TenantStore};
use crate::tenancy::migration::{Migrator, Outcome};
use crate::tenancy::storage::{RunBudget, Unlimited};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// What a job did, for the logs and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Provisioned {
        table: String,
    },
    /// The tenant no longer waits for a table (deleted or already provisioned): nothing done.
    Skipped,
    Migrated(Outcome),
    Offboarded {
        users: usize,
        items: u64,
        /// The subscription cancelled at the payment provider, if one was live.
        cancelled: Option<String>,
        /// Webhook endpoints and API clients deleted.
        integrations: usize,
    },
    /// The memberships carry the tenant's state again.
    Synced,
}

#[derive(Debug)]
pub struct JobRunner<D, J, P> {
    pub migrator: Migrator,
    /// The user pool: its users, and the app clients of API clients.
    pub directory: D,
    /// Where the next job goes (this function itself): a migration that billing asks for once
    /// the one under way has ended.
    pub jobs: J,
    /// The payment provider: offboarding cancels the subscription.
    pub payments: P,
}

impl<D, J, P> JobRunner<D, J, P>
where
    D: UserDirectory + AppClients,
    J: JobQueue,
    P: PaymentProvider,
{
    pub async fn run(&self, job: &TenantJob) -> Result<JobOutcome, JobError> {
        self.run_within(job, &Unlimited).await
    }

    /// Runs `job` within one run's `budget`. A migration larger than one run stops at a saved
    /// position and dispatches itself again, to go on in the next run (through the same queue,
    /// so with the same retries and dead-letter queue).
    pub async fn run_within(
        &self,
        job: &TenantJob,
        budget: &impl RunBudget,
    ) -> Result<JobOutcome, JobError> {
        if !matches!(job, TenantJob::Offboard { .. }) {
            self.protect_storage(job.tenant_id()).await?;
        }
        match job {
            TenantJob::Provision { tenant_id } => self.provision(tenant_id).await,
            TenantJob::Migrate { tenant_id, to_tier } => {
                let outcome = self
                    .migrator
                    .migrate_within(tenant_id, *to_tier, budget)
                    .await?;
                match outcome {
                    Outcome::Paused => {
                        self.jobs.dispatch(job).await.map_err(|err| {
                            StoreError::backend(format!("dispatching the rest: {err}"))
                        })?;
                        tracing::info!(tenant_id = %tenant_id, "the migration goes on in a new run");
                    }
                    Outcome::Abandoned => {}
                    Outcome::Migrated { .. } | Outcome::TierChanged => {
                        self.reconcile_billing(tenant_id).await?;
                    }
                }
                Ok(JobOutcome::Migrated(outcome))
            }
            TenantJob::Offboard { tenant_id } => self.offboard(tenant_id).await,
            TenantJob::SyncMemberships { tenant_id } => {
                self.migrator.control.sync_memberships(tenant_id).await?;
                Ok(JobOutcome::Synced)
            }
        }
    }

    /// Makes sure the tenant's own table, if it has one, has deletion protection and
    /// point-in-time recovery (a table created before they were set at creation gets them at
    /// its tenant's next job).
    async fn protect_storage(&self, tenant: &TenantId) -> Result<(), JobError> {
        let record = match self.migrator.control.get_tenant(tenant).await {
            Ok(record) => record,
            Err(StoreError::NotFound) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        if let Some(table) = &record.data_table
            && self.migrator.storage.table_exists(table).await?
        {
            self.migrator.storage.protect_silo(table).await?;
        }
        Ok(())
    }

    /// Applies what billing decided while the tenant's data moved (see
    /// [`crate::billing::reconcile`]: a plan changed or a subscription cancelled during the
    /// move waited for its end). A tenant whose account decides no tier is left alone.
    async fn reconcile_billing(&self, tenant: &TenantId) -> Result<(), JobError> {
        let control = &self.migrator.control;
        let account = control.account(tenant).await?;
        if !account.paying() {
            return Ok(());
        }
        let record = control.get_tenant(tenant).await?;
        let reconciled = reconcile::reconcile(control, &self.jobs, &record, &account).await?;
        if reconciled.acted() {
            tracing::info!(tenant_id = %tenant, change = ?reconciled.changed, migrating_to = ?reconciled.migrating_to, "billing applied after the migration");
        }
        Ok(())
    }

    /// Creates a premium tenant's table, then activates the tenant.
    async fn provision(&self, tenant: &TenantId) -> Result<JobOutcome, JobError> {
        let control = &self.migrator.control;
        let record = control.get_tenant(tenant).await?;
        if record.status != TenantStatus::Provisioning || record.data_table.is_some() {
            tracing::info!(tenant_id = %tenant, status = %record.status, "nothing to provision");
            return Ok(JobOutcome::Skipped);
        }
        let table = self.migrator.storage.provision_silo(tenant).await?;
        let activate = TenantStateChange {
            expected_version: Some(record.version),
            expected_status: Some(TenantStatus::Provisioning),
            status: Some(TenantStatus::Active),
            data_table: Some(Some(table.clone())),
            tier: None,
            plan_lowered: None,
            suspended_for: None,
        };
        control.set_tenant_state(tenant, activate).await?;
        tracing::info!(tenant_id = %tenant, table, "tenant provisioned");
        Ok(JobOutcome::Provisioned { table })
    }

    /// Stops the organization's billing and integrations, deletes the users from the pool,
    /// deletes the data (the silo table, and anything in the pooled table) and any migration
    /// record, deletes memberships, member entries and e-mail claims, and marks the tenant
    /// `deleted`.
    async fn offboard(&self, tenant: &TenantId) -> Result<JobOutcome, JobError> {
        let control = &self.migrator.control;
        let storage = &self.migrator.storage;
        let record = control.get_tenant(tenant).await?;
        match record.status {
            TenantStatus::Deleted => return Ok(JobOutcome::Skipped),
            TenantStatus::Deleting => {}
            other => {
                return Err(StoreError::InvalidTenantTransition {
                    from: other,
                    to: TenantStatus::Deleted,
                }
                .into());
            }
        }
        // First, no member can sign in any more: the status reaches every membership.
        let deleting = TenantStateChange {
            status: Some(TenantStatus::Deleting),
            ..TenantStateChange::default()
        };
        control.set_tenant_state(tenant, deleting).await?;
        // It stops paying, and nothing of it is called any more: before its data goes, so that
        // the purge reaches none of its endpoints.
        let cancelled = self.stop_billing(tenant).await?;
        let integrations = self.remove_integrations(tenant).await?;
        // Then each member's membership goes. A person left with no organization goes from the
        // pool too (signed out everywhere, deleted), so their personal data is erased and the
        // address can sign up or be invited again; a person who belongs elsewhere keeps their
        // account and sessions. Idempotent: member entries go last, so a re-run finds every
        // member whose account deletion a crash interrupted.
        let users = control.member_ids(tenant).await?;
        for user in &users {
            if !control.detach_member(tenant, user).await? {
                continue;
            }
            match self.directory.sign_out_everywhere(user).await {
                Ok(()) | Err(DirectoryError::NotFound) => {}
                Err(err) => {
                    tracing::warn!(tenant_id = %tenant, user_id = %user, error = %err, "global sign-out failed (the user is deleted next)");
                }
            }
            match self.directory.delete_user(user).await {
                Ok(()) | Err(DirectoryError::NotFound) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let mut items = storage.purge_tenant(tenant, storage.pooled_table()).await?;
        let silo = storage.silo_table(tenant);
        if storage.table_exists(&silo).await? {
            items += storage.count_items(tenant, &silo).await?;
            storage.delete_silo(&silo).await?;
        }
        // A migration that was under way is over: its record goes too (a migration job still
        // running finds the tenant no longer provisioning and removes what it copied).
        self.migrator.finish(tenant).await?;
        control.purge_members(tenant).await?;
        let deleted = TenantStateChange {
            status: Some(TenantStatus::Deleted),
            data_table: Some(None),
            ..TenantStateChange::default()
        };
        control.set_tenant_state(tenant, deleted).await?;
        tracing::info!(tenant_id = %tenant, users = users.len(), items, cancelled = ?cancelled, integrations, "tenant offboarded");
        Ok(JobOutcome::Offboarded {
            users: users.len(),
            items,
            cancelled,
            integrations,
        })
    }

    /// Expires the customer's open checkout pages (none can start a subscription any more) and
    /// cancels the live subscription at once. Idempotent: a re-run finds it cancelled.
    async fn stop_billing(&self, tenant: &TenantId) -> Result<Option<String>, JobError> {
        let account = self.migrator.control.account(tenant).await?;
        if let Some(customer) = &account.customer {
            self.payments.expire_checkouts(customer).await?;
        }
        let Some(live) = account
            .billing
            .subscription
            .as_ref()
            .filter(|subscription| subscription.standing != Standing::Ended)
        else {
            return Ok(None);
        };
        self.payments
            .cancel_subscription(&live.id, Cancellation::Offboarding)
            .await?;
        tracing::info!(tenant_id = %tenant, subscription = %live.id, "subscription cancelled");
        Ok(Some(live.id.clone()))
    }

    /// Deletes the webhook endpoints (their pending deliveries with them) and the API clients
    /// (their app clients first, so a re-run still finds what a crash left). Returns how many.
    async fn remove_integrations(&self, tenant: &TenantId) -> Result<usize, JobError> {
        let control = &self.migrator.control;
        let mut removed = 0;
        for webhook in control.webhooks(tenant).await? {
            removed += usize::from(control.delete_webhook(tenant, &webhook.id).await?);
        }
        for client in control.api_clients(tenant).await? {
            self.directory.delete_app_client(&client.client_id).await?;
            removed += usize::from(
                control
                    .delete_api_client(tenant, &client.client_id)
                    .await?
                    .is_some(),
            );
        }
        Ok(removed)
    }
}
