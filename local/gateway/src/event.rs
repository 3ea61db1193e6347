//! The REST API Lambda proxy event (payload format 1.0), field for field as API Gateway sends it
//! (compare `events/` at the workspace root).

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Method, Version};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Claims;
use crate::routes::Matched;

/// Stand-ins for the ids of a deployed API; functions log them but do not depend on them.
const ACCOUNT_ID: &str = "123456789012";
const API_ID: &str = "local";

/// What the gateway knows about one request once it has been routed and authorized.
#[derive(Debug)]
pub struct Incoming<'a> {
    pub method: &'a Method,
    pub version: Version,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: IpAddr,
    pub received: OffsetDateTime,
    pub request_id: Uuid,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyEvent {
    resource: String,
    path: String,
    http_method: String,
    headers: Option<BTreeMap<String, String>>,
    multi_value_headers: Option<BTreeMap<String, Vec<String>>>,
    query_string_parameters: Option<BTreeMap<String, String>>,
    multi_value_query_string_parameters: Option<BTreeMap<String, Vec<String>>>,
    path_parameters: Option<BTreeMap<String, String>>,
    stage_variables: Option<BTreeMap<String, String>>,
    request_context: RequestContext,
    body: Option<String>,
    is_base64_encoded: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    resource_id: String,
    resource_path: String,
    http_method: String,
    extended_request_id: String,
    request_time: String,
    path: String,
    account_id: &'static str,
    protocol: &'static str,
    stage: String,
    domain_prefix: String,
    request_time_epoch: i64,
    request_id: String,
    identity: Identity,
    domain_name: String,
    api_id: &'static str,
    /// Absent on methods without an authorizer.
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<Authorizer>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    cognito_identity_pool_id: Option<String>,
    account_id: Option<String>,
    cognito_identity_id: Option<String>,
    caller: Option<String>,
    source_ip: String,
    principal_org_id: Option<String>,
    access_key: Option<String>,
    cognito_authentication_type: Option<String>,
    cognito_authentication_provider: Option<String>,
    user_arn: Option<String>,
    user_agent: Option<String>,
    user: Option<String>,
}

#[derive(Debug, Serialize)]
struct Authorizer {
    claims: Claims,
}

impl ProxyEvent {
    /// `claims` are those of the verified token, `None` on a method without an authorizer.
    pub fn new(
        incoming: &Incoming<'_>,
        matched: &Matched<'_>,
        stage: &str,
        claims: Option<Claims>,
    ) -> Self {
        let (headers, multi_value_headers) = headers(incoming);
        let (query, multi_value_query) = query_parameters(incoming.query);
        let (body, is_base64_encoded) = body(incoming.body);
        let domain_name = headers
            .as_ref()
            .and_then(|headers| headers.get("host"))
            .cloned()
            .unwrap_or_else(|| "localhost".to_owned());
        let domain_prefix = domain_name
            .split(['.', ':'])
            .next()
            .unwrap_or_default()
            .to_owned();
        let user_agent = headers
            .as_ref()
            .and_then(|headers| headers.get("user-agent"))
            .cloned();
        let method = incoming.method.as_str().to_owned();
        Self {
            resource: matched.route.resource.clone(),
            path: matched.path.clone(),
            http_method: method.clone(),
            headers,
            multi_value_headers,
            query_string_parameters: query,
            multi_value_query_string_parameters: multi_value_query,
            path_parameters: Some(matched.path_parameters.clone()).filter(|p| !p.is_empty()),
            stage_variables: None,
            request_context: RequestContext {
                resource_id: matched.route.resource_id.clone(),
                resource_path: matched.route.resource.clone(),
                http_method: method,
                extended_request_id: STANDARD.encode(&Uuid::new_v4().as_bytes()[..9]),
                request_time: request_time(incoming.received),
                path: staged_path(stage, &matched.path),
                account_id: ACCOUNT_ID,
                protocol: protocol(incoming.version),
                stage: stage.to_owned(),
                domain_prefix,
                request_time_epoch: incoming.received.unix_timestamp() * 1000
                    + i64::from(incoming.received.millisecond()),
                request_id: incoming.request_id.to_string(),
                identity: Identity {
                    cognito_identity_pool_id: None,
                    account_id: None,
                    cognito_identity_id: None,
                    caller: None,
                    source_ip: incoming.source_ip.to_string(),
                    principal_org_id: None,
                    access_key: None,
                    cognito_authentication_type: None,
                    cognito_authentication_provider: None,
                    user_arn: None,
                    user_agent,
                    user: None,
                },
                domain_name,
                api_id: API_ID,
                authorizer: claims.map(|claims| Authorizer { claims }),
            },
            body,
            is_base64_encoded,
        }
    }
}

type SingleAndMulti = (
    Option<BTreeMap<String, String>>,
    Option<BTreeMap<String, Vec<String>>>,
);

/// Every header with all its values, and its last value alone. Like API Gateway, the gateway
/// appends the client's address to `X-Forwarded-For` and says which protocol it was reached by.
fn headers(incoming: &Incoming<'_>) -> SingleAndMulti {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in incoming.headers {
        multi
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let source_ip = incoming.source_ip.to_string();
    let forwarded_for = multi.entry("x-forwarded-for".to_owned()).or_default();
    match forwarded_for.last_mut() {
        Some(chain) => *chain = format!("{chain}, {source_ip}"),
        None => forwarded_for.push(source_ip),
    }
    multi
        .entry("x-forwarded-proto".to_owned())
        .or_insert_with(|| vec!["http".to_owned()]);
    single_and_multi(multi)
}

/// Query parameters decoded as API Gateway decodes them (`+` is a space).
fn query_parameters(query: Option<&str>) -> SingleAndMulti {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        multi
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    single_and_multi(multi)
}

fn single_and_multi(multi: BTreeMap<String, Vec<String>>) -> SingleAndMulti {
    if multi.is_empty() {
        return (None, None);
    }
    let single = multi
        .iter()
        .filter_map(|(name, values)| Some((name.clone(), values.last()?.clone())))
        .collect();
    (Some(single), Some(multi))
}

/// Text bodies pass as they are, anything else base64-encoded; no body is `null`.
fn body(bytes: &[u8]) -> (Option<String>, bool) {
    if bytes.is_empty() {
        return (None, false);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text.to_owned()), false),
        Err(_) => (Some(STANDARD.encode(bytes)), true),
    }
}

fn staged_path(stage: &str, path: &str) -> String {
    match path {
        "/" => format!("/{stage}/"),
        path => format!("/{stage}{path}"),
    }
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// `26/Nov/2026:08:30:00 +0000`, the CLF time API Gateway uses.
fn request_time(received: OffsetDateTime) -> String {
    time::format_description::parse_borrowed::<2>(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000",
    )
    .ok()
    .and_then(|description| received.format(&description).ok())
    .unwrap_or_else(|| received.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use serde_json::{Value, json};

    use super::*;
    use crate::routes::RouteTable;

    const FIXTURE: &str = include_str!("../../../events/products-api/get-product.a-admin.json");

    fn routes() -> RouteTable {
        RouteTable::from_test_json(json!([
            {"method": "GET", "path": "/products/{productId}", "function": "products-api", "auth": true},
            {"method": "POST", "path": "/uploads", "function": "uploads", "auth": false},
        ]))
    }

    fn fixture_headers() -> HeaderMap {
        let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in fixture["headers"].as_object().unwrap() {
            if !name.starts_with("X-Forwarded") {
                let name: http::HeaderName = name.parse().unwrap();
                headers.insert(name, value.as_str().unwrap().parse().unwrap());
            }
        }
        headers
    }

    fn build(
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        claims: Option<Claims>,
    ) -> Value {
        let routes = routes();
        let matched = routes.resolve(method.as_str(), path).unwrap();
        let incoming = Incoming {
            method,
            version: Version::HTTP_11,
            query,
            headers,
            body,
            source_ip: "203.0.113.10".parse().unwrap(),
            received: OffsetDateTime::from_unix_timestamp(1_795_681_800).unwrap()
                + time::Duration::milliseconds(250),
            request_id: Uuid::new_v4(),
        };
        serde_json::to_value(ProxyEvent::new(&incoming, &matched, "prod", claims)).unwrap()
    }

    /// Every key of `value` as a path with the JSON type of its value; the keys of maps whose
    /// keys are data are left out.
    fn shape(value: &Value, prefix: &str, into: &mut Vec<String>) {
        if let Value::Object(map) = value {
            for (key, child) in map {
                let path = format!("{prefix}.{key}");
                let kind = match child {
                    Value::Null => "null",
                    Value::Bool(_) => "bool",
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    Value::Array(_) => "array",
                    Value::Object(_) => "object",
                };
                into.push(format!("{path}: {kind}"));
                let data_keyed = [
                    "headers",
                    "multiValueHeaders",
                    "pathParameters",
                    "queryStringParameters",
                    "multiValueQueryStringParameters",
                    "claims",
                ];
                if !data_keyed.contains(&key.as_str()) {
                    shape(child, &path, into);
                }
            }
        }
    }

    #[test]
    fn the_event_has_the_shape_of_a_real_one() {
        let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
        let claims: Claims =
            serde_json::from_value(fixture["requestContext"]["authorizer"]["claims"].clone())
                .unwrap();
        let event = build(
            &Method::GET,
            "/prod/products/01JB9A00000000000000000PA1",
            None,
            &fixture_headers(),
            b"",
            Some(claims),
        );
        let (mut expected, mut actual) = (Vec::new(), Vec::new());
        shape(&fixture, "", &mut expected);
        shape(&event, "", &mut actual);
        expected.sort();
        actual.sort();
        assert_eq!(actual, expected);

        for field in [
            "resource",
            "path",
            "httpMethod",
            "pathParameters",
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "stageVariables",
            "body",
            "isBase64Encoded",
        ] {
            assert_eq!(event[field], fixture[field], "{field}");
        }
        let (context, expected) = (&event["requestContext"], &fixture["requestContext"]);
        for field in [
            "resourcePath",
            "httpMethod",
            "path",
            "stage",
            "protocol",
            "accountId",
            "authorizer",
        ] {
            assert_eq!(context[field], expected[field], "requestContext.{field}");
        }
        assert_eq!(context["requestTime"], "26/Nov/2026:08:30:00 +0000");
        assert_eq!(context["requestTimeEpoch"], 1_795_681_800_250_i64);
        assert_eq!(context["identity"], expected["identity"]);
        assert_eq!(
            context["domainName"],
            "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
        );
        assert_eq!(context["domainPrefix"], "a1b2c3d4e5");
        assert!(Uuid::parse_str(context["requestId"].as_str().unwrap()).is_ok());
        assert_eq!(
            event["headers"]["authorization"],
            fixture["headers"]["Authorization"]
        );
        assert_eq!(event["headers"]["x-forwarded-for"], "203.0.113.10");
    }

    #[test]
    fn repeated_query_parameters_and_headers_keep_every_value() {
        let mut headers = HeaderMap::new();
        headers.append("accept", HeaderValue::from_static("text/plain"));
        headers.append("accept", HeaderValue::from_static("application/json"));
        headers.append("x-forwarded-for", HeaderValue::from_static("198.51.100.7"));
        let event = build(
            &Method::GET,
            "/products/p1",
            Some("tag=a&tag=b&q=green+tea%21&empty"),
            &headers,
            b"",
            None,
        );
        assert_eq!(
            event["queryStringParameters"],
            json!({"tag": "b", "q": "green tea!", "empty": ""})
        );
        assert_eq!(
            event["multiValueQueryStringParameters"],
            json!({"tag": ["a", "b"], "q": ["green tea!"], "empty": [""]})
        );
        assert_eq!(event["headers"]["accept"], "application/json");
        assert_eq!(
            event["multiValueHeaders"]["accept"],
            json!(["text/plain", "application/json"])
        );
        assert_eq!(
            event["multiValueHeaders"]["x-forwarded-for"],
            json!(["198.51.100.7, 203.0.113.10"])
        );
    }

    #[test]
    fn a_binary_body_is_base64_and_a_text_body_is_not() {
        let headers = HeaderMap::new();
        let binary = build(
            &Method::POST,
            "/uploads",
            None,
            &headers,
            &[0, 159, 146, 150],
            None,
        );
        assert_eq!(binary["body"], "AJ+Slg==");
        assert_eq!(binary["isBase64Encoded"], true);
        let text = build(
            &Method::POST,
            "/uploads",
            None,
            &headers,
            "{\"name\":\"Sencha\"}".as_bytes(),
            None,
        );
        assert_eq!(text["body"], "{\"name\":\"Sencha\"}");
        assert_eq!(text["isBase64Encoded"], false);
    }

    #[test]
    fn a_method_without_authorizer_has_no_claims_and_nulls_where_nothing_was_sent() {
        let event = build(
            &Method::POST,
            "/uploads",
            None,
            &HeaderMap::new(),
            b"",
            None,
        );
        assert!(event["requestContext"].get("authorizer").is_none());
        assert_eq!(event["pathParameters"], Value::Null);
        assert_eq!(event["queryStringParameters"], Value::Null);
        assert_eq!(event["body"], Value::Null);
        assert_eq!(event["requestContext"]["path"], "/prod/uploads");
        assert_eq!(event["requestContext"]["domainName"], "localhost");
        assert_eq!(
            event["requestContext"]["identity"]["userAgent"],
            Value::Null
        );
    }
}
