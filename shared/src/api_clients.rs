//! Machine clients: an organization's integrations, with OAuth 2 client credentials instead of
//! a person's sign-in.
//!
//! An admin creates an API client (a Cognito app client with the client-credentials grant and
//! some of this resource server's scopes). Its access tokens carry the tenant claims, put there
//! by the pre-token trigger from the client's record, and `tenant_principal`: the id it acts
//! under (a UUID of its own, so that orders record who placed them and a deleted client's tokens
//! are revoked like a removed member's). They reach the products and orders routes only, on the
//! machine API, each route needing its scope.

use serde::{Deserialize, Serialize};

use crate::domain::ValidationError;
use crate::domain::time::Timestamp;
use crate::ids::{TenantId, UserId};

/// The identifier of the resource server whose scopes machine tokens carry.
pub const RESOURCE_SERVER: &str = "tenantry";

/// What a machine client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "products.read")]
    ProductsRead,
    #[serde(rename = "products.write")]
    ProductsWrite,
    #[serde(rename = "orders.read")]
    OrdersRead,
    #[serde(rename = "orders.write")]
    OrdersWrite,
}

impl Scope {
    pub const ALL: [Self; 4] = [
        Self::ProductsRead,
        Self::ProductsWrite,
        Self::OrdersRead,
        Self::OrdersWrite,
    ];

    /// The name in the API (`products.read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProductsRead => "products.read",
            Self::ProductsWrite => "products.write",
            Self::OrdersRead => "orders.read",
            Self::OrdersWrite => "orders.write",
        }
    }

    /// The name in a token (`tenantry/products.read`).
    pub fn token_name(self) -> String {
        format!("{RESOURCE_SERVER}/{}", self.as_str())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == raw)
    }

    /// The scopes a token's `scope` claim names (space-separated; others are ignored).
    pub fn from_claim(raw: &str) -> Vec<Self> {
        raw.split_whitespace()
            .filter_map(|name| name.strip_prefix(RESOURCE_SERVER)?.strip_prefix('/'))
            .filter_map(Self::parse)
            .collect()
    }
}

/// An API client's id: the Cognito app client id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.len() > 128 || !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ValidationError::new("client_id", "is not a client id"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organization's API client, as the control table keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub client_id: ClientId,
    pub tenant_id: TenantId,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Who its tokens act as (a UUID of its own, never a person's).
    pub principal: UserId,
    /// When it was created (ms since the epoch): its tokens' `tenant_grant`.
    pub created_ms: u64,
    /// The admin who created it, the only person who saw its secret (`None` for a client made
    /// before this was kept).
    pub created_by: Option<UserId>,
}

impl ApiClient {
    /// The client as the API shows it (never its secret, which the control table never holds).
    /// `orphaned`: its creator is no longer a member of the organization.
    pub fn view(&self, orphaned: bool) -> serde_json::Value {
        serde_json::json!({
            "client_id": self.client_id,
            "name": self.name,
            "scopes": self.scopes,
            "created_at": Timestamp::from_millis(self.created_ms),
            "created_by": self.created_by,
            "orphaned": orphaned,
        })
    }
}

/// The longest client name, in characters.
pub const MAX_NAME: usize = 64;

/// A client's name: 1 to 64 characters, no control characters.
pub fn name(raw: &str) -> Result<String, ValidationError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME {
        return Err(ValidationError::new("name", "must be 1 to 64 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A client's scopes: 1 to 4, known, each once.
pub fn scopes(raw: &[String]) -> Result<Vec<Scope>, ValidationError> {
    if raw.is_empty() || raw.len() > Scope::ALL.len() {
        return Err(ValidationError::new("scopes", "must list 1 to 4 scopes"));
    }
    let mut scopes = Vec::with_capacity(raw.len());
    for name in raw {
        let scope = Scope::parse(name)
            .ok_or_else(|| ValidationError::new("scopes", format!("{name:?} is not a scope")))?;
        if scopes.contains(&scope) {
            return Err(ValidationError::new(
                "scopes",
                format!("{name} is listed twice"),
            ));
        }
        scopes.push(scope);
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_from_a_token_are_this_servers_only() {
        assert_eq!(
            Scope::from_claim(
                "tenantry/products.read other/products.write tenantry/orders.write aws.cognito.signin.user.admin"
            ),
            vec![Scope::ProductsRead, Scope::OrdersWrite]
        );
        assert_eq!(Scope::from_claim(""), Vec::<Scope>::new());
        assert_eq!(Scope::ProductsWrite.token_name(), "tenantry/products.write");
    }

    #[test]
    fn names_and_scopes_are_checked() {
        let list = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            scopes(&list(&["orders.read"])).ok(),
            Some(vec![Scope::OrdersRead])
        );
        for bad in [
            list(&[]),
            list(&["orders.read", "orders.read"]),
            list(&["orders.delete"]),
        ] {
            assert_eq!(
                scopes(&bad).err().map(|e| e.field),
                Some("scopes"),
                "{bad:?}"
            );
        }
        assert_eq!(name("  ERP  ").ok(), Some("ERP".to_owned()));
        assert!(name("").is_err());
        assert!(name(&"x".repeat(65)).is_err());
        assert!(ClientId::parse("abc123").is_ok());
        assert!(ClientId::parse("abc-123").is_err());
    }
}
