//! `plan`/`apply --simulate`: a run against an embedded SendGrid simulator, a demo that needs no
//! account (nothing leaves the machine). Only builds with the `simulator` feature have one.

use super::keys::Keys;
use crate::sendgrid::ClientConfig;

/// The key the embedded simulator accepts when no key is given.
#[cfg(feature = "simulator")]
const DEMO_KEY: &str = "SG.simulated-demo-key.key";

/// Starts a simulator on `listen` that accepts `SENDGRID_API_KEY` (or a demo key), gives `run` that key and
/// `config` pointed at the simulator, then prints the requests the simulator saw and stops it.
#[cfg(feature = "simulator")]
pub async fn with_simulator<T>(
    listen: std::net::SocketAddr,
    mut config: ClientConfig,
    run: impl AsyncFnOnce(Keys, ClientConfig) -> Result<T, String>,
) -> Result<T, String> {
    use crate::sendgrid::ApiKey;
    use crate::simulator::{SimConfig, Simulator};

    let raw = std::env::var("SENDGRID_API_KEY").unwrap_or_else(|_| DEMO_KEY.to_string());
    let key = ApiKey::new(&raw).map_err(|e| format!("API key: {e}"))?;
    let sim = Simulator::start(listen, SimConfig::with_keys(&[raw.trim()]))
        .await
        .map_err(|e| format!("simulator on {listen}: {e}"))?;
    config.endpoints.global = sim.global_url();
    config.endpoints.eu = sim.eu_url();
    eprintln!(
        "using an embedded SendGrid simulator at {} (nothing leaves this machine)",
        sim.global_url()
    );
    let result = run(Keys::fixed(key), config).await;
    for r in sim.requests() {
        let body = r.body.map(|b| format!(" {b}")).unwrap_or_default();
        eprintln!(
            "simulator saw: {} {} -> {}{body}",
            r.method, r.path, r.status
        );
    }
    sim.shutdown().await;
    result
}

/// Without the simulator: says which build has one.
#[cfg(not(feature = "simulator"))]
pub async fn with_simulator<T>(
    _: std::net::SocketAddr,
    _: ClientConfig,
    _: impl AsyncFnOnce(Keys, ClientConfig) -> Result<T, String>,
) -> Result<T, String> {
    Err("--simulate: this binary was built without the embedded SendGrid simulator (cargo feature `simulator`, on by default)".to_string())
}
