use lambda_http::Error;
use shared::config::required;

mod http_handler;

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let deps = http_handler::Deps {
        control: shared::setup::control_store(&sdk)?,
        cognito: aws_sdk_cognitoidentityprovider::Client::new(&sdk),
        user_pool: required("USER_POOL_ID")?,
        token_endpoint: required("TOKEN_ENDPOINT")?,
    };
    shared::setup::serve_http(deps, http_handler::function_handler).await
}
