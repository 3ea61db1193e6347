//! `products-api`: a tenant's catalogue.
//!
//! | route | who |
//! | --- | --- |
//! | `POST /products` | members and admins |
//! | `GET /products` (newest first, `limit` 1–100, `cursor`) | members and admins |
//! | `GET /products/{productId}` | members and admins |
//! | `PUT /products/{productId}` (the whole product, with `version` or `If-Match`) | members and admins |
//! | `DELETE /products/{productId}` (optional `If-Match`) | admins |

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

use shared::api_clients::Scope;
use shared::authority::{CallerStanding, Standing, ensure_writable};
use shared::context::TenantContext;
use shared::domain::product::{CreateProductBody, Product, ProductDraft, ReplaceProductBody};
use shared::http::{
    ApiError, MAX_BODY_BYTES, PathParams, Route, created, expected_version, if_match, json,
    json_body, list_params, match_route, no_content, page, serve_machines, with_etag,
};
use shared::ids::ProductId;
use shared::plans::PlanLimits;
use shared::store::UsageReader;
use shared::store::{ProductStore, StoreError};

pub struct Deps<S> {
    pub store: S,
}

/// What a request asks for: dispatched by a `match` without a catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    List,
    Get,
    Replace,
    Delete,
}

const ROUTES: &[(Route, Op)] = &[
    (Route::new("POST", "/products"), Op::Create),
    (Route::new("GET", "/products"), Op::List),
    (Route::new("GET", "/products/{productId}"), Op::Get),
    (Route::new("PUT", "/products/{productId}"), Op::Replace),
    (Route::new("DELETE", "/products/{productId}"), Op::Delete),
];

pub async fn function_handler<S: ProductStore + CallerStanding + UsageReader>(
    deps: &Deps<S>,
    event: Request,
) -> Result<Response<Body>, Error> {
    Ok(serve_machines(event, |context, request| handle(deps, context, request)).await)
}

async fn handle<S: ProductStore + CallerStanding + UsageReader>(
    deps: &Deps<S>,
    context: TenantContext,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (op, params) = match_route(&request, ROUTES)?;
    // A machine client does what its token's scopes allow (the machine API's authorizer checks
    // them too).
    let scope = match op {
        Op::List | Op::Get => Scope::ProductsRead,
        Op::Create | Op::Replace | Op::Delete => Scope::ProductsWrite,
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
    if matches!(op, Op::Create | Op::Replace) {
        ensure_writable(&deps.store, &context, standing).await?;
    }
    match op {
        Op::Create => create(deps, &context, standing, &request).await,
        Op::List => list(deps, &context, &request).await,
        Op::Get => get(deps, &context, &params).await,
        Op::Replace => replace(deps, &context, &request, &params).await,
        Op::Delete => delete(deps, &context, &request, &params).await,
    }
}

/// A malformed id cannot name a product of this tenant: the same 404 as a missing one.
fn product_id(params: &PathParams) -> Result<ProductId, ApiError> {
    ProductId::parse(params.get("productId")).map_err(|_| ApiError::NotFound)
}

fn product_response(status: StatusCode, product: &Product) -> Response<Body> {
    let response = if status == StatusCode::CREATED {
        created(&format!("/products/{}", product.id), product)
    } else {
        json(status, product)
    };
    with_etag(response, product.version)
}

async fn create<S: ProductStore>(
    deps: &Deps<S>,
    context: &TenantContext,
    standing: Standing,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: CreateProductBody = json_body(request, MAX_BODY_BYTES)?;
    let product = Product::create(ProductDraft::try_from(body)?);
    let limits = PlanLimits::of(standing.tier);
    deps.store
        .create_product(&context.tenant_id, &product, limits.max_products)
        .await?;
    Ok(product_response(StatusCode::CREATED, &product))
}

async fn list<S: ProductStore>(
    deps: &Deps<S>,
    context: &TenantContext,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let (limit, cursor) = list_params(request)?;
    let listed = deps
        .store
        .list_products(&context.tenant_id, limit, cursor.as_deref())
        .await?;
    Ok(page(&listed))
}

async fn get<S: ProductStore>(
    deps: &Deps<S>,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let product = deps
        .store
        .get_product(&context.tenant_id, &product_id(params)?)
        .await?;
    Ok(product_response(StatusCode::OK, &product))
}

async fn replace<S: ProductStore>(
    deps: &Deps<S>,
    context: &TenantContext,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let id = product_id(params)?;
    let body: ReplaceProductBody = json_body(request, MAX_BODY_BYTES)?;
    let draft = ProductDraft::try_from(&body)?;
    let expected = expected_version(request, body.version)?.ok_or_else(|| {
        ApiError::invalid("send the version you are replacing, as `version` or If-Match")
    })?;
    let current = deps.store.get_product(&context.tenant_id, &id).await?;
    if current.version != expected.version {
        return Err(expected.stale());
    }
    let replacement = current.replaced_by(draft);
    match deps
        .store
        .replace_product(&context.tenant_id, &current, &replacement)
        .await
    {
        Ok(()) => Ok(product_response(StatusCode::OK, &replacement)),
        Err(StoreError::VersionConflict) => Err(expected.stale()),
        Err(err) => Err(err.into()),
    }
}

async fn delete<S: ProductStore>(
    deps: &Deps<S>,
    context: &TenantContext,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    // An API client with products.write may delete (its scope was checked); a person must be
    // an admin.
    if !context.is_admin() && context.machine.is_none() {
        return Err(ApiError::forbidden("Only an admin can delete products."));
    }
    let id = product_id(params)?;
    let expected = if_match(request)?;
    match deps
        .store
        .delete_product(&context.tenant_id, &id, expected)
        .await
    {
        Ok(()) => Ok(no_content()),
        Err(StoreError::VersionConflict) if expected.is_some() => Err(ApiError::PreconditionFailed),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests;
