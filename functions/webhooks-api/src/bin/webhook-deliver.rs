//! The webhook deliverer (see `webhooks_api::deliver`).

use lambda_runtime::{Error, run, service_fn};
use shared::config::required;
use shared::webhooks::UrlPolicy;

use webhooks_api::deliver::{DeliverDeps, Sender, function_handler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let raw = required("WEBHOOK_URL_POLICY")?;
    let policy = UrlPolicy::parse(&raw)
        .ok_or_else(|| Error::from(format!("WEBHOOK_URL_POLICY {raw:?} is not a policy")))?;
    let control = shared::setup::control_store(&sdk)?;
    let deps = DeliverDeps {
        control: control.clone(),
        sender: Sender::new(policy)?,
        // A notice SES refuses now is held in the outbox (billing-sweep sends it later).
        mailer: shared::mail::Deferring {
            mailer: shared::setup::mailer(&sdk)?,
            outbox: control,
        },
        holder: ulid::Ulid::generate().to_string(),
    };
    run(service_fn(|event| function_handler(&deps, event))).await
}
