//! Waking the deliverer: an asynchronous invocation of `webhook-deliver` naming the endpoints
//! that have new deliveries (Lambda retries it if it fails; the retry sweep is the backstop).

use serde::{Deserialize, Serialize};
use shared::ids::{TenantId, WebhookId};
use shared::tenancy::jobs::{DispatchError, invoke_async};

/// An endpoint with deliveries to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EndpointRef {
    pub tenant_id: TenantId,
    pub webhook_id: WebhookId,
}

/// What the deliverer is asked to do by the other functions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kick {
    pub endpoints: Vec<EndpointRef>,
}

#[derive(Debug, Clone)]
pub struct Deliverer {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl Deliverer {
    pub fn new(client: aws_sdk_lambda::Client, function: String) -> Self {
        Self { client, function }
    }

    pub async fn kick(&self, endpoints: Vec<EndpointRef>) -> Result<(), DispatchError> {
        if endpoints.is_empty() {
            return Ok(());
        }
        invoke_async(&self.client, &self.function, &Kick { endpoints }).await
    }
}
