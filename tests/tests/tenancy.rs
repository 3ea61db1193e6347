#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Tenant-scoped credentials, silo provisioning, tier migration and offboarding, against the
//! local DynamoDB and STS server. Each case checks that the other tenant's data is untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use shared::api_clients::{ApiClient, ClientId};
use shared::billing::provider::Cancellation;
use shared::billing::subscription::{Standing, Subscription};
use shared::domain::Tier;
use shared::domain::email::EmailAddress;
use shared::domain::money::Quantity;
use shared::domain::order::{Order, OrderRequest};
use shared::domain::product::Product;
use shared::domain::tenant::{Tenant, TenantName, TenantStatus};
use shared::events::EventType;
use shared::ids::{TenantId, UserId};
use shared::store::billing::BillingStore;
use shared::store::control::{Onboarding, TenantStateChange, TenantStore};
use shared::store::dynamo::DynamoStore;
use shared::store::{OrderStore, ProductStore, StoreError};
use shared::tenancy::access::{Clock, REFRESH_BEFORE_EXPIRY, SESSION_DURATION, TenantAccess};
use shared::tenancy::jobs::TenantJob;
use shared::tenancy::jobs::{JobOutcome, JobRunner};
use shared::tenancy::migration::{Outcome, RecordCheckpoints};
use shared::tenancy::storage::{
    CopyCheckpoints, CopyPosition, Progress, RunBudget, TenantStorage, Unlimited,
};
use shared::testing::SoleMembership;
use shared::testing::directory::MemoryDirectory;
use shared::testing::jobs::MemoryJobQueue;
use shared::testing::payments::FakeProvider;
use shared::testing::store_contract::draft;
use shared::webhooks::Webhook;
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

/// Sets `tenant`'s status directly, as another function would.
async fn set_status(tenant: &TenantId, status: TenantStatus) {
    control_store()
        .set_tenant_state(
            tenant,
            TenantStateChange {
                status: Some(status),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

fn store_with(access: &Arc<TenantAccess>) -> DynamoStore<Arc<TenantAccess>> {
    DynamoStore::new(Arc::clone(access))
}

fn runner(directory: MemoryDirectory) -> JobRunner<MemoryDirectory, MemoryJobQueue, FakeProvider> {
    JobRunner {
        migrator: migrator(),
        directory,
        jobs: MemoryJobQueue::default(),
        payments: FakeProvider::default(),
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
            return Err(StoreError::backend("crash between two pages"));
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
    let outcome = migrator
        .migrate_with(tenant, to_tier, &checkpoints, &Unlimited)
        .await;
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
    set_status(&provisioning, TenantStatus::Provisioning).await;
    assert!(matches!(
        store.list_products(&provisioning, 10, None).await,
        Err(StoreError::TenantNotReady)
    ));
    let (suspended, _) = tenant_at(Tier::Basic).await;
    set_status(&suspended, TenantStatus::Suspended).await;
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
    set_status(&a, TenantStatus::Deleting).await;

    let runner = runner(directory.clone());
    let outcome = runner
        .run(&TenantJob::Offboard { tenant_id: a })
        .await
        .unwrap();
    assert_eq!(
        outcome,
        JobOutcome::Offboarded {
            users: 1,
            items: 3 * 3 + 2,
            cancelled: None,
            integrations: 0,
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
    let runner = runner(MemoryDirectory::new());
    let (tenant, _) = silo_tenant(&runner).await;
    let store = store_with(&Arc::new(tenant_access(FakeClock::new())));
    fill(&store, &tenant, 2).await;
    let (other, _) = tenant_at(Tier::Basic).await;
    fill(&store, &other, 1).await;
    let storage = tenant_storage();
    let other_items = storage
        .count_items(&other, storage.pooled_table())
        .await
        .unwrap();
    set_status(&tenant, TenantStatus::Deleting).await;
    runner
        .run(&TenantJob::Offboard { tenant_id: tenant })
        .await
        .unwrap();
    assert!(
        !storage
            .table_exists(&storage.silo_table(&tenant))
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
        control.get_tenant(&tenant).await.unwrap().status,
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

/// A whole copy of `tenant` from `from` to `to`, in one run; how many items.
async fn copy_all(storage: &TenantStorage, tenant: &TenantId, from: &str, to: &str) -> u64 {
    match storage
        .copy_tenant(
            tenant,
            from,
            to,
            &InMemoryCheckpoints::default(),
            &Unlimited,
        )
        .await
        .unwrap()
    {
        Progress::Done(items) => items,
        Progress::Paused => panic!("an unlimited copy paused"),
    }
}

/// A whole verification, in one run.
async fn verify_all(
    storage: &TenantStorage,
    tenant: &TenantId,
    from: &str,
    to: &str,
) -> Result<u64, StoreError> {
    match storage
        .verify_copy(
            tenant,
            from,
            to,
            &InMemoryCheckpoints::default(),
            &Unlimited,
        )
        .await?
    {
        Progress::Done(items) => Ok(items),
        Progress::Paused => panic!("an unlimited verification paused"),
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
    let copied = copy_all(&storage, &a, &pooled, &silo).await;
    assert_eq!(
        verify_all(&storage, &a, &pooled, &silo).await.unwrap(),
        copied
    );

    // A product changes in the source after the copy: its version differs.
    let changed = products[3].replaced_by(draft("SKU-3", 999));
    store
        .replace_product(&a, &products[3], &changed)
        .await
        .unwrap();
    assert!(verify_all(&storage, &a, &pooled, &silo).await.is_err());
    // Copied again, it verifies; then an item missing from the copy is caught.
    copy_all(&storage, &a, &pooled, &silo).await;
    verify_all(&storage, &a, &pooled, &silo).await.unwrap();
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
    assert!(verify_all(&storage, &a, &pooled, &silo).await.is_err());
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

/// Whether `table` has deletion protection, and point-in-time recovery.
async fn protection(table: &str) -> (bool, bool) {
    let client = tenantry_tests::dynamodb();
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let backups = client
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let recovery = backups
        .continuous_backups_description
        .and_then(|d| d.point_in_time_recovery_description)
        .and_then(|d| d.point_in_time_recovery_status);
    (
        described
            .table
            .and_then(|t| t.deletion_protection_enabled)
            .unwrap_or(false),
        recovery == Some(aws_sdk_dynamodb::types::PointInTimeRecoveryStatus::Enabled),
    )
}

/// A premium tenant onboarded and provisioned: its id and its table.
async fn silo_tenant(
    runner: &JobRunner<MemoryDirectory, MemoryJobQueue, FakeProvider>,
) -> (TenantId, String) {
    let tenant = Tenant::new(TenantName::parse("Silo Org").unwrap(), Tier::Premium);
    let admin = new_user();
    control_store()
        .onboard(
            &tenant,
            &admin,
            &EmailAddress::parse(&format!("{admin}@example.com")).unwrap(),
        )
        .await
        .unwrap();
    runner
        .run(&TenantJob::Provision {
            tenant_id: tenant.id,
        })
        .await
        .unwrap();
    (tenant.id, tenant_storage().silo_table(&tenant.id))
}

#[tokio::test]
async fn silo_tables_are_protected_and_offboarding_lifts_only_its_own_tables_protection() {
    let runner = runner(MemoryDirectory::new());
    let (_, kept) = silo_tenant(&runner).await;
    let (gone, gone_table) = silo_tenant(&runner).await;
    for table in [&kept, &gone_table] {
        assert_eq!(protection(table).await, (true, true), "{table}");
    }
    // A deletion that is not offboarding's is refused.
    let refused = tenantry_tests::dynamodb()
        .delete_table()
        .table_name(&kept)
        .send()
        .await;
    assert!(refused.is_err(), "a protected table cannot be deleted");
    set_status(&gone, TenantStatus::Deleting).await;
    runner
        .run(&TenantJob::Offboard { tenant_id: gone })
        .await
        .unwrap();
    let storage = tenant_storage();
    assert!(!storage.table_exists(&gone_table).await.unwrap());
    assert_eq!(protection(&kept).await, (true, true), "the other table");
}

#[tokio::test]
async fn a_silo_table_without_protection_gets_it_at_its_tenants_next_job() {
    let runner = runner(MemoryDirectory::new());
    let (tenant, table) = silo_tenant(&runner).await;
    let client = tenantry_tests::dynamodb();
    client
        .update_table()
        .table_name(&table)
        .deletion_protection_enabled(false)
        .send()
        .await
        .unwrap();
    client
        .update_continuous_backups()
        .table_name(&table)
        .point_in_time_recovery_specification(
            aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(protection(&table).await, (false, false));
    runner
        .run(&TenantJob::SyncMemberships { tenant_id: tenant })
        .await
        .unwrap();
    assert_eq!(protection(&table).await, (true, true));
}

#[tokio::test]
async fn offboarding_a_paying_tenant_cancels_its_subscription_and_removes_its_integrations() {
    let control = control_store();
    let (tenant, _) = tenant_at(Tier::Standard).await;
    let (other, _) = tenant_at(Tier::Standard).await;
    let customer = format!("cus_{}", uuid::Uuid::new_v4().simple());
    control.attach_customer(&tenant, &customer).await.unwrap();
    let mut account = control.account(&tenant).await.unwrap();
    let subscription = format!("sub_{}", uuid::Uuid::new_v4().simple());
    account.billing.subscription = Some(Subscription {
        id: subscription.clone(),
        plan: Tier::Standard,
        standing: Standing::Active,
        period_end: None,
        as_of: 1,
    });
    control.save_account(&tenant, &account, None).await.unwrap();
    let mut clients = Vec::new();
    for owner in [tenant, other] {
        let webhook = Webhook::new(
            owner,
            "https://hooks.example.com/x".to_owned(),
            vec![EventType::ProductCreated],
            None,
            new_user(),
        );
        assert!(control.create_webhook(&webhook, 10).await.unwrap());
        let client = ApiClient {
            client_id: ClientId::parse(&format!("c{}", uuid::Uuid::new_v4().simple())).unwrap(),
            tenant_id: owner,
            name: "ERP".to_owned(),
            scopes: shared::api_clients::scopes(&["products.read".to_owned()]).unwrap(),
            principal: new_user(),
            created_ms: 1,
            created_by: None,
        };
        assert!(control.create_api_client(&client, 10).await.unwrap());
        clients.push(client.client_id);
    }
    set_status(&tenant, TenantStatus::Deleting).await;
    let directory = MemoryDirectory::new();
    let runner = runner(directory.clone());
    let outcome = runner
        .run(&TenantJob::Offboard { tenant_id: tenant })
        .await
        .unwrap();
    assert!(
        matches!(&outcome, JobOutcome::Offboarded { cancelled: Some(id), integrations: 2, .. } if *id == subscription),
        "{outcome:?}"
    );
    assert_eq!(
        runner.payments.cancelled(),
        vec![(subscription, Cancellation::Offboarding)]
    );
    assert_eq!(runner.payments.expired(), vec![customer]);
    assert!(control.webhooks(&tenant).await.unwrap().is_empty());
    assert!(control.api_clients(&tenant).await.unwrap().is_empty());
    assert_eq!(
        directory.deleted_app_clients(),
        vec![clients[0].as_str().to_owned()]
    );
    // The other organization's integrations are untouched.
    assert_eq!(control.webhooks(&other).await.unwrap().len(), 1);
    assert_eq!(control.api_clients(&other).await.unwrap().len(), 1);
    // A re-run (Lambda retries) cancels nothing more.
    runner
        .run(&TenantJob::Offboard { tenant_id: tenant })
        .await
        .unwrap();
    assert_eq!(runner.payments.cancelled().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_received_during_a_move_to_premium_moves_the_tenant_back_when_it_ends() {
    let control = control_store();
    let (tenant, _) = tenant_at(Tier::Basic).await;
    // Premium was bought; then the subscription ended while the data moved (billing waits for
    // the move to end: see billing::reconcile).
    let mut account = control.account(&tenant).await.unwrap();
    account.billing.subscription = Some(Subscription {
        id: "sub_gone".to_owned(),
        plan: Tier::Premium,
        standing: Standing::Ended,
        period_end: None,
        as_of: 2,
    });
    control.save_account(&tenant, &account, None).await.unwrap();
    let jobs = runner(MemoryDirectory::new());
    let outcome = jobs
        .run(&TenantJob::Migrate {
            tenant_id: tenant,
            to_tier: Tier::Premium,
        })
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        JobOutcome::Migrated(Outcome::Migrated { .. })
    ));
    assert_eq!(
        jobs.jobs.dispatched(),
        vec![TenantJob::Migrate {
            tenant_id: tenant,
            to_tier: Tier::Basic
        }],
        "the move back is dispatched as soon as the move ends"
    );
    // A tenant whose account decides no tier (an operator's choice) is left where it went.
    let (free, _) = tenant_at(Tier::Basic).await;
    let operated = runner(MemoryDirectory::new());
    operated
        .run(&TenantJob::Migrate {
            tenant_id: free,
            to_tier: Tier::Premium,
        })
        .await
        .unwrap();
    assert!(operated.jobs.dispatched().is_empty());
}

/// Lambda may deliver an asynchronous job twice, and a job may be dispatched again while it
/// runs: two runs of one migration at once move the data once and never delete the storage the
/// other run switched the tenant to.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_migration_run_twice_at_once_moves_the_data_once_and_loses_nothing() {
    let access = Arc::new(tenant_access(FakeClock::new()));
    let store = store_with(&access);
    let (tenant, _) = tenant_at(Tier::Basic).await;
    let products = fill(&store, &tenant, 3).await;
    let storage = tenant_storage();
    let items = storage
        .count_items(&tenant, storage.pooled_table())
        .await
        .unwrap();
    let (first, second) = (migrator(), migrator());
    let (a, b) = tokio::join!(
        first.migrate(&tenant, Tier::Premium),
        second.migrate(&tenant, Tier::Premium)
    );
    for outcome in [a, b] {
        assert!(
            matches!(outcome, Ok(Outcome::Migrated { .. })),
            "{outcome:?}"
        );
    }
    let record = control_store().get_tenant(&tenant).await.unwrap();
    let silo = storage.silo_table(&tenant);
    assert_eq!(
        (record.tier, record.status, record.data_table.as_deref()),
        (Tier::Premium, TenantStatus::Active, Some(silo.as_str()))
    );
    assert!(
        storage.table_exists(&silo).await.unwrap(),
        "the live table stays"
    );
    assert_eq!(storage.count_items(&tenant, &silo).await.unwrap(), items);
    assert_eq!(
        storage
            .count_items(&tenant, storage.pooled_table())
            .await
            .unwrap(),
        0
    );
    let fresh = store_with(&Arc::new(tenant_access(FakeClock::new())));
    for product in &products {
        assert!(fresh.get_product(&tenant, &product.id).await.is_ok());
    }
}

/// A run's budget that allows so many steps (saved positions), then is spent.
struct Steps(AtomicU64);

impl RunBudget for Steps {
    fn spent(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_err()
    }
}

/// A migration larger than one function run stops at a saved position, dispatches itself again,
/// and the next runs go on from there (copy, verification and purge alike) until it is done,
/// with every item moved once and verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_larger_than_one_run_goes_on_over_several_and_loses_nothing() {
    let store = store_with(&Arc::new(tenant_access(FakeClock::new())));
    let (tenant, _) = tenant_at(Tier::Basic).await;
    let products = fill(&store, &tenant, 6).await;
    let storage = tenant_storage();
    let items = storage
        .count_items(&tenant, storage.pooled_table())
        .await
        .unwrap();
    let runner = runner(MemoryDirectory::new());
    let job = TenantJob::Migrate {
        tenant_id: tenant,
        to_tier: Tier::Premium,
    };
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 200, "the migration never ends");
        match runner
            .run_within(&job, &Steps(AtomicU64::new(3)))
            .await
            .unwrap()
        {
            JobOutcome::Migrated(Outcome::Paused) => {
                assert_eq!(
                    runner.jobs.dispatched().last(),
                    Some(&job),
                    "a paused run dispatches the rest"
                );
            }
            JobOutcome::Migrated(Outcome::Migrated { items: moved }) => {
                assert_eq!(moved, items, "every item verified, once");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(runs >= 4, "{runs} runs: the budget did not stop it");
    let record = control_store().get_tenant(&tenant).await.unwrap();
    assert_eq!(
        (record.tier, record.status),
        (Tier::Premium, TenantStatus::Active)
    );
    let silo = storage.silo_table(&tenant);
    assert_eq!(storage.count_items(&tenant, &silo).await.unwrap(), items);
    assert_eq!(
        storage
            .count_items(&tenant, storage.pooled_table())
            .await
            .unwrap(),
        0
    );
    let fresh = store_with(&Arc::new(tenant_access(FakeClock::new())));
    for product in &products {
        assert!(fresh.get_product(&tenant, &product.id).await.is_ok());
    }
}
