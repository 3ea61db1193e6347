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

    /// The `.rs` files below `dir`.
    fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }

    /// The variable names the code (not its tests) reads through this module's `required`,
    /// `optional` and `duration`, and `setup::secret_parameter`.
    fn names_read() -> std::collections::BTreeSet<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        sources(&root.join("shared/src"), &mut files);
        sources(&root.join("functions"), &mut files);
        let mut names = std::collections::BTreeSet::new();
        for file in files {
            if file.file_name().is_some_and(|name| name == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("a source file");
            // What the code reads, not what its tests set up.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for call in [
                "required(\"",
                "optional(\"",
                "duration(\"",
                "secret_parameter(sdk, \"",
            ] {
                for (at, _) in text.match_indices(call) {
                    let rest = &text[at + call.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                        .collect();
                    if !name.is_empty() && rest[name.len()..].starts_with('"') {
                        names.insert(name);
                    }
                }
            }
        }
        names
    }

    /// The variable names template.yaml sets, in any function's `Environment.Variables` or the
    /// globals'.
    fn names_set() -> std::collections::BTreeSet<String> {
        let template = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
        )
        .expect("template.yaml");
        let mut names = std::collections::BTreeSet::new();
        let mut block: Option<usize> = None;
        for line in template.lines() {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim();
            if trimmed == "Variables:" {
                block = Some(indent);
                continue;
            }
            let Some(outer) = block else { continue };
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if indent <= outer {
                block = None;
                continue;
            }
            if let Some((name, _)) = trimmed.split_once(':') {
                names.insert(name.to_owned());
            }
        }
        names
    }

    /// Every variable the code reads is one the template sets (or Lambda's own), and every
    /// variable the template sets is read by the code (or by a library: the log level, the TLS
    /// trust store): a renamed or misspelt variable fails here, not at a cold start in AWS.
    #[test]
    fn the_variables_read_are_the_templates() {
        const SET_BY_LAMBDA: &[&str] = &["AWS_LAMBDA_FUNCTION_NAME"];
        const READ_BY_LIBRARIES: &[&str] = &["RUST_LOG", "SSL_CERT_FILE"];
        let read = names_read();
        let set = names_set();
        assert!(read.len() >= 19, "the scan found the names: {read:?}");
        let unset: Vec<&String> = read
            .iter()
            .filter(|name| !set.contains(*name) && !SET_BY_LAMBDA.contains(&name.as_str()))
            .collect();
        assert!(
            unset.is_empty(),
            "read but never set in template.yaml: {unset:?}"
        );
        let unread: Vec<&String> = set
            .iter()
            .filter(|name| !read.contains(*name) && !READ_BY_LIBRARIES.contains(&name.as_str()))
            .collect();
        assert!(
            unread.is_empty(),
            "set in template.yaml but never read: {unread:?}"
        );
    }

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
