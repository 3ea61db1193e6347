//! Test support: fixture events from `events/`, adjusted per test, and response helpers.

use std::path::PathBuf;

use lambda_http::{Body, Request, Response};
use serde_json::Value;

/// The sample tenants of `events/`.
pub const TENANT_A: &str = "01JB8Z4K2M6Q9R3T5V7W9XAAAA";
pub const TENANT_B: &str = "01JB8Z4K2M6Q9R3T5V7W9XBBBB";

/// The repository's `events/` directory.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("events")
}

/// A fixture event, as JSON, to adjust and turn into a request.
#[derive(Debug, Clone)]
pub struct Event(pub Value);

impl Event {
    /// Loads `events/<name>`, e.g. `products-api/get-product.a-admin.json`.
    pub fn load(name: &str) -> Self {
        let path = events_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("fixture {}: {err}", path.display()));
        Self(
            serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("fixture {}: {err}", path.display())),
        )
    }

    /// Sets a path parameter and rebuilds `path` from the resource template.
    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        let event = &mut self.0;
        if !event["pathParameters"].is_object() {
            event["pathParameters"] = Value::Object(Default::default());
        }
        event["pathParameters"][name] = Value::String(value.to_owned());
        let mut path = event["resource"].as_str().unwrap_or("/").to_owned();
        if let Some(params) = event["pathParameters"].as_object() {
            for (param, value) in params {
                path = path.replace(&format!("{{{param}}}"), value.as_str().unwrap_or(""));
            }
        }
        event["path"] = Value::String(path);
        self
    }

    /// Replaces the body with `json` (any text: tests send malformed bodies too).
    pub fn body(mut self, json: &str) -> Self {
        self.0["body"] = Value::String(json.to_owned());
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        let event = &mut self.0;
        if !event["queryStringParameters"].is_object() {
            event["queryStringParameters"] = Value::Object(Default::default());
            event["multiValueQueryStringParameters"] = Value::Object(Default::default());
        }
        event["queryStringParameters"][name] = Value::String(value.to_owned());
        event["multiValueQueryStringParameters"][name] = serde_json::json!([value]);
        self
    }

    pub fn without_query(mut self) -> Self {
        self.0["queryStringParameters"] = Value::Null;
        self.0["multiValueQueryStringParameters"] = Value::Null;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0["headers"][name] = Value::String(value.to_owned());
        self.0["multiValueHeaders"][name] = serde_json::json!([value]);
        self
    }

    /// Sets (`Some`) or removes (`None`) one authorizer claim.
    pub fn claim(mut self, name: &str, value: Option<&str>) -> Self {
        let claims = &mut self.0["requestContext"]["authorizer"]["claims"];
        match value {
            Some(value) => claims[name] = Value::String(value.to_owned()),
            None => {
                if let Some(map) = claims.as_object_mut() {
                    map.remove(name);
                }
            }
        }
        self
    }

    /// Removes the authorizer entirely, as on a route with no authorizer.
    pub fn without_authorizer(mut self) -> Self {
        if let Some(context) = self.0["requestContext"].as_object_mut() {
            context.remove("authorizer");
        }
        self
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.0.to_string())
            .expect("fixture is a valid API Gateway event")
    }
}

/// The response body as JSON (panics, failing the test, if it is not).
pub fn body_json(response: &Response<Body>) -> Value {
    let text = match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Body::Empty => return Value::Null,
        _ => String::new(),
    };
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("response body is not JSON ({err}): {text}"))
}

/// Asserts a problem+json response with this status and code, and returns its body.
pub fn assert_problem(response: &Response<Body>, status: u16, code: &str) -> Value {
    let body = body_json(response);
    assert_eq!(
        response.status().as_u16(),
        status,
        "unexpected status, body: {body}"
    );
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "body: {body}"
    );
    assert_eq!(body["code"], code, "body: {body}");
    body
}
