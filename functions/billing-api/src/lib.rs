//! Paid plans through the payment provider: the HTTP routes and webhook (`billing-api`), and the
//! scheduled sweep that suspends tenants whose grace period ran out (`billing-sweep`).

pub mod http_handler;
pub mod sweep;
