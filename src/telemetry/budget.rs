//! Metrics of the rate budget: how long reconciles wait for their API key's budget, and how
//! many wait, per key and class ("change": GET and maybe PATCH; "check": a drift check).
//!
//! Keys are labelled by fingerprint (as in `status.target`); past [`MAX_KEYS`] distinct keys the
//! rest share the label "other", so a tenant cannot grow the series without bound.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Keys with a series of their own.
pub const MAX_KEYS: usize = 64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    key: String,
    class: String,
}

type WaitFamily = Family<ClassLabel, Histogram, fn() -> Histogram>;

fn wait_histogram() -> Histogram {
    // 0.1 s to about an hour: a long backlog on one key waits many one-minute windows.
    Histogram::new(exponential_buckets(0.1, 2.0, 16))
}

#[derive(Clone)]
pub struct BudgetMetrics {
    wait: WaitFamily,
    queue: Family<QueueLabels, Gauge>,
    /// The keys labelled by their own fingerprint.
    labelled: Arc<Mutex<HashSet<String>>>,
}

impl BudgetMetrics {
    pub fn register(registry: &mut Registry) -> BudgetMetrics {
        let wait = WaitFamily::new_with_constructor(wait_histogram);
        registry.register(
            "budget_wait_seconds",
            "Time reconciles waited for their API key's rate budget (0: none), by class",
            wait.clone(),
        );
        let queue = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "budget_queue_depth",
            "Reconciles waiting for their API key's rate budget, by key fingerprint and class",
            queue.clone(),
        );
        BudgetMetrics {
            wait,
            queue,
            labelled: Arc::default(),
        }
    }

    /// A reconcile of `class` went ahead after waiting `waited` (zero when it did not wait).
    pub fn admitted(&self, class: &str, waited: Duration) {
        let labels = ClassLabel {
            class: class.to_string(),
        };
        self.wait
            .get_or_create(&labels)
            .observe(waited.as_secs_f64());
    }

    /// One more reconcile of `class` waits for key `fingerprint`.
    pub fn queued(&self, fingerprint: &str, class: &str) {
        self.queue
            .get_or_create(&self.labels(fingerprint, class))
            .inc();
    }

    /// One reconcile of `class` stopped waiting for key `fingerprint`.
    pub fn dequeued(&self, fingerprint: &str, class: &str) {
        self.queue
            .get_or_create(&self.labels(fingerprint, class))
            .dec();
    }

    fn labels(&self, fingerprint: &str, class: &str) -> QueueLabels {
        let mut labelled = self.labelled.lock().unwrap_or_else(|e| e.into_inner());
        let own = labelled.contains(fingerprint)
            || (labelled.len() < MAX_KEYS && labelled.insert(fingerprint.to_string()));
        QueueLabels {
            key: if own { fingerprint } else { "other" }.to_string(),
            class: class.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn waits_and_queues_by_key_and_class_with_bounded_keys() {
        let mut registry = Registry::default();
        let metrics = BudgetMetrics::register(&mut registry);
        metrics.admitted("change", Duration::from_secs(30));
        metrics.admitted("check", Duration::ZERO);
        for i in 0..MAX_KEYS + 2 {
            metrics.queued(&format!("key-{i:06x}"), "change");
        }
        metrics.queued("key-000000", "check");
        metrics.dequeued(&format!("key-{:06x}", MAX_KEYS + 1), "change");
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(r#"budget_wait_seconds_sum{class="change"} 30.0"#),
            "{text}"
        );
        assert!(text.contains(r#"budget_wait_seconds_count{class="check"} 1"#));
        assert!(text.contains(r#"budget_queue_depth{key="key-000000",class="change"} 1"#));
        assert!(text.contains(r#"budget_queue_depth{key="key-000000",class="check"} 1"#));
        // The 65th and 66th keys share "other"; one of them left again.
        assert!(text.contains(r#"budget_queue_depth{key="other",class="change"} 1"#));
        assert_eq!(text.matches("budget_queue_depth{").count(), MAX_KEYS + 2);
    }
}
