//! `simulate`: the SendGrid simulator as a server, for people and for out-of-process tests.

use crate::simulator::{SimConfig, Simulator};
use clap::Args;
use std::net::SocketAddr;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8025", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// An API key the simulator accepts, with read and update scopes (repeatable).
    #[arg(
        long = "api-key",
        env = "SIMULATOR_API_KEYS",
        value_delimiter = ',',
        required = true,
        value_name = "KEY"
    )]
    pub api_keys: Vec<String>,
}

pub async fn run(args: &SimulateArgs) -> Result<(), String> {
    let stop = super::run::shutdown_signal();
    let keys: Vec<&str> = args.api_keys.iter().map(|k| k.trim()).collect();
    let sim = Simulator::start(args.listen, SimConfig::with_keys(&keys))
        .await
        .map_err(|e| format!("--listen {}: {e}", args.listen))?;
    eprintln!(
        "SendGrid simulator: global {} , EU {} , admin {}/_sim/requests ({} key(s)); Ctrl-C stops it",
        sim.global_url(),
        sim.eu_url(),
        sim.global_url().as_str().trim_end_matches('/'),
        keys.len()
    );
    stop.await;
    sim.shutdown().await;
    Ok(())
}
