//! The behaviour every store adapter must have, as a suite run against each of them: the
//! in-memory store in this crate's unit tests and the DynamoDB adapter against the local DynamoDB
//! server in the `tests` crate. Each case uses fresh tenants, so one store can serve them all.

use std::collections::HashSet;

use crate::domain::money::{Amount, Currency, Quantity};
use crate::domain::order::{Order, OrderRequest, OrderStatus};
use crate::domain::product::{Product, ProductDraft};
use crate::domain::text::{Description, ProductName, Sku};
use crate::ids::{OrderId, ProductId, TenantId, UserId};
use crate::store::{OrderStore, ProductLookup, ProductStore, StoreError};

/// Everything the suite needs of an adapter.
pub trait ContractStore: ProductStore + ProductLookup + OrderStore + Clone + 'static {}
impl<S: ProductStore + ProductLookup + OrderStore + Clone + 'static> ContractStore for S {}

const NO_LIMIT: u64 = 1_000_000;

pub fn draft(sku: &str, price: i64) -> ProductDraft {
    ProductDraft {
        name: ProductName::parse(&format!("Product {sku}")).expect("valid name"),
        description: Description::parse("A thing").expect("valid description"),
        sku: Sku::parse(sku).expect("valid sku"),
        price: Amount::new("price", price).expect("valid price"),
        currency: Currency::parse("EUR").expect("valid currency"),
        active: true,
    }
}

fn user() -> UserId {
    UserId::parse("3f1c1e4a-9c3b-4e0b-9f49-0b4c8c1e2d3a").expect("valid user id")
}

async fn new_product<S: ContractStore>(store: &S, tenant: &TenantId, sku: &str) -> Product {
    let product = Product::create(draft(sku, 250));
    store
        .create_product(tenant, &product, NO_LIMIT)
        .await
        .expect("create product");
    product
}

async fn new_order<S: ContractStore>(store: &S, tenant: &TenantId, product: &Product) -> Order {
    let request = OrderRequest {
        lines: vec![(product.id, Quantity::new(2).expect("valid quantity"))],
    };
    let priced = Order::price(&request, std::slice::from_ref(product), user()).expect("priced");
    store
        .place_order(tenant, &priced, NO_LIMIT)
        .await
        .expect("place order");
    priced.order
}

pub async fn created_product_reads_back<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    let product = new_product(store, &tenant, "RB-1").await;
    assert_eq!(
        store.get_product(&tenant, &product.id).await.expect("get"),
        product
    );
}

pub async fn another_tenants_product_is_not_found<S: ContractStore>(store: &S) {
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let product = new_product(store, &a, "X-1").await;
    assert!(matches!(
        store.get_product(&b, &product.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .get_products(&b, &[product.id])
            .await
            .expect("lookup")
            .is_empty()
    );
    let replacement = product.replaced_by(draft("X-2", 1));
    assert!(matches!(
        store.replace_product(&b, &product, &replacement).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_product(&b, &product.id, None).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .get_product(&a, &product.id)
            .await
            .expect("still there"),
        product
    );
    let listed = store.list_products(&b, 100, None).await.expect("list");
    assert!(listed.items.is_empty());
}

pub async fn sku_is_unique_within_a_tenant_only<S: ContractStore>(store: &S) {
    let (a, b) = (TenantId::generate(), TenantId::generate());
    new_product(store, &a, "SAME").await;
    let twin = Product::create(draft("same", 1));
    assert!(matches!(
        store.create_product(&a, &twin, NO_LIMIT).await,
        Err(StoreError::SkuTaken)
    ));
    assert!(matches!(
        store.get_product(&a, &twin.id).await,
        Err(StoreError::NotFound)
    ));
    store
        .create_product(&b, &twin, NO_LIMIT)
        .await
        .expect("other tenant may use the SKU");
}

pub async fn concurrent_creates_with_one_sku_have_one_winner<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_product(&tenant, &Product::create(draft("RACE", 1)), NO_LIMIT)
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => won += 1,
            Err(StoreError::SkuTaken) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(
        store
            .list_products(&tenant, 100, None)
            .await
            .expect("list")
            .items
            .len(),
        1
    );
}

pub async fn listing_pages_newest_first_without_gaps<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    let mut created = Vec::new();
    for i in 0..11 {
        created.push(new_product(store, &tenant, &format!("PAGE-{i}")).await.id);
        // ULIDs order by millisecond; make creation order unambiguous.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_products(&tenant, 4, cursor.as_deref())
            .await
            .expect("page");
        assert!(page.items.len() <= 4);
        seen.extend(page.items.iter().map(|p| p.id));
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    created.reverse();
    assert_eq!(seen, created);
}

pub async fn a_cursor_is_refused_for_another_tenant<S: ContractStore>(store: &S) {
    let (a, b) = (TenantId::generate(), TenantId::generate());
    for i in 0..3 {
        let mine = new_product(store, &a, &format!("C-{i}")).await;
        new_product(store, &b, &format!("C-{i}")).await;
        new_order(store, &a, &mine).await;
    }
    let first = store.list_products(&a, 1, None).await.expect("page");
    let cursor = first.next_cursor.expect("more pages");
    assert!(matches!(
        store.list_products(&b, 1, Some(&cursor)).await,
        Err(StoreError::InvalidCursor)
    ));
    assert!(matches!(
        store.list_orders(&a, 1, Some(&cursor)).await,
        Err(StoreError::InvalidCursor)
    ));
    assert!(matches!(
        store.list_products(&a, 1, Some("garbage")).await,
        Err(StoreError::InvalidCursor)
    ));
}

pub async fn replace_needs_the_current_version<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    let product = new_product(store, &tenant, "V-1").await;
    let replacement = product.replaced_by(draft("V-1", 999));
    store
        .replace_product(&tenant, &product, &replacement)
        .await
        .expect("replace");
    let stale = product.replaced_by(draft("V-1", 1));
    assert!(matches!(
        store.replace_product(&tenant, &product, &stale).await,
        Err(StoreError::VersionConflict)
    ));
    let stored = store.get_product(&tenant, &product.id).await.expect("get");
    assert_eq!(stored.version, 2);
    assert_eq!(stored.price.minor_units(), 999);
}

pub async fn changing_the_sku_moves_the_claim<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    let product = new_product(store, &tenant, "OLD").await;
    let other = new_product(store, &tenant, "TAKEN").await;
    let clash = product.replaced_by(draft("TAKEN", 1));
    assert!(matches!(
        store.replace_product(&tenant, &product, &clash).await,
        Err(StoreError::SkuTaken)
    ));
    assert_eq!(
        store.get_product(&tenant, &product.id).await.expect("get"),
        product
    );
    let renamed = product.replaced_by(draft("NEW", 1));
    store
        .replace_product(&tenant, &product, &renamed)
        .await
        .expect("rename");
    // The old SKU is free again, the new one is taken.
    new_product(store, &tenant, "OLD").await;
    let again = Product::create(draft("NEW", 1));
    assert!(matches!(
        store.create_product(&tenant, &again, NO_LIMIT).await,
        Err(StoreError::SkuTaken)
    ));
    assert_eq!(
        store
            .get_product(&tenant, &other.id)
            .await
            .expect("untouched"),
        other
    );
}

pub async fn concurrent_replaces_of_one_version_have_one_winner<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    let product = new_product(store, &tenant, "CC").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, product) = (store.clone(), product.clone());
            tokio::spawn(async move {
                let replacement = product.replaced_by(draft("CC", 100 + i));
                store
                    .replace_product(&tenant, &product, &replacement)
                    .await
                    .map(|()| 100 + i)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(price) => winners.push(price),
            Err(StoreError::VersionConflict) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = store.get_product(&tenant, &product.id).await.expect("get");
    assert_eq!(
        (stored.version, stored.price.minor_units()),
        (2, winners[0])
    );
}

pub async fn delete_releases_the_sku<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    let product = new_product(store, &tenant, "DEL").await;
    assert!(matches!(
        store.delete_product(&tenant, &product.id, Some(7)).await,
        Err(StoreError::VersionConflict)
    ));
    store
        .delete_product(&tenant, &product.id, Some(1))
        .await
        .expect("delete");
    assert!(matches!(
        store.get_product(&tenant, &product.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_product(&tenant, &product.id, None).await,
        Err(StoreError::NotFound)
    ));
    new_product(store, &tenant, "DEL").await;
}

pub async fn product_quota_holds_under_concurrency<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    new_product(store, &tenant, "Q-0").await;
    let tasks: Vec<_> = (1..9)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_product(&tenant, &Product::create(draft(&format!("Q-{i}"), 1)), 3)
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => created += 1,
            Err(StoreError::QuotaExceeded { max: 3, .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 2);
    assert_eq!(
        store
            .list_products(&tenant, 100, None)
            .await
            .expect("list")
            .items
            .len(),
        3
    );
    // Deleting frees a slot.
    let first = store
        .list_products(&tenant, 1, None)
        .await
        .expect("list")
        .items[0]
        .id;
    store
        .delete_product(&tenant, &first, None)
        .await
        .expect("delete");
    store
        .create_product(&tenant, &Product::create(draft("Q-LAST", 1)), 3)
        .await
        .expect("slot freed");
}

pub async fn orders_read_back_and_list_per_tenant<S: ContractStore>(store: &S) {
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let product = new_product(store, &a, "O-1").await;
    let first = new_order(store, &a, &product).await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let second = new_order(store, &a, &product).await;
    assert_eq!(store.get_order(&a, &first.id).await.expect("get"), first);
    assert!(matches!(
        store.get_order(&b, &first.id).await,
        Err(StoreError::NotFound)
    ));
    let listed: Vec<OrderId> = store
        .list_orders(&a, 10, None)
        .await
        .expect("list")
        .items
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(listed, vec![second.id, first.id]);
    assert!(
        store
            .list_orders(&b, 10, None)
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

pub async fn order_status_follows_the_lifecycle<S: ContractStore>(store: &S) {
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let product = new_product(store, &a, "L-1").await;
    let order = new_order(store, &a, &product).await;
    assert!(matches!(
        store
            .change_order_status(&b, &order.id, OrderStatus::Paid, None)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .change_order_status(&a, &order.id, OrderStatus::Shipped, None)
            .await,
        Err(StoreError::InvalidTransition {
            from: OrderStatus::Pending,
            to: OrderStatus::Shipped
        })
    ));
    assert!(matches!(
        store
            .change_order_status(&a, &order.id, OrderStatus::Paid, Some(5))
            .await,
        Err(StoreError::VersionConflict)
    ));
    let paid = store
        .change_order_status(&a, &order.id, OrderStatus::Paid, Some(1))
        .await
        .expect("pay");
    assert_eq!((paid.status, paid.version), (OrderStatus::Paid, 2));
    let cancelled = store
        .change_order_status(&a, &order.id, OrderStatus::Cancelled, None)
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert!(matches!(
        store
            .change_order_status(&a, &order.id, OrderStatus::Paid, None)
            .await,
        Err(StoreError::InvalidTransition {
            from: OrderStatus::Cancelled,
            ..
        })
    ));
    assert_eq!(
        store.get_order(&a, &order.id).await.expect("get").status,
        OrderStatus::Cancelled
    );
}

pub async fn an_order_fails_if_a_product_changed<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    let product = new_product(store, &tenant, "CH-1").await;
    let request = OrderRequest {
        lines: vec![(product.id, Quantity::new(1).expect("quantity"))],
    };
    let priced = Order::price(&request, std::slice::from_ref(&product), user()).expect("priced");
    store
        .replace_product(&tenant, &product, &product.replaced_by(draft("CH-1", 7)))
        .await
        .expect("reprice");
    assert!(matches!(
        store.place_order(&tenant, &priced, NO_LIMIT).await,
        Err(StoreError::ProductsChanged)
    ));
    assert!(matches!(
        store.get_order(&tenant, &priced.order.id).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn monthly_order_quota_holds_under_concurrency<S: ContractStore>(store: &S) {
    let tenant = TenantId::generate();
    let product = new_product(store, &tenant, "MQ").await;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (store, product) = (store.clone(), product.clone());
            tokio::spawn(async move {
                let request = OrderRequest {
                    lines: vec![(product.id, Quantity::new(1).expect("quantity"))],
                };
                let priced = Order::price(&request, &[product], user()).expect("priced");
                store.place_order(&tenant, &priced, 4).await
            })
        })
        .collect();
    let mut placed = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => placed += 1,
            Err(StoreError::QuotaExceeded { max: 4, .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(placed, 4);
    assert_eq!(
        store
            .list_orders(&tenant, 100, None)
            .await
            .expect("list")
            .items
            .len(),
        4
    );
}

pub async fn lookup_returns_only_the_tenants_products<S: ContractStore>(store: &S) {
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let mine = new_product(store, &a, "LK-1").await;
    let theirs = new_product(store, &b, "LK-1").await;
    let found = store
        .get_products(&a, &[mine.id, theirs.id, ProductId::generate()])
        .await
        .expect("lookup");
    let ids: HashSet<ProductId> = found.iter().map(|p| p.id).collect();
    assert_eq!(ids, HashSet::from([mine.id]));
}

/// Generates one `#[tokio::test]` per contract case for the store built by `$make`.
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::store_contract_tests!(@cases $make;
            created_product_reads_back,
            another_tenants_product_is_not_found,
            sku_is_unique_within_a_tenant_only,
            concurrent_creates_with_one_sku_have_one_winner,
            listing_pages_newest_first_without_gaps,
            a_cursor_is_refused_for_another_tenant,
            replace_needs_the_current_version,
            changing_the_sku_moves_the_claim,
            concurrent_replaces_of_one_version_have_one_winner,
            delete_releases_the_sku,
            product_quota_holds_under_concurrency,
            orders_read_back_and_list_per_tenant,
            order_status_follows_the_lifecycle,
            an_order_fails_if_a_product_changed,
            monthly_order_quota_holds_under_concurrency,
            lookup_returns_only_the_tenants_products,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let store = $make;
                $crate::testing::store_contract::$case(&store).await;
            }
        )+
    };
}
