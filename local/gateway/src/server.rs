//! One request through the gateway: route, authorize, build the event, invoke, answer. Gateway
//! errors carry the bodies and `x-amzn-ErrorType` headers API Gateway sends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::auth::Authorizer;
use crate::event::{Incoming, ProxyEvent};
use crate::invoke::{LambdaClient, Reply};
use crate::routes::RouteTable;

/// API Gateway's payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;

#[derive(Debug)]
pub struct Gateway {
    pub routes: RouteTable,
    pub authorizer: Authorizer,
    pub lambda: LambdaClient,
    /// Cognito's token endpoint (client credentials), when this gateway plays it too.
    pub token_endpoint: Option<crate::token::TokenEndpoint>,
}

pub async fn serve(listener: TcpListener, gateway: Gateway) -> std::io::Result<()> {
    let app = Router::new().fallback(handle).with_state(Arc::new(gateway));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

async fn handle(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let request_id = Uuid::new_v4();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();

    let (mut response, function) = gateway.answer(request, peer, request_id).await;

    if let Ok(value) = HeaderValue::try_from(request_id.to_string()) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        function = %function.unwrap_or("-"),
        ms = started.elapsed().as_millis(),
        %request_id,
        "request"
    );
    response
}

impl Gateway {
    /// The response, and the function that produced it if the request got that far.
    async fn answer(
        &self,
        request: Request,
        peer: SocketAddr,
        request_id: Uuid,
    ) -> (Response, Option<&str>) {
        let received = OffsetDateTime::now_utc();
        if let Some(endpoint) = &self.token_endpoint
            && request.uri().path() == crate::token::PATH
        {
            return (endpoint.answer(request, &self.lambda).await, None);
        }
        let (parts, body) = request.into_parts();
        let Some(matched) = self.routes.resolve(parts.method.as_str(), parts.uri.path()) else {
            return (missing_authentication_token(), None);
        };
        let function = Some(matched.route.function.as_str());

        let claims = if matched.route.auth {
            let authorization = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok());
            match self.authorizer.verify(authorization).await {
                Ok(claims) if self.authorizer.allows(&claims, &matched.route.scopes) => {
                    Some(claims)
                }
                Ok(_) => {
                    tracing::info!(%request_id, needed = ?matched.route.scopes, "unauthorized: the token has none of the method's scopes");
                    return (unauthorized(), function);
                }
                Err(error) => {
                    tracing::info!(%request_id, reason = %error, "unauthorized");
                    return (unauthorized(), function);
                }
            }
        } else {
            None
        };

        let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
            return (request_too_long(), function);
        };
        let incoming = Incoming {
            method: &parts.method,
            version: parts.version,
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &body,
            source_ip: peer.ip(),
            received,
            request_id,
        };
        let event = ProxyEvent::new(&incoming, &matched, self.routes.stage(), claims);

        match self.lambda.invoke(&matched.route.function, &event).await {
            Ok(reply) => (into_response(reply), function),
            Err(error) => {
                tracing::error!(%request_id, function = %matched.route.function, %error, "integration failed");
                (internal_server_error(), function)
            }
        }
    }
}

fn into_response(reply: Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    response
}

fn gateway_error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

/// What a REST API answers for a path or method it does not have.
fn missing_authentication_token() -> Response {
    gateway_error(
        StatusCode::FORBIDDEN,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )
}

fn unauthorized() -> Response {
    gateway_error(
        StatusCode::UNAUTHORIZED,
        "UnauthorizedException",
        "Unauthorized",
    )
}

fn request_too_long() -> Response {
    gateway_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestTooLargeException",
        "Request Too Long",
    )
}

fn internal_server_error() -> Response {
    gateway_error(
        StatusCode::BAD_GATEWAY,
        "InternalServerErrorException",
        "Internal server error",
    )
}
