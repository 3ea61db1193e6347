//! The real `local-gateway` binary between an HTTP client and a fake Lambda Invoke API, with the
//! user pool's JWKS served by the test.

// The helpers below are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde_json::{Value, json};

const ISSUER: &str = "http://127.0.0.1:9229/local_pool";
const AUDIENCE: &str = "local-client";
const KID: &str = "test-key";
const SIGNING_KEY: &[u8] = include_bytes!("fixtures/signing-key.pem");
const WAIT: Duration = Duration::from_secs(60);

const ROUTES: &str = r#"[
  {"method": "POST", "path": "/items/{itemId}", "function": "echo", "auth": true},
  {"method": "GET", "path": "/items/{itemId}", "function": "echo", "auth": true},
  {"method": "GET", "path": "/failing", "function": "failing", "auth": true},
  {"method": "GET", "path": "/erroring", "function": "erroring", "auth": true},
  {"method": "GET", "path": "/shapeless", "function": "shapeless", "auth": true},
  {"method": "GET", "path": "/health", "function": "health", "auth": false}
]"#;

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn id_token(changes: Value) -> String {
    let mut claims = json!({
        "sub": "0a000000-0000-4000-8000-00000000a0ad",
        "email_verified": true,
        "iss": ISSUER,
        "cognito:username": "alice",
        "cognito:groups": ["ops", "support"],
        "aud": AUDIENCE,
        "token_use": "id",
        "auth_time": now(),
        "exp": now() + 3600,
        "iat": now(),
        "email": "alice@acme.example",
        "tenant_id": "01JB8Z4K2M6Q9R3T5V7W9XAAAA",
        "tenant_role": "admin",
        "tenant_tier": "basic",
    });
    for (name, value) in changes.as_object().unwrap() {
        claims[name] = value.clone();
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    let key = EncodingKey::from_rsa_pem(SIGNING_KEY).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn jwks() -> String {
    let key = EncodingKey::from_rsa_pem(SIGNING_KEY).unwrap();
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(KID.to_owned());
    serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap()
}

/// The identity server's JWKS and `cargo lambda watch`'s Invoke API, in one test server.
#[derive(Clone, Default)]
struct FakeAws {
    invocations: Arc<Mutex<Vec<(String, Value)>>>,
}

impl FakeAws {
    async fn start() -> (Self, SocketAddr) {
        let fake = Self::default();
        let app = Router::new()
            .route("/jwks.json", get(|| async { jwks() }))
            .route("/2015-03-31/functions/{function}/invocations", post(invoke))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, address)
    }

    fn invocations(&self) -> Vec<(String, Value)> {
        self.invocations.lock().unwrap().clone()
    }
}

/// The functions behind the routes: `echo` answers with a binary body and multi-value headers,
/// the others fail the ways a real function can.
async fn invoke(
    State(fake): State<FakeAws>,
    Path(function): Path<String>,
    event: String,
) -> (StatusCode, HeaderMap, String) {
    let event: Value = serde_json::from_str(&event).unwrap();
    fake.invocations
        .lock()
        .unwrap()
        .push((function.clone(), event));
    let mut headers = HeaderMap::new();
    let (status, payload) = match function.as_str() {
        "echo" => (
            StatusCode::OK,
            json!({
                "statusCode": 201,
                "headers": {"content-type": "application/octet-stream", "x-single": "one"},
                "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
                "body": "AJ+Slg==",
                "isBase64Encoded": true,
            }),
        ),
        "health" => (StatusCode::OK, json!({"statusCode": 200, "body": "ok"})),
        // What `cargo lambda watch` answers when a handler returns an error or panics.
        "failing" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"errorType": "Panic", "errorMessage": "boom"}),
        ),
        // What AWS Lambda answers for a function error.
        "erroring" => {
            headers.insert("x-amz-function-error", "Unhandled".parse().unwrap());
            (
                StatusCode::OK,
                json!({"errorType": "Error", "errorMessage": "boom"}),
            )
        }
        _ => (
            StatusCode::OK,
            json!({"errorMessage": "not a proxy response"}),
        ),
    };
    (status, headers, payload.to_string())
}

/// A running gateway process, killed when dropped.
struct Gateway {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    async fn start(aws: SocketAddr) -> Self {
        Self::start_with_lambda(aws, &format!("http://{aws}")).await
    }

    async fn start_with_lambda(aws: SocketAddr, lambda_endpoint: &str) -> Self {
        let mut child = gateway_command("127.0.0.1:0", aws, lambda_endpoint)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (ready, address) = tokio::sync::oneshot::channel();
        let log_writer = log.clone();
        std::thread::spawn(move || {
            let mut ready = Some(ready);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some((_, rest)) = line.split_once("listening on http://") {
                    let address = rest.split_whitespace().next().unwrap_or_default();
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(address.to_owned());
                    }
                }
                let mut log = log_writer.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url = match tokio::time::timeout(WAIT, address).await {
            Ok(Ok(address)) => format!("http://{address}"),
            _ => panic!(
                "the gateway did not start:\n{}",
                log.lock().unwrap().as_str()
            ),
        };
        Self { child, url, log }
    }

    /// Waits until the gateway has logged a line containing every one of `needles`.
    async fn logged(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.log.lock().unwrap().clone();
            if log
                .lines()
                .any(|line| needles.iter().all(|needle| line.contains(needle)))
            {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {needles:?} in:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn routes_file() -> PathBuf {
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("routes-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, ROUTES).unwrap();
    file
}

fn gateway_command(listen: &str, aws: SocketAddr, lambda_endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_local-gateway"));
    command
        .arg(format!("--listen={listen}"))
        .arg(format!("--routes={}", routes_file().display()))
        .arg(format!("--lambda-endpoint={lambda_endpoint}"))
        .arg(format!("--jwks-url=http://{aws}/jwks.json"))
        .arg(format!("--issuer={ISSUER}"))
        .arg(format!("--audience={AUDIENCE}"))
        .arg("--stage=prod")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(WAIT).build().unwrap()
}

async fn assert_gateway_error(
    response: reqwest::Response,
    status: u16,
    error_type: &str,
    message: &str,
) {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["x-amzn-errortype"], error_type);
    assert!(response.headers().contains_key("x-amzn-requestid"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "message": message }));
}

#[tokio::test]
async fn a_valid_request_reaches_the_function_and_its_response_comes_back() {
    let (aws, address) = FakeAws::start().await;
    let gateway = Gateway::start(address).await;
    let token = id_token(json!({}));

    let response = client()
        .post(format!("{}/prod/items/it%201?tag=a&tag=b", gateway.url))
        .header("authorization", format!("Bearer {token}"))
        .header("x-trace", "1")
        .header("x-trace", "2")
        .body(vec![0xff, 0x00, 0x01])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 201);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(headers["x-single"], "one");
    let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(response.bytes().await.unwrap().as_ref(), [0, 159, 146, 150]);

    let invocations = aws.invocations();
    assert_eq!(invocations.len(), 1);
    let (function, event) = &invocations[0];
    assert_eq!(function, "echo");
    assert_eq!(event["resource"], "/items/{itemId}");
    assert_eq!(event["path"], "/items/it%201");
    assert_eq!(event["httpMethod"], "POST");
    assert_eq!(event["pathParameters"], json!({"itemId": "it 1"}));
    assert_eq!(event["queryStringParameters"], json!({"tag": "b"}));
    assert_eq!(
        event["multiValueQueryStringParameters"],
        json!({"tag": ["a", "b"]})
    );
    assert_eq!(event["headers"]["x-trace"], "2");
    assert_eq!(event["multiValueHeaders"]["x-trace"], json!(["1", "2"]));
    assert_eq!(event["stageVariables"], Value::Null);
    assert_eq!(event["body"], "/wAB");
    assert_eq!(event["isBase64Encoded"], true);

    let context = &event["requestContext"];
    assert_eq!(context["resourcePath"], "/items/{itemId}");
    assert_eq!(context["httpMethod"], "POST");
    assert_eq!(context["path"], "/prod/items/it%201");
    assert_eq!(context["stage"], "prod");
    assert_eq!(context["protocol"], "HTTP/1.1");
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(
        headers["x-amzn-requestid"],
        context["requestId"].as_str().unwrap()
    );
    let claims = context["authorizer"]["claims"].as_object().unwrap();
    assert!(claims.values().all(Value::is_string), "{claims:?}");
    assert_eq!(claims["tenant_id"], "01JB8Z4K2M6Q9R3T5V7W9XAAAA");
    assert_eq!(claims["email_verified"], "true");
    assert_eq!(claims["cognito:groups"], "ops,support");
    assert_eq!(claims["token_use"], "id");

    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(request.method(), "POST");
    // As behind a real REST API: the URI has the stage, the raw path does not.
    assert_eq!(request.uri().path(), "/prod/items/it%201");
    assert_eq!(request.raw_http_path(), "/items/it%201");
    assert_eq!(request.path_parameters().first("itemId"), Some("it 1"));
    assert_eq!(
        request.query_string_parameters().all("tag"),
        Some(vec!["a", "b"])
    );
    assert_eq!(request.body().as_ref(), [0xff, 0x00, 0x01]);
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        panic!(
            "not a REST API request: {:?}",
            request.request_context_ref()
        );
    };
    assert_eq!(
        context.authorizer.fields["claims"]["tenant_role"],
        json!("admin")
    );

    let log = gateway
        .logged(&["method=POST", "status=201", "function=echo"])
        .await;
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "the token was logged:\n{log}");
}

#[tokio::test]
async fn an_invalid_token_is_401_and_the_function_is_never_called() {
    let (aws, address) = FakeAws::start().await;
    let gateway = Gateway::start(address).await;
    let expired = id_token(json!({"exp": now() - 10}));
    let access = id_token(json!({"token_use": "access"}));
    let other_client = id_token(json!({"aud": "other-client"}));

    for authorization in [
        None,
        Some("not a token".to_owned()),
        Some(expired.clone()),
        Some(access),
        Some(other_client),
    ] {
        let mut request = client().get(format!("{}/items/i1", gateway.url));
        if let Some(authorization) = &authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.unwrap();
        assert_gateway_error(response, 401, "UnauthorizedException", "Unauthorized").await;
    }
    assert!(aws.invocations().is_empty());

    let log = gateway.logged(&["status=401", "function=echo"]).await;
    let signature = expired.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "the token was logged:\n{log}");
}

#[tokio::test]
async fn a_failing_function_is_502() {
    let (aws, address) = FakeAws::start().await;
    let gateway = Gateway::start(address).await;
    let token = id_token(json!({}));

    for path in ["failing", "erroring", "shapeless"] {
        let response = client()
            .get(format!("{}/prod/{path}", gateway.url))
            .header("authorization", &token)
            .send()
            .await
            .unwrap();
        assert_gateway_error(
            response,
            502,
            "InternalServerErrorException",
            "Internal server error",
        )
        .await;
    }
    assert_eq!(aws.invocations().len(), 3);
    gateway.logged(&["status=502", "function=failing"]).await;
}

#[tokio::test]
async fn an_unknown_route_is_403_missing_authentication_token() {
    let (aws, address) = FakeAws::start().await;
    let gateway = Gateway::start(address).await;
    let token = id_token(json!({}));

    for (method, path) in [
        (reqwest::Method::GET, "/prod/nothing"),
        (reqwest::Method::GET, "/nothing"),
        (reqwest::Method::DELETE, "/prod/items/i1"),
        (reqwest::Method::GET, "/items"),
    ] {
        let response = client()
            .request(method, format!("{}{path}", gateway.url))
            .header("authorization", &token)
            .send()
            .await
            .unwrap();
        assert_gateway_error(
            response,
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
        .await;
    }
    assert!(aws.invocations().is_empty());
}

#[tokio::test]
async fn a_route_without_authorizer_needs_no_token() {
    let (aws, address) = FakeAws::start().await;
    let gateway = Gateway::start(address).await;

    let response = client()
        .get(format!("{}/health", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().await.unwrap(), "ok");
    let invocations = aws.invocations();
    assert_eq!(invocations.len(), 1);
    assert!(
        invocations[0].1["requestContext"]
            .get("authorizer")
            .is_none()
    );
}

#[tokio::test]
async fn an_unreachable_lambda_endpoint_is_502() {
    let (_aws, address) = FakeAws::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let lambda_endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gateway = Gateway::start_with_lambda(address, &lambda_endpoint).await;

    let response = client()
        .get(format!("{}/health", gateway.url))
        .send()
        .await
        .unwrap();
    assert_gateway_error(
        response,
        502,
        "InternalServerErrorException",
        "Internal server error",
    )
    .await;
    gateway
        .logged(&["integration failed", "cannot reach the Lambda endpoint"])
        .await;
}

#[test]
fn a_taken_port_stops_the_gateway_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let output = gateway_command(&address.to_string(), address, "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_jwks_stops_the_gateway_after_the_wait() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let started = Instant::now();
    let output = gateway_command("127.0.0.1:0", address, "http://127.0.0.1:9")
        .arg("--jwks-wait=1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("cannot fetch the JWKS"), "{stderr}");
    assert!(started.elapsed() < WAIT);
}
