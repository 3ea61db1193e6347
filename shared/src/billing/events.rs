//! Stripe's webhook events, reduced to what the service acts on.
//!
//! Only the fields the service needs are read, from the shapes Stripe documents (an event is
//! `{id, type, created, data: {object}}`). The tenant an event is about comes only from metadata
//! the service itself set when it created the customer, Checkout Session or subscription
//! (`tenant_id`), never from anything a client sent. An invoice names its subscription either at
//! the top level (older API versions) or under `parent.subscription_details` (newer ones); both
//! are read.

use serde_json::Value;

use super::subscription::{Change, What};
use crate::domain::Tier;
use crate::ids::TenantId;

/// The metadata key the service writes on everything it creates at the provider.
pub const TENANT_METADATA: &str = "tenant_id";
/// The metadata key naming the plan (`standard` or `premium`) on a Checkout Session, whose price
/// never changes. A subscription's plan is read from its price, never from metadata: the
/// customer portal changes the price and leaves the metadata as checkout wrote it.
pub const PLAN_METADATA: &str = "plan";

/// A verified event, as far as the service cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The provider's event id (`evt_...`): the key of its idempotency record.
    pub id: String,
    /// The event type, e.g. `invoice.paid`.
    pub kind: String,
    /// When the provider created the event (unix seconds).
    pub created: i64,
    /// The tenant, from the service's own metadata on the object, when it is there.
    pub tenant: Option<TenantId>,
    /// The provider's customer (`cus_...`), through which an event without metadata finds its
    /// tenant.
    pub customer: Option<String>,
    /// The address the provider has for the paying customer (invoices' `customer_email`,
    /// sessions' `customer_details.email`): where receipts and notices go.
    pub email: Option<String>,
    /// What it says about a subscription; `None` for events the service ignores.
    pub change: Option<Change>,
    /// A paid or failed invoice (for receipts and notices).
    pub invoice: Option<Invoice>,
}

/// An invoice as the tenant sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Invoice {
    pub id: String,
    /// Minor units (cents).
    pub amount: i64,
    pub currency: String,
    /// The provider's page for it.
    pub url: Option<String>,
}

/// Why a body is not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a webhook event: {0}")]
pub struct EventError(&'static str);

/// Reads an event (whose signature was verified) from its raw body.
pub fn parse(body: &[u8]) -> Result<ProviderEvent, EventError> {
    let event: Value = serde_json::from_slice(body).map_err(|_| EventError("not JSON"))?;
    let id = text(&event["id"]).ok_or(EventError("no id"))?;
    let kind = text(&event["type"]).ok_or(EventError("no type"))?;
    let created = event["created"].as_i64().ok_or(EventError("no created"))?;
    let object = &event["data"]["object"];
    if !object.is_object() {
        return Err(EventError("no data.object"));
    }
    let subscription_metadata = subscription_details(object).map(|details| &details["metadata"]);
    let tenant = [Some(&object["metadata"]), subscription_metadata]
        .into_iter()
        .flatten()
        .find_map(|metadata| metadata[TENANT_METADATA].as_str())
        .and_then(|raw| TenantId::parse(raw).ok());
    let customer = text(&object["customer"]);
    let email =
        text(&object["customer_email"]).or_else(|| text(&object["customer_details"]["email"]));
    let (change, invoice) = match kind.as_str() {
        "checkout.session.completed" => (checkout(object, created), None),
        "customer.subscription.created" | "customer.subscription.updated" => {
            (subscription_change(object, created), None)
        }
        "customer.subscription.deleted" => (
            text(&object["id"]).map(|id| Change {
                subscription: id,
                at: created,
                what: What::Ended,
            }),
            None,
        ),
        "invoice.paid" => (
            invoice_subscription(object).map(|id| Change {
                subscription: id,
                at: created,
                what: What::Paid {
                    period_end: invoice_period_end(object),
                },
            }),
            invoice_of(object, "amount_paid"),
        ),
        "invoice.payment_failed" => (
            invoice_subscription(object).map(|id| Change {
                subscription: id,
                at: created,
                what: What::PaymentFailed,
            }),
            invoice_of(object, "amount_due"),
        ),
        _ => (None, None),
    };
    Ok(ProviderEvent {
        id,
        kind,
        created,
        tenant,
        customer,
        email,
        change,
        invoice,
    })
}

fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A paid plan's name (the free plan is no subscription).
fn paid_plan(raw: &str) -> Option<Tier> {
    Tier::parse(raw).filter(|tier| *tier != Tier::Basic)
}

/// A completed Checkout Session of a subscription: paid (or needing no payment), its plan in
/// the service's metadata.
fn checkout(session: &Value, created: i64) -> Option<Change> {
    let paid = matches!(
        session["payment_status"].as_str(),
        Some("paid" | "no_payment_required")
    );
    if !paid || session["mode"].as_str() != Some("subscription") {
        return None;
    }
    Some(Change {
        subscription: text(&session["subscription"])?,
        at: created,
        what: What::Active {
            plan: session["metadata"][PLAN_METADATA]
                .as_str()
                .and_then(paid_plan),
            period_end: None,
        },
    })
}

/// A subscription's own status decides: `active`/`trialing` in force, `past_due`/`unpaid` a
/// failed payment, `canceled`/`incomplete_expired` ended; `incomplete` (the first payment
/// pending) says nothing yet. Its plan is its price's: prices are set up with the lookup key
/// `<plan>_<interval>` (checkout finds them by it). A price without such a key names no plan,
/// and the plan recorded stays.
fn subscription_change(subscription: &Value, created: i64) -> Option<Change> {
    let id = text(&subscription["id"])?;
    let item = &subscription["items"]["data"][0];
    let plan = item["price"]["lookup_key"]
        .as_str()
        .and_then(|key| key.split('_').next())
        .and_then(paid_plan);
    if plan.is_none() {
        tracing::warn!(subscription = %id, "the subscription's price has no plan's lookup key");
    }
    let period_end = subscription["current_period_end"]
        .as_i64()
        .or_else(|| item["current_period_end"].as_i64());
    let what = match subscription["status"].as_str()? {
        "active" | "trialing" => What::Active { plan, period_end },
        "past_due" | "unpaid" => What::PaymentFailed,
        "canceled" | "incomplete_expired" => What::Ended,
        _ => return None,
    };
    Some(Change {
        subscription: id,
        at: created,
        what,
    })
}

fn subscription_details(object: &Value) -> Option<&Value> {
    [
        &object["parent"]["subscription_details"],
        &object["subscription_details"],
    ]
    .into_iter()
    .find(|details| details.is_object())
}

fn invoice_subscription(invoice: &Value) -> Option<String> {
    text(&invoice["subscription"])
        .or_else(|| subscription_details(invoice).and_then(|d| text(&d["subscription"])))
}

fn invoice_period_end(invoice: &Value) -> Option<i64> {
    invoice["lines"]["data"][0]["period"]["end"]
        .as_i64()
        .or_else(|| invoice["period_end"].as_i64())
}

fn invoice_of(invoice: &Value, amount: &str) -> Option<Invoice> {
    Some(Invoice {
        id: text(&invoice["id"])?,
        amount: invoice[amount].as_i64().unwrap_or(0),
        currency: text(&invoice["currency"]).unwrap_or_default(),
        url: text(&invoice["hosted_invoice_url"]),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TENANT: &str = "01JB8Z4K2M6Q9R3T5V7W9XAAAA";

    fn event(kind: &str, object: Value) -> Vec<u8> {
        json!({"id": "evt_1", "object": "event", "type": kind, "created": 1_796_200_000,
               "data": {"object": object}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_completed_checkout_starts_the_plan_it_names() {
        let parsed = parse(&event(
            "checkout.session.completed",
            json!({"id": "cs_1", "object": "checkout.session", "mode": "subscription",
                   "payment_status": "paid", "customer": "cus_1", "subscription": "sub_1",
                   "metadata": {"tenant_id": TENANT, "plan": "premium"}}),
        ))
        .unwrap();
        assert_eq!(parsed.tenant, Some(TENANT.parse().unwrap()));
        assert_eq!(parsed.customer.as_deref(), Some("cus_1"));
        assert_eq!(
            parsed.change,
            Some(Change {
                subscription: "sub_1".into(),
                at: 1_796_200_000,
                what: What::Active {
                    plan: Some(Tier::Premium),
                    period_end: None
                }
            })
        );
        // Unpaid (an asynchronous payment still pending): nothing yet.
        let pending = parse(&event(
            "checkout.session.completed",
            json!({"mode": "subscription", "payment_status": "unpaid", "subscription": "sub_1"}),
        ))
        .unwrap();
        assert_eq!(pending.change, None);
    }

    #[test]
    fn a_subscription_says_where_it_stands_by_its_own_status() {
        let sub = |status: &str| {
            parse(&event(
                "customer.subscription.updated",
                json!({"id": "sub_1", "object": "subscription", "status": status,
                       "customer": "cus_1", "metadata": {"tenant_id": TENANT},
                       "items": {"data": [{"current_period_end": 1_798_800_000,
                                           "price": {"lookup_key": "standard_month"}}]}}),
            ))
            .unwrap()
            .change
            .map(|change| change.what)
        };
        assert_eq!(
            sub("active"),
            Some(What::Active {
                plan: Some(Tier::Standard),
                period_end: Some(1_798_800_000)
            })
        );
        assert_eq!(sub("past_due"), Some(What::PaymentFailed));
        assert_eq!(sub("canceled"), Some(What::Ended));
        assert_eq!(sub("incomplete"), None);
        let deleted = parse(&event(
            "customer.subscription.deleted",
            json!({"id": "sub_1", "status": "canceled"}),
        ))
        .unwrap();
        assert_eq!(deleted.change.unwrap().what, What::Ended);
    }

    /// The customer portal changes a subscription's price and nothing else: the metadata the
    /// service wrote at checkout still names the plan bought then.
    #[test]
    fn a_price_changed_in_the_portal_changes_the_plan_whatever_the_metadata_says() {
        for (price, metadata_plan, expected) in [
            ("standard_month", "premium", Tier::Standard),
            ("premium_year", "standard", Tier::Premium),
        ] {
            let parsed = parse(&event(
                "customer.subscription.updated",
                json!({"id": "sub_1", "object": "subscription", "status": "active",
                       "customer": "cus_1",
                       "metadata": {"tenant_id": TENANT, "plan": metadata_plan},
                       "items": {"data": [{"current_period_end": 1_798_800_000,
                                           "price": {"id": "price_1", "lookup_key": price}}]}}),
            ))
            .unwrap();
            assert_eq!(
                parsed.change.map(|change| change.what),
                Some(What::Active {
                    plan: Some(expected),
                    period_end: Some(1_798_800_000)
                }),
                "{price}"
            );
        }
    }

    #[test]
    fn invoices_of_either_api_shape_name_their_subscription_and_tenant() {
        for invoice in [
            json!({"id": "in_1", "subscription": "sub_1", "amount_paid": 2900, "currency": "eur",
                   "subscription_details": {"metadata": {"tenant_id": TENANT}},
                   "hosted_invoice_url": "https://invoice.example/in_1",
                   "lines": {"data": [{"period": {"end": 1_798_800_000}}]}}),
            json!({"id": "in_1", "amount_paid": 2900, "currency": "eur",
                   "parent": {"subscription_details": {"subscription": "sub_1",
                                                       "metadata": {"tenant_id": TENANT}}},
                   "hosted_invoice_url": "https://invoice.example/in_1",
                   "period_end": 1_798_800_000}),
        ] {
            let paid = parse(&event("invoice.paid", invoice.clone())).unwrap();
            assert_eq!(paid.tenant, Some(TENANT.parse().unwrap()), "{invoice}");
            assert_eq!(
                paid.change.unwrap(),
                Change {
                    subscription: "sub_1".into(),
                    at: 1_796_200_000,
                    what: What::Paid {
                        period_end: Some(1_798_800_000)
                    }
                }
            );
            assert_eq!(
                paid.invoice.unwrap(),
                Invoice {
                    id: "in_1".into(),
                    amount: 2900,
                    currency: "eur".into(),
                    url: Some("https://invoice.example/in_1".into())
                }
            );
        }
    }

    #[test]
    fn unknown_types_are_events_about_nothing_and_junk_is_no_event() {
        let other = parse(&event("customer.created", json!({"id": "cus_1"}))).unwrap();
        assert_eq!((other.change, other.invoice), (None, None));
        for junk in [
            &b"not json"[..],
            br#"{"id": "evt_1"}"#,
            br#"{"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {}}"#,
            br#"[]"#,
        ] {
            assert!(parse(junk).is_err(), "{}", String::from_utf8_lossy(junk));
        }
        // A tenant id the service did not write (malformed) is no tenant.
        let forged = parse(&event(
            "invoice.paid",
            json!({"id": "in_1", "subscription": "sub_1", "metadata": {"tenant_id": "../x"}}),
        ))
        .unwrap();
        assert_eq!(forged.tenant, None);
    }
}
