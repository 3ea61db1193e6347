//! Billing accounts at the payment provider, the sweep's index, and the e-mails held for the
//! next sweep.

use super::*;

/// One customer per tenant at the provider, whoever asks first; customers find their tenant.
pub async fn a_tenant_has_one_customer_at_the_payment_provider<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let account = store.account(&tenant.id).await.expect("account");
    assert_eq!((account.customer, account.version), (None, 0));
    let (first, second) = (
        format!("cus_{}", uuid::Uuid::new_v4().simple()),
        format!("cus_{}", uuid::Uuid::new_v4().simple()),
    );
    let (a, b) = tokio::join!(
        store.attach_customer(&tenant.id, &first),
        store.attach_customer(&tenant.id, &second)
    );
    let (a, b) = (a.expect("attach"), b.expect("attach"));
    assert_eq!(a, b, "both requests agree on one customer");
    assert_eq!(
        store.tenant_of_customer(&a).await.expect("lookup"),
        Some(tenant.id)
    );
    let loser = if a == first { &second } else { &first };
    assert_eq!(store.tenant_of_customer(loser).await.expect("lookup"), None);
    assert_eq!(
        store.account(&tenant.id).await.expect("account").customer,
        Some(a)
    );
}

/// An event changes an account once, however often and however concurrently it is delivered;
/// a change based on an old version is refused.
pub async fn a_webhook_event_changes_an_account_once<S: ContractControl>(store: &S) {
    use crate::billing::subscription::{Standing, Subscription};
    let (tenant, _, _) = onboarded(store).await;
    store
        .attach_customer(
            &tenant.id,
            &format!("cus_{}", uuid::Uuid::new_v4().simple()),
        )
        .await
        .expect("attach");
    let mut account = store.account(&tenant.id).await.expect("account");
    account.billing.subscription = Some(Subscription {
        id: "sub_1".into(),
        plan: Tier::Premium,
        standing: Standing::PastDue { since: 100 },
        period_end: Some(2_000),
        as_of: 100,
    });
    account.note_invoice(
        &crate::billing::events::Invoice {
            id: "in_1".into(),
            amount: 2900,
            currency: "eur".into(),
            url: None,
        },
        "failed",
        100,
    );
    let event = format!("evt_{}", uuid::Uuid::new_v4().simple());
    assert_eq!(
        store
            .save_account(&tenant.id, &account, Some(&event))
            .await
            .expect("save"),
        Saved::Saved
    );
    let stored = store.account(&tenant.id).await.expect("account");
    assert_eq!(stored.version, 1);
    assert!(stored.customer.is_some(), "the customer stays");
    assert_eq!(
        (stored.billing.clone(), stored.invoices.clone()),
        (account.billing.clone(), account.invoices.clone())
    );
    assert!(store.event_seen(&event).await.expect("seen"));
    // Redelivered: nothing written.
    assert_eq!(
        store
            .save_account(&tenant.id, &account, Some(&event))
            .await
            .expect("save"),
        Saved::Duplicate
    );
    // Another event based on the old version: refused.
    assert!(matches!(
        store
            .save_account(&tenant.id, &account, Some(&format!("{event}-other")))
            .await,
        Err(StoreError::VersionConflict)
    ));
    // One event delivered five times at once: written once.
    let next = format!("{event}-next");
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (store, id, account, next) =
                (store.clone(), tenant.id, stored.clone(), next.clone());
            tokio::spawn(async move { store.save_account(&id, &account, Some(&next)).await })
        })
        .collect();
    let mut saved = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(Saved::Saved) => saved += 1,
            Ok(Saved::Duplicate) | Err(StoreError::VersionConflict) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(saved, 1);
    assert_eq!(store.account(&tenant.id).await.expect("account").version, 2);
    // Its payment failed at 100: listed once the grace period that started then is over.
    let listed = |failed_by| {
        let store = store.clone();
        async move {
            store
                .grace_expired(failed_by, 10_000)
                .await
                .expect("grace expired")
                .contains(&tenant.id)
        }
    };
    assert!(listed(100).await);
    assert!(!listed(99).await);
    // Suspended (a save without an event): no longer listed.
    let mut suspended = store.account(&tenant.id).await.expect("account");
    suspended.suspended_for_payment = true;
    assert_eq!(
        store
            .save_account(&tenant.id, &suspended, None)
            .await
            .expect("save"),
        Saved::Saved
    );
    assert!(!listed(i64::MAX - 1).await);
    assert_eq!(store.account(&tenant.id).await.expect("account").version, 3);
}

/// Whether `tenant` is on the pages of [`BillingStore::billed_tenants`], read to the end.
async fn billed<S: ContractControl>(store: &S, tenant: &TenantId) -> bool {
    let mut after: Option<String> = None;
    loop {
        let page = store
            .billed_tenants(after.as_deref(), 50)
            .await
            .expect("billed tenants");
        if page.items.contains(tenant) {
            return true;
        }
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => return false,
        }
    }
}

pub async fn the_sweep_lists_the_accounts_whose_subscription_decides_the_tier<
    S: ContractControl,
>(
    store: &S,
) {
    use crate::billing::subscription::{Standing, Subscription};
    let (tenant, _, _) = onboarded(store).await;
    assert!(!billed(store, &tenant.id).await, "never subscribed");
    let save = |account: crate::billing::Account| {
        let store = store.clone();
        async move {
            store
                .save_account(&tenant.id, &account, None)
                .await
                .expect("save");
            store.account(&tenant.id).await.expect("account")
        }
    };
    let mut account = store.account(&tenant.id).await.expect("account");
    account.billing.subscription = Some(Subscription {
        id: "sub_1".into(),
        plan: Tier::Standard,
        standing: Standing::Active,
        period_end: None,
        as_of: 100,
    });
    let account = save(account).await;
    assert!(billed(store, &tenant.id).await, "paying");
    // Awaiting suspension: listed still (and among the expired grace periods).
    let mut failing = account.clone();
    if let Some(subscription) = failing.billing.subscription.as_mut() {
        subscription.standing = Standing::PastDue { since: 200 };
    }
    let failing = save(failing).await;
    assert!(billed(store, &tenant.id).await, "awaiting suspension");
    assert!(
        store
            .grace_expired(200, 10_000)
            .await
            .expect("grace expired")
            .contains(&tenant.id)
    );
    // Ended: listed until its end is seen applied, then no more.
    let mut ended = failing.clone();
    if let Some(subscription) = ended.billing.subscription.as_mut() {
        subscription.standing = Standing::Ended;
    }
    let ended = save(ended).await;
    assert!(billed(store, &tenant.id).await, "ended, not yet applied");
    let mut settled = ended.clone();
    settled.settled_end = Some("sub_1".into());
    save(settled).await;
    assert!(!billed(store, &tenant.id).await, "ended and applied");
}

pub async fn a_held_e_mail_is_listed_until_released<S: ContractControl>(store: &S) {
    use crate::mail::Email;
    let subject = format!("held {}", uuid::Uuid::new_v4().simple());
    let email = Email {
        to: EmailAddress::parse("held@outbox.example").expect("address"),
        subject: subject.clone(),
        text: "Plain <text>".into(),
        html: "<p>Plain &lt;text&gt;</p>".into(),
    };
    store.hold(&email).await.expect("hold");
    let mine = |held: Vec<crate::mail::Held>| {
        held.into_iter()
            .filter(|held| held.email.subject == subject)
            .collect::<Vec<_>>()
    };
    let listed = mine(store.held(1000).await.expect("held"));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].email, email);
    store.release(&listed[0].id).await.expect("release");
    assert!(mine(store.held(1000).await.expect("held")).is_empty());
}
