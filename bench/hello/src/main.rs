//! The floor every Tenantry function is measured against: the smallest useful `lambda_runtime`
//! function, as `cargo lambda new` would write it. It parses the event (as every function must)
//! and answers a constant, so what it costs is the runtime, the Tokio start-up and the Runtime API
//! round trip, and nothing else.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

async fn function_handler(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "message": "Hello, world!" }))
}

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(function_handler)).await
}
