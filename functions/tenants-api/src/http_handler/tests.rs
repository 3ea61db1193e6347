use shared::domain::product::Product;
use shared::ids::TenantId;
use shared::store::ProductStore;
use shared::testing::SoleMembership;
use shared::testing::jobs::MemoryJobQueue;
use shared::testing::memory_control::MemoryControl;
use shared::testing::memory_store::MemoryStore;
use shared::testing::store_contract::draft;
use shared::testing::{
    TENANT_A, TENANT_B, assert_problem, body_json, seed_sample_tenants, user_id,
};

use super::*;

#[test]
fn the_route_table_is_the_documents() {
    shared::testing::assert_routes_documented(
        "tenants-api",
        ROUTES.iter().map(|(route, _)| *route),
    );
}

type TestDeps = Deps<MemoryControl, MemoryStore, MemoryJobQueue>;

async fn deps() -> TestDeps {
    let control = MemoryControl::new();
    seed_sample_tenants(&control).await;
    Deps {
        control,
        usage: MemoryStore::new(),
        jobs: MemoryJobQueue::new(),
    }
}

shared::handler_test_harness!("tenants-api", TestDeps);

fn tenant(raw: &str) -> TenantId {
    raw.parse().unwrap()
}

#[tokio::test]
async fn get_tenant_shows_the_plan_limits_and_usage() {
    let deps = deps().await;
    deps.usage
        .create_product(&tenant(TENANT_A), &Product::create(draft("U-1", 1)), 100)
        .await
        .unwrap();
    let response = call(&deps, fixture("get-tenant", "a-member")).await;
    assert_eq!(response.status(), 200);
    let body = body_json(&response);
    assert_eq!(
        (
            body["id"].as_str(),
            body["name"].as_str(),
            body["tier"].as_str()
        ),
        (Some(TENANT_A), Some("Acme Tea"), Some("basic"))
    );
    assert_eq!(
        body["limits"],
        json!(PlanLimits::of(shared::domain::Tier::Basic))
    );
    assert_eq!(
        body["usage"],
        json!({"users": 2, "products": 1, "orders_this_month": 0})
    );
    assert!(body.get("data_table").is_none());
    let theirs = body_json(&call(&deps, fixture("get-tenant", "b-member")).await);
    assert_eq!(theirs["id"], TENANT_B);
    assert_eq!(theirs["usage"]["products"], 0);
}

#[tokio::test]
async fn an_admin_changes_name_and_settings_with_the_current_version() {
    let deps = deps().await;
    let response = call(&deps, fixture("update-tenant", "a-admin")).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let body = body_json(&response);
    assert_eq!(body["name"], "Acme Tea Ltd");
    assert_eq!(body["settings"]["primary_color"], "#0A7E5C");
    assert_eq!(body["version"], 2);
    assert_problem(
        &call(&deps, fixture("update-tenant", "a-admin")).await,
        409,
        "version-conflict",
    );
    let by_header = fixture("update-tenant", "a-admin")
        .body(r#"{"name":"Acme Again"}"#)
        .header("If-Match", "\"1\"");
    assert_problem(&call(&deps, by_header).await, 412, "precondition-failed");
    // Tenant b is untouched.
    assert_eq!(
        body_json(&call(&deps, fixture("get-tenant", "b-admin")).await)["version"],
        1
    );
}

#[tokio::test]
async fn members_cannot_change_settings_or_delete_the_tenant() {
    let deps = deps().await;
    assert_problem(
        &call(&deps, fixture("update-tenant", "a-member")).await,
        403,
        "forbidden",
    );
    assert_problem(
        &call(&deps, fixture("delete-tenant", "a-member")).await,
        403,
        "forbidden",
    );
    let record = deps.control.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!((record.version, record.status), (1, TenantStatus::Active));
    assert!(deps.jobs.dispatched().is_empty());
}

#[tokio::test]
async fn bad_settings_are_refused() {
    let deps = deps().await;
    let cases = [
        (
            r##"{"settings":{"primary_color":"green"},"version":1}"##,
            "validation-failed",
        ),
        (
            r##"{"settings":{"logo_url":"javascript:alert(1)"},"version":1}"##,
            "validation-failed",
        ),
        (
            r##"{"settings":{"theme":"dark"},"version":1}"##,
            "invalid-request",
        ),
        (r##"{"name":"<b>","version":1}"##, "validation-failed"),
        (r##"{"version":1}"##, "invalid-request"),
        (r##"{"name":"Acme"}"##, "invalid-request"),
        (
            r##"{"tenant_id":"01JB8Z4K2M6Q9R3T5V7W9XBBBB","name":"Acme","version":1}"##,
            "invalid-request",
        ),
    ];
    for (body, code) in cases {
        assert_problem(
            &call(&deps, fixture("update-tenant", "a-admin").body(body)).await,
            400,
            code,
        );
    }
    let flags: serde_json::Map<String, Value> = (0..40)
        .map(|i| (format!("flag_{i}"), json!(true)))
        .collect();
    let too_many = json!({"settings": {"feature_flags": flags}, "version": 1}).to_string();
    assert_problem(
        &call(&deps, fixture("update-tenant", "a-admin").body(&too_many)).await,
        400,
        "validation-failed",
    );
    let huge = json!({"settings": {"display_name": "x".repeat(20_000)}, "version": 1}).to_string();
    assert_problem(
        &call(&deps, fixture("update-tenant", "a-admin").body(&huge)).await,
        413,
        "payload-too-large",
    );
    assert_eq!(
        deps.control
            .get_tenant(&tenant(TENANT_A))
            .await
            .unwrap()
            .version,
        1
    );
}

#[tokio::test]
async fn deleting_the_tenant_starts_offboarding_once_and_then_refuses_its_users() {
    let deps = deps().await;
    let response = call(&deps, fixture("delete-tenant", "a-admin")).await;
    assert_eq!(response.status(), 202);
    assert_eq!(body_json(&response)["status"], "deleting");
    assert_eq!(
        deps.control
            .get_tenant(&tenant(TENANT_A))
            .await
            .unwrap()
            .status,
        TenantStatus::Deleting
    );
    // Memberships are the offboarding job's to change: this function may not write them.
    let membership = deps
        .control
        .membership(&user_id("a-member"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(membership.tenant_status, TenantStatus::Active);
    // From then on its users can do nothing, offboarding included (a stuck job is
    // re-dispatched by a platform operator).
    for (route, who) in [
        ("delete-tenant", "a-admin"),
        ("get-tenant", "a-member"),
        ("update-tenant", "a-admin"),
    ] {
        assert_problem(
            &call(&deps, fixture(route, who)).await,
            403,
            "tenant-inactive",
        );
    }
    let job = TenantJob::Offboard {
        tenant_id: tenant(TENANT_A),
    };
    assert_eq!(deps.jobs.dispatched(), vec![job]);
    // Tenant b is untouched.
    assert_eq!(
        deps.control
            .get_tenant(&tenant(TENANT_B))
            .await
            .unwrap()
            .status,
        TenantStatus::Active
    );
}

#[tokio::test]
async fn the_tenant_comes_from_the_token_only() {
    let deps = deps().await;
    let mut sneaky = fixture("update-tenant", "b-admin");
    sneaky.0["path"] = json!(format!("/tenant/{TENANT_A}"));
    assert_problem(&call(&deps, sneaky).await, 404, "not-found");
    let header = fixture("delete-tenant", "b-admin").header("X-Tenant-Id", TENANT_A);
    assert_eq!(call(&deps, header).await.status(), 202);
    assert_eq!(
        deps.control
            .get_tenant(&tenant(TENANT_A))
            .await
            .unwrap()
            .status,
        TenantStatus::Active
    );
    assert_eq!(
        deps.control
            .get_tenant(&tenant(TENANT_B))
            .await
            .unwrap()
            .status,
        TenantStatus::Deleting
    );
}
