//! `run`: the controller with its metrics/health port, until SIGTERM.

use super::Global;
use crate::controller::backoff::BackoffConfig;
use crate::controller::leader::{self, LeaderConfig};
use crate::controller::run::preflight;
use crate::controller::{RunOptions, Timing};
use crate::sendgrid::budget::DEFAULT_PER_MINUTE;
use crate::sendgrid::{ClientConfig, SendGridClient};
use crate::telemetry::http::{self, Health};
use crate::telemetry::{Metrics, PerNamespace, logging};
use clap::Args;
use kube::client::ClientBuilder;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address of the port serving /metrics, /healthz and /readyz.
    #[arg(
        long,
        env = "SENDGRID_TLS_METRICS_ADDR",
        default_value = "0.0.0.0:8080",
        value_name = "ADDR"
    )]
    pub(crate) metrics_addr: SocketAddr,
    /// Add a `namespace` label to the resources-by-state gauge and the drift-corrections
    /// counter, so alerts can be routed to the team owning a namespace. The series then grow
    /// with the number of namespaces holding resources (never with the resources). Prometheus
    /// keeps the label as `namespace` only when the scrape honours the target's labels
    /// (ServiceMonitor `honorLabels: true`); otherwise it becomes `exported_namespace`.
    #[arg(long, env = "SENDGRID_TLS_METRICS_PER_NAMESPACE")]
    pub(crate) metrics_per_namespace: bool,
    /// Watch only this namespace (repeatable; default: all namespaces).
    #[arg(
        long = "namespace",
        env = "SENDGRID_TLS_WATCH_NAMESPACES",
        value_delimiter = ',',
        value_name = "NS"
    )]
    pub(crate) namespaces: Vec<String>,
    /// Reconcile within seconds when a referenced Secret changes (a metadata-only watch on
    /// Secrets; needs list/watch on secrets).
    #[arg(long, env = "SENDGRID_TLS_WATCH_SECRETS")]
    pub(crate) watch_secrets: bool,
    /// Reconciles running at once (0: no bound). Reconciles waiting for their key's rate
    /// budget do not count: they wait in the queue.
    #[arg(long, env = "SENDGRID_TLS_CONCURRENCY", default_value_t = 16)]
    pub(crate) concurrency: u16,
    /// Requests per API key and endpoint per one-minute window the operator allows itself, a
    /// little under SendGrid's limit (600); it never exceeds 95% of the limit SendGrid reports.
    #[arg(long, env = "SENDGRID_TLS_SENDGRID_RATE_BUDGET", default_value_t = DEFAULT_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..), value_name = "REQUESTS")]
    pub(crate) sendgrid_rate_budget: u32,
    /// First retry delay after a failure (doubles per failure, with jitter); at least 10ms.
    #[arg(long, default_value = "2s", value_parser = parse_delay, value_name = "DURATION")]
    pub(crate) retry_base_delay: Duration,
    /// Longest retry delay after failures; at least 10ms.
    #[arg(long, default_value = "5m", value_parser = parse_delay, value_name = "DURATION")]
    pub(crate) retry_max_delay: Duration,
    /// Drift-check period of resources that set no spec.resyncInterval; at least 1s.
    #[arg(long, env = "SENDGRID_TLS_DEFAULT_RESYNC_INTERVAL", default_value = "10m", value_parser = parse_interval, value_name = "DURATION")]
    pub(crate) default_resync_interval: Duration,
    /// How long a deleted Restore/Reset resource waits for an API key to put SendGrid back with
    /// (its Secret may be gone first) before it is let go with a Warning; at least 1s.
    #[arg(long, env = "SENDGRID_TLS_CLEANUP_TIMEOUT", default_value = "10m", value_parser = parse_interval, value_name = "DURATION")]
    pub(crate) cleanup_timeout: Duration,
    /// Reconcile only while holding a Lease, so several replicas can run (one active).
    #[arg(long, env = "SENDGRID_TLS_LEADER_ELECTION")]
    pub(crate) leader_election: bool,
    /// Namespace of the Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", value_name = "NS")]
    pub(crate) leader_election_namespace: Option<String>,
    /// Name of the Lease.
    #[arg(long, default_value = "sendgrid-tls-operator", value_name = "NAME")]
    pub(crate) leader_election_lease: String,
    /// Seconds the Lease stays valid without renewal (a standby takes over after this).
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    pub(crate) lease_duration: u64,
}

/// Parses a Go-style duration such as "2s", "500ms" or "5m".
fn parse_duration(text: &str) -> Result<Duration, String> {
    let d: kube::core::Duration = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
    if d.is_negative() {
        return Err(format!("{text:?}: must not be negative"));
    }
    Ok(d.into())
}

/// A retry delay: zero would retry in a hot loop.
pub(crate) fn parse_delay(text: &str) -> Result<Duration, String> {
    at_least(text, Duration::from_millis(10), "10ms")
}

/// A period: zero would reconcile in a hot loop.
fn parse_interval(text: &str) -> Result<Duration, String> {
    at_least(text, Duration::from_secs(1), "1s")
}

fn at_least(text: &str, min: Duration, shown: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < min {
        return Err(format!("{text:?}: must be at least {shown}"));
    }
    Ok(d)
}

impl RunArgs {
    fn leader(&self) -> Result<Option<LeaderConfig>, String> {
        if !self.leader_election {
            return Ok(None);
        }
        let namespace = self.leader_election_namespace.clone().ok_or(
            "--leader-election needs --leader-election-namespace (or POD_NAMESPACE) for its Lease",
        )?;
        let identity = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| format!("sendgrid-tls-operator-{}", std::process::id()));
        Ok(Some(LeaderConfig {
            namespace,
            lease_name: self.leader_election_lease.clone(),
            identity,
            duration_secs: self.lease_duration,
        }))
    }

    fn options(&self) -> RunOptions {
        RunOptions {
            namespaces: self.namespaces.clone(),
            watch_secrets: self.watch_secrets,
            concurrency: self.concurrency,
            instance: std::env::var("POD_NAME").ok(),
            timing: Timing {
                backoff: BackoffConfig {
                    base: self.retry_base_delay,
                    max: self.retry_max_delay,
                },
                default_resync: self.default_resync_interval,
                cleanup_timeout: self.cleanup_timeout,
            },
        }
    }
}

/// A future that resolves on SIGTERM or Ctrl-C. The handlers are installed when this is called,
/// not when it is first polled, so a signal right after start-up is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + Sync + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => {
                tracing::warn!("cannot listen for signals; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

pub async fn run(global: &Global, args: &RunArgs) -> Result<(), String> {
    let options = args.options();
    let leader = args.leader()?;
    let metrics = Metrics::new(PerNamespace(args.metrics_per_namespace));
    let no_cluster = |e: &dyn std::fmt::Display| format!("no Kubernetes cluster reachable: {e}");
    let config = kube::Config::infer().await.map_err(|e| no_cluster(&e))?;
    let client = ClientBuilder::try_from(config)
        .map_err(|e| no_cluster(&e))?
        .with_layer(&metrics.kube_layer())
        .build();
    preflight(&client, &options).await?;
    // Logging starts after the preflight, so a missing cluster is one line from us, not also
    // kube's own error log.
    logging::init(global.log_format, &global.log_level)?;
    crate::controller::permissions::report_missing(&client, &options).await;
    let client_config = ClientConfig {
        budget_per_minute: args.sendgrid_rate_budget,
        ..global.client_config()
    };
    let sendgrid = SendGridClient::new(client_config).map_err(|e| e.to_string())?;
    let health = Health::default();
    let (addr, serve) = http::bind(args.metrics_addr, metrics.clone(), health.clone())
        .await
        .map_err(|e| format!("--metrics-addr {}: {e}", args.metrics_addr))?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    let server = tokio::spawn(serve);
    let result = match leader {
        None => {
            metrics.set_leader(true);
            health.set_role("leader");
            crate::controller::run(
                client,
                sendgrid,
                metrics,
                health,
                options,
                shutdown_signal(),
            )
            .await;
            Ok(())
        }
        Some(config) => lead(client, sendgrid, metrics, health, options, &config).await,
    };
    tracing::info!("stopped");
    server.abort();
    result
}

/// Runs the controller only while holding the Lease. Losing it ends the process with an error,
/// so the Deployment restarts it as a standby with a clean cache.
async fn lead(
    client: kube::Client,
    sendgrid: SendGridClient,
    metrics: Metrics,
    health: Health,
    options: RunOptions,
    config: &LeaderConfig,
) -> Result<(), String> {
    let mut election = leader::join(client.clone(), config).await?;
    metrics.set_leader(false);
    // A standby is ready: it is healthy and will take over when the leader goes.
    health.set_role("standby");
    health.set_ready(true);
    tracing::info!(lease = %config.lease_name, identity = %config.identity, "waiting to lead");
    tokio::select! {
        leading = election.wait_for_lead() => if !leading {
            return Err("leader election ended unexpectedly".to_string());
        },
        () = shutdown_signal() => {
            election.release().await;
            return Ok(());
        }
    }
    tracing::info!(identity = %config.identity, "leading");
    let lost = election.lost();
    let sendgrid = sendgrid.with_fence(election.fence());
    metrics.set_leader(true);
    health.set_role("leader");
    health.set_ready(false);
    // SIGTERM lets reconciles under way finish; losing the lease drops the controller at once
    // (cancelling them), because another replica may already be writing.
    tokio::select! {
        () = crate::controller::run(client, sendgrid, metrics.clone(), health, options, shutdown_signal()) => {}
        () = lost => {
            metrics.set_leader(false);
            return Err("lost the leader lease; exiting so that a restart rejoins as a standby".to_string());
        }
    }
    metrics.set_leader(false);
    election.release().await;
    Ok(())
}
