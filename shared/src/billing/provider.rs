//! The payment provider's API, as far as the service uses it: a customer per tenant, a hosted
//! checkout page, the customer portal, and cancelling what must not be paid (an organization
//! that is deleted, a second subscription). Stripe behind it ([`Stripe`]); any provider with
//! the same calls fits.

use std::future::Future;

use serde_json::Value;

use crate::domain::Tier;
use crate::domain::email::EmailAddress;
use crate::ids::TenantId;

/// How often a plan is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

/// A hosted checkout of `plan` for a tenant's customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub tenant: TenantId,
    pub customer: String,
    pub plan: Tier,
    pub interval: Interval,
    pub success_url: String,
    pub cancel_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider has no price for the plan (its catalogue is not set up).
    #[error("no price for {0}")]
    NoPrice(String),
    /// The provider failed or refused; the message is for logs only.
    #[error("payment provider: {0}")]
    Failed(String),
    /// The provider does not know the object.
    #[error("payment provider: no such object: {0}")]
    NotFound(String),
}

/// Why a subscription is cancelled, which decides how what was paid is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// The organization is deleted: it stops at once. What is not invoiced yet is invoiced now
    /// (`invoice_now`), and the unused part of the period is not credited (`prorate=false`):
    /// the customer has no future invoice to spend a credit on, and a refund is a person's
    /// decision, made in the provider's dashboard.
    Offboarding,
    /// A second subscription of the same organization (see `billing-api`): the older one stops
    /// at once and its unused time is credited to the customer's balance (`prorate`), which
    /// pays the kept subscription's next invoices, so nothing paid is lost.
    Duplicate,
}

pub trait PaymentProvider: Send + Sync {
    /// A new customer for the tenant (its id and name in the metadata).
    fn create_customer(
        &self,
        tenant: &TenantId,
        name: &str,
        email: &EmailAddress,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send;

    /// The URL of a hosted payment page for a subscription.
    fn checkout(
        &self,
        request: &CheckoutRequest,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send;

    /// The URL of the customer portal (card, cancellation, invoices).
    fn portal(
        &self,
        customer: &str,
        return_url: &str,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send;

    /// Expires the customer's open checkout pages, so that none of them can start another
    /// subscription later. Returns how many there were.
    fn expire_checkouts(
        &self,
        customer: &str,
    ) -> impl Future<Output = Result<usize, ProviderError>> + Send;

    /// Cancels a subscription now (one that has ended already, or that the provider does not
    /// know, is left as it is).
    fn cancel_subscription(
        &self,
        subscription: &str,
        why: Cancellation,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

/// The price lookup key of a plan and interval (prices are set up with these keys).
pub fn lookup_key(plan: Tier, interval: Interval) -> String {
    format!("{}_{}", plan.as_str(), interval.as_str())
}

/// Stripe's API (`https://api.stripe.com`, or the local stand-in), form-encoded, with the
/// secret key as bearer token.
pub struct Stripe {
    client: reqwest::Client,
    base: String,
    key: String,
}

/// Never shows the key.
impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Stripe {
    pub fn new(base: String, key: String) -> Result<Self, ProviderError> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|err| ProviderError::Failed(err.to_string()))?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            key,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, ProviderError> {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = if method == reqwest::Method::GET || method == reqwest::Method::DELETE {
            self.client
                .request(method, format!("{}{path}?{encoded}", self.base))
        } else {
            self.client
                .request(method, format!("{}{path}", self.base))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(encoded)
        };
        request = request.bearer_auth(&self.key);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request
            .send()
            .await
            .map_err(|err| ProviderError::Failed(format!("{path}: {err}")))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|err| ProviderError::Failed(format!("{path}: {err}")))?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ProviderError::NotFound(path.to_owned()));
        }
        if !status.is_success() {
            let message = body["error"]["message"].as_str().unwrap_or("no message");
            return Err(ProviderError::Failed(format!(
                "{path}: {status}: {message}"
            )));
        }
        Ok(body)
    }

    async fn price(&self, plan: Tier, interval: Interval) -> Result<String, ProviderError> {
        let key = lookup_key(plan, interval);
        let found = self
            .call(
                reqwest::Method::GET,
                "/v1/prices",
                &[
                    ("lookup_keys[]".to_owned(), key.clone()),
                    ("active".to_owned(), "true".to_owned()),
                ],
                None,
            )
            .await?;
        found["data"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or(ProviderError::NoPrice(key))
    }
}

fn field(body: &Value, name: &str, path: &str) -> Result<String, ProviderError> {
    body[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ProviderError::Failed(format!("{path}: no {name} in the answer")))
}

impl PaymentProvider for Stripe {
    async fn create_customer(
        &self,
        tenant: &TenantId,
        name: &str,
        email: &EmailAddress,
    ) -> Result<String, ProviderError> {
        let form = [
            ("name".to_owned(), name.to_owned()),
            ("email".to_owned(), email.as_str().to_owned()),
            ("metadata[tenant_id]".to_owned(), tenant.to_string()),
        ];
        // One customer per tenant even when two requests race (the store keeps the first).
        let created = self
            .call(
                reqwest::Method::POST,
                "/v1/customers",
                &form,
                Some(&format!("customer-{tenant}")),
            )
            .await?;
        field(&created, "id", "/v1/customers")
    }

    async fn checkout(&self, request: &CheckoutRequest) -> Result<String, ProviderError> {
        let price = self.price(request.plan, request.interval).await?;
        let (tenant, plan) = (request.tenant.to_string(), request.plan.as_str().to_owned());
        // Metadata names the tenant; the session's also names its plan, because a session's
        // price never changes (Stripe sends the session without its line items). The
        // subscription's plan is read from its price only, which the customer portal changes:
        // metadata on it would go stale.
        let form = [
            ("mode".to_owned(), "subscription".to_owned()),
            ("customer".to_owned(), request.customer.clone()),
            ("client_reference_id".to_owned(), tenant.clone()),
            ("line_items[0][price]".to_owned(), price),
            ("line_items[0][quantity]".to_owned(), "1".to_owned()),
            ("success_url".to_owned(), request.success_url.clone()),
            ("cancel_url".to_owned(), request.cancel_url.clone()),
            ("metadata[tenant_id]".to_owned(), tenant.clone()),
            ("metadata[plan]".to_owned(), plan),
            ("subscription_data[metadata][tenant_id]".to_owned(), tenant),
        ];
        let session = self
            .call(reqwest::Method::POST, "/v1/checkout/sessions", &form, None)
            .await?;
        field(&session, "url", "/v1/checkout/sessions")
    }

    async fn portal(&self, customer: &str, return_url: &str) -> Result<String, ProviderError> {
        let form = [
            ("customer".to_owned(), customer.to_owned()),
            ("return_url".to_owned(), return_url.to_owned()),
        ];
        let session = self
            .call(
                reqwest::Method::POST,
                "/v1/billing_portal/sessions",
                &form,
                None,
            )
            .await?;
        field(&session, "url", "/v1/billing_portal/sessions")
    }

    async fn expire_checkouts(&self, customer: &str) -> Result<usize, ProviderError> {
        let open = self
            .call(
                reqwest::Method::GET,
                "/v1/checkout/sessions",
                &[
                    ("customer".to_owned(), customer.to_owned()),
                    ("status".to_owned(), "open".to_owned()),
                    ("limit".to_owned(), "100".to_owned()),
                ],
                None,
            )
            .await?;
        let ids: Vec<&str> = open["data"]
            .as_array()
            .map(|sessions| sessions.iter().filter_map(|s| s["id"].as_str()).collect())
            .unwrap_or_default();
        let mut expired = 0;
        for id in &ids {
            let path = format!("/v1/checkout/sessions/{id}/expire");
            match self.call(reqwest::Method::POST, &path, &[], None).await {
                Ok(_) => expired += 1,
                // Completed or expired meanwhile: no longer open either way (one completed
                // meanwhile starts a second subscription, which billing cancels).
                Err(err) => {
                    tracing::warn!(session = %id, error = %err, "a checkout page was not expired")
                }
            }
        }
        Ok(expired)
    }

    async fn cancel_subscription(
        &self,
        subscription: &str,
        why: Cancellation,
    ) -> Result<(), ProviderError> {
        let path = format!("/v1/subscriptions/{subscription}");
        let current = match self.call(reqwest::Method::GET, &path, &[], None).await {
            Ok(current) => current,
            Err(ProviderError::NotFound(_)) => return Ok(()),
            Err(err) => return Err(err),
        };
        if matches!(
            current["status"].as_str(),
            Some("canceled" | "incomplete_expired")
        ) {
            return Ok(());
        }
        let (invoice_now, prorate) = match why {
            Cancellation::Offboarding => ("true", "false"),
            Cancellation::Duplicate => ("false", "true"),
        };
        let form = [
            ("invoice_now".to_owned(), invoice_now.to_owned()),
            ("prorate".to_owned(), prorate.to_owned()),
        ];
        match self.call(reqwest::Method::DELETE, &path, &form, None).await {
            Ok(_) | Err(ProviderError::NotFound(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
