//! Cognito's token endpoint for machine clients (`POST /oauth2/token`, the client-credentials
//! grant), which cognito-local does not have: the same request and answer shapes, the app
//! clients of the local pool (their secrets, flows and scopes, read from cognito-local), the
//! pre-token trigger's event version 3, and tokens signed with cognito-local's key, so that the
//! gateways (and anything else) verify them against the pool's published keys.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Method, StatusCode, header};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Url;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::invoke::LambdaClient;

pub const PATH: &str = "/oauth2/token";

/// The key id cognito-local publishes its key under.
const KEY_ID: &str = "CognitoLocal";

#[derive(Debug)]
pub struct TokenEndpoint {
    pub http: reqwest::Client,
    pub cognito: Url,
    pub user_pool: String,
    pub issuer: String,
    pub pre_token_function: String,
    pub key: EncodingKey,
}

/// An OAuth error answer, as Cognito gives it.
fn refused(status: StatusCode, error: &str, description: Option<&str>) -> Response {
    let mut body = json!({ "error": error });
    if let Some(description) = description {
        body["error_description"] = json!(description);
    }
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn invalid_client() -> Response {
    refused(StatusCode::BAD_REQUEST, "invalid_client", None)
}

/// The client's id and secret: HTTP Basic, or in the form.
fn credentials(headers: &http::HeaderMap, form: &[(String, String)]) -> Option<(String, String)> {
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        return Some((id.to_owned(), secret.to_owned()));
    }
    Some((field("client_id")?, field("client_secret")?))
}

impl TokenEndpoint {
    /// The app client as cognito-local describes it.
    async fn describe(&self, client: &str) -> Result<Option<Value>, String> {
        let response = self
            .http
            .post(self.cognito.clone())
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                "AWSCognitoIdentityProviderService.DescribeUserPoolClient",
            )
            .body(json!({ "UserPoolId": self.user_pool, "ClientId": client }).to_string())
            .send()
            .await
            .map_err(|error| error.to_string())?;
        if response.status() == StatusCode::BAD_REQUEST {
            return Ok(None);
        }
        let answer: Value = response.json().await.map_err(|error| error.to_string())?;
        Ok(answer.get("UserPoolClient").cloned())
    }

    pub async fn answer(&self, request: Request, lambda: &LambdaClient) -> Response {
        if request.method() != Method::POST {
            return refused(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", None);
        }
        let (parts, body) = request.into_parts();
        let Ok(body) = axum::body::to_bytes(body, 64 * 1024).await else {
            return refused(StatusCode::BAD_REQUEST, "invalid_request", None);
        };
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let grant = form
            .iter()
            .find(|(key, _)| key == "grant_type")
            .map(|(_, v)| v.as_str());
        if grant != Some("client_credentials") {
            return refused(StatusCode::BAD_REQUEST, "unsupported_grant_type", None);
        }
        let Some((id, secret)) = credentials(&parts.headers, &form) else {
            return invalid_client();
        };
        let client = match self.describe(&id).await {
            Ok(Some(client)) => client,
            Ok(None) => return invalid_client(),
            Err(error) => {
                tracing::error!(%error, "cognito-local did not describe the client");
                return refused(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None);
            }
        };
        if client["ClientSecret"].as_str() != Some(secret.as_str()) {
            return invalid_client();
        }
        let flows = client["AllowedOAuthFlows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !flows.iter().any(|flow| flow == "client_credentials") {
            return refused(StatusCode::BAD_REQUEST, "unauthorized_client", None);
        }
        let allowed: Vec<String> = client["AllowedOAuthScopes"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let requested: Option<Vec<String>> = form
            .iter()
            .find(|(key, _)| key == "scope")
            .map(|(_, value)| value.split_whitespace().map(str::to_owned).collect());
        let scopes = match requested {
            None => allowed.clone(),
            Some(requested) if requested.iter().all(|s| allowed.contains(s)) => requested,
            Some(_) => return refused(StatusCode::BAD_REQUEST, "invalid_scope", None),
        };
        let minutes = client["AccessTokenValidity"].as_i64().unwrap_or(60);
        let event = json!({
            "version": "3",
            "triggerSource": "TokenGeneration_ClientCredentials",
            "region": "us-east-1",
            "userPoolId": self.user_pool,
            "userName": id,
            "callerContext": { "awsSdkVersion": "local-gateway", "clientId": id },
            "request": { "userAttributes": {}, "groupConfiguration": null, "scopes": scopes },
            "response": { "claimsAndScopeOverrideDetails": null },
        });
        let answer = match lambda.invoke_json(&self.pre_token_function, &event).await {
            Ok(answer) => answer,
            Err(message) => {
                tracing::info!(client_id = %id, %message, "the pre-token trigger refused a token");
                return refused(StatusCode::BAD_REQUEST, "invalid_request", Some(&message));
            }
        };
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(id));
        claims.insert("token_use".into(), json!("access"));
        claims.insert("scope".into(), json!(scopes.join(" ")));
        claims.insert("auth_time".into(), json!(now));
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("exp".into(), json!(now + minutes * 60));
        claims.insert("iat".into(), json!(now));
        claims.insert("version".into(), json!(2));
        claims.insert("jti".into(), json!(Uuid::new_v4().to_string()));
        claims.insert("client_id".into(), json!(id));
        let added = &answer["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]["claimsToAddOrOverride"];
        if let Some(added) = added.as_object() {
            for (name, value) in added {
                // The claims Cognito never lets a trigger change.
                if ![
                    "sub",
                    "token_use",
                    "iss",
                    "exp",
                    "iat",
                    "client_id",
                    "scope",
                ]
                .contains(&name.as_str())
                {
                    claims.insert(name.clone(), value.clone());
                }
            }
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KEY_ID.to_owned());
        let token = match jsonwebtoken::encode(&header, &claims, &self.key) {
            Ok(token) => token,
            Err(error) => {
                tracing::error!(%error, "a token could not be signed");
                return refused(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None);
            }
        };
        let body =
            json!({ "access_token": token, "expires_in": minutes * 60, "token_type": "Bearer" });
        let mut response = Response::new(Body::from(body.to_string()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// cognito-local's private key (a JSON file holding it as `pem`).
pub fn load_key(path: &std::path::Path) -> Result<EncodingKey, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let file: Value = serde_json::from_str(&text).map_err(|error| error.to_string())?;
    let pem = file["pem"].as_str().ok_or("no pem in the key file")?;
    EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|error| error.to_string())
}
