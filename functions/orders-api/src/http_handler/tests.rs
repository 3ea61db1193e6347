use serde_json::{Value, json};
use shared::domain::product::Product;
use shared::ids::TenantId;
use shared::store::ProductStore;
use shared::testing::memory_store::MemoryStore;
use shared::testing::store_contract::draft;
use shared::testing::{Event, TENANT_A, TENANT_B, assert_problem, body_json};

use super::*;

#[test]
fn the_route_table_is_the_documents() {
    shared::testing::assert_routes_documented("orders-api", ROUTES.iter().map(|(route, _)| *route));
}

fn deps() -> Deps<MemoryStore> {
    Deps {
        store: MemoryStore::new(),
    }
}

shared::handler_test_harness!("orders-api", Deps<MemoryStore>);

async fn product(deps: &Deps<MemoryStore>, tenant: &str, sku: &str, price: i64) -> Product {
    let tenant: TenantId = tenant.parse().unwrap();
    let product = Product::create(draft(sku, price));
    deps.store
        .create_product(&tenant, &product, 1_000)
        .await
        .unwrap();
    product
}

fn order_body(lines: &[(&Product, i64)]) -> String {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(p, q)| json!({"product_id": p.id.to_string(), "quantity": q}))
        .collect();
    json!({ "lines": lines }).to_string()
}

async fn place(deps: &Deps<MemoryStore>, who: &str, lines: &[(&Product, i64)]) -> Value {
    let response = call(deps, fixture("create-order", who).body(&order_body(lines))).await;
    assert_eq!(response.status(), 201, "{}", body_json(&response));
    body_json(&response)
}

fn patch(who: &str, id: &str, body: Value) -> Event {
    fixture("change-order-status", who)
        .path_param("orderId", id)
        .body(&body.to_string())
}

#[tokio::test]
async fn an_order_is_priced_from_the_tenants_products() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 450).await;
    let cup = product(&deps, TENANT_A, "CUP", 1200).await;
    let response = call(
        &deps,
        fixture("create-order", "a-member").body(&order_body(&[(&tea, 3), (&cup, 2)])),
    )
    .await;
    assert_eq!(response.status(), 201);
    let order = body_json(&response);
    assert_eq!(
        response.headers()["location"],
        format!("/orders/{}", order["id"].as_str().unwrap()).as_str()
    );
    assert_eq!(order["status"], "pending");
    assert_eq!(order["total"], 450 * 3 + 1200 * 2);
    assert_eq!(order["currency"], "EUR");
    assert_eq!(order["lines"][0]["unit_price"], 450);
    assert_eq!(order["lines"][1]["line_total"], 2400);
    assert_eq!(order["created_by"], "0a000000-0000-4000-8000-00000000a0ae");
    let read = call(
        &deps,
        fixture("get-order", "a-admin").path_param("orderId", order["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(body_json(&read), order);
}

#[tokio::test]
async fn over_a_lowered_plans_user_limit_orders_are_read_only() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 450).await;
    let placed = call(
        &deps,
        fixture("create-order", "a-member").body(&order_body(&[(&tea, 1)])),
    )
    .await;
    assert_eq!(placed.status(), 201);
    let id = body_json(&placed)["id"].as_str().unwrap().to_owned();
    // Back on basic (5 users) with 6.
    deps.store.set_plan_lowered(TENANT_A.parse().unwrap(), 6);
    let again = call(
        &deps,
        fixture("create-order", "a-member").body(&order_body(&[(&tea, 1)])),
    )
    .await;
    let problem = assert_problem(&again, 409, "over-plan-limits");
    assert!(problem["detail"].as_str().unwrap().contains("6 users of 5"));
    let moved = call(
        &deps,
        fixture("change-order-status", "a-admin").path_param("orderId", &id),
    )
    .await;
    assert_problem(&moved, 409, "over-plan-limits");
    let read = call(
        &deps,
        fixture("get-order", "a-member").path_param("orderId", &id),
    )
    .await;
    assert_eq!(read.status(), 200);
}

#[tokio::test]
async fn clients_cannot_set_prices_or_totals() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 450).await;
    let with_total =
        json!({"lines": [{"product_id": tea.id.to_string(), "quantity": 1}], "total": 1})
            .to_string();
    assert_problem(
        &call(&deps, fixture("create-order", "a-member").body(&with_total)).await,
        400,
        "invalid-request",
    );
    let with_price =
        json!({"lines": [{"product_id": tea.id.to_string(), "quantity": 1, "unit_price": 1}]})
            .to_string();
    assert_problem(
        &call(&deps, fixture("create-order", "a-member").body(&with_price)).await,
        400,
        "invalid-request",
    );
}

#[tokio::test]
async fn another_tenants_product_is_treated_like_a_missing_one() {
    let deps = deps();
    let theirs = product(&deps, TENANT_A, "TEA", 450).await;
    let missing = Product::create(draft("GHOST", 1));
    for who in ["b-admin", "b-member"] {
        let foreign = assert_problem(
            &call(
                &deps,
                fixture("create-order", who).body(&order_body(&[(&theirs, 1)])),
            )
            .await,
            400,
            "validation-failed",
        );
        let absent = assert_problem(
            &call(
                &deps,
                fixture("create-order", who).body(&order_body(&[(&missing, 1)])),
            )
            .await,
            400,
            "validation-failed",
        );
        assert_eq!(
            foreign["detail"]
                .as_str()
                .unwrap()
                .replace(&theirs.id.to_string(), "ID"),
            absent["detail"]
                .as_str()
                .unwrap()
                .replace(&missing.id.to_string(), "ID"),
        );
    }
    let b_orders = body_json(&call(&deps, fixture("list-orders", "b-admin")).await);
    assert_eq!(b_orders["items"], json!([]));
}

#[tokio::test]
async fn other_tenants_order_is_404_and_unchanged() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 450).await;
    let order = place(&deps, "a-member", &[(&tea, 1)]).await;
    let id = order["id"].as_str().unwrap();
    for who in ["b-admin", "b-member"] {
        assert_problem(
            &call(&deps, fixture("get-order", who).path_param("orderId", id)).await,
            404,
            "not-found",
        );
        assert_problem(
            &call(&deps, patch(who, id, json!({"status": "paid"}))).await,
            404,
            "not-found",
        );
        assert_problem(
            &call(
                &deps,
                patch(who, id, json!({"status": "cancelled", "version": 1})),
            )
            .await,
            404,
            "not-found",
        );
    }
    let read = call(
        &deps,
        fixture("get-order", "a-admin").path_param("orderId", id),
    )
    .await;
    assert_eq!(body_json(&read), order);
}

#[tokio::test]
async fn lists_are_per_tenant_newest_first_and_cursors_do_not_cross() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 450).await;
    let coffee = product(&deps, TENANT_B, "TEA", 300).await;
    let first = place(&deps, "a-member", &[(&tea, 1)]).await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let second = place(&deps, "a-admin", &[(&tea, 2)]).await;
    let theirs = place(&deps, "b-member", &[(&coffee, 1)]).await;
    let page = body_json(
        &call(
            &deps,
            fixture("list-orders", "a-member").query("limit", "1"),
        )
        .await,
    );
    assert_eq!(page["items"], json!([second]));
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = body_json(
        &call(
            &deps,
            fixture("list-orders", "a-member")
                .query("limit", "1")
                .query("cursor", cursor),
        )
        .await,
    );
    assert_eq!(next["items"], json!([first]));
    assert_problem(
        &call(
            &deps,
            fixture("list-orders", "b-admin").query("cursor", cursor),
        )
        .await,
        400,
        "invalid-cursor",
    );
    let b_page = body_json(&call(&deps, fixture("list-orders", "b-admin")).await);
    assert_eq!(b_page["items"], json!([theirs]));
}

#[tokio::test]
async fn status_moves_along_the_lifecycle_only() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 450).await;
    let order = place(&deps, "a-member", &[(&tea, 1)]).await;
    let id = order["id"].as_str().unwrap();

    let skip = assert_problem(
        &call(&deps, patch("a-member", id, json!({"status": "shipped"}))).await,
        409,
        "invalid-transition",
    );
    assert_eq!(
        skip["detail"],
        "an order that is pending can move only to paid or cancelled (requested shipped)"
    );
    let paid = call(
        &deps,
        patch("a-member", id, json!({"status": "paid", "version": 1})),
    )
    .await;
    assert_eq!(paid.status(), 200);
    assert_eq!(paid.headers()["etag"], "\"2\"");
    assert_problem(
        &call(
            &deps,
            patch("a-member", id, json!({"status": "shipped", "version": 1})),
        )
        .await,
        409,
        "version-conflict",
    );
    let if_match = patch("a-member", id, json!({"status": "shipped"})).header("If-Match", "\"1\"");
    assert_problem(&call(&deps, if_match).await, 412, "precondition-failed");
    for status in ["shipped", "delivered"] {
        assert_eq!(
            call(&deps, patch("a-admin", id, json!({"status": status})))
                .await
                .status(),
            200
        );
    }
    let done = assert_problem(
        &call(&deps, patch("a-admin", id, json!({"status": "cancelled"}))).await,
        409,
        "invalid-transition",
    );
    assert_eq!(
        done["detail"],
        "an order that is delivered cannot change status (requested cancelled)"
    );
    let back = assert_problem(
        &call(&deps, patch("a-admin", id, json!({"status": "pending"}))).await,
        409,
        "invalid-transition",
    );
    assert!(back["detail"].as_str().unwrap().contains("delivered"));
    let read = body_json(
        &call(
            &deps,
            fixture("get-order", "a-admin").path_param("orderId", id),
        )
        .await,
    );
    assert_eq!(
        (read["status"].as_str(), read["version"].as_u64()),
        (Some("delivered"), Some(4))
    );
}

#[tokio::test]
async fn paid_orders_can_be_cancelled() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 450).await;
    let order = place(&deps, "a-member", &[(&tea, 1)]).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(
        call(&deps, patch("a-member", id, json!({"status": "paid"})))
            .await
            .status(),
        200
    );
    let cancelled = call(&deps, patch("a-member", id, json!({"status": "cancelled"}))).await;
    assert_eq!(body_json(&cancelled)["status"], "cancelled");
}

#[tokio::test]
async fn inactive_and_mixed_currency_products_are_refused() {
    let deps = deps();
    let tenant: TenantId = TENANT_A.parse().unwrap();
    let mut retired_draft = draft("OLD", 100);
    retired_draft.active = false;
    let retired = Product::create(retired_draft);
    deps.store
        .create_product(&tenant, &retired, 1_000)
        .await
        .unwrap();
    assert_problem(
        &call(
            &deps,
            fixture("create-order", "a-member").body(&order_body(&[(&retired, 1)])),
        )
        .await,
        409,
        "product-inactive",
    );
    let euro = product(&deps, TENANT_A, "EU", 100).await;
    let mut dollar_draft = draft("US", 100);
    dollar_draft.currency = shared::domain::money::Currency::parse("USD").unwrap();
    let dollar = Product::create(dollar_draft);
    deps.store
        .create_product(&tenant, &dollar, 1_000)
        .await
        .unwrap();
    assert_problem(
        &call(
            &deps,
            fixture("create-order", "a-member").body(&order_body(&[(&euro, 1), (&dollar, 1)])),
        )
        .await,
        400,
        "validation-failed",
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 450).await;
    let id = tea.id.to_string();
    let too_many: Vec<Value> = (0..51).map(|_| json!({"product_id": shared::ids::ProductId::generate().to_string(), "quantity": 1})).collect();
    let cases: Vec<(String, u16, &str)> = vec![
        ("[".into(), 400, "malformed-json"),
        (r#"{"lines": []}"#.into(), 400, "validation-failed"),
        (r#"{"lines": "tea"}"#.into(), 400, "invalid-request"),
        (
            format!(r#"{{"lines": [{{"product_id": "{id}", "quantity": 0}}]}}"#),
            400,
            "validation-failed",
        ),
        (
            format!(r#"{{"lines": [{{"product_id": "{id}", "quantity": -5}}]}}"#),
            400,
            "validation-failed",
        ),
        (
            format!(r#"{{"lines": [{{"product_id": "{id}", "quantity": 1.5}}]}}"#),
            400,
            "invalid-request",
        ),
        (
            format!(r#"{{"lines": [{{"product_id": "{id}", "quantity": 10001}}]}}"#),
            400,
            "validation-failed",
        ),
        (
            r#"{"lines": [{"product_id": "../../x", "quantity": 1}]}"#.into(),
            400,
            "validation-failed",
        ),
        (
            json!({ "lines": too_many }).to_string(),
            400,
            "validation-failed",
        ),
    ];
    for (body, status, code) in cases {
        assert_problem(
            &call(&deps, fixture("create-order", "a-admin").body(&body)).await,
            status,
            code,
        );
    }
    let order = place(&deps, "a-member", &[(&tea, 1)]).await;
    let order_id = order["id"].as_str().unwrap();
    assert_problem(
        &call(&deps, patch("a-admin", order_id, json!({"status": "lost"}))).await,
        400,
        "validation-failed",
    );
    assert_problem(
        &call(&deps, patch("a-admin", order_id, json!({"status": 3}))).await,
        400,
        "invalid-request",
    );
    assert_problem(
        &call(&deps, patch("a-admin", "nope", json!({"status": "paid"}))).await,
        404,
        "not-found",
    );
    assert_problem(
        &call(
            &deps,
            fixture("list-orders", "a-admin").query("limit", "101"),
        )
        .await,
        400,
        "invalid-request",
    );
    let listed = body_json(&call(&deps, fixture("list-orders", "a-admin")).await);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn the_monthly_order_limit_is_enforced() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 1).await;
    let max = PlanLimits::of(shared::domain::Tier::Basic).max_orders_per_month;
    for _ in 0..max {
        place(&deps, "a-member", &[(&tea, 1)]).await;
    }
    let over = assert_problem(
        &call(
            &deps,
            fixture("create-order", "a-member").body(&order_body(&[(&tea, 1)])),
        )
        .await,
        429,
        "quota-exceeded",
    );
    assert_eq!(over["limit"], "max_orders_per_month");
    let theirs = product(&deps, TENANT_B, "TEA", 1).await;
    place(&deps, "b-member", &[(&theirs, 1)]).await;
}

#[tokio::test]
async fn requests_without_valid_tenant_claims_are_refused() {
    let deps = deps();
    assert_problem(
        &call(
            &deps,
            fixture("list-orders", "a-admin").without_authorizer(),
        )
        .await,
        401,
        "unauthenticated",
    );
    assert_problem(
        &call(
            &deps,
            fixture("create-order", "a-admin").claim("tenant_id", Some("x")),
        )
        .await,
        401,
        "unauthenticated",
    );
}

/// The function checks a machine token's scope itself (the machine API's authorizer does
/// too): orders.read reads, orders.write places and moves orders, nothing else does; and a
/// machine client of one tenant never sees another's order.
#[tokio::test]
async fn a_machine_client_does_exactly_what_its_scopes_allow() {
    let deps = deps();
    let tea = product(&deps, TENANT_A, "TEA", 450).await;
    let order = place(&deps, "a-member", &[(&tea, 1)]).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let reads = |scopes: &[&str]| {
        [
            fixture("list-orders", "a-member").as_machine(scopes),
            fixture("get-order", "a-member")
                .path_param("orderId", &id)
                .as_machine(scopes),
        ]
    };
    let writes = |scopes: &[&str]| {
        [
            fixture("create-order", "a-member")
                .body(&order_body(&[(&tea, 2)]))
                .as_machine(scopes),
            patch("a-member", &id, json!({"status": "paid", "version": 1})).as_machine(scopes),
        ]
    };
    for event in reads(&["orders.read"]) {
        assert_eq!(call(&deps, event).await.status(), 200);
    }
    for scopes in [
        &["orders.read"][..],
        &["products.read", "products.write"],
        &[],
    ] {
        for event in writes(scopes) {
            assert_problem(&call(&deps, event).await, 403, "forbidden");
        }
    }
    for event in reads(&["orders.write"]) {
        assert_problem(&call(&deps, event).await, 403, "forbidden");
    }
    let unchanged = call(
        &deps,
        fixture("get-order", "a-admin").path_param("orderId", &id),
    )
    .await;
    assert_eq!(body_json(&unchanged), order);
    let [placed, moved] = writes(&["orders.write"]);
    let placed = call(&deps, placed).await;
    assert_eq!(placed.status(), 201, "{}", body_json(&placed));
    assert_eq!(
        body_json(&placed)["created_by"],
        shared::testing::MACHINE_PRINCIPAL
    );
    assert_eq!(call(&deps, moved).await.status(), 200);

    let theirs = product(&deps, TENANT_B, "THEIRS", 100).await;
    let their_order = place(&deps, "b-member", &[(&theirs, 1)]).await;
    let read = call(
        &deps,
        fixture("get-order", "a-member")
            .path_param("orderId", their_order["id"].as_str().unwrap())
            .as_machine(&["orders.read", "orders.write"]),
    )
    .await;
    assert_problem(&read, 404, "not-found");
}
