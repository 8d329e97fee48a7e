//! The command line: flags and subcommands of the one binary.

pub mod file;
pub mod run;
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

/// Flags every subcommand takes.
#[derive(Debug, Args)]
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
    /// Show what one reconcile of a resource file would change in SendGrid; change nothing.
    /// Exit 0: in sync; 2: changes pending; 1: error.
    Plan(FileArgs),
    /// Make SendGrid match a resource file once, and print the status the controller would write.
    Apply(FileArgs),
    /// Serve a local SendGrid simulator (global at /v3, EU at /eu/v3, admin at /_sim).
    Simulate(simulate::SimulateArgs),
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// A YAML file holding SendGridEnforcedTls resources (other documents are skipped).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,
    /// A file holding the API key.
    #[arg(long, value_name = "PATH", conflicts_with = "simulate")]
    pub api_key_file: Option<PathBuf>,
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
