//! A small custom resource and a server serving it, shared by the tests.

use kube::{CustomResource, CustomResourceExt};
use kube_testkit::{TestServer, Validator};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// A test resource with a status subresource and printer columns.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "testkit.dev",
    version = "v1",
    kind = "Widget",
    plural = "widgets",
    shortname = "wd",
    category = "toys",
    namespaced,
    status = "WidgetStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Size","type":"integer","jsonPath":".spec.size"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
pub struct WidgetSpec {
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<serde_json::Value>,
}

/// Rejects a negative `spec.size` and a non-object `spec`, naming the field, as a CRD schema would.
pub fn widget_validator() -> Validator {
    Arc::new(|obj: &serde_json::Value| {
        let mut errors = Vec::new();
        match obj["spec"]["size"].as_i64() {
            Some(n) if n < 0 => errors.push(format!(
                "spec.size: Invalid value: {n}: spec.size in body should be greater than or equal to 0"
            )),
            Some(_) => {}
            None => errors.push("spec.size: Required value".to_string()),
        }
        if obj["spec"]["color"].as_str() == Some("") {
            errors.push("spec.color: Invalid value: \"\": must not be empty".to_string());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    })
}

/// A server serving `Widget` with its validator.
pub async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.register_crd(&Widget::crd(), Some(widget_validator()));
    server
}

pub fn widget(name: &str, size: i64) -> Widget {
    Widget::new(name, WidgetSpec { size, color: None })
}

pub const WAIT: Duration = Duration::from_secs(10);
