//! The attacks of one tenant's people on another's resources, over every tenant route of the
//! template, and what a reply may carry.

use super::*;

/// A victim tenant's resources, for attacks naming them: a product and an order (besides one
/// SKU `SECRET-2` no attacker ever sends), and cursors of its lists.
pub(crate) struct Victim {
    pub(crate) product_id: String,
    pub(crate) order_id: String,
    /// A webhook endpoint of the victim's (its URL names the victim's admin).
    pub(crate) webhook_id: String,
    /// An API client of the victim's (its name holds the victim's tenant id).
    pub(crate) api_client_id: String,
    pub(crate) product_cursor: String,
    pub(crate) order_cursor: String,
    pub(crate) user_cursor: String,
}

pub(crate) async fn prepare_victim(stack: &Stack, a: &Org) -> Victim {
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
pub(crate) fn tenant_route_attacks(a: &Org, v: &Victim) -> Vec<Attack<'static>> {
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
pub(crate) async fn run_attacks(
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

/// (route template, method, path, body, statuses allowed for the attacking admin, member).
pub(crate) type Attack<'a> = (
    &'a str,
    &'a str,
    String,
    Option<Value>,
    &'a [u16],
    &'a [u16],
);

/// Everything of tenant a, read as a.
pub(crate) async fn snapshot(stack: &Stack, a: &Org) -> Vec<Value> {
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
