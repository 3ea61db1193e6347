//! An organization's plan, which also decides where its data lives.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A tenant's plan. `premium` tenants get a dedicated (silo) data table.
///
/// Ordered from the smallest plan to the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Basic,
    Standard,
    Premium,
}

impl Tier {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "basic" => Some(Self::Basic),
            "standard" => Some(Self::Standard),
            "premium" => Some(Self::Premium),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Standard => "standard",
            Self::Premium => "premium",
        }
    }

    /// Whether the tier's tenants have a table of their own (silo) rather than the pooled one.
    pub fn is_silo(self) -> bool {
        self == Self::Premium
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
