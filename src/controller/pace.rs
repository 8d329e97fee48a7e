//! Pacing reconciles by their API key's rate budget (see [`crate::sendgrid::budget`]).
//!
//! Before a reconcile runs, its key's budget is asked for the requests it will make. When the
//! key's window is full the reconcile does not run: it is requeued for the window it holds a
//! ticket for, and waits in the controller's queue rather than in a worker, so resources of other
//! keys go on, and no failure (no status write) marks the wait. Which key a resource uses is
//! learned from the requests of its earlier reconciles, per Secret reference; a reconcile
//! through a Secret not read yet takes its places at its first request, or is refused there.

use super::context::Context;
use super::error::Error;
use super::jitter;
use super::reconcile::reconcile;
use crate::api::{Guarded, SendGridEnforcedTls};
use crate::decision::demand::demand;
use crate::sendgrid::budget::{Budgets, Demand, Pass, Reservation, with_pass};
use crate::telemetry::budget::BudgetMetrics;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Reconciles released by the same window opening come back over this long, not all at once.
const SPREAD: Duration = Duration::from_secs(2);
/// A waiting reconcile that has not come back this long after it was due is forgotten (its
/// resource is gone).
const FORGET_AFTER: Duration = Duration::from_secs(180);

/// Namespace, name and data key of the Secret a resource reads its API key from.
type SecretRef = (String, String, String);

/// A reconcile waiting for its key's budget.
struct Waiting {
    key: [u8; 32],
    /// The metric label: the Secret it reads its key from (never anything of the key).
    label: String,
    class: &'static str,
    since: Instant,
    /// The window held for it (none for a drift check).
    ticket: Option<u64>,
    /// When it is due back.
    due: Instant,
}

pub struct Pacer {
    budgets: Arc<Budgets>,
    metrics: BudgetMetrics,
    /// The key each Secret held when it was last used.
    keys: Mutex<HashMap<SecretRef, [u8; 32]>>,
    waiting: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    by_resource: HashMap<ObjectRef<Guarded>, Waiting>,
    last_sweep: Option<Instant>,
}

/// Locks a map only touched in short non-async sections (a poisoned lock holds consistent data).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pacer {
    pub fn new(budgets: Arc<Budgets>, metrics: BudgetMetrics) -> Pacer {
        Pacer {
            budgets,
            metrics,
            keys: Mutex::default(),
            waiting: Mutex::default(),
        }
    }

    /// The controller's reconcile function: [`reconcile`] once the key's budget allows it.
    pub async fn reconcile(
        self: Arc<Self>,
        guarded: Arc<Guarded>,
        ctx: Arc<Context>,
    ) -> Result<Action, Error> {
        let Ok(res) = &guarded.0 else {
            return reconcile(guarded, ctx).await;
        };
        let secret = secret_ref(res);
        let pass = match self.admit(&ObjectRef::from_obj(guarded.as_ref()), res, &secret) {
            Ok(pass) => pass,
            Err(wait) => return Ok(Action::requeue(wait)),
        };
        let result = with_pass(pass.clone(), reconcile(guarded, ctx)).await;
        self.budgets.release(&pass);
        if let Some(key) = pass.key_seen() {
            lock(&self.keys).insert(secret, key);
        }
        result
    }

    /// A pass to go now, or how long to wait.
    fn admit(
        &self,
        obj: &ObjectRef<Guarded>,
        res: &SendGridEnforcedTls,
        secret: &SecretRef,
    ) -> Result<Arc<Pass>, Duration> {
        let now = SystemTime::now();
        let demand = demand(res, now);
        let Some(key) = lock(&self.keys).get(secret).copied() else {
            return Ok(Pass::learning(demand));
        };
        let class = match demand {
            Demand::Check => "check",
            Demand::Change { .. } => "change",
        };
        let mut waiters = lock(&self.waiting);
        self.sweep(&mut waiters);
        let waiting = waiters.by_resource.remove(obj);
        let ticket = waiting
            .as_ref()
            .filter(|w| w.key == key)
            .and_then(|w| w.ticket);
        if let Some(w) = &waiting {
            self.metrics.dequeued(&w.label, w.class);
        }
        match self.budgets.reserve(&key, demand, ticket, now) {
            Reservation::Now(pass) => {
                let waited = waiting.map(|w| w.since.elapsed()).unwrap_or_default();
                self.metrics.admitted(class, waited);
                Ok(pass)
            }
            Reservation::Later { at, ticket } => {
                let label = format!("{}/{}", secret.0, secret.1);
                self.metrics.queued(&label, class);
                let wait = at.duration_since(now).unwrap_or_default() + jitter::up_to(SPREAD);
                let waiting = Waiting {
                    key,
                    label,
                    class,
                    since: waiting.map_or_else(Instant::now, |w| w.since),
                    ticket,
                    due: Instant::now() + wait,
                };
                waiters.by_resource.insert(obj.clone(), waiting);
                Err(wait)
            }
        }
    }

    /// Forgets, about once a minute, reconciles that stopped coming back (deleted resources).
    fn sweep(&self, waiters: &mut Waiters) {
        let now = Instant::now();
        if waiters
            .last_sweep
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(60))
        {
            return;
        }
        waiters.last_sweep = Some(now);
        waiters.by_resource.retain(|_, w| {
            let keep = now < w.due + FORGET_AFTER;
            if !keep {
                self.metrics.dequeued(&w.label, w.class);
            }
            keep
        });
    }
}

fn secret_ref(res: &SendGridEnforcedTls) -> SecretRef {
    (
        res.namespace().unwrap_or_default(),
        res.spec.api_key_secret_ref.name.clone(),
        res.spec.secret_key().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::demand::tests::resource;

    #[tokio::test]
    async fn a_full_window_queues_the_resource_and_its_ticket_lets_it_go_later() {
        let budgets = Arc::new(Budgets::new(2));
        let mut registry = prometheus_client::registry::Registry::default();
        let pacer = Pacer::new(budgets.clone(), BudgetMetrics::register(&mut registry));
        let res = resource(None);
        let secret = secret_ref(&res);
        let first: ObjectRef<Guarded> = ObjectRef::new("first").within("ns");
        let second: ObjectRef<Guarded> = ObjectRef::new("second").within("ns");
        // The key is not known yet: a learning pass, without places.
        let pass = pacer.admit(&first, &res, &secret).unwrap();
        assert_eq!(pass.key_seen(), None);
        lock(&pacer.keys).insert(secret.clone(), [1; 32]);
        // Two places a minute: one change goes, the next waits for the next window.
        assert!(pacer.admit(&first, &res, &secret).is_ok());
        let wait = pacer.admit(&second, &res, &secret).unwrap_err();
        assert!(wait <= Duration::from_secs(61) + SPREAD, "{wait:?}");
        assert!(lock(&pacer.waiting).by_resource[&second].ticket.is_some());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"budget_queue_depth{key="ns/s",class="change"} 1"#),
            "{text}"
        );
        // Back early (say, a watch event): still waiting, still counted once.
        assert!(pacer.admit(&second, &res, &secret).is_err());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains(r#"budget_queue_depth{key="ns/s",class="change"} 1"#));
    }
}
