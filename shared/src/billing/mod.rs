//! Payment: what the payment provider tells the service, and how much of it to believe.
//!
//! The provider is Stripe. Its webhook events reach the service on a route without the Cognito
//! authorizer, so nothing in one is believed before [`signature::verify`] has checked it was
//! signed with the endpoint's secret, recently. What a verified event means for a tenant's plan
//! is decided by [`subscription::apply`] from the event's own object and timestamps, never from
//! the order events arrive in.

pub mod events;
pub mod signature;
pub mod subscription;
