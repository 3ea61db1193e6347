//! Orders: lines priced from the tenant's own products at the moment the order is placed.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::money::{Amount, Currency, Quantity};
use super::product::Product;
use super::text::{ProductName, Sku};
use super::time::Timestamp;
use crate::ids::{OrderId, ProductId, UserId};

/// How many lines one order may hold. Placing an order is one DynamoDB transaction that also
/// checks every product's version, and a transaction holds at most 100 actions.
pub const MAX_LINES: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// The statuses an order in this status may move to:
    /// `pending → paid → shipped → delivered`, and `cancelled` from `pending` or `paid`.
    pub fn allowed_next(self) -> &'static [Self] {
        match self {
            Self::Pending => &[Self::Paid, Self::Cancelled],
            Self::Paid => &[Self::Shipped, Self::Cancelled],
            Self::Shipped => &[Self::Delivered],
            Self::Delivered | Self::Cancelled => &[],
        }
    }

    /// The statuses from which an order may move to `self`.
    pub fn allowed_previous(self) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|from| from.allowed_next().contains(&self))
            .collect()
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused status change, with the moves that would have been allowed.
pub fn transition_message(from: OrderStatus, to: OrderStatus) -> String {
    let allowed = from.allowed_next();
    if allowed.is_empty() {
        format!("an order that is {from} cannot change status (requested {to})")
    } else {
        let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
        format!(
            "an order that is {from} can move only to {} (requested {to})",
            names.join(" or ")
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderBody {
    pub lines: Vec<OrderLineBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLineBody {
    pub product_id: String,
    pub quantity: i64,
}

/// The body of `PATCH /orders/{orderId}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatusBody {
    pub status: String,
    #[serde(default)]
    pub version: Option<u64>,
}

/// The lines of a new order, validated: 1 to [`MAX_LINES`] lines, each product at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub lines: Vec<(ProductId, Quantity)>,
}

impl TryFrom<CreateOrderBody> for OrderRequest {
    type Error = ValidationError;
    fn try_from(body: CreateOrderBody) -> Result<Self, Self::Error> {
        if body.lines.is_empty() {
            return Err(ValidationError::new(
                "lines",
                "an order needs at least one line",
            ));
        }
        if body.lines.len() > MAX_LINES {
            return Err(ValidationError::new(
                "lines",
                format!("an order holds at most {MAX_LINES} lines"),
            ));
        }
        let mut seen = HashSet::new();
        let mut lines = Vec::with_capacity(body.lines.len());
        for line in body.lines {
            let product_id = ProductId::parse(&line.product_id).map_err(|_| {
                ValidationError::new(
                    "product_id",
                    format!("{:?} is not a product id", line.product_id),
                )
            })?;
            if !seen.insert(product_id) {
                return Err(ValidationError::new(
                    "lines",
                    format!(
                        "product {product_id} appears on more than one line; use one line with the total quantity"
                    ),
                ));
            }
            lines.push((product_id, Quantity::new(line.quantity)?));
        }
        Ok(Self { lines })
    }
}

impl OrderRequest {
    pub fn product_ids(&self) -> Vec<ProductId> {
        self.lines.iter().map(|(id, _)| *id).collect()
    }
}

/// Why an order cannot be priced from the products the tenant has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// Ids that are not products of this tenant (missing, deleted, or another tenant's: the same).
    #[error("unknown products")]
    UnknownProducts(Vec<ProductId>),
    #[error("inactive products")]
    InactiveProducts(Vec<ProductId>),
    #[error("the products are priced in more than one currency")]
    MixedCurrencies,
    #[error("the order total is too large")]
    TotalTooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLine {
    pub product_id: ProductId,
    pub name: ProductName,
    pub sku: Sku,
    pub unit_price: Amount,
    pub quantity: Quantity,
    pub line_total: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    pub id: OrderId,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub currency: Currency,
    pub total: Amount,
    pub version: u64,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A priced order and the product versions its prices came from; placing it fails if any of
/// those products changed in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOrder {
    pub order: Order,
    pub product_versions: Vec<(ProductId, u64)>,
}

impl Order {
    /// Prices `request` from `products` (the tenant's products that were found): unit prices are
    /// copied, the total is computed here, never taken from the client.
    pub fn price(
        request: &OrderRequest,
        products: &[Product],
        created_by: UserId,
    ) -> Result<PricedOrder, PricingError> {
        let by_id: HashMap<ProductId, &Product> = products.iter().map(|p| (p.id, p)).collect();
        let unknown: Vec<ProductId> = request
            .lines
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !by_id.contains_key(id))
            .collect();
        if !unknown.is_empty() {
            return Err(PricingError::UnknownProducts(unknown));
        }
        let inactive: Vec<ProductId> = request
            .lines
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !by_id[id].active)
            .collect();
        if !inactive.is_empty() {
            return Err(PricingError::InactiveProducts(inactive));
        }
        let currency = by_id[&request.lines[0].0].currency;
        let mut total = Amount::ZERO;
        let mut lines = Vec::with_capacity(request.lines.len());
        let mut product_versions = Vec::with_capacity(request.lines.len());
        for (id, quantity) in &request.lines {
            let product = by_id[id];
            if product.currency != currency {
                return Err(PricingError::MixedCurrencies);
            }
            let line_total = product
                .price
                .times(*quantity)
                .ok_or(PricingError::TotalTooLarge)?;
            total = total.plus(line_total).ok_or(PricingError::TotalTooLarge)?;
            product_versions.push((product.id, product.version));
            lines.push(OrderLine {
                product_id: product.id,
                name: product.name.clone(),
                sku: product.sku.clone(),
                unit_price: product.price,
                quantity: *quantity,
                line_total,
            });
        }
        let now = Timestamp::now();
        Ok(PricedOrder {
            order: Order {
                id: OrderId::generate(),
                status: OrderStatus::Pending,
                lines,
                currency,
                total,
                version: 1,
                created_by,
                created_at: now,
                updated_at: now,
            },
            product_versions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::product::ProductDraft;
    use crate::domain::text::Description;

    fn product(price: i64, currency: &str, active: bool) -> Product {
        Product::create(ProductDraft {
            name: ProductName::parse("Tea").unwrap(),
            description: Description::parse("").unwrap(),
            sku: Sku::parse("TEA").unwrap(),
            price: Amount::new("price", price).unwrap(),
            currency: Currency::parse(currency).unwrap(),
            active,
        })
    }

    fn user() -> UserId {
        UserId::parse("3f1c1e4a-9c3b-4e0b-9f49-0b4c8c1e2d3a").unwrap()
    }

    fn request(lines: &[(&Product, i64)]) -> OrderRequest {
        OrderRequest {
            lines: lines
                .iter()
                .map(|(p, q)| (p.id, Quantity::new(*q).unwrap()))
                .collect(),
        }
    }

    #[test]
    fn totals_are_computed_from_copied_unit_prices() {
        let (tea, cup) = (product(450, "EUR", true), product(1200, "EUR", true));
        let priced = Order::price(
            &request(&[(&tea, 3), (&cup, 2)]),
            &[tea.clone(), cup.clone()],
            user(),
        )
        .unwrap();
        assert_eq!(priced.order.total.minor_units(), 450 * 3 + 1200 * 2);
        assert_eq!(priced.order.lines[1].unit_price.minor_units(), 1200);
        assert_eq!(priced.order.status, OrderStatus::Pending);
        assert_eq!(priced.product_versions, vec![(tea.id, 1), (cup.id, 1)]);
    }

    #[test]
    fn missing_inactive_and_mixed_products_are_refused() {
        let (tea, old, dollars) = (
            product(1, "EUR", true),
            product(1, "EUR", false),
            product(1, "USD", true),
        );
        assert_eq!(
            Order::price(&request(&[(&tea, 1)]), &[], user()),
            Err(PricingError::UnknownProducts(vec![tea.id]))
        );
        assert_eq!(
            Order::price(&request(&[(&old, 1)]), std::slice::from_ref(&old), user()),
            Err(PricingError::InactiveProducts(vec![old.id]))
        );
        assert_eq!(
            Order::price(
                &request(&[(&tea, 1), (&dollars, 1)]),
                &[tea.clone(), dollars.clone()],
                user()
            ),
            Err(PricingError::MixedCurrencies)
        );
    }

    #[test]
    fn overflowing_totals_are_refused() {
        let gold = product(crate::domain::money::MAX_AMOUNT, "EUR", true);
        assert_eq!(
            Order::price(&request(&[(&gold, 2)]), std::slice::from_ref(&gold), user()),
            Err(PricingError::TotalTooLarge)
        );
    }

    #[test]
    fn status_moves_follow_the_lifecycle() {
        use OrderStatus::*;
        assert_eq!(Paid.allowed_previous(), vec![Pending]);
        assert_eq!(Cancelled.allowed_previous(), vec![Pending, Paid]);
        assert!(Delivered.allowed_next().is_empty());
        assert_eq!(
            transition_message(Shipped, Cancelled),
            "an order that is shipped can move only to delivered (requested cancelled)"
        );
    }

    #[test]
    fn order_bodies_are_validated() {
        let parse = |json: &str| -> Result<OrderRequest, String> {
            let body: CreateOrderBody = serde_json::from_str(json).map_err(|e| e.to_string())?;
            OrderRequest::try_from(body).map_err(|e| e.to_string())
        };
        assert!(parse(r#"{"lines":[]}"#).is_err());
        let id = ProductId::generate();
        assert!(
            parse(&format!(
                r#"{{"lines":[{{"product_id":"{id}","quantity":0}}]}}"#
            ))
            .is_err()
        );
        assert!(
            parse(&format!(
                r#"{{"lines":[{{"product_id":"{id}","quantity":-2}}]}}"#
            ))
            .is_err()
        );
        assert!(parse(&format!(r#"{{"lines":[{{"product_id":"{id}","quantity":1}},{{"product_id":"{id}","quantity":1}}]}}"#)).is_err());
        assert!(parse(r#"{"lines":[{"product_id":"x","quantity":1}]}"#).is_err());
        assert_eq!(
            parse(&format!(
                r#"{{"lines":[{{"product_id":"{id}","quantity":2}}]}}"#
            ))
            .unwrap()
            .lines
            .len(),
            1
        );
    }
}
