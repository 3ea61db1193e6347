//! Bounded, trimmed strings.

use serde::Serialize;

use super::ValidationError;

/// Trims `raw` and checks its length (in characters) and that it holds no control characters.
pub(crate) fn bounded(
    field: &'static str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<String, ValidationError> {
    let value = raw.trim();
    let length = value.chars().count();
    if length < min {
        return Err(ValidationError::new(
            field,
            if min == 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if length > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, ValidationError> {
                bounded($field, raw, $min, $max).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

bounded_text!(
    /// A product's display name: 1 to 200 characters.
    ProductName,
    "name",
    1,
    200
);
bounded_text!(
    /// A product's description: up to 2,000 characters.
    Description,
    "description",
    0,
    2000
);

/// A stock-keeping unit: 1 to 64 of `A-Z 0-9 . _ -`, stored upper-case, so uniqueness within a
/// tenant is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let value = raw.trim().to_ascii_uppercase();
        if value.is_empty() || value.len() > 64 {
            return Err(ValidationError::new("sku", "must be 1 to 64 characters"));
        }
        if !value.bytes().all(|b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        }) {
            return Err(ValidationError::new(
                "sku",
                "may contain only letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ProductName::parse("  Tea  ").unwrap().as_str(), "Tea");
        assert!(ProductName::parse("   ").is_err());
        assert!(ProductName::parse(&"x".repeat(201)).is_err());
        assert!(ProductName::parse("bad\u{0}name").is_err());
        assert!(Description::parse("").is_ok());
    }

    #[test]
    fn skus_are_upper_case_and_cannot_hold_the_key_delimiter() {
        assert_eq!(Sku::parse(" tea-01 ").unwrap().as_str(), "TEA-01");
        assert!(Sku::parse("A#B").is_err());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse(&"A".repeat(65)).is_err());
    }
}
