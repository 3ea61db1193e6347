use lambda_runtime::{Error, run, service_fn};

mod event_handler;

// One event at a time per execution environment: a single-threaded runtime starts faster and
// switches less than a pool of workers would (measured in docs/PERFORMANCE.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = shared::setup::cold_start().await;
    let store = shared::setup::warm_control_store(&sdk).await?;
    let deps = event_handler::Deps {
        // A welcome the mail service refuses now is held, and sent by billing-sweep later.
        mailer: shared::mail::Deferring {
            mailer: shared::setup::mailer(&sdk)?,
            outbox: store.clone(),
        },
        store,
        sign_in_url: shared::config::required("CONSOLE_URL")?,
    };
    run(service_fn(|event| {
        event_handler::function_handler(&deps, event)
    }))
    .await
}
