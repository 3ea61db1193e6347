#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Paid plans end to end: the local stack's Stripe stand-in plays the customer's payment and
//! sends Stripe's signed webhook events through the local gateway, as Stripe would.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use shared::billing::signature::sign;
use tenantry_tests::stack::{PASSWORD, Reply, Stack, Tokens, claims, unique_email};

/// A new organization's admin, signed in.
async fn new_organization(stack: &Stack, label: &str) -> (String, String, Tokens) {
    let email = unique_email(label);
    stack.sign_up(&email, &format!("{label} Org"), None).await;
    let admin = stack.sign_in(&email, PASSWORD).await.unwrap();
    let tenant = claims(&admin.id)["tenant_id"].as_str().unwrap().to_owned();
    (tenant, email, admin)
}

async fn get(stack: &Stack, token: &str, path: &str) -> Value {
    let reply = stack.call(Some(token), "GET", path, None).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.body
}

async fn checkout(stack: &Stack, token: &str, plan: &str) -> Reply {
    stack
        .call(
            Some(token),
            "POST",
            "/billing/checkout",
            Some(&json!({"plan": plan, "interval": "month"})),
        )
        .await
}

/// Polls `GET /tenant` until its tier is `tier` (a storage migration takes its drain time).
async fn wait_for_tier(stack: &Stack, token: &str, tier: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let tenant = get(stack, token, "/tenant").await;
        if tenant["tier"] == tier && tenant["status"] == "active" {
            return tenant;
        }
        assert!(
            Instant::now() < deadline,
            "the tenant is still {} / {}, not {tier}",
            tenant["tier"],
            tenant["status"]
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_pays_and_gets_its_plan_with_nothing_done_by_hand() {
    let stack = Stack::from_env();
    let (_, email, admin) = new_organization(&stack, "paying").await;
    // The sign-up's access data, by e-mail.
    let mail = stack.sent_mail(&email).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert!(
        mail[0].0.starts_with("Welcome to Tenantry: paying Org"),
        "{mail:?}"
    );
    assert!(mail[0].1.contains("Basic (free)") && mail[0].1.contains(&email));
    let before = get(&stack, &admin.id, "/billing").await;
    assert_eq!(
        (&before["plan"], &before["status"]),
        (&json!("basic"), &json!("none"))
    );

    // Choose a plan: the answer is the provider's payment page.
    let started = checkout(&stack, &admin.id, "standard").await;
    assert_eq!(started.status, 200, "{}", started.body);
    let url = started.body["url"].as_str().unwrap();
    assert!(url.starts_with(&stack.stripe_endpoint), "{url}");
    // Pay: the provider tells the service, which changes the plan and raises the limits.
    stack.customer_step(&email, "pay").await;
    let tenant = wait_for_tier(&stack, &admin.id, "standard").await;
    assert_eq!(tenant["limits"]["max_users"], 25, "{tenant}");
    let billing = get(&stack, &admin.id, "/billing").await;
    assert_eq!(
        (&billing["status"], &billing["invoices"][0]["status"]),
        (&json!("active"), &json!("paid")),
        "{billing}"
    );
    // The paid plan's access data and the receipt, by e-mail.
    let subjects: Vec<String> = stack
        .sent_mail(&email)
        .await
        .into_iter()
        .map(|(subject, _)| subject)
        .collect();
    assert_eq!(
        subjects[1..],
        [
            "Welcome to Tenantry: paying Org is ready".to_owned(),
            "Receipt: 29.00 EUR paid for paying Org".to_owned()
        ],
        "{subjects:?}"
    );
    assert!(billing["period_end"].is_string());
    // Paying again for what it has is refused: plan changes go through the portal.
    let twice = checkout(&stack, &admin.id, "premium").await;
    assert_eq!(
        (twice.status, twice.body["code"].as_str()),
        (409, Some("already-subscribed"))
    );
    let portal = stack
        .call(Some(&admin.id), "POST", "/billing/portal", None)
        .await;
    assert!(
        portal.body["url"]
            .as_str()
            .is_some_and(|url| url.starts_with(&stack.stripe_endpoint)),
        "{}",
        portal.body
    );

    // A failed payment: a grace period, shown; the plan stays meanwhile.
    stack.customer_step(&email, "fail").await;
    let billing = get(&stack, &admin.id, "/billing").await;
    assert_eq!(billing["status"], "past_due", "{billing}");
    let notice = stack.sent_mail(&email).await.pop().unwrap();
    assert_eq!(notice.0, "Payment failed for paying Org");
    assert!(billing["grace_deadline"].is_string(), "{billing}");
    assert_eq!(get(&stack, &admin.id, "/tenant").await["tier"], "standard");
    // No payment within the grace period (30 s locally): the scheduled sweep suspends the
    // organization and says so; it still sees its billing, to pay.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let reply = stack.call(Some(&admin.id), "GET", "/tenant", None).await;
        if reply.status == 403 {
            assert_eq!(reply.body["code"], "tenant-inactive", "{}", reply.body);
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            Instant::now() < deadline,
            "not suspended 90 s after a failed payment"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let notice = stack.sent_mail(&email).await.pop().unwrap();
    assert_eq!(notice.0, "paying Org is suspended");
    assert_eq!(
        get(&stack, &admin.id, "/billing").await["status"],
        "past_due"
    );
    // Paying lifts the suspension at once.
    stack.customer_step(&email, "pay-again").await;
    let billing = get(&stack, &admin.id, "/billing").await;
    assert_eq!(
        (&billing["status"], &billing["grace_deadline"]),
        (&json!("active"), &Value::Null)
    );
    assert_eq!(get(&stack, &admin.id, "/tenant").await["status"], "active");

    // Cancelled: back to the free plan, data kept.
    stack.customer_step(&email, "cancel").await;
    wait_for_tier(&stack, &admin.id, "basic").await;
    assert_eq!(get(&stack, &admin.id, "/billing").await["status"], "ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn premium_moves_the_data_to_its_own_table_and_cancelling_moves_it_back() {
    let stack = Stack::from_env();
    let (_, email, admin) = new_organization(&stack, "premium-payer").await;
    let product = stack
        .call(
            Some(&admin.id),
            "POST",
            "/products",
            Some(&json!({"name": "Gyokuro", "sku": "TEA-GYO", "price": 4200, "currency": "EUR"})),
        )
        .await;
    assert_eq!(product.status, 201, "{}", product.body);
    let path = format!("/products/{}", product.body["id"].as_str().unwrap());
    assert_eq!(checkout(&stack, &admin.id, "premium").await.status, 200);
    stack.customer_step(&email, "pay").await;
    wait_for_tier(&stack, &admin.id, "premium").await;
    assert_eq!(
        get(&stack, &admin.id, &path).await,
        product.body,
        "moved intact"
    );
    stack.customer_step(&email, "cancel").await;
    wait_for_tier(&stack, &admin.id, "basic").await;
    assert_eq!(
        get(&stack, &admin.id, &path).await,
        product.body,
        "moved back intact"
    );
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A `checkout.session.completed` for `tenant`, as Stripe sends it.
fn completed(tenant: &str, event: &str, subscription: &str) -> String {
    json!({"id": event, "object": "event", "type": "checkout.session.completed",
           "created": unix_now(),
           "data": {"object": {"id": "cs_x", "object": "checkout.session", "mode": "subscription",
                               "payment_status": "paid", "customer": "cus_x",
                               "subscription": subscription,
                               "metadata": {"tenant_id": tenant, "plan": "standard"}}}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_takes_only_signed_fresh_events_and_applies_each_once() {
    let stack = Stack::from_env();
    let (tenant, _, admin) = new_organization(&stack, "webhooked").await;
    let secret = stack.stripe_webhook_secret.as_str();
    let event = format!("evt_e2e_{}", uuid::Uuid::new_v4().simple());
    let body = completed(&tenant, &event, &format!("sub_{event}"));
    let now = unix_now();
    let refused = [
        (body.clone(), None),
        (
            body.clone(),
            Some(sign(body.as_bytes(), now, &["whsec_guess"])),
        ),
        (
            body.clone(),
            Some(sign(body.as_bytes(), now - 600, &[secret])),
        ),
        (
            body.replace("standard", "premium"),
            Some(sign(body.as_bytes(), now, &[secret])),
        ),
    ];
    for (payload, signature) in refused {
        let reply = stack.post_webhook(&payload, signature.as_deref()).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (400, Some("invalid-request")),
            "{}",
            reply.body
        );
    }
    assert_eq!(get(&stack, &admin.id, "/tenant").await["tier"], "basic");
    // The genuine event, delivered three times at once and then once more: applied once.
    let signature = sign(body.as_bytes(), unix_now(), &[secret]);
    let replies = futures_join(&stack, &body, &signature).await;
    let mut outcomes: Vec<String> = replies
        .iter()
        .map(|reply| {
            assert_eq!(reply.status, 200, "{}", reply.body);
            reply.body["outcome"].as_str().unwrap().to_owned()
        })
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "applied").count(),
        1,
        "{outcomes:?}"
    );
    let again = stack.post_webhook(&body, Some(&signature)).await;
    assert_eq!(again.body["outcome"], "duplicate");
    assert_eq!(get(&stack, &admin.id, "/tenant").await["tier"], "standard");
    // The other billing routes need a token.
    for (method, path) in [
        ("GET", "/billing"),
        ("POST", "/billing/checkout"),
        ("POST", "/billing/portal"),
    ] {
        assert_eq!(
            stack.call(None, method, path, None).await.status,
            401,
            "{path}"
        );
    }
}

/// The same delivery three times, concurrently.
async fn futures_join(stack: &Stack, body: &str, signature: &str) -> Vec<Reply> {
    let (a, b, c) = tokio::join!(
        stack.post_webhook(body, Some(signature)),
        stack.post_webhook(body, Some(signature)),
        stack.post_webhook(body, Some(signature)),
    );
    vec![a, b, c]
}

/// Polls `POST /products` until its answer has `status` (the data APIs see a tenant record at
/// most 10 s old).
async fn create_product_until(stack: &Stack, token: &str, sku: &str, status: u16) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = stack
            .call(
                Some(token),
                "POST",
                "/products",
                Some(&json!({"name": "Sencha", "sku": sku, "price": 1250, "currency": "EUR"})),
            )
            .await;
        if reply.status == status {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "still {} {}, not {status}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_organization_over_the_free_plan_is_read_only_until_within_it() {
    let stack = Stack::from_env();
    let (_, email, admin) = new_organization(&stack, "shrinking").await;
    assert_eq!(checkout(&stack, &admin.id, "standard").await.status, 200);
    stack.customer_step(&email, "pay").await;
    wait_for_tier(&stack, &admin.id, "standard").await;
    // Six users: more than the free plan's five.
    let mut invited = Vec::new();
    for i in 0..5 {
        let reply = stack
            .call(
                Some(&admin.id),
                "POST",
                "/users",
                Some(&json!({"email": unique_email(&format!("shrinking-{i}")), "role": "member"})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        invited.push(reply.body["user_id"].as_str().unwrap().to_owned());
    }
    stack.customer_step(&email, "cancel").await;
    let tenant = wait_for_tier(&stack, &admin.id, "basic").await;
    assert_eq!(
        (&tenant["read_only"], &tenant["usage"]["users"]),
        (&json!(true), &json!(6)),
        "{tenant}"
    );
    let refused = create_product_until(&stack, &admin.id, "RO-1", 409).await;
    assert_eq!(refused.body["code"], "over-plan-limits", "{}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("6 users of 5")),
        "{}",
        refused.body
    );
    // Reading still works; removing one user brings it within the plan, and writing works.
    get(&stack, &admin.id, "/products").await;
    let removed = stack
        .call(
            Some(&admin.id),
            "DELETE",
            &format!("/users/{}", invited[0]),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    create_product_until(&stack, &admin.id, "RO-1", 201).await;
    assert_eq!(get(&stack, &admin.id, "/tenant").await["read_only"], false);
}

/// The session id of a checkout page's URL (`<stand-in>/checkout/<id>`).
fn session_of(reply: &Reply) -> String {
    let url = reply.body["url"].as_str().unwrap_or_default();
    url.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Polls the Stripe stand-in until `done` holds of the customer's subscriptions.
async fn wait_for_subscriptions(
    stack: &Stack,
    email: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let subscriptions = stack.subscriptions_of(email).await;
        if done(&subscriptions) {
            return subscriptions;
        }
        assert!(Instant::now() < deadline, "{what}: {subscriptions:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn live(subscriptions: &[Value]) -> Vec<&Value> {
    subscriptions
        .iter()
        .filter(|s| s["status"] != "canceled")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_switched_in_the_customer_portal_becomes_the_organizations_plan() {
    let stack = Stack::from_env();
    let (_, email, admin) = new_organization(&stack, "switcher").await;
    assert_eq!(checkout(&stack, &admin.id, "standard").await.status, 200);
    stack.customer_step(&email, "pay").await;
    wait_for_tier(&stack, &admin.id, "standard").await;
    // The portal changes the subscription's price; its metadata still says what checkout wrote.
    let path = format!("/test/emails/{}/change-plan", email.replace('@', "%40"));
    let (status, switched) = stack
        .stripe("POST", &path, &[("plan", "premium"), ("interval", "month")])
        .await;
    assert_eq!(status, 200, "{switched}");
    wait_for_tier(&stack, &admin.id, "premium").await;
    assert_eq!(
        get(&stack, &admin.id, "/billing").await["subscribed_plan"],
        "premium"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_checkout_page_cannot_start_a_second_subscription() {
    let stack = Stack::from_env();
    let (_, email, admin) = new_organization(&stack, "two-pages").await;
    let first = checkout(&stack, &admin.id, "standard").await;
    let second = checkout(&stack, &admin.id, "standard").await;
    assert_eq!((first.status, second.status), (200, 200));
    let (older, newer) = (session_of(&first), session_of(&second));
    // The older page was expired when the newer one was made: it cannot be paid.
    let (status, refused) = stack
        .stripe("POST", &format!("/checkout/{older}/pay"), &[])
        .await;
    assert_eq!(status, 400, "the older page was paid: {refused}");
    let (status, _) = stack
        .stripe("POST", &format!("/checkout/{newer}/pay"), &[])
        .await;
    assert!(status < 400, "the newer page pays ({status})");
    wait_for_tier(&stack, &admin.id, "standard").await;
    // A payment of the older page that Stripe completed just before it expired starts a second
    // subscription anyway: the newer of the two is kept, the other cancelled with its unused
    // time credited.
    let (status, late) = stack
        .stripe("POST", &format!("/test/checkout/{older}/pay-late"), &[])
        .await;
    assert_eq!(status, 200, "{late}");
    let subscriptions = wait_for_subscriptions(&stack, &email, "one subscription kept", |all| {
        all.len() == 2 && live(all).len() == 1
    })
    .await;
    let cancelled = subscriptions
        .iter()
        .find(|s| s["status"] == "canceled")
        .unwrap();
    assert_eq!(cancelled["cancellation"]["prorate"], "true", "{cancelled}");
    let kept = live(&subscriptions)[0]["id"].clone();
    let billing = get(&stack, &admin.id, "/billing").await;
    assert_eq!(billing["status"], "active", "{billing}");
    assert_ne!(kept, cancelled["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_suspension_made_during_a_payment_suspension_outlasts_the_payment() {
    let stack = Stack::from_env();
    let (tenant, email, admin) = new_organization(&stack, "held-twice").await;
    assert_eq!(checkout(&stack, &admin.id, "standard").await.status, 200);
    stack.customer_step(&email, "pay").await;
    wait_for_tier(&stack, &admin.id, "standard").await;
    stack.customer_step(&email, "fail").await;
    // Suspended for the payment once its grace period (30 s locally) is over.
    let deadline = Instant::now() + Duration::from_secs(90);
    while stack
        .call(Some(&admin.id), "GET", "/tenant", None)
        .await
        .status
        != 403
    {
        assert!(Instant::now() < deadline, "not suspended for the payment");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ops = stack.platform_operator().await;
    let suspended = stack
        .call(
            Some(&ops.id),
            "PATCH",
            &format!("/admin/tenants/{tenant}"),
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(suspended.status, 200, "{}", suspended.body);
    stack.customer_step(&email, "pay-again").await;
    assert_eq!(
        get(&stack, &admin.id, "/billing").await["status"],
        "active",
        "paid"
    );
    // Two runs of the sweep (every 5 s locally) later, the operator's suspension still stands.
    let sweeps = |log: &str| log.matches("billing sweep done").count();
    let before = sweeps(&stack.functions_log());
    let deadline = Instant::now() + Duration::from_secs(60);
    while sweeps(&stack.functions_log()) < before + 2 {
        assert!(Instant::now() < deadline, "the sweep does not run");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let reply = stack.call(Some(&admin.id), "GET", "/tenant", None).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (403, Some("tenant-inactive")),
        "a payment lifted an operator's suspension"
    );
}
