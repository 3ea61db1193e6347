use lambda_http::Error;

mod http_handler;
mod operators;

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let deps = http_handler::Deps {
        control: shared::setup::control_store(&sdk)?,
        jobs: shared::setup::job_queue(&sdk)?,
        directory: shared::setup::user_directory(&sdk)?,
        operators: operators::Operators::new(std::sync::Arc::new(
            shared::tenancy::access::SystemClock,
        )),
    };
    shared::setup::serve_http(deps, http_handler::function_handler).await
}
