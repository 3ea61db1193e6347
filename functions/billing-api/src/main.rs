use std::sync::Arc;

use lambda_http::Error;
use shared::billing::signature::{WebhookSecret, WebhookSecrets};
use shared::config::{duration, required};
use shared::tenancy::access::SystemClock;

use billing_api::http_handler;
use shared::setup::secret_parameter;

/// The webhook signing secrets (SSM Parameter Store, SecureString, read once at init), named
/// by `STRIPE_WEBHOOK_SECRETS_PARAMETER`: the current one, then, during a rotation, the previous
/// one, separated by a comma. Never logged, never in an error.
async fn webhook_secrets(sdk: &aws_config::SdkConfig) -> Result<WebhookSecrets, Error> {
    let webhook = secret_parameter(sdk, "STRIPE_WEBHOOK_SECRETS_PARAMETER").await?;
    let mut webhook = webhook.split(',').map(str::trim).filter(|s| !s.is_empty());
    let current = webhook
        .next()
        .ok_or_else(|| Error::from("no webhook signing secret"))?;
    Ok(WebhookSecrets {
        current: WebhookSecret::new(current),
        previous: webhook.next().map(WebhookSecret::new),
    })
}

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let secrets = webhook_secrets(&sdk).await?;
    let control = shared::setup::control_store(&sdk)?;
    let deps = http_handler::Deps {
        control: control.clone(),
        jobs: shared::setup::job_queue(&sdk)?,
        provider: shared::setup::payment_provider(&sdk).await?,
        // An e-mail the mail service refuses now is held, and sent by billing-sweep later.
        mailer: shared::mail::Deferring {
            mailer: shared::setup::mailer(&sdk)?,
            outbox: control,
        },
        secrets,
        config: http_handler::BillingConfig {
            console_url: required("CONSOLE_URL")?.trim_end_matches('/').to_owned(),
            grace: duration("BILLING_GRACE")?,
        },
        clock: Arc::new(SystemClock),
    };
    shared::setup::serve_http(deps, http_handler::function_handler).await
}
