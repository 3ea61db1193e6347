//! `tenant-jobs`: runs a tenant job (provision, migrate, offboard) invoked asynchronously by the
//! other functions. A failure is returned as a Lambda error, so Lambda retries the invocation;
//! every job is idempotent.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tracing::Instrument;

use shared::billing::provider::PaymentProvider;
use shared::identity::{AppClients, UserDirectory};
use shared::tenancy::jobs::JobRunner;
use shared::tenancy::jobs::{JobQueue, TenantJob};
use shared::tenancy::storage::Deadline;
use std::time::{Duration, Instant, SystemTime};

/// What a run keeps for the step under way when its budget is spent (a page of copy, a
/// partition's verification), at most: the rest of the run is the budget.
const FINISHING: Duration = Duration::from_secs(300);

/// A run's time when the runtime names no deadline ahead (`cargo lambda watch` names the
/// moment of the call).
const UNKNOWN_DEADLINE: Duration = Duration::from_secs(60);

/// When a run stops taking new steps: the function's deadline (ms since the epoch) less
/// [`FINISHING`], or half the time left when less than twice that is left.
fn stop_by(deadline_ms: u64, now: SystemTime, instant: Instant) -> Instant {
    let now_ms = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let left = match Duration::from_millis(deadline_ms.saturating_sub(now_ms)) {
        left if left.is_zero() => UNKNOWN_DEADLINE,
        left => left,
    };
    let keep = FINISHING.min(left / 2);
    instant + left.saturating_sub(keep)
}

pub async fn function_handler<D, J, P>(
    runner: &JobRunner<D, J, P>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    D: UserDirectory + AppClients,
    J: JobQueue,
    P: PaymentProvider,
{
    let job: TenantJob = serde_json::from_value(event.payload).map_err(|err| {
        tracing::error!(error = %err, "not a tenant job");
        err
    })?;
    let span = tracing::info_span!("job", tenant_id = %job.tenant_id(), request_id = %event.context.request_id);
    let started = Instant::now();
    let budget = Deadline(stop_by(event.context.deadline, SystemTime::now(), started));
    tracing::info!(job = ?job, steps_for_seconds = budget.0.saturating_duration_since(started).as_secs(), "job started");
    match runner.run_within(&job, &budget).instrument(span).await {
        Ok(outcome) => {
            tracing::info!(job = ?job, outcome = ?outcome, "job done");
            Ok(json!({ "status": "done", "outcome": format!("{outcome:?}") }))
        }
        Err(err) => {
            tracing::error!(job = ?job, error = %err, "job failed; Lambda will retry");
            Err(err.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::testing::events_dir;

    use super::*;

    #[test]
    fn a_run_keeps_five_minutes_for_its_last_step_or_half_of_a_short_run() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let instant = Instant::now();
        let ms = |seconds: u64| (1_000_000 + seconds) * 1000;
        assert_eq!(
            stop_by(ms(900), now, instant),
            instant + Duration::from_secs(600)
        );
        assert_eq!(
            stop_by(ms(60), now, instant),
            instant + Duration::from_secs(30)
        );
        assert_eq!(
            stop_by(ms(0), now, instant),
            instant + Duration::from_secs(30),
            "no deadline ahead: a minute's run"
        );
    }

    #[test]
    fn the_sample_events_are_jobs() {
        for name in ["provision.json", "migrate-to-premium.json", "offboard.json"] {
            let text =
                std::fs::read_to_string(events_dir().join("tenant-jobs").join(name)).unwrap();
            let job: TenantJob = serde_json::from_str(&text).unwrap();
            assert_eq!(
                job.tenant_id().to_string(),
                shared::testing::TENANT_A,
                "{name}"
            );
        }
    }
}
