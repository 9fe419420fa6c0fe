//! Logging set-up: human text or JSON lines, filtered by RUST_LOG (default `info`).

use crate::config::LogFormat;
use tracing_subscriber::{EnvFilter, fmt};

/// Install the global subscriber once; later calls (tests) are ignored.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
