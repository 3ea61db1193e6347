//! Domain types. Request bodies convert into these with `TryFrom`; once a value exists it is
//! valid, so the stores never see a raw string or a float.

pub mod email;
pub mod member;
pub mod money;
pub mod order;
pub mod product;
pub mod revocation;
pub mod role;
pub mod tenant;
pub mod text;
pub mod tier;
pub mod time;

pub use role::Role;
pub use tier::Tier;

/// A value from a request that does not satisfy the domain's rules. The message is written for
/// the client and names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
