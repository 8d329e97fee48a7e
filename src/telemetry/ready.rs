//! `time_to_first_ready_seconds`: from a resource's creation to the status write that first makes
//! it Ready, once per resource (by uid).
//!
//! Only what this process sees: a resource already Ready when its status is first written here
//! (it became Ready before a restart, or under another leader) is not counted, so a restart does
//! not record every old resource's age.

use crate::api::{READY, SendGridEnforcedTls, SendGridEnforcedTlsStatus, condition_status};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Clone)]
pub struct FirstReady {
    histogram: Histogram,
    /// Resources done with: recorded, or Ready before this process wrote their status.
    done: Arc<Mutex<HashSet<String>>>,
}

fn is_ready(status: Option<&SendGridEnforcedTlsStatus>) -> bool {
    status.is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == READY && c.status == condition_status(true))
    })
}

impl FirstReady {
    pub fn register(registry: &mut Registry) -> FirstReady {
        // 0.5 s to about 2.3 hours: a new key may wait out SendGrid's rate limit many times.
        let histogram = Histogram::new(exponential_buckets(0.5, 2.0, 15));
        registry.register(
            "time_to_first_ready_seconds",
            "Seconds from a resource's creation to its first Ready=True status written by this process",
            histogram.clone(),
        );
        FirstReady {
            histogram,
            done: Arc::default(),
        }
    }

    /// `res`'s status is being replaced by `status`.
    pub fn status_written(&self, res: &SendGridEnforcedTls, status: &SendGridEnforcedTlsStatus) {
        let Some(uid) = &res.metadata.uid else {
            return;
        };
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        if done.contains(uid) {
            return;
        }
        if is_ready(res.status.as_ref()) {
            done.insert(uid.clone());
            return;
        }
        if !is_ready(Some(status)) {
            return;
        }
        done.insert(uid.clone());
        if let Some(created) = &res.metadata.creation_timestamp {
            let age = SystemTime::now()
                .duration_since(SystemTime::from(created.0))
                .unwrap_or_default();
            self.histogram.observe(age.as_secs_f64());
        }
    }

    /// The resource is gone: nothing is kept for it.
    pub fn forget(&self, uid: &str) {
        self.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::states::condition;
    use prometheus_client::encoding::text::encode;

    fn resource(uid: &str, ready: Option<&str>) -> SendGridEnforcedTls {
        let mut res: SendGridEnforcedTls = serde_json::from_value(serde_json::json!({
            "apiVersion": "sendgrid.ops.dev/v1alpha1",
            "kind": "SendGridEnforcedTls",
            "metadata": {"name": "r", "namespace": "ns", "uid": uid,
                         "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"apiKeySecretRef": {"name": "s"}, "requireTls": true},
        }))
        .unwrap();
        res.status = ready.map(status);
        res
    }

    fn status(ready: &str) -> SendGridEnforcedTlsStatus {
        SendGridEnforcedTlsStatus {
            conditions: vec![condition("Ready", ready, "x")],
            ..SendGridEnforcedTlsStatus::default()
        }
    }

    fn count(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("time_to_first_ready_seconds_count "))
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn records_the_first_ready_once_and_not_one_ready_before() {
        let mut registry = Registry::default();
        let first = FirstReady::register(&mut registry);
        // New, then Pending, then Ready: one observation, however often it is written again.
        first.status_written(&resource("a", None), &status("False"));
        assert_eq!(count(&registry), "0");
        first.status_written(&resource("a", Some("False")), &status("True"));
        first.status_written(&resource("a", Some("False")), &status("True"));
        assert_eq!(count(&registry), "1");
        // Ready when first seen (before a restart): never counted, even after a drift.
        first.status_written(&resource("b", Some("True")), &status("False"));
        first.status_written(&resource("b", Some("False")), &status("True"));
        assert_eq!(count(&registry), "1");
        // A re-created resource is a new uid; a forgotten one starts afresh.
        first.forget("a");
        first.status_written(&resource("a", None), &status("True"));
        assert_eq!(count(&registry), "2");
    }
}
