//! `orders-api`: orders priced from the tenant's own products.
//!
//! | route | who |
//! | --- | --- |
//! | `POST /orders` (`{"lines": [{"product_id", "quantity"}]}`) | members and admins |
//! | `GET /orders` (newest first, `limit` 1–100, `cursor`) | members and admins |
//! | `GET /orders/{orderId}` | members and admins |
//! | `PATCH /orders/{orderId}` (`{"status", "version"?}` or `If-Match`) | members and admins |

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

use shared::api_clients::Scope;
use shared::authority::{CallerStanding, Standing, ensure_writable};
use shared::context::TenantContext;
use shared::domain::ValidationError;
use shared::domain::order::{ChangeStatusBody, CreateOrderBody, Order, OrderRequest, OrderStatus};
use shared::http::{
    ApiError, MAX_BODY_BYTES, PathParams, Route, created, expected_version, json, json_body,
    list_params, match_route, page, serve_machines, with_etag,
};
use shared::ids::OrderId;
use shared::plans::PlanLimits;
use shared::store::UsageReader;
use shared::store::{OrderStore, ProductLookup, StoreError};

pub struct Deps<S> {
    pub store: S,
}

/// What a request asks for: dispatched by a `match` without a catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    List,
    Get,
    ChangeStatus,
}

const ROUTES: &[(Route, Op)] = &[
    (Route::new("POST", "/orders"), Op::Create),
    (Route::new("GET", "/orders"), Op::List),
    (Route::new("GET", "/orders/{orderId}"), Op::Get),
    (Route::new("PATCH", "/orders/{orderId}"), Op::ChangeStatus),
];

pub async fn function_handler<S: ProductLookup + OrderStore + CallerStanding + UsageReader>(
    deps: &Deps<S>,
    event: Request,
) -> Result<Response<Body>, Error> {
    Ok(serve_machines(event, |context, request| handle(deps, context, request)).await)
}

async fn handle<S: ProductLookup + OrderStore + CallerStanding + UsageReader>(
    deps: &Deps<S>,
    context: TenantContext,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (op, params) = match_route(&request, ROUTES)?;
    // A machine client does what its token's scopes allow (the machine API's authorizer checks
    // them too).
    let scope = match op {
        Op::List | Op::Get => Scope::OrdersRead,
        Op::Create | Op::ChangeStatus => Scope::OrdersWrite,
    };
    if !context.has_scope(scope) {
        return Err(ApiError::forbidden(format!(
            "This API client lacks the scope {}.",
            scope.as_str()
        )));
    }
    // The token against the tenant record (cached at most 10 s): status, revocations, tier.
    let standing = deps.store.standing(&context).await?;
    // Over a lowered plan's limits the data is read-only (reading and deleting still work).
    if matches!(op, Op::Create | Op::ChangeStatus) {
        ensure_writable(&deps.store, &context, standing).await?;
    }
    match op {
        Op::Create => create(deps, &context, standing, &request).await,
        Op::List => list(deps, &context, &request).await,
        Op::Get => get(deps, &context, &params).await,
        Op::ChangeStatus => change_status(deps, &context, &request, &params).await,
    }
}

/// A malformed id cannot name an order of this tenant: the same 404 as a missing one.
fn order_id(params: &PathParams) -> Result<OrderId, ApiError> {
    OrderId::parse(params.get("orderId")).map_err(|_| ApiError::NotFound)
}

fn order_response(status: StatusCode, order: &Order) -> Response<Body> {
    let response = if status == StatusCode::CREATED {
        created(&format!("/orders/{}", order.id), order)
    } else {
        json(status, order)
    };
    with_etag(response, order.version)
}

/// Two store calls: one `BatchGetItem` for the products (only this tenant's keys are asked
/// for, so another tenant's product id is simply not found), then one transaction that stores
/// the order, counts it against the plan, and checks that no product changed in between.
async fn create<S: ProductLookup + OrderStore>(
    deps: &Deps<S>,
    context: &TenantContext,
    standing: Standing,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: CreateOrderBody = json_body(request, MAX_BODY_BYTES)?;
    let order_request = OrderRequest::try_from(body)?;
    let products = deps
        .store
        .get_products(&context.tenant_id, &order_request.product_ids())
        .await?;
    let priced = Order::price(&order_request, &products, context.user_id.clone())?;
    let limits = PlanLimits::of(standing.tier);
    deps.store
        .place_order(&context.tenant_id, &priced, limits.max_orders_per_month)
        .await?;
    Ok(order_response(StatusCode::CREATED, &priced.order))
}

async fn list<S: OrderStore>(
    deps: &Deps<S>,
    context: &TenantContext,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let (limit, cursor) = list_params(request)?;
    let listed = deps
        .store
        .list_orders(&context.tenant_id, limit, cursor.as_deref())
        .await?;
    Ok(page(&listed))
}

async fn get<S: OrderStore>(
    deps: &Deps<S>,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let order = deps
        .store
        .get_order(&context.tenant_id, &order_id(params)?)
        .await?;
    Ok(order_response(StatusCode::OK, &order))
}

async fn change_status<S: OrderStore>(
    deps: &Deps<S>,
    context: &TenantContext,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let id = order_id(params)?;
    let body: ChangeStatusBody = json_body(request, MAX_BODY_BYTES)?;
    let to = OrderStatus::parse(&body.status).ok_or_else(|| {
        let names: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        ValidationError::new("status", format!("must be one of {}", names.join(", ")))
    })?;
    let expected = expected_version(request, body.version)?;
    match deps
        .store
        .change_order_status(&context.tenant_id, &id, to, expected.map(|e| e.version))
        .await
    {
        Ok(order) => Ok(order_response(StatusCode::OK, &order)),
        Err(StoreError::VersionConflict) => Err(expected
            .map(|e| e.stale())
            .unwrap_or_else(|| StoreError::VersionConflict.into())),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests;
