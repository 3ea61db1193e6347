//! Building JSON responses.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A JSON response. Serializing the service's own types cannot fail; if it ever did, the client
/// gets a 500 and the log says why.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let (status, body) = match serde_json::to_string(value) {
        Ok(body) => (status, body),
        Err(err) => {
            tracing::error!(error = %err, "response did not serialize");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"code":"internal"}"#.to_owned(),
            )
        }
    };
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `201 Created` with a `Location`.
pub fn created<T: Serialize>(location: &str, value: &T) -> Response<Body> {
    let mut response = json(StatusCode::CREATED, value);
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Adds `ETag: "<version>"`, which a client can send back as `If-Match`.
pub fn with_etag(mut response: Response<Body>, version: u64) -> Response<Body> {
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// `200 OK` with one page of a listing: `{"items": [...], "next_cursor": "..." | null}`.
pub fn page<T: Serialize>(page: &crate::store::ListPage<T>) -> Response<Body> {
    json(
        StatusCode::OK,
        &serde_json::json!({ "items": page.items, "next_cursor": page.next_cursor }),
    )
}

/// A bounded list (no pagination): `{"items": [...]}`, 200.
pub fn items(items: Vec<serde_json::Value>) -> Response<Body> {
    json(StatusCode::OK, &serde_json::json!({ "items": items }))
}
