//! A client of the whole local stack (`local/local_stack.py`, started by `make test`): the
//! Cognito API of cognito-local (with the real triggers), the API through the local gateway,
//! and the Lambda Invoke API of `cargo lambda watch`.

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, ChallengeNameType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::env;

/// What `stack.json` says about the running stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub api_url: String,
    /// The machine API (API clients' access tokens) and its token endpoint.
    pub machine_api_url: String,
    pub token_endpoint: String,
    pub cognito_endpoint: String,
    pub user_pool_id: String,
    pub client_id: String,
    pub lambda_endpoint: String,
    /// The Stripe stand-in's address (customers' steps at the payment provider).
    pub stripe_endpoint: String,
    /// The local webhook endpoint's signing secret.
    pub stripe_webhook_secret: String,
    /// The local SES (a moto server of its own).
    pub mail_endpoint: String,
    pub logs: PathBuf,
    pub delivery_code: Option<String>,
    pub cognito: Cognito,
    pub http: reqwest::Client,
}

/// The password every test user gets (cognito-local does not check the policy; AWS would accept it).
pub const PASSWORD: &str = "Correct-Horse-Battery-9";

impl Stack {
    /// Reads the stack file named by `TENANTRY_STACK`.
    pub fn from_env() -> Self {
        let path = env("TENANTRY_STACK");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{path}: {err} (is the stack running? use `make test`)"));
        let state: Value = serde_json::from_str(&text).expect("stack.json is JSON");
        let field = |name: &str| {
            state[name]
                .as_str()
                .unwrap_or_else(|| panic!("stack.json has no {name}"))
                .to_owned()
        };
        let config = aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(field("cognito_endpoint"))
            .region(Region::new(field("region")))
            .credentials_provider(Credentials::new(
                "local",
                "local",
                None,
                None,
                "tenantry-tests",
            ))
            .build();
        Self {
            api_url: field("api_url"),
            machine_api_url: field("machine_api_url"),
            token_endpoint: field("token_endpoint"),
            cognito_endpoint: field("cognito_endpoint"),
            user_pool_id: field("user_pool_id"),
            client_id: field("client_id"),
            lambda_endpoint: field("lambda_endpoint"),
            stripe_endpoint: field("stripe_endpoint"),
            stripe_webhook_secret: field("stripe_webhook_secret"),
            mail_endpoint: field("mail_endpoint"),
            logs: PathBuf::from(field("logs")),
            delivery_code: state["delivery_code"].as_str().map(str::to_owned),
            cognito: Cognito::from_conf(config),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(600))
                .build()
                .expect("HTTP client"),
        }
    }

    /// The code cognito-local "e-mails" (confirmation codes, and invited users' temporary
    /// passwords). The test stack fixes it (`--delivery-code`): the emulator writes its log and
    /// its database asynchronously and in place, so reading a fresh code from either races with it.
    /// The code is still checked: a wrong one is refused (see `a_wrong_confirmation_code_is_refused`).
    pub fn delivered_code(&self) -> String {
        self.delivery_code.clone().expect(
            "the stack has no fixed delivery code: start it as `make test` does (--delivery-code)",
        )
    }

    /// Signs up an organization (self-service) and confirms it with the code Cognito "e-mailed".
    /// Returns the user's `sub`.
    pub async fn sign_up(&self, email: &str, organization: &str, plan: Option<&str>) -> String {
        let attribute = |name: &str, value: &str| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .expect("attribute")
        };
        let mut request = self
            .cognito
            .sign_up()
            .client_id(&self.client_id)
            .username(email)
            .password(PASSWORD)
            .user_attributes(attribute("email", email))
            .user_attributes(attribute("custom:tenant_name", organization));
        if let Some(plan) = plan {
            request = request.user_attributes(attribute("custom:plan", plan));
        }
        let signed_up = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("sign-up of {email}: {err:?}"));
        let code = self.delivered_code();
        self.cognito
            .confirm_sign_up()
            .client_id(&self.client_id)
            .username(email)
            .confirmation_code(code)
            .send()
            .await
            .unwrap_or_else(|err| panic!("confirmation of {email}: {err:?}"));
        signed_up.user_sub().to_owned()
    }

    /// Signs in with a password; returns (ID token, access token), or the Cognito error.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Tokens, String> {
        let output = self
            .cognito
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(|err| format!("{:?}", err.into_service_error()))?;
        if output.challenge_name() == Some(&ChallengeNameType::NewPasswordRequired) {
            return Err("NEW_PASSWORD_REQUIRED".to_owned());
        }
        let result = output.authentication_result().ok_or("no tokens")?;
        Ok(Tokens {
            id: result.id_token().ok_or("no ID token")?.to_owned(),
            access: result.access_token().ok_or("no access token")?.to_owned(),
            refresh: result.refresh_token().ok_or("no refresh token")?.to_owned(),
        })
    }

    /// New ID and access tokens from a refresh token (the pre-token trigger runs again); the
    /// refresh token stays the same.
    pub async fn refresh(&self, tokens: &Tokens) -> Result<Tokens, String> {
        let output = self
            .cognito
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", &tokens.refresh)
            .send()
            .await
            .map_err(|err| format!("{:?}", err.into_service_error()))?;
        let result = output.authentication_result().ok_or("no tokens")?;
        Ok(Tokens {
            id: result.id_token().ok_or("no ID token")?.to_owned(),
            access: result.access_token().ok_or("no access token")?.to_owned(),
            refresh: tokens.refresh.clone(),
        })
    }

    /// Signs in an invited user with the temporary password Cognito "e-mailed", sets `new_password`,
    /// and signs in again.
    pub async fn first_sign_in(&self, email: &str, new_password: &str) -> Tokens {
        let temporary = self.delivered_code();
        let challenge = self
            .cognito
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", &temporary)
            .send()
            .await
            .expect("sign-in with the temporary password");
        assert_eq!(
            challenge.challenge_name(),
            Some(&ChallengeNameType::NewPasswordRequired)
        );
        self.cognito
            .respond_to_auth_challenge()
            .client_id(&self.client_id)
            .challenge_name(ChallengeNameType::NewPasswordRequired)
            .session(challenge.session().expect("a session"))
            .challenge_responses("USERNAME", email)
            .challenge_responses("NEW_PASSWORD", new_password)
            .send()
            .await
            .expect("new password");
        self.sign_in(email, new_password)
            .await
            .expect("sign-in with the new password")
    }

    /// A new organization, signed up through Cognito: its id, its admin's tokens and address.
    pub async fn new_organization(&self, label: &str) -> (String, Tokens, String) {
        let email = unique_email(label);
        self.sign_up(&email, &format!("{label} Org"), None).await;
        let admin = self
            .sign_in(&email, PASSWORD)
            .await
            .expect("the admin signs in");
        let tenant = claims(&admin.id)["tenant_id"]
            .as_str()
            .expect("the ID token names the tenant")
            .to_owned();
        (tenant, admin, email)
    }

    /// A member invited by `admin` (a new address), signed in with a password of their own.
    pub async fn new_member(&self, admin: &Tokens, label: &str) -> Tokens {
        let email = unique_email(label);
        let invited = self
            .call(
                Some(&admin.id),
                "POST",
                "/users",
                Some(&serde_json::json!({"email": email, "role": "member"})),
            )
            .await;
        assert_eq!(invited.status, 201, "{}", invited.body);
        self.first_sign_in(&email, "Member-Chosen-Password-7").await
    }

    /// Calls the API through the gateway; returns status, JSON body (Null when empty) and the
    /// gateway's request id.
    pub async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.api_url));
        if let Some(token) = token {
            request = request.header("Authorization", token);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            body,
            request_id,
            etag,
        }
    }

    /// A customer's step at the payment provider, played on the Stripe stand-in: `pay` (the
    /// checkout page's button), `fail`, `pay-again` (as `pay` on an open invoice) or `cancel`,
    /// for the customer with `email`. The stand-in answers once its webhook events are delivered.
    pub async fn customer_step(&self, email: &str, step: &str) -> Value {
        let action = match step {
            "pay" => "checkout",
            "pay-again" => "pay",
            other => other,
        };
        let response = self
            .http
            .post(format!(
                "{}/test/emails/{}/{action}",
                self.stripe_endpoint,
                email.replace('@', "%40")
            ))
            .send()
            .await
            .expect("the stand-in answers");
        assert!(
            response.status().is_success(),
            "{step}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    /// Sends a raw request to the webhook route (no token), with `signature` as the
    /// `Stripe-Signature` header when given.
    pub async fn post_webhook(&self, body: &str, signature: Option<&str>) -> Reply {
        let mut request = self
            .http
            .post(format!("{}/billing/webhook", self.api_url))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("Stripe-Signature", signature);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            request_id: String::new(),
            etag: None,
        }
    }

    /// The e-mails the service sent to `email` through SES (moto's), oldest first: (subject,
    /// HTML body; moto keeps the HTML part).
    pub async fn sent_mail(&self, email: &str) -> Vec<(String, String)> {
        let url = format!("{}/moto-api/data.json", self.mail_endpoint);
        let data: Value = self
            .http
            .get(url)
            .send()
            .await
            .expect("moto answers")
            .json()
            .await
            .expect("JSON");
        data["ses"]["Message"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|message| {
                message["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|to| to.iter().any(|a| a.as_str() == Some(email)))
            })
            .map(|message| {
                (
                    message["subject"].as_str().unwrap_or_default().to_owned(),
                    message["body"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Invokes a function through the Lambda Invoke API, as Cognito does for triggers.
    pub async fn invoke(&self, function: &str, event: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                self.lambda_endpoint
            ))
            .body(event.to_string())
            .send()
            .await
            .expect("the Invoke API answers");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// A request to the Stripe stand-in (its API with the local key, or its test routes, e.g.
    /// `/test/emails/<address>/change-plan`): status and JSON answer.
    pub async fn stripe(&self, method: &str, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .http
            .request(method, format!("{}{path}", self.stripe_endpoint))
            .bearer_auth("sk_test_local_tenantry")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("the stand-in answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The subscriptions the Stripe stand-in holds for the customer with `email`, each with how
    /// it was cancelled (`cancellation`: `invoice_now`, `prorate`), if it was.
    pub async fn subscriptions_of(&self, email: &str) -> Vec<Value> {
        let path = format!("/test/emails/{}/subscriptions", email.replace('@', "%40"));
        let (status, body) = self.stripe("GET", &path, &[]).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// A platform operator (group `platform-admin`, no tenant), created as an AWS admin would,
    /// signed in.
    pub async fn platform_operator(&self) -> Tokens {
        let operator = unique_email("operator");
        self.cognito
            .admin_create_user()
            .user_pool_id(&self.user_pool_id)
            .username(&operator)
            .user_attributes(
                AttributeType::builder()
                    .name("email")
                    .value(&operator)
                    .build()
                    .expect("an attribute"),
            )
            .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
            .temporary_password("Temporary-Password-1")
            .send()
            .await
            .expect("the operator is created");
        self.cognito
            .admin_add_user_to_group()
            .user_pool_id(&self.user_pool_id)
            .username(&operator)
            .group_name("platform-admin")
            .send()
            .await
            .expect("the operator joins platform-admin");
        self.first_sign_in(&operator, "Operator-Password-2").await
    }

    /// The functions' log (everything `cargo lambda watch` printed).
    pub fn functions_log(&self) -> String {
        std::fs::read_to_string(self.logs.join("functions.log")).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct Tokens {
    pub id: String,
    pub access: String,
    pub refresh: String,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub request_id: String,
    pub etag: Option<String>,
}

/// The claims of a JWT, without checking anything (tests inspect tokens the stack issued).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON claims")
}

/// A unique e-mail address for a test user.
pub fn unique_email(label: &str) -> String {
    format!("{label}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The TOTP code (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) of a base32 `secret` at
/// `unix_seconds`, as an authenticator app computes it.
pub fn totp(secret: &str, unix_seconds: u64) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &base32(secret));
    let tag = hmac::sign(&key, &(unix_seconds / 30).to_be_bytes());
    let digest = tag.as_ref();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let code = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", code % 1_000_000)
}

/// RFC 4648 base32 (upper case, padding ignored).
fn base32(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes().filter(|c| *c != b'=') {
        let digit = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .expect("a base32 secret") as u32;
        value = (value << 5) | digit;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_matches_the_rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1: the key "12345678901234567890", 8-digit codes; the last
        // six digits are the 6-digit code.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(totp(secret, time), &eight[2..], "at {time}");
        }
    }
}
