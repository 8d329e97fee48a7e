//! `cargo run --example dev-cluster`: the whole loop on one machine, with no cluster and no
//! SendGrid account. Starts the Kubernetes API test server (`kube-testkit`, with the CRD
//! installed and validated by its schema and CEL rules), the SendGrid simulator, and the
//! operator's own controller in this process, writes its kubeconfig, and prints the kubectl and
//! curl commands to try. Everything listens on loopback and lives in memory; Ctrl-C stops it.
//!
//! The kubeconfig is `target/dev-cluster/kubeconfig-<port>`, and `target/dev-cluster/kubeconfig`
//! too unless another dev cluster that still runs holds that name: a second instance never
//! points the first one's kubectl at itself. The banner prints the path and its export line.
//!
//! Fixed ports when free (API 6443, simulator 8025, metrics 8080), otherwise any free port: the
//! banner shows which.

use kube::CustomResourceExt;
use kube_testkit::{Published, Shared, TestServer, Validator};
use sendgrid_tls_operator::api::validation::{resource_schema, validate_object};
use sendgrid_tls_operator::api::{SendGridEnforcedTls, SendGridTarget};
use sendgrid_tls_operator::cli::run::shutdown_signal;
use sendgrid_tls_operator::controller::{self, RunOptions, Timing};
use sendgrid_tls_operator::sendgrid::{ClientConfig, Endpoints, SendGridClient};
use sendgrid_tls_operator::simulator::{SimConfig, Simulator};
use sendgrid_tls_operator::telemetry::Metrics;
use sendgrid_tls_operator::telemetry::http::{self, Health};
use sendgrid_tls_operator::telemetry::logging::{self, LogFormat};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The placeholder key the Secrets in `examples/secrets/` hold: the simulator accepts it.
const KEY: &str = "SG.replace-me.with-your-key";
/// Drift checks every 10s (instead of 10m), so a change "in the UI" is put back quickly.
const RESYNC: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn run() -> Result<(), String> {
    logging::init(LogFormat::Text, "info")?;
    let signal = shutdown_signal();

    let server = match TestServer::bind(loopback(6443)).await {
        Ok(server) => server,
        Err(_) => TestServer::start().await,
    };
    let schema = resource_schema();
    let validator: Validator = Arc::new(move |object: &serde_json::Value| {
        validate_object(&schema, object)
            .map_err(|violations| violations.iter().map(ToString::to_string).collect())
    });
    server.register_crd(&SendGridEnforcedTls::crd(), Some(validator));
    server.register_crd(&SendGridTarget::crd(), None);

    let sim_config = SimConfig::with_keys(&[KEY]);
    let sim = match Simulator::start(loopback(8025), sim_config.clone()).await {
        Ok(sim) => sim,
        Err(_) => Simulator::start(loopback(0), sim_config)
            .await
            .map_err(|e| format!("simulator: {e}"))?,
    };

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dev-cluster");
    let kubeconfig = kube_testkit::publish_kubeconfig(
        &dir,
        &server.url(),
        server.addr().port(),
        &server.kubeconfig_yaml(),
    )
    .await
    .map_err(|e| format!("{}: {e}", dir.display()))?;

    let metrics = Metrics::default();
    let health = Health::default();
    let (metrics_addr, serve) =
        match http::bind(loopback(8080), metrics.clone(), health.clone()).await {
            Ok(bound) => bound,
            Err(_) => http::bind(loopback(0), metrics.clone(), health.clone())
                .await
                .map_err(|e| format!("metrics port: {e}"))?,
        };
    let metrics_server = tokio::spawn(serve);

    let sendgrid = SendGridClient::new(ClientConfig {
        endpoints: Endpoints {
            global: sim.global_url(),
            eu: sim.eu_url(),
        },
        ..ClientConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let options = RunOptions {
        concurrency: 8,
        timing: Timing {
            default_resync: RESYNC,
            ..Timing::default()
        },
        ..RunOptions::default()
    };

    print_usage(
        &server.url(),
        sim.global_url().as_str(),
        metrics_addr,
        &kubeconfig,
    );
    metrics.set_leader(true);
    health.set_role("leader");
    controller::run(server.client(), sendgrid, metrics, health, options, signal).await;

    metrics_server.abort();
    sim.shutdown().await;
    server.shutdown().await;
    println!("dev cluster stopped");
    Ok(())
}

/// The path relative to the current directory when it is inside it (shorter to copy).
fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

/// What became of the shared name `target/dev-cluster/kubeconfig`.
fn shared_note(shared: &Shared) -> String {
    match shared {
        Shared::Written(path) => format!("(also {})", shown(path).display()),
        Shared::Kept { path, server } => format!(
            "({} is left to the dev cluster still running at {server}: not this one)",
            shown(path).display()
        ),
    }
}

fn print_usage(api: &str, sim: &str, metrics: SocketAddr, kubeconfig: &Published) {
    let sim = sim.trim_end_matches('/');
    let shared = shared_note(&kubeconfig.shared);
    let own = kubeconfig.own.display().to_string();
    let kubeconfig = shown(&kubeconfig.own).display().to_string();
    let k = format!("kubectl --kubeconfig {kubeconfig}");
    println!(
        "\
dev cluster up (loopback only, state in memory; Ctrl-C stops it)

  Kubernetes API (test server)  {api}   CRD sgtls installed, with its validation
  SendGrid simulator            {sim}   key {KEY}, account \"main\" with the examples' subusers
  operator /metrics             http://{metrics}/metrics   (/healthz, /readyz)
  kubeconfig                    {kubeconfig}   {shared}
  drift check every {RESYNC:?} (this dev cluster's default resyncInterval)

For a shell of its own:  export KUBECONFIG={own}

Try, from the repository root:

  {k} create namespace mail
  {k} apply -f examples/secrets/       # placeholder keys the simulator accepts
  {k} apply -f examples/basic.yaml
  {k} wait --for=condition=Ready sgtls/account -n mail
  {k} get sgtls -A
  # what the operator sent to SendGrid:
  curl -s {sim}/_sim/requests

Drift, as if someone changed the setting in SendGrid's UI; corrected within {RESYNC:?}:

  curl -s -X PUT '{sim}/_sim/settings?account=main' -d '{{\"requireTls\":false}}'
  curl -s '{sim}/_sim/settings?account=main'
  {k} get events -n mail
  # or reconcile at once:
  {k} annotate sgtls/account -n mail sendgrid.ops.dev/reconcile-requested-at=\"$(date +%s)\" --overwrite

More: every example (subusers, a customer account, EU, Observe, Restore), and the metrics:

  {k} apply -f examples/
  curl -s http://{metrics}/metrics

(The CRD is installed already: `kubectl apply -f crds/` would replace it without its validation.)
"
    );
}
