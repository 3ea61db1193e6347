//! The work behind [`TenantJob`]s, run by the `tenant-jobs` function. Every job is idempotent:
//! Lambda retries a failed asynchronous invocation, and a job can be dispatched again by hand.

use super::migration::{Migrator, Outcome};
use crate::domain::tenant::TenantStatus;
use crate::identity::{DirectoryError, UserDirectory};
use crate::ids::TenantId;
use crate::jobs::TenantJob;
use crate::store::StoreError;
use crate::store::control::{TenantStateChange, TenantStore};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
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
    },
    /// The memberships carry the tenant's state again.
    Synced,
}

#[derive(Debug)]
pub struct JobRunner<D> {
    pub migrator: Migrator,
    pub directory: D,
}

impl<D: UserDirectory> JobRunner<D> {
    pub async fn run(&self, job: &TenantJob) -> Result<JobOutcome, JobError> {
        match job {
            TenantJob::Provision { tenant_id } => self.provision(tenant_id).await,
            TenantJob::Migrate { tenant_id, to_tier } => Ok(JobOutcome::Migrated(
                self.migrator.migrate(tenant_id, *to_tier).await?,
            )),
            TenantJob::Offboard { tenant_id } => self.offboard(tenant_id).await,
            TenantJob::SyncMemberships { tenant_id } => {
                self.migrator.control.sync_memberships(tenant_id).await?;
                Ok(JobOutcome::Synced)
            }
        }
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
        };
        control.set_tenant_state(tenant, activate).await?;
        tracing::info!(tenant_id = %tenant, table, "tenant provisioned");
        Ok(JobOutcome::Provisioned { table })
    }

    /// Deletes the users from the pool, deletes the data (the silo table, and anything in the
    /// pooled table) and any migration record, deletes memberships, member entries and e-mail
    /// claims, and marks the tenant `deleted`.
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
        tracing::info!(tenant_id = %tenant, users = users.len(), items, "tenant offboarded");
        Ok(JobOutcome::Offboarded {
            users: users.len(),
            items,
        })
    }
}
