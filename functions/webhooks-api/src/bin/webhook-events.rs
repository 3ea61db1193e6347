//! The change streams' consumer (see `webhooks_api::publish`).

use lambda_runtime::{Error, run, service_fn};
use shared::config::required;

use webhooks_api::kick::Deliverer;
use webhooks_api::parking::Parking;
use webhooks_api::publish::{Bus, PublishDeps, function_handler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let deps = PublishDeps {
        control: shared::setup::control_store(&sdk)?,
        bus: Bus {
            client: aws_sdk_eventbridge::Client::new(&sdk),
            name: required("EVENT_BUS_NAME")?,
        },
        deliverer: Deliverer::new(
            aws_sdk_lambda::Client::new(&sdk),
            required("WEBHOOK_DELIVER_FUNCTION")?,
        ),
        control_table: required("CONTROL_TABLE")?,
        pooled_table: required("DATA_TABLE")?,
        parking: Parking {
            client: aws_sdk_sqs::Client::new(&sdk),
            queue_url: required("FAILED_RECORDS_QUEUE_URL")?,
        },
    };
    run(service_fn(|event| function_handler(&deps, event))).await
}
