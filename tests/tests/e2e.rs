#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! End to end, through the real sign-up flow: cognito-local with the real triggers, the local
//! API gateway verifying tokens, the functions served by `cargo lambda watch`, moto behind them.
//! The stack is started by `make test` (scripts/local_stack.py).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::store::control::TenantStore;
use shared::tenancy::storage::TenantStorage;
use tenantry_tests::stack::{PASSWORD, Reply, Stack, Tokens, claims, unique_email};

/// An organization with an admin and a member, both signed in.
struct Org {
    tenant_id: String,
    admin_email: String,
    admin: Tokens,
    member: Tokens,
    member_id: String,
    member_email: String,
}

/// Signs up an organization through Cognito, then its admin invites a colleague through the API,
/// who signs in with the temporary password and sets a new one.
async fn organization(stack: &Stack, label: &str) -> Org {
    let admin_email = unique_email(&format!("{label}-admin"));
    stack
        .sign_up(&admin_email, &format!("{label} Org"), None)
        .await;
    let admin = stack.sign_in(&admin_email, PASSWORD).await.unwrap();
    let tenant_id = claims(&admin.id)["tenant_id"]
        .as_str()
        .expect("the ID token names the tenant")
        .to_owned();

    let member_email = unique_email(&format!("{label}-member"));
    let invited = stack
        .call(
            Some(&admin.id),
            "POST",
            "/users",
            Some(&json!({"email": member_email, "role": "member"})),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let member = stack
        .first_sign_in(&member_email, "Member-Chosen-Password-7")
        .await;
    Org {
        tenant_id,
        admin_email,
        admin,
        member,
        member_id: invited.body["user_id"].as_str().unwrap().to_owned(),
        member_email,
    }
}

/// A removed or offboarded member: deleted from the pool (their password no longer signs in),
/// and their address free to be invited again (here by `inviter`).
async fn assert_gone_and_invitable(stack: &Stack, email: &str, inviter: &str) {
    assert!(
        stack
            .sign_in(email, "Member-Chosen-Password-7")
            .await
            .is_err(),
        "the user is deleted from the pool"
    );
    let invited = stack
        .call(
            Some(inviter),
            "POST",
            "/users",
            Some(&json!({"email": email, "role": "member"})),
        )
        .await;
    assert_eq!(
        invited.status, 201,
        "the address can be invited again: {}",
        invited.body
    );
}

fn product_body(sku: &str) -> Value {
    json!({"name": "Sencha", "description": "Green tea", "sku": sku, "price": 1250, "currency": "EUR"})
}

async fn create_product(stack: &Stack, token: &str, sku: &str) -> Value {
    let reply = stack
        .call(Some(token), "POST", "/products", Some(&product_body(sku)))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

async fn create_order(stack: &Stack, token: &str, product_id: &str, quantity: u32) -> Value {
    let body = json!({"lines": [{"product_id": product_id, "quantity": quantity}]});
    let reply = stack
        .call(Some(token), "POST", "/orders", Some(&body))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_organizations_sign_up_and_work_independently() {
    let stack = Stack::from_env();
    let (a, b) = tokio::join!(organization(&stack, "alpha"), organization(&stack, "beta"));

    // Cognito's invitation e-mail is the service's: the pool's custom-message trigger (as the
    // local Cognito invokes it) names the organization and who invited. (cognito-local's log of
    // what it "sent" is written asynchronously and not always complete, so the trigger is
    // invoked here as Cognito invokes it, with the client metadata users-api passes.)
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(stack.logs.join("cognito/.cognito/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["TriggerFunctions"]["CustomMessage"], "custom-message",
        "the local pool calls the trigger"
    );
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(
            shared::testing::events_dir().join("custom-message/admin-create-user.json"),
        )
        .unwrap(),
    )
    .unwrap();
    event["request"]["clientMetadata"] =
        json!({"organization": "alpha Org", "inviter": a.admin_email});
    let (status, written) = stack.invoke("custom-message", &event).await;
    assert_eq!(status, 200, "{written}");
    let message = written["response"]["emailMessage"].as_str().unwrap();
    assert!(
        message.contains(&format!("{} invited you to alpha Org", a.admin_email))
            && message.contains("{####}")
            && message.contains("{username}"),
        "{message}"
    );

    // The pre-token trigger put each tenant into its users' ID tokens.
    assert_ne!(a.tenant_id, b.tenant_id);
    for (org, token, role) in [
        (&a, &a.admin, "admin"),
        (&a, &a.member, "member"),
        (&b, &b.member, "member"),
    ] {
        let c = claims(&token.id);
        assert_eq!(
            (
                c["tenant_id"].as_str(),
                c["tenant_role"].as_str(),
                c["tenant_tier"].as_str()
            ),
            (Some(org.tenant_id.as_str()), Some(role), Some("basic"))
        );
        assert_eq!(c["token_use"], "id");
    }
    let me = stack.call(Some(&a.member.id), "GET", "/me", None).await;
    assert_eq!(
        me.body["tenant"],
        json!({"id": a.tenant_id, "name": "alpha Org", "role": "member", "tier": "basic"})
    );
    assert_eq!(me.body["email"], a.member_email);

    // Products: create, list, replace with If-Match.
    let tea = create_product(&stack, &a.member.id, "TEA-1").await;
    let cup = create_product(&stack, &a.admin.id, "CUP-1").await;
    let listed = stack
        .call(Some(&a.member.id), "GET", "/products", None)
        .await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![cup["id"].as_str().unwrap(), tea["id"].as_str().unwrap()]
    );
    let path = format!("/products/{}", tea["id"].as_str().unwrap());
    let mut replacement = product_body("TEA-1");
    replacement["price"] = json!(1400);
    replacement["version"] = json!(1);
    let replaced = stack
        .call(Some(&a.member.id), "PUT", &path, Some(&replacement))
        .await;
    assert_eq!(
        (replaced.status, replaced.etag.as_deref()),
        (200, Some("\"2\""))
    );
    let stale = stack
        .call(Some(&a.member.id), "PUT", &path, Some(&replacement))
        .await;
    assert_eq!(
        (stale.status, stale.body["code"].as_str()),
        (409, Some("version-conflict"))
    );

    // Orders: priced from the catalogue, listed, moved along the lifecycle.
    let order = create_order(&stack, &a.member.id, tea["id"].as_str().unwrap(), 3).await;
    assert_eq!(
        (order["total"].as_i64(), order["status"].as_str()),
        (Some(3 * 1400), Some("pending"))
    );
    let order_path = format!("/orders/{}", order["id"].as_str().unwrap());
    let paid = stack
        .call(
            Some(&a.admin.id),
            "PATCH",
            &order_path,
            Some(&json!({"status": "paid", "version": 1})),
        )
        .await;
    assert_eq!(paid.body["status"], "paid");
    let skipped = stack
        .call(
            Some(&a.admin.id),
            "PATCH",
            &order_path,
            Some(&json!({"status": "delivered"})),
        )
        .await;
    assert_eq!(
        (skipped.status, skipped.body["code"].as_str()),
        (409, Some("invalid-transition"))
    );
    let orders = stack.call(Some(&a.member.id), "GET", "/orders", None).await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 1);

    // Tenant b sees none of it.
    let theirs = stack
        .call(Some(&b.admin.id), "GET", "/products", None)
        .await;
    assert_eq!(theirs.body["items"], json!([]));
    let tenant = stack.call(Some(&b.member.id), "GET", "/tenant", None).await;
    assert_eq!(
        (
            tenant.body["id"].as_str(),
            tenant.body["usage"]["products"].as_u64()
        ),
        (Some(b.tenant_id.as_str()), Some(0))
    );
}

/// Every route of template.yaml, attacked by tenant b's admin and member with tenant a's ids,
/// cursors and bodies naming tenant a. Afterwards tenant a's data, read as a, is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_attack_matrix_over_every_route() {
    let stack = Stack::from_env();
    let (a, b) = tokio::join!(
        organization(&stack, "victim"),
        organization(&stack, "attacker")
    );
    let victim = prepare_victim(&stack, &a).await;
    let before = snapshot(&stack, &a).await;
    let t = &a.tenant_id;
    let mut attacks = tenant_route_attacks(&a, &victim);
    // The caller's own organizations: b's people are no members of a, whatever they name.
    attacks.extend::<Vec<Attack>>(vec![
        (
            "/me/organizations",
            "GET",
            "/me/organizations".into(),
            None,
            &[200],
            &[200],
        ),
        (
            "/me/organizations",
            "POST",
            "/me/organizations".into(),
            Some(json!({"name": "Hijack Shop", "tenant_id": t})),
            &[400],
            &[400],
        ),
        (
            "/me/organizations/{tenantId}",
            "DELETE",
            format!("/me/organizations/{t}"),
            None,
            &[404],
            &[404],
        ),
        (
            "/me/active-organization",
            "PUT",
            "/me/active-organization".into(),
            Some(json!({"tenant_id": t})),
            &[404],
            &[404],
        ),
        (
            "/me/invitations",
            "GET",
            "/me/invitations".into(),
            None,
            &[200],
            &[200],
        ),
        (
            "/me/invitations/{tenantId}",
            "POST",
            format!("/me/invitations/{t}"),
            Some(json!({"accept": true})),
            &[404],
            &[404],
        ),
    ]);
    run_attacks(&stack, &a, &attacks, Some(&b.admin.id), Some(&b.member.id)).await;
    // The routes with nothing to attack answer with b's own data only.
    for (path, field) in [("/me", "/tenant/id"), ("/tenant", "/id")] {
        let reply = stack.call(Some(&b.member.id), "GET", path, None).await;
        assert_eq!(
            reply.body.pointer(field).and_then(Value::as_str),
            Some(b.tenant_id.as_str()),
            "{path}"
        );
    }
    // b's admin deletes b, naming a in the query: b goes, a stays.
    let deleted = stack
        .call(
            Some(&b.admin.id),
            "DELETE",
            &format!("/tenant?tenant_id={t}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 202, "{}", deleted.body);

    // Every route of the template was attacked (or checked above).
    let covered: BTreeSet<(String, String)> = attacks
        .iter()
        .map(|(route, method, ..)| (method.to_string(), route.to_string()))
        .chain(
            [("GET", "/me"), ("GET", "/tenant"), ("GET", "/openapi.json")]
                .map(|(m, r)| (m.to_owned(), r.to_owned())),
        )
        .collect();
    let routes: Value =
        serde_json::from_str(&std::fs::read_to_string(stack.logs.join("routes.json")).unwrap())
            .unwrap();
    // Exactly these routes go without the Cognito authorizer (the payment provider's calls,
    // authenticated by their signature); any other route without it is a mistake.
    // And the API's document, which says nothing of any tenant.
    let exempt = BTreeSet::from([
        ("POST".to_owned(), "/billing/webhook".to_owned()),
        ("GET".to_owned(), "/openapi.json".to_owned()),
    ]);
    for route in routes.as_array().unwrap() {
        let key = (
            route["method"].as_str().unwrap().to_owned(),
            route["path"].as_str().unwrap().to_owned(),
        );
        assert!(
            covered.contains(&key),
            "route {key:?} has no cross-tenant case"
        );
        assert_eq!(
            route["auth"].as_bool(),
            Some(!exempt.contains(&key)),
            "route {key:?}: the authorizer must guard every route but {exempt:?}"
        );
    }

    assert_eq!(
        snapshot(&stack, &a).await,
        before,
        "tenant a's data changed"
    );
}

/// A victim tenant's resources, for attacks naming them: a product and an order (besides one
/// SKU `SECRET-2` no attacker ever sends), and cursors of its lists.
struct Victim {
    product_id: String,
    order_id: String,
    /// A webhook endpoint of the victim's (its URL names the victim's admin).
    webhook_id: String,
    /// An API client of the victim's (its name holds the victim's tenant id).
    api_client_id: String,
    product_cursor: String,
    order_cursor: String,
    user_cursor: String,
}

async fn prepare_victim(stack: &Stack, a: &Org) -> Victim {
    let a_product = create_product(stack, &a.admin.id, "SECRET-1").await;
    create_product(stack, &a.admin.id, "SECRET-2").await;
    let product_id = a_product["id"].as_str().unwrap().to_owned();
    let a_order = create_order(stack, &a.member.id, &product_id, 1).await;
    create_order(stack, &a.member.id, &product_id, 2).await;
    let order_id = a_order["id"].as_str().unwrap().to_owned();
    let cursor = |path: &'static str| {
        let token = a.admin.id.clone();
        async move {
            let page = stack
                .call(Some(&token), "GET", &format!("{path}?limit=1"), None)
                .await;
            page.body["next_cursor"]
                .as_str()
                .unwrap_or_else(|| panic!("{path} has a second page"))
                .to_owned()
        }
    };
    let hook = stack
        .call(
            Some(&a.admin.id),
            "POST",
            "/webhooks",
            // The path names the victim's admin: an attacker's answer holding it is a leak.
            // Of events nothing here makes: the endpoint stays as it is for the snapshots.
            Some(&json!({"url": format!("http://127.0.0.1:9/hooks/{}", a.admin_email), "events": ["billing.payment_failed"]})),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let client = stack
        .call(
            Some(&a.admin.id),
            "POST",
            "/api-clients",
            // The name holds the victim's id: an attacker's answer holding it is a leak.
            Some(&json!({"name": format!("client of {}", a.tenant_id), "scopes": ["orders.read"]})),
        )
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    Victim {
        product_id,
        order_id,
        webhook_id: hook.body["id"].as_str().unwrap().to_owned(),
        api_client_id: client.body["client_id"].as_str().unwrap().to_owned(),
        product_cursor: cursor("/products").await,
        order_cursor: cursor("/orders").await,
        user_cursor: cursor("/users").await,
    }
}

/// Every tenant route of the template, aimed at `a`'s resources (ids, cursors, bodies naming
/// `a`), with the statuses allowed for an attacker who is an admin, and a member, of their own
/// organization. Deleting one's own tenant is checked apart (its statuses are empty).
fn tenant_route_attacks(a: &Org, v: &Victim) -> Vec<Attack<'static>> {
    let t = &a.tenant_id;
    let (product_cursor, order_cursor, user_cursor) =
        (&v.product_cursor, &v.order_cursor, &v.user_cursor);
    let a_product_id = &v.product_id;
    let a_product_path = format!("/products/{}", v.product_id);
    let a_order_path = format!("/orders/{}", v.order_id);
    let a_user_path = format!("/users/{}", a.member_id);
    let a_admin_tenant_path = format!("/admin/tenants/{t}");
    let a_webhook_path = format!("/webhooks/{}", v.webhook_id);
    let a_client_path = format!("/api-clients/{}", v.api_client_id);
    vec![
        // API clients: admins only, and only their own organization's.
        (
            "/api-clients",
            "POST",
            "/api-clients".into(),
            Some(json!({"name": "x", "scopes": ["orders.read"], "tenant_id": t})),
            &[400],
            &[403],
        ),
        (
            "/api-clients",
            "GET",
            "/api-clients".into(),
            None,
            &[200],
            &[403],
        ),
        (
            "/api-clients/{clientId}",
            "GET",
            a_client_path.clone(),
            None,
            &[404],
            &[403],
        ),
        (
            "/api-clients/{clientId}",
            "DELETE",
            a_client_path.clone(),
            None,
            &[404],
            &[403],
        ),
        // Webhooks: admins only (a member is refused before anything is read), and only their
        // own organization's endpoints.
        (
            "/webhooks",
            "POST",
            "/webhooks".into(),
            Some(
                json!({"url": "http://127.0.0.1:9/x", "events": ["order.created"], "tenant_id": t}),
            ),
            &[400],
            &[403],
        ),
        (
            "/webhooks",
            "GET",
            format!("/webhooks?tenant_id={t}"),
            None,
            &[200],
            &[403],
        ),
        (
            "/webhooks/{webhookId}",
            "GET",
            a_webhook_path.clone(),
            None,
            &[404],
            &[403],
        ),
        (
            "/webhooks/{webhookId}",
            "PATCH",
            a_webhook_path.clone(),
            Some(json!({"events": ["product.created"]})),
            &[404],
            &[403],
        ),
        (
            "/webhooks/{webhookId}",
            "DELETE",
            a_webhook_path.clone(),
            None,
            &[404],
            &[403],
        ),
        (
            "/webhooks/{webhookId}/rotate-secret",
            "POST",
            format!("{a_webhook_path}/rotate-secret"),
            None,
            &[404],
            &[403],
        ),
        (
            "/webhooks/{webhookId}/test",
            "POST",
            format!("{a_webhook_path}/test"),
            None,
            &[404],
            &[403],
        ),
        (
            "/webhooks/{webhookId}/deliveries",
            "GET",
            format!("{a_webhook_path}/deliveries"),
            None,
            &[404],
            &[403],
        ),
        (
            "/products",
            "POST",
            "/products".into(),
            Some(json!({"name": "x", "sku": "X", "price": 1, "currency": "EUR", "tenant_id": t})),
            &[400],
            &[400],
        ),
        (
            "/products",
            "GET",
            format!("/products?cursor={product_cursor}"),
            None,
            &[400],
            &[400],
        ),
        (
            "/products/{productId}",
            "GET",
            a_product_path.clone(),
            None,
            &[404],
            &[404],
        ),
        (
            "/products/{productId}",
            "PUT",
            a_product_path.clone(),
            Some(
                json!({"name": "x", "sku": "SECRET-1", "price": 1, "currency": "EUR", "version": 1}),
            ),
            &[404],
            &[404],
        ),
        (
            "/products/{productId}",
            "DELETE",
            a_product_path.clone(),
            None,
            &[404],
            &[403],
        ),
        (
            "/orders",
            "POST",
            "/orders".into(),
            Some(json!({"lines": [{"product_id": a_product_id, "quantity": 1}]})),
            &[400],
            &[400],
        ),
        (
            "/orders",
            "GET",
            format!("/orders?cursor={order_cursor}"),
            None,
            &[400],
            &[400],
        ),
        (
            "/orders/{orderId}",
            "GET",
            a_order_path.clone(),
            None,
            &[404],
            &[404],
        ),
        (
            "/orders/{orderId}",
            "PATCH",
            a_order_path.clone(),
            Some(json!({"status": "cancelled"})),
            &[404],
            &[404],
        ),
        (
            "/users",
            "GET",
            format!("/users?cursor={user_cursor}"),
            None,
            &[400],
            &[400],
        ),
        (
            "/users",
            "POST",
            "/users".into(),
            Some(json!({"email": unique_email("x"), "role": "member", "tenant_id": t})),
            &[400],
            &[403],
        ),
        // Inviting a's admin: an invitation for that person to accept, which says nothing of a
        // (the reply is checked) and grants nothing until accepted.
        (
            "/users",
            "POST",
            "/users".into(),
            Some(json!({"email": a.admin_email, "role": "admin"})),
            &[201],
            &[403],
        ),
        (
            "/users/{userId}",
            "GET",
            a_user_path.clone(),
            None,
            &[404],
            &[404],
        ),
        (
            "/users/{userId}",
            "PATCH",
            a_user_path.clone(),
            Some(json!({"role": "admin"})),
            &[404],
            &[403],
        ),
        (
            "/users/{userId}",
            "DELETE",
            a_user_path.clone(),
            None,
            &[404],
            &[403],
        ),
        (
            "/tenant",
            "PATCH",
            "/tenant".into(),
            Some(json!({"name": "Hijacked", "version": 1, "tenant_id": t})),
            &[400],
            &[403],
        ),
        (
            "/tenant",
            "DELETE",
            format!("/tenant?tenant_id={t}"),
            None,
            &[],
            &[403],
        ),
        // Billing: the caller's own organization only, whatever the request names.
        (
            "/billing",
            "GET",
            format!("/billing?tenant_id={t}"),
            None,
            &[200],
            &[200],
        ),
        (
            "/billing/checkout",
            "POST",
            "/billing/checkout".into(),
            Some(json!({"plan": "standard", "interval": "month", "tenant_id": t})),
            &[400],
            &[403],
        ),
        (
            "/billing/portal",
            "POST",
            format!("/billing/portal?tenant_id={t}"),
            None,
            &[409],
            &[403],
        ),
        // The provider's route: a token means nothing there, an unsigned event is refused.
        (
            "/billing/webhook",
            "POST",
            "/billing/webhook".into(),
            Some(
                json!({"id": "evt_forged", "type": "checkout.session.completed", "created": 1,
                        "data": {"object": {"mode": "subscription", "payment_status": "paid",
                                            "subscription": "sub_forged",
                                            "metadata": {"tenant_id": t, "plan": "premium"}}}}),
            ),
            &[400],
            &[400],
        ),
        (
            "/admin/tenants",
            "GET",
            "/admin/tenants".into(),
            None,
            &[403],
            &[403],
        ),
        (
            "/admin/tenants/{tenantId}",
            "GET",
            a_admin_tenant_path.clone(),
            None,
            &[403],
            &[403],
        ),
        (
            "/admin/tenants/{tenantId}",
            "PATCH",
            a_admin_tenant_path.clone(),
            Some(json!({"status": "suspended"})),
            &[403],
            &[403],
        ),
        (
            "/admin/tenants/{tenantId}/jobs",
            "POST",
            format!("{a_admin_tenant_path}/jobs"),
            Some(json!({"kind": "offboard"})),
            &[403],
            &[403],
        ),
    ]
}

/// Runs `attacks` with an attacker's admin and member tokens; no reply, whatever its status,
/// carries `a`'s data: its e-mail addresses or tenant id (unless the request held them), a SKU
/// no attacker sent ("SECRET-2"), or any "SECRET" unless the request held it (a 400 may quote
/// what the caller sent).
async fn run_attacks(
    stack: &Stack,
    a: &Org,
    attacks: &[Attack<'_>],
    admin: Option<&str>,
    member: Option<&str>,
) {
    for (route, method, path, body, admin_allowed, member_allowed) in attacks {
        for (who, token, allowed) in [
            ("admin", admin, admin_allowed),
            ("member", member, member_allowed),
        ] {
            let Some(token) = token.filter(|_| !allowed.is_empty()) else {
                continue;
            };
            let reply = stack.call(Some(token), method, path, body.as_ref()).await;
            assert!(
                allowed.contains(&reply.status),
                "the attacking {who}: {method} {path} ({route}) answered {}: {}",
                reply.status,
                reply.body
            );
            let text = reply.body.to_string();
            let sent = format!(
                "{path} {}",
                body.as_ref().map(Value::to_string).unwrap_or_default()
            );
            let quoted = |secret: &str| text.contains(secret) && !sent.contains(secret);
            let leaked = text.contains("SECRET-2")
                || quoted(&a.member_email)
                || quoted(&a.admin_email)
                || quoted(&a.tenant_id)
                || quoted("SECRET");
            assert!(
                !leaked,
                "the attacking {who}: {method} {path} leaked: {text}"
            );
        }
    }
}

/// One person, admin of A and member of B. Each token carries one organization and reaches
/// nothing of the other, over every tenant route of the template; a switch takes effect with a
/// refresh; removal from B takes B away within the bound and leaves A as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_works_in_two_organizations() {
    let stack = Stack::from_env();
    let (a, b) = tokio::join!(organization(&stack, "home"), organization(&stack, "guest"));
    let (victim_a, victim_b) = (
        prepare_victim(&stack, &a).await,
        prepare_victim(&stack, &b).await,
    );
    let person = a.admin.clone();
    let sub = claims(&person.id)["sub"].as_str().unwrap().to_owned();

    // B invites A's admin: an invitation to accept, no new account.
    let invited = stack
        .call(
            Some(&b.admin.id),
            "POST",
            "/users",
            Some(&json!({"email": a.admin_email, "role": "member"})),
        )
        .await;
    assert_eq!(
        (invited.status, invited.body["status"].as_str()),
        (201, Some("invited")),
        "{}",
        invited.body
    );
    assert_eq!(invited.body["user_id"], sub);
    let me = stack.call(Some(&person.id), "GET", "/me", None).await;
    assert_eq!(
        (
            &me.body["pending_invitations"],
            &me.body["other_organizations"]
        ),
        (&json!(1), &json!(0))
    );
    let pending = stack
        .call(Some(&person.id), "GET", "/me/invitations", None)
        .await;
    assert_eq!(
        pending.body["items"][0]["name"].as_str(),
        Some("guest Org"),
        "{}",
        pending.body
    );
    let accepted = stack
        .call(
            Some(&person.id),
            "POST",
            &format!("/me/invitations/{}", b.tenant_id),
            Some(&json!({"accept": true})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let orgs = stack
        .call(Some(&person.id), "GET", "/me/organizations", None)
        .await;
    let listed: BTreeSet<(String, String, bool)> = orgs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_owned(),
                o["role"].as_str().unwrap().to_owned(),
                o["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([
            (a.tenant_id.clone(), "admin".to_owned(), true),
            (b.tenant_id.clone(), "member".to_owned(), false),
        ])
    );

    // A refreshed token still carries A (the choice did not change), as admin.
    let in_a = stack.refresh(&person).await.unwrap();
    assert_eq!(
        (
            claims(&in_a.id)["tenant_id"].as_str(),
            claims(&in_a.id)["tenant_role"].as_str()
        ),
        (Some(a.tenant_id.as_str()), Some("admin"))
    );
    // As A's admin, nothing of B is reachable, although the person belongs to B.
    let before_b = snapshot(&stack, &b).await;
    run_attacks(
        &stack,
        &b,
        &tenant_route_attacks(&b, &victim_b),
        Some(&in_a.id),
        None,
    )
    .await;
    assert_eq!(snapshot(&stack, &b).await, before_b, "B changed");

    // Switch: the next token (a refresh) carries B, as member.
    let switched = stack
        .call(
            Some(&in_a.id),
            "PUT",
            "/me/active-organization",
            Some(&json!({"tenant_id": b.tenant_id})),
        )
        .await;
    assert_eq!(switched.status, 200, "{}", switched.body);
    let in_b = stack.refresh(&person).await.unwrap();
    let token = claims(&in_b.id);
    assert_eq!(
        (
            token["tenant_id"].as_str(),
            token["tenant_role"].as_str(),
            token["tenant_tier"].as_str()
        ),
        (Some(b.tenant_id.as_str()), Some("member"), Some("basic"))
    );
    let products = stack.call(Some(&in_b.id), "GET", "/products", None).await;
    assert_eq!(
        products.body["items"].as_array().unwrap().len(),
        2,
        "B's products"
    );
    // As B's member, nothing of A is reachable, although the person is A's admin.
    let before_a = snapshot(&stack, &a).await;
    run_attacks(
        &stack,
        &a,
        &tenant_route_attacks(&a, &victim_a),
        None,
        Some(&in_b.id),
    )
    .await;
    assert_eq!(snapshot(&stack, &a).await, before_a, "A changed");
    let me = stack.call(Some(&in_b.id), "GET", "/me", None).await;
    assert_eq!(
        (&me.body["tenant"]["id"], &me.body["other_organizations"]),
        (&json!(b.tenant_id), &json!(1))
    );

    // B removes the person: B's tokens are refused within the bound, A's still work, the
    // account stays, and the next token carries A again.
    let removed = stack
        .call(Some(&b.admin.id), "DELETE", &format!("/users/{sub}"), None)
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    all_refused_within_bound(
        &stack,
        "removed from one of two organizations",
        Instant::now(),
        &in_b.id,
        vec![
            ("GET", "/products".into(), None),
            ("GET", "/orders".into(), None),
            ("GET", "/users".into(), None),
        ],
        (401, "token-revoked"),
    )
    .await;
    let still_a = stack.call(Some(&in_a.id), "GET", "/products", None).await;
    assert_eq!(still_a.status, 200, "A is untouched: {}", still_a.body);
    let next = stack.refresh(&person).await.expect("the account stays");
    assert_eq!(
        claims(&next.id)["tenant_id"].as_str(),
        Some(a.tenant_id.as_str()),
        "the chosen organization is gone: the other is carried"
    );
}

/// Invitations through the API: only the invitee answers, once; a withdrawn one is gone; the
/// last admin cannot leave; a person creates a second organization and leaves the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_answered_by_their_invitee_and_people_leave() {
    let stack = Stack::from_env();
    let (a, b) = tokio::join!(
        organization(&stack, "inviting"),
        organization(&stack, "invited")
    );
    let invite = |email: String| {
        let stack = &stack;
        let token = a.admin.id.clone();
        async move {
            stack
                .call(
                    Some(&token),
                    "POST",
                    "/users",
                    Some(&json!({"email": email, "role": "member"})),
                )
                .await
        }
    };
    let answer = |token: String, accept: bool| {
        let stack = &stack;
        let path = format!("/me/invitations/{}", a.tenant_id);
        async move {
            stack
                .call(
                    Some(&token),
                    "POST",
                    &path,
                    Some(&json!({ "accept": accept })),
                )
                .await
        }
    };
    assert_eq!(invite(b.member_email.clone()).await.status, 201);
    // Not the invitee: nothing to answer.
    let stranger = answer(b.admin.id.clone(), true).await;
    assert_eq!(
        (stranger.status, stranger.body["code"].as_str()),
        (404, Some("not-found"))
    );
    assert_eq!(answer(b.member.id.clone(), true).await.status, 200);
    let twice = answer(b.member.id.clone(), true).await;
    assert_eq!(
        (twice.status, twice.body["code"].as_str()),
        (409, Some("already-member"))
    );
    // Withdrawn before an answer: gone.
    assert_eq!(invite(b.admin_email.clone()).await.status, 201);
    let bea = claims(&b.admin.id)["sub"].as_str().unwrap().to_owned();
    let withdrawn = stack
        .call(Some(&a.admin.id), "DELETE", &format!("/users/{bea}"), None)
        .await;
    assert_eq!(withdrawn.status, 204);
    let late = answer(b.admin.id.clone(), true).await;
    assert_eq!(
        (late.status, late.body["code"].as_str()),
        (404, Some("not-found"))
    );
    assert!(
        stack.sign_in(&b.admin_email, PASSWORD).await.is_ok(),
        "a withdrawn invitation leaves the invitee's account alone"
    );

    // The last admin cannot leave; after creating a second organization, leaving the first is
    // still refused (A needs an admin), and a member leaves freely.
    let leave_a = stack
        .call(
            Some(&a.admin.id),
            "DELETE",
            &format!("/me/organizations/{}", a.tenant_id),
            None,
        )
        .await;
    assert_eq!(
        (leave_a.status, leave_a.body["code"].as_str()),
        (409, Some("last-admin"))
    );
    let created = stack
        .call(
            Some(&a.member.id),
            "POST",
            "/me/organizations",
            Some(&json!({"name": "Side Project"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let side = created.body["id"].as_str().unwrap().to_owned();
    let left = stack
        .call(
            Some(&a.member.id),
            "DELETE",
            &format!("/me/organizations/{}", a.tenant_id),
            None,
        )
        .await;
    assert_eq!(left.status, 204, "{}", left.body);
    let next = stack
        .sign_in(&a.member_email, "Member-Chosen-Password-7")
        .await
        .unwrap();
    assert_eq!(
        (
            claims(&next.id)["tenant_id"].as_str(),
            claims(&next.id)["tenant_role"].as_str()
        ),
        (Some(side.as_str()), Some("admin"))
    );
}

/// (route template, method, path, body, statuses allowed for the attacking admin, member).
type Attack<'a> = (
    &'a str,
    &'a str,
    String,
    Option<Value>,
    &'a [u16],
    &'a [u16],
);

/// Everything of tenant a, read as a.
async fn snapshot(stack: &Stack, a: &Org) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/products?limit=100",
        "/orders?limit=100",
        "/users?limit=100",
        "/webhooks",
        "/api-clients",
    ] {
        let reply = stack.call(Some(&a.admin.id), "GET", path, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        out.push(reply.body["items"].clone());
    }
    let mut tenant = stack
        .call(Some(&a.admin.id), "GET", "/tenant", None)
        .await
        .body;
    tenant.as_object_mut().unwrap().remove("usage");
    out.push(tenant);
    out
}

/// Tokens that API Gateway's Cognito authorizer refuses are refused by the local gateway, and no
/// function runs for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_refuses_bad_tokens_before_any_function_runs() {
    let stack = Stack::from_env();
    let a = organization(&stack, "tokens").await;
    let real = claims(&a.admin.id);
    let pool_key = {
        let keys: Value = serde_json::from_str(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../node_modules/cognito-local/lib/keys/cognitoLocal.private.json"),
            )
            .unwrap(),
        )
        .unwrap();
        EncodingKey::from_rsa_pem(keys["pem"].as_str().unwrap().as_bytes()).unwrap()
    };
    let other_key = EncodingKey::from_rsa_pem(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../local/gateway/tests/fixtures/other-key.pem"),
        )
        .unwrap(),
    )
    .unwrap();
    let sign = |claims: &Value, key: &EncodingKey| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("CognitoLocal".into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    };
    let with = |field: &str, value: Value| {
        let mut c = real.clone();
        c[field] = value;
        c
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let b64 = |v: &Value| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            v.to_string(),
        )
    };
    let parts: Vec<&str> = a.admin.id.split('.').collect();
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        b64(&with("tenant_role", json!("owner"))),
        parts[2]
    );
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&real)
    );

    let attacks: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("not-a-token".into())),
        ("alg none", Some(unsigned)),
        ("another key", Some(sign(&real, &other_key))),
        (
            "expired",
            Some(sign(&with("exp", json!(now - 60)), &pool_key)),
        ),
        (
            "another client",
            Some(sign(
                &with("aud", json!("someoneelsesclient0000001")),
                &pool_key,
            )),
        ),
        (
            "another issuer",
            Some(sign(
                &with("iss", json!("http://127.0.0.1:1/us-east-1_Other")),
                &pool_key,
            )),
        ),
        ("access token", Some(a.admin.access.clone())),
        ("edited payload", Some(edited)),
    ];
    let mut refused_ids = Vec::new();
    for (what, token) in &attacks {
        let reply = stack
            .call(
                token.as_deref(),
                "POST",
                "/products",
                Some(&product_body("FORGED")),
            )
            .await;
        assert_eq!(
            (reply.status, &reply.body),
            (401, &json!({"message": "Unauthorized"})),
            "{what}"
        );
        refused_ids.push((what, reply.request_id));
    }
    // A valid request's id reaches the functions' log; none of the refused ones do.
    let valid = stack
        .call(Some(&a.admin.id), "GET", "/products", None)
        .await;
    assert_eq!(valid.status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stack.functions_log().contains(&valid.request_id) {
        assert!(
            Instant::now() < deadline,
            "a valid request never reached the functions' log"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = stack.functions_log();
    for (what, id) in refused_ids {
        assert!(
            !id.is_empty() && !log.contains(&id),
            "{what} reached a function"
        );
    }
    assert_eq!(
        valid.body["items"],
        json!([]),
        "no forged product was created"
    );
}

/// Cognito retries post-confirmation; here the retries (and concurrent ones) go through the same
/// Invoke API cognito-local uses, with the event it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_post_confirmation_still_makes_one_tenant() {
    let stack = Stack::from_env();
    let email = unique_email("retry");
    let organization = format!(
        "Retry Org {}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let sub = stack.sign_up(&email, &organization, None).await;
    let event = json!({
        "version": "0", "region": "local", "userPoolId": stack.user_pool_id, "userName": sub,
        "callerContext": {"awsSdkVersion": "2.1693.0", "clientId": stack.client_id},
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": {"cognito:user_status": "CONFIRMED", "custom:tenant_name": organization, "email": email, "sub": sub}},
        "response": {}
    });
    let first = stack.invoke("post-confirmation", &event).await;
    let (second, third) = tokio::join!(
        stack.invoke("post-confirmation", &event),
        stack.invoke("post-confirmation", &event)
    );
    for (status, body) in [first, second, third] {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, event, "the trigger returns the event it received");
    }
    let control = tenantry_tests::control_store();
    let mut named = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = control.list_tenants(100, cursor.as_deref()).await.unwrap();
        named += page
            .items
            .iter()
            .filter(|t| t.name.as_str() == organization)
            .count();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(named, 1, "exactly one tenant for the sign-up");
}

/// A platform operator (group platform-admin, no tenant) suspends a tenant: its users cannot sign
/// in, and its data APIs refuse it; reactivated, everything works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_operator_suspends_and_reactivates_a_tenant() {
    let stack = Stack::from_env();
    let a = organization(&stack, "suspended").await;
    let ops = stack.platform_operator().await;
    assert!(
        claims(&ops.id).get("tenant_id").is_none(),
        "an operator has no tenant"
    );
    assert_eq!(
        stack
            .call(Some(&ops.id), "GET", "/products", None)
            .await
            .body["code"],
        "no-tenant"
    );
    assert_eq!(
        stack
            .call(Some(&a.admin.id), "GET", "/admin/tenants", None)
            .await
            .status,
        403
    );

    let path = format!("/admin/tenants/{}", a.tenant_id);
    let read = stack.call(Some(&ops.id), "GET", &path, None).await;
    assert_eq!(
        (read.status, read.body["status"].as_str()),
        (200, Some("active"))
    );
    let suspended = stack
        .call(
            Some(&ops.id),
            "PATCH",
            &path,
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(suspended.body["status"], "suspended", "{}", suspended.body);
    // Its users still sign in (they may belong elsewhere, or create an organization), but no
    // token carries it any more.
    let signed_in = stack
        .sign_in(&a.member_email, "Member-Chosen-Password-7")
        .await
        .expect("sign-in works");
    assert_eq!(claims(&signed_in.id).get("tenant_id"), None);
    let theirs = stack
        .call(Some(&signed_in.id), "GET", "/me/organizations", None)
        .await;
    assert_eq!(
        (
            theirs.body["items"][0]["id"].as_str(),
            theirs.body["items"][0]["status"].as_str()
        ),
        (Some(a.tenant_id.as_str()), Some("suspended"))
    );
    let refused = stack
        .call(Some(&signed_in.id), "GET", "/products", None)
        .await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (403, Some("no-tenant"))
    );
    // Tokens issued before stay valid until they expire, but the data APIs refuse the tenant once
    // their cache of its record (10 s) has expired.
    wait_for_status(&stack, &a.member.id, "/products", 403).await;

    let active = stack
        .call(
            Some(&ops.id),
            "PATCH",
            &path,
            Some(&json!({"status": "active"})),
        )
        .await;
    assert_eq!(active.body["status"], "active");
    let signed_in = stack
        .sign_in(&a.member_email, "Member-Chosen-Password-7")
        .await
        .expect("sign-in works");
    assert_eq!(
        claims(&signed_in.id)["tenant_id"].as_str(),
        Some(a.tenant_id.as_str())
    );
    wait_for_status(&stack, &a.member.id, "/products", 200).await;
}

async fn wait_for_status(stack: &Stack, token: &str, path: &str, status: u16) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = stack.call(Some(token), "GET", path, None).await;
        if reply.status == status {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {} ({}), expected {status}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Offboarding through the API: the tenant goes, its users lose it, its data is purged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboarding_removes_the_tenant_and_only_it() {
    let stack = Stack::from_env();
    let (gone, stays) = tokio::join!(
        organization(&stack, "leaving"),
        organization(&stack, "staying")
    );
    create_product(&stack, &gone.admin.id, "BYE-1").await;
    let kept = create_product(&stack, &stays.admin.id, "STAY-1").await;
    // The leaving tenant's admin also belongs to the staying one.
    let invited = stack
        .call(
            Some(&stays.admin.id),
            "POST",
            "/users",
            Some(&json!({"email": gone.admin_email, "role": "member"})),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let accepted = stack
        .call(
            Some(&gone.admin.id),
            "POST",
            &format!("/me/invitations/{}", stays.tenant_id),
            Some(&json!({"accept": true})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let by_member = stack
        .call(Some(&gone.member.id), "DELETE", "/tenant", None)
        .await;
    assert_eq!(by_member.status, 403);
    let deleted = stack
        .call(Some(&gone.admin.id), "DELETE", "/tenant", None)
        .await;
    assert_eq!(
        (deleted.status, deleted.body["status"].as_str()),
        (202, Some("deleting"))
    );
    // From then on the tokens its users hold are refused everywhere (the job may already have
    // finished: deleting or deleted, the answer is the same).
    all_refused_within_bound(
        &stack,
        "offboarded tenant",
        Instant::now(),
        &gone.member.id,
        vec![
            ("GET", "/users".into(), None),
            ("GET", "/tenant".into(), None),
            ("GET", "/products".into(), None),
            ("GET", "/orders".into(), None),
        ],
        (403, "tenant-inactive"),
    )
    .await;

    let tenant_id = gone.tenant_id.parse().unwrap();
    let control = tenantry_tests::control_store();
    let deadline = Instant::now() + Duration::from_secs(60);
    while control.get_tenant(&tenant_id).await.unwrap().status
        != shared::domain::tenant::TenantStatus::Deleted
    {
        assert!(
            Instant::now() < deadline,
            "the offboarding job did not finish"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let storage = tenantry_tests::tenant_storage();
    assert_eq!(
        storage
            .count_items(&tenant_id, storage.pooled_table())
            .await
            .unwrap(),
        0
    );
    // Its users with nothing else are deleted from the pool: they cannot sign in, and the
    // address is free again. Its admin, who belongs to the other tenant too, stays, with it.
    assert_gone_and_invitable(&stack, &gone.member_email, &stays.admin.id).await;
    let still = stack
        .sign_in(&gone.admin_email, PASSWORD)
        .await
        .expect("a person who belongs elsewhere keeps their account");
    assert_eq!(
        claims(&still.id)["tenant_id"].as_str(),
        Some(stays.tenant_id.as_str())
    );
    let theirs = stack
        .call(Some(&still.id), "GET", "/me/organizations", None)
        .await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 1);
    let theirs = stack
        .call(
            Some(&stays.admin.id),
            "GET",
            &format!("/products/{}", kept["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(theirs.body, kept);
}

/// Sign-up makes basic organizations only; a premium tenant (here made by an operator) gets its
/// own table: the migration job moves its data there, and it then lives there and nowhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn premium_tenants_live_in_their_own_table() {
    let stack = Stack::from_env();
    let refused = stack
        .cognito
        .sign_up()
        .client_id(&stack.client_id)
        .username(unique_email("greedy"))
        .password(PASSWORD)
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("custom:tenant_name")
                .value("Greedy Org")
                .build()
                .unwrap(),
        )
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("custom:plan")
                .value("premium")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    // cognito-local does not pass the trigger's message on (Cognito does); its log has it.
    assert!(refused.is_err(), "a premium sign-up is refused");
    assert!(
        stack
            .functions_log()
            .contains("paid plans are chosen once signed in"),
        "pre-sign-up refused it for its plan"
    );

    let email = unique_email("premium");
    stack.sign_up(&email, "Premium Org", None).await;
    let admin = stack.sign_in(&email, PASSWORD).await.unwrap();
    assert_eq!(claims(&admin.id)["tenant_tier"], "basic");
    let tenant_id: shared::ids::TenantId = claims(&admin.id)["tenant_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    create_product(&stack, &admin.id, "GOLD-1").await;
    let ops = stack.platform_operator().await;
    let upgraded = stack
        .call(
            Some(&ops.id),
            "PATCH",
            &format!("/admin/tenants/{tenant_id}"),
            Some(&json!({"tier": "premium"})),
        )
        .await;
    assert!(
        upgraded.status == 200 || upgraded.status == 202,
        "{}",
        upgraded.body
    );
    let control = tenantry_tests::control_store();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let record = control.get_tenant(&tenant_id).await.unwrap();
        if record.tier == shared::domain::Tier::Premium
            && record.status == shared::domain::tenant::TenantStatus::Active
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the migration did not finish: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The token still says basic; limits and storage follow the stored record.
    let ready = wait_for_status(&stack, &admin.id, "/products", 200).await;
    assert_eq!(ready.body["items"].as_array().unwrap().len(), 1);
    create_product(&stack, &admin.id, "GOLD-2").await;
    let storage: TenantStorage = tenantry_tests::tenant_storage();
    let silo = storage.silo_table(&tenant_id);
    let deadline = Instant::now() + Duration::from_secs(30);
    while storage
        .count_items(&tenant_id, storage.pooled_table())
        .await
        .unwrap()
        != 0
    {
        assert!(Instant::now() < deadline, "the pooled copy was not purged");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        storage.count_items(&tenant_id, &silo).await.unwrap(),
        5,
        "two products, two SKU claims, the counter"
    );
}

#[tokio::test]
async fn a_wrong_confirmation_code_is_refused() {
    let stack = Stack::from_env();
    let email = unique_email("wrong-code");
    let attribute = |name: &str, value: &str| {
        aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .unwrap()
    };
    stack
        .cognito
        .sign_up()
        .client_id(&stack.client_id)
        .username(&email)
        .password(PASSWORD)
        .user_attributes(attribute("email", &email))
        .user_attributes(attribute("custom:tenant_name", "Wrong Code Org"))
        .send()
        .await
        .unwrap();
    let wrong = if stack.delivered_code() == "000000" {
        "111111"
    } else {
        "000000"
    };
    let refused = stack
        .cognito
        .confirm_sign_up()
        .client_id(&stack.client_id)
        .username(&email)
        .confirmation_code(wrong)
        .send()
        .await;
    assert!(refused.is_err(), "a wrong code confirmed the sign-up");
    assert!(
        stack.sign_in(&email, PASSWORD).await.is_err(),
        "an unconfirmed user signed in"
    );
}

/// The longest a revocation may take to reach a route: the data APIs' cache of the tenant record.
const REVOCATION_BOUND: Duration = Duration::from_secs(10);

/// Calls `method path` with `token` until it answers `status` with `code`. Returns when, after
/// `since`, the first call started and the last call that was still served started (`None` if
/// the first call was refused): the promise is that no call starting later than the bound is
/// served; and whether a call succeeded (2xx). Fails after 20 s.
async fn last_served_after(
    stack: &Stack,
    since: Instant,
    token: &str,
    (method, path, body): (&str, &str, Option<Value>),
    (status, code): (u16, &str),
) -> (Duration, Option<Duration>, bool) {
    let first = since.elapsed();
    let mut last_served = None;
    let mut succeeded = false;
    loop {
        let started = since.elapsed();
        let reply = stack.call(Some(token), method, path, body.as_ref()).await;
        if reply.status == status && reply.body["code"] == code {
            return (first, last_served, succeeded);
        }
        succeeded |= (200..300).contains(&reply.status);
        assert!(
            reply.status < 500,
            "{method} {path} failed: {} {}",
            reply.status,
            reply.body
        );
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "{method} {path} still answers {} ({}), expected {status} {code}",
            reply.status,
            reply.body
        );
        last_served = Some(started);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that every one of `calls` is refused with `status`/`code`, and that none was served
/// when it started more than the bound after `since`; prints the measured times. The calls are
/// probed concurrently, each from `since`: none is judged after another's calls refreshed a
/// cache. Returns, for each call (method, path), whether it was ever served, and whether it
/// ever succeeded (2xx).
async fn all_refused_within_bound(
    stack: &Stack,
    label: &str,
    since: Instant,
    token: &str,
    calls: Vec<(&str, String, Option<Value>)>,
    (status, code): (u16, &str),
) -> Vec<(String, String, bool, bool)> {
    let probes: Vec<_> = calls
        .into_iter()
        .map(|(method, path, body)| {
            let (stack, token, method, code) = (
                stack.clone(),
                token.to_owned(),
                method.to_owned(),
                code.to_owned(),
            );
            tokio::spawn(async move {
                let outcome = last_served_after(
                    &stack,
                    since,
                    &token,
                    (&method, &path, body),
                    (status, &code),
                )
                .await;
                (method, path, outcome)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for probe in probes {
        let (method, path, (first, served, succeeded)) = probe
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
        outcomes.push((method.clone(), path.clone(), served.is_some(), succeeded));
        match served {
            None => eprintln!(
                "{label}: {method} {path}: refused ({status} {code}) from the first call, {first:?} after the change"
            ),
            Some(served) => {
                eprintln!(
                    "{label}: {method} {path}: last served by a call that started {served:?} after the change, refused ({status} {code}) since"
                );
                assert!(
                    served <= REVOCATION_BOUND,
                    "{label}: {method} {path} was still served {served:?} after the change"
                );
            }
        }
    }
    outcomes
}

/// An admin invites a colleague as admin, who signs in.
async fn second_admin(stack: &Stack, org: &Org, label: &str) -> (String, String, Tokens) {
    let email = unique_email(label);
    let invited = stack
        .call(
            Some(&org.admin.id),
            "POST",
            "/users",
            Some(&json!({"email": email, "role": "admin"})),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let tokens = stack.first_sign_in(&email, "Second-Admin-Password-3").await;
    (
        invited.body["user_id"].as_str().unwrap().to_owned(),
        email,
        tokens,
    )
}

async fn member_roles(stack: &Stack, token: &str) -> Vec<(String, String)> {
    let listed = stack
        .call(Some(token), "GET", "/users?limit=100", None)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let mut roles: Vec<(String, String)> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    roles.sort();
    roles
}

/// A removed admin keeps a valid token but can do nothing with it: control routes refuse it at
/// once, data routes within the 10 s of their cache. Each write probe is judged on its own,
/// whatever ran before it: a control route's write never took effect, a data route's took
/// effect exactly if it succeeded (so within the bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_admin_loses_every_route_within_ten_seconds() {
    let stack = Stack::from_env();
    let org = organization(&stack, "takeover").await;
    let (carol_id, _, carol) = second_admin(&stack, &org, "carol").await;
    let product = create_product(&stack, &carol.id, "CAROL-1").await;
    let product_id = product["id"].as_str().unwrap().to_owned();
    let product_path = format!("/products/{product_id}");
    let admin_id = claims(&org.admin.id)["sub"].as_str().unwrap().to_owned();
    let roles_before = member_roles(&stack, &org.admin.id).await;

    let removed = stack
        .call(
            Some(&org.admin.id),
            "DELETE",
            &format!("/users/{carol_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    let since = Instant::now();
    let probes = all_refused_within_bound(
        &stack,
        "removed admin",
        since,
        &carol.id,
        vec![
            ("DELETE", product_path.clone(), None),
            ("POST", "/products".into(), Some(product_body("MAL-1"))),
            (
                "POST",
                "/orders".into(),
                Some(json!({"lines": [{"product_id": product_id, "quantity": 1}]})),
            ),
            (
                "POST",
                "/users".into(),
                Some(json!({"email": unique_email("mallory2"), "role": "admin"})),
            ),
            (
                "PATCH",
                format!("/users/{admin_id}"),
                Some(json!({"role": "member"})),
            ),
            ("GET", "/users".into(), None),
            (
                "PATCH",
                "/tenant".into(),
                Some(json!({"name": "Owned", "version": 1})),
            ),
            ("DELETE", "/tenant".into(), None),
            ("GET", "/products".into(), None),
            ("GET", "/orders".into(), None),
            ("GET", "/webhooks".into(), None),
            (
                "POST",
                "/webhooks".into(),
                Some(json!({"url": "http://127.0.0.1:9/takeover", "events": ["order.created"]})),
            ),
            ("GET", "/api-clients".into(), None),
            (
                "POST",
                "/api-clients".into(),
                Some(json!({"name": "takeover", "scopes": ["orders.read"]})),
            ),
        ],
        (401, "token-revoked"),
    )
    .await;
    let succeeded = |method: &str, path: &str| {
        probes
            .iter()
            .any(|(m, p, _, succeeded)| m == method && p == path && *succeeded)
    };
    // Control routes read the stored membership: refused from the first call.
    for (method, path, served, _) in &probes {
        let data = path.starts_with("/products") || path.starts_with("/orders");
        assert!(
            data || !served,
            "{method} {path} was served after the removal"
        );
    }
    let roles_after = member_roles(&stack, &org.admin.id).await;
    let expected: Vec<_> = roles_before
        .into_iter()
        .filter(|(email, _)| !email.starts_with("carol-"))
        .collect();
    assert_eq!(roles_after, expected);
    let tenant = stack
        .call(Some(&org.admin.id), "GET", "/tenant", None)
        .await;
    assert_eq!(
        (tenant.status, tenant.body["status"].as_str()),
        (200, Some("active"))
    );
    assert_ne!(tenant.body["name"], "Owned");
    for list in ["/webhooks", "/api-clients"] {
        let listed = stack.call(Some(&org.admin.id), "GET", list, None).await;
        assert_eq!(listed.body["items"], json!([]), "{list}");
    }
    // Each data write took effect exactly if it succeeded (so within the bound).
    let kept = stack
        .call(Some(&org.admin.id), "GET", &product_path, None)
        .await;
    assert_eq!(
        kept.status == 404,
        succeeded("DELETE", &product_path),
        "the product Carol tried to delete: {}",
        kept.body
    );
    let products = stack
        .call(Some(&org.admin.id), "GET", "/products?limit=100", None)
        .await;
    let made = products.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["sku"] == "MAL-1");
    assert_eq!(made, succeeded("POST", "/products"), "{}", products.body);
    let orders = stack
        .call(Some(&org.admin.id), "GET", "/orders?limit=100", None)
        .await;
    let placed = orders.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["created_by"] == carol_id.as_str());
    assert_eq!(placed, succeeded("POST", "/orders"), "{}", orders.body);
}

/// A demoted admin keeps a member's powers only: the old token is refused everywhere, a fresh
/// one (a sign-in or refresh) works as a member's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_admin_keeps_only_a_members_powers_within_ten_seconds() {
    let stack = Stack::from_env();
    let org = organization(&stack, "demotion").await;
    let (dave_id, dave_email, dave) = second_admin(&stack, &org, "dave").await;
    let product = create_product(&stack, &org.admin.id, "DAVE-1").await;
    let product_path = format!("/products/{}", product["id"].as_str().unwrap());
    let demoted = stack
        .call(
            Some(&org.admin.id),
            "PATCH",
            &format!("/users/{dave_id}"),
            Some(&json!({"role": "member"})),
        )
        .await;
    assert_eq!(
        (demoted.status, demoted.body["role"].as_str()),
        (200, Some("member")),
        "{}",
        demoted.body
    );
    let since = Instant::now();
    all_refused_within_bound(
        &stack,
        "demoted admin",
        since,
        &dave.id,
        vec![
            (
                "POST",
                "/users".into(),
                Some(json!({"email": unique_email("mallory"), "role": "admin"})),
            ),
            ("DELETE", product_path.clone(), None),
            ("GET", "/orders".into(), None),
            // The admin-only routes of webhooks and API clients read the stored role too.
            (
                "POST",
                "/webhooks".into(),
                Some(json!({"url": "http://127.0.0.1:9/takeover", "events": ["order.created"]})),
            ),
            (
                "POST",
                "/api-clients".into(),
                Some(json!({"name": "takeover", "scopes": ["orders.read"]})),
            ),
        ],
        (401, "token-revoked"),
    )
    .await;
    let fresh = stack
        .sign_in(&dave_email, "Second-Admin-Password-3")
        .await
        .unwrap();
    assert_eq!(claims(&fresh.id)["tenant_role"], "member");
    let listed = stack.call(Some(&fresh.id), "GET", "/products", None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let delete = stack
        .call(Some(&fresh.id), "DELETE", &product_path, None)
        .await;
    assert_eq!(
        (delete.status, delete.body["code"].as_str()),
        (403, Some("forbidden"))
    );
    let invite = stack
        .call(
            Some(&fresh.id),
            "POST",
            "/users",
            Some(&json!({"email": unique_email("x"), "role": "member"})),
        )
        .await;
    assert_eq!(invite.status, 403, "{}", invite.body);
}

/// A removed member's token no longer reads or creates orders or products; an order it placed
/// exists only if that call succeeded (within the bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_loses_the_data_routes_within_ten_seconds() {
    let stack = Stack::from_env();
    let org = organization(&stack, "leaver").await;
    let product = create_product(&stack, &org.member.id, "LEAVE-1").await;
    let product_id = product["id"].as_str().unwrap().to_owned();
    create_order(&stack, &org.member.id, &product_id, 1).await;
    let removed = stack
        .call(
            Some(&org.admin.id),
            "DELETE",
            &format!("/users/{}", org.member_id),
            None,
        )
        .await;
    assert_eq!(removed.status, 204);
    let since = Instant::now();
    let probes = all_refused_within_bound(
        &stack,
        "removed member",
        since,
        &org.member.id,
        vec![
            ("GET", "/orders".into(), None),
            (
                "POST",
                "/orders".into(),
                Some(json!({"lines": [{"product_id": product_id, "quantity": 1}]})),
            ),
            ("GET", "/products".into(), None),
            ("GET", "/users".into(), None),
            ("GET", "/tenant".into(), None),
        ],
        (401, "token-revoked"),
    )
    .await;
    // The admin is unaffected; the member placed orders after the removal only if those calls
    // succeeded.
    let orders = stack
        .call(Some(&org.admin.id), "GET", "/orders?limit=100", None)
        .await;
    assert_eq!(orders.status, 200, "{}", orders.body);
    let placed_after = probes
        .iter()
        .any(|(method, path, _, succeeded)| method == "POST" && path == "/orders" && *succeeded);
    assert_eq!(
        orders.body["items"].as_array().unwrap().len() > 1,
        placed_after,
        "{}",
        orders.body
    );
    // The user is gone from the pool (no sign-in), and the address can be invited again.
    assert_gone_and_invitable(&stack, &org.member_email, &org.admin.id).await;
}

/// A suspended tenant's users can change nothing and read nothing, on control and data routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_tenants_users_lose_every_route_within_ten_seconds() {
    let stack = Stack::from_env();
    let org = organization(&stack, "paused").await;
    let other = organization(&stack, "unpaused").await;
    let product = create_product(&stack, &org.admin.id, "PAUSE-1").await;
    let product_id = product["id"].as_str().unwrap().to_owned();
    let control = tenantry_tests::control_store();
    let suspend = shared::store::control::TenantStateChange {
        status: Some(shared::domain::tenant::TenantStatus::Suspended),
        ..Default::default()
    };
    control
        .set_tenant_state(&org.tenant_id.parse().unwrap(), suspend)
        .await
        .unwrap();
    let since = Instant::now();
    for token in [&org.admin.id, &org.member.id] {
        all_refused_within_bound(
            &stack,
            "suspended tenant",
            since,
            token,
            vec![
                ("GET", "/users".into(), None),
                (
                    "POST",
                    "/users".into(),
                    Some(json!({"email": unique_email("s"), "role": "member"})),
                ),
                (
                    "PATCH",
                    "/tenant".into(),
                    Some(json!({"name": "Renamed", "version": 1})),
                ),
                ("DELETE", "/tenant".into(), None),
                ("GET", "/tenant".into(), None),
                ("GET", "/products".into(), None),
                ("DELETE", format!("/products/{product_id}"), None),
                ("GET", "/orders".into(), None),
            ],
            (403, "tenant-inactive"),
        )
        .await;
    }
    let unaffected = stack
        .call(Some(&other.member.id), "GET", "/users", None)
        .await;
    assert_eq!(unaffected.status, 200);
    let record = control
        .get_tenant(&org.tenant_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        record.status,
        shared::domain::tenant::TenantStatus::Suspended
    );
    assert_eq!(record.name.as_str(), "paused Org");
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Turns TOTP on for the holder of `access_token`, as an authenticator app's set-up does through
/// Cognito's own API; returns the secret the app would keep.
async fn enable_totp(stack: &Stack, access_token: &str) -> String {
    use aws_sdk_cognitoidentityprovider::types::SoftwareTokenMfaSettingsType;
    let secret = stack
        .cognito
        .associate_software_token()
        .access_token(access_token)
        .send()
        .await
        .unwrap()
        .secret_code()
        .expect("a TOTP secret")
        .to_owned();
    let verified = stack
        .cognito
        .verify_software_token()
        .access_token(access_token)
        .user_code(tenantry_tests::stack::totp(&secret, unix_now()))
        .friendly_device_name("phone")
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status().map(|s| s.as_str()), Some("SUCCESS"));
    stack
        .cognito
        .set_user_mfa_preference()
        .access_token(access_token)
        .software_token_mfa_settings(
            SoftwareTokenMfaSettingsType::builder()
                .enabled(true)
                .preferred_mfa(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    secret
}

/// Signs in a user who uses TOTP: the password, then the app's `code` for the challenge.
/// Returns the ID token, or the error of the challenge's answer.
async fn sign_in_with_totp(
    stack: &Stack,
    email: &str,
    password: &str,
    code: String,
) -> Result<String, String> {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
    let started = stack
        .cognito
        .initiate_auth()
        .client_id(&stack.client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap();
    assert_eq!(
        started.challenge_name(),
        Some(&ChallengeNameType::SoftwareTokenMfa),
        "the password alone is no longer enough"
    );
    let answered = stack
        .cognito
        .respond_to_auth_challenge()
        .client_id(&stack.client_id)
        .challenge_name(ChallengeNameType::SoftwareTokenMfa)
        .session(started.session().unwrap_or_default())
        .challenge_responses("USERNAME", email)
        .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
        .send()
        .await
        .map_err(|err| format!("{err:?}"))?;
    Ok(answered
        .authentication_result()
        .and_then(|r| r.id_token())
        .expect("tokens after the code")
        .to_owned())
}

/// A user turns on TOTP (an authenticator app) through Cognito's own API; signing in then asks
/// for the app's code, refuses a wrong one, and the right one gives a token that works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_turns_on_totp_and_then_signs_in_with_it() {
    let stack = Stack::from_env();
    let org = organization(&stack, "totp").await;
    let secret = enable_totp(&stack, &org.member.access).await;
    let password = "Member-Chosen-Password-7";
    let right = tenantry_tests::stack::totp(&secret, unix_now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert!(
        sign_in_with_totp(&stack, &org.member_email, password, wrong)
            .await
            .is_err(),
        "a wrong code is refused"
    );
    let id_token = sign_in_with_totp(
        &stack,
        &org.member_email,
        password,
        tenantry_tests::stack::totp(&secret, unix_now()),
    )
    .await
    .unwrap();
    assert_eq!(claims(&id_token)["tenant_id"], org.tenant_id.as_str());
    let listed = stack.call(Some(&id_token), "GET", "/products", None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
}

/// An organization that requires a second factor: its users' tokens without one are refused on
/// every route (control at once, data within 10 s) but `GET /me`, which says why; a user who
/// turns TOTP on and signs in with it works again. Another organization is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_requiring_mfa_refuses_its_users_until_they_use_it() {
    let stack = Stack::from_env();
    let (org, other) = tokio::join!(
        organization(&stack, "strict"),
        organization(&stack, "lenient")
    );
    let product = create_product(&stack, &org.admin.id, "MFA-1").await;
    let current = stack
        .call(Some(&org.admin.id), "GET", "/tenant", None)
        .await;
    let required = stack
        .call(
            Some(&org.admin.id),
            "PATCH",
            "/tenant",
            Some(&json!({"require_mfa": true, "version": current.body["version"]})),
        )
        .await;
    assert_eq!(required.status, 200, "{}", required.body);
    assert_eq!(required.body["require_mfa"], true);
    let since = Instant::now();
    all_refused_within_bound(
        &stack,
        "MFA required",
        since,
        &org.member.id,
        vec![
            ("GET", "/users".into(), None),
            ("GET", "/tenant".into(), None),
            ("GET", "/products".into(), None),
            (
                "GET",
                format!("/products/{}", product["id"].as_str().unwrap()),
                None,
            ),
            ("GET", "/orders".into(), None),
        ],
        (403, "mfa-required"),
    )
    .await;
    let me = stack.call(Some(&org.member.id), "GET", "/me", None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["tenant"]["mfa_required"], true);
    // Signing in again without a second factor changes nothing.
    let password = "Member-Chosen-Password-7";
    let again = stack.sign_in(&org.member_email, password).await.unwrap();
    assert_eq!(claims(&again.id)["tenant_mfa"], "false");
    let refused = stack.call(Some(&again.id), "GET", "/products", None).await;
    assert_eq!(refused.body["code"], "mfa-required", "{}", refused.body);
    // With TOTP turned on and used, the user works again.
    let secret = enable_totp(&stack, &again.access).await;
    let with_mfa = sign_in_with_totp(
        &stack,
        &org.member_email,
        password,
        tenantry_tests::stack::totp(&secret, unix_now()),
    )
    .await
    .unwrap();
    assert_eq!(claims(&with_mfa)["tenant_mfa"], "true");
    for path in ["/products", "/users", "/tenant"] {
        let reply = stack.call(Some(&with_mfa), "GET", path, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
    // The other organization never required anything.
    let theirs = stack
        .call(Some(&other.member.id), "GET", "/products", None)
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
}
