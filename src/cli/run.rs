//! `run`: the controller with its metrics/health port, until SIGTERM.

use super::Global;
use crate::controller::backoff::BackoffConfig;
use crate::controller::run::preflight;
use crate::controller::{RunOptions, Settings};
use crate::sendgrid::SendGridClient;
use crate::telemetry::Metrics;
use crate::telemetry::http::{self, Health};
use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address of the port serving /metrics, /healthz and /readyz.
    #[arg(
        long,
        env = "METRICS_ADDR",
        default_value = "0.0.0.0:8080",
        value_name = "ADDR"
    )]
    pub metrics_addr: SocketAddr,
    /// Watch only this namespace (repeatable; default: all namespaces).
    #[arg(
        long = "namespace",
        env = "WATCH_NAMESPACES",
        value_delimiter = ',',
        value_name = "NS"
    )]
    pub namespaces: Vec<String>,
    /// Reconcile within seconds when a referenced Secret changes (a metadata-only watch on
    /// Secrets; needs list/watch on secrets).
    #[arg(long, env = "WATCH_SECRETS")]
    pub watch_secrets: bool,
    /// Reconciles running at once.
    #[arg(long, env = "CONCURRENCY", default_value_t = 8)]
    pub concurrency: u16,
    /// First retry delay after a failure (doubles per failure, with jitter).
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub retry_base_delay: Duration,
    /// Longest retry delay after failures.
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub retry_max_delay: Duration,
}

/// Parses a Go-style duration such as "2s", "500ms" or "5m".
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d: kube::core::Duration = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
    if d.is_negative() {
        return Err(format!("{text:?}: must not be negative"));
    }
    Ok(d.into())
}

impl RunArgs {
    fn options(&self) -> RunOptions {
        RunOptions {
            namespaces: self.namespaces.clone(),
            watch_secrets: self.watch_secrets,
            concurrency: self.concurrency,
            instance: std::env::var("POD_NAME").ok(),
            settings: Settings {
                backoff: BackoffConfig {
                    base: self.retry_base_delay,
                    max: self.retry_max_delay,
                },
            },
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C only");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

pub async fn run(global: &Global, args: &RunArgs) -> Result<(), String> {
    let options = args.options();
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("no Kubernetes cluster reachable: {e}"))?;
    preflight(&client, &options).await?;
    let sendgrid = SendGridClient::new(global.client_config()).map_err(|e| e.to_string())?;
    let metrics = Metrics::default();
    let health = Health::default();
    let (addr, serve) = http::bind(args.metrics_addr, metrics.clone(), health.clone())
        .await
        .map_err(|e| format!("--metrics-addr {}: {e}", args.metrics_addr))?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    let server = tokio::spawn(serve);
    metrics.set_leader(true);
    crate::controller::run(
        client,
        sendgrid,
        metrics,
        health,
        options,
        shutdown_signal(),
    )
    .await;
    tracing::info!("stopped");
    server.abort();
    Ok(())
}
