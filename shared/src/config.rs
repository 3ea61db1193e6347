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

/// Reads a required duration written as a whole number and its unit: `7d`, `12h`, `30m`, `45s`.
pub fn duration(name: &'static str) -> Result<std::time::Duration, ConfigError> {
    let raw = required(name)?;
    parse_duration(raw.trim()).ok_or_else(|| ConfigError::Invalid {
        name,
        reason: format!("{raw:?} is not a duration such as 7d, 12h, 30m or 45s"),
    })
}

fn parse_duration(raw: &str) -> Option<std::time::Duration> {
    let unit = match raw.chars().last()? {
        'd' => 24 * 60 * 60,
        'h' => 60 * 60,
        'm' => 60,
        's' => 1,
        _ => return None,
    };
    let digits = &raw[..raw.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let count: u64 = digits.parse().ok()?;
    Some(std::time::Duration::from_secs(count.checked_mul(unit)?))
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
    fn durations_are_a_number_and_a_unit() {
        let secs = |raw| parse_duration(raw).map(|d| d.as_secs());
        assert_eq!(secs("7d"), Some(604_800));
        assert_eq!(secs("12h"), Some(43_200));
        assert_eq!(secs("30m"), Some(1_800));
        assert_eq!(secs("45s"), Some(45));
        assert_eq!(secs("0s"), Some(0));
        for bad in [
            "",
            "d",
            "7",
            "7w",
            "-1d",
            "1.5d",
            "7 d",
            "99999999999999999999d",
        ] {
            assert_eq!(secs(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn missing_variable_names_itself() {
        let err = required("TENANTRY_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable TENANTRY_TEST_SURELY_UNSET_VARIABLE is not set"
        );
    }
}
