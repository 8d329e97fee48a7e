//! Leader election over a coordination.k8s.io Lease (kube-lease-manager): only the holder
//! reconciles; a standby waits; a leader that loses the lease stops at once.

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub namespace: String,
    pub lease_name: String,
    /// Unique per replica: the pod name.
    pub identity: String,
    /// Seconds a lease stays valid without renewal; a standby takes over after this.
    pub duration_secs: u64,
}

/// A running election: `leading` turns true when this replica holds the lease.
pub struct Election {
    pub leading: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
}

/// Starts taking part in the election.
pub async fn join(client: Client, config: &LeaderConfig) -> Result<Election, String> {
    if config.duration_secs < 2 {
        return Err("--lease-duration must be at least 2 seconds".to_string());
    }
    // Renew a third of the way before expiry, so a slow API server does not cost the lease.
    let grace = (config.duration_secs / 3).max(1);
    let manager = LeaseManagerBuilder::new(client, &config.lease_name)
        .with_namespace(&config.namespace)
        .with_parameters(LeaseParams::new(
            &config.identity,
            config.duration_secs,
            grace,
        ))
        .build()
        .await
        .map_err(|e| format!("leader election in namespace {}: {e}", config.namespace))?;
    let (leading, task) = manager.watch().await;
    Ok(Election { leading, task })
}

impl Election {
    /// Waits until this replica leads; false if the election ended first.
    pub async fn wait_for_lead(&mut self) -> bool {
        self.leading.wait_for(|leading| *leading).await.is_ok()
    }

    /// Resolves when this replica no longer leads.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut leading = self.leading.clone();
        async move {
            let _ = leading.wait_for(|leading| !*leading).await;
        }
    }

    /// Gives the lease up (closing the channel makes the manager release it) and waits for that.
    pub async fn release(self) {
        drop(self.leading);
        match self.task.await {
            Ok(Ok(_)) => tracing::info!("leader lease released"),
            Ok(Err(error)) => tracing::warn!(%error, "could not release the leader lease"),
            Err(error) => tracing::warn!(%error, "leader election task failed"),
        }
    }
}
