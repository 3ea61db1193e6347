//! A tenant's subscription, decided from the payment provider's events.
//!
//! Events arrive late, twice, and out of order; that is normal. So each event is reduced to what
//! its own object says ([`Change`]) and applied to the recorded state by rules that do not depend
//! on arrival order:
//! - a subscription that ended stays ended: nothing about it (a late `checkout.session.completed`,
//!   an `invoice.paid` delivered after the `customer.subscription.deleted`) makes a tenant pay
//!   again; only a new subscription does;
//! - about one subscription, a change older (by the provider's timestamp) than the last one
//!   applied is ignored, except that an end always applies;
//! - another subscription replaces the recorded one only when it is newer and not ended.
//!
//! Applying the same change twice gives the same state, so a redelivered event changes nothing
//! (the event id's idempotency record saves even the work).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::Tier;

/// How long a tenant whose payment failed keeps its plan before it is suspended (default).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Standing {
    /// Paid up (or trialing).
    Active,
    /// A payment failed at `since` (unix seconds); the grace period runs from then.
    PastDue { since: i64 },
    /// Cancelled, or never paid: the tenant is back on the free plan.
    Ended,
}

/// The subscription a tenant pays with, as the service recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The provider's id (`sub_...`).
    pub id: String,
    pub plan: Tier,
    pub standing: Standing,
    /// When the paid period ends (unix seconds), if known.
    pub period_end: Option<i64>,
    /// The provider's timestamp of the newest change applied.
    pub as_of: i64,
}

/// What one event says about one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub subscription: String,
    /// The provider's timestamp of the event.
    pub at: i64,
    pub what: What,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// Checkout completed, or the subscription is active: on `plan` (if the event names one).
    Active {
        plan: Option<Tier>,
        period_end: Option<i64>,
    },
    /// A payment failed.
    PaymentFailed,
    /// An invoice was paid for the period ending at `period_end`.
    Paid { period_end: Option<i64> },
    /// The subscription ended (deleted, cancelled, expired unpaid).
    Ended,
}

/// What the service records of a tenant's subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    /// The subscription the tenant pays with (or last paid with).
    pub subscription: Option<Subscription>,
    /// Subscriptions known to have ended, most recent last (at most [`ENDED_KEPT`]): nothing
    /// about them is believed any more, whatever arrives late.
    pub ended: Vec<String>,
}

/// How many ended subscriptions a record remembers.
pub const ENDED_KEPT: usize = 20;

/// The record after `change`. Unchanged when the change is stale or about an ended
/// subscription.
pub fn apply(current: &Billing, change: &Change) -> Billing {
    if current.ended.contains(&change.subscription) {
        return current.clone();
    }
    let mut next = current.clone();
    if change.what == What::Ended {
        next.ended.push(change.subscription.clone());
        if next.ended.len() > ENDED_KEPT {
            next.ended.remove(0);
        }
        if let Some(recorded) = next
            .subscription
            .as_mut()
            .filter(|recorded| recorded.id == change.subscription)
        {
            recorded.standing = Standing::Ended;
            recorded.as_of = recorded.as_of.max(change.at);
        }
        return next;
    }
    next.subscription = match &current.subscription {
        Some(recorded) if recorded.id == change.subscription => Some(advance(recorded, change)),
        // Another subscription takes over only when it is newer than a live one (or the
        // recorded one ended), and says what it is for.
        Some(recorded) if recorded.standing != Standing::Ended && change.at <= recorded.as_of => {
            Some(recorded.clone())
        }
        recorded => fresh(change).or_else(|| recorded.clone()),
    };
    next
}

/// A subscription first seen through `change`: only an activation that names its plan starts
/// one (a payment or failure of an unknown subscription waits for its checkout or update).
fn fresh(change: &Change) -> Option<Subscription> {
    match change.what {
        What::Active {
            plan: Some(plan),
            period_end,
        } => Some(Subscription {
            id: change.subscription.clone(),
            plan,
            standing: Standing::Active,
            period_end,
            as_of: change.at,
        }),
        What::Active { plan: None, .. } | What::Paid { .. } | What::PaymentFailed | What::Ended => {
            None
        }
    }
}

/// A change about the recorded (and not ended) subscription, unless it is older than the last.
fn advance(recorded: &Subscription, change: &Change) -> Subscription {
    if recorded.standing == Standing::Ended || change.at < recorded.as_of {
        return recorded.clone();
    }
    let mut next = Subscription {
        as_of: change.at,
        ..recorded.clone()
    };
    match change.what {
        What::Active { plan, period_end } => {
            next.plan = plan.unwrap_or(recorded.plan);
            next.standing = Standing::Active;
            next.period_end = period_end.or(recorded.period_end);
        }
        What::Paid { period_end } => {
            next.standing = Standing::Active;
            next.period_end = period_end.or(recorded.period_end);
        }
        What::PaymentFailed => {
            next.standing = match recorded.standing {
                // The grace period runs from the first failure, not the latest retry.
                Standing::PastDue { since } => Standing::PastDue { since },
                Standing::Active | Standing::Ended => Standing::PastDue { since: change.at },
            };
        }
        What::Ended => {}
    }
    next
}

/// The tier a tenant is entitled to by its subscription (none, or ended: basic).
pub fn entitled_tier(subscription: Option<&Subscription>) -> Tier {
    match subscription {
        Some(Subscription {
            plan,
            standing: Standing::Active | Standing::PastDue { .. },
            ..
        }) => *plan,
        Some(_) | None => Tier::Basic,
    }
}

/// When a tenant whose payment failed is suspended (unix seconds), if it is in grace.
pub fn grace_deadline(subscription: Option<&Subscription>, grace: Duration) -> Option<i64> {
    match subscription?.standing {
        Standing::PastDue { since } => Some(since.saturating_add(grace.as_secs() as i64)),
        Standing::Active | Standing::Ended => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at: i64, what: What) -> Change {
        Change {
            subscription: "sub_1".to_owned(),
            at,
            what,
        }
    }

    fn checkout(at: i64) -> Change {
        change(
            at,
            What::Active {
                plan: Some(Tier::Premium),
                period_end: Some(at + 2_592_000),
            },
        )
    }

    /// Applies `changes` in order, from nothing.
    fn run(changes: &[Change]) -> Billing {
        changes
            .iter()
            .fold(Billing::default(), |state, change| apply(&state, change))
    }

    fn paid(at: i64) -> Change {
        change(at, What::Paid { period_end: None })
    }

    fn standard(at: i64) -> Change {
        change(
            at,
            What::Active {
                plan: Some(Tier::Standard),
                period_end: None,
            },
        )
    }

    fn tier(billing: &Billing) -> Tier {
        entitled_tier(billing.subscription.as_ref())
    }

    #[test]
    fn checkout_activates_and_an_invoice_renews() {
        let state = run(&[
            checkout(100),
            change(
                200,
                What::Paid {
                    period_end: Some(5_000_000),
                },
            ),
        ]);
        let subscription = state.subscription.as_ref().unwrap();
        assert_eq!(
            (
                subscription.plan,
                subscription.standing,
                subscription.period_end,
                subscription.as_of
            ),
            (Tier::Premium, Standing::Active, Some(5_000_000), 200)
        );
        assert_eq!(tier(&state), Tier::Premium);
    }

    #[test]
    fn a_deletion_that_arrives_before_the_checkout_leaves_no_paying_tenant() {
        for order in [
            vec![change(300, What::Ended), checkout(100), paid(200)],
            vec![checkout(100), change(300, What::Ended), paid(200)],
            vec![paid(200), change(300, What::Ended), checkout(100)],
        ] {
            assert_eq!(tier(&run(&order)), Tier::Basic, "{order:?}");
        }
    }

    #[test]
    fn an_ended_subscription_stays_ended_whatever_comes_late() {
        let ended = run(&[checkout(100), change(300, What::Ended)]);
        for late in [checkout(100), paid(200), paid(400), standard(500)] {
            let after = apply(&ended, &late);
            assert_eq!(after, ended, "{late:?}");
            assert_eq!(tier(&after), Tier::Basic);
        }
    }

    #[test]
    fn stale_changes_are_ignored_and_redeliveries_change_nothing() {
        let downgraded = run(&[checkout(100), standard(300)]);
        // The checkout's own "premium", redelivered after the downgrade, is older: ignored.
        assert_eq!(apply(&downgraded, &checkout(100)), downgraded);
        assert_eq!(tier(&downgraded), Tier::Standard);
        let failed = apply(&downgraded, &change(300, What::PaymentFailed));
        assert_eq!(apply(&failed, &change(300, What::PaymentFailed)), failed);
        let ended = apply(&failed, &change(400, What::Ended));
        assert_eq!(apply(&ended, &change(400, What::Ended)), ended);
    }

    #[test]
    fn the_grace_period_runs_from_the_first_failure_until_a_payment() {
        let grace = Duration::from_secs(1_000);
        let failing = run(&[
            checkout(100),
            change(200, What::PaymentFailed),
            change(600, What::PaymentFailed),
        ]);
        assert_eq!(
            grace_deadline(failing.subscription.as_ref(), grace),
            Some(1_200)
        );
        assert_eq!(tier(&failing), Tier::Premium, "the plan is kept in grace");
        let recovered = apply(&failing, &paid(700));
        assert_eq!(grace_deadline(recovered.subscription.as_ref(), grace), None);
        assert_eq!(recovered.subscription.unwrap().standing, Standing::Active);
    }

    #[test]
    fn a_newer_subscription_replaces_an_older_or_ended_one_but_not_the_reverse() {
        let second = |at: i64, what: What| Change {
            subscription: "sub_2".to_owned(),
            at,
            what,
        };
        let activation = What::Active {
            plan: Some(Tier::Standard),
            period_end: None,
        };
        let replaced = run(&[checkout(100), second(500, activation)]);
        assert_eq!(replaced.subscription.as_ref().unwrap().id, "sub_2");
        // The old one's late news changes nothing that matters.
        let late_end = apply(&replaced, &change(600, What::Ended));
        assert_eq!(late_end.subscription, replaced.subscription);
        assert_eq!(apply(&late_end, &checkout(100)), late_end);
        // An older subscription never takes over a live, newer one.
        let older = run(&[second(500, activation), checkout(100)]);
        assert_eq!(older.subscription.as_ref().unwrap().id, "sub_2");
        // A second subscription ended before its checkout arrived leaves the first one paying.
        let ghost = run(&[
            checkout(100),
            second(300, What::Ended),
            second(200, activation),
        ]);
        assert_eq!(
            (
                ghost.subscription.as_ref().unwrap().id.as_str(),
                tier(&ghost)
            ),
            ("sub_1", Tier::Premium)
        );
    }

    #[test]
    fn only_so_many_ended_subscriptions_are_remembered() {
        let mut state = run(&[checkout(100)]);
        for i in 0..(ENDED_KEPT as i64 + 5) {
            let ended = Change {
                subscription: format!("sub_old_{i}"),
                at: 200 + i,
                what: What::Ended,
            };
            state = apply(&state, &ended);
        }
        assert_eq!(state.ended.len(), ENDED_KEPT);
        assert_eq!(tier(&state), Tier::Premium);
    }
}
