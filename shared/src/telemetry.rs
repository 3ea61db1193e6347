//! Logging: one JSON object per line, with the current request span's fields (`request_id`,
//! `tenant_id`, `user_id`) on every line logged inside a request.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. `RUST_LOG` sets the filter (default `info`). Safe to call twice
/// (the second call does nothing), so tests may call it too.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .try_init();
}
