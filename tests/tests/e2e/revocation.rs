//! Revocation: removed and demoted people and suspended organizations lose every route within
//! the bound.

use super::*;
use crate::within::*;

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
