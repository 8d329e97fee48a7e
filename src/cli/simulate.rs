//! `simulate`: the SendGrid simulator as a server, for people and for out-of-process tests.

use crate::simulator::{SimAccount, SimConfig, Simulator};
use clap::Args;
use std::net::SocketAddr;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8025", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// An API key the simulator accepts, with the Enforced TLS read and update scopes and
    /// user.username.read (repeatable).
    #[arg(
        long = "api-key",
        env = "SENDGRID_TLS_SIMULATOR_API_KEYS",
        value_delimiter = ',',
        required = true,
        value_name = "KEY"
    )]
    pub(crate) api_keys: Vec<String>,
    /// More global subusers of account "main", by name or pattern: `team-{0..9999}` is ten
    /// thousand (repeatable).
    #[arg(long = "subusers", value_name = "PATTERN")]
    pub(crate) subusers: Vec<String>,
    /// More EU subusers of account "main", by name or pattern (repeatable).
    #[arg(long = "eu-subusers", value_name = "PATTERN")]
    pub(crate) eu_subusers: Vec<String>,
    /// More customer accounts (ids) of account "main", by id or pattern: `{1000..1999}`
    /// (repeatable).
    #[arg(long = "customer-accounts", value_name = "PATTERN")]
    pub(crate) customer_accounts: Vec<String>,
    /// Requests each key may make to each endpoint per one-minute window before it gets 429.
    #[arg(long, default_value_t = 600, value_name = "REQUESTS")]
    pub(crate) rate_limit: u32,
}

impl SimulateArgs {
    /// The examples' accounts and these keys, plus the fleets the flags name.
    fn config(&self) -> Result<SimConfig, String> {
        let keys: Vec<&str> = self.api_keys.iter().map(|k| k.trim()).collect();
        let mut config = SimConfig::with_keys(&keys);
        config.rate_limit_per_minute = self.rate_limit;
        config.accounts.push(SimAccount::fleet(
            "main",
            &self.subusers,
            &self.eu_subusers,
            &self.customer_accounts,
        )?);
        Ok(config)
    }
}

pub async fn run(args: &SimulateArgs) -> Result<(), String> {
    let stop = super::run::shutdown_signal();
    let config = args.config()?;
    let targets: usize = config
        .accounts
        .iter()
        .map(|a| a.subusers.len() + a.customer_accounts.len())
        .sum();
    let sim = Simulator::start(args.listen, config)
        .await
        .map_err(|e| format!("--listen {}: {e}", args.listen))?;
    eprintln!(
        "SendGrid simulator: global {} , EU {} , admin {}/_sim/requests ({} key(s), {targets} subusers and customer accounts, {} requests per key per minute); Ctrl-C stops it",
        sim.global_url(),
        sim.eu_url(),
        sim.global_url().as_str().trim_end_matches('/'),
        args.api_keys.len(),
        args.rate_limit,
    );
    stop.await;
    sim.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn config(args: &[&str]) -> Result<SimConfig, String> {
        let cli =
            Cli::try_parse_from(["simulate"].iter().chain(args)).map_err(|e| e.to_string())?;
        cli.args.config()
    }

    #[test]
    fn fleets_and_rate_limit_from_flags() {
        let config = config(&[
            "--api-key=SG.a",
            "--subusers=team-{0..9999}",
            "--subusers=solo",
            "--eu-subusers=eu-{1..2}",
            "--customer-accounts={100..104}",
            "--rate-limit=50",
        ])
        .unwrap();
        assert_eq!(config.rate_limit_per_minute, 50);
        let fleet = config.accounts.last().unwrap();
        assert_eq!(fleet.name, "main");
        assert_eq!(fleet.subusers.len(), 10_003);
        assert_eq!(fleet.customer_accounts.len(), 5);
        // The examples' subusers are still there.
        assert!(config.accounts[0].subusers.len() > 1);
    }

    #[test]
    fn a_bad_pattern_is_one_clear_error() {
        let error = config(&["--api-key=SG.a", "--subusers=team-{9..0}"]).unwrap_err();
        assert!(error.contains("team-{9..0}"), "{error}");
    }
}
