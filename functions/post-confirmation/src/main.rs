use lambda_runtime::{Error, run, service_fn};

mod event_handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let sdk = shared::setup::aws_config().await;
    let deps = event_handler::Deps {
        store: shared::setup::control_store(&sdk)?,
        jobs: shared::setup::job_queue(&sdk)?,
    };
    run(service_fn(|event| {
        event_handler::function_handler(&deps, event)
    }))
    .await
}
