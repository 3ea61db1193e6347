//! Logging: one JSON object per line, with the current request span's fields (`request_id`,
//! `tenant_id`, `user_id`) on every line logged inside a request.

use tracing::level_filters::LevelFilter;

/// The level `RUST_LOG` names (`error`, `warn`, `info`, `debug`, `trace`, `off`); `info` when it
/// is unset or names anything else. Per-crate directives are deliberately not supported: that
/// parser (with its regular-expression engine) costs about a megabyte of binary and a millisecond
/// of cold start, and one level per function is all the template sets.
pub fn level_from(raw: Option<&str>) -> LevelFilter {
    raw.and_then(|raw| raw.trim().parse().ok())
        .unwrap_or(LevelFilter::INFO)
}

/// Installs the JSON subscriber. Safe to call twice (the second call does nothing), so tests
/// may call it too.
pub fn init() {
    let level = level_from(std::env::var("RUST_LOG").ok().as_deref());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_comes_from_rust_log_and_defaults_to_info() {
        assert_eq!(level_from(Some("debug")), LevelFilter::DEBUG);
        assert_eq!(level_from(Some(" WARN ")), LevelFilter::WARN);
        assert_eq!(level_from(None), LevelFilter::INFO);
        assert_eq!(level_from(Some("shared=debug")), LevelFilter::INFO);
    }
}
