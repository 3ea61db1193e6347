use lambda_runtime::{Error, run, service_fn};

mod event_handler;

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let sdk = shared::setup::aws_config().await;
    let deps = event_handler::Deps {
        store: shared::setup::warm_control_store(&sdk).await?,
        mailer: shared::setup::mailer(&sdk)?,
        sign_in_url: shared::config::required("CONSOLE_URL")?,
    };
    run(service_fn(|event| {
        event_handler::function_handler(&deps, event)
    }))
    .await
}
