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
mod tests;
