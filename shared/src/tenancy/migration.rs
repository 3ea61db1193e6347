//! Moving a tenant between pooled and silo storage without losing a write, resumable after a
//! crash.
//!
//! The migration is a small state machine whose state is an item in the control table
//! (`MIGRATION#<tenant>`), so a job that dies at any point is simply run again and continues:
//!
//! 1. **draining**: the tenant is set to `provisioning`, so the data APIs answer `503` with
//!    `Retry-After` (writes are refused, never lost). The job then waits longer than the data
//!    APIs cache a tenant's record, so no instance still writes to the old table, and creates
//!    the target table if it is a silo.
//! 2. **copying**: every item is copied (idempotent overwrites), then source and target are
//!    compared item by item (same keys, same versions). Only then is the tenant switched to the
//!    new table and tier, and made `active` again.
//! 3. **switched**: the old copy is purged (pooled items deleted, or the silo table deleted) and
//!    the migration record removed.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::storage::{
    CopyCheckpoints, CopyPosition, Progress, RunBudget, TenantStorage, Unlimited, VerifyPosition,
};
use crate::domain::Tier;
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::ids::TenantId;
use crate::keys;
use crate::store::StoreError;
use crate::store::control::{TenantStateChange, TenantStore};
use crate::store::dynamo::{DynamoControl, Item, condition_failed};

/// How long a data API request may run (the `Timeout` of template.yaml's `Globals`).
pub const DATA_API_TIMEOUT: Duration = Duration::from_secs(10);

/// The shortest drain a migration may use: a write that read the tenant record just before the
/// freeze may go on for the record's cache lifetime plus a request's timeout.
pub const MIN_DRAIN: Duration =
    Duration::from_secs(super::access::RECORD_TTL.as_secs() + DATA_API_TIMEOUT.as_secs());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Draining,
    Copying,
    Switched,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Self::Draining => "draining",
            Self::Copying => "copying",
            Self::Switched => "switched",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::Draining, Self::Copying, Self::Switched]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }
}

/// Where a migration goes, and how far it got (the migration record).
#[derive(Debug, Clone)]
pub struct Plan {
    to_tier: Tier,
    from_table: String,
    to_table: String,
    phase: Phase,
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The data moved; `items` were copied and verified.
    Migrated { items: u64 },
    /// The tenant left `provisioning` during the migration (it is being offboarded): whatever was
    /// copied to the new storage was removed, the migration record too, and the tenant stays
    /// where it was.
    Abandoned,
    /// The new tier uses the same storage: only the tier changed.
    TierChanged,
    /// The run's budget was spent: the migration stopped at a saved position, and the next run
    /// goes on from it.
    Paused,
}

/// Runs migrations with the jobs function's own credentials.
#[derive(Debug, Clone)]
pub struct Migrator {
    pub storage: TenantStorage,
    pub control: DynamoControl,
    client: Client,
    control_table: String,
    drain: Duration,
}

use crate::store::backend;

impl Migrator {
    /// `drain` must exceed how long the data APIs cache a tenant's record.
    pub fn new(
        storage: TenantStorage,
        client: Client,
        control_table: String,
        drain: Duration,
    ) -> Self {
        Self {
            storage,
            control: DynamoControl::new(client.clone(), control_table.clone()),
            client,
            control_table,
            drain,
        }
    }

    async fn load(&self, tenant: &TenantId) -> Result<Option<Plan>, StoreError> {
        self.control
            .get(&keys::migration(tenant))
            .await?
            .map(|item| {
                Ok(Plan {
                    to_tier: item.parse_s("to_tier", |raw| Tier::parse(raw).ok_or(()))?,
                    from_table: item.get_s("from_table")?.to_owned(),
                    to_table: item.get_s("to_table")?.to_owned(),
                    phase: item.parse_s("phase", |raw| Phase::parse(raw).ok_or(()))?,
                })
            })
            .transpose()
    }

    /// Records a new plan; if one exists already (a concurrent start), that one wins.
    async fn create(&self, tenant: &TenantId, plan: &Plan) -> Result<Plan, StoreError> {
        let item = Item::new(&keys::migration(tenant))
            .s("entity", "migration")
            .s("tenant_id", tenant.to_string())
            .s("to_tier", plan.to_tier.as_str())
            .s("from_table", plan.from_table.as_str())
            .s("to_table", plan.to_table.as_str())
            .s("phase", plan.phase.as_str());
        let result = self
            .client
            .put_item()
            .table_name(&self.control_table)
            .set_item(Some(item.into_map()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(plan.clone()),
            Err(err) if condition_failed(&err) => self
                .load(tenant)
                .await?
                .ok_or_else(|| StoreError::backend("migration record vanished")),
            Err(err) => Err(backend(err)),
        }
    }

    /// Records the next phase. `false` when the migration record is gone (offboarding removed
    /// it): the migration must stop.
    async fn advance(&self, tenant: &TenantId, phase: Phase) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.control_table)
            .set_key(Some(Item::new(&keys::migration(tenant)).into_map()))
            .update_expression("SET phase = :phase")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":phase", AttributeValue::S(phase.as_str().to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => {
                tracing::info!(tenant_id = %tenant, phase = phase.as_str(), "migration phase");
                Ok(true)
            }
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(backend(err)),
        }
    }

    /// Whether the tenant is still frozen for this migration (`provisioning`). Anything else
    /// means offboarding began meanwhile (operators cannot change a provisioning tenant).
    async fn still_frozen(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        Ok(self.control.get_tenant(tenant).await?.status == TenantStatus::Provisioning)
    }

    /// Whether the tenant record already points at the migration's target (a run that crashed
    /// between the switch and recording it).
    fn already_switched(&self, record: &Tenant, plan: &Plan) -> bool {
        let table = record
            .data_table
            .as_deref()
            .unwrap_or(self.storage.pooled_table());
        record.tier == plan.to_tier && table == plan.to_table
    }

    /// Stops a migration whose tenant left `provisioning` before the switch: removes what was
    /// copied to the target (the tenant's data still lives in the source) and the migration
    /// record. Offboarding removes both sides anyway; this makes sure a migration that runs
    /// alongside it leaves nothing behind, whichever finishes first.
    async fn abandon(&self, tenant: &TenantId, plan: &Plan) -> Result<Outcome, StoreError> {
        // Another run of the same migration (a job delivered twice, or dispatched again) may
        // have switched the tenant to the target meanwhile: then the target is the tenant's live
        // storage, and only the source may go.
        let record = self.control.get_tenant(tenant).await?;
        if self.already_switched(&record, plan) {
            tracing::info!(tenant_id = %tenant, "another run switched the tenant: the migration is finished, not abandoned");
            self.advance(tenant, Phase::Switched).await?;
            self.purge_source(tenant, plan).await?;
            self.finish(tenant).await?;
            return Ok(Outcome::Migrated { items: 0 });
        }
        if plan.to_table == self.storage.pooled_table() {
            self.storage.purge_tenant(tenant, &plan.to_table).await?;
        } else {
            self.storage.delete_silo(&plan.to_table).await?;
        }
        self.finish(tenant).await?;
        tracing::warn!(tenant_id = %tenant, "migration abandoned: the tenant left provisioning");
        Ok(Outcome::Abandoned)
    }

    /// Removes the copy the tenant left (pooled items, or its former table).
    async fn purge_source(&self, tenant: &TenantId, plan: &Plan) -> Result<(), StoreError> {
        self.purge_source_within(tenant, plan, &Unlimited).await?;
        Ok(())
    }

    /// [`Migrator::purge_source`], stopping after a page of the pooled items once `budget` is
    /// spent.
    async fn purge_source_within(
        &self,
        tenant: &TenantId,
        plan: &Plan,
        budget: &impl RunBudget,
    ) -> Result<Progress<()>, StoreError> {
        if plan.from_table == self.storage.pooled_table() {
            if self
                .storage
                .purge_tenant_within(tenant, &plan.from_table, budget)
                .await?
                == Progress::Paused
            {
                return Ok(Progress::Paused);
            }
        } else {
            self.storage.delete_silo(&plan.from_table).await?;
        }
        Ok(Progress::Done(()))
    }

    /// Deletes the migration record (idempotent).
    pub async fn finish(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.control_table)
            .set_key(Some(Item::new(&keys::migration(tenant)).into_map()))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Where the copy of `tenant`'s migration keeps its position: the migration record.
    pub fn checkpoints<'a>(&'a self, tenant: &'a TenantId) -> RecordCheckpoints<'a> {
        RecordCheckpoints {
            migrator: self,
            tenant,
        }
    }

    /// Starts a migration of the tenant `record` describes (as it was read) to the storage of
    /// `to_tier`: records the plan, then freezes the tenant (`provisioning`).
    pub async fn begin(&self, record: &Tenant, to_tier: Tier) -> Result<Plan, StoreError> {
        let tenant = &record.id;
        if record.status != TenantStatus::Active {
            return Err(StoreError::InvalidTenantTransition {
                from: record.status,
                to: TenantStatus::Provisioning,
            });
        }
        let from_table = record
            .data_table
            .clone()
            .unwrap_or_else(|| self.storage.pooled_table().to_owned());
        let to_table = if to_tier.is_silo() {
            self.storage.silo_table(tenant)
        } else {
            self.storage.pooled_table().to_owned()
        };
        let plan = self
            .create(
                tenant,
                &Plan {
                    to_tier,
                    from_table,
                    to_table,
                    phase: Phase::Draining,
                },
            )
            .await?;
        // Frozen from the status that was read, and nothing else: a suspension (or an
        // offboarding) that landed since is never overwritten; the migration then does not start.
        let freeze = TenantStateChange {
            status: Some(TenantStatus::Provisioning),
            expected_status: Some(record.status),
            ..TenantStateChange::default()
        };
        match self.control.set_tenant_state(tenant, freeze).await {
            Ok(_) => {}
            Err(StoreError::VersionConflict) => {
                let now = self.control.get_tenant(tenant).await?;
                if now.status != TenantStatus::Provisioning {
                    self.finish(tenant).await?;
                    tracing::warn!(tenant_id = %tenant, status = %now.status, "migration not started: the tenant changed status since it was read");
                    return Err(StoreError::InvalidTenantTransition {
                        from: now.status,
                        to: TenantStatus::Provisioning,
                    });
                }
                // Frozen by a concurrent start of this same migration (its plan was kept).
            }
            Err(err) => return Err(err),
        }
        tracing::info!(tenant_id = %tenant, from = plan.from_table, to = plan.to_table, "migration started");
        Ok(plan)
    }

    /// Moves `tenant` to the storage of `to_tier`, or resumes the migration already under way
    /// (its copy from the last page it finished).
    pub async fn migrate(&self, tenant: &TenantId, to_tier: Tier) -> Result<Outcome, StoreError> {
        self.migrate_with(tenant, to_tier, &self.checkpoints(tenant), &Unlimited)
            .await
    }

    /// [`Migrator::migrate`] within one run's `budget`: a migration too large for it stops at a
    /// saved position ([`Outcome::Paused`]) for the next run to go on.
    pub async fn migrate_within(
        &self,
        tenant: &TenantId,
        to_tier: Tier,
        budget: &impl RunBudget,
    ) -> Result<Outcome, StoreError> {
        self.migrate_with(tenant, to_tier, &self.checkpoints(tenant), budget)
            .await
    }

    /// [`Migrator::migrate_within`], with the copy's and the verification's positions kept by
    /// `checkpoints`.
    pub async fn migrate_with(
        &self,
        tenant: &TenantId,
        to_tier: Tier,
        checkpoints: &impl CopyCheckpoints,
        budget: &impl RunBudget,
    ) -> Result<Outcome, StoreError> {
        let mut plan = match self.load(tenant).await? {
            Some(plan) => plan,
            None => {
                let record = self.control.get_tenant(tenant).await?;
                if record.tier.is_silo() == to_tier.is_silo() {
                    let change = TenantStateChange {
                        tier: Some(to_tier),
                        ..TenantStateChange::default()
                    };
                    self.control.set_tenant_state(tenant, change).await?;
                    return Ok(Outcome::TierChanged);
                }
                self.begin(&record, to_tier).await?
            }
        };
        let mut items = 0;
        loop {
            match plan.phase {
                Phase::Draining => {
                    tokio::time::sleep(self.drain).await;
                    if !self.still_frozen(tenant).await? {
                        return self.abandon(tenant, &plan).await;
                    }
                    if plan.to_table != self.storage.pooled_table() {
                        self.storage.provision_silo(tenant).await?;
                    }
                    // Checked again after creating the table: an offboarding that deleted the
                    // tenant's tables just before must not find one recreated behind it.
                    if !self.still_frozen(tenant).await?
                        || !self.advance(tenant, Phase::Copying).await?
                    {
                        return self.abandon(tenant, &plan).await;
                    }
                    plan.phase = Phase::Copying;
                }
                Phase::Copying => {
                    // One read tells both: switched already, or left `provisioning` (offboarding).
                    let record = self.control.get_tenant(tenant).await?;
                    if self.already_switched(&record, &plan) {
                        self.advance(tenant, Phase::Switched).await?;
                        plan.phase = Phase::Switched;
                        continue;
                    }
                    if record.status != TenantStatus::Provisioning {
                        return self.abandon(tenant, &plan).await;
                    }
                    let copied = self
                        .storage
                        .copy_tenant(
                            tenant,
                            &plan.from_table,
                            &plan.to_table,
                            checkpoints,
                            budget,
                        )
                        .await?;
                    if copied == Progress::Paused {
                        tracing::info!(tenant_id = %tenant, "migration paused in its copy: it goes on in the next run");
                        return Ok(Outcome::Paused);
                    }
                    items = match self
                        .storage
                        .verify_copy(
                            tenant,
                            &plan.from_table,
                            &plan.to_table,
                            checkpoints,
                            budget,
                        )
                        .await?
                    {
                        Progress::Done(items) => items,
                        Progress::Paused => {
                            tracing::info!(tenant_id = %tenant, "migration paused in its verification: it goes on in the next run");
                            return Ok(Outcome::Paused);
                        }
                    };
                    let switch = TenantStateChange {
                        status: Some(TenantStatus::Active),
                        tier: Some(plan.to_tier),
                        data_table: Some(
                            (plan.to_table != self.storage.pooled_table())
                                .then(|| plan.to_table.clone()),
                        ),
                        // From the `provisioning` the migration set, and nothing else: an
                        // offboarding that began meanwhile is never undone.
                        expected_status: Some(TenantStatus::Provisioning),
                        expected_version: None,
                        plan_lowered: None,
                        suspended_for: None,
                    };
                    match self.control.set_tenant_state(tenant, switch).await {
                        Ok(_) => {}
                        Err(StoreError::VersionConflict) if !self.still_frozen(tenant).await? => {
                            return self.abandon(tenant, &plan).await;
                        }
                        Err(err) => return Err(err),
                    }
                    // The switch is made; if the record is gone (offboarding), the offboarding
                    // job purges both copies.
                    self.advance(tenant, Phase::Switched).await?;
                    plan.phase = Phase::Switched;
                }
                Phase::Switched => {
                    // The count verified, by this run or an earlier one.
                    if let Some(verified) = checkpoints.verified().await? {
                        items = verified.items;
                    }
                    if self.purge_source_within(tenant, &plan, budget).await? == Progress::Paused {
                        tracing::info!(tenant_id = %tenant, "migration paused in its purge: it goes on in the next run");
                        return Ok(Outcome::Paused);
                    }
                    self.finish(tenant).await?;
                    tracing::info!(tenant_id = %tenant, items, "migration finished");
                    return Ok(Outcome::Migrated { items });
                }
            }
        }
    }
}

/// The copy's position in the migration record (`copy_partition`, `copy_after`), and the
/// verification's (`verify_partitions`, `verify_items`).
#[derive(Debug)]
pub struct RecordCheckpoints<'a> {
    migrator: &'a Migrator,
    tenant: &'a TenantId,
}

impl RecordCheckpoints<'_> {
    async fn record(&self) -> Result<Option<Item>, StoreError> {
        let output = self
            .migrator
            .client
            .get_item()
            .table_name(&self.migrator.control_table)
            .set_key(Some(Item::new(&keys::migration(self.tenant)).into_map()))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(output.item.map(Item))
    }
}

impl CopyCheckpoints for RecordCheckpoints<'_> {
    async fn verified(&self) -> Result<Option<VerifyPosition>, StoreError> {
        let Some(item) = self.record().await? else {
            return Ok(None);
        };
        let (Ok(partitions), Ok(items)) = (
            item.get_n::<usize>("verify_partitions"),
            item.get_n::<u64>("verify_items"),
        ) else {
            return Ok(None);
        };
        Ok(Some(VerifyPosition { partitions, items }))
    }

    async fn save_verified(&self, position: &VerifyPosition) -> Result<(), StoreError> {
        self.migrator
            .client
            .update_item()
            .table_name(&self.migrator.control_table)
            .set_key(Some(Item::new(&keys::migration(self.tenant)).into_map()))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET verify_partitions = :partitions, verify_items = :items")
            .expression_attribute_values(
                ":partitions",
                AttributeValue::N(position.partitions.to_string()),
            )
            .expression_attribute_values(":items", AttributeValue::N(position.items.to_string()))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn saved(&self) -> Result<Option<CopyPosition>, StoreError> {
        let Some(item) = self.record().await? else {
            return Ok(None);
        };
        let Ok(partition) = item.get_n::<usize>("copy_partition") else {
            return Ok(None);
        };
        Ok(Some(CopyPosition {
            partition,
            after: item.get_s("copy_after").ok().map(str::to_owned),
        }))
    }

    async fn save(&self, position: &CopyPosition) -> Result<(), StoreError> {
        let mut update = self
            .migrator
            .client
            .update_item()
            .table_name(&self.migrator.control_table)
            .set_key(Some(Item::new(&keys::migration(self.tenant)).into_map()))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":partition",
                AttributeValue::N(position.partition.to_string()),
            );
        update = match &position.after {
            Some(after) => update
                .update_expression("SET copy_partition = :partition, copy_after = :after")
                .expression_attribute_values(":after", AttributeValue::S(after.clone())),
            None => update.update_expression("SET copy_partition = :partition REMOVE copy_after"),
        };
        update.send().await.map_err(backend)?;
        Ok(())
    }
}
