#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Tenant-scoped credentials, silo provisioning, tier migration and offboarding, against the
//! local DynamoDB and STS server. Each case checks that the other tenant's data is untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use shared::context::Tier;
use shared::domain::email::EmailAddress;
use shared::domain::money::Quantity;
use shared::domain::order::{Order, OrderRequest};
use shared::domain::product::Product;
use shared::domain::tenant::{Tenant, TenantName, TenantStatus};
use shared::identity::memory::MemoryDirectory;
use shared::ids::{TenantId, UserId};
use shared::jobs::TenantJob;
use shared::store::contract::draft;
use shared::store::control::{Onboarding, TenantStateChange, TenantStore};
use shared::store::dynamo::DynamoStore;
use shared::store::{OrderStore, ProductStore, StoreError};
use shared::tenancy::access::{Clock, REFRESH_BEFORE_EXPIRY, SESSION_DURATION, TenantAccess};
use shared::tenancy::jobs::{JobOutcome, JobRunner};
use shared::tenancy::migration::{Outcome, RecordCheckpoints};
use shared::tenancy::storage::{CopyCheckpoints, CopyPosition};
use shared::testing::SoleMembership;
use tenantry_tests::{control_store, migrator, tenant_access, tenant_storage};

/// A clock that only moves when told to.
#[derive(Debug)]
struct FakeClock(AtomicU64);

impl FakeClock {
    fn new() -> Arc<Self> {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Arc::new(Self(AtomicU64::new(now)))
    }

    fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

fn new_user() -> UserId {
    UserId::parse(&uuid::Uuid::new_v4().to_string()).unwrap()
}

/// A tenant onboarded in the control table, at `tier`, active.
async fn tenant_at(tier: Tier) -> (TenantId, UserId) {
    let control = control_store();
    let mut tenant = Tenant::new(TenantName::parse("Test Org").unwrap(), tier);
    tenant.status = TenantStatus::Active;
    let admin = new_user();
    let email = EmailAddress::parse(&format!("{admin}@example.com")).unwrap();
    control.onboard(&tenant, &admin, &email).await.unwrap();
    (tenant.id, admin)
}

/// Products and orders for `tenant`, written through the tenant-scoped store.
async fn fill(
    store: &DynamoStore<Arc<TenantAccess>>,
    tenant: &TenantId,
    products: usize,
) -> Vec<Product> {
    let mut made = Vec::new();
    for i in 0..products {
        let product = Product::create(draft(&format!("SKU-{i}"), 100 + i as i64));
        store.create_product(tenant, &product, 1_000).await.unwrap();
        let request = OrderRequest {
            lines: vec![(product.id, Quantity::new(1).unwrap())],
        };
        let priced = Order::price(&request, std::slice::from_ref(&product), new_user()).unwrap();
        store.place_order(tenant, &priced, 1_000).await.unwrap();
        made.push(product);
    }
    made
}

fn store_with(access: &Arc<TenantAccess>) -> DynamoStore<Arc<TenantAccess>> {
    DynamoStore::new(Arc::clone(access))
}

fn runner(directory: MemoryDirectory) -> JobRunner<MemoryDirectory> {
    JobRunner {
        migrator: migrator(),
        directory,
    }
}

/// The migration record's checkpoints, failing after `pages` pages were saved, as a crash
/// between two pages would; and recording where each run resumed from.
struct CrashAfter<'a> {
    inner: RecordCheckpoints<'a>,
    pages: AtomicU64,
    resumed_from: std::sync::Mutex<Option<Option<CopyPosition>>>,
}

impl CopyCheckpoints for CrashAfter<'_> {
    async fn saved(&self) -> Result<Option<CopyPosition>, StoreError> {
        let saved = self.inner.saved().await?;
        *self.resumed_from.lock().unwrap() = Some(saved.clone());
        Ok(saved)
    }

    async fn save(&self, position: &CopyPosition) -> Result<(), StoreError> {
        self.inner.save(position).await?;
        if self.pages.fetch_sub(1, Ordering::SeqCst) == 1 {
            return Err(StoreError::Backend("crash between two pages".into()));
        }
        Ok(())
    }
}

/// Runs a migration whose copy dies after `pages` pages (`u64::MAX`: never); returns its
/// outcome and where its copy started from.
async fn migrate_crashing(
    tenant: &TenantId,
    to_tier: Tier,
    pages: u64,
) -> (Result<Outcome, StoreError>, Option<CopyPosition>) {
    let migrator = migrator();
    let checkpoints = CrashAfter {
        inner: migrator.checkpoints(tenant),
        pages: AtomicU64::new(pages),
        resumed_from: std::sync::Mutex::new(None),
    };
    let outcome = migrator.migrate_with(tenant, to_tier, &checkpoints).await;
    let resumed = checkpoints.resumed_from.lock().unwrap().clone().flatten();
    (outcome, resumed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_for_one_tenant_makes_one_sts_call_and_credentials_renew_before_expiry() {
    let clock = FakeClock::new();
    let access = Arc::new(tenant_access(clock.clone()));
    let (a, _) = tenant_at(Tier::Basic).await;
    let (b, _) = tenant_at(Tier::Standard).await;
    let store = store_with(&access);
    let burst: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .list_products(&a, 10, None)
                    .await
                    .map(|page| page.items.len())
            })
        })
        .collect();
    for request in burst {
        assert_eq!(request.await.unwrap().unwrap(), 0);
    }
    assert_eq!(
        access.stats.sts_calls.load(Ordering::SeqCst),
        1,
        "one STS call for the burst"
    );
    assert_eq!(
        access.stats.record_reads.load(Ordering::SeqCst),
        1,
        "one tenant-record read for the burst"
    );
    store.list_products(&b, 10, None).await.unwrap();
    assert_eq!(
        access.stats.sts_calls.load(Ordering::SeqCst),
        2,
        "another tenant, its own credentials"
    );

    // Still fresh: no new call. Within the renewal window: renewed before expiry.
    clock.advance(SESSION_DURATION - REFRESH_BEFORE_EXPIRY - Duration::from_secs(60));
    store.list_products(&a, 10, None).await.unwrap();
    assert_eq!(access.stats.sts_calls.load(Ordering::SeqCst), 2);
    clock.advance(Duration::from_secs(120));
    store.list_products(&a, 10, None).await.unwrap();
    assert_eq!(
        access.stats.sts_calls.load(Ordering::SeqCst),
        3,
        "renewed inside the refresh window"
    );
}

#[tokio::test]
async fn the_tenant_status_gates_data_access() {
    let access = Arc::new(tenant_access(FakeClock::new()));
    let store = store_with(&access);
    let (provisioning, _) = tenant_at(Tier::Premium).await;
    control_store()
        .set_tenant_state(
            &provisioning,
            TenantStateChange {
                status: Some(TenantStatus::Provisioning),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        store.list_products(&provisioning, 10, None).await,
        Err(StoreError::TenantNotReady)
    ));
    let (suspended, _) = tenant_at(Tier::Basic).await;
    control_store()
        .set_tenant_state(
            &suspended,
            TenantStateChange {
                status: Some(TenantStatus::Suspended),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        store.list_products(&suspended, 10, None).await,
        Err(StoreError::TenantInactive)
    ));
    assert!(matches!(
        store.list_products(&TenantId::generate(), 10, None).await,
        Err(StoreError::TenantInactive)
    ));
    assert_eq!(
        access.stats.sts_calls.load(Ordering::SeqCst),
        0,
        "no credentials for a tenant that may not be served"
    );
}

#[tokio::test]
async fn a_premium_sign_up_gets_its_own_table_and_then_serves_from_it() {
    let control = control_store();
    let tenant = Tenant::new(TenantName::parse("Premium Org").unwrap(), Tier::Premium);
    assert_eq!(tenant.status, TenantStatus::Provisioning);
    let admin = new_user();
    control
        .onboard(
            &tenant,
            &admin,
            &EmailAddress::parse(&format!("{admin}@example.com")).unwrap(),
        )
        .await
        .unwrap();
    let runner = runner(MemoryDirectory::new());
    let outcome = runner
        .run(&TenantJob::Provision {
            tenant_id: tenant.id,
        })
        .await
        .unwrap();
    let table = tenant_storage().silo_table(&tenant.id);
    assert_eq!(
        outcome,
        JobOutcome::Provisioned {
            table: table.clone()
        }
    );
    let record = control.get_tenant(&tenant.id).await.unwrap();
    assert_eq!(
        (record.status, record.data_table.as_deref()),
        (TenantStatus::Active, Some(table.as_str()))
    );
    assert_eq!(
        control
            .membership(&admin)
            .await
            .unwrap()
            .unwrap()
            .tenant_status,
        TenantStatus::Active
    );
    // Running it again changes nothing.
    assert_eq!(
        runner
            .run(&TenantJob::Provision {
                tenant_id: tenant.id
            })
            .await
            .unwrap(),
        JobOutcome::Skipped
    );

    let access = Arc::new(tenant_access(FakeClock::new()));
    let store = store_with(&access);
    fill(&store, &tenant.id, 2).await;
    let storage = tenant_storage();
    assert_eq!(
        storage.count_items(&tenant.id, &table).await.unwrap(),
        2 + 2 + 2 + 2,
        "products, SKUs, orders, counters"
    );
    assert_eq!(
        storage
            .count_items(&tenant.id, storage.pooled_table())
            .await
            .unwrap(),
        0,
        "nothing in the pooled table"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_killed_midway_resumes_without_loss_and_touches_no_other_tenant() {
    let access = Arc::new(tenant_access(FakeClock::new()));
    let store = store_with(&access);
    let (a, a_admin) = tenant_at(Tier::Basic).await;
    let (b, _) = tenant_at(Tier::Basic).await;
    let a_products = fill(&store, &a, 5).await;
    fill(&store, &b, 3).await;
    let storage = tenant_storage();
    let pooled = storage.pooled_table().to_owned();
    let a_items = storage.count_items(&a, &pooled).await.unwrap();
    let b_items = storage.count_items(&b, &pooled).await.unwrap();

    // The first run dies part-way through the copy, after 4 pages.
    let (crash, started) = migrate_crashing(&a, Tier::Premium, 4).await;
    assert!(crash.is_err(), "the injected crash stops the job");
    assert_eq!(started, None, "the first run copies from the start");
    assert_eq!(
        control_store().get_tenant(&a).await.unwrap().status,
        TenantStatus::Provisioning
    );
    let fresh = Arc::new(tenant_access(FakeClock::new()));
    assert!(
        matches!(
            store_with(&fresh).list_products(&a, 10, None).await,
            Err(StoreError::TenantNotReady)
        ),
        "writes are refused, not lost"
    );

    // The retry resumes from the last page the first run finished, not from zero, and
    // finishes.
    let (done, resumed) = migrate_crashing(&a, Tier::Premium, u64::MAX).await;
    let resumed = resumed.expect("the retry resumes from a saved position");
    assert!(
        resumed != CopyPosition::default(),
        "resumed from {resumed:?}, not from the start"
    );
    assert_eq!(done.unwrap(), Outcome::Migrated { items: a_items });
    let record = control_store().get_tenant(&a).await.unwrap();
    let silo = storage.silo_table(&a);
    assert_eq!(
        (record.tier, record.status, record.data_table.as_deref()),
        (Tier::Premium, TenantStatus::Active, Some(silo.as_str()))
    );
    assert_eq!(
        control_store()
            .membership(&a_admin)
            .await
            .unwrap()
            .unwrap()
            .tier,
        Tier::Premium
    );
    assert_eq!(storage.count_items(&a, &silo).await.unwrap(), a_items);
    assert_eq!(
        storage.count_items(&a, &pooled).await.unwrap(),
        0,
        "the old copy is purged"
    );
    assert_eq!(
        storage.count_items(&b, &pooled).await.unwrap(),
        b_items,
        "tenant b is untouched"
    );

    // The data reads back, versions intact, and SKU uniqueness still holds in the silo.
    let store = store_with(&Arc::new(tenant_access(FakeClock::new())));
    for product in &a_products {
        assert_eq!(&store.get_product(&a, &product.id).await.unwrap(), product);
    }
    let twin = Product::create(draft("SKU-0", 1));
    assert!(matches!(
        store.create_product(&a, &twin, 1_000).await,
        Err(StoreError::SkuTaken)
    ));
    assert_eq!(
        store.list_orders(&a, 100, None).await.unwrap().items.len(),
        5
    );

    // And back to pooled storage.
    let back = runner(MemoryDirectory::new())
        .run(&TenantJob::Migrate {
            tenant_id: a,
            to_tier: Tier::Standard,
        })
        .await
        .unwrap();
    assert_eq!(
        back,
        JobOutcome::Migrated(Outcome::Migrated { items: a_items })
    );
    assert!(
        !storage.table_exists(&silo).await.unwrap(),
        "the silo table is deleted"
    );
    assert_eq!(storage.count_items(&a, &pooled).await.unwrap(), a_items);
    assert_eq!(storage.count_items(&b, &pooled).await.unwrap(), b_items);
}

#[tokio::test]
async fn offboarding_purges_one_pooled_tenant_and_nothing_else() {
    let access = Arc::new(tenant_access(FakeClock::new()));
    let store = store_with(&access);
    let (a, a_admin) = tenant_at(Tier::Basic).await;
    let (b, b_admin) = tenant_at(Tier::Basic).await;
    fill(&store, &a, 3).await;
    fill(&store, &b, 2).await;
    let storage = tenant_storage();
    let pooled = storage.pooled_table().to_owned();
    let b_items = storage.count_items(&b, &pooled).await.unwrap();
    let directory = MemoryDirectory::new();
    directory.insert(
        a_admin.clone(),
        EmailAddress::parse("a-admin@example.com").unwrap(),
    );
    let control = control_store();
    control
        .set_tenant_state(
            &a,
            TenantStateChange {
                status: Some(TenantStatus::Deleting),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let runner = runner(directory.clone());
    let outcome = runner
        .run(&TenantJob::Offboard { tenant_id: a })
        .await
        .unwrap();
    assert_eq!(
        outcome,
        JobOutcome::Offboarded {
            users: 1,
            items: 3 * 3 + 2
        }
    );
    assert_eq!(storage.count_items(&a, &pooled).await.unwrap(), 0);
    assert_eq!(storage.count_items(&b, &pooled).await.unwrap(), b_items);
    assert!(
        directory.user(&a_admin).is_none() && directory.was_signed_out(&a_admin),
        "the user is signed out and deleted from the pool"
    );
    assert!(control.membership(&a_admin).await.unwrap().is_none());
    assert_eq!(
        control
            .membership(&b_admin)
            .await
            .unwrap()
            .unwrap()
            .tenant_id,
        b
    );
    assert_eq!(
        control.get_tenant(&a).await.unwrap().status,
        TenantStatus::Deleted
    );
    assert_eq!(
        runner
            .run(&TenantJob::Offboard { tenant_id: a })
            .await
            .unwrap(),
        JobOutcome::Skipped,
        "idempotent"
    );
    // A tenant that did not ask to be deleted is not offboarded.
    assert!(
        runner
            .run(&TenantJob::Offboard { tenant_id: b })
            .await
            .is_err()
    );
    assert_eq!(storage.count_items(&b, &pooled).await.unwrap(), b_items);
}

#[tokio::test]
async fn offboarding_a_silo_tenant_deletes_its_table() {
    let control = control_store();
    let tenant = Tenant::new(TenantName::parse("Silo Org").unwrap(), Tier::Premium);
    let admin = new_user();
    control
        .onboard(
            &tenant,
            &admin,
            &EmailAddress::parse(&format!("{admin}@example.com")).unwrap(),
        )
        .await
        .unwrap();
    let runner = runner(MemoryDirectory::new());
    runner
        .run(&TenantJob::Provision {
            tenant_id: tenant.id,
        })
        .await
        .unwrap();
    let store = store_with(&Arc::new(tenant_access(FakeClock::new())));
    fill(&store, &tenant.id, 2).await;
    let (other, _) = tenant_at(Tier::Basic).await;
    fill(&store, &other, 1).await;
    let storage = tenant_storage();
    let other_items = storage
        .count_items(&other, storage.pooled_table())
        .await
        .unwrap();
    control
        .set_tenant_state(
            &tenant.id,
            TenantStateChange {
                status: Some(TenantStatus::Deleting),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    runner
        .run(&TenantJob::Offboard {
            tenant_id: tenant.id,
        })
        .await
        .unwrap();
    assert!(
        !storage
            .table_exists(&storage.silo_table(&tenant.id))
            .await
            .unwrap()
    );
    assert_eq!(
        storage
            .count_items(&other, storage.pooled_table())
            .await
            .unwrap(),
        other_items
    );
    assert_eq!(
        control.get_tenant(&tenant.id).await.unwrap().status,
        TenantStatus::Deleted
    );
}

/// Offboarding that begins while a migration is under way (here: a migration to its own table
/// that crashed mid-copy) leaves nothing behind, whichever job runs last: no copied data, no
/// recreated table, no migration record, the tenant deleted, never reactivated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offboarding_during_a_migration_leaves_nothing_behind() {
    let access = Arc::new(tenant_access(FakeClock::new()));
    let store = store_with(&access);
    let (a, _) = tenant_at(Tier::Basic).await;
    let (b, _) = tenant_at(Tier::Basic).await;
    fill(&store, &a, 4).await;
    fill(&store, &b, 2).await;
    let storage = tenant_storage();
    let pooled = storage.pooled_table().to_owned();
    let b_items = storage.count_items(&b, &pooled).await.unwrap();
    let migrate = TenantJob::Migrate {
        tenant_id: a,
        to_tier: Tier::Premium,
    };
    let (crash, _) = migrate_crashing(&a, Tier::Premium, 3).await;
    assert!(crash.is_err(), "the injected crash stops the job mid-copy");
    let silo = storage.silo_table(&a);
    assert!(storage.table_exists(&silo).await.unwrap());
    let control = control_store();
    assert!(control.migration(&a).await.unwrap().is_some());

    // Offboarding begins, and its job runs to the end.
    control.begin_offboarding(&a).await.unwrap();
    runner(MemoryDirectory::new())
        .run(&TenantJob::Offboard { tenant_id: a })
        .await
        .unwrap();
    assert!(
        control.migration(&a).await.unwrap().is_none(),
        "the migration record goes"
    );
    assert!(!storage.table_exists(&silo).await.unwrap());

    // The migration's retry comes after: it must neither recreate the table nor revive the tenant.
    let retried = runner(MemoryDirectory::new()).run(&migrate).await;
    assert!(
        matches!(retried, Ok(JobOutcome::Migrated(Outcome::Abandoned))) || retried.is_err(),
        "{retried:?}"
    );
    let record = control.get_tenant(&a).await.unwrap();
    assert_eq!(record.status, TenantStatus::Deleted);
    assert!(
        !storage.table_exists(&silo).await.unwrap(),
        "no table recreated"
    );
    assert_eq!(storage.count_items(&a, &pooled).await.unwrap(), 0);
    assert!(control.migration(&a).await.unwrap().is_none());
    assert_eq!(storage.count_items(&b, &pooled).await.unwrap(), b_items);
}

/// The other order: offboarding begins during the migration's copy, and the migration's retry
/// runs before the offboarding job. The migration must not switch the tenant back to active.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_migration_never_undoes_an_offboarding_that_began_during_it() {
    let access = Arc::new(tenant_access(FakeClock::new()));
    let store = store_with(&access);
    let (a, _) = tenant_at(Tier::Basic).await;
    fill(&store, &a, 3).await;
    let storage = tenant_storage();
    let migrate = TenantJob::Migrate {
        tenant_id: a,
        to_tier: Tier::Premium,
    };
    assert!(migrate_crashing(&a, Tier::Premium, 2).await.0.is_err());
    let control = control_store();
    control.begin_offboarding(&a).await.unwrap();
    let retried = runner(MemoryDirectory::new()).run(&migrate).await.unwrap();
    assert_eq!(retried, JobOutcome::Migrated(Outcome::Abandoned));
    let record = control.get_tenant(&a).await.unwrap();
    assert_eq!(
        (record.status, record.tier, record.data_table),
        (TenantStatus::Deleting, Tier::Basic, None),
        "still being offboarded, still where it was"
    );
    let silo = storage.silo_table(&a);
    assert!(
        !storage.table_exists(&silo).await.unwrap(),
        "the copy is removed"
    );
    assert!(control.migration(&a).await.unwrap().is_none());
    // The offboarding job then finishes its work.
    runner(MemoryDirectory::new())
        .run(&TenantJob::Offboard { tenant_id: a })
        .await
        .unwrap();
    assert_eq!(
        control.get_tenant(&a).await.unwrap().status,
        TenantStatus::Deleted
    );
    assert_eq!(
        storage
            .count_items(&a, storage.pooled_table())
            .await
            .unwrap(),
        0
    );
}

/// Checkpoints that keep the position in memory (a copy outside any migration).
#[derive(Default)]
struct InMemoryCheckpoints(std::sync::Mutex<Option<CopyPosition>>);

impl CopyCheckpoints for InMemoryCheckpoints {
    async fn saved(&self) -> Result<Option<CopyPosition>, StoreError> {
        Ok(self.0.lock().unwrap().clone())
    }

    async fn save(&self, position: &CopyPosition) -> Result<(), StoreError> {
        *self.0.lock().unwrap() = Some(position.clone());
        Ok(())
    }
}

/// The verification after a copy catches a missing item and a stale version, page by page.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_that_differs_by_one_item_or_one_version_fails_verification() {
    let access = Arc::new(tenant_access(FakeClock::new()));
    let store = store_with(&access);
    let (a, _) = tenant_at(Tier::Basic).await;
    let products = fill(&store, &a, 7).await;
    let storage = tenant_storage().with_page_items(2);
    let silo = storage.provision_silo(&a).await.unwrap();
    let pooled = storage.pooled_table().to_owned();
    let copied = storage
        .copy_tenant(&a, &pooled, &silo, &InMemoryCheckpoints::default())
        .await
        .unwrap();
    assert_eq!(
        storage.verify_copy(&a, &pooled, &silo).await.unwrap(),
        copied
    );

    // A product changes in the source after the copy: its version differs.
    let changed = products[3].replaced_by(draft("SKU-3", 999));
    store
        .replace_product(&a, &products[3], &changed)
        .await
        .unwrap();
    assert!(storage.verify_copy(&a, &pooled, &silo).await.is_err());
    // Copied again, it verifies; then an item missing from the copy is caught.
    storage
        .copy_tenant(&a, &pooled, &silo, &InMemoryCheckpoints::default())
        .await
        .unwrap();
    storage.verify_copy(&a, &pooled, &silo).await.unwrap();
    let silo_store = DynamoStore::new(shared::store::dynamo::PooledTable(
        shared::store::dynamo::TableScope {
            client: tenantry_tests::dynamodb(),
            table: silo.clone(),
        },
    ));
    silo_store
        .delete_product(&a, &products[5].id, None)
        .await
        .unwrap();
    assert!(storage.verify_copy(&a, &pooled, &silo).await.is_err());
    storage.delete_silo(&silo).await.unwrap();
}

/// A suspension that lands between a migration's read of the tenant and its freeze is never
/// overwritten: the freeze is made from the status that was read or not at all, and the
/// migration then does not start (nothing of it is left behind).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspension_between_a_migrations_read_and_its_freeze_is_kept() {
    let (a, _) = tenant_at(Tier::Basic).await;
    let control = control_store();
    let read = control.get_tenant(&a).await.unwrap();
    let suspend = TenantStateChange {
        status: Some(TenantStatus::Suspended),
        ..TenantStateChange::default()
    };
    control.set_tenant_state(&a, suspend).await.unwrap();
    let started = migrator().begin(&read, Tier::Premium).await;
    let record = control.get_tenant(&a).await.unwrap();
    assert_eq!(
        record.status,
        TenantStatus::Suspended,
        "the suspension was overwritten by the migration's freeze"
    );
    assert!(
        matches!(started, Err(StoreError::InvalidTenantTransition { .. })),
        "{started:?}"
    );
    assert!(control.migration(&a).await.unwrap().is_none());
    // Started again, the migration job finds the tenant suspended and does nothing.
    let retried = migrator().migrate(&a, Tier::Premium).await;
    assert!(retried.is_err(), "{retried:?}");
    assert_eq!(
        control.get_tenant(&a).await.unwrap().status,
        TenantStatus::Suspended
    );
}
