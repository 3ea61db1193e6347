//! The library every Tenantry function is built on.
//!
//! The rule this crate exists to enforce: tenant data is reached only through a
//! [`TenantContext`](context::TenantContext) built from verified token claims, and only through
//! store methods that take the tenant first. Key strings are built in [`keys`] and nowhere else.

pub mod api_clients;
pub mod authority;
pub mod billing;
pub mod claims;
pub mod config;
pub mod context;
pub mod domain;
pub mod events;
pub mod http;
pub mod identity;
pub mod ids;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod pagination;
pub mod plans;
pub mod setup;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod webhooks;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
