//! A stand-in for DynamoDB, STS and Cognito that answers instantly with fixed, valid responses,
//! so that what the harness measures against it is the function's own cost, not an emulator's.
//!
//! Each service listens on its own port, as each has its own host on AWS: a function that talks
//! to two services opens two connections (two TLS handshakes on AWS), and the stub counts them.
//! Every call is counted by `service:Operation`; the harness takes a snapshot before and after
//! each phase (init, first invocation, warm run) and reports the difference.
//!
//! The data it serves is the data `bench/moto_seed.py` writes to the local DynamoDB server, so the
//! two backends answer the sample events in `events/` identically: tenant A is active, Alice is
//! its admin, and it has one product.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Tenant A of the sample events.
pub const TENANT: &str = "01JB8Z4K2M6Q9R3T5V7W9XAAAA";
/// Alice, tenant A's admin: the user of the sample pre-token events.
pub const USER: &str = "0a000000-0000-4000-8000-00000000a0ad";
const EMAIL: &str = "alice@acme.example";
/// The product of `events/products-api/get-product.*.json`.
pub const PRODUCT: &str = "01JB9A00000000000000000PA1";
const STAMP: &str = "2026-01-15T09:30:00Z";
/// Crockford's base32 alphabet: a ULID's last character holds its lowest bits.
const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// `keys::SHARDS` in the shared crate: the product's shard is its ULID modulo this.
const SHARDS: usize = 4;

/// The services a function may call, each with its own endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    DynamoDb,
    Sts,
    Cognito,
    /// Any other service (the SDKs' global `AWS_ENDPOINT_URL` points here): answered with an
    /// error, and counted, so an unexpected call shows in the report instead of going to AWS.
    Other,
}

impl Service {
    pub const ALL: [Self; 4] = [Self::DynamoDb, Self::Sts, Self::Cognito, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DynamoDb => "dynamodb",
            Self::Sts => "sts",
            Self::Cognito => "cognito-idp",
            Self::Other => "other",
        }
    }
}

/// What the stub has seen so far. Snapshots are subtracted to get the calls of one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Calls by `service:Operation`.
    pub calls: BTreeMap<String, u64>,
    /// Connections accepted, by service.
    pub connections: BTreeMap<String, u64>,
    /// Time the stub spent answering, summed over all calls.
    pub busy: Duration,
}

impl Tally {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Tally) -> Tally {
        fn minus(
            now: &BTreeMap<String, u64>,
            then: &BTreeMap<String, u64>,
        ) -> BTreeMap<String, u64> {
            now.iter()
                .map(|(key, count)| (key.clone(), count - then.get(key).copied().unwrap_or(0)))
                .filter(|(_, count)| *count > 0)
                .collect()
        }
        Tally {
            calls: minus(&self.calls, &earlier.calls),
            connections: minus(&self.connections, &earlier.connections),
            busy: self.busy.saturating_sub(earlier.busy),
        }
    }

    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

#[derive(Debug, Default)]
struct Shared {
    tally: Mutex<Tally>,
}

impl Shared {
    fn record(&self, service: Service, operation: &str, started: Instant) {
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        *tally
            .calls
            .entry(format!("{}:{operation}", service.as_str()))
            .or_default() += 1;
        tally.busy += started.elapsed();
    }

    fn connected(&self, service: Service) {
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        *tally
            .connections
            .entry(service.as_str().to_owned())
            .or_default() += 1;
    }
}

/// The running stub: one listener per service on 127.0.0.1.
#[derive(Debug)]
pub struct Stub {
    shared: Arc<Shared>,
    endpoints: Vec<(Service, SocketAddr)>,
    servers: Vec<JoinHandle<()>>,
}

impl Stub {
    pub async fn start() -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let mut endpoints = Vec::new();
        let mut servers = Vec::new();
        for service in Service::ALL {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            endpoints.push((service, listener.local_addr()?));
            let counter = Arc::clone(&shared);
            let listener = listener.tap_io(move |stream| {
                counter.connected(service);
                // Responses go out in one write anyway; this only rules out Nagle delays.
                let _ = stream.set_nodelay(true);
            });
            let app = Router::new()
                .fallback(answer)
                .with_state((Arc::clone(&shared), service));
            servers.push(tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, app).await {
                    eprintln!("stub {}: {err}", service.as_str());
                }
            }));
        }
        Ok(Self {
            shared,
            endpoints,
            servers,
        })
    }

    /// The endpoint URL of `service`, as the SDKs' `AWS_ENDPOINT_URL_*` variables want it.
    pub fn endpoint(&self, service: Service) -> String {
        let addr = self
            .endpoints
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, addr)| *addr)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9)));
        format!("http://{addr}")
    }

    pub fn snapshot(&self) -> Tally {
        self.shared
            .tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
}

async fn answer(
    State((shared, service)): State<(Arc<Shared>, Service)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .and_then(|target| target.split_once('.'))
        .map(|(_, operation)| operation.to_owned());
    let (operation, response) = match service {
        Service::DynamoDb => {
            let operation = target.unwrap_or_else(|| "?".to_owned());
            let response = match operation.as_str() {
                "GetItem" => get_item(&body),
                _ => json_error(
                    "com.amazonaws.dynamodb.v20120810#UnknownOperationException",
                    "the benchmark stub answers GetItem only",
                ),
            };
            (operation, response)
        }
        Service::Sts => {
            let action = form_urlencoded::parse(&body)
                .find(|(name, _)| name == "Action")
                .map(|(_, value)| value.into_owned())
                .unwrap_or_else(|| "?".to_owned());
            let response = match action.as_str() {
                "AssumeRole" => assume_role(&body),
                "GetCallerIdentity" => caller_identity(),
                _ => sts_error(&action),
            };
            (action, response)
        }
        Service::Cognito | Service::Other => (
            target.unwrap_or_else(|| "?".to_owned()),
            json_error(
                "UnknownOperationException",
                "the benchmark stub does not serve this service",
            ),
        ),
    };
    shared.record(service, &operation, started);
    response
}

fn s(value: &str) -> Value {
    json!({ "S": value })
}

fn n(value: u64) -> Value {
    json!({ "N": value.to_string() })
}

fn tenant_record() -> Map<String, Value> {
    let mut item = Map::new();
    for (name, value) in [
        ("pk", s(&format!("TENANT#{TENANT}"))),
        ("sk", s("TENANT")),
        ("entity", s("tenant")),
        ("id", s(TENANT)),
        ("tenant_id", s(TENANT)),
        ("name", s("Acme Tea")),
        ("tier", s("basic")),
        ("status", s("active")),
        ("settings", s("{}")),
        ("version", n(1)),
        ("user_count", n(2)),
        ("admin_count", n(1)),
        ("created_at", s(STAMP)),
        ("updated_at", s(STAMP)),
    ] {
        item.insert(name.to_owned(), value);
    }
    item
}

/// Alice's profile: one membership (admin of the tenant), chosen.
fn membership() -> Map<String, Value> {
    let mut entry = Map::new();
    for (name, value) in [
        ("role", s("admin")),
        ("tier", s("basic")),
        ("tenant_status", s("active")),
        ("state", s("active")),
    ] {
        entry.insert(name.to_owned(), value);
    }
    let mut orgs = Map::new();
    orgs.insert(TENANT.to_owned(), json!({ "M": entry }));
    let mut item = Map::new();
    for (name, value) in [
        ("pk", s(&format!("USER#{USER}"))),
        ("sk", s("MEMBERSHIP")),
        ("entity", s("profile")),
        ("user_id", s(USER)),
        ("email", s(EMAIL)),
        ("active", s(TENANT)),
        ("orgs", json!({ "M": orgs })),
    ] {
        item.insert(name.to_owned(), value);
    }
    item
}

/// The partition key of [`PRODUCT`] (`keys::product` in the shared crate).
fn product_partition() -> String {
    let last = PRODUCT.chars().last().unwrap_or('0');
    let shard = CROCKFORD.find(last).unwrap_or(0) % SHARDS;
    format!("{TENANT}#PRODUCT#{shard}")
}

fn product() -> Map<String, Value> {
    let mut item = Map::new();
    for (name, value) in [
        ("pk", s(&product_partition())),
        ("sk", s(PRODUCT)),
        ("entity", s("product")),
        ("tenant_id", s(TENANT)),
        ("id", s(PRODUCT)),
        ("name", s("Sencha")),
        ("description", s("Steamed green tea, 100 g.")),
        ("sku", s("TEA-SEN-100")),
        ("price", n(1250)),
        ("currency", s("EUR")),
        ("active", json!({ "BOOL": true })),
        ("version", n(1)),
        ("created_at", s(STAMP)),
        ("updated_at", s(STAMP)),
    ] {
        item.insert(name.to_owned(), value);
    }
    item
}

/// Keeps only the attributes a `ProjectionExpression` names (top-level names, with `#name`
/// placeholders resolved), as DynamoDB does.
fn project(item: Map<String, Value>, request: &Value) -> Map<String, Value> {
    let Some(projection) = request["ProjectionExpression"].as_str() else {
        return item;
    };
    let wanted: Vec<&str> = projection
        .split(',')
        .map(str::trim)
        .map(|name| {
            request["ExpressionAttributeNames"][name]
                .as_str()
                .unwrap_or(name)
        })
        .collect();
    item.into_iter()
        .filter(|(name, _)| wanted.contains(&name.as_str()))
        .collect()
}

fn get_item(body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return json_error(
            "com.amazon.coral.validate#ValidationException",
            "the request is not JSON",
        );
    };
    let pk = request["Key"]["pk"]["S"].as_str().unwrap_or_default();
    let sk = request["Key"]["sk"]["S"].as_str().unwrap_or_default();
    let item = if pk == format!("TENANT#{TENANT}") && sk == "TENANT" {
        Some(tenant_record())
    } else if pk == format!("USER#{USER}") && sk == "MEMBERSHIP" {
        Some(membership())
    } else if pk == product_partition() && sk == PRODUCT {
        Some(product())
    } else {
        None
    };
    let body = match item {
        Some(item) => json!({ "Item": project(item, &request) }),
        None => json!({}),
    };
    aws_json(StatusCode::OK, body.to_string())
}

fn aws_json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    headers.insert(
        "x-amzn-requestid",
        HeaderValue::from_static("BENCHSTUB0000000000000000000000000000000000000000000"),
    );
    response
}

fn json_error(kind: &str, message: &str) -> Response {
    aws_json(
        StatusCode::BAD_REQUEST,
        json!({ "__type": kind, "message": message }).to_string(),
    )
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

/// Credentials that expire an hour from now, so a function caches them for the whole run.
fn assume_role(body: &[u8]) -> Response {
    let field = |wanted: &str| {
        form_urlencoded::parse(body)
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    let role = field("RoleArn");
    let session = field("RoleSessionName");
    let role_name = role.rsplit('/').next().unwrap_or("role");
    let expiration = expiration_in(time::Duration::HOUR);
    xml(
        StatusCode::OK,
        format!(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROABENCHSTUB000000000:{session}</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/{role_name}/{session}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIABENCHSTUB0000000</AccessKeyId>
      <SecretAccessKey>benchstubbenchstubbenchstubbenchstub0000</SecretAccessKey>
      <SessionToken>FwoGZXIvYXdzEBenchStubSessionToken</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>00000000-0000-4000-8000-00000000beef</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#
        ),
    )
}

/// Who the function's own role is: what a function calls to open its STS connection early.
fn caller_identity() -> Response {
    xml(
        StatusCode::OK,
        r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/bench-function-role/bench</Arn>
    <UserId>AROABENCHSTUB000000000:bench</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>00000000-0000-4000-8000-00000000beef</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>"#
            .to_owned(),
    )
}

fn expiration_in(lifetime: time::Duration) -> String {
    let at = time::OffsetDateTime::now_utc() + lifetime;
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn sts_error(action: &str) -> Response {
    xml(
        StatusCode::BAD_REQUEST,
        format!(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidAction</Code><Message>the benchmark stub answers AssumeRole and GetCallerIdentity only, not {action}</Message></Error>
  <RequestId>00000000-0000-4000-8000-00000000beef</RequestId>
</ErrorResponse>"#
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_projection_keeps_only_the_named_attributes() {
        let request = json!({
            "ProjectionExpression": "#status, data_table",
            "ExpressionAttributeNames": { "#status": "status" },
        });
        let projected = project(tenant_record(), &request);
        assert_eq!(projected.keys().collect::<Vec<_>>(), vec!["status"]);
    }

    #[test]
    fn the_product_lives_in_the_shard_its_id_names() {
        // ULID random bits modulo 4: the last character `1` is 0b00001.
        assert_eq!(product_partition(), format!("{TENANT}#PRODUCT#1"));
    }

    #[test]
    fn tallies_subtract_per_key() {
        let mut before = Tally::default();
        before.calls.insert("dynamodb:GetItem".into(), 2);
        let mut after = before.clone();
        after.calls.insert("dynamodb:GetItem".into(), 3);
        after.calls.insert("sts:AssumeRole".into(), 1);
        let delta = after.since(&before);
        assert_eq!(delta.total_calls(), 2);
        assert_eq!(delta.calls["sts:AssumeRole"], 1);
    }

    #[test]
    fn expirations_have_whole_seconds() {
        let text = expiration_in(time::Duration::HOUR);
        assert!(text.ends_with('Z') && !text.contains('.'), "{text}");
    }
}
