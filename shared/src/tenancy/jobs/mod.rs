//! Slow tenant work that runs outside a request: creating a silo table, migrating a tenant
//! between tiers, purging an offboarded tenant. Dispatched as an asynchronous Lambda invocation
//! of `tenant-jobs` (which Lambda retries on failure); every job is idempotent, so running one
//! twice is harmless and a failed one can simply be dispatched again.

mod runner;
pub use runner::{JobError, JobOutcome, JobRunner};

use std::future::Future;

use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::{Deserialize, Serialize};

use crate::domain::Tier;
use crate::ids::TenantId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TenantJob {
    /// Create a premium tenant's dedicated table, then activate the tenant.
    Provision { tenant_id: TenantId },
    /// Move a tenant's data to the storage its new tier uses.
    Migrate { tenant_id: TenantId, to_tier: Tier },
    /// Delete the tenant's users, purge its data, delete its memberships, mark it deleted.
    Offboard { tenant_id: TenantId },
    /// Copy the tenant's status, tier and MFA requirement into its members' memberships.
    SyncMemberships { tenant_id: TenantId },
}

impl TenantJob {
    pub fn tenant_id(&self) -> &TenantId {
        match self {
            Self::Provision { tenant_id }
            | Self::Migrate { tenant_id, .. }
            | Self::Offboard { tenant_id }
            | Self::SyncMemberships { tenant_id } => tenant_id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not invoke the function: {0}")]
pub struct DispatchError(pub String);

pub trait JobQueue: Send + Sync {
    fn dispatch(&self, job: &TenantJob) -> impl Future<Output = Result<(), DispatchError>> + Send;
}

/// Dispatches a job as an asynchronous (`Event`) invocation of the jobs function.
#[derive(Debug, Clone)]
pub struct LambdaJobQueue {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaJobQueue {
    pub fn new(client: aws_sdk_lambda::Client, function: String) -> Self {
        Self { client, function }
    }
}

/// Invokes `function` asynchronously (`Event`) with `payload` as JSON: Lambda queues it and
/// retries a failed run.
pub async fn invoke_async<T: Serialize>(
    client: &aws_sdk_lambda::Client,
    function: &str,
    payload: &T,
) -> Result<(), DispatchError> {
    let payload = serde_json::to_vec(payload).map_err(|err| DispatchError(err.to_string()))?;
    client
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|err| DispatchError(DisplayErrorContext(err).to_string()))?;
    Ok(())
}

impl JobQueue for LambdaJobQueue {
    async fn dispatch(&self, job: &TenantJob) -> Result<(), DispatchError> {
        invoke_async(&self.client, &self.function, job).await?;
        tracing::info!(job = ?job, "tenant job dispatched");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_have_a_stable_wire_form() {
        let tenant = TenantId::parse("01JB8Z4K2M6Q9R3T5V7W9XAAAA").unwrap();
        let job = TenantJob::Migrate {
            tenant_id: tenant,
            to_tier: Tier::Premium,
        };
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(
            json,
            r#"{"job":"migrate","tenant_id":"01JB8Z4K2M6Q9R3T5V7W9XAAAA","to_tier":"premium"}"#
        );
        assert_eq!(serde_json::from_str::<TenantJob>(&json).unwrap(), job);
        assert!(serde_json::from_str::<TenantJob>(r#"{"job":"explode","tenant_id":"x"}"#).is_err());
    }
}
