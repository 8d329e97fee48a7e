//! The command line: flags and subcommands of the one binary. `plan` and `apply` are in builds
//! with the feature `validation` (they check their input as the API server would), `simulate` in
//! builds with `simulator`; `run` and `crd` are always there.

#[cfg(feature = "validation")]
mod embedded;
#[cfg(feature = "validation")]
pub mod file;
#[cfg(feature = "validation")]
mod inputs;
#[cfg(feature = "validation")]
mod keys;
#[cfg(feature = "validation")]
mod report;
pub mod run;
#[cfg(feature = "simulator")]
pub mod simulate;
#[cfg(feature = "validation")]
mod sync;

use crate::sendgrid::{ClientConfig, Endpoints};
use crate::telemetry::logging::LogFormat;
use clap::{Args, Parser, Subcommand};
use url::Url;

/// The version and the commit it was built from, as `--version` prints them.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("OPERATOR_COMMIT"),
    ")"
);

/// Keeps SendGrid's Enforced TLS settings equal to SendGridEnforcedTls resources.
#[derive(Debug, Parser)]
#[command(name = "sendgrid-tls-operator", version = VERSION, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes; each help lists them once, under their own heading.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Replace SendGrid's global API host (for tests and the simulator).
    #[arg(long, global = true, env = "SENDGRID_URL", value_name = "URL")]
    pub(crate) sendgrid_url: Option<Url>,
    /// Replace SendGrid's EU API host (for tests and the simulator).
    #[arg(long, global = true, env = "SENDGRID_EU_URL", value_name = "URL")]
    pub(crate) sendgrid_eu_url: Option<Url>,
    /// Log format.
    #[arg(long, global = true, env = "SENDGRID_TLS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `sendgrid_tls_operator=debug`.
    #[arg(
        long,
        global = true,
        env = "SENDGRID_TLS_LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
    /// How long one SendGrid request may take, answer included; at least 10ms.
    #[arg(long, global = true, env = "SENDGRID_TLS_SENDGRID_TIMEOUT", default_value = "30s", value_parser = run::parse_delay, value_name = "DURATION")]
    pub(crate) sendgrid_timeout: std::time::Duration,
    /// Accept an http:// SendGrid URL on a host other than loopback: only for a simulator in
    /// the cluster (the chart's demo mode). It sends the API key in clear text.
    #[arg(long, global = true, env = "SENDGRID_TLS_ALLOW_HTTP_SENDGRID_URL")]
    pub(crate) allow_http_sendgrid_url: bool,
}

impl Global {
    /// The SendGrid client settings these flags describe.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let defaults = Endpoints::default();
        ClientConfig {
            endpoints: Endpoints {
                global: self.sendgrid_url.clone().unwrap_or(defaults.global),
                eu: self.sendgrid_eu_url.clone().unwrap_or(defaults.eu),
            },
            request_timeout: self.sendgrid_timeout,
            allow_http: self.allow_http_sendgrid_url,
            ..ClientConfig::default()
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller.
    Run(run::RunArgs),
    /// Print the CustomResourceDefinition as YAML.
    Crd,
    /// Show what one reconcile of each resource would change in SendGrid; change nothing.
    ///
    /// Exit 1 when any resource fails; with --detailed-exitcode, 2 when any would change or has
    /// drifted in Observe mode (as terraform plan).
    #[cfg(feature = "validation")]
    Plan(file::PlanArgs),
    /// Make SendGrid match each resource once, and print the status the controller would write.
    ///
    /// Exit 1 when any resource fails.
    #[cfg(feature = "validation")]
    Apply(file::FileArgs),
    /// Serve a local SendGrid simulator (global at /v3, EU at /eu/v3, admin at /_sim).
    #[cfg(feature = "simulator")]
    Simulate(simulate::SimulateArgs),
}
