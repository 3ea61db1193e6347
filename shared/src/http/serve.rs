//! The boundary of every API request.

use std::future::Future;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::time::Instant;

use tracing::Instrument;

use super::ApiError;
use crate::context::{Claims, TenantContext};

/// API Gateway's request id, or the Lambda invocation's when there is no gateway.
pub fn request_id(request: &Request) -> String {
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    from_gateway
        .or_else(|| {
            request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
        })
        .unwrap_or_else(|| "-".to_owned())
}

/// Logs the outcome once, emits the request's metrics, and turns an error into its problem
/// response.
fn finish(
    result: Result<Response<Body>, ApiError>,
    request_id: &str,
    tenant: Option<String>,
    route: &str,
    started: Instant,
) -> Response<Body> {
    let response = respond(result, request_id);
    crate::metrics::emit_request(
        tenant.as_deref(),
        route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `METHOD /resource/{template}`: a low-cardinality name of the route, for metrics.
fn route_of(request: &Request) -> String {
    let template = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.resource_path.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context.route_key.clone(),
        _ => None,
    };
    match template {
        Some(template) if template.contains(' ') => template,
        Some(template) => format!("{} {template}", request.method()),
        None => format!("{} (unrouted)", request.method()),
    }
}

fn respond(result: Result<Response<Body>, ApiError>, request_id: &str) -> Response<Body> {
    match result {
        Ok(response) => {
            tracing::info!(status = response.status().as_u16(), "request handled");
            response
        }
        Err(err) => {
            let status = err.status().as_u16();
            match err.log_cause() {
                Some(cause) => tracing::error!(status, code = err.code(), cause, "request failed"),
                None => tracing::info!(status, code = err.code(), "request refused"),
            }
            err.into_response(request_id)
        }
    }
}

/// Serves a tenant-scoped request: builds the [`TenantContext`] from the verified claims (401 or
/// 403 `no-tenant` without one), runs `handler` inside a span carrying `tenant_id`, `user_id` and
/// `request_id`, and maps its error to problem+json. Expected failures are responses, never a
/// Lambda error.
///
/// A machine client's token is refused (403): only the routes served with [`serve_machines`]
/// take one.
pub async fn serve<F, Fut>(request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(TenantContext, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    serve_tenant(request, false, handler).await
}

/// [`serve`] for the routes machine clients may call too (products and orders): the handler
/// checks the scope each operation needs ([`TenantContext::has_scope`]).
pub async fn serve_machines<F, Fut>(request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(TenantContext, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    serve_tenant(request, true, handler).await
}

/// The answer to a machine client's token on a route that takes none.
fn machine_refused() -> ApiError {
    ApiError::forbidden("API clients reach the products and orders routes only.")
}

async fn serve_tenant<F, Fut>(request: Request, machines: bool, handler: F) -> Response<Body>
where
    F: FnOnce(TenantContext, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = Instant::now();
    let request_id = request_id(&request);
    let route = route_of(&request);
    let method = request.method().as_str().to_owned();
    let path = request.raw_http_path().to_owned();
    let context = match TenantContext::from_request(&request) {
        Ok(context) => context,
        Err(err) => {
            let span = tracing::info_span!("request", %request_id, %method, %path);
            return span.in_scope(|| finish(Err(err.into()), &request_id, None, &route, started));
        }
    };
    let tenant = Some(context.tenant_id.to_string());
    let span = tracing::info_span!(
        "request",
        %request_id,
        tenant_id = %context.tenant_id,
        user_id = %context.user_id,
        role = %context.role,
        machine = context.machine.is_some(),
        %method,
        %path,
    );
    async move {
        let outcome = if context.machine.is_some() && !machines {
            Err(machine_refused())
        } else {
            handler(context, request).await
        };
        finish(outcome, &request_id, tenant, &route, started)
    }
    .instrument(span)
    .await
}

/// Serves a request that needs an authenticated caller but not necessarily a tenant (platform
/// administration, `GET /me`): the handler gets the verified claims. A handler that then needs
/// the tenant calls [`tenant_of`], which also adds it to the request's log span.
pub async fn serve_caller<F, Fut>(request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Claims, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = Instant::now();
    let request_id = request_id(&request);
    let route = route_of(&request);
    let method = request.method().as_str().to_owned();
    let path = request.raw_http_path().to_owned();
    let claims = Claims::from_request(&request);
    if claims.is_machine() {
        let span = tracing::info_span!("request", %request_id, %method, %path);
        return span
            .in_scope(|| finish(Err(machine_refused()), &request_id, None, &route, started));
    }
    let user_id = match claims.user_id() {
        Ok(user_id) => user_id,
        Err(err) => {
            let span = tracing::info_span!("request", %request_id, %method, %path);
            return span.in_scope(|| finish(Err(err.into()), &request_id, None, &route, started));
        }
    };
    let tenant = TenantContext::from_claims(&claims)
        .ok()
        .map(|context| context.tenant_id.to_string());
    let span = tracing::info_span!(
        "request",
        %request_id,
        user_id = %user_id,
        tenant_id = tracing::field::Empty,
        role = tracing::field::Empty,
        %method,
        %path,
    );
    async move {
        finish(
            handler(claims, request).await,
            &request_id,
            tenant,
            &route,
            started,
        )
    }
    .instrument(span)
    .await
}

/// Serves a request that carries no verified identity at all (a route API Gateway passes on
/// without the Cognito authorizer, such as the payment provider's webhook): the handler must
/// authenticate the request itself before believing any of it. Logs, metrics and error mapping
/// as [`serve`].
pub async fn serve_public<F, Fut>(request: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let started = Instant::now();
    let request_id = request_id(&request);
    let route = route_of(&request);
    let method = request.method().as_str().to_owned();
    let path = request.raw_http_path().to_owned();
    let span = tracing::info_span!("request", %request_id, %method, %path);
    async move { finish(handler(request).await, &request_id, None, &route, started) }
        .instrument(span)
        .await
}

/// The tenant context of a request served by [`serve_caller`], recorded in the current span.
/// The caller's tenant and stored authority, for a route only the tenant's admins may use:
/// the role is read from the control table (strongly consistent), so a removed or demoted admin
/// is refused at once; 403 naming `action` for anyone else.
pub async fn admin_of<S: crate::authority::ControlAuthority>(
    store: &S,
    claims: &Claims,
    action: &str,
) -> Result<(TenantContext, crate::authority::Authority), ApiError> {
    let context = tenant_of(claims)?;
    let authority = store.authority(&context).await?;
    authority.require_admin(action)?;
    Ok((context, authority))
}

pub fn tenant_of(claims: &Claims) -> Result<TenantContext, ApiError> {
    let context = TenantContext::from_claims(claims)?;
    let span = tracing::Span::current();
    span.record("tenant_id", tracing::field::display(&context.tenant_id));
    span.record("role", tracing::field::display(&context.role));
    Ok(context)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::api_clients::Scope;
    use crate::testing::{Event, assert_problem, body_json};

    fn person() -> Event {
        Event::load("tenants-api/get-tenant.a-admin.json")
    }

    fn machine() -> Event {
        person().as_machine(&[
            "products.read",
            "products.write",
            "orders.read",
            "orders.write",
        ])
    }

    /// A route served with [`serve`] or [`serve_caller`] (everything but products and orders)
    /// refuses a machine client's token before its handler runs, whatever its scopes.
    #[tokio::test]
    async fn a_machine_token_never_reaches_a_persons_route() {
        let reached = AtomicBool::new(false);
        let handler = |_| {
            reached.store(true, Ordering::SeqCst);
            async { Ok(crate::http::no_content()) }
        };
        let response = serve(machine().request(), |context, _| handler(context.user_id)).await;
        assert_problem(&response, 403, "forbidden");
        let response = serve_caller(machine().request(), |claims, _| {
            handler(claims.user_id().unwrap_or_else(|_| panic!("a principal")))
        })
        .await;
        assert_problem(&response, 403, "forbidden");
        assert!(!reached.load(Ordering::SeqCst), "a handler ran");
        // A person's token reaches the handler.
        let served = serve(person().request(), |context, _| handler(context.user_id)).await;
        assert_eq!(served.status(), 204, "{}", body_json(&served));
    }

    /// The machine routes get the token with its scopes, which the handler checks.
    #[tokio::test]
    async fn a_machine_route_gets_the_tokens_scopes_and_principal() {
        let event = person().as_machine(&["orders.read"]);
        let response = serve_machines(event.request(), |context, _| async move {
            assert_eq!(context.machine, Some(vec![Scope::OrdersRead]));
            assert!(context.has_scope(Scope::OrdersRead));
            assert!(!context.has_scope(Scope::OrdersWrite));
            assert!(!context.has_scope(Scope::ProductsRead));
            assert_eq!(context.user_id.as_str(), crate::testing::MACHINE_PRINCIPAL);
            Ok(crate::http::no_content())
        })
        .await;
        assert_eq!(response.status(), 204, "{}", body_json(&response));
        let response = serve_machines(person().request(), |context, _| async move {
            assert_eq!(context.machine, None);
            assert!(Scope::ALL.into_iter().all(|scope| context.has_scope(scope)));
            Ok(crate::http::no_content())
        })
        .await;
        assert_eq!(response.status(), 204, "{}", body_json(&response));
    }
}
