use lambda_runtime::{Error, run, service_fn};

mod event_handler;

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = event_handler::Config {
        sign_in_url: shared::config::required("CONSOLE_URL")?,
    };
    run(service_fn(|event| {
        event_handler::function_handler(&config, event)
    }))
    .await
}
