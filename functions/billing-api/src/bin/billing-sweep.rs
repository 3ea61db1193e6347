//! The scheduled sweep of expired grace periods (see `billing_api::sweep`).

use std::sync::Arc;

use lambda_runtime::{Error, run, service_fn};
use shared::config::{duration, required};
use shared::tenancy::access::SystemClock;

use billing_api::http_handler::BillingConfig;
use billing_api::sweep::{SweepDeps, function_handler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let deps = SweepDeps {
        control: shared::setup::control_store(&sdk)?,
        jobs: shared::setup::job_queue(&sdk)?,
        mailer: shared::setup::mailer(&sdk)?,
        config: BillingConfig {
            console_url: required("CONSOLE_URL")?.trim_end_matches('/').to_owned(),
            grace: duration("BILLING_GRACE")?,
        },
        clock: Arc::new(SystemClock),
    };
    run(service_fn(|event| function_handler(&deps, event))).await
}
