//! `api-docs`: the API's OpenAPI document (`docs/openapi.json`, built into the binary), at
//! `GET /openapi.json` for anyone: it says what the API is, never anything of a tenant.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Error, Request, Response, run, service_fn};
use shared::http::{ApiError, Route, match_route, serve_public};

/// The document, as `scripts/openapi.py` writes it.
const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Document,
}

const ROUTES: &[(Route, Op)] = &[(Route::new("GET", "/openapi.json"), Op::Document)];

async fn function_handler(event: Request) -> Result<Response<Body>, Error> {
    Ok(serve_public(event, |request| async move {
        let (op, _) = match_route(&request, ROUTES)?;
        match op {
            Op::Document => document(),
        }
    })
    .await)
}

fn document() -> Result<Response<Body>, ApiError> {
    let mut response = Response::new(Body::Text(DOCUMENT.to_owned()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    run(service_fn(function_handler)).await
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use shared::testing::{Event, assert_problem, body_json};

    use super::*;

    #[tokio::test]
    async fn the_document_is_served_to_anyone_and_nothing_else_is() {
        let event = Event::load("api-docs/get-openapi.json");
        let response = function_handler(event.request()).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let document = body_json(&response);
        assert_eq!(document["openapi"], "3.1.0");
        let mut other = Event::load("api-docs/get-openapi.json");
        other.0["path"] = Value::from("/openapi.yaml");
        other.0["resource"] = Value::from("/openapi.yaml");
        let missing = function_handler(other.request()).await.unwrap();
        assert_problem(&missing, 404, "not-found");
    }

    #[test]
    fn the_route_table_is_the_documents() {
        shared::testing::assert_routes_documented(
            "api-docs",
            ROUTES.iter().map(|(route, _)| *route),
        );
    }
}
