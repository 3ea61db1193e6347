//! Where a tenant's data lives, and moving it.
//!
//! Pooled tenants (`basic`, `standard`) share the data table; a `premium` tenant gets a
//! dedicated ("silo") table with the same key layout, created by a job after onboarding. The
//! code path is the same for both: the table is resolved from the tenant record.
//!
//! - [`storage`]: creating, copying, verifying, purging and deleting a tenant's data, always with
//!   `Query` on the partitions [`crate::keys::tenant_partitions`] lists (never `Scan`).
//! - [`migration`]: moving a tenant between pooled and silo storage, resumable after a crash.

pub mod access;
pub mod jobs;
pub mod migration;
pub mod storage;
