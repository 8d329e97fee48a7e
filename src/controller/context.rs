//! What every reconcile shares: API clients, the Event reporter, metrics, the resource cache and
//! per-resource retry state.

use super::backoff::{BackoffConfig, ResourceBackoff};
use super::claims::ClaimIndex;
use super::identities::Identities;
use super::turns::Turns;
use crate::api::Guarded;
use crate::decision::Retry;
use crate::sendgrid::{ApiKey, KeyCopies, SendGridClient};
use crate::telemetry::Metrics;
use kube::api::ObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{ObjectRef, Store};
use rand::RngExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// `--cleanup-timeout` when unset.
pub const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(600);

/// The last API key read for each resource (by uid), in memory only: what cleans up a target
/// after its Secret is gone (a namespace deletion, an Argo CD prune), or an old target after the
/// Secret was pointed at another account's key.
#[derive(Default)]
pub struct KeyRing(Mutex<HashMap<String, ApiKey>>);

impl KeyRing {
    pub fn get(&self, uid: &str) -> Option<ApiKey> {
        self.lock().get(uid).cloned()
    }

    pub fn remember(&self, uid: &str, key: &ApiKey) {
        self.lock().insert(uid.to_string(), key.clone());
    }

    pub fn forget(&self, uid: &str) {
        self.lock().remove(uid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ApiKey>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// When this replica first saw each deletion (by uid), on its own monotonic clock: the cleanup
/// timeout counts from there, never from the API server's timestamp (clocks differ).
#[derive(Default)]
pub struct Deletions(Mutex<HashMap<String, Instant>>);

impl Deletions {
    /// How long ago the deletion of `meta` was first seen; None when it is not being deleted.
    pub fn elapsed(&self, meta: &ObjectMeta) -> Option<Duration> {
        meta.deletion_timestamp.as_ref()?;
        let uid = meta.uid.clone().unwrap_or_default();
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Some(seen.entry(uid).or_insert_with(Instant::now).elapsed())
    }

    pub fn forget(&self, uid: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(uid);
    }
}

/// Tunables of the reconcile loop.
#[derive(Debug, Clone)]
pub struct Timing {
    pub backoff: BackoffConfig,
    /// The drift-check period of resources that set no resyncInterval.
    pub default_resync: Duration,
    /// How long a deleted resource waits for a key to clean up with before it is let go.
    pub cleanup_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            backoff: BackoffConfig::default(),
            default_resync: crate::api::spec::DEFAULT_RESYNC,
            cleanup_timeout: DEFAULT_CLEANUP_TIMEOUT,
        }
    }
}

pub struct Context {
    pub kube: kube::Client,
    pub sendgrid: SendGridClient,
    /// Who the Events say published them; each reconcile makes its own `Recorder` (see `act`).
    pub reporter: Reporter,
    pub metrics: Metrics,
    /// Every resource the controller watches, for the conflict check.
    pub store: Store<Guarded>,
    /// The same resources by what they claim, fed the same watch events.
    pub claims: Arc<ClaimIndex>,
    pub backoff: ResourceBackoff<Guarded>,
    pub keys: KeyRing,
    /// One copy of each distinct key in memory, whichever Secrets hold it.
    pub key_copies: KeyCopies,
    /// Whose account each key reaches.
    pub identities: Identities,
    /// One reconcile at a time per account.
    pub turns: Turns,
    pub deletions: Deletions,
    pub default_resync: Duration,
    pub cleanup_timeout: Duration,
}

impl Context {
    pub fn new(
        kube: kube::Client,
        sendgrid: SendGridClient,
        reporter: Reporter,
        metrics: Metrics,
        store: Store<Guarded>,
        claims: Arc<ClaimIndex>,
        timing: &Timing,
    ) -> Context {
        Context {
            kube,
            sendgrid,
            reporter,
            metrics,
            store,
            claims,
            backoff: ResourceBackoff::new(timing.backoff),
            keys: KeyRing::default(),
            key_copies: KeyCopies::default(),
            identities: Identities::default(),
            turns: Turns::default(),
            deletions: Deletions::default(),
            default_resync: timing.default_resync,
            cleanup_timeout: timing.cleanup_timeout,
        }
    }

    /// Turns the decision's retry into a requeue, keeping the backoff count for `obj`.
    pub fn action(&self, obj: &ObjectRef<Guarded>, retry: Retry) -> Action {
        match retry {
            Retry::Resync(every) => {
                self.backoff.reset(obj);
                Action::requeue(super::jitter::resync(every))
            }
            Retry::Backoff => Action::requeue(self.backoff.next(obj)),
            Retry::BackoffAtMost(most) => Action::requeue(self.backoff.next(obj).min(most)),
            Retry::At(when) => {
                self.metrics.rate_limit_wait();
                let wait = when.duration_since(SystemTime::now()).unwrap_or_default();
                // Spread the resources that share a key over the first second after the reset,
                // and never sooner than the backoff: repeated 429s (or a Reset header that is
                // missing and guessed) must slow down, not loop every second.
                let jitter = Duration::from_millis(rand::rng().random_range(0..1000));
                Action::requeue((wait + jitter).max(self.backoff.next(obj)))
            }
        }
    }
}
