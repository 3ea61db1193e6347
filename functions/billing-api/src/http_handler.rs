//! `billing-api`: paid plans through the payment provider (Stripe).
//!
//! | route | who |
//! | --- | --- |
//! | `GET /billing` | members and admins, even of a suspended organization: plan, subscription, grace deadline, invoices |
//! | `POST /billing/checkout` (`{"plan", "interval"}`) | admins: the provider's hosted payment page |
//! | `POST /billing/portal` | admins, even of a suspended organization: the provider's customer portal (card, cancellation, invoices) |
//! | `POST /billing/webhook` | the provider, **without** the Cognito authorizer |
//!
//! The webhook believes nothing before the event's signature is verified (see
//! `shared::billing::signature`); every refusal is the same 400, whatever its reason. A verified
//! event is applied once (its id's record is written with the account change, atomically),
//! from its object's own state and timestamps (`shared::billing::subscription`), and the tenant
//! is then brought in line with the account: the tier it is entitled to (a move between pooled
//! and own-table storage is the migration job), suspended once a failed payment's grace period
//! has run out, reactivated when it is paid. The tenant comes only from metadata the service set
//! at the provider, or from the customer the service created for it.
//!
//! An event applied for the first time also tells the paying customer (the address the provider
//! has): the welcome with the access data after the first payment, a receipt per paid invoice, a
//! notice of a failed payment with the grace deadline, a notice of suspension. A redelivery sends
//! nothing again; an e-mail that cannot be sent is logged.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;
use serde_json::json;

use shared::authority::{Admit, Authority, ControlAuthority};
use shared::billing::Account;
use shared::billing::events::{self, ProviderEvent};
use shared::billing::reconcile;
use shared::billing::signature::{self, WebhookSecrets};
use shared::billing::subscription::{self, Standing};
use shared::context::Claims;
use shared::domain::Tier;
use shared::domain::ValidationError;
use shared::domain::email::EmailAddress;
use shared::domain::tenant::{Tenant, TenantStatus};
use shared::domain::time::Timestamp;
use shared::http::{
    ApiError, MAX_BODY_BYTES, Route, body_bytes, json, json_body, match_route, serve_caller,
    serve_public, tenant_of,
};
use shared::ids::TenantId;
use shared::mail::{self, Language, Mailer, Welcome};
use shared::store::StoreError;
use shared::store::billing::{BillingStore, Saved};
use shared::store::control::TenantStore;
use shared::tenancy::access::Clock;
use shared::tenancy::jobs::JobQueue;

use shared::billing::provider::{
    Cancellation, CheckoutRequest, Interval, PaymentProvider, ProviderError,
};

/// The largest webhook body accepted (Stripe's events are a few KB).
const MAX_EVENT_BYTES: usize = 256 * 1024;

/// What billing is configured with.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// Where the provider sends a customer back after checkout or the portal.
    pub console_url: String,
    /// How long a failed payment leaves the plan in place before the tenant is suspended.
    pub grace: Duration,
}

impl BillingConfig {
    /// The console's billing page: where the provider sends a customer back, and where notices
    /// send one to pay.
    pub fn billing_page(&self) -> String {
        format!("{}/billing", self.console_url)
    }
}

pub struct Deps<C, J, P, M> {
    pub control: C,
    pub jobs: J,
    pub provider: P,
    pub mailer: M,
    pub secrets: WebhookSecrets,
    pub config: BillingConfig,
    pub clock: Arc<dyn Clock>,
}

/// Names no secret.
impl<C, J, P, M> std::fmt::Debug for Deps<C, J, P, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a request asks for: dispatched by a `match` without a catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Show,
    Checkout,
    Portal,
    Webhook,
}

const ROUTES: &[(Route, Op)] = &[
    (Route::new("GET", "/billing"), Op::Show),
    (Route::new("POST", "/billing/checkout"), Op::Checkout),
    (Route::new("POST", "/billing/portal"), Op::Portal),
    (Route::new("POST", "/billing/webhook"), Op::Webhook),
];

pub async fn function_handler<C, J, P, M>(
    deps: &Deps<C, J, P, M>,
    event: Request,
) -> Result<Response<Body>, Error>
where
    C: TenantStore + BillingStore + ControlAuthority,
    J: JobQueue,
    P: PaymentProvider,
    M: Mailer,
{
    let webhook = matches!(match_route(&event, ROUTES), Ok((Op::Webhook, _)));
    if webhook {
        return Ok(serve_public(event, |request| receive(deps, request)).await);
    }
    Ok(serve_caller(event, |claims, request| handle(deps, claims, request)).await)
}

async fn handle<C, J, P, M>(
    deps: &Deps<C, J, P, M>,
    claims: Claims,
    request: Request,
) -> Result<Response<Body>, ApiError>
where
    C: TenantStore + BillingStore + ControlAuthority,
    J: JobQueue,
    P: PaymentProvider,
    M: Mailer,
{
    let (op, _) = match_route(&request, ROUTES)?;
    let context = tenant_of(&claims)?;
    // A suspended organization still sees its billing and reaches the portal, to pay.
    let admit = match op {
        Op::Show | Op::Portal => Admit::EvenSuspended,
        Op::Checkout | Op::Webhook => Admit::Usable,
    };
    let authority = deps.control.authority_in(&context, admit).await?;
    match op {
        Op::Show => show(deps, &authority).await,
        Op::Checkout => checkout(deps, &authority, &claims, &request).await,
        Op::Portal => portal(deps, &authority).await,
        // Served without claims, above.
        Op::Webhook => receive(deps, request).await,
    }
}

pub(crate) fn unix(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

fn standing_name(standing: Standing) -> &'static str {
    match standing {
        Standing::Active => "active",
        Standing::PastDue { .. } => "past_due",
        Standing::Ended => "ended",
    }
}

/// `GET /billing`.
async fn show<C: BillingStore, J, P, M>(
    deps: &Deps<C, J, P, M>,
    authority: &Authority,
) -> Result<Response<Body>, ApiError> {
    let account = deps.control.account(&authority.tenant.id).await?;
    let subscription = account.billing.subscription.as_ref();
    let at = Timestamp::from_unix_seconds;
    Ok(json(
        StatusCode::OK,
        &json!({
            "plan": authority.tenant.tier,
            "status": subscription.map_or("none", |s| standing_name(s.standing)),
            "subscribed_plan": subscription.map(|s| s.plan),
            "period_end": subscription.and_then(|s| s.period_end).map(at),
            "grace_deadline": subscription::grace_deadline(subscription, deps.config.grace).map(at),
            "suspended_for_payment": account.suspended_for_payment,
            "invoices": account.invoices.iter().map(|record| json!({
                "id": record.invoice.id,
                "amount": record.invoice.amount,
                "currency": record.invoice.currency,
                "url": record.invoice.url,
                "status": record.status,
                "at": at(record.at),
            })).collect::<Vec<_>>(),
        }),
    ))
}

/// The body of `POST /billing/checkout`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutBody {
    plan: String,
    interval: String,
}

fn provider_failure(err: ProviderError) -> ApiError {
    ApiError::Internal(err.to_string())
}

/// `POST /billing/checkout`: the tenant's customer (created once), then a Checkout Session.
async fn checkout<C: BillingStore, J, P: PaymentProvider, M>(
    deps: &Deps<C, J, P, M>,
    authority: &Authority,
    claims: &Claims,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    authority.require_admin("choose a plan")?;
    let body: CheckoutBody = json_body(request, MAX_BODY_BYTES)?;
    let plan = Tier::parse(&body.plan)
        .filter(|tier| *tier != Tier::Basic)
        .ok_or_else(|| ValidationError::new("plan", "must be standard or premium"))?;
    let interval = Interval::parse(&body.interval)
        .ok_or_else(|| ValidationError::new("interval", "must be month or year"))?;
    let tenant = &authority.tenant;
    let account = deps.control.account(&tenant.id).await?;
    if account
        .billing
        .subscription
        .as_ref()
        .is_some_and(|s| s.standing != Standing::Ended)
    {
        return Err(ApiError::conflict(
            "already-subscribed",
            "The organization has a subscription: change its plan in the billing portal.",
        ));
    }
    let customer = match account.customer {
        Some(customer) => customer,
        None => {
            let email = claims.email().ok_or_else(|| {
                ApiError::from(ValidationError::new(
                    "email",
                    "your account has no valid e-mail address",
                ))
            })?;
            let created = deps
                .provider
                .create_customer(&tenant.id, tenant.name.as_str(), &email)
                .await
                .map_err(provider_failure)?;
            deps.control.attach_customer(&tenant.id, &created).await?
        }
    };
    // An older page left open could still be paid, and start a second subscription.
    let expired = deps
        .provider
        .expire_checkouts(&customer)
        .await
        .map_err(provider_failure)?;
    if expired > 0 {
        tracing::info!(expired, "older checkout pages expired");
    }
    let url = deps
        .provider
        .checkout(&CheckoutRequest {
            tenant: tenant.id,
            customer,
            plan,
            interval,
            success_url: format!("{}/billing?checkout=done", deps.config.console_url),
            cancel_url: format!("{}/billing?checkout=cancelled", deps.config.console_url),
        })
        .await
        .map_err(|err| match err {
            ProviderError::NoPrice(key) => {
                ApiError::Internal(format!("the provider has no active price {key}"))
            }
            other => provider_failure(other),
        })?;
    tracing::info!(plan = %plan, interval = interval.as_str(), "checkout started");
    Ok(json(StatusCode::OK, &json!({ "url": url })))
}

/// `POST /billing/portal`.
async fn portal<C: BillingStore, J, P: PaymentProvider, M>(
    deps: &Deps<C, J, P, M>,
    authority: &Authority,
) -> Result<Response<Body>, ApiError> {
    authority.require_admin("manage billing")?;
    let account = deps.control.account(&authority.tenant.id).await?;
    let customer = account.customer.ok_or_else(|| {
        ApiError::conflict(
            "no-billing-account",
            "The organization has never subscribed: choose a plan first.",
        )
    })?;
    let url = deps
        .provider
        .portal(&customer, &deps.config.billing_page())
        .await
        .map_err(provider_failure)?;
    Ok(json(StatusCode::OK, &json!({ "url": url })))
}

/// The one answer to anything that is not a genuine, recent event.
fn not_an_event() -> ApiError {
    ApiError::invalid("This is not a valid webhook event.")
}

fn acknowledged(outcome: &str) -> Response<Body> {
    json(
        StatusCode::OK,
        &json!({ "received": true, "outcome": outcome }),
    )
}

/// `POST /billing/webhook`.
async fn receive<C, J, P, M>(
    deps: &Deps<C, J, P, M>,
    request: Request,
) -> Result<Response<Body>, ApiError>
where
    C: TenantStore + BillingStore,
    J: JobQueue,
    P: PaymentProvider,
    M: Mailer,
{
    let body = body_bytes(&request);
    if body.len() > MAX_EVENT_BYTES {
        return Err(ApiError::PayloadTooLarge {
            max_bytes: MAX_EVENT_BYTES,
        });
    }
    let header = request
        .headers()
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok());
    let now = unix(deps.clock.now());
    if let Err(why) = signature::verify(header, body, &deps.secrets, now) {
        tracing::warn!(reason = %why, "webhook refused");
        return Err(not_an_event());
    }
    let event = events::parse(body).map_err(|why| {
        tracing::warn!(reason = %why, "a signed webhook body is no event");
        not_an_event()
    })?;
    let span = tracing::info_span!("event", event_id = %event.id, kind = %event.kind);
    let _entered = span.enter();
    if event.change.is_none() && event.invoice.is_none() {
        tracing::info!("event type not acted on: acknowledged");
        return Ok(acknowledged("ignored"));
    }
    let tenant = match (event.tenant, &event.customer) {
        (Some(tenant), _) => Some(tenant),
        (None, Some(customer)) => deps.control.tenant_of_customer(customer).await?,
        (None, None) => None,
    };
    let Some(tenant) = tenant else {
        tracing::warn!("event about no tenant of this service: acknowledged");
        return Ok(acknowledged("ignored"));
    };
    let Some(mut record) = live_tenant(&deps.control, &tenant).await? else {
        // An organization that is gone pays for nothing: a subscription that is still alive
        // (a checkout page paid while it was being deleted) is cancelled as offboarding does.
        if let Some(change) = &event.change
            && change.what != subscription::What::Ended
        {
            deps.provider
                .cancel_subscription(&change.subscription, Cancellation::Offboarding)
                .await
                .map_err(provider_failure)?;
            tracing::warn!(tenant_id = %tenant, subscription = %change.subscription, "a subscription of a deleted organization was cancelled");
        }
        tracing::warn!(tenant_id = %tenant, "event about a tenant that is gone: acknowledged");
        return Ok(acknowledged("ignored"));
    };
    // Another event of the same tenant may be applied meanwhile: re-read and re-apply. The
    // tenant is brought in line first and the event recorded last, so that a failure in
    // between leaves the event unrecorded: the provider sends it again, and nothing it said is
    // lost (a redelivery of a recorded event changes nothing).
    for _ in 0..3 {
        let before = deps.control.account(&tenant).await?;
        let mut after = updated(&before, &event, now, deps.config.grace);
        let reconciled =
            match reconcile::reconcile(&deps.control, &deps.jobs, &record, &after).await {
                Ok(reconciled) => reconciled,
                Err(StoreError::VersionConflict) => {
                    let Some(again) = live_tenant(&deps.control, &tenant).await? else {
                        return Ok(acknowledged("ignored"));
                    };
                    record = again;
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
        reconcile::note(&mut after, &record, &reconciled);
        one_subscription(&deps.provider, &before, &after, &event).await?;
        match deps
            .control
            .save_account(&tenant, &after, Some(&event.id))
            .await
        {
            Ok(Saved::Saved) => {
                tracing::info!(tenant_id = %tenant, "event applied");
                notify(deps, &record, &event, &before, &after).await;
                return Ok(acknowledged("applied"));
            }
            Ok(Saved::Duplicate) => {
                // Its e-mails were sent when it was recorded (or lost with a failure after
                // that: they are not sent twice).
                tracing::info!(tenant_id = %tenant, "event handled before");
                return Ok(acknowledged("duplicate"));
            }
            Err(StoreError::VersionConflict) => {
                let Some(again) = live_tenant(&deps.control, &tenant).await? else {
                    return Ok(acknowledged("ignored"));
                };
                record = again;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(StoreError::VersionConflict.into())
}

/// Keeps the tenant paying for one subscription, before the event is recorded (so a failure is
/// tried again with the event). Checkout pages are expired when one is made and when a
/// subscription starts, but a page paid just before that can still start a second one; then
/// the one the account keeps (the newer, by the rules of `shared::billing::subscription`) is
/// the customer's latest choice, and the other is cancelled at once with its unused time
/// credited to the customer's balance, which pays the kept one's next invoices: nothing paid
/// is lost. Cancelling or expiring twice is harmless.
async fn one_subscription<P: PaymentProvider>(
    provider: &P,
    before: &Account,
    after: &Account,
    event: &ProviderEvent,
) -> Result<(), ApiError> {
    let live = |account: &Account| {
        account
            .billing
            .subscription
            .as_ref()
            .filter(|s| s.standing != Standing::Ended)
            .map(|s| s.id.clone())
    };
    let kept = live(after);
    let mut losers = Vec::new();
    if let Some(kept) = &kept {
        // The event's own subscription, alive but not the one kept.
        if let Some(change) = &event.change
            && change.subscription != *kept
            && change.what != subscription::What::Ended
            && !after.billing.ended.contains(&change.subscription)
        {
            losers.push(change.subscription.clone());
        }
        // The subscription the kept one replaced just now.
        if let Some(replaced) = live(before).filter(|replaced| replaced != kept) {
            losers.push(replaced);
        }
    }
    for loser in losers {
        provider
            .cancel_subscription(&loser, Cancellation::Duplicate)
            .await
            .map_err(provider_failure)?;
        tracing::warn!(cancelled = %loser, kept = ?kept, "a second subscription was cancelled, its unused time credited");
    }
    let started = matches!(
        event.kind.as_str(),
        "checkout.session.completed" | "customer.subscription.created"
    );
    if started
        && kept.is_some()
        && let Some(customer) = event.customer.as_deref()
    {
        provider
            .expire_checkouts(customer)
            .await
            .map_err(provider_failure)?;
    }
    Ok(())
}

/// The tenant's record, unless it is gone (offboarded, or being offboarded).
pub(crate) async fn live_tenant<C: TenantStore>(
    control: &C,
    tenant: &TenantId,
) -> Result<Option<Tenant>, StoreError> {
    match control.get_tenant(tenant).await {
        Ok(record)
            if !matches!(
                record.status,
                TenantStatus::Deleting | TenantStatus::Deleted
            ) =>
        {
            Ok(Some(record))
        }
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The account after `event`.
fn updated(account: &Account, event: &ProviderEvent, now: i64, grace: Duration) -> Account {
    let mut next = account.clone();
    if event.email.is_some() {
        next.email.clone_from(&event.email);
    }
    if let Some(change) = &event.change {
        next.billing = subscription::apply(&account.billing, change);
    }
    if let Some(invoice) = &event.invoice {
        let status = if event.kind == "invoice.paid" {
            "paid"
        } else {
            "failed"
        };
        next.note_invoice(invoice, status, event.created);
    }
    // A completed checkout of the live subscription: its welcome is due, once.
    if event.kind == "checkout.session.completed"
        && let Some(live) = next
            .billing
            .subscription
            .as_ref()
            .filter(|s| s.standing != Standing::Ended)
        && event.change.as_ref().map(|c| &c.subscription) == Some(&live.id)
    {
        next.welcomed = Some(live.id.clone());
    }
    next.review_grace(now, grace);
    next
}

/// Tells the paying customer what `event` changed (see the module's documentation).
async fn notify<C, J, P, M: Mailer>(
    deps: &Deps<C, J, P, M>,
    tenant: &Tenant,
    event: &ProviderEvent,
    before: &Account,
    after: &Account,
) {
    let Some(to) = event
        .email
        .as_deref()
        .or(after.email.as_deref())
        .and_then(|raw| EmailAddress::parse(raw).ok())
    else {
        tracing::warn!("the event names no address to tell");
        return;
    };
    let language = Language::of(tenant.settings.locale.as_deref());
    let organization = tenant.name.as_str();
    let portal = deps.config.billing_page();
    let subscription = after.billing.subscription.as_ref();
    let mut emails = Vec::new();
    if after.welcomed.is_some() && after.welcomed != before.welcomed {
        emails.push(mail::welcome(&Welcome {
            organization,
            admin: &to,
            sign_in_url: &deps.config.console_url,
            tier: subscription::entitled_tier(subscription),
            language,
        }));
    }
    match (&event.invoice, event.kind.as_str()) {
        (Some(invoice), "invoice.paid") => emails.push(mail::receipt(
            &to,
            organization,
            invoice.amount,
            &invoice.currency,
            invoice.url.as_deref(),
            language,
        )),
        (Some(_), "invoice.payment_failed") => {
            if let Some(deadline) = subscription::grace_deadline(subscription, deps.config.grace) {
                let day = Timestamp::from_unix_seconds(deadline).to_string();
                let day = day.get(..10).unwrap_or(&day).to_owned();
                emails.push(mail::payment_failed(
                    &to,
                    organization,
                    &day,
                    &portal,
                    language,
                ));
            }
        }
        _ => {}
    }
    if newly_suspended(before, after) {
        emails.push(mail::suspended(&to, organization, &portal, language));
    }
    send_all(&deps.mailer, &tenant.id, &emails).await;
}

/// Whether `after` is the first record of the tenant's suspension for non-payment: when its
/// notice is due (once, whoever applied it: the webhook or the sweep).
pub(crate) fn newly_suspended(before: &Account, after: &Account) -> bool {
    after.suspension_applied && !before.suspension_applied
}

/// Sends each of `emails`; one that cannot be sent is logged.
pub(crate) async fn send_all<M: Mailer>(mailer: &M, tenant: &TenantId, emails: &[mail::Email]) {
    for email in emails {
        if let Err(err) = mailer.send(email).await {
            tracing::error!(tenant_id = %tenant, error = %err, subject = %email.subject, "a billing e-mail was not sent");
        }
    }
}

#[cfg(test)]
mod tests;
