//! `admin-api`: platform operators (Cognito group `platform-admin`, never a tenant role) look
//! after tenants. Every request is audited in the logs: who did what to which tenant.
//!
//! | route | |
//! | --- | --- |
//! | `GET /admin/tenants` (`limit`, `cursor`; oldest first) | list |
//! | `GET /admin/tenants/{tenantId}` | one tenant |
//! | `PATCH /admin/tenants/{tenantId}` (`status`: `active`/`suspended`, `tier`, `version`) | change |
//!
//! A tier change that moves the tenant between pooled and dedicated storage (to or from
//! `premium`) is a migration: it is dispatched as a job and answered `202`; the job switches the
//! tier when the data has moved.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::{Value, json};

use shared::claims::PLATFORM_ADMIN_GROUP;
use shared::context::Claims;
use shared::domain::Tier;
use shared::domain::ValidationError;
use shared::domain::tenant::{AdminUpdateTenantBody, SuspensionCause, Tenant, TenantStatus};
use shared::http::{
    ApiError, MAX_BODY_BYTES, PathParams, Route, expected_version, json, json_body, list_params,
    match_route, serve_caller, with_etag,
};
use shared::identity::UserDirectory;
use shared::ids::TenantId;
use shared::plans::PlanLimits;
use shared::store::control::{TenantStateChange, TenantStore};
use shared::store::{ListPage, StoreError};
use shared::tenancy::jobs::{JobQueue, TenantJob};

use crate::operators::{Freshness, Operators};

pub struct Deps<C, J, D> {
    pub control: C,
    pub jobs: J,
    pub directory: D,
    pub operators: Operators,
}

/// What a request asks for: dispatched by a `match` without a catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    List,
    Get,
    Update,
    DispatchJob,
}

const ROUTES: &[(Route, Op)] = &[
    (Route::new("GET", "/admin/tenants"), Op::List),
    (Route::new("GET", "/admin/tenants/{tenantId}"), Op::Get),
    (Route::new("PATCH", "/admin/tenants/{tenantId}"), Op::Update),
    (
        Route::new("POST", "/admin/tenants/{tenantId}/jobs"),
        Op::DispatchJob,
    ),
];

pub async fn function_handler<C: TenantStore, J: JobQueue, D: UserDirectory>(
    deps: &Deps<C, J, D>,
    event: Request,
) -> Result<Response<Body>, Error> {
    Ok(serve_caller(event, |claims, request| handle(deps, claims, request)).await)
}

async fn handle<C: TenantStore, J: JobQueue, D: UserDirectory>(
    deps: &Deps<C, J, D>,
    claims: Claims,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (op, params) = match_route(&request, ROUTES)?;
    let actor = claims.user_id()?;
    let refused = || {
        tracing::warn!(audit = true, actor = %actor, op = ?op, "platform route refused: not a platform operator");
        ApiError::forbidden("Only platform operators may use this route.")
    };
    if !claims
        .groups()
        .iter()
        .any(|group| group == PLATFORM_ADMIN_GROUP)
    {
        return Err(refused());
    }
    // The group membership as the user pool has it, not as the token says: now for a write,
    // at most 10 s old for a read.
    let freshness = match op {
        Op::List | Op::Get => Freshness::Recent,
        Op::Update | Op::DispatchJob => Freshness::Now,
    };
    let operator = deps
        .operators
        .confirm(&deps.directory, &actor, freshness)
        .await
        .map_err(|err| ApiError::Internal(format!("reading the operator's groups: {err}")))?;
    if !operator {
        return Err(refused());
    }
    match op {
        Op::List => list(deps, &request).await,
        Op::Get => get(deps, &params, &actor).await,
        Op::Update => update(deps, &request, &params, &actor).await,
        Op::DispatchJob => dispatch_job(deps, &request, &params, &actor).await,
    }
}

fn view(tenant: &Tenant) -> Value {
    let mut view = json!(tenant);
    view["limits"] = json!(PlanLimits::of(tenant.tier));
    view
}

fn tenant_id(params: &PathParams) -> Result<TenantId, ApiError> {
    TenantId::parse(params.get("tenantId")).map_err(|_| ApiError::NotFound)
}

async fn list<C: TenantStore, J, D>(
    deps: &Deps<C, J, D>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let (limit, cursor) = list_params(request)?;
    let page = deps.control.list_tenants(limit, cursor.as_deref()).await?;
    let views = ListPage {
        items: page.items.iter().map(view).collect::<Vec<Value>>(),
        next_cursor: page.next_cursor,
    };
    tracing::info!(
        audit = true,
        action = "tenants.list",
        count = views.items.len(),
        "platform audit"
    );
    Ok(shared::http::page(&views))
}

async fn get<C: TenantStore, J, D>(
    deps: &Deps<C, J, D>,
    params: &PathParams,
    actor: &shared::ids::UserId,
) -> Result<Response<Body>, ApiError> {
    let id = tenant_id(params)?;
    let tenant = deps.control.get_tenant(&id).await?;
    let mut view = view(&tenant);
    view["migration"] = json!(deps.control.migration(&id).await?);
    tracing::info!(audit = true, actor = %actor, action = "tenant.read", target_tenant = %id, "platform audit");
    Ok(with_etag(json(StatusCode::OK, &view), tenant.version))
}

/// The body of `POST /admin/tenants/{tenantId}/jobs`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DispatchJobBody {
    kind: String,
}

/// Dispatches again the job a tenant's state calls for (a job that failed every retry and
/// landed in the dead-letter queue, or was lost): the jobs are idempotent, so dispatching one
/// that is still running only repeats work. A kind the tenant's state does not call for is
/// 409 `nothing-to-run`.
async fn dispatch_job<C: TenantStore, J: JobQueue, D>(
    deps: &Deps<C, J, D>,
    request: &Request,
    params: &PathParams,
    actor: &shared::ids::UserId,
) -> Result<Response<Body>, ApiError> {
    let id = tenant_id(params)?;
    let body: DispatchJobBody = json_body(request, MAX_BODY_BYTES)?;
    let tenant = deps.control.get_tenant(&id).await?;
    let migration = deps.control.migration(&id).await?;
    let job = match (body.kind.as_str(), &migration) {
        ("migrate", Some(migration)) => TenantJob::Migrate {
            tenant_id: id,
            to_tier: migration.to_tier,
        },
        ("provision", None) if tenant.status == TenantStatus::Provisioning => {
            TenantJob::Provision { tenant_id: id }
        }
        ("offboard", _) if tenant.status == TenantStatus::Deleting => {
            TenantJob::Offboard { tenant_id: id }
        }
        ("migrate" | "provision" | "offboard", _) => {
            return Err(ApiError::conflict(
                "nothing-to-run",
                format!(
                    "The tenant is {} with {}: there is no {} job to run.",
                    tenant.status,
                    if migration.is_some() {
                        "a migration in progress"
                    } else {
                        "no migration in progress"
                    },
                    body.kind
                ),
            ));
        }
        _ => {
            return Err(
                ValidationError::new("kind", "must be provision, migrate or offboard").into(),
            );
        }
    };
    deps.jobs
        .dispatch(&job)
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    tracing::info!(audit = true, actor = %actor, action = "tenant.job", target_tenant = %id, kind = body.kind, "platform audit");
    Ok(json(
        StatusCode::ACCEPTED,
        &json!({"tenant_id": id, "kind": body.kind}),
    ))
}

async fn update<C: TenantStore, J: JobQueue, D>(
    deps: &Deps<C, J, D>,
    request: &Request,
    params: &PathParams,
    actor: &shared::ids::UserId,
) -> Result<Response<Body>, ApiError> {
    let id = tenant_id(params)?;
    let body: AdminUpdateTenantBody = json_body(request, MAX_BODY_BYTES)?;
    let status = match body.status.as_deref() {
        None => None,
        Some("active") => Some(TenantStatus::Active),
        Some("suspended") => Some(TenantStatus::Suspended),
        Some(_) => {
            return Err(ValidationError::new("status", "must be active or suspended").into());
        }
    };
    let tier = body
        .tier
        .as_deref()
        .map(|raw| {
            Tier::parse(raw)
                .ok_or_else(|| ValidationError::new("tier", "must be basic, standard or premium"))
        })
        .transpose()?;
    if status.is_none() && tier.is_none() {
        return Err(ApiError::invalid("send a status and/or a tier to change"));
    }
    let expected = expected_version(request, body.version)?;
    let current = deps.control.get_tenant(&id).await?;
    if let Some(expected) = expected
        && expected.version != current.version
    {
        return Err(expected.stale());
    }
    if current.status == TenantStatus::Provisioning || deps.control.migration(&id).await?.is_some()
    {
        // Its table is being created or its data moved: a status change now would let writes
        // resume on a table about to be purged, and a tier change would race the job.
        return Err(ApiError::conflict(
            "tenant-busy",
            "The tenant's storage is being provisioned or migrated; try again when it is active.",
        ));
    }
    let migration = tier.filter(|tier| tier.is_silo() != current.tier.is_silo());
    if migration.is_some() && status.unwrap_or(current.status) == TenantStatus::Suspended {
        // The migration job moves an active tenant's data (it passes through `provisioning`,
        // which a suspension must not be lifted into).
        return Err(ApiError::conflict(
            "tenant-suspended",
            "A suspended tenant's storage cannot move: reactivate it first, or change its tier \
             without moving to or from premium.",
        ));
    }
    let change = TenantStateChange {
        expected_version: Some(current.version),
        expected_status: Some(current.status),
        status,
        // A migration changes the tier itself once the data has moved.
        tier: if migration.is_some() { None } else { tier },
        data_table: None,
        plan_lowered: tier.and_then(|tier| shared::plans::lowering(current.tier, tier)),
        // An operator's suspension is theirs to lift, even one made over a suspension for
        // non-payment: a payment never reactivates it.
        suspended_for: (status == Some(TenantStatus::Suspended))
            .then_some(SuspensionCause::Operator),
    };
    let tenant =
        if change.status.is_some() || change.tier.is_some() || change.plan_lowered.is_some() {
            match deps.control.set_tenant_state(&id, change).await {
                Ok(tenant) => tenant,
                Err(StoreError::VersionConflict) => {
                    return Err(expected
                        .map(|e| e.stale())
                        .unwrap_or_else(|| StoreError::VersionConflict.into()));
                }
                Err(err) => return Err(err.into()),
            }
        } else {
            current
        };
    tracing::info!(
        audit = true,
        actor = %actor,
        action = "tenant.update",
        target_tenant = %id,
        status = ?status,
        tier = ?tier,
        migration = migration.is_some(),
        "platform audit"
    );
    if let Some(to_tier) = migration {
        deps.jobs
            .dispatch(&TenantJob::Migrate {
                tenant_id: id,
                to_tier,
            })
            .await
            .map_err(|err| ApiError::Internal(err.to_string()))?;
        return Ok(json(StatusCode::ACCEPTED, &view(&tenant)));
    }
    Ok(with_etag(
        json(StatusCode::OK, &view(&tenant)),
        tenant.version,
    ))
}

#[cfg(test)]
mod tests {
    use shared::domain::email::EmailAddress;
    use shared::ids::UserId;
    use shared::testing::SoleMembership;
    use shared::testing::directory::MemoryDirectory;
    use shared::testing::jobs::MemoryJobQueue;
    use shared::testing::memory_control::MemoryControl;
    use shared::testing::{
        Event, PLATFORM_ADMIN, TENANT_A, TENANT_B, assert_problem, body_json, seed_sample_tenants,
        user_id,
    };

    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    #[test]
    fn the_route_table_is_the_documents() {
        shared::testing::assert_routes_documented(
            "admin-api",
            ROUTES.iter().map(|(route, _)| *route),
        );
    }

    /// An operation added later must get its own handler, never fall into another one's.
    #[test]
    fn every_operation_is_dispatched_by_name() {
        shared::testing::assert_operations_matched_by_name(include_str!("http_handler.rs"));
    }

    type TestDeps = Deps<MemoryControl, MemoryJobQueue, MemoryDirectory>;

    async fn deps() -> TestDeps {
        let control = MemoryControl::new();
        seed_sample_tenants(&control).await;
        let directory = MemoryDirectory::new();
        let operator = UserId::parse(PLATFORM_ADMIN).unwrap();
        directory.insert(
            operator.clone(),
            EmailAddress::parse("ops@tenantry.example").unwrap(),
        );
        directory.set_groups(&operator, &[PLATFORM_ADMIN_GROUP]);
        Deps {
            control,
            jobs: MemoryJobQueue::new(),
            directory,
            operators: Operators::new(Arc::new(FakeClock::default())),
        }
    }

    /// A clock that moves when told to (the operators' confirmations are timed with it).
    #[derive(Debug, Default)]
    struct FakeClock(Mutex<Duration>);

    impl FakeClock {
        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl shared::tenancy::access::Clock for FakeClock {
        fn now(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + *self.0.lock().unwrap()
        }
    }

    async fn call(deps: &TestDeps, event: Event) -> Response<Body> {
        function_handler(deps, event.request())
            .await
            .expect("the handler never fails the invocation")
    }

    fn fixture(route: &str, who: &str) -> Event {
        Event::load(&format!("admin-api/{route}.{who}.json"))
    }

    fn tenant(raw: &str) -> TenantId {
        raw.parse().unwrap()
    }

    #[tokio::test]
    async fn platform_operators_list_and_read_tenants() {
        let deps = deps().await;
        let listed = body_json(&call(&deps, fixture("list-tenants", "platform")).await);
        let ids: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![TENANT_A, TENANT_B]);
        let page = body_json(
            &call(
                &deps,
                fixture("list-tenants", "platform").query("limit", "1"),
            )
            .await,
        );
        let next = page["next_cursor"].as_str().unwrap();
        let rest = body_json(
            &call(
                &deps,
                fixture("list-tenants", "platform").query("cursor", next),
            )
            .await,
        );
        assert_eq!(rest["items"][0]["id"], TENANT_B);
        let one = body_json(&call(&deps, fixture("get-tenant", "platform")).await);
        assert_eq!(
            (one["id"].as_str(), one["user_count"].as_u64()),
            (Some(TENANT_A), Some(2))
        );
    }

    #[tokio::test]
    async fn tenant_admins_and_members_are_refused_every_platform_route() {
        let deps = deps().await;
        for who in ["a-admin", "a-member", "b-admin", "b-member"] {
            for route in ["list-tenants", "get-tenant", "update-tenant"] {
                assert_problem(&call(&deps, fixture(route, who)).await, 403, "forbidden");
            }
        }
        let record = deps.control.get_tenant(&tenant(TENANT_A)).await.unwrap();
        assert_eq!(record.status, TenantStatus::Active);
        // A group claim smuggled as something else does not count.
        let forged =
            fixture("update-tenant", "a-admin").claim("custom:groups", Some("platform-admin"));
        assert_problem(&call(&deps, forged).await, 403, "forbidden");
    }

    #[tokio::test]
    async fn an_operator_taken_out_of_the_group_reads_nothing_with_an_older_token() {
        let deps = deps().await;
        deps.directory
            .set_groups(&UserId::parse(PLATFORM_ADMIN).unwrap(), &[]);
        for route in ["list-tenants", "get-tenant"] {
            assert_problem(
                &call(&deps, fixture(route, "platform")).await,
                403,
                "forbidden",
            );
        }
    }

    /// Reads believe a confirmation for at most 10 s (one Cognito call per operator per 10 s,
    /// not per page), writes never: a removed operator writes nothing at once, reads nothing
    /// once the bound has passed.
    #[tokio::test]
    async fn a_removed_operators_reads_end_within_ten_seconds_and_writes_at_once() {
        let clock = Arc::new(FakeClock::default());
        let deps = Deps {
            operators: Operators::new(clock.clone()),
            ..deps().await
        };
        assert_eq!(
            call(&deps, fixture("list-tenants", "platform"))
                .await
                .status(),
            200
        );
        deps.directory
            .set_groups(&UserId::parse(PLATFORM_ADMIN).unwrap(), &[]);
        assert_problem(
            &call(&deps, fixture("update-tenant", "platform")).await,
            403,
            "forbidden",
        );
        clock.advance(crate::operators::RECHECK_AFTER - Duration::from_millis(1));
        assert_eq!(
            call(&deps, fixture("get-tenant", "platform"))
                .await
                .status(),
            403,
            "the failed write's fresh answer is believed by reads too"
        );
        // Put back, then taken out again: a read within the bound is still served; after, not.
        deps.directory.set_groups(
            &UserId::parse(PLATFORM_ADMIN).unwrap(),
            &[PLATFORM_ADMIN_GROUP],
        );
        assert_eq!(
            call(&deps, fixture("get-tenant", "platform"))
                .await
                .status(),
            200
        );
        deps.directory
            .set_groups(&UserId::parse(PLATFORM_ADMIN).unwrap(), &[]);
        clock.advance(crate::operators::RECHECK_AFTER - Duration::from_millis(1));
        assert_eq!(
            call(&deps, fixture("get-tenant", "platform"))
                .await
                .status(),
            200
        );
        clock.advance(Duration::from_millis(1));
        for route in ["list-tenants", "get-tenant"] {
            assert_problem(
                &call(&deps, fixture(route, "platform")).await,
                403,
                "forbidden",
            );
        }
    }

    #[tokio::test]
    async fn an_operator_taken_out_of_the_group_can_write_nothing_with_an_older_token() {
        let deps = deps().await;
        deps.directory
            .set_groups(&UserId::parse(PLATFORM_ADMIN).unwrap(), &[]);
        assert_problem(
            &call(&deps, fixture("update-tenant", "platform")).await,
            403,
            "forbidden",
        );
        let record = deps.control.get_tenant(&tenant(TENANT_A)).await.unwrap();
        assert_eq!(record.status, TenantStatus::Active);
        // A re-dispatch the tenant's state would call for (offboarding) is refused too.
        deps.control
            .begin_offboarding(&tenant(TENANT_A))
            .await
            .unwrap();
        assert_problem(
            &call(&deps, fixture("dispatch-job", "platform")).await,
            403,
            "forbidden",
        );
        assert!(deps.jobs.dispatched().is_empty(), "no job dispatched");
    }

    #[tokio::test]
    async fn a_tenant_being_provisioned_or_migrated_keeps_its_status() {
        let deps = deps().await;
        let change = TenantStateChange {
            status: Some(TenantStatus::Provisioning),
            ..TenantStateChange::default()
        };
        deps.control
            .set_tenant_state(&tenant(TENANT_A), change)
            .await
            .unwrap();
        for body in [
            r#"{"status":"active"}"#,
            r#"{"status":"suspended"}"#,
            r#"{"tier":"standard"}"#,
        ] {
            assert_problem(
                &call(&deps, fixture("update-tenant", "platform").body(body)).await,
                409,
                "tenant-busy",
            );
        }
        let record = deps.control.get_tenant(&tenant(TENANT_A)).await.unwrap();
        assert_eq!(record.status, TenantStatus::Provisioning);
    }

    #[tokio::test]
    async fn operators_re_dispatch_the_job_a_tenant_needs_and_only_that() {
        use shared::store::control::MigrationState;
        let deps = deps().await;
        let dispatch = |kind: &str| {
            fixture("dispatch-job", "platform").body(&json!({ "kind": kind }).to_string())
        };
        // An active tenant with nothing running: nothing to re-dispatch.
        for kind in ["provision", "migrate", "offboard"] {
            assert_problem(&call(&deps, dispatch(kind)).await, 409, "nothing-to-run");
        }
        assert_problem(
            &call(&deps, dispatch("purge")).await,
            400,
            "validation-failed",
        );
        for bad in ["{", r#"{"kind":"offboard","tenant_id":"x"}"#, "{}"] {
            let event = fixture("dispatch-job", "platform").body(bad);
            assert_eq!(call(&deps, event).await.status(), 400, "{bad}");
        }
        // A stuck migration is re-dispatched to where it was going.
        deps.control.set_migration(
            tenant(TENANT_A),
            Some(MigrationState {
                to_tier: Tier::Premium,
                phase: "copying".into(),
            }),
        );
        let response = call(&deps, dispatch("migrate")).await;
        assert_eq!(response.status(), 202, "{}", body_json(&response));
        // So is an offboarding, and twice is fine (the jobs are idempotent).
        deps.control
            .begin_offboarding(&tenant(TENANT_A))
            .await
            .unwrap();
        for _ in 0..2 {
            assert_eq!(call(&deps, dispatch("offboard")).await.status(), 202);
        }
        let (a, migrate, offboard) = (
            tenant(TENANT_A),
            TenantJob::Migrate {
                tenant_id: tenant(TENANT_A),
                to_tier: Tier::Premium,
            },
            TenantJob::Offboard {
                tenant_id: tenant(TENANT_A),
            },
        );
        assert_eq!(
            deps.jobs.dispatched(),
            vec![migrate, offboard.clone(), offboard]
        );
        assert_eq!(*deps.jobs.dispatched()[0].tenant_id(), a);
        // Tenant admins cannot.
        for who in ["a-admin", "b-admin"] {
            let event = fixture("dispatch-job", who).body(r#"{"kind":"offboard"}"#);
            assert_problem(&call(&deps, event).await, 403, "forbidden");
        }
        // The operator sees the migration.
        let read = body_json(&call(&deps, fixture("get-tenant", "platform")).await);
        assert_eq!(read["migration"]["to_tier"], "premium");
    }

    #[tokio::test]
    async fn suspending_a_tenant_reaches_its_members_tokens() {
        let deps = deps().await;
        let response = call(&deps, fixture("update-tenant", "platform")).await;
        assert_eq!(response.status(), 200, "{}", body_json(&response));
        assert_eq!(body_json(&response)["status"], "suspended");
        for who in ["a-admin", "a-member"] {
            let membership = deps
                .control
                .membership(&user_id(who))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(membership.tenant_status, TenantStatus::Suspended);
        }
        assert_eq!(
            deps.control
                .membership(&user_id("b-admin"))
                .await
                .unwrap()
                .unwrap()
                .tenant_status,
            TenantStatus::Active
        );
        let reactivate =
            fixture("update-tenant", "platform").body(r#"{"status":"active","version":2}"#);
        assert_eq!(
            body_json(&call(&deps, reactivate).await)["status"],
            "active"
        );
    }

    #[tokio::test]
    async fn tier_changes_within_pooled_storage_apply_at_once() {
        let deps = deps().await;
        let upgrade = fixture("update-tenant", "platform").body(r#"{"tier":"standard"}"#);
        let response = call(&deps, upgrade).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            body_json(&response)["limits"]["max_users"],
            PlanLimits::of(Tier::Standard).max_users
        );
        assert_eq!(
            deps.control
                .membership(&user_id("a-member"))
                .await
                .unwrap()
                .unwrap()
                .tier,
            Tier::Standard
        );
        assert!(deps.jobs.dispatched().is_empty());
    }

    #[tokio::test]
    async fn moving_to_premium_dispatches_a_migration() {
        let deps = deps().await;
        let response = call(
            &deps,
            fixture("update-tenant", "platform").body(r#"{"tier":"premium"}"#),
        )
        .await;
        assert_eq!(response.status(), 202);
        assert_eq!(
            body_json(&response)["tier"],
            "basic",
            "the job switches the tier once the data moved"
        );
        assert_eq!(
            deps.jobs.dispatched(),
            vec![TenantJob::Migrate {
                tenant_id: tenant(TENANT_A),
                to_tier: Tier::Premium
            }]
        );
    }

    #[tokio::test]
    async fn a_suspended_tenants_storage_does_not_move() {
        let deps = deps().await;
        for body in [
            r#"{"tier":"premium","status":"suspended"}"#,
            r#"{"status":"suspended"}"#,
            r#"{"tier":"premium"}"#,
        ] {
            let response = call(&deps, fixture("update-tenant", "platform").body(body)).await;
            if body == r#"{"status":"suspended"}"# {
                assert_eq!(response.status(), 200);
                continue;
            }
            assert_problem(&response, 409, "tenant-suspended");
        }
        assert!(deps.jobs.dispatched().is_empty());
        let tenant = deps.control.get_tenant(&tenant(TENANT_A)).await.unwrap();
        assert_eq!(
            (tenant.status, tenant.tier),
            (TenantStatus::Suspended, Tier::Basic)
        );
        // Within pooled plans the tier still changes.
        let standard = call(
            &deps,
            fixture("update-tenant", "platform").body(r#"{"tier":"standard"}"#),
        )
        .await;
        assert_eq!(standard.status(), 200);
    }

    #[tokio::test]
    async fn bad_changes_are_refused() {
        let deps = deps().await;
        let cases = [
            (r#"{"status":"deleted"}"#, 400, "validation-failed"),
            (r#"{"tier":"gold"}"#, 400, "validation-failed"),
            (r#"{}"#, 400, "invalid-request"),
            (
                r#"{"status":"suspended","version":9}"#,
                409,
                "version-conflict",
            ),
            (
                r#"{"status":"suspended","name":"x"}"#,
                400,
                "invalid-request",
            ),
        ];
        for (body, status, code) in cases {
            assert_problem(
                &call(&deps, fixture("update-tenant", "platform").body(body)).await,
                status,
                code,
            );
        }
        let missing = fixture("get-tenant", "platform")
            .path_param("tenantId", &TenantId::generate().to_string());
        assert_problem(&call(&deps, missing).await, 404, "not-found");
        assert_problem(
            &call(
                &deps,
                fixture("get-tenant", "platform").path_param("tenantId", "nope"),
            )
            .await,
            404,
            "not-found",
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
}
