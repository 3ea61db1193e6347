#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Machine clients end to end: an admin creates API clients, which get tokens from the token
//! endpoint with their credentials (client credentials, the pre-token trigger putting the tenant
//! in), and call the machine API with exactly their scopes, never another tenant's data, never
//! a person's route; a deleted client's tokens are refused within 10 s and it gets no new one.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tenantry_tests::stack::{Reply, Stack, Tokens, claims};

async fn organization(stack: &Stack, label: &str) -> (String, Tokens) {
    let (tenant, admin, _) = stack.new_organization(label).await;
    (tenant, admin)
}

async fn create_client(stack: &Stack, token: &str, name: &str, scopes: &[&str]) -> Value {
    let reply = stack
        .call(
            Some(token),
            "POST",
            "/api-clients",
            Some(&json!({"name": name, "scopes": scopes})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

/// A token from the token endpoint (HTTP Basic with the client's id and secret), or the error.
async fn token_for(
    stack: &Stack,
    client: &Value,
    scope: Option<&str>,
) -> Result<String, (u16, Value)> {
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    let mut form = "grant_type=client_credentials".to_owned();
    if let Some(scope) = scope {
        form.push_str(&format!(
            "&scope={}",
            scope.replace('/', "%2F").replace(' ', "+")
        ));
    }
    let response = stack
        .http
        .post(&stack.token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    match body["access_token"].as_str() {
        Some(token) if status == 200 => Ok(token.to_owned()),
        _ => Err((status, body)),
    }
}

/// A call to the machine API.
async fn machine(
    stack: &Stack,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = stack
        .http
        .request(method, format!("{}{path}", stack.machine_api_url))
        .header("authorization", token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        request_id: String::new(),
        etag: None,
    }
}

fn product(sku: &str) -> Value {
    json!({"name": "Sencha", "description": "Green tea", "sku": sku, "price": 1250, "currency": "EUR"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_client_works_with_exactly_its_scopes_in_its_own_organization() {
    let stack = Stack::from_env();
    let ((tenant_a, a), (_, b)) = tokio::join!(
        organization(&stack, "machine-owner"),
        organization(&stack, "machine-neighbour")
    );
    // The neighbour has a product the client must never see.
    let secret = stack
        .call(
            Some(&b.id),
            "POST",
            "/products",
            Some(&product("NEIGHBOUR-1")),
        )
        .await;
    assert_eq!(secret.status, 201, "{}", secret.body);
    let neighbours = format!("/products/{}", secret.body["id"].as_str().unwrap());

    let writer = create_client(
        &stack,
        &a.id,
        "ERP",
        &["products.read", "products.write", "orders.write"],
    )
    .await;
    assert!(
        writer["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth2/token")
    );
    let listed = stack.call(Some(&a.id), "GET", "/api-clients", None).await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        listed.body
    );
    assert!(
        !listed
            .body
            .to_string()
            .contains(writer["client_secret"].as_str().unwrap())
    );

    let token = token_for(&stack, &writer, None).await.unwrap();
    let carried = claims(&token);
    assert_eq!(carried["tenant_id"], tenant_a.as_str());
    assert_eq!(carried["token_use"], "access");
    assert_eq!(
        carried["scope"],
        "tenantry/products.read tenantry/products.write tenantry/orders.write"
    );

    // Its scopes: products read and written, orders placed.
    let made = machine(
        &stack,
        &token,
        "POST",
        "/products",
        Some(&product("MACHINE-1")),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let listed = machine(&stack, &token, "GET", "/products", None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let skus: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, vec!["MACHINE-1"]);
    let order = machine(
        &stack,
        &token,
        "POST",
        "/orders",
        Some(&json!({"lines": [{"product_id": made.body["id"], "quantity": 2}]})),
    )
    .await;
    assert_eq!(order.status, 201, "{}", order.body);
    assert_eq!(order.body["created_by"], carried["tenant_principal"]);
    // Not its scope: reading orders (the gateway refuses, as API Gateway's authorizer does).
    let orders = machine(&stack, &token, "GET", "/orders", None).await;
    assert_eq!(orders.status, 401, "{}", orders.body);
    // Never another tenant's data: its id reads as missing.
    let other = machine(&stack, &token, "GET", &neighbours, None).await;
    assert_eq!(
        (other.status, other.body["code"].as_str()),
        (404, Some("not-found")),
        "{}",
        other.body
    );
    let other = machine(&stack, &token, "DELETE", &neighbours, None).await;
    assert_eq!(other.status, 404, "{}", other.body);
    // Never a person's route: the people's API refuses an access token.
    for path in ["/products", "/tenant", "/users", "/api-clients"] {
        let reply = stack.call(Some(&token), "GET", path, None).await;
        assert_eq!(reply.status, 401, "{path}: {}", reply.body);
    }
    // And a person's ID token is no machine token.
    let person = machine(&stack, &a.id, "GET", "/products", None).await;
    assert_eq!(person.status, 401, "{}", person.body);

    // Deleted: its token is refused within 10 s, and it gets no new one.
    let deleted = stack
        .call(
            Some(&a.id),
            "DELETE",
            &format!("/api-clients/{}", writer["client_id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let started = Instant::now();
    loop {
        let reply = machine(&stack, &token, "GET", "/products", None).await;
        if reply.status == 401 && reply.body["code"] == "token-revoked" {
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still accepted after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let again = token_for(&stack, &writer, None).await.unwrap_err();
    assert_eq!(again.0, 400, "{:?}", again.1);

    // A read-only client (the basic plan's one, now that the first is gone): reads, never writes.
    let reader = create_client(&stack, &a.id, "BI", &["products.read"]).await;
    let read_token = token_for(&stack, &reader, None).await.unwrap();
    assert_eq!(
        machine(&stack, &read_token, "GET", "/products", None)
            .await
            .status,
        200
    );
    let refused = machine(
        &stack,
        &read_token,
        "POST",
        "/products",
        Some(&product("NOPE-1")),
    )
    .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    // A scope it does not have cannot be asked for.
    let asked = token_for(&stack, &reader, Some("tenantry/products.write"))
        .await
        .unwrap_err();
    assert_eq!(
        (asked.0, asked.1["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // Wrong credentials get nothing.
    let mut forged = reader.clone();
    forged["client_secret"] = json!("not-the-secret");
    let wrong = token_for(&stack, &forged, None).await.unwrap_err();
    assert_eq!(
        (wrong.0, wrong.1["error"].as_str()),
        (400, Some("invalid_client"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_clients_are_the_admins_of_their_own_organization_only() {
    let stack = Stack::from_env();
    let ((_, a), (_, b)) = tokio::join!(
        organization(&stack, "clients-owner"),
        organization(&stack, "clients-intruder")
    );
    let client = create_client(&stack, &a.id, "ERP", &["orders.read"]).await;
    let path = format!("/api-clients/{}", client["client_id"].as_str().unwrap());
    for method in ["GET", "DELETE"] {
        let reply = stack.call(Some(&b.id), method, &path, None).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (404, Some("not-found")),
            "{method}: {}",
            reply.body
        );
    }
    assert_eq!(
        stack
            .call(Some(&b.id), "GET", "/api-clients", None)
            .await
            .body["items"],
        json!([])
    );
    // A member is no admin.
    let member = stack.new_member(&a, "clients-member").await;
    for (method, target) in [("GET", "/api-clients".to_owned()), ("DELETE", path.clone())] {
        let reply = stack.call(Some(&member.id), method, &target, None).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {target}"
        );
    }
    // Bad input is a 400 naming the field; the plan bounds the number (basic: 1).
    for (body, field) in [
        (json!({"name": "", "scopes": ["orders.read"]}), "name"),
        (json!({"name": "X", "scopes": []}), "scopes"),
        (json!({"name": "X", "scopes": ["orders.delete"]}), "scopes"),
    ] {
        let reply = stack
            .call(Some(&a.id), "POST", "/api-clients", Some(&body))
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (400, Some("validation-failed")),
            "{body}: {}",
            reply.body
        );
        assert!(reply.body.to_string().contains(field), "{}", reply.body);
    }
    let second = stack
        .call(
            Some(&a.id),
            "POST",
            "/api-clients",
            Some(&json!({"name": "BI", "scopes": ["orders.read"]})),
        )
        .await;
    assert_eq!(
        (second.status, second.body["code"].as_str()),
        (429, Some("quota-exceeded")),
        "{}",
        second.body
    );
}

/// An organization that turns its MFA requirement on keeps its integrations: its people without
/// a second factor are refused (within the data routes' 10 s), its API client never is (machine
/// clients are exempt: see `shared::authority::check`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_client_keeps_working_when_its_organization_requires_mfa() {
    let stack = Stack::from_env();
    let (_, admin) = organization(&stack, "mfa-machine").await;
    let client = create_client(
        &stack,
        &admin.id,
        "ERP",
        &["products.read", "products.write"],
    )
    .await;
    let token = token_for(&stack, &client, None).await.unwrap();
    let made = machine(
        &stack,
        &token,
        "POST",
        "/products",
        Some(&product("MFA-M-1")),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);

    let current = stack.call(Some(&admin.id), "GET", "/tenant", None).await;
    let required = stack
        .call(
            Some(&admin.id),
            "PATCH",
            "/tenant",
            Some(&json!({"require_mfa": true, "version": current.body["version"]})),
        )
        .await;
    assert_eq!(required.status, 200, "{}", required.body);
    // Past the data routes' cache of the tenant record (10 s) every instance has the requirement:
    // the admin's token without a second factor is refused, the client's is served throughout.
    let since = Instant::now();
    let mut person_refused = false;
    let mut n = 0;
    while since.elapsed() < Duration::from_secs(11) || !person_refused {
        n += 1;
        let listed = machine(&stack, &token, "GET", "/products", None).await;
        assert_eq!(
            listed.status,
            200,
            "the API client was refused {:?} after the requirement: {}",
            since.elapsed(),
            listed.body
        );
        let written = machine(
            &stack,
            &token,
            "POST",
            "/products",
            Some(&product(&format!("MFA-M-{n}-B"))),
        )
        .await;
        assert_eq!(written.status, 201, "{}", written.body);
        let person = stack.call(Some(&admin.id), "GET", "/products", None).await;
        if person.body["code"] == "mfa-required" {
            person_refused = true;
        } else {
            assert_eq!(person.status, 200, "{}", person.body);
        }
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "the admin without a second factor is still served"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A new token works too (the trigger issues it as before).
    let fresh = token_for(&stack, &client, None).await.unwrap();
    let listed = machine(&stack, &fresh, "GET", "/products", None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
}

/// The Cognito app client behind an API client can sign no person in: no user sign-in flow
/// (refresh only, and client credentials issue no refresh token), Cognito's answers never say
/// whether an address has an account, the client-credentials grant only, and short-lived
/// tokens. Read back from the user pool as the service created it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_clients_app_client_signs_no_person_in() {
    use aws_sdk_cognitoidentityprovider::types::{
        ExplicitAuthFlowsType, OAuthFlowType, PreventUserExistenceErrorTypes, TimeUnitsType,
    };
    let stack = Stack::from_env();
    let (_, admin) = organization(&stack, "app-client").await;
    let client = create_client(&stack, &admin.id, "ERP", &["orders.read"]).await;
    let described = stack
        .cognito
        .describe_user_pool_client()
        .user_pool_id(&stack.user_pool_id)
        .client_id(client["client_id"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let app = described.user_pool_client().unwrap();
    assert_eq!(
        app.explicit_auth_flows(),
        [ExplicitAuthFlowsType::AllowRefreshTokenAuth],
        "user sign-in flows"
    );
    assert_eq!(
        app.prevent_user_existence_errors(),
        Some(&PreventUserExistenceErrorTypes::Enabled)
    );
    assert_eq!(
        app.allowed_o_auth_flows(),
        [OAuthFlowType::ClientCredentials]
    );
    assert_eq!(app.allowed_o_auth_scopes(), ["tenantry/orders.read"]);
    assert_eq!(app.enable_token_revocation(), Some(true));
    let units = app.token_validity_units().unwrap();
    assert_eq!(
        (app.access_token_validity(), units.access_token()),
        (Some(15), Some(&TimeUnitsType::Minutes))
    );
    assert_eq!(
        (app.id_token_validity(), units.id_token()),
        (Some(5), Some(&TimeUnitsType::Minutes))
    );
    assert_eq!(
        (app.refresh_token_validity(), units.refresh_token()),
        (60, Some(&TimeUnitsType::Minutes))
    );
    assert!(app.callback_urls().is_empty() && app.supported_identity_providers().is_empty());
}

/// Deleting an API client revokes its tokens by the module's clock rule (`next_grant`: after the
/// client's own grant, whatever this machine's clock says: the client may have been made by
/// another machine a little ahead, or in the same millisecond), and prunes the tenant's expired
/// revocations as a member's removal does, so create-delete loops cannot grow the tenant record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_api_client_revokes_after_its_grant_and_prunes_expired_revocations() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::api_clients::{ApiClient, ClientId, Scope};
    use shared::domain::Tier;
    use shared::domain::email::EmailAddress;
    use shared::domain::revocation::REVOCATION_RETENTION;
    use shared::domain::tenant::{Tenant, TenantName, TenantStatus};
    use shared::domain::time::now_millis;
    use shared::ids::UserId;
    use shared::store::control::{Onboarding, TenantStore};

    let control = tenantry_tests::control_store();
    let user = || UserId::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
    let mut tenant = Tenant::new(TenantName::parse("Revoking Org").unwrap(), Tier::Basic);
    tenant.status = TenantStatus::Active;
    let admin = user();
    let email = EmailAddress::parse(&format!("{admin}@example.com")).unwrap();
    control.onboard(&tenant, &admin, &email).await.unwrap();
    // Someone removed long ago, and someone removed a minute ago.
    let (old, recent) = (user(), user());
    let now = now_millis();
    let key = shared::keys::tenant(&tenant.id);
    tenantry_tests::dynamodb()
        .update_item()
        .table_name(tenantry_tests::env("TENANTRY_CONTROL_TABLE"))
        .key("pk", AttributeValue::S(key.pk))
        .key("sk", AttributeValue::S(key.sk))
        .update_expression("SET revoked.#old = :old, revoked.#recent = :recent")
        .expression_attribute_names("#old", old.as_str())
        .expression_attribute_names("#recent", recent.as_str())
        .expression_attribute_values(
            ":old",
            AttributeValue::N((now - REVOCATION_RETENTION.as_millis() as u64 - 1).to_string()),
        )
        .expression_attribute_values(":recent", AttributeValue::N((now - 60_000).to_string()))
        .send()
        .await
        .unwrap();

    let client = ApiClient {
        client_id: ClientId::parse(&uuid::Uuid::new_v4().simple().to_string()).unwrap(),
        tenant_id: tenant.id,
        name: "ERP".to_owned(),
        scopes: vec![Scope::OrdersRead],
        principal: user(),
        // Made by a machine whose clock is a minute ahead of this one.
        created_ms: now + 60_000,
        created_by: Some(admin.clone()),
    };
    assert!(control.create_api_client(&client, 5).await.unwrap());
    assert!(
        control
            .delete_api_client(&tenant.id, &client.client_id)
            .await
            .unwrap()
            .is_some()
    );
    let record = control.get_tenant(&tenant.id).await.unwrap();
    let revoked_at = record.revoked.get(&client.principal).copied();
    assert!(
        revoked_at.is_some_and(|at| at > client.created_ms),
        "a token granted when the client was made ({}) is not revoked by {revoked_at:?}",
        client.created_ms
    );
    assert!(
        !record.revoked.contains_key(&old),
        "an expired revocation is kept: {:?}",
        record.revoked
    );
    assert!(record.revoked.contains_key(&recent));
}
