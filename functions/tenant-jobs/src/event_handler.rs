//! `tenant-jobs`: runs a tenant job (provision, migrate, offboard) invoked asynchronously by the
//! other functions. A failure is returned as a Lambda error, so Lambda retries the invocation;
//! every job is idempotent.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

use shared::identity::UserDirectory;
use shared::jobs::TenantJob;
use shared::tenancy::jobs::JobRunner;

pub async fn function_handler<D: UserDirectory>(
    runner: &JobRunner<D>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let job: TenantJob = serde_json::from_value(event.payload).map_err(|err| {
        tracing::error!(error = %err, "not a tenant job");
        err
    })?;
    let span = tracing::info_span!("job", tenant_id = %job.tenant_id(), request_id = %event.context.request_id);
    let _entered = span.enter();
    match runner.run(&job).await {
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
