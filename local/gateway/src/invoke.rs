//! Calling a function through the Lambda Invoke API that `cargo lambda watch` serves, and
//! turning its proxy response into an HTTP response as API Gateway does.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::Deserialize;

use crate::causes::with_causes;
use crate::event::ProxyEvent;

/// `cargo lambda watch` compiles a function on its first invoke, which can take minutes.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// After this long an invoke is reported as slow, once, while the gateway keeps waiting.
const SLOW_INVOKE: Duration = Duration::from_secs(5);

/// Why a function's answer cannot be passed on: the client gets 502 `Internal server error`.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("cannot reach the Lambda endpoint: {}", with_causes(.0))]
    Unreachable(#[source] reqwest::Error),
    #[error("the function failed (invoke status {status}, function error {function_error:?})")]
    FunctionFailed {
        status: StatusCode,
        function_error: Option<String>,
    },
    #[error("the function's answer is not a proxy response: {0}")]
    Malformed(String),
}

/// What a function returns to a REST API proxy integration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProxyResponse {
    status_code: u16,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    multi_value_headers: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: Option<bool>,
}

/// The response to send to the client.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct LambdaClient {
    endpoint: String,
    http: reqwest::Client,
}

impl LambdaClient {
    pub fn new(endpoint: &str, http: reqwest::Client) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            http,
        }
    }

    pub async fn invoke(&self, function: &str, event: &ProxyEvent) -> Result<Reply, InvokeError> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.endpoint
        );
        let call = self
            .http
            .post(url)
            .timeout(INVOKE_TIMEOUT)
            .json(event)
            .send();
        tokio::pin!(call);
        let response = match tokio::time::timeout(SLOW_INVOKE, &mut call).await {
            Ok(response) => response,
            Err(_) => {
                tracing::info!(
                    function,
                    "still waiting for the function (its first invoke builds it)"
                );
                call.await
            }
        }
        .map_err(InvokeError::Unreachable)?;

        let status = response.status();
        let function_error = response
            .headers()
            .get("x-amz-function-error")
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        if !status.is_success() || function_error.is_some() {
            return Err(InvokeError::FunctionFailed {
                status,
                function_error,
            });
        }
        let payload = response.bytes().await.map_err(InvokeError::Unreachable)?;
        reply(&payload)
    }
}

impl LambdaClient {
    /// Invokes `function` with any event and returns its answer (a trigger's, not a proxy
    /// response); a function error is an error carrying its message.
    pub async fn invoke_json(
        &self,
        function: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.endpoint
        );
        let response = self
            .http
            .post(url)
            .timeout(INVOKE_TIMEOUT)
            .json(event)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let failed = !response.status().is_success()
            || response.headers().contains_key("x-amz-function-error");
        let answer: serde_json::Value = response.json().await.map_err(|error| error.to_string())?;
        match answer
            .get("errorMessage")
            .and_then(serde_json::Value::as_str)
        {
            Some(message) => Err(message.to_owned()),
            None if failed => Err(answer.to_string()),
            None => Ok(answer),
        }
    }
}

/// Maps a proxy response to HTTP. Like API Gateway, anything that is not a well-formed proxy
/// response (an `{"errorMessage": ...}`, a missing `statusCode`, a non-string body) is an error.
fn reply(payload: &[u8]) -> Result<Reply, InvokeError> {
    let malformed = InvokeError::Malformed;
    let response: ProxyResponse =
        serde_json::from_slice(payload).map_err(|error| malformed(error.to_string()))?;
    let status = StatusCode::from_u16(response.status_code)
        .ok()
        .filter(|status| (100..600).contains(&status.as_u16()))
        .ok_or_else(|| malformed(format!("status code {}", response.status_code)))?;

    // Both maps are merged; a pair present in both appears once.
    let mut headers = HeaderMap::new();
    let pairs = response
        .multi_value_headers
        .unwrap_or_default()
        .into_iter()
        .flat_map(|(name, values)| values.into_iter().map(move |value| (name.clone(), value)))
        .chain(response.headers.unwrap_or_default());
    for (name, value) in pairs {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| malformed(format!("header name {name:?}")))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|_| malformed(format!("value of header {name}")))?;
        if !headers.get_all(&name).iter().any(|known| known == value) {
            headers.append(name, value);
        }
    }
    // The server frames the body itself; a function's idea of it could only contradict that.
    for framing in [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ] {
        headers.remove(framing);
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }

    let body = match (response.body, response.is_base64_encoded.unwrap_or(false)) {
        (None, _) => Vec::new(),
        (Some(body), false) => body.into_bytes(),
        (Some(body), true) => STANDARD
            .decode(body)
            .map_err(|error| malformed(format!("base64 body: {error}")))?,
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(response: serde_json::Value) -> Result<Reply, InvokeError> {
        reply(response.to_string().as_bytes())
    }

    #[test]
    fn status_headers_and_body_are_passed_on() {
        let reply = map(json!({
            "statusCode": 201,
            "headers": {"content-type": "application/problem+json", "location": "/products/p1"},
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "location": ["/products/p1"]},
            "body": "{\"id\":\"p1\"}",
            "isBase64Encoded": false,
        }))
        .unwrap();
        assert_eq!(reply.status, StatusCode::CREATED);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        let cookies: Vec<_> = reply.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(reply.headers.get_all("location").iter().count(), 1);
        assert_eq!(reply.body, b"{\"id\":\"p1\"}");
    }

    #[test]
    fn framing_headers_of_the_function_are_dropped() {
        let reply = map(json!({
            "statusCode": 200,
            "headers": {"content-length": "999", "transfer-encoding": "chunked", "x-kept": "yes"},
            "body": "ok",
        }))
        .unwrap();
        assert!(!reply.headers.contains_key("content-length"));
        assert!(!reply.headers.contains_key("transfer-encoding"));
        assert_eq!(reply.headers["x-kept"], "yes");
    }

    #[test]
    fn a_base64_body_is_decoded() {
        let reply = map(json!({
            "statusCode": 200,
            "body": "AJ+Slg==",
            "isBase64Encoded": true,
        }))
        .unwrap();
        assert_eq!(reply.body, [0, 159, 146, 150]);
        assert_eq!(reply.headers["content-type"], "application/json");
    }

    #[test]
    fn an_empty_response_has_no_body() {
        let reply = map(json!({"statusCode": 204, "headers": null, "body": null})).unwrap();
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert!(reply.body.is_empty());
    }

    #[test]
    fn anything_but_a_proxy_response_is_malformed() {
        for payload in [
            json!({"errorMessage": "boom", "errorType": "Panic"}),
            json!({"body": "no status"}),
            json!({"statusCode": "200"}),
            json!({"statusCode": 99}),
            json!({"statusCode": 700}),
            json!({"statusCode": 200, "body": {"not": "a string"}}),
            json!({"statusCode": 200, "headers": {"x-count": 1}}),
            json!({"statusCode": 200, "headers": {"bad name": "x"}}),
            json!({"statusCode": 200, "body": "%%%", "isBase64Encoded": true}),
            json!("just a string"),
        ] {
            assert!(
                matches!(map(payload.clone()), Err(InvokeError::Malformed(_))),
                "{payload}"
            );
        }
        assert!(matches!(reply(b"not json"), Err(InvokeError::Malformed(_))));
    }
}
