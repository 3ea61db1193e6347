use lambda_runtime::{Error, run, service_fn};

mod event_handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    run(service_fn(event_handler::function_handler)).await
}
