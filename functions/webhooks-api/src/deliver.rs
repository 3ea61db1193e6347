//! `webhook-deliver`: sends an endpoint's pending deliveries, in order, signed; a failing
//! endpoint waits ([`shared::webhooks::backoff`]) and is tried again by the scheduled sweep, and
//! after a whole day of failures it is disabled and the organization's admins are told.
//!
//! One deliverer at a time works on an endpoint (a lease on its record), and it stops at the
//! endpoint's first failure: so a later change of an object is never delivered before an
//! earlier one. Woken by `webhook-events` and `webhooks-api` with the endpoints that have new
//! deliveries (a [`Kick`]), and by a schedule for the failing endpoints whose time has come.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{Error, LambdaEvent};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::{Value, json};

use shared::domain::member::MemberStatus;
use shared::domain::time::Timestamp;
use shared::domain::time::now_millis;
use shared::mail::{Language, Mailer};
use shared::store::StoreError;
use shared::store::control::{MemberStore, TenantStore};
use shared::store::dynamo::DynamoControl;
use shared::webhooks::{
    Attempt, GIVE_UP_AFTER, Outcome, Pending, TIMEOUT, UrlPolicy, Webhook, WebhookPart, backoff,
};

use crate::kick::{EndpointRef, Kick};

/// How long a deliverer holds an endpoint (more than the function's timeout).
const LEASE: Duration = Duration::from_secs(90);

/// How long a woken deliverer waits for another to release an endpoint: the holder looks for
/// new deliveries after releasing it, so giving up then loses nothing.
const LEASE_WAIT: Duration = Duration::from_secs(5);

/// When a deliverer stops taking new deliveries (the function's timeout is 60 s).
const BUDGET: Duration = Duration::from_secs(40);

/// How many failing endpoints one sweep takes up.
const SWEEP_LIMIT: usize = 100;

#[derive(Debug)]
pub struct DeliverDeps<M> {
    pub control: DynamoControl,
    pub sender: Sender,
    pub mailer: M,
    /// This execution environment's name on the leases it takes.
    pub holder: String,
}

/// Sends one event to one endpoint over HTTP.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: UrlPolicy,
}

/// Resolves a receiver's host name and keeps only the addresses the policy allows: the check
/// is made on the addresses connected to, so a name that resolves to a private address at
/// delivery time (DNS rebinding) is refused, whatever it resolved to at registration.
#[derive(Debug)]
struct GuardedResolver {
    policy: UrlPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| policy.allows(address.ip()))
                .collect();
            if allowed.is_empty() {
                return Err("address not allowed".into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl Sender {
    pub fn new(policy: UrlPolicy) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .user_agent("Tenantry-Webhooks/1")
            .build()?;
        Ok(Self { client, policy })
    }

    /// One attempt: the receiver's status, or why there is none.
    async fn send(&self, webhook: &Webhook, event_id: &str, body: Vec<u8>) -> Result<u16, String> {
        // The URL was checked at registration; checked again in case the rules changed since.
        // A literal address is never resolved, so this is its connect-time check too.
        let url = self.policy.check(&webhook.url).map_err(|err| err.message)?;
        let timestamp = Timestamp::now().unix_seconds();
        let signature = webhook.signature(event_id, timestamp, &body, now_millis());
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|err| describe(&err))?;
        Ok(response.status().as_u16())
    }
}

/// What a failed request is called in the deliveries list.
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return format!("timed out after {} s", TIMEOUT.as_secs());
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if text.contains("address not allowed") {
            return "address not allowed".to_owned();
        }
        if text.contains("Connection refused") || text.contains("connection refused") {
            return "connection refused".to_owned();
        }
        source = cause.source();
    }
    if err.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

pub async fn function_handler<M: Mailer>(
    deps: &DeliverDeps<M>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let started = Instant::now();
    let (endpoints, swept) = match serde_json::from_value::<Kick>(event.payload.clone()) {
        Ok(kick) => (kick.endpoints, false),
        // A scheduled event: the failing endpoints whose next attempt is due.
        Err(_) => {
            let due = deps
                .control
                .failing_webhooks_due(now_millis(), SWEEP_LIMIT)
                .await?;
            let endpoints = due
                .into_iter()
                .map(|(tenant_id, webhook_id)| EndpointRef {
                    tenant_id,
                    webhook_id,
                })
                .collect();
            (endpoints, true)
        }
    };
    let mut delivered = 0;
    let mut failed = 0;
    for endpoint in &endpoints {
        if started.elapsed() > BUDGET {
            break;
        }
        match serve_endpoint(deps, endpoint, swept, started).await {
            Ok(count) => delivered += count,
            Err(err) => {
                failed += 1;
                tracing::error!(error = %err, webhook_id = %endpoint.webhook_id, "endpoint not served");
            }
        }
    }
    tracing::info!(
        endpoints = endpoints.len(),
        delivered,
        failed,
        swept,
        "deliveries sent"
    );
    Ok(json!({ "endpoints": endpoints.len(), "delivered": delivered }))
}

/// Takes the endpoint's lease, waiting a little for another deliverer to release it.
async fn lease<M>(deps: &DeliverDeps<M>, endpoint: &EndpointRef) -> Result<bool, StoreError> {
    let waited = Instant::now();
    loop {
        let now = now_millis();
        let until = now + LEASE.as_millis() as u64;
        if deps
            .control
            .lease_webhook(
                &endpoint.tenant_id,
                &endpoint.webhook_id,
                &deps.holder,
                now,
                until,
            )
            .await?
        {
            return Ok(true);
        }
        if waited.elapsed() > LEASE_WAIT {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Sends what the endpoint has pending; how many were delivered.
async fn serve_endpoint<M: Mailer>(
    deps: &DeliverDeps<M>,
    endpoint: &EndpointRef,
    swept: bool,
    started: Instant,
) -> Result<usize, StoreError> {
    let mut delivered = 0;
    // After releasing the lease the endpoint is looked at once more: deliveries queued while
    // it was held (their deliverer gave up waiting) are not left behind.
    for _ in 0..3 {
        if !lease(deps, endpoint).await? {
            return Ok(delivered);
        }
        let outcome = drain(deps, endpoint, swept, started).await;
        deps.control
            .release_webhook(&endpoint.tenant_id, &endpoint.webhook_id, &deps.holder)
            .await?;
        match outcome? {
            Drained::Empty(count) => delivered += count,
            Drained::Stopped(count) => return Ok(delivered + count),
        }
        if started.elapsed() > BUDGET
            || deps
                .control
                .pending(&endpoint.webhook_id, 1)
                .await?
                .is_empty()
        {
            return Ok(delivered);
        }
    }
    Ok(delivered)
}

enum Drained {
    /// Nothing was left to send.
    Empty(usize),
    /// Stopped by a failure, a wait, or the time budget.
    Stopped(usize),
}

async fn drain<M: Mailer>(
    deps: &DeliverDeps<M>,
    endpoint: &EndpointRef,
    swept: bool,
    started: Instant,
) -> Result<Drained, StoreError> {
    let mut delivered = 0;
    loop {
        // Read again before each batch: a secret rotated meanwhile signs the next batch, and an
        // endpoint disabled meanwhile gets nothing more.
        let Some(webhook) = deps
            .control
            .webhook(&endpoint.tenant_id, &endpoint.webhook_id)
            .await?
        else {
            // Deleted meanwhile: nothing of it is sent any more.
            deps.control.drop_pending(&endpoint.webhook_id).await?;
            return Ok(Drained::Stopped(delivered));
        };
        if !webhook.enabled {
            deps.control.drop_pending(&webhook.id).await?;
            return Ok(Drained::Stopped(delivered));
        }
        // A failing endpoint waits for its turn, however many new events arrive meanwhile.
        if delivered == 0
            && !swept
            && webhook
                .next_attempt_ms
                .is_some_and(|due| due > now_millis())
        {
            return Ok(Drained::Stopped(0));
        }
        let batch = deps.control.pending(&webhook.id, 25).await?;
        if batch.is_empty() {
            recovered(deps, webhook).await?;
            return Ok(Drained::Empty(delivered));
        }
        for pending in &batch {
            if started.elapsed() > BUDGET {
                return Ok(Drained::Stopped(delivered));
            }
            if attempt(deps, &webhook, pending).await? {
                delivered += 1;
                continue;
            }
            failing(deps, webhook).await?;
            return Ok(Drained::Stopped(delivered));
        }
        // Recovered, if it was failing: the rest goes out now.
        recovered(deps, webhook).await?;
    }
}

/// After a delivery: a failing endpoint leaves the retry list. Only its delivery state is
/// written, from the record as it is (an admin may have changed it during the attempts).
async fn recovered<M>(deps: &DeliverDeps<M>, webhook: Webhook) -> Result<(), StoreError> {
    if webhook.failures == 0 && webhook.next_attempt_ms.is_none() {
        return Ok(());
    }
    let (tenant, id) = (webhook.tenant_id, webhook.id);
    deps.control
        .change_webhook(&tenant, &id, Some(webhook), |webhook| {
            if !webhook.enabled || webhook.failures == 0 && webhook.next_attempt_ms.is_none() {
                return &[];
            }
            webhook.failures = 0;
            webhook.failing_since = None;
            webhook.next_attempt_ms = None;
            &[WebhookPart::Delivery]
        })
        .await?;
    Ok(())
}

/// One attempt, recorded; whether it was delivered.
async fn attempt<M>(
    deps: &DeliverDeps<M>,
    webhook: &Webhook,
    pending: &Pending,
) -> Result<bool, StoreError> {
    let began = Instant::now();
    let attempted_at = Timestamp::now();
    let result = deps
        .sender
        .send(webhook, &pending.event.id, pending.event.payload())
        .await;
    let (outcome, response_status, error) = match result {
        Ok(status) if (200..300).contains(&status) => (Outcome::Delivered, Some(status), None),
        Ok(status) => (Outcome::Failed, Some(status), None),
        Err(error) => (Outcome::Failed, None, Some(error)),
    };
    let record = Attempt {
        id: ulid::Ulid::generate().to_string(),
        event_id: pending.event.id.clone(),
        event_type: pending.event.kind,
        attempted_at: attempted_at.to_string(),
        outcome,
        response_status,
        error,
        duration_ms: began.elapsed().as_millis() as u64,
    };
    let delivered = outcome == Outcome::Delivered;
    deps.control
        .record_attempt(&webhook.id, &record, delivered.then_some(pending))
        .await?;
    tracing::info!(
        tenant_id = %webhook.tenant_id,
        webhook_id = %webhook.id,
        event_id = %pending.event.id,
        outcome = ?outcome,
        status = ?response_status,
        error = ?record.error,
        "webhook attempt"
    );
    Ok(delivered)
}

/// After a failed attempt: the next one is scheduled, or, a day after the first failure, the
/// endpoint is disabled and the organization's admins are told. Written on the record as it is
/// now, not as it was read before the attempts: an admin who disabled the endpoint meanwhile
/// keeps it disabled, one who re-enabled it gave it a fresh start, a rotation stays.
async fn failing<M: Mailer>(deps: &DeliverDeps<M>, webhook: Webhook) -> Result<(), StoreError> {
    let now = now_millis();
    let mut gave_up = false;
    let (tenant, id) = (webhook.tenant_id, webhook.id);
    let saved = deps
        .control
        .change_webhook(&tenant, &id, Some(webhook), |webhook| {
            gave_up = false;
            if !webhook.enabled {
                return &[];
            }
            webhook.failures += 1;
            let since = *webhook.failing_since.get_or_insert(now);
            if now.saturating_sub(since) < GIVE_UP_AFTER.as_millis() as u64 {
                webhook.next_attempt_ms = Some(now + backoff(webhook.failures).as_millis() as u64);
                return &[WebhookPart::Delivery];
            }
            gave_up = true;
            webhook.enabled = false;
            webhook.next_attempt_ms = None;
            webhook.status_reason = Some(format!(
                "every delivery failed from {} for 24 hours",
                Timestamp::from_millis(since)
            ));
            &[WebhookPart::Settings, WebhookPart::Delivery]
        })
        .await?;
    let Some(webhook) = saved.filter(|_| gave_up) else {
        return Ok(());
    };
    deps.control.drop_pending(&webhook.id).await?;
    tracing::warn!(tenant_id = %webhook.tenant_id, webhook_id = %webhook.id, "webhook disabled after a day of failures");
    tell_admins(deps, &webhook).await
}

async fn tell_admins<M: Mailer>(
    deps: &DeliverDeps<M>,
    webhook: &Webhook,
) -> Result<(), StoreError> {
    let tenant = deps.control.get_tenant(&webhook.tenant_id).await?;
    let language = Language::of(tenant.settings.locale.as_deref());
    let mut cursor = None;
    loop {
        let page = deps
            .control
            .list_members(&webhook.tenant_id, 100, cursor.as_deref())
            .await?;
        for member in page
            .items
            .iter()
            .filter(|m| m.role == shared::domain::Role::Admin && m.status == MemberStatus::Active)
        {
            let email = shared::mail::webhook_disabled(
                &member.email,
                tenant.name.as_str(),
                &webhook.url,
                language,
            );
            if let Err(err) = deps.mailer.send(&email).await {
                tracing::error!(error = %err, "the notice of a disabled webhook was not sent");
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    async fn resolved(policy: UrlPolicy, host: &str) -> Result<Vec<SocketAddr>, String> {
        let name = Name::from_str(host).map_err(|_| "not a name".to_owned())?;
        GuardedResolver { policy }
            .resolve(name)
            .await
            .map(Iterator::collect)
            .map_err(|err| err.to_string())
    }

    /// The connect-time check: whatever a name resolves to when a delivery is made, only
    /// allowed addresses are connected to (a name rebound to a private address is refused).
    #[tokio::test]
    async fn names_resolving_to_refused_addresses_are_not_connected_to() {
        assert_eq!(
            resolved(UrlPolicy::PublicHttps, "localhost").await.err(),
            Some("address not allowed".to_owned())
        );
        let local = resolved(UrlPolicy::LoopbackHttp, "localhost")
            .await
            .unwrap_or_default();
        assert!(
            !local.is_empty() && local.iter().all(|a| a.ip().is_loopback()),
            "{local:?}"
        );
    }

    #[test]
    fn a_lease_outlives_the_work_done_under_it() {
        assert!(LEASE > BUDGET + TIMEOUT);
        assert!(LEASE_WAIT < BUDGET);
    }
}
