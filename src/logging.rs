//! Diagnostics via `tracing`: to stderr in headless mode (quiet unless
//! `RUST_LOG` asks for more). Never the API keys: they only live in header
//! values marked sensitive.

/// Logs to stderr at the level in `RUST_LOG` (default: warnings).
pub fn init_stderr() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
