use std::time::Duration;

use lambda_runtime::{Error, run, service_fn};
use shared::config::{optional, required};
use shared::tenancy::jobs::JobRunner;
use shared::tenancy::migration::{MIN_DRAIN, Migrator};
use shared::tenancy::storage::{StreamConsumer, TenantStorage};

mod event_handler;

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let mut storage = TenantStorage::new(
        dynamodb.clone(),
        required("DATA_TABLE")?,
        required("SILO_TABLE_PREFIX")?,
    );
    // The function silo tables' streams are mapped to (empty in the local stack, whose poller
    // reads every table's stream).
    if let Some(function) = optional("SILO_STREAM_CONSUMER") {
        storage = storage.with_stream_consumer(StreamConsumer {
            lambda: aws_sdk_lambda::Client::new(&sdk),
            function,
            failures: required("SILO_STREAM_FAILURES")?,
        });
    }
    let drain = match optional("MIGRATION_DRAIN_SECONDS") {
        None => 30,
        Some(raw) => raw
            .parse()
            .map_err(|_| format!("MIGRATION_DRAIN_SECONDS is not a number of seconds: {raw:?}"))?,
    };
    if Duration::from_secs(drain) < MIN_DRAIN {
        return Err(format!(
            "MIGRATION_DRAIN_SECONDS is {drain}: it must be at least {} (the data APIs' record cache plus their timeout)",
            MIN_DRAIN.as_secs()
        )
        .into());
    }
    let runner = JobRunner {
        migrator: Migrator::new(
            storage,
            dynamodb,
            required("CONTROL_TABLE")?,
            Duration::from_secs(drain),
        ),
        directory: shared::setup::user_directory(&sdk)?,
        // The next job of a tenant goes to this function itself, which Lambda names in
        // `AWS_LAMBDA_FUNCTION_NAME` (the local stack names it in `TENANT_JOBS_FUNCTION`).
        jobs: shared::tenancy::jobs::LambdaJobQueue::new(
            aws_sdk_lambda::Client::new(&sdk),
            optional("TENANT_JOBS_FUNCTION")
                .or_else(|| optional("AWS_LAMBDA_FUNCTION_NAME"))
                .ok_or("AWS_LAMBDA_FUNCTION_NAME is not set")?,
        ),
        payments: shared::setup::payment_provider(&sdk).await?,
    };
    run(service_fn(|event| {
        event_handler::function_handler(&runner, event)
    }))
    .await
}
