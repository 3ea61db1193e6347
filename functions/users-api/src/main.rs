use lambda_http::Error;

mod http_handler;

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let deps = http_handler::Deps {
        store: shared::setup::control_store(&sdk)?,
        directory: shared::setup::user_directory(&sdk)?,
    };
    shared::setup::serve_http(deps, http_handler::function_handler).await
}
