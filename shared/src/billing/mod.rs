//! Payment: what the payment provider tells the service, and how much of it to believe.
//!
//! The provider is Stripe. Its webhook events reach the service on a route without the Cognito
//! authorizer, so nothing in one is believed before [`signature::verify`] has checked it was
//! signed with the endpoint's secret, recently. What a verified event means for a tenant's plan
//! is decided by [`subscription::apply`] from the event's own object and timestamps, never from
//! the order events arrive in.

pub mod events;
pub mod provider;
pub mod reconcile;
pub mod signature;
pub mod subscription;

use serde::{Deserialize, Serialize};

use self::events::Invoice;
use self::subscription::Billing;

/// How many invoices an account keeps (the provider's portal has them all).
pub const INVOICES_KEPT: usize = 12;

/// A tenant's account with the payment provider, as the service records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The provider's customer (`cus_...`), created once per tenant.
    #[serde(skip)]
    pub customer: Option<String>,
    pub billing: Billing,
    /// The grace period of a failed payment ran out and nothing was paid since: the tenant is
    /// to be suspended for it (a payment lifts that suspension, never one a platform operator
    /// made).
    pub suspended_for_payment: bool,
    /// The tenant was suspended for it (or already was): it is not suspended again, so an
    /// operator who reactivates it is not overruled. Cleared with `suspended_for_payment`.
    #[serde(default)]
    pub suspension_applied: bool,
    /// The ended subscription whose return to the free plan was seen applied: until then the
    /// account stays among those the hourly sweep brings in line.
    #[serde(default)]
    pub settled_end: Option<String>,
    /// Recent invoices, newest first (at most [`INVOICES_KEPT`]).
    pub invoices: Vec<InvoiceRecord>,
    /// The subscription whose welcome e-mail went out (once per subscription).
    #[serde(default)]
    pub welcomed: Option<String>,
    /// The address the provider's latest event named for the customer: notices that no event
    /// brings (a suspension when the grace period runs out) go there.
    #[serde(default)]
    pub email: Option<String>,
    /// The record's version (0: never written).
    #[serde(skip)]
    pub version: u64,
}

/// An invoice as the account lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    #[serde(flatten)]
    pub invoice: Invoice,
    /// `paid` or `failed`.
    pub status: String,
    /// When the provider reported it (unix seconds).
    pub at: i64,
}

impl Account {
    /// When the payment that failed first (unix seconds), while the tenant is in its grace
    /// period and not yet suspended for it: what the sweep of expired grace periods looks for.
    pub fn awaiting_suspension(&self) -> Option<i64> {
        match self.billing.subscription.as_ref()?.standing {
            subscription::Standing::PastDue { since } if !self.suspended_for_payment => Some(since),
            _ => None,
        }
    }

    /// Decides from the subscription whether the grace period has run out at `now`.
    pub fn review_grace(&mut self, now: i64, grace: std::time::Duration) {
        self.suspended_for_payment =
            subscription::grace_deadline(self.billing.subscription.as_ref(), grace)
                .is_some_and(|deadline| now >= deadline);
        if !self.suspended_for_payment {
            self.suspension_applied = false;
        }
    }

    /// Whether the subscription decides the tenant's tier and the sweep should check that it
    /// does: a live subscription, or an ended one whose end is not seen applied yet.
    pub fn paying(&self) -> bool {
        match &self.billing.subscription {
            None => false,
            Some(live) if live.standing != subscription::Standing::Ended => true,
            Some(ended) => self.settled_end.as_deref() != Some(ended.id.as_str()),
        }
    }

    /// Records `invoice` (a redelivery replaces its earlier record), newest first.
    pub fn note_invoice(&mut self, invoice: &Invoice, status: &str, at: i64) {
        self.invoices.retain(|known| known.invoice.id != invoice.id);
        self.invoices.push(InvoiceRecord {
            invoice: invoice.clone(),
            status: status.to_owned(),
            at,
        });
        self.invoices
            .sort_by_key(|record| std::cmp::Reverse(record.at));
        self.invoices.truncate(INVOICES_KEPT);
    }
}
