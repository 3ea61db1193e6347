//! Waking the deliverer: an asynchronous invocation of `webhook-deliver` naming the endpoints
//! that have new deliveries (Lambda retries it if it fails; the retry sweep is the backstop).

use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::{Deserialize, Serialize};
use shared::ids::{TenantId, WebhookId};

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

#[derive(Debug, thiserror::Error)]
#[error("could not wake the deliverer: {0}")]
pub struct KickError(pub String);

#[derive(Debug, Clone)]
pub struct Deliverer {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl Deliverer {
    pub fn new(client: aws_sdk_lambda::Client, function: String) -> Self {
        Self { client, function }
    }

    pub async fn kick(&self, endpoints: Vec<EndpointRef>) -> Result<(), KickError> {
        if endpoints.is_empty() {
            return Ok(());
        }
        let payload =
            serde_json::to_vec(&Kick { endpoints }).map_err(|err| KickError(err.to_string()))?;
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|err| KickError(DisplayErrorContext(err).to_string()))?;
        Ok(())
    }
}
