//! The command line: flags and subcommands of the one binary.

mod embedded;
pub mod file;
mod inputs;
mod keys;
mod report;
pub mod run;
#[cfg(feature = "simulator")]
pub mod simulate;

use crate::sendgrid::{ClientConfig, Endpoints};
use crate::telemetry::logging::LogFormat;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use url::Url;

/// Keeps SendGrid's Enforced TLS settings equal to SendGridEnforcedTls resources.
#[derive(Debug, Parser)]
#[command(name = "sendgrid-tls-operator", version, about)]
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
    pub sendgrid_url: Option<Url>,
    /// Replace SendGrid's EU API host (for tests and the simulator).
    #[arg(long, global = true, env = "SENDGRID_EU_URL", value_name = "URL")]
    pub sendgrid_eu_url: Option<Url>,
    /// Log format.
    #[arg(long, global = true, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `sendgrid_tls_operator=debug`.
    #[arg(long, global = true, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// How long one SendGrid request may take, answer included; at least 10ms.
    #[arg(long, global = true, env = "SENDGRID_TIMEOUT", default_value = "30s", value_parser = run::parse_delay, value_name = "DURATION")]
    pub sendgrid_timeout: std::time::Duration,
    /// Accept an http:// SendGrid URL on a host other than loopback: only for a simulator in
    /// the cluster (the chart's demo mode). It sends the API key in clear text.
    #[arg(long, global = true, env = "ALLOW_HTTP_SENDGRID_URL")]
    pub allow_http_sendgrid_url: bool,
}

impl Global {
    /// The SendGrid client settings these flags describe.
    pub fn client_config(&self) -> ClientConfig {
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
    Plan(PlanArgs),
    /// Make SendGrid match each resource once, and print the status the controller would write.
    ///
    /// Exit 1 when any resource fails.
    Apply(FileArgs),
    /// Serve a local SendGrid simulator (global at /v3, EU at /eu/v3, admin at /_sim).
    #[cfg(feature = "simulator")]
    Simulate(simulate::SimulateArgs),
}

/// How `plan` and `apply` print their report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// One line per resource (apply: the status each would get, as YAML), then a summary.
    #[default]
    Text,
    /// One JSON document: every resource's result, changes, status and error, and a summary.
    Json,
    /// The JSON report as YAML.
    Yaml,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// A YAML or JSON file of SendGridEnforcedTls resources (several documents, or a kubectl
    /// List), a directory (its *.yaml, *.yml and *.json files, not recursive) or - for stdin.
    /// Repeatable. Other kinds are skipped.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
    /// A file holding the API key, for every resource that no --secret names.
    #[arg(long, value_name = "PATH", conflicts_with = "simulate")]
    pub api_key_file: Option<PathBuf>,
    /// The key of the Secret a resource names in spec.apiKeySecretRef: NAME=PATH or
    /// NAMESPACE/NAME=PATH, PATH a file holding the key. Repeatable; wins over --api-key-file
    /// and SENDGRID_API_KEY.
    #[arg(long = "secret", value_name = "NAME=PATH", value_parser = keys::parse_secret, conflicts_with = "simulate")]
    pub secrets: Vec<(String, PathBuf)>,
    /// Report format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Run against an embedded SendGrid simulator instead of SendGrid (a demo with no account:
    /// nothing leaves this machine).
    #[arg(long)]
    pub simulate: bool,
    /// Where the embedded simulator listens (with --simulate).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        requires = "simulate"
    )]
    pub simulate_listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Exit 0 when nothing would change, 2 when something would change or has drifted in Observe
    /// mode, 1 on any error (terraform plan's -detailed-exitcode).
    #[arg(long)]
    pub detailed_exitcode: bool,
}
