use lambda_http::{Error, run, service_fn};

mod http_handler;
mod operators;

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let sdk = shared::setup::aws_config().await;
    let deps = http_handler::Deps {
        control: shared::setup::control_store(&sdk)?,
        jobs: shared::setup::job_queue(&sdk)?,
        directory: shared::setup::user_directory(&sdk)?,
        operators: operators::Operators::new(std::sync::Arc::new(
            shared::tenancy::access::SystemClock,
        )),
    };
    run(service_fn(|event| {
        http_handler::function_handler(&deps, event)
    }))
    .await
}
