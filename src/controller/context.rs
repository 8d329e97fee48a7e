//! What every reconcile shares: API clients, the Event recorder, metrics, the resource cache and
//! per-resource retry state.

use super::backoff::{BackoffConfig, ResourceBackoff};
use crate::api::SendGridEnforcedTls;
use crate::reconcile::Retry;
use crate::sendgrid::SendGridClient;
use crate::telemetry::Metrics;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use rand::Rng;
use std::time::{Duration, SystemTime};

pub type Guarded = DeserializeGuard<SendGridEnforcedTls>;

/// Tunables of the reconcile loop.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backoff: BackoffConfig,
    /// The drift-check period of resources that set no resyncInterval.
    pub default_resync: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            backoff: BackoffConfig::default(),
            default_resync: crate::api::spec::DEFAULT_RESYNC,
        }
    }
}

pub struct Context {
    pub kube: kube::Client,
    pub sendgrid: SendGridClient,
    pub recorder: Recorder,
    pub metrics: Metrics,
    /// Every resource the controller watches, for the conflict check.
    pub store: Store<Guarded>,
    pub backoff: ResourceBackoff<Guarded>,
    pub default_resync: Duration,
}

impl Context {
    pub fn new(
        kube: kube::Client,
        sendgrid: SendGridClient,
        recorder: Recorder,
        metrics: Metrics,
        store: Store<Guarded>,
        settings: &Settings,
    ) -> Context {
        Context {
            kube,
            sendgrid,
            recorder,
            metrics,
            store,
            backoff: ResourceBackoff::new(settings.backoff),
            default_resync: settings.default_resync,
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
            Retry::At(when) => {
                self.metrics.rate_limit_wait();
                let wait = when.duration_since(SystemTime::now()).unwrap_or_default();
                // Spread the resources that share a key over the first second after the reset,
                // and never sooner than the backoff: repeated 429s (or a Reset header that is
                // missing and guessed) must slow down, not loop every second.
                let jitter = Duration::from_millis(rand::rng().random_range(0..1000));
                Action::requeue((wait + jitter).max(self.backoff.next(obj)))
            }
            Retry::AwaitChange => Action::await_change(),
        }
    }
}
