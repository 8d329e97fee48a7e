//! Leader election over a coordination.k8s.io Lease (kube-lease-manager): only the holder
//! reconciles; a standby waits; a leader that loses the lease stops at once.
//!
//! kube-lease-manager only logs a failed renewal and goes on calling itself the leader, while a
//! standby may take the expired lease over. So the leader also keeps its own renew deadline (as
//! controller-runtime's `renewDeadline`): when the Lease has not shown a renewal by this replica
//! for two thirds of its duration, it counts as lost, before any standby can take it. The
//! deadline is held in a [`Fence`] that every SendGrid request and Kubernetes write passes right
//! before it is sent, on this replica's monotonic clock: a replica frozen past it (a GC pause, a
//! stopped container) sends nothing when it wakes, whichever timer fires first.

use crate::sendgrid::Fence;
use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use std::time::{Duration, Instant};
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
    leases: Api<Lease>,
    config: LeaderConfig,
    fence: Fence,
}

/// Starts taking part in the election.
pub async fn join(client: Client, config: &LeaderConfig) -> Result<Election, String> {
    if config.duration_secs < 2 {
        return Err("--lease-duration must be at least 2 seconds".to_string());
    }
    // Renew when two thirds of the duration are left (every third of it), so one failed renewal
    // still leaves time before the renew deadline.
    let grace = (config.duration_secs * 2 / 3).max(1);
    let leases = Api::namespaced(client.clone(), &config.namespace);
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
    Ok(Election {
        leading,
        task,
        leases,
        config: config.clone(),
        fence: Fence::leased(),
    })
}

impl Election {
    /// Waits until this replica leads; false if the election ended first.
    pub async fn wait_for_lead(&mut self) -> bool {
        self.leading.wait_for(|leading| *leading).await.is_ok()
    }

    /// The fence this replica's requests pass: open while it leads inside the renew deadline.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Resolves when this replica no longer leads: the lease manager says so, the Lease shows no
    /// renewal by this replica within the renew deadline, or a request found the fence closed.
    /// Call it when leading starts: the fence opens for one renew deadline from then.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut leading = self.leading.clone();
        let fence = self.fence.clone();
        let started = Instant::now();
        fence.extend_to(started + renew_deadline(self.config.duration_secs));
        // A task of its own (kube's request futures are not Sync), stopped with this future.
        let watchdog = Watchdog(tokio::spawn(missed_renew_deadline(
            self.leases.clone(),
            self.config.clone(),
            fence.clone(),
            started,
        )));
        async move {
            let mut watchdog = watchdog;
            tokio::select! {
                _ = leading.wait_for(|leading| !*leading) => {}
                _ = &mut watchdog.0 => {}
                () = fence.expired() => {}
            }
            fence.expire();
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

/// Aborts the renew-deadline task when dropped.
struct Watchdog(JoinHandle<()>);

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The renew deadline: two thirds of the lease duration (10s of 15s, as controller-runtime).
pub fn renew_deadline(duration_secs: u64) -> Duration {
    Duration::from_millis(duration_secs * 1000 * 2 / 3)
}

/// Resolves once the Lease has shown no renewal by `config.identity` for the renew deadline, or
/// names another holder; until then, moves the fence's deadline on with each renewal seen.
///
/// The deadline counts from the renewal: its `renewTime`, which this very process wrote, taken
/// back to the monotonic clock; never earlier than the send of the previous Lease read (which
/// did not see it yet) and never later than this read's answer (which did), so a jump of the
/// wall clock moves it at most within that span.
async fn missed_renew_deadline(
    leases: Api<Lease>,
    config: LeaderConfig,
    fence: Fence,
    started: Instant,
) {
    let deadline = renew_deadline(config.duration_secs);
    let check = (deadline / 16).max(Duration::from_millis(100));
    let mut previous_send = started;
    let mut last_seen: Option<k8s_openapi::jiff::Timestamp> = None;
    loop {
        tokio::time::sleep(check).await;
        let sent = Instant::now();
        match leases.get_opt(&config.lease_name).await {
            Ok(Some(lease)) => {
                let answered = Instant::now();
                let spec = lease.spec.unwrap_or_default();
                if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
                    tracing::error!(holder = ?spec.holder_identity, "the Lease names another holder");
                    return;
                }
                let renewed = spec.renew_time.map(|t| t.0);
                if let Some(at) = renewed.filter(|_| renewed != last_seen) {
                    last_seen = renewed;
                    let age = Duration::try_from(k8s_openapi::jiff::Timestamp::now() - at)
                        .unwrap_or_default();
                    let renewal = answered
                        .checked_sub(age)
                        .unwrap_or(previous_send)
                        .clamp(previous_send, answered);
                    fence.extend_to(renewal + deadline);
                }
            }
            Ok(None) => {
                tracing::error!("the Lease is gone");
                return;
            }
            Err(error) => tracing::warn!(%error, "cannot read the Lease to check its renewal"),
        }
        previous_send = sent;
        if fence.check().is_err() {
            tracing::error!(
                deadline_ms = deadline.as_millis() as u64,
                "no Lease renewal within the renew deadline"
            );
            return;
        }
    }
}
