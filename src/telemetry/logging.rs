//! Log setup: human text or one JSON object per line, filtered like RUST_LOG.

use clap::ValueEnum;
use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber. `level` is an EnvFilter directive such as `info` or
/// `sendgrid_tls_operator=debug,kube=info`. Logs go to stderr so `crd` and `plan` keep stdout
/// for their output. Text is coloured only on a terminal: a pod's log or a CI job's file would
/// show the escape codes as noise.
pub fn init(format: LogFormat, level: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("--log-level {level:?}: {e}"))?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_ansi(false)
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.map_err(|e| format!("logging could not start: {e}"))
}
