use shared::domain::email::EmailAddress;
use shared::ids::UserId;
use shared::testing::SoleMembership;
use shared::testing::directory::MemoryDirectory;
use shared::testing::jobs::MemoryJobQueue;
use shared::testing::memory_control::MemoryControl;
use shared::testing::{
    PLATFORM_ADMIN, TENANT_A, TENANT_B, assert_problem, body_json, seed_sample_tenants, user_id,
};

use super::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

#[test]
fn the_route_table_is_the_documents() {
    shared::testing::assert_routes_documented("admin-api", ROUTES.iter().map(|(route, _)| *route));
}

/// An operation added later must get its own handler, never fall into another one's.
#[test]
fn every_operation_is_dispatched_by_name() {
    shared::testing::assert_operations_matched_by_name(include_str!("../http_handler.rs"));
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

shared::handler_test_harness!("admin-api", TestDeps);

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
    let forged = fixture("update-tenant", "a-admin").claim("custom:groups", Some("platform-admin"));
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
    let dispatch =
        |kind: &str| fixture("dispatch-job", "platform").body(&json!({ "kind": kind }).to_string());
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
    let missing =
        fixture("get-tenant", "platform").path_param("tenantId", &TenantId::generate().to_string());
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
