use serde_json::json;
use std::sync::Arc;

use serde_json::Value;
use shared::testing::memory_store::MemoryStore;
use shared::testing::{Event, TENANT_A, TENANT_B, assert_problem, body_json};

use super::*;

#[test]
fn the_route_table_is_the_documents() {
    shared::testing::assert_routes_documented(
        "products-api",
        ROUTES.iter().map(|(route, _)| *route),
    );
}

fn deps() -> Deps<MemoryStore> {
    Deps {
        store: MemoryStore::new(),
    }
}

shared::handler_test_harness!("products-api", Deps<MemoryStore>);

async fn create(deps: &Deps<MemoryStore>, who: &str, sku: &str) -> Value {
    let body = json!({"name": "Sencha", "sku": sku, "price": 1250, "currency": "EUR"}).to_string();
    let response = call(deps, fixture("create-product", who).body(&body)).await;
    assert_eq!(response.status(), 201, "{}", body_json(&response));
    body_json(&response)
}

fn id_of(product: &Value) -> &str {
    product["id"].as_str().expect("id")
}

#[tokio::test]
async fn member_creates_a_product_and_reads_it_back() {
    let deps = deps();
    let response = call(&deps, fixture("create-product", "a-member")).await;
    assert_eq!(response.status(), 201);
    let created = body_json(&response);
    let id = id_of(&created);
    assert_eq!(
        response.headers()["location"],
        format!("/products/{id}").as_str()
    );
    assert_eq!(response.headers()["etag"], "\"1\"");
    assert_eq!(created["sku"], "TEA-SEN-100");
    assert_eq!(created["price"], 1250);
    assert_eq!(created["currency"], "EUR");
    assert_eq!(created["version"], 1);

    let read = call(
        &deps,
        fixture("get-product", "a-admin").path_param("productId", id),
    )
    .await;
    assert_eq!(read.status(), 200);
    assert_eq!(body_json(&read), created);
    let stored = deps
        .store
        .get_product(&TENANT_A.parse().unwrap(), &id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.name.as_str(), "Sencha");
}

#[tokio::test]
async fn other_tenants_product_is_404_on_every_verb() {
    let deps = deps();
    let product = create(&deps, "a-admin", "A-1").await;
    let id = id_of(&product);
    for who in ["b-admin", "b-member"] {
        let get = call(
            &deps,
            fixture("get-product", who).path_param("productId", id),
        )
        .await;
        assert_problem(&get, 404, "not-found");
        let put = call(
            &deps,
            fixture("replace-product", who).path_param("productId", id),
        )
        .await;
        assert_problem(&put, 404, "not-found");
    }
    let delete = call(
        &deps,
        fixture("delete-product", "b-admin").path_param("productId", id),
    )
    .await;
    assert_problem(&delete, 404, "not-found");
    // A's product is untouched.
    let read = call(
        &deps,
        fixture("get-product", "a-member").path_param("productId", id),
    )
    .await;
    assert_eq!(body_json(&read), product);
}

#[tokio::test]
async fn lists_show_only_the_callers_tenant() {
    let deps = deps();
    create(&deps, "a-admin", "A-1").await;
    create(&deps, "a-member", "A-2").await;
    let mine = create(&deps, "b-member", "B-1").await;
    let listed = body_json(&call(&deps, fixture("list-products", "b-admin")).await);
    assert_eq!(listed["items"], json!([mine]));
    assert_eq!(listed["next_cursor"], Value::Null);
}

#[tokio::test]
async fn listing_pages_newest_first_and_a_cursor_is_refused_to_another_tenant() {
    let deps = deps();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id_of(&create(&deps, "a-admin", &format!("P-{i}")).await).to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let first = body_json(
        &call(
            &deps,
            fixture("list-products", "a-member").query("limit", "2"),
        )
        .await,
    );
    assert_eq!(first["items"][0]["id"], ids[2].as_str());
    assert_eq!(first["items"][1]["id"], ids[1].as_str());
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = body_json(
        &call(
            &deps,
            fixture("list-products", "a-member")
                .query("limit", "2")
                .query("cursor", cursor),
        )
        .await,
    );
    assert_eq!(second["items"][0]["id"], ids[0].as_str());
    assert_eq!(second["next_cursor"], Value::Null);

    for who in ["b-admin", "b-member"] {
        let replayed = call(&deps, fixture("list-products", who).query("cursor", cursor)).await;
        assert_problem(&replayed, 400, "invalid-cursor");
    }
}

#[tokio::test]
async fn b_writes_never_touch_a_items_even_with_a_tenant_id_in_the_body() {
    let deps = deps();
    let product = create(&deps, "a-admin", "A-1").await;
    let body = json!({"name": "Hijack", "sku": "A-1", "price": 1, "currency": "EUR", "tenant_id": TENANT_A}).to_string();
    let create_as_b = call(&deps, fixture("create-product", "b-admin").body(&body)).await;
    assert_problem(&create_as_b, 400, "invalid-request");
    let replace =
        json!({"name": "Hijack", "sku": "A-1", "price": 1, "currency": "EUR", "version": 1})
            .to_string();
    let put = call(
        &deps,
        fixture("replace-product", "b-admin")
            .path_param("productId", id_of(&product))
            .body(&replace),
    )
    .await;
    assert_problem(&put, 404, "not-found");
    let read = call(
        &deps,
        fixture("get-product", "a-admin").path_param("productId", id_of(&product)),
    )
    .await;
    assert_eq!(body_json(&read), product);
    let b_list = body_json(&call(&deps, fixture("list-products", "b-admin")).await);
    assert_eq!(b_list["items"], json!([]));
}

#[tokio::test]
async fn sku_is_unique_per_tenant() {
    let deps = deps();
    create(&deps, "a-admin", "SAME").await;
    let body = json!({"name": "Twin", "sku": "same", "price": 1, "currency": "EUR"}).to_string();
    let twin = call(&deps, fixture("create-product", "a-member").body(&body)).await;
    assert_problem(&twin, 409, "sku-taken");
    let other_tenant = call(&deps, fixture("create-product", "b-member").body(&body)).await;
    assert_eq!(other_tenant.status(), 201);
}

#[tokio::test]
async fn replace_needs_the_current_version() {
    let deps = deps();
    let product = create(&deps, "a-admin", "V-1").await;
    let id = id_of(&product);
    let body = |version: Option<u64>| {
        let mut body = json!({"name": "Sencha", "sku": "V-1", "price": 99, "currency": "EUR"});
        if let Some(version) = version {
            body["version"] = json!(version);
        }
        body.to_string()
    };
    let replaced = call(
        &deps,
        fixture("replace-product", "a-member")
            .path_param("productId", id)
            .body(&body(Some(1))),
    )
    .await;
    assert_eq!(replaced.status(), 200);
    assert_eq!(replaced.headers()["etag"], "\"2\"");
    assert_eq!(body_json(&replaced)["price"], 99);

    let stale = call(
        &deps,
        fixture("replace-product", "a-member")
            .path_param("productId", id)
            .body(&body(Some(1))),
    )
    .await;
    assert_problem(&stale, 409, "version-conflict");
    let stale_if_match = call(
        &deps,
        fixture("replace-product", "a-member")
            .path_param("productId", id)
            .body(&body(None))
            .header("If-Match", "\"1\""),
    )
    .await;
    assert_problem(&stale_if_match, 412, "precondition-failed");
    let missing = call(
        &deps,
        fixture("replace-product", "a-member")
            .path_param("productId", id)
            .body(&body(None)),
    )
    .await;
    assert_problem(&missing, 400, "invalid-request");
    let disagree = call(
        &deps,
        fixture("replace-product", "a-member")
            .path_param("productId", id)
            .body(&body(Some(2)))
            .header("If-Match", "\"3\""),
    )
    .await;
    assert_problem(&disagree, 400, "invalid-request");
    let current = call(
        &deps,
        fixture("replace-product", "a-member")
            .path_param("productId", id)
            .body(&body(None))
            .header("If-Match", "W/\"2\""),
    )
    .await;
    assert_eq!(current.status(), 200);
}

#[tokio::test]
async fn concurrent_replaces_of_one_version_have_one_winner() {
    let deps = Arc::new(deps());
    let product = create(&deps, "a-admin", "CC").await;
    let id = id_of(&product).to_owned();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (deps, id) = (Arc::clone(&deps), id.clone());
            tokio::spawn(async move {
                let body = json!({"name": "Sencha", "sku": "CC", "price": i, "currency": "EUR", "version": 1}).to_string();
                call(&deps, fixture("replace-product", "a-member").path_param("productId", &id).body(&body)).await.status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    let read = body_json(
        &call(
            &deps,
            fixture("get-product", "a-admin").path_param("productId", &id),
        )
        .await,
    );
    assert_eq!(read["version"], 2);
}

#[tokio::test]
async fn member_cannot_delete_but_admin_can() {
    let deps = deps();
    let product = create(&deps, "a-member", "D-1").await;
    let id = id_of(&product);
    let by_member = call(
        &deps,
        fixture("delete-product", "a-member").path_param("productId", id),
    )
    .await;
    assert_problem(&by_member, 403, "forbidden");
    let stale = call(
        &deps,
        fixture("delete-product", "a-admin")
            .path_param("productId", id)
            .header("If-Match", "\"9\""),
    )
    .await;
    assert_problem(&stale, 412, "precondition-failed");
    let by_admin = call(
        &deps,
        fixture("delete-product", "a-admin").path_param("productId", id),
    )
    .await;
    assert_eq!(by_admin.status(), 204);
    let gone = call(
        &deps,
        fixture("get-product", "a-admin").path_param("productId", id),
    )
    .await;
    assert_problem(&gone, 404, "not-found");
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem() {
    let deps = deps();
    let cases: Vec<(Event, u16, &str)> = vec![
        (
            fixture("create-product", "a-admin").body("{\"name\":"),
            400,
            "malformed-json",
        ),
        (
            fixture("create-product", "a-admin").body(""),
            400,
            "malformed-json",
        ),
        (
            fixture("create-product", "a-admin")
                .body(r#"{"name":1,"sku":"X","price":1,"currency":"EUR"}"#),
            400,
            "invalid-request",
        ),
        (
            fixture("create-product", "a-admin")
                .body(r#"{"name":"X","sku":"X","price":12.5,"currency":"EUR"}"#),
            400,
            "invalid-request",
        ),
        (
            fixture("create-product", "a-admin")
                .body(r#"{"name":"X","sku":"X","price":-1,"currency":"EUR"}"#),
            400,
            "validation-failed",
        ),
        (
            fixture("create-product", "a-admin")
                .body(r#"{"name":"X","sku":"X","price":1,"currency":"euro"}"#),
            400,
            "validation-failed",
        ),
        (
            fixture("create-product", "a-admin")
                .body(r#"{"name":"X","sku":"X#Y","price":1,"currency":"EUR"}"#),
            400,
            "validation-failed",
        ),
        (
            fixture("create-product", "a-admin")
                .body(r#"{"name":"X","sku":"X","price":1,"currency":"EUR","colour":"red"}"#),
            400,
            "invalid-request",
        ),
        (
            fixture("create-product", "a-admin")
                .body(r#"{"name":"X","sku":"X","price":99999999999999999999,"currency":"EUR"}"#),
            400,
            "invalid-request",
        ),
        (
            fixture("create-product", "a-admin").body(&format!(
                r#"{{"name":"{}","sku":"X","price":1,"currency":"EUR"}}"#,
                "x".repeat(20_000)
            )),
            413,
            "payload-too-large",
        ),
        (
            fixture("create-product", "a-admin").header("Content-Type", "text/plain"),
            415,
            "unsupported-media-type",
        ),
        (
            fixture("list-products", "a-admin").query("limit", "1000000"),
            400,
            "invalid-request",
        ),
        (
            fixture("list-products", "a-admin").query("limit", "0"),
            400,
            "invalid-request",
        ),
        (
            fixture("list-products", "a-admin").query("limit", "ten"),
            400,
            "invalid-request",
        ),
        (
            fixture("list-products", "a-admin").query("cursor", "not-a-cursor"),
            400,
            "invalid-cursor",
        ),
        (
            fixture("get-product", "a-admin").path_param("productId", "TENANT#x"),
            404,
            "not-found",
        ),
    ];
    for (event, status, code) in cases {
        let response = call(&deps, event).await;
        let body = assert_problem(&response, status, code);
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert_eq!(
        body_json(&call(&deps, fixture("list-products", "a-admin")).await)["items"],
        json!([])
    );
}

#[tokio::test]
async fn requests_without_valid_tenant_claims_are_refused() {
    let deps = deps();
    let cases: Vec<(Event, u16, &str)> = vec![
        (
            fixture("list-products", "a-admin").without_authorizer(),
            401,
            "unauthenticated",
        ),
        (
            fixture("list-products", "a-admin").claim("sub", None),
            401,
            "unauthenticated",
        ),
        (
            fixture("list-products", "a-admin").claim("tenant_id", Some("../other")),
            401,
            "unauthenticated",
        ),
        (
            fixture("list-products", "a-admin").claim("tenant_role", Some("owner")),
            401,
            "unauthenticated",
        ),
        (
            fixture("list-products", "a-admin").claim("tenant_tier", None),
            401,
            "unauthenticated",
        ),
        (
            fixture("list-products", "a-admin")
                .claim("tenant_id", None)
                .claim("tenant_role", None)
                .claim("tenant_tier", None),
            403,
            "no-tenant",
        ),
    ];
    for (event, status, code) in cases {
        assert_problem(&call(&deps, event).await, status, code);
    }
}

#[tokio::test]
async fn the_tenant_comes_from_claims_not_from_headers_or_query() {
    let deps = deps();
    create(&deps, "a-admin", "A-1").await;
    let sneaky = fixture("list-products", "b-admin")
        .header("X-Tenant-Id", TENANT_A)
        .query("tenant_id", TENANT_A);
    let listed = body_json(&call(&deps, sneaky).await);
    assert_eq!(listed["items"], json!([]));
    let own = body_json(
        &call(
            &deps,
            fixture("list-products", "a-admin").query("tenant_id", TENANT_B),
        )
        .await,
    );
    assert_eq!(own["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let deps = deps();
    let mut event = fixture("list-products", "a-admin");
    event.0["path"] = json!("/productz");
    event.0["resource"] = json!("/productz");
    assert_problem(&call(&deps, event).await, 404, "not-found");
    let mut patch = fixture("get-product", "a-admin");
    patch.0["httpMethod"] = json!("PATCH");
    assert_problem(&call(&deps, patch).await, 405, "method-not-allowed");
}

#[tokio::test]
async fn the_plan_limit_on_products_is_enforced() {
    let deps = deps();
    let max = PlanLimits::of(shared::domain::Tier::Basic).max_products;
    for i in 0..max {
        create(&deps, "a-member", &format!("Q-{i}")).await;
    }
    let body =
        json!({"name": "One more", "sku": "Q-MAX", "price": 1, "currency": "EUR"}).to_string();
    let over = call(&deps, fixture("create-product", "a-member").body(&body)).await;
    let problem = assert_problem(&over, 429, "quota-exceeded");
    assert_eq!(problem["limit"], "max_products");
    // Tenant b (standard tier) is not affected.
    assert_eq!(
        call(&deps, fixture("create-product", "b-member").body(&body))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn over_a_lowered_plans_limits_the_data_is_read_only_until_within_them() {
    let deps = deps();
    let b: shared::ids::TenantId = TENANT_B.parse().unwrap();
    let max = PlanLimits::of(shared::domain::Tier::Basic).max_products;
    let mut products = Vec::new();
    for i in 0..=max {
        products.push(create(&deps, "b-member", &format!("R-{i}")).await);
    }
    // Cancelled: back to basic with one product too many.
    deps.store.set_tier(b, shared::domain::Tier::Basic);
    deps.store.set_plan_lowered(b, 2);
    let first = id_of(&products[0]).to_owned();
    let body =
        json!({"name": "Gyokuro", "sku": "R-0", "price": 99, "currency": "EUR", "version": 1})
            .to_string();
    let replace = || {
        fixture("replace-product", "b-admin")
            .path_param("productId", &first)
            .body(&body)
    };
    let put = call(&deps, replace()).await;
    let problem = assert_problem(&put, 409, "over-plan-limits");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("101 products of 100")),
        "{problem}"
    );
    let new = call(&deps, fixture("create-product", "b-admin")).await;
    assert_problem(&new, 409, "over-plan-limits");
    // Reading and deleting still work; within the limits, writing works again.
    let read = call(
        &deps,
        fixture("get-product", "b-member").path_param("productId", &first),
    )
    .await;
    assert_eq!(read.status(), 200);
    let last = id_of(&products[max as usize]).to_owned();
    let delete = call(
        &deps,
        fixture("delete-product", "b-admin").path_param("productId", &last),
    )
    .await;
    assert_eq!(delete.status(), 204);
    let put = call(&deps, replace()).await;
    assert_eq!(put.status(), 200, "{}", body_json(&put));
    // Another tenant is never affected.
    create(&deps, "a-admin", "R-A").await;
}

#[tokio::test]
async fn limits_follow_the_stored_tier_not_the_tokens() {
    let deps = deps();
    // Tenant b's token still says standard; the plan was moved down to basic.
    deps.store
        .set_tier(TENANT_B.parse().unwrap(), shared::domain::Tier::Basic);
    let max = PlanLimits::of(shared::domain::Tier::Basic).max_products;
    for i in 0..max {
        create(&deps, "b-member", &format!("Q-{i}")).await;
    }
    let body =
        json!({"name": "One more", "sku": "Q-MAX", "price": 1, "currency": "EUR"}).to_string();
    let over = call(&deps, fixture("create-product", "b-member").body(&body)).await;
    assert_eq!(assert_problem(&over, 429, "quota-exceeded")["max"], max);
}

#[tokio::test]
async fn a_token_older_than_its_users_revocation_is_refused_on_every_verb() {
    let deps = deps();
    let product = create(&deps, "a-admin", "TEA-1").await;
    let id = id_of(&product).to_owned();
    let admin = shared::testing::USERS[0].2;
    deps.store.revoke(
        TENANT_A.parse().unwrap(),
        shared::ids::UserId::parse(admin).unwrap(),
        shared::testing::FIXTURE_GRANT + 1,
    );
    let body =
        json!({"name": "X", "sku": "X-1", "price": 1, "currency": "EUR", "version": 1}).to_string();
    for event in [
        fixture("list-products", "a-admin"),
        fixture("get-product", "a-admin").path_param("productId", &id),
        fixture("create-product", "a-admin").body(&body),
        fixture("replace-product", "a-admin")
            .path_param("productId", &id)
            .body(&body),
        fixture("delete-product", "a-admin").path_param("productId", &id),
    ] {
        assert_problem(&call(&deps, event).await, 401, "token-revoked");
    }
    // A token granted at or after the revocation (a refresh) works; the other member too.
    let fresh = fixture("get-product", "a-admin")
        .path_param("productId", &id)
        .claim(
            "tenant_grant",
            Some(&(shared::testing::FIXTURE_GRANT + 1).to_string()),
        );
    assert_eq!(call(&deps, fresh).await.status(), 200);
    let other = fixture("get-product", "a-member").path_param("productId", &id);
    assert_eq!(call(&deps, other).await.status(), 200);
}

#[tokio::test]
async fn a_suspended_or_offboarded_tenant_is_refused_on_every_verb() {
    use shared::domain::tenant::TenantStatus;
    let deps = deps();
    let product = create(&deps, "a-member", "TEA-1").await;
    let id = id_of(&product).to_owned();
    for status in [
        TenantStatus::Suspended,
        TenantStatus::Deleting,
        TenantStatus::Deleted,
    ] {
        deps.store.set_status(TENANT_A.parse().unwrap(), status);
        for event in [
            fixture("list-products", "a-member"),
            fixture("get-product", "a-member").path_param("productId", &id),
            fixture("delete-product", "a-admin").path_param("productId", &id),
        ] {
            assert_problem(&call(&deps, event).await, 403, "tenant-inactive");
        }
    }
    assert_eq!(
        call(&deps, fixture("list-products", "b-member"))
            .await
            .status(),
        200
    );
}

/// The function checks a machine token's scope itself: the machine API's authorizer does
/// too, but a token that reaches the function another way gets no more than its scopes.
#[tokio::test]
async fn a_machine_client_does_exactly_what_its_scopes_allow() {
    let deps = deps();
    let product = create(&deps, "a-admin", "M-1").await;
    let id = id_of(&product).to_owned();
    let new = json!({"name": "Machine", "sku": "M-2", "price": 1, "currency": "EUR"});
    let mut replacement = new.clone();
    replacement["version"] = json!(1);
    let writes = |scopes: &[&str]| {
        [
            fixture("create-product", "a-member")
                .body(&new.to_string())
                .as_machine(scopes),
            fixture("replace-product", "a-member")
                .path_param("productId", &id)
                .body(&replacement.to_string())
                .as_machine(scopes),
            fixture("delete-product", "a-member")
                .path_param("productId", &id)
                .as_machine(scopes),
        ]
    };
    let reads = |scopes: &[&str]| {
        [
            fixture("list-products", "a-member").as_machine(scopes),
            fixture("get-product", "a-member")
                .path_param("productId", &id)
                .as_machine(scopes),
        ]
    };
    for event in reads(&["products.read"]) {
        assert_eq!(call(&deps, event).await.status(), 200);
    }
    for scopes in [
        &["products.read"][..],
        &["orders.read", "orders.write"],
        &[],
    ] {
        for event in writes(scopes) {
            assert_problem(&call(&deps, event).await, 403, "forbidden");
        }
    }
    for event in reads(&["products.write"]) {
        assert_problem(&call(&deps, event).await, 403, "forbidden");
    }
    let unchanged = call(
        &deps,
        fixture("get-product", "a-admin").path_param("productId", &id),
    )
    .await;
    assert_eq!(body_json(&unchanged), product);
    // products.write may delete, though its role is a member's.
    let deleted = call(
        &deps,
        fixture("delete-product", "a-member")
            .path_param("productId", &id)
            .as_machine(&["products.write"]),
    )
    .await;
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
async fn a_machine_client_never_reaches_another_tenants_product() {
    let deps = deps();
    let theirs = create(&deps, "b-admin", "B-1").await;
    let id = id_of(&theirs);
    let all = ["products.read", "products.write"];
    for event in [
        fixture("get-product", "a-member").path_param("productId", id),
        fixture("delete-product", "a-member").path_param("productId", id),
    ] {
        assert_problem(&call(&deps, event.as_machine(&all)).await, 404, "not-found");
    }
    let listed =
        body_json(&call(&deps, fixture("list-products", "a-member").as_machine(&all)).await);
    assert_eq!(listed["items"], json!([]));
    let kept = call(
        &deps,
        fixture("get-product", "b-admin").path_param("productId", id),
    )
    .await;
    assert_eq!(body_json(&kept), theirs);
}

/// Machine clients are exempt from the organization's MFA requirement (see
/// `shared::authority::check`), which still refuses people without a second factor; their
/// revocation still applies.
#[tokio::test]
async fn a_machine_client_works_under_an_mfa_requirement_until_revoked() {
    let deps = deps();
    let tenant: shared::ids::TenantId = TENANT_A.parse().unwrap();
    deps.store.set_require_mfa(tenant, true);
    assert_problem(
        &call(&deps, fixture("list-products", "a-member")).await,
        403,
        "mfa-required",
    );
    let machine = || fixture("list-products", "a-member").as_machine(&["products.read"]);
    assert_eq!(call(&deps, machine()).await.status(), 200);
    deps.store.revoke(
        tenant,
        shared::ids::UserId::parse(shared::testing::MACHINE_PRINCIPAL).unwrap(),
        shared::testing::FIXTURE_GRANT + 1,
    );
    assert_problem(&call(&deps, machine()).await, 401, "token-revoked");
}

#[tokio::test]
async fn a_tenant_being_provisioned_gets_503_with_retry_after() {
    let deps = deps();
    deps.store.mark_not_ready(TENANT_A.parse().unwrap());
    let response = call(&deps, fixture("list-products", "a-admin")).await;
    assert_problem(&response, 503, "tenant-provisioning");
    assert!(response.headers().contains_key("retry-after"));
}
