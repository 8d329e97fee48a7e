//! The opt-in `namespace` label (`run --metrics-per-namespace`): series per namespace let alerts
//! be routed to the team that owns one. Off by default; when on, the series grow with the number
//! of namespaces that hold resources, never with the number of resources.

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};

/// Whether series carry a `namespace` label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerNamespace(pub bool);

impl PerNamespace {
    /// The label for an object in `namespace`: none when the switch is off.
    pub fn label(self, namespace: Option<&str>) -> NamespaceLabel {
        NamespaceLabel(if self.0 {
            Some(namespace.unwrap_or_default().to_string())
        } else {
            None
        })
    }
}

/// `namespace="..."`, or no label at all (not an empty one: the series keep their usual text).
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct NamespaceLabel(Option<String>);

impl EncodeLabelSet for NamespaceLabel {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        match &self.0 {
            Some(namespace) => ("namespace", namespace.as_str()).encode(encoder.encode_label()),
            None => Ok(()),
        }
    }
}
