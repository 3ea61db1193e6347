//! Products: a tenant's catalogue.

use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::money::{Amount, Currency};
use super::text::{Description, ProductName, Sku};
use super::time::Timestamp;
use crate::ids::ProductId;

/// The body of `POST /products`. Unknown fields are rejected: a client that sends `tenant_id`,
/// `version` or a misspelt field learns about it instead of having it silently dropped.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProductBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub sku: String,
    /// Integer minor units (cents).
    pub price: i64,
    pub currency: String,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

/// The body of `PUT /products/{productId}`: the whole product, plus the version it replaces
/// (or an `If-Match` header instead).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceProductBody {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub sku: String,
    pub price: i64,
    pub currency: String,
    #[serde(default = "active_by_default")]
    pub active: bool,
    #[serde(default)]
    pub version: Option<u64>,
}

fn active_by_default() -> bool {
    true
}

/// The client-controlled fields of a product, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDraft {
    pub name: ProductName,
    pub description: Description,
    pub sku: Sku,
    pub price: Amount,
    pub currency: Currency,
    pub active: bool,
}

impl ProductDraft {
    fn parse(
        name: &str,
        description: &str,
        sku: &str,
        price: i64,
        currency: &str,
        active: bool,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            name: ProductName::parse(name)?,
            description: Description::parse(description)?,
            sku: Sku::parse(sku)?,
            price: Amount::new("price", price)?,
            currency: Currency::parse(currency)?,
            active,
        })
    }
}

impl TryFrom<CreateProductBody> for ProductDraft {
    type Error = ValidationError;
    fn try_from(body: CreateProductBody) -> Result<Self, Self::Error> {
        Self::parse(
            &body.name,
            &body.description,
            &body.sku,
            body.price,
            &body.currency,
            body.active,
        )
    }
}

impl TryFrom<&ReplaceProductBody> for ProductDraft {
    type Error = ValidationError;
    fn try_from(body: &ReplaceProductBody) -> Result<Self, Self::Error> {
        Self::parse(
            &body.name,
            &body.description,
            &body.sku,
            body.price,
            &body.currency,
            body.active,
        )
    }
}

/// A stored product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: ProductId,
    pub name: ProductName,
    pub description: Description,
    pub sku: Sku,
    pub price: Amount,
    pub currency: Currency,
    pub active: bool,
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Product {
    /// A new product at version 1.
    pub fn create(draft: ProductDraft) -> Self {
        let now = Timestamp::now();
        Self::from_draft(ProductId::generate(), draft, 1, now, now)
    }

    /// This product with its client fields replaced, one version on.
    pub fn replaced_by(&self, draft: ProductDraft) -> Self {
        Self::from_draft(
            self.id,
            draft,
            self.version + 1,
            self.created_at,
            Timestamp::now(),
        )
    }

    pub fn from_draft(
        id: ProductId,
        draft: ProductDraft,
        version: u64,
        created_at: Timestamp,
        updated_at: Timestamp,
    ) -> Self {
        Self {
            id,
            name: draft.name,
            description: draft.description,
            sku: draft.sku,
            price: draft.price,
            currency: draft.currency,
            active: draft.active,
            version,
            created_at,
            updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Result<ProductDraft, String> {
        let body: CreateProductBody = serde_json::from_str(json).map_err(|e| e.to_string())?;
        ProductDraft::try_from(body).map_err(|e| e.to_string())
    }

    #[test]
    fn a_valid_body_becomes_a_draft() {
        let draft = body(r#"{"name":"Tea","sku":"tea-1","price":450,"currency":"EUR"}"#).unwrap();
        assert_eq!(draft.sku.as_str(), "TEA-1");
        assert_eq!(draft.price.minor_units(), 450);
        assert!(draft.active);
    }

    #[test]
    fn floats_negatives_and_unknown_fields_are_refused() {
        assert!(body(r#"{"name":"Tea","sku":"T","price":4.5,"currency":"EUR"}"#).is_err());
        assert_eq!(
            body(r#"{"name":"Tea","sku":"T","price":-1,"currency":"EUR"}"#),
            Err("price: must not be negative".to_owned())
        );
        let unknown =
            body(r#"{"name":"Tea","sku":"T","price":1,"currency":"EUR","tenant_id":"x"}"#);
        assert!(unknown.unwrap_err().contains("unknown field `tenant_id`"));
    }
}
