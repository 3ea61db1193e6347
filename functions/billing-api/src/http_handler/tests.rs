use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use shared::billing::signature::{WebhookSecret, sign};
use shared::testing::jobs::MemoryJobQueue;
use shared::testing::mailer::MemoryMailer;
use shared::testing::memory_control::MemoryControl;
use shared::testing::{Event, TENANT_A, assert_problem, body_json, seed_sample_tenants};

use super::*;
use shared::domain::tenant::SuspensionCause;
use shared::ids::TenantId;
use shared::store::control::TenantStateChange;
use shared::tenancy::jobs::TenantJob;
use shared::testing::payments::FakeProvider;

#[test]
fn the_route_table_is_the_documents() {
    shared::testing::assert_routes_documented(
        "billing-api",
        ROUTES.iter().map(|(route, _)| *route),
    );
}

const SECRET: &str = "whsec_test_current";
const START: u64 = 1_796_200_000;

#[derive(Debug)]
struct TestClock(AtomicU64);

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

type TestDeps = Deps<MemoryControl, MemoryJobQueue, FakeProvider, MemoryMailer>;

async fn deps() -> (TestDeps, Arc<TestClock>) {
    let control = MemoryControl::new();
    seed_sample_tenants(&control).await;
    let clock = Arc::new(TestClock(AtomicU64::new(START)));
    let deps = Deps {
        control,
        jobs: MemoryJobQueue::default(),
        provider: FakeProvider::default(),
        mailer: MemoryMailer::default(),
        secrets: WebhookSecrets {
            current: WebhookSecret::new(SECRET),
            previous: None,
        },
        config: BillingConfig {
            console_url: "https://console.example".into(),
            grace: Duration::from_secs(7 * 24 * 3600),
        },
        clock: clock.clone(),
    };
    (deps, clock)
}

/// The sweep, on the same stores and clock as `deps`, with a mailer of its own.
fn sweeper(
    deps: &TestDeps,
    clock: &Arc<TestClock>,
) -> crate::sweep::SweepDeps<MemoryControl, MemoryJobQueue, MemoryMailer> {
    crate::sweep::SweepDeps {
        control: deps.control.clone(),
        jobs: deps.jobs.clone(),
        mailer: MemoryMailer::default(),
        config: deps.config.clone(),
        clock: clock.clone(),
    }
}

fn tenant_a() -> TenantId {
    TENANT_A.parse().unwrap()
}

shared::handler_test_harness!("billing-api", TestDeps);

/// A Stripe event about tenant a's subscription `sub_1`.
fn stripe_event(id: &str, kind: &str, created: u64, object: Value) -> String {
    json!({"id": id, "object": "event", "type": kind, "created": created,
           "data": {"object": object}})
    .to_string()
}

fn completed(id: &str, created: u64, plan: &str) -> String {
    stripe_event(
        id,
        "checkout.session.completed",
        created,
        json!({"id": "cs_1", "mode": "subscription", "payment_status": "paid",
               "customer": "cus_1", "subscription": "sub_1",
               "customer_details": {"email": "alice@acme.example"},
               "metadata": {"tenant_id": TENANT_A, "plan": plan}}),
    )
}

fn invoice(id: &str, kind: &str, created: u64) -> String {
    stripe_event(
        id,
        kind,
        created,
        json!({"id": format!("in_{id}"), "subscription": "sub_1", "customer": "cus_1",
               "customer_email": "alice@acme.example",
               "amount_paid": 2900, "amount_due": 2900, "currency": "eur",
               "subscription_details": {"metadata": {"tenant_id": TENANT_A}}}),
    )
}

fn deleted(id: &str, created: u64) -> String {
    stripe_event(
        id,
        "customer.subscription.deleted",
        created,
        json!({"id": "sub_1", "status": "canceled", "customer": "cus_1",
               "metadata": {"tenant_id": TENANT_A}}),
    )
}

/// Delivers `body` signed now, as the provider would.
async fn deliver(deps: &TestDeps, body: &str) -> Response<Body> {
    let now = unix(deps.clock.now());
    let header = sign(body.as_bytes(), now, &[SECRET]);
    deliver_with(deps, body, Some(&header)).await
}

async fn deliver_with(deps: &TestDeps, body: &str, header: Option<&str>) -> Response<Body> {
    let mut event = Event::load("billing-api/webhook.json")
        .without_header("stripe-signature")
        .body(body);
    if let Some(header) = header {
        event = event.header("stripe-signature", header);
    }
    call(deps, event).await
}

/// Changes tenant a's state directly, as another function would.
async fn set_a(deps: &TestDeps, change: TenantStateChange) {
    deps.control
        .set_tenant_state(&tenant_a(), change)
        .await
        .expect("tenant a's state");
}

async fn tier_of_a(deps: &TestDeps) -> (Tier, TenantStatus) {
    let tenant = deps.control.get_tenant(&tenant_a()).await.unwrap();
    (tenant.tier, tenant.status)
}

#[tokio::test]
async fn a_paid_checkout_changes_the_plan_and_a_redelivery_changes_nothing() {
    let (deps, _) = deps().await;
    let body = completed("evt_1", START - 10, "standard");
    for expected in ["applied", "duplicate", "duplicate"] {
        let response = deliver(&deps, &body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(body_json(&response)["outcome"], expected);
    }
    assert_eq!(
        tier_of_a(&deps).await,
        (Tier::Standard, TenantStatus::Active)
    );
    let account = deps.control.account(&tenant_a()).await.unwrap();
    assert_eq!(account.version, 1, "written once");
    assert!(deps.jobs.dispatched().is_empty(), "no storage move");
}

#[tokio::test]
async fn premium_is_reached_through_the_migration_job() {
    let (deps, _) = deps().await;
    let response = deliver(&deps, &completed("evt_1", START - 10, "premium")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        deps.jobs.dispatched(),
        vec![TenantJob::Migrate {
            tenant_id: tenant_a(),
            to_tier: Tier::Premium
        }]
    );
    assert_eq!(
        tier_of_a(&deps).await.0,
        Tier::Basic,
        "the job changes the tier"
    );
}

#[tokio::test]
async fn a_suspended_tenants_storage_moves_only_once_it_is_active() {
    // Suspended by an operator, it pays for premium: nothing moves.
    let (operated, _) = deps().await;
    let suspend = TenantStateChange {
        status: Some(TenantStatus::Suspended),
        ..TenantStateChange::default()
    };
    operated
        .control
        .set_tenant_state(&tenant_a(), suspend)
        .await
        .unwrap();
    deliver(&operated, &completed("evt_1", START - 10, "premium")).await;
    assert!(operated.jobs.dispatched().is_empty());
    assert_eq!(
        tier_of_a(&operated).await,
        (Tier::Basic, TenantStatus::Suspended)
    );

    // Suspended for non-payment, it pays and moves to premium at once (the portal): active
    // again first, then the storage moves.
    let (deps, clock) = deps().await;
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    deliver(&deps, &invoice("evt_2", "invoice.payment_failed", START)).await;
    let week = 7 * 24 * 3600;
    clock.0.store(START + week, Ordering::SeqCst);
    crate::sweep::sweep(&sweeper(&deps, &clock)).await.unwrap();
    assert_eq!(tier_of_a(&deps).await.1, TenantStatus::Suspended);
    let upgraded = stripe_event(
        "evt_3",
        "customer.subscription.updated",
        START + week + 10,
        json!({"id": "sub_1", "object": "subscription", "status": "active",
               "customer": "cus_1", "metadata": {"tenant_id": TENANT_A},
               "items": {"data": [{"price": {"id": "price_premium_month",
                                             "lookup_key": "premium_month"}}]},
               "current_period_end": START + 30 * 24 * 3600}),
    );
    deliver(&deps, &upgraded).await;
    assert_eq!(
        tier_of_a(&deps).await,
        (Tier::Standard, TenantStatus::Active),
        "the job changes the tier"
    );
    assert_eq!(
        deps.jobs.dispatched(),
        vec![TenantJob::Migrate {
            tenant_id: tenant_a(),
            to_tier: Tier::Premium
        }]
    );
}

#[tokio::test]
async fn signatures_are_checked_before_anything_and_every_refusal_looks_the_same() {
    let (deps, clock) = deps().await;
    let body = completed("evt_1", START - 10, "standard");
    let now = START as i64;
    let tampered = body.replace("standard", "premium");
    let cases: Vec<(String, Option<String>)> = vec![
        (body.clone(), None),
        (
            body.clone(),
            Some(sign(body.as_bytes(), now, &["whsec_other"])),
        ),
        (
            body.clone(),
            Some(sign(body.as_bytes(), now - 301, &[SECRET])),
        ),
        (
            body.clone(),
            Some(sign(body.as_bytes(), now + 301, &[SECRET])),
        ),
        (
            tampered.clone(),
            Some(sign(body.as_bytes(), now, &[SECRET])),
        ),
        (body.clone(), Some("t=1,v1=00".to_owned())),
        (
            "not json".to_owned(),
            Some(sign(b"not json", now, &[SECRET])),
        ),
    ];
    let mut details = Vec::new();
    for (payload, header) in cases {
        let response = deliver_with(&deps, &payload, header.as_deref()).await;
        let problem = assert_problem(&response, 400, "invalid-request");
        details.push(problem["detail"].clone());
    }
    details.dedup();
    assert_eq!(
        details.len(),
        1,
        "one answer for every refusal: {details:?}"
    );
    assert_eq!(tier_of_a(&deps).await.0, Tier::Basic, "nothing changed");
    assert_eq!(deps.control.account(&tenant_a()).await.unwrap().version, 0);
    // A replay of a genuine event after the tolerance: refused too.
    let header = sign(body.as_bytes(), now, &[SECRET]);
    clock.0.store(START + 600, Ordering::SeqCst);
    assert_problem(
        &deliver_with(&deps, &body, Some(&header)).await,
        400,
        "invalid-request",
    );
    // Several signatures, one of them valid (a secret being rolled at the provider).
    let now = START as i64 + 600;
    let both = sign(body.as_bytes(), now, &["whsec_old", SECRET]);
    assert_eq!(deliver_with(&deps, &body, Some(&both)).await.status(), 200);
}

#[tokio::test]
async fn a_rotated_secret_is_accepted_during_the_rotation() {
    let (mut deps, _) = deps().await;
    deps.secrets = WebhookSecrets {
        current: WebhookSecret::new("whsec_new"),
        previous: Some(WebhookSecret::new(SECRET)),
    };
    let body = completed("evt_1", START - 10, "standard");
    let old = sign(body.as_bytes(), START as i64, &[SECRET]);
    assert_eq!(deliver_with(&deps, &body, Some(&old)).await.status(), 200);
}

#[tokio::test]
async fn a_deletion_before_the_checkout_leaves_the_tenant_on_the_free_plan() {
    let (deps, _) = deps().await;
    deliver(&deps, &deleted("evt_2", START - 5)).await;
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    deliver(&deps, &invoice("evt_3", "invoice.paid", START - 8)).await;
    assert_eq!(tier_of_a(&deps).await.0, Tier::Basic);
    // In order, the same events end on the free plan too.
    let (deps, _) = self::deps().await;
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    assert_eq!(tier_of_a(&deps).await.0, Tier::Standard);
    deliver(&deps, &deleted("evt_2", START - 5)).await;
    assert_eq!(tier_of_a(&deps).await.0, Tier::Basic);
}

#[tokio::test]
async fn a_failed_payment_suspends_after_the_grace_period_and_a_payment_reactivates() {
    let (deps, clock) = deps().await;
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    deliver(&deps, &invoice("evt_2", "invoice.payment_failed", START)).await;
    let shown = body_json(&call(&deps, fixture("get-billing", "a-admin")).await);
    assert_eq!(shown["status"], "past_due");
    assert_eq!(shown["grace_deadline"], "2026-12-09T08:26:40Z");
    assert_eq!(shown["invoices"][0]["status"], "failed");
    assert_eq!(
        tier_of_a(&deps).await,
        (Tier::Standard, TenantStatus::Active)
    );
    // The provider retries; a week later the grace period is over.
    clock.0.store(START + 7 * 24 * 3600, Ordering::SeqCst);
    deliver(
        &deps,
        &invoice("evt_3", "invoice.payment_failed", START + 7 * 24 * 3600),
    )
    .await;
    assert_eq!(
        tier_of_a(&deps).await,
        (Tier::Standard, TenantStatus::Suspended)
    );
    deliver(
        &deps,
        &invoice("evt_4", "invoice.paid", START + 7 * 24 * 3600 + 60),
    )
    .await;
    assert_eq!(
        tier_of_a(&deps).await,
        (Tier::Standard, TenantStatus::Active)
    );
    let shown = body_json(&call(&deps, fixture("get-billing", "a-member")).await);
    assert_eq!(
        (&shown["status"], &shown["grace_deadline"]),
        (&json!("active"), &Value::Null)
    );
}

#[tokio::test]
async fn with_no_word_from_the_provider_the_sweep_suspends_once_the_grace_period_is_over() {
    use crate::sweep::{Swept, sweep};
    let (deps, clock) = deps().await;
    let swept = sweeper(&deps, &clock);
    deps.control
        .attach_customer(&tenant_a(), "cus_a")
        .await
        .unwrap();
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    deliver(&deps, &invoice("evt_2", "invoice.payment_failed", START)).await;
    let week = 7 * 24 * 3600;
    // A second before the deadline: nothing is due (the paying tenant is only checked).
    let checked_only = Swept {
        checked: 1,
        ..Swept::default()
    };
    clock.0.store(START + week - 1, Ordering::SeqCst);
    assert_eq!(sweep(&swept).await.unwrap(), checked_only);
    assert_eq!(tier_of_a(&deps).await.1, TenantStatus::Active);
    // At the deadline: suspended, and the customer is told, once.
    clock.0.store(START + week, Ordering::SeqCst);
    let first = sweep(&swept).await.unwrap();
    assert_eq!((first.due, first.suspended, first.failed), (1, 1, 0));
    assert_eq!(
        tier_of_a(&deps).await,
        (Tier::Standard, TenantStatus::Suspended)
    );
    let told = swept.mailer.sent();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].to.as_str(), "alice@acme.example");
    assert!(told[0].subject.contains("suspended"), "{}", told[0].subject);
    clock.0.store(START + week + 3600, Ordering::SeqCst);
    assert_eq!(sweep(&swept).await.unwrap(), checked_only);
    assert_eq!(swept.mailer.sent().len(), 1);
    // Suspended, it still sees its billing and reaches the portal to pay; it starts no
    // new checkout.
    let shown = body_json(&call(&deps, fixture("get-billing", "a-member")).await);
    assert_eq!(shown["status"], "past_due", "{shown}");
    let portal = call(&deps, fixture("portal", "a-admin")).await;
    assert_eq!(portal.status(), 200);
    let checkout = call(&deps, fixture("checkout", "a-admin")).await;
    assert_problem(&checkout, 403, "tenant-inactive");
    // An e-mail refused earlier (held in the outbox) goes with the next run.
    let held = mail::payment_failed(
        &EmailAddress::parse("alice@acme.example").unwrap(),
        "Acme",
        "2026-12-09",
        "https://console.example/billing",
        Language::English,
    );
    mail::Outbox::hold(&deps.control, &held).await.unwrap();
    let next = sweep(&swept).await.unwrap();
    assert_eq!((next.mail.sent, next.mail.kept), (1, 0));
    assert_eq!(swept.mailer.sent().last(), Some(&held));
    // Paying lifts the suspension the sweep made.
    deliver(
        &deps,
        &invoice("evt_3", "invoice.paid", START + week + 3700),
    )
    .await;
    assert_eq!(
        tier_of_a(&deps).await,
        (Tier::Standard, TenantStatus::Active)
    );
}

#[tokio::test]
async fn a_payment_before_the_deadline_leaves_nothing_for_the_sweep() {
    use crate::sweep::{Swept, sweep};
    let (deps, clock) = deps().await;
    let swept = sweeper(&deps, &clock);
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    deliver(&deps, &invoice("evt_2", "invoice.payment_failed", START)).await;
    deliver(&deps, &invoice("evt_3", "invoice.paid", START + 60)).await;
    clock.0.store(START + 30 * 24 * 3600, Ordering::SeqCst);
    assert_eq!(
        sweep(&swept).await.unwrap(),
        Swept {
            checked: 1,
            ..Swept::default()
        }
    );
    assert_eq!(tier_of_a(&deps).await.1, TenantStatus::Active);
    assert!(swept.mailer.sent().is_empty());
}

#[tokio::test]
async fn a_cancellation_marks_the_plan_lowered_and_paying_again_clears_it() {
    let (deps, _) = deps().await;
    let lowered = || async {
        deps.control
            .get_tenant(&tenant_a())
            .await
            .unwrap()
            .plan_lowered
    };
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    assert!(!lowered().await);
    deliver(&deps, &deleted("evt_2", START)).await;
    assert_eq!(tier_of_a(&deps).await.0, Tier::Basic);
    assert!(lowered().await);
    let again = stripe_event(
        "evt_3",
        "checkout.session.completed",
        START + 60,
        json!({"id": "cs_2", "mode": "subscription", "payment_status": "paid",
               "customer": "cus_1", "subscription": "sub_2",
               "customer_details": {"email": "alice@acme.example"},
               "metadata": {"tenant_id": TENANT_A, "plan": "standard"}}),
    );
    deliver(&deps, &again).await;
    assert_eq!(tier_of_a(&deps).await.0, Tier::Standard);
    assert!(!lowered().await);
}

#[tokio::test]
async fn the_paying_customer_is_told_each_thing_once() {
    let (deps, clock) = deps().await;
    // Stripe tells of the new subscription before the checkout that made it.
    let created = stripe_event(
        "evt_0",
        "customer.subscription.created",
        START - 11,
        json!({"id": "sub_1", "status": "active", "customer": "cus_1",
               "metadata": {"tenant_id": TENANT_A, "plan": "standard"}}),
    );
    deliver(&deps, &created).await;
    let checkout = completed("evt_1", START - 10, "standard");
    deliver(&deps, &checkout).await;
    deliver(&deps, &checkout).await;
    deliver(&deps, &invoice("evt_2", "invoice.paid", START - 9)).await;
    deliver(&deps, &invoice("evt_3", "invoice.payment_failed", START)).await;
    clock.0.store(START + 7 * 24 * 3600, Ordering::SeqCst);
    deliver(
        &deps,
        &invoice("evt_4", "invoice.payment_failed", START + 7 * 24 * 3600),
    )
    .await;
    let subjects: Vec<String> = deps
        .mailer
        .sent()
        .into_iter()
        .map(|email| {
            assert_eq!(email.to.as_str(), "alice@acme.example");
            email.subject
        })
        .collect();
    assert_eq!(
        subjects,
        vec![
            "Welcome to Tenantry: Acme Tea is ready".to_owned(),
            "Receipt: 29.00 EUR paid for Acme Tea".to_owned(),
            "Payment failed for Acme Tea".to_owned(),
            "Payment failed for Acme Tea".to_owned(),
            "Acme Tea is suspended".to_owned(),
        ],
        "one welcome despite the redelivery"
    );
    let failed = &deps.mailer.sent()[2];
    assert!(failed.text.contains("until 2026-12-09"), "{}", failed.text);
    assert!(
        deps.mailer.sent()[0]
            .text
            .contains("Standard, up to 25 users")
    );
}

#[tokio::test]
async fn notices_follow_the_organizations_locale() {
    let (deps, _) = deps().await;
    let mut settings = deps.control.get_tenant(&tenant_a()).await.unwrap().settings;
    settings.locale = Some("fr-FR".into());
    deps.control
        .update_tenant(&tenant_a(), None, None, Some(settings), None)
        .await
        .unwrap();
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    assert_eq!(
        deps.mailer.sent()[0].subject,
        "Bienvenue sur Tenantry : Acme Tea est prête"
    );
}

#[tokio::test]
async fn an_operators_suspension_is_never_lifted_by_a_payment() {
    let (deps, _) = deps().await;
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    let suspend = TenantStateChange {
        status: Some(TenantStatus::Suspended),
        ..TenantStateChange::default()
    };
    set_a(&deps, suspend).await;
    deliver(&deps, &invoice("evt_2", "invoice.paid", START)).await;
    assert_eq!(tier_of_a(&deps).await.1, TenantStatus::Suspended);
}

/// Suspended for non-payment, then paid: the payment is recorded, but the function stopped
/// before it reactivated the tenant. What happens next must still reactivate it.
async fn paid_but_left_suspended() -> (TestDeps, Arc<TestClock>, String) {
    let (deps, clock) = deps().await;
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    deliver(&deps, &invoice("evt_2", "invoice.payment_failed", START)).await;
    let week = 7 * 24 * 3600;
    clock.0.store(START + week, Ordering::SeqCst);
    deliver(
        &deps,
        &invoice("evt_3", "invoice.payment_failed", START + week),
    )
    .await;
    assert_eq!(tier_of_a(&deps).await.1, TenantStatus::Suspended);
    let mut paid = deps.control.account(&tenant_a()).await.unwrap();
    if let Some(subscription) = paid.billing.subscription.as_mut() {
        subscription.standing = Standing::Active;
    }
    paid.suspended_for_payment = false;
    deps.control
        .save_account(&tenant_a(), &paid, Some("evt_4"))
        .await
        .unwrap();
    assert_eq!(tier_of_a(&deps).await.1, TenantStatus::Suspended);
    (
        deps,
        clock,
        invoice("evt_4", "invoice.paid", START + week + 60),
    )
}

#[tokio::test]
async fn a_payment_whose_reactivation_failed_reactivates_when_the_provider_sends_it_again() {
    let (deps, _, paid) = paid_but_left_suspended().await;
    let again = deliver(&deps, &paid).await;
    assert_eq!(body_json(&again)["outcome"], "duplicate");
    assert_eq!(tier_of_a(&deps).await.1, TenantStatus::Active);
}

#[tokio::test]
async fn a_payment_whose_reactivation_failed_reactivates_at_the_next_sweep() {
    let (deps, clock, _) = paid_but_left_suspended().await;
    crate::sweep::sweep(&sweeper(&deps, &clock)).await.unwrap();
    assert_eq!(tier_of_a(&deps).await.1, TenantStatus::Active);
}

#[tokio::test]
async fn an_operators_suspension_over_a_payment_suspension_outlasts_the_payment() {
    let (deps, clock) = deps().await;
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    deliver(&deps, &invoice("evt_2", "invoice.payment_failed", START)).await;
    let week = 7 * 24 * 3600;
    clock.0.store(START + week, Ordering::SeqCst);
    crate::sweep::sweep(&sweeper(&deps, &clock)).await.unwrap();
    let held = deps.control.get_tenant(&tenant_a()).await.unwrap();
    assert_eq!(
        (held.status, held.suspended_for),
        (TenantStatus::Suspended, Some(SuspensionCause::Payment))
    );
    // An operator suspends it too (what admin-api writes).
    let suspend = TenantStateChange {
        status: Some(TenantStatus::Suspended),
        suspended_for: Some(SuspensionCause::Operator),
        ..TenantStateChange::default()
    };
    set_a(&deps, suspend).await;
    deliver(&deps, &invoice("evt_3", "invoice.paid", START + week + 60)).await;
    crate::sweep::sweep(&sweeper(&deps, &clock)).await.unwrap();
    assert_eq!(tier_of_a(&deps).await.1, TenantStatus::Suspended);
    let shown = body_json(&call(&deps, fixture("get-billing", "a-member")).await);
    assert_eq!(shown["status"], "active", "paid, still suspended: {shown}");
}

#[tokio::test]
async fn a_cancellation_during_a_move_to_premium_is_applied_once_the_move_ends() {
    let (deps, clock) = deps().await;
    deliver(&deps, &completed("evt_1", START - 10, "premium")).await;
    // The migration job freezes the tenant while it moves the data.
    let freeze = TenantStateChange {
        status: Some(TenantStatus::Provisioning),
        ..TenantStateChange::default()
    };
    set_a(&deps, freeze).await;
    deliver(&deps, &deleted("evt_2", START)).await;
    // The move ends: premium and active. The provider says nothing more.
    let switched = TenantStateChange {
        status: Some(TenantStatus::Active),
        tier: Some(Tier::Premium),
        ..TenantStateChange::default()
    };
    set_a(&deps, switched).await;
    clock.0.store(START + 3600, Ordering::SeqCst);
    crate::sweep::sweep(&sweeper(&deps, &clock)).await.unwrap();
    assert_eq!(
        deps.jobs.dispatched().last(),
        Some(&TenantJob::Migrate {
            tenant_id: tenant_a(),
            to_tier: Tier::Basic
        }),
        "premium is not kept for free"
    );
}

#[tokio::test]
async fn the_sweep_repairs_a_tier_that_drifted_from_the_subscription_and_says_so() {
    use crate::sweep::sweep;
    let (deps, clock) = deps().await;
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    // Something moved the tenant off the plan it pays for, behind billing's back.
    let drift = TenantStateChange {
        tier: Some(Tier::Basic),
        ..TenantStateChange::default()
    };
    set_a(&deps, drift).await;
    let swept = sweep(&sweeper(&deps, &clock)).await.unwrap();
    assert_eq!((swept.checked, swept.repaired), (1, 1));
    assert_eq!(tier_of_a(&deps).await.0, Tier::Standard);
    let again = sweep(&sweeper(&deps, &clock)).await.unwrap();
    assert_eq!((again.checked, again.repaired), (1, 0), "in line now");
}

#[tokio::test]
async fn an_older_checkout_page_is_expired_when_another_is_made() {
    let (deps, _) = deps().await;
    for _ in 0..2 {
        let response = call(&deps, fixture("checkout", "a-admin")).await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        deps.provider.expired(),
        vec!["cus_fake1".to_owned(), "cus_fake1".to_owned()],
        "every new page expires the customer's open ones"
    );
}

#[tokio::test]
async fn a_second_subscription_is_cancelled_and_the_newer_kept() {
    let (deps, _) = deps().await;
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    assert_eq!(deps.provider.expired(), vec!["cus_1".to_owned()]);
    assert!(deps.provider.cancelled().is_empty());
    // An older page, paid before it could be expired, starts a second subscription.
    let second = stripe_event(
        "evt_2",
        "checkout.session.completed",
        START,
        json!({"id": "cs_2", "mode": "subscription", "payment_status": "paid",
               "customer": "cus_1", "subscription": "sub_2",
               "metadata": {"tenant_id": TENANT_A, "plan": "premium"}}),
    );
    deliver(&deps, &second).await;
    assert_eq!(
        deps.provider.cancelled(),
        vec![("sub_1".to_owned(), Cancellation::Duplicate)]
    );
    let account = deps.control.account(&tenant_a()).await.unwrap();
    assert_eq!(
        account.billing.subscription.map(|s| (s.id, s.plan)),
        Some(("sub_2".to_owned(), Tier::Premium))
    );
    // The cancelled one's own news changes nothing and cancels nothing new.
    deliver(&deps, &deleted("evt_3", START + 10)).await;
    assert_eq!(deps.provider.cancelled().len(), 1);
}

#[tokio::test]
async fn events_for_no_tenant_or_of_no_interest_are_acknowledged_and_change_nothing() {
    let (deps, _) = deps().await;
    let unknown = stripe_event("evt_9", "customer.created", START, json!({"id": "cus_9"}));
    let stranger = stripe_event(
        "evt_8",
        "invoice.paid",
        START,
        json!({"id": "in_8", "subscription": "sub_8", "customer": "cus_unknown"}),
    );
    let gone =
        completed("evt_7", START, "standard").replace(TENANT_A, "01JB8Z4K2M6Q9R3T5V7W9XZZZZ");
    for body in [unknown, stranger, gone] {
        let response = deliver(&deps, &body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(body_json(&response)["outcome"], "ignored");
    }
    assert_eq!(tier_of_a(&deps).await.0, Tier::Basic);
}

#[tokio::test]
async fn a_removed_members_token_is_refused_at_once_on_every_billing_route() {
    use shared::store::control::MemberStore;
    let (deps, _) = deps().await;
    deps.control
        .remove_member(&tenant_a(), &shared::testing::user_id("a-member"))
        .await
        .unwrap();
    for event in [
        fixture("get-billing", "a-member"),
        fixture("checkout", "a-member"),
        fixture("portal", "a-member"),
    ] {
        assert_problem(&call(&deps, event).await, 401, "token-revoked");
    }
    // Another tenant's admin reads only their own billing, whatever the request names.
    let theirs = body_json(
        &call(
            &deps,
            fixture("get-billing", "b-admin").query("tenant_id", TENANT_A),
        )
        .await,
    );
    assert_eq!(theirs["plan"], "standard", "tenant b's own plan");
}

#[tokio::test]
async fn admins_check_out_once_per_tenant_and_members_cannot() {
    let (deps, _) = deps().await;
    let body = |plan: &str, interval: &str| json!({"plan": plan, "interval": interval}).to_string();
    let response = call(
        &deps,
        fixture("checkout", "a-admin").body(&body("premium", "year")),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        body_json(&response)["url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.example/")
    );
    let again = call(
        &deps,
        fixture("checkout", "a-admin").body(&body("standard", "month")),
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        deps.provider.customers.lock().unwrap().len(),
        1,
        "one customer per tenant"
    );
    let checkouts = deps.provider.checkouts.lock().unwrap().clone();
    assert_eq!(
        (
            checkouts[0].tenant,
            checkouts[0].plan,
            checkouts[0].interval
        ),
        (tenant_a(), Tier::Premium, Interval::Year)
    );
    assert_eq!(checkouts[0].customer, checkouts[1].customer);
    assert_problem(
        &call(
            &deps,
            fixture("checkout", "a-member").body(&body("premium", "year")),
        )
        .await,
        403,
        "forbidden",
    );
    for (plan, interval) in [("basic", "month"), ("gold", "month"), ("premium", "weekly")] {
        assert_problem(
            &call(
                &deps,
                fixture("checkout", "a-admin").body(&body(plan, interval)),
            )
            .await,
            400,
            "validation-failed",
        );
    }
    // Once subscribed, plan changes go through the portal.
    deliver(&deps, &completed("evt_1", START - 10, "standard")).await;
    assert_problem(
        &call(
            &deps,
            fixture("checkout", "a-admin").body(&body("premium", "year")),
        )
        .await,
        409,
        "already-subscribed",
    );
    let portal = call(&deps, fixture("portal", "a-admin")).await;
    assert_eq!(
        body_json(&portal)["url"],
        format!("https://portal.example/{}", checkouts[0].customer)
    );
    assert_problem(
        &call(&deps, fixture("portal", "b-admin")).await,
        409,
        "no-billing-account",
    );
    assert_problem(
        &call(&deps, fixture("portal", "a-member")).await,
        403,
        "forbidden",
    );
}
