use lambda_runtime::{Error, run, service_fn};

mod event_handler;

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let deps = event_handler::Deps {
        store: shared::setup::warm_control_store(&sdk).await?,
        second_factor: shared::setup::second_factor(&sdk),
    };
    run(service_fn(|event| {
        event_handler::function_handler(&deps, event)
    }))
    .await
}
