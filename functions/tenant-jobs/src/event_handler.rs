//! `tenant-jobs`: runs a tenant job (provision, migrate, offboard) invoked asynchronously by the
//! other functions. A failure is returned as a Lambda error, so Lambda retries the invocation;
//! every job is idempotent.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tracing::Instrument;

use shared::billing::provider::PaymentProvider;
use shared::identity::{AppClients, UserDirectory};
use shared::jobs::{JobQueue, TenantJob};
use shared::tenancy::jobs::JobRunner;

pub async fn function_handler<D, J, P>(
    runner: &JobRunner<D, J, P>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    D: UserDirectory + AppClients,
    J: JobQueue,
    P: PaymentProvider,
{
    let job: TenantJob = serde_json::from_value(event.payload).map_err(|err| {
        tracing::error!(error = %err, "not a tenant job");
        err
    })?;
    let span = tracing::info_span!("job", tenant_id = %job.tenant_id(), request_id = %event.context.request_id);
    match runner.run(&job).instrument(span).await {
        Ok(outcome) => {
            tracing::info!(job = ?job, outcome = ?outcome, "job done");
            Ok(json!({ "status": "done", "outcome": format!("{outcome:?}") }))
        }
        Err(err) => {
            tracing::error!(job = ?job, error = %err, "job failed; Lambda will retry");
            Err(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::testing::events_dir;

    use super::*;

    #[test]
    fn the_sample_events_are_jobs() {
        for name in ["provision.json", "migrate-to-premium.json", "offboard.json"] {
            let text =
                std::fs::read_to_string(events_dir().join("tenant-jobs").join(name)).unwrap();
            let job: TenantJob = serde_json::from_str(&text).unwrap();
            assert_eq!(
                job.tenant_id().to_string(),
                shared::testing::TENANT_A,
                "{name}"
            );
        }
    }
}
