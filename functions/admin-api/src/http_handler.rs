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
mod tests;
