//! What each tier may use. Defined here once; shown by `GET /tenant` and enforced by the stores
//! with conditional writes, so concurrent requests cannot push a tenant over a limit.

use serde::Serialize;

use crate::domain::Tier;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanLimits {
    pub max_users: u64,
    pub max_products: u64,
    pub max_orders_per_month: u64,
    /// Webhook endpoints.
    pub max_webhooks: u64,
    /// API clients (machine credentials).
    pub max_api_clients: u64,
}

impl PlanLimits {
    pub fn of(tier: Tier) -> Self {
        match tier {
            Tier::Basic => Self {
                max_users: 5,
                max_products: 100,
                max_orders_per_month: 1_000,
                max_webhooks: 2,
                max_api_clients: 1,
            },
            Tier::Standard => Self {
                max_users: 25,
                max_products: 5_000,
                max_orders_per_month: 50_000,
                max_webhooks: 10,
                max_api_clients: 5,
            },
            Tier::Premium => Self {
                max_users: 250,
                max_products: 100_000,
                max_orders_per_month: 1_000_000,
                max_webhooks: 50,
                max_api_clients: 25,
            },
        }
    }
}

/// Whether moving from `from` to `to` lowers the plan (`Some(true)`) or raises it
/// (`Some(false)`); `None` when the plan stays. A lowered plan leaves data over its limits
/// read-only (see `crate::authority::ensure_writable`); a raised one lifts that.
pub fn lowering(from: Tier, to: Tier) -> Option<bool> {
    (from != to).then_some(to < from)
}

/// The name of a limit, as it appears in a `quota-exceeded` problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Users,
    Products,
    OrdersPerMonth,
    Webhooks,
    ApiClients,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Users => "max_users",
            Self::Products => "max_products",
            Self::OrdersPerMonth => "max_orders_per_month",
            Self::Webhooks => "max_webhooks",
            Self::ApiClients => "max_api_clients",
        }
    }
}
