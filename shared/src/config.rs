//! Typed configuration read once at cold start.
//!
//! A missing or empty variable fails the function's init with the variable's name, so a
//! misconfigured deployment is visible in the first log line rather than in the first request.

use std::env;

/// A configuration variable that is missing or unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads a required, non-empty variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// Reads an optional variable; empty counts as unset.
pub fn optional(name: &'static str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// Configuration of a function that reads or writes tenant data.
#[derive(Debug, Clone)]
pub struct DataConfig {
    /// The pooled data table (`DATA_TABLE`).
    pub data_table: String,
}

impl DataConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            data_table: required("DATA_TABLE")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variable_names_itself() {
        let err = required("TENANTRY_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable TENANTRY_TEST_SURELY_UNSET_VARIABLE is not set"
        );
    }
}
