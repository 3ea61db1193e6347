use lambda_http::Error;

use shared::config::required;
use shared::webhooks::UrlPolicy;
use webhooks_api::http_handler;
use webhooks_api::kick::Deliverer;

/// Which receivers endpoints may name (`WEBHOOK_URL_POLICY`: `public-https` when deployed).
fn url_policy() -> Result<UrlPolicy, Error> {
    let raw = required("WEBHOOK_URL_POLICY")?;
    UrlPolicy::parse(&raw)
        .ok_or_else(|| format!("WEBHOOK_URL_POLICY {raw:?} is not a policy").into())
}

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let deps = http_handler::Deps {
        control: shared::setup::control_store(&sdk)?,
        deliverer: Deliverer::new(
            aws_sdk_lambda::Client::new(&sdk),
            required("WEBHOOK_DELIVER_FUNCTION")?,
        ),
        policy: url_policy()?,
    };
    shared::setup::serve_http(deps, http_handler::function_handler).await
}
