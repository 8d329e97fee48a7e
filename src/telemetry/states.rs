//! `sendgrid_tls_operator_resources`: how many resources are in each Ready/Synced state, counted
//! from the controller's watch cache at scrape time (nothing to keep in step, nothing stale).
//!
//! Labels are bounded: the condition type, its status, and a reason from the fixed lists below
//! (anything else is `Other`); with `--metrics-per-namespace`, the namespace too. Never a name:
//! that would be one series per resource.

use super::namespace::{NamespaceLabel, PerNamespace};
use crate::api::{Condition, READY, Reason, SYNCED, SendGridEnforcedTls, condition_status};
use kube::Resource;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

/// Reasons of `Ready` and `Synced` (the one vocabulary, `crate::api::Reason`); each is
/// always exported, as 0 when no resource has it (per namespace: in each namespace that holds a
/// resource).
const READY_REASONS: &[(bool, Reason)] = &Reason::READY;
const SYNCED_REASONS: &[(bool, Reason)] = &Reason::SYNCED;

/// The condition is not in the status yet (status `Unknown`).
const MISSING: &str = "Missing";
/// The object does not parse as a SendGridEnforcedTls (status `Unknown`).
const MALFORMED: &str = "Malformed";
/// A reason not in the lists above (a newer operator, a hand-edited status).
const OTHER: &str = "Other";

/// Called once per resource with its namespace and its conditions (`None` when the object is
/// malformed).
pub type Visitor<'a> = dyn FnMut(Option<&str>, Option<&[Condition]>) + 'a;

/// Where the per-state gauge reads resources from at scrape time.
pub trait ResourceStates: Send + Sync + 'static {
    /// Calls `visit` once per resource.
    fn visit(&self, visit: &mut Visitor<'_>);
}

impl ResourceStates for Store<DeserializeGuard<SendGridEnforcedTls>> {
    fn visit(&self, visit: &mut Visitor<'_>) {
        for obj in self.state() {
            let namespace = obj.meta().namespace.as_deref();
            match &obj.0 {
                Ok(res) => visit(
                    namespace,
                    Some(
                        res.status
                            .as_ref()
                            .map(|s| s.conditions.as_slice())
                            .unwrap_or_default(),
                    ),
                ),
                Err(_) => visit(namespace, None),
            }
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct StateLabels {
    condition: &'static str,
    status: &'static str,
    reason: &'static str,
}

/// The collector; empty until a source is attached (a standby replica has none, so summing over
/// replicas counts each resource once).
#[derive(Clone, Default)]
pub struct StatesCollector {
    source: Arc<OnceLock<Box<dyn ResourceStates>>>,
    per_namespace: PerNamespace,
}

impl std::fmt::Debug for StatesCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatesCollector")
            .field("attached", &self.source.get().is_some())
            .finish()
    }
}

impl StatesCollector {
    pub fn new(per_namespace: PerNamespace) -> StatesCollector {
        StatesCollector {
            source: Arc::default(),
            per_namespace,
        }
    }

    /// Attaches the source; only the first call counts (one controller per process).
    pub fn attach(&self, source: impl ResourceStates) {
        let _ = self.source.set(Box::new(source));
    }

    fn counts(&self, source: &dyn ResourceStates) -> BTreeMap<(NamespaceLabel, StateLabels), i64> {
        let mut counts = BTreeMap::new();
        let mut scopes = BTreeSet::new();
        if !self.per_namespace.0 {
            scopes.insert(NamespaceLabel::default());
        }
        source.visit(&mut |namespace, conditions| {
            let scope = self.per_namespace.label(namespace);
            for (condition, known) in [(READY, READY_REASONS), (SYNCED, SYNCED_REASONS)] {
                let labels = classify(condition, known, conditions);
                *counts.entry((scope.clone(), labels)).or_default() += 1;
            }
            scopes.insert(scope);
        });
        for scope in scopes {
            for (condition, known) in [(READY, READY_REASONS), (SYNCED, SYNCED_REASONS)] {
                for &(status, reason) in known {
                    let labels = StateLabels {
                        condition,
                        status: condition_status(status),
                        reason: reason.as_str(),
                    };
                    counts.entry((scope.clone(), labels)).or_insert(0);
                }
            }
        }
        counts
    }
}

/// The bounded labels of one condition of one resource.
fn classify(
    condition: &'static str,
    known: &[(bool, Reason)],
    conditions: Option<&[Condition]>,
) -> StateLabels {
    let unknown = |reason| StateLabels {
        condition,
        status: "Unknown",
        reason,
    };
    let Some(conditions) = conditions else {
        return unknown(MALFORMED);
    };
    let Some(found) = conditions.iter().find(|c| c.type_ == condition) else {
        return unknown(MISSING);
    };
    let status = match found.status.as_str() {
        "True" => "True",
        "False" => "False",
        _ => "Unknown",
    };
    let reason = known
        .iter()
        .find(|(s, r)| condition_status(*s) == status && found.reason == *r)
        .map_or(OTHER, |(_, r)| r.as_str());
    StateLabels {
        condition,
        status,
        reason,
    }
}

impl Collector for StatesCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(source) = self.source.get() else {
            return Ok(());
        };
        let family = Family::<(NamespaceLabel, StateLabels), Gauge>::default();
        for (labels, count) in self.counts(source.as_ref()) {
            family.get_or_create(&labels).set(count);
        }
        let metric = encoder.encode_descriptor(
            "resources",
            "SendGridEnforcedTls resources by condition (Ready, Synced), status and reason, read from the watch cache at scrape time",
            None,
            family.metric_type(),
        )?;
        family.encode(metric)
    }
}

/// A condition as the controller writes it (for tests).
#[cfg(test)]
pub(crate) fn condition(type_: &str, status: &str, reason: &str) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: String::new(),
        observed_generation: Some(1),
        last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_known_unknown_missing_and_malformed() {
        let paused = [
            condition("Ready", "True", "InSync"),
            condition("Synced", "False", "Paused"),
        ];
        assert_eq!(
            classify("Synced", SYNCED_REASONS, Some(&paused)).reason,
            "Paused"
        );
        assert_eq!(
            classify("Ready", READY_REASONS, Some(&paused)).reason,
            "InSync"
        );
        let odd = [condition("Ready", "False", "InSync")];
        let got = classify("Ready", READY_REASONS, Some(&odd));
        assert_eq!((got.status, got.reason), ("False", OTHER));
        let got = classify("Synced", SYNCED_REASONS, Some(&odd));
        assert_eq!((got.status, got.reason), ("Unknown", MISSING));
        let got = classify("Ready", READY_REASONS, None);
        assert_eq!((got.status, got.reason), ("Unknown", MALFORMED));
    }
}
