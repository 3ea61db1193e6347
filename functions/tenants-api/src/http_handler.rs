//! `tenants-api`: the caller's own organization.
//!
//! | route | who |
//! | --- | --- |
//! | `GET /tenant` (id, name, tier, status, settings, plan limits, usage) | members and admins |
//! | `PATCH /tenant` (`name` and/or `settings`, with `version` or `If-Match`) | admins |
//! | `DELETE /tenant` (offboarding; `202`, idempotent) | admins |

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::{Value, json};

use shared::authority::{Authority, ControlAuthority};
use shared::context::TenantContext;
use shared::domain::tenant::{Tenant, TenantName, TenantStatus, UpdateTenantBody};
use shared::domain::time::Timestamp;
use shared::http::{
    ApiError, MAX_BODY_BYTES, Route, expected_version, json, json_body, match_route, serve,
    with_etag,
};
use shared::plans::PlanLimits;
use shared::store::control::TenantStore;
use shared::store::{StoreError, Usage, UsageReader};
use shared::tenancy::jobs::{JobQueue, TenantJob};

pub struct Deps<C, U, J> {
    pub control: C,
    pub usage: U,
    pub jobs: J,
}

/// What a request asks for: dispatched by a `match` without a catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Update,
    Offboard,
}

const ROUTES: &[(Route, Op)] = &[
    (Route::new("GET", "/tenant"), Op::Get),
    (Route::new("PATCH", "/tenant"), Op::Update),
    (Route::new("DELETE", "/tenant"), Op::Offboard),
];

pub async fn function_handler<C, U, J>(
    deps: &Deps<C, U, J>,
    event: Request,
) -> Result<Response<Body>, Error>
where
    C: TenantStore + ControlAuthority,
    U: UsageReader,
    J: JobQueue,
{
    Ok(serve(event, |context, request| handle(deps, context, request)).await)
}

async fn handle<C: TenantStore + ControlAuthority, U: UsageReader, J: JobQueue>(
    deps: &Deps<C, U, J>,
    context: TenantContext,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (op, _) = match_route(&request, ROUTES)?;
    // The caller's stored role and the tenant's status, read strongly consistently: a removed or
    // demoted admin, or a suspended tenant, is refused at once.
    let authority = deps.control.authority(&context).await?;
    match op {
        Op::Get => get(deps, &context, authority).await,
        Op::Update => update(deps, &context, &authority, &request).await,
        Op::Offboard => delete(deps, &context, &authority).await,
    }
}

/// What a tenant sees of itself (its storage location stays internal).
fn view(tenant: &Tenant, usage: Option<Usage>) -> Value {
    let mut view = tenant.public_view();
    if let Some(usage) = usage {
        view["limits"] = json!(PlanLimits::of(tenant.tier));
        view["usage"] = json!({
            "users": tenant.user_count,
            "products": usage.products,
            "orders_this_month": usage.orders_this_month,
        });
        // Over a lowered plan's limits: the data is read-only until within them.
        view["read_only"] = json!(
            tenant.plan_lowered
                && shared::authority::over_limits(tenant.tier, tenant.user_count, usage.products)
                    .is_some()
        );
    }
    view
}

async fn get<C, U: UsageReader, J>(
    deps: &Deps<C, U, J>,
    context: &TenantContext,
    authority: Authority,
) -> Result<Response<Body>, ApiError> {
    let tenant = authority.tenant;
    let usage = match deps
        .usage
        .usage(&context.tenant_id, &Timestamp::now().year_month())
        .await
    {
        Ok(usage) => usage,
        // A tenant whose table is still being created has used nothing yet.
        Err(StoreError::TenantNotReady) => Usage::default(),
        Err(err) => return Err(err.into()),
    };
    Ok(with_etag(
        json(StatusCode::OK, &view(&tenant, Some(usage))),
        tenant.version,
    ))
}

async fn update<C: TenantStore, U, J: JobQueue>(
    deps: &Deps<C, U, J>,
    context: &TenantContext,
    authority: &Authority,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    if !authority.is_admin() {
        return Err(ApiError::forbidden(
            "Only an admin can change the organization's settings.",
        ));
    }
    let body: UpdateTenantBody = json_body(request, MAX_BODY_BYTES)?;
    let name = body.name.as_deref().map(TenantName::parse).transpose()?;
    let settings = body.settings.map(|s| s.validate()).transpose()?;
    let require_mfa = body.require_mfa;
    if name.is_none() && settings.is_none() && require_mfa.is_none() {
        return Err(ApiError::invalid(
            "send a name, settings and/or require_mfa to change",
        ));
    }
    let expected = expected_version(request, body.version)?.ok_or_else(|| {
        ApiError::invalid("send the version you are changing, as `version` or If-Match")
    })?;
    let tenant = match deps
        .control
        .update_tenant(
            &context.tenant_id,
            Some(expected.version),
            name,
            settings,
            require_mfa,
        )
        .await
    {
        Ok(tenant) => tenant,
        Err(StoreError::VersionConflict) => return Err(expected.stale()),
        Err(err) => return Err(err.into()),
    };
    if require_mfa.is_some() {
        // The APIs enforce the requirement from the tenant record at once (within their 10 s
        // cache); sign-in learns of it from the memberships, which a job brings in step (this
        // function may not write them). Dispatched whenever it is sent: the job is idempotent,
        // so sending the setting again repairs a lost dispatch.
        deps.jobs
            .dispatch(&TenantJob::SyncMemberships {
                tenant_id: tenant.id,
            })
            .await
            .map_err(|err| ApiError::Internal(err.to_string()))?;
    }
    Ok(with_etag(
        json(StatusCode::OK, &view(&tenant, None)),
        tenant.version,
    ))
}

/// Offboarding: the tenant becomes `deleting` at once (the data APIs refuse it from then on), and
/// a job stops its users signing in, disables them, purges the data and marks it `deleted`.
/// Once the tenant is `deleting` its users can do nothing more (a stuck job is re-dispatched by a
/// platform operator). This function's role
/// may change tenant records only, so everything keyed by user is left to the job.
async fn delete<C: TenantStore, U, J: JobQueue>(
    deps: &Deps<C, U, J>,
    context: &TenantContext,
    authority: &Authority,
) -> Result<Response<Body>, ApiError> {
    if !authority.is_admin() {
        return Err(ApiError::forbidden(
            "Only an admin can delete the organization.",
        ));
    }
    let tenant = match deps.control.begin_offboarding(&context.tenant_id).await {
        Ok(tenant) => tenant,
        Err(StoreError::InvalidTenantTransition {
            from: TenantStatus::Deleted,
            ..
        }) => return Err(ApiError::NotFound),
        Err(err) => return Err(err.into()),
    };
    deps.jobs
        .dispatch(&TenantJob::Offboard {
            tenant_id: tenant.id,
        })
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    tracing::info!(tenant_id = %tenant.id, "offboarding started");
    Ok(json(StatusCode::ACCEPTED, &view(&tenant, None)))
}

#[cfg(test)]
mod tests {
    use shared::domain::product::Product;
    use shared::ids::TenantId;
    use shared::store::ProductStore;
    use shared::testing::SoleMembership;
    use shared::testing::jobs::MemoryJobQueue;
    use shared::testing::memory_control::MemoryControl;
    use shared::testing::memory_store::MemoryStore;
    use shared::testing::store_contract::draft;
    use shared::testing::{
        Event, TENANT_A, TENANT_B, assert_problem, body_json, seed_sample_tenants, user_id,
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

    async fn call(deps: &TestDeps, event: Event) -> Response<Body> {
        function_handler(deps, event.request())
            .await
            .expect("the handler never fails the invocation")
    }

    fn fixture(route: &str, who: &str) -> Event {
        Event::load(&format!("tenants-api/{route}.{who}.json"))
    }

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
        let huge =
            json!({"settings": {"display_name": "x".repeat(20_000)}, "version": 1}).to_string();
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
}
